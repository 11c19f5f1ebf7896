package orchestrate

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/netsim/netsim/bundle"
)

// NodeLimits bound one node's archive: a hostile or broken node cannot fill the
// collector's memory.
var NodeLimits = bundle.Limits{MaxFiles: 100_000, MaxFileBytes: 512 << 20, MaxTotal: 2 << 30}

// errTooLarge is returned by capBuffer once the stream passes its cap.
var errTooLarge = errors.New("the node's archive is larger than the limit")

// capBuffer is a bytes.Buffer that refuses to grow past max.
type capBuffer struct {
	bytes.Buffer
	max int
}

func (c *capBuffer) Write(p []byte) (int, error) {
	if c.Len()+len(p) > c.max {
		return 0, fmt.Errorf("%w (%d bytes)", errTooLarge, c.max)
	}
	return c.Buffer.Write(p)
}

// Unpack reads a node part's tar.gz and returns its files as bundle paths under
// nodes/NODE/. The archive may hold the node's files at its top (iptables-save.txt,
// pods/NS_NAME/...), inside one top-level folder, or as a bundle (nodes/NAME/...,
// with a manifest.yaml, which is dropped). Entry names are never trusted as paths: they
// are cleaned, and every result stays under nodes/NODE/.
func Unpack(node string, data []byte) (map[string][]byte, error) {
	m, err := bundle.ReadArchive("node "+node, bytes.NewReader(data), NodeLimits)
	if err != nil {
		return nil, err
	}
	var fsys fs.FS = m
	if sub := soleDir(m, "."); sub != "" {
		fsys, _ = fs.Sub(m, sub)
	}
	if names := dirNames(fsys, "nodes"); len(names) == 1 {
		fsys, _ = fs.Sub(fsys, "nodes/"+names[0])
	}
	out := map[string][]byte{}
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || p == bundle.ManifestName {
			return err
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		out[path.Join(bundle.NodeDir(node), p)] = data
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the node part's archive holds no files")
	}
	return out, nil
}

// soleDir returns the only entry of dir when it is a directory that is not a bundle
// folder of its own (nodes, pods), else "".
func soleDir(fsys fs.FS, dir string) string {
	ents, err := fs.ReadDir(fsys, dir)
	if err != nil || len(ents) != 1 || !ents[0].IsDir() {
		return ""
	}
	switch n := ents[0].Name(); n {
	case "nodes", "pods":
		return ""
	default:
		if strings.HasPrefix(n, ".") {
			return ""
		}
		return n
	}
}

func dirNames(fsys fs.FS, dir string) []string {
	ents, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out
}
