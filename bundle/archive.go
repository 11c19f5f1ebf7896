package bundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"
)

// Limits bound what reading an archive may cost, so that a hostile or broken ticket
// attachment cannot exhaust memory (a decompression bomb) or stall the reader.
type Limits struct {
	MaxFiles     int   // entries of any kind
	MaxFileBytes int64 // one file, uncompressed
	MaxTotal     int64 // all files, uncompressed
}

// DefaultLimits fit a 5,000-node bundle with room to spare.
var DefaultLimits = Limits{MaxFiles: 500_000, MaxFileBytes: 1 << 30, MaxTotal: 8 << 30}

// ErrLimit is wrapped by every error that reports an exceeded limit.
var ErrLimit = errors.New("archive limit exceeded")

// maxLinkDepth bounds symlink chains inside an archive.
const maxLinkDepth = 16

// ReadArchive reads a .tar.gz into memory. Nothing is written to disk, so no entry can
// write outside a target; entry names that are absolute or climb out with ".." are refused,
// links are resolved inside the archive only, and the limits are enforced while reading.
// name is used in error messages.
func ReadArchive(name string, r io.Reader, lim Limits) (*MemFS, error) {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("%s: not a gzip file: %v", name, err)
	}
	defer gz.Close()
	tr := tar.NewReader(gz)
	m := newMemFS()
	var symlinks, hardlinks []link
	var total int64
	count := 0
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: reading archive after %d entries: %v", name, count, err)
		}
		count++
		if count > lim.MaxFiles {
			return nil, fmt.Errorf("%s: more than %d entries: %w", name, lim.MaxFiles, ErrLimit)
		}
		p, err := cleanEntryName(h.Name)
		if err != nil {
			return nil, fmt.Errorf("%s: entry %q: %v", name, h.Name, err)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if p != "." {
				m.addDir(p, h.ModTime)
			}
		case tar.TypeReg, tar.TypeRegA:
			if h.Size > lim.MaxFileBytes {
				return nil, fmt.Errorf("%s: entry %q is %d bytes, over the %d-byte limit: %w", name, h.Name, h.Size, lim.MaxFileBytes, ErrLimit)
			}
			// Read at most the limit +1 so a lying header cannot make us read more.
			data, err := io.ReadAll(io.LimitReader(tr, lim.MaxFileBytes+1))
			if err != nil {
				return nil, fmt.Errorf("%s: entry %q: %v", name, h.Name, err)
			}
			if int64(len(data)) > lim.MaxFileBytes {
				return nil, fmt.Errorf("%s: entry %q is over the %d-byte limit: %w", name, h.Name, lim.MaxFileBytes, ErrLimit)
			}
			total += int64(len(data))
			if total > lim.MaxTotal {
				return nil, fmt.Errorf("%s: more than %d bytes uncompressed: %w", name, lim.MaxTotal, ErrLimit)
			}
			if p == "." {
				return nil, fmt.Errorf("%s: entry %q: a file cannot be the archive root", name, h.Name)
			}
			if err := m.addFile(p, data, h.ModTime); err != nil {
				return nil, fmt.Errorf("%s: entry %q: %v", name, h.Name, err)
			}
		case tar.TypeSymlink:
			if path.IsAbs(h.Linkname) {
				return nil, fmt.Errorf("%s: entry %q: symlink to absolute path %q leaves the archive", name, h.Name, h.Linkname)
			}
			target := path.Join(path.Dir(p), h.Linkname)
			if target == ".." || strings.HasPrefix(target, "../") {
				return nil, fmt.Errorf("%s: entry %q: symlink to %q leaves the archive", name, h.Name, h.Linkname)
			}
			symlinks = append(symlinks, link{p, target})
		case tar.TypeLink:
			target, err := cleanEntryName(h.Linkname)
			if err != nil {
				return nil, fmt.Errorf("%s: entry %q: hard link to %q: %v", name, h.Name, h.Linkname, err)
			}
			hardlinks = append(hardlinks, link{p, target})
		case tar.TypeXGlobalHeader, tar.TypeXHeader, tar.TypeGNULongName, tar.TypeGNULongLink:
			// metadata only
		default:
			return nil, fmt.Errorf("%s: entry %q: unsupported entry type %q (devices, fifos and sparse files are not bundle content)", name, h.Name, string(h.Typeflag))
		}
	}
	for _, l := range hardlinks {
		f, ok := m.files[l.to]
		if !ok || f.dir {
			return nil, fmt.Errorf("%s: entry %q: hard link target %q is not a file in the archive", name, l.from, l.to)
		}
		if err := m.addFile(l.from, f.data, f.mod); err != nil {
			return nil, fmt.Errorf("%s: entry %q: %v", name, l.from, err)
		}
	}
	// Resolve symlinks to files or directories inside the archive; a directory link is
	// expanded into copies of the entries below it (bounded by MaxFiles).
	for _, l := range symlinks {
		target := l.to
		for depth := 0; ; depth++ {
			next, isLink := findLink(symlinks, target)
			if !isLink {
				break
			}
			if depth == maxLinkDepth {
				return nil, fmt.Errorf("%s: entry %q: symlink chain longer than %d", name, l.from, maxLinkDepth)
			}
			target = next
		}
		f, ok := m.files[target]
		if !ok {
			return nil, fmt.Errorf("%s: entry %q: symlink target %q is not in the archive", name, l.from, target)
		}
		if !f.dir {
			if err := m.addFile(l.from, f.data, f.mod); err != nil {
				return nil, fmt.Errorf("%s: entry %q: %v", name, l.from, err)
			}
			continue
		}
		for _, sub := range m.below(target) {
			count++
			if count > lim.MaxFiles {
				return nil, fmt.Errorf("%s: more than %d entries after expanding links: %w", name, lim.MaxFiles, ErrLimit)
			}
			sf := m.files[sub]
			dst := l.from + strings.TrimPrefix(sub, target)
			if sf.dir {
				m.addDir(dst, sf.mod)
			} else if err := m.addFile(dst, sf.data, sf.mod); err != nil {
				return nil, fmt.Errorf("%s: entry %q: %v", name, l.from, err)
			}
		}
		m.addDir(l.from, f.mod)
	}
	return m, nil
}

