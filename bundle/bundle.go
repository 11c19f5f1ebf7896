package bundle

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/netsim/netsim/model/source"
)

// Bundle is an opened bundle: its files and its manifest. Files are read on demand.
type Bundle struct {
	// Path is what the user named: a directory or a .tar.gz.
	Path     string
	Manifest *Manifest
	// Warnings are problems that did not stop the bundle from opening.
	Warnings []string

	fsys fs.FS
	root *os.Root // for directory bundles; closed by Close
}

// IsArchive reports whether a bundle path names a .tar.gz (decided by the name, per the contract).
func IsArchive(p string) bool {
	return strings.HasSuffix(p, ".tar.gz") || strings.HasSuffix(p, ".tgz")
}

// Open opens a bundle directory or .tar.gz and reads its manifest.
func Open(p string) (*Bundle, error) { return OpenWithLimits(p, DefaultLimits) }

// OpenWithLimits is Open with explicit archive limits.
func OpenWithLimits(p string, lim Limits) (*Bundle, error) {
	b := &Bundle{Path: p}
	if IsArchive(p) {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		m, err := ReadArchive(p, f, lim)
		if err != nil {
			return nil, err
		}
		b.fsys = rootOf(m)
	} else {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("%s: not a bundle: want a directory or a .tar.gz", p)
		}
		// os.Root keeps every read inside the directory, symlinks included.
		r, err := os.OpenRoot(p)
		if err != nil {
			return nil, err
		}
		b.root = r
		b.fsys = r.FS()
	}
	if err := b.readManifest(); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// FromFS wraps an fs.FS (an extracted tree or a test fixture) as a bundle.
func FromFS(name string, fsys fs.FS) (*Bundle, error) {
	b := &Bundle{Path: name, fsys: fsys}
	if err := b.readManifest(); err != nil {
		return nil, err
	}
	return b, nil
}

// rootOf descends into the single top-level directory of an archive made with
// `tar czf b.tar.gz bundle/`, when the manifest is there rather than at the top.
func rootOf(m *MemFS) fs.FS {
	if _, err := m.ReadFile(ManifestName); err == nil {
		return m
	}
	ents, _ := m.ReadDir(".")
	if len(ents) == 1 && ents[0].IsDir() {
		sub, err := fs.Sub(m, ents[0].Name())
		if err == nil {
			return sub
		}
	}
	return m
}

func (b *Bundle) readManifest() error {
	f, err := b.ReadFile(ManifestName)
	switch {
	case err == nil:
		// The manifest is the bundle's entry point: its errors name the bundle's path too.
		f.Name = path.Join(filepath.ToSlash(b.Path), ManifestName)
		m, err := ParseManifest(f)
		if err != nil {
			return err
		}
		b.Manifest = m
		return nil
	case errors.Is(err, fs.ErrNotExist):
		if b.IsDir("cluster") || b.IsDir("nodes") {
			b.Manifest = &Manifest{Format: Format}
			b.Warnings = append(b.Warnings, fmt.Sprintf("%s: no %s; reading cluster/ and nodes/ as bundle layout v1", b.Path, ManifestName))
			return nil
		}
		return fmt.Errorf("%s: not a netsim bundle: no %s, cluster/ or nodes/ (netsim import makes a bundle from loose files)", b.Path, ManifestName)
	default:
		return err
	}
}

// Close releases the bundle's directory handle.
func (b *Bundle) Close() error {
	if b.root != nil {
		return b.root.Close()
	}
	return nil
}

// FS exposes the bundle's files.
func (b *Bundle) FS() fs.FS { return b.fsys }

// ReadFile reads a bundle file, with its name kept for citations.
func (b *Bundle) ReadFile(name string) (*source.File, error) {
	data, err := fs.ReadFile(b.fsys, name)
	if err != nil {
		return nil, err
	}
	return source.NewFile(name, data), nil
}

// Exists reports whether name is a file in the bundle.
func (b *Bundle) Exists(name string) bool {
	st, err := fs.Stat(b.fsys, name)
	return err == nil && !st.IsDir()
}

// IsDir reports whether name is a directory in the bundle.
func (b *Bundle) IsDir(name string) bool {
	st, err := fs.Stat(b.fsys, name)
	return err == nil && st.IsDir()
}

// List returns the names of the entries directly in dir (sorted), and whether each is a directory.
func (b *Bundle) List(dir string) (files, dirs []string) {
	ents, err := fs.ReadDir(b.fsys, dir)
	if err != nil {
		return nil, nil
	}
	for _, e := range ents {
		if e.IsDir() {
			dirs = append(dirs, e.Name())
		} else {
			files = append(files, e.Name())
		}
	}
	return files, dirs
}

// Walk lists every file below dir (recursively), as bundle paths, sorted.
func (b *Bundle) Walk(dir string) ([]string, error) {
	var out []string
	err := fs.WalkDir(b.fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	sort.Strings(out)
	return out, err
}

// NodeDir is the bundle directory of a node's dump.
func NodeDir(node string) string { return path.Join("nodes", node) }

// PodDir is the bundle directory of a pod network namespace's dump on a node.
func PodDir(node, ns, name string) string { return path.Join("nodes", node, "pods", ns+"_"+name) }
