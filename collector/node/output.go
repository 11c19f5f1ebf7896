package node

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Names lists the output's files, sorted.
func (o *Output) Names() []string {
	out := make([]string, 0, len(o.Files))
	for n := range o.Files {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// WriteDir writes the files into dir, which must not exist yet or be empty.
func (o *Output) WriteDir(dir string) error {
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return fmt.Errorf("%s: exists and is not empty; choose a new output directory", dir)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	for _, n := range o.Names() {
		p := filepath.Join(dir, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, o.Files[n], 0o644); err != nil {
			return err
		}
	}
	return nil
}

// WriteArchive writes the files as a .tar.gz stream: the node's folder at the archive's
// root (collect.yaml, addr.json, ..., pods/NS_NAME/...).
func (o *Output) WriteArchive(w io.Writer) error {
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	now := time.Now().UTC().Truncate(time.Second)
	dirs := map[string]bool{}
	for _, n := range o.Names() {
		for d := filepathDir(n); d != "" && !dirs[d]; d = filepathDir(d) {
			dirs[d] = true
		}
	}
	var dl []string
	for d := range dirs {
		dl = append(dl, d)
	}
	sort.Strings(dl)
	for _, d := range dl {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: now}); err != nil {
			return err
		}
	}
	for _, n := range o.Names() {
		data := o.Files[n]
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: n, Mode: 0o644, Size: int64(len(data)), ModTime: now}); err != nil {
			return err
		}
		if _, err := tw.Write(data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

// WriteArchiveFile writes the .tar.gz to a file.
func (o *Output) WriteArchiveFile(name string) (err error) {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	return o.WriteArchive(f)
}

func filepathDir(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return ""
	}
	return p[:i]
}