// link is an archive link entry, from its own path to the path it names.
type link struct{ from, to string }

func findLink(links []link, p string) (string, bool) {
	for _, l := range links {
		if l.from == p {
			return l.to, true
		}
	}
	return "", false
}

// cleanEntryName turns a tar entry name into a clean relative path, refusing names that are
// absolute or climb out of the archive.
func cleanEntryName(n string) (string, error) {
	if n == "" {
		return "", errors.New("empty name")
	}
	if strings.ContainsRune(n, 0) {
		return "", errors.New("name contains a NUL byte")
	}
	if path.IsAbs(n) || strings.HasPrefix(n, `\`) || (len(n) >= 2 && n[1] == ':') {
		return "", errors.New("absolute path")
	}
	for _, part := range strings.Split(n, "/") {
		if part == ".." {
			return "", errors.New(`path climbs out of the archive with ".."`)
		}
	}
	return path.Clean(n), nil
}

// MemFS is an immutable in-memory file tree implementing fs.FS, fs.ReadFileFS and fs.ReadDirFS.
type MemFS struct {
	files map[string]*memFile
}

type memFile struct {
	name string
	data []byte
	mod  time.Time
	dir  bool
}

func newMemFS() *MemFS {
	return &MemFS{files: map[string]*memFile{".": {name: ".", dir: true}}}
}

func (m *MemFS) addDir(p string, mod time.Time) {
	for q := p; q != "."; q = path.Dir(q) {
		if f, ok := m.files[q]; ok && f.dir {
			continue
		}
		m.files[q] = &memFile{name: q, dir: true, mod: mod}
	}
}

func (m *MemFS) addFile(p string, data []byte, mod time.Time) error {
	if old, ok := m.files[p]; ok {
		if old.dir {
			return errors.New("a file and a directory share this name")
		}
		return errors.New("duplicate entry")
	}
	if parent := path.Dir(p); parent != "." {
		if f, ok := m.files[parent]; ok && !f.dir {
			return fmt.Errorf("parent %q is a file", parent)
		}
		m.addDir(parent, mod)
	}
	m.files[p] = &memFile{name: p, data: data, mod: mod}
	return nil
}

// below lists every entry strictly under dir, sorted.
func (m *MemFS) below(dir string) []string {
	var out []string
	for p := range m.files {
		if strings.HasPrefix(p, dir+"/") {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// Open implements fs.FS.
func (m *MemFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	f, ok := m.files[name]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	if f.dir {
		ents, _ := m.ReadDir(name)
		return &memDir{f: f, ents: ents}, nil
	}
	return &memOpen{f: f, r: bytes.NewReader(f.data)}, nil
}

// ReadFile implements fs.ReadFileFS without copying: callers must not modify the result.
func (m *MemFS) ReadFile(name string) ([]byte, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "read", Path: name, Err: fs.ErrInvalid}
	}
	f, ok := m.files[name]
	if !ok {
		return nil, &fs.PathError{Op: "read", Path: name, Err: fs.ErrNotExist}
	}
	if f.dir {
		return nil, &fs.PathError{Op: "read", Path: name, Err: errors.New("is a directory")}
	}
	return f.data, nil
}

// ReadDir implements fs.ReadDirFS.
func (m *MemFS) ReadDir(name string) ([]fs.DirEntry, error) {
	d, ok := m.files[name]
	if !ok {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	if !d.dir {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	prefix := name + "/"
	if name == "." {
		prefix = ""
	}
	var out []fs.DirEntry
	for p, f := range m.files {
		if p == "." || !strings.HasPrefix(p, prefix) || strings.Contains(p[len(prefix):], "/") {
			continue
		}
		out = append(out, fs.FileInfoToDirEntry(info{f}))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
}

type info struct{ f *memFile }

func (i info) Name() string       { return path.Base(i.f.name) }
func (i info) Size() int64        { return int64(len(i.f.data)) }
func (i info) ModTime() time.Time { return i.f.mod }
func (i info) IsDir() bool        { return i.f.dir }
func (i info) Sys() any           { return nil }
func (i info) Mode() fs.FileMode {
	if i.f.dir {
		return fs.ModeDir | 0o555
	}
	return 0o444
}

type memOpen struct {
	f *memFile
	r *bytes.Reader
}

func (o *memOpen) Stat() (fs.FileInfo, error) { return info{o.f}, nil }
func (o *memOpen) Read(p []byte) (int, error) { return o.r.Read(p) }
func (o *memOpen) Close() error               { return nil }

type memDir struct {
	f    *memFile
	ents []fs.DirEntry
	pos  int
}

func (d *memDir) Stat() (fs.FileInfo, error) { return info{d.f}, nil }
func (d *memDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.f.name, Err: errors.New("is a directory")}
}
func (d *memDir) Close() error { return nil }
func (d *memDir) ReadDir(n int) ([]fs.DirEntry, error) {
	rest := d.ents[d.pos:]
	if n <= 0 {
		d.pos = len(d.ents)
		return rest, nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	if n > len(rest) {
		n = len(rest)
	}
	d.pos += n
	return rest[:n], nil
}
