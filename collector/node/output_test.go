package node

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestOutputWrite(t *testing.T) {
	o := &Output{Files: map[string][]byte{
		"collect.yaml":                  []byte("format: x\n"),
		"addr.json":                     []byte("[]\n"),
		"sockets.txt":                   {},
		"pods/default_web/addr.json":    []byte("[]\n"),
		"pods/default_web/collect.yaml": []byte("format: x\n"),
	}}
	var buf bytes.Buffer
	if err := o.WriteArchive(&buf); err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	got := map[string]string{}
	var dirs []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeDir {
			dirs = append(dirs, h.Name)
			continue
		}
		b, _ := io.ReadAll(tr)
		got[h.Name] = string(b)
	}
	want := map[string]string{}
	for k, v := range o.Files {
		want[k] = string(v)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("archive holds %v, want %v", got, want)
	}
	if !reflect.DeepEqual(dirs, []string{"pods/", "pods/default_web/"}) {
		t.Errorf("archive dirs %v", dirs)
	}
	dir := filepath.Join(t.TempDir(), "out")
	if err := o.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	for k, v := range o.Files {
		b, err := os.ReadFile(filepath.Join(dir, k))
		if err != nil || string(b) != string(v) {
			t.Errorf("%s: %q, %v", k, b, err)
		}
	}
	if err := o.WriteDir(dir); err == nil {
		t.Error("writing into a non-empty directory: no error")
	}
}
