package bundle

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"time"
)

// Writer collects a bundle's files and writes them as a directory or a .tar.gz.
// Names are bundle paths chosen by netsim, never taken from an archive entry.
type Writer struct {
	files map[string][]byte
}

// NewWriter starts an empty bundle.
func NewWriter() *Writer { return &Writer{files: map[string][]byte{}} }

// Add stages a file; it reports whether the name was free.
func (w *Writer) Add(name string, data []byte) bool {
	if !fs.ValidPath(name) || name == "." {
		return false
	}
	if _, taken := w.files[name]; taken {
		return false
	}
	w.files[name] = data
	return true
}

// Has reports whether name is staged.
func (w *Writer) Has(name string) bool { _, ok := w.files[name]; return ok }

// Names lists the staged files, sorted.
func (w *Writer) Names() []string {
	out := make([]string, 0, len(w.files))
	for n := range w.files {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Write writes the staged files to out: a .tar.gz if the name says so, else a directory,
// which must not exist yet or be empty (a bundle is never merged into other files).
func (w *Writer) Write(out string) error {
	if IsArchive(out) {
		return w.writeArchive(out)
	}
	if ents, err := os.ReadDir(out); err == nil && len(ents) > 0 {
		return fmt.Errorf("%s: exists and is not empty; choose a new output directory", out)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	root, err := os.OpenRoot(out)
	if err != nil {
		return err
	}
	defer root.Close()
	for _, name := range w.Names() {
		if dir := path.Dir(name); dir != "." {
			if err := root.MkdirAll(dir, 0o755); err != nil {
				return err
			}
		}
		if err := root.WriteFile(name, w.files[name], 0o644); err != nil {
			return err
		}
	}
	return nil
}

func (w *Writer) writeArchive(out string) (err error) {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), ".netsim-bundle-*.tar.gz")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	gz := gzip.NewWriter(tmp)
	tw := tar.NewWriter(gz)
	now := time.Now().UTC().Truncate(time.Second)
	dirs := map[string]bool{}
	for _, name := range w.Names() {
		var parents []string
		for d := path.Dir(name); d != "." && !dirs[d]; d = path.Dir(d) {
			parents = append(parents, d)
			dirs[d] = true
		}
		for i := len(parents) - 1; i >= 0; i-- {
			if err := tw.WriteHeader(&tar.Header{Name: parents[i] + "/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: now}); err != nil {
				return err
			}
		}
		data := w.files[name]
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(data)), ModTime: now}); err != nil {
			return err
		}
		if _, err := tw.Write(data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := gz.Close(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), out)
}
