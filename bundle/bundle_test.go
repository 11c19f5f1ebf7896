package bundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netsim/netsim/model/source"
)

// entry describes one tar entry for building test archives.
type entry struct {
	name, body, link string
	typ              byte
	size             int64 // header size override
}

func makeArchive(t testing.TB, ents ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range ents {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		h := &tar.Header{Name: e.name, Typeflag: typ, Linkname: e.link, Mode: 0o644}
		if typ == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			tw.Write([]byte(e.body))
		}
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

const okManifest = "format: netsim-bundle/v1\ncluster: test\nsource: import\n"

func TestReadArchiveRefuses(t *testing.T) {
	lim := Limits{MaxFiles: 10, MaxFileBytes: 100, MaxTotal: 150}
	cases := []struct {
		name string
		ents []entry
		want string
	}{
		{"traversal", []entry{{name: "../evil", body: "x"}}, `climbs out`},
		{"traversal inside", []entry{{name: "a/../../evil", body: "x"}}, `climbs out`},
		{"absolute", []entry{{name: "/etc/passwd", body: "x"}}, "absolute path"},
		{"symlink absolute", []entry{{name: "l", typ: tar.TypeSymlink, link: "/etc/passwd"}}, "leaves the archive"},
		{"symlink out", []entry{{name: "a/l", typ: tar.TypeSymlink, link: "../../x"}}, "leaves the archive"},
		{"symlink dangling", []entry{{name: "l", typ: tar.TypeSymlink, link: "nothere"}}, "not in the archive"},
		{"symlink loop", []entry{{name: "a", typ: tar.TypeSymlink, link: "b"}, {name: "b", typ: tar.TypeSymlink, link: "a"}}, "chain longer"},
		{"hardlink out", []entry{{name: "h", typ: tar.TypeLink, link: "../x"}}, "climbs out"},
		{"device", []entry{{name: "d", typ: tar.TypeChar}}, "unsupported entry type"},
		{"fifo", []entry{{name: "f", typ: tar.TypeFifo}}, "unsupported entry type"},
		{"too many", []entry{{name: "1"}, {name: "2"}, {name: "3"}, {name: "4"}, {name: "5"}, {name: "6"}, {name: "7"}, {name: "8"}, {name: "9"}, {name: "10"}, {name: "11"}}, "more than 10 entries"},
		{"big file", []entry{{name: "big", body: strings.Repeat("x", 101)}}, "over the 100-byte limit"},
		{"big total", []entry{{name: "a", body: strings.Repeat("x", 80)}, {name: "b", body: strings.Repeat("x", 80)}}, "more than 150 bytes"},
		{"duplicate", []entry{{name: "a", body: "1"}, {name: "a", body: "2"}}, "duplicate entry"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ReadArchive("t.tar.gz", bytes.NewReader(makeArchive(t, c.ents...)), lim)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one containing %q", err, c.want)
			}
			if !strings.HasPrefix(err.Error(), "t.tar.gz: ") {
				t.Errorf("error does not name the archive: %v", err)
			}
		})
	}
}

func TestReadArchiveBomb(t *testing.T) {
	// 64 MiB of zeros compresses to ~64 KiB: the limit must stop it while reading.
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	tw.WriteHeader(&tar.Header{Name: "zeros", Typeflag: tar.TypeReg, Size: 64 << 20, Mode: 0o644})
	tw.Write(make([]byte, 64<<20))
	tw.Close()
	gz.Close()
	_, err := ReadArchive("bomb.tar.gz", &buf, Limits{MaxFiles: 10, MaxFileBytes: 1 << 20, MaxTotal: 1 << 20})
	if !errors.Is(err, ErrLimit) {
		t.Fatalf("err = %v, want ErrLimit", err)
	}
}

