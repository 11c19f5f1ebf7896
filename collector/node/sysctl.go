package node

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// sysctlNet reads every readable key under root (/proc/sys/net for the namespace the
// calling thread is in) and renders them the way `sysctl net` does: "net.ipv4.ip_forward = 1",
// sorted by name. Keys that cannot be read (write-only, permission) are skipped and
// counted.
func sysctlNet(root string) (out []byte, skipped int, err error) {
	type kv struct{ k, v string }
	var keys []kv
	base := filepath.Dir(root) // the "net" component is part of the key
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, werr error) error {
		if werr != nil {
			if p == root {
				return werr
			}
			skipped++
			return nil
		}
		if d.IsDir() {
			return nil
		}
		if deprecatedSysctl[d.Name()] {
			return nil
		}
		data, rerr := os.ReadFile(p)
		if rerr != nil {
			skipped++
			return nil
		}
		rel, _ := filepath.Rel(base, p)
		keys = append(keys, kv{sysctlName(rel), sysctlValue(data)})
		return nil
	})
	if err != nil {
		return nil, skipped, err
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].k < keys[j].k })
	var b bytes.Buffer
	for _, e := range keys {
		b.WriteString(e.k)
		b.WriteString(" = ")
		b.WriteString(e.v)
		b.WriteByte('\n')
	}
	return b.Bytes(), skipped, nil
}

// deprecatedSysctl are the keys procps' sysctl leaves out of its listings.
var deprecatedSysctl = map[string]bool{"base_reachable_time": true, "retrans_time": true}

// sysctlName turns a path below /proc/sys into sysctl's dotted name. Dots inside a path
// component (an interface named "eth0.100") become slashes, as sysctl prints them.
func sysctlName(rel string) string {
	parts := strings.Split(filepath.ToSlash(rel), "/")
	for i, p := range parts {
		parts[i] = strings.ReplaceAll(p, ".", "/")
	}
	return strings.Join(parts, ".")
}

// sysctlValue renders a /proc/sys file's content as sysctl prints it: as it is (tabs
// between fields kept), without the final newline.
func sysctlValue(data []byte) string {
	return strings.TrimRight(string(data), "\n")
}