func TestReadArchiveLinksInside(t *testing.T) {
	m, err := ReadArchive("t.tar.gz", bytes.NewReader(makeArchive(t,
		entry{name: "b/manifest.yaml", body: okManifest},
		entry{name: "b/nodes/n1/sysctl.txt", body: "net.ipv4.ip_forward = 1\n"},
		entry{name: "b/nodes/n2", typ: tar.TypeSymlink, link: "n1"},
		entry{name: "b/hard.txt", typ: tar.TypeLink, link: "b/manifest.yaml"},
	)), DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"b/nodes/n2/sysctl.txt", "b/hard.txt"} {
		if _, err := m.ReadFile(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	b, err := FromFS("t", rootOf(m))
	if err != nil {
		t.Fatal(err)
	}
	if b.Manifest.Cluster != "test" {
		t.Errorf("manifest cluster = %q", b.Manifest.Cluster)
	}
}

func TestOpenDirAndArchiveRoundTrip(t *testing.T) {
	w := NewWriter()
	w.Add(ManifestName, []byte(okManifest))
	w.Add("nodes/n1/sysctl.txt", []byte("net.ipv4.ip_forward = 1\n"))
	if w.Add("nodes/n1/sysctl.txt", nil) {
		t.Error("second Add of the same name succeeded")
	}
	dir := t.TempDir()
	for _, out := range []string{filepath.Join(dir, "b"), filepath.Join(dir, "b.tar.gz")} {
		if err := w.Write(out); err != nil {
			t.Fatal(err)
		}
		b, err := Open(out)
		if err != nil {
			t.Fatal(err)
		}
		f, err := b.ReadFile("nodes/n1/sysctl.txt")
		if err != nil || f.Line(1) != "net.ipv4.ip_forward = 1" {
			t.Errorf("%s: read back %v %v", out, f, err)
		}
		if _, dirs := b.List("nodes"); len(dirs) != 1 || dirs[0] != "n1" {
			t.Errorf("%s: List(nodes) dirs = %v", out, dirs)
		}
		b.Close()
	}
	if err := w.Write(filepath.Join(dir, "b")); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("writing over a bundle: %v", err)
	}
}

func TestDirBundleSymlinkOut(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, ManifestName), []byte(okManifest), 0o644)
	outside := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(outside, []byte("secret"), 0o644)
	os.Symlink(outside, filepath.Join(dir, "leak"))
	b, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := b.ReadFile("leak"); err == nil {
		t.Fatal("read a file through a symlink that leaves the bundle")
	}
}

func TestManifestErrors(t *testing.T) {
	cases := map[string]string{
		"cluster: x\n":                              "/manifest.yaml:1: no format",
		"format: netsim-bundle/v9\n":                "/manifest.yaml:1: format \"netsim-bundle/v9\" is not supported",
		"format: netsim-bundle/v1\nsource: magic\n": "/manifest.yaml:2: source \"magic\"",
		"format: netsim-bundle/v1\nbogus: 1\n":      "/manifest.yaml:2: field bogus not found",
		"format: [\n":                               "/manifest.yaml:2:",
		"format: netsim-bundle/v1\ngaps: 3\n":       "/manifest.yaml:2:",
	}
	for in, want := range cases {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, ManifestName), []byte(in), 0o644)
		_, err := Open(dir)
		if err == nil || !strings.HasPrefix(err.Error(), dir+want) {
			t.Errorf("%q: err = %v, want prefix %q", in, err, want)
		}
	}
	if _, err := Open(t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a netsim bundle") {
		t.Errorf("empty dir: %v", err)
	}
}

func FuzzReadArchive(f *testing.F) {
	f.Add(makeArchive(f, entry{name: "manifest.yaml", body: okManifest}, entry{name: "l", typ: tar.TypeSymlink, link: "manifest.yaml"}))
	f.Add(makeArchive(f, entry{name: "a/b", body: "x"}, entry{name: "c", typ: tar.TypeSymlink, link: "a"}))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ReadArchive("f.tar.gz", bytes.NewReader(data), Limits{MaxFiles: 100, MaxFileBytes: 1 << 16, MaxTotal: 1 << 20})
		if err != nil {
			return
		}
		for p := range m.files {
			if strings.HasPrefix(p, "/") || p == ".." || strings.HasPrefix(p, "../") {
				t.Fatalf("entry escaped: %q", p)
			}
		}
	})
}

func FuzzParseManifest(f *testing.F) {
	f.Add([]byte(okManifest))
	f.Add([]byte("format: netsim-bundle/v1\ngaps:\n- scope: nodes/x\n  reason: down\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest(source.NewFile(ManifestName, data))
		if err == nil && m.Format != Format {
			t.Fatalf("accepted format %q", m.Format)
		}
	})
}
