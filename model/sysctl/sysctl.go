// Package sysctl decodes `sysctl -a` output into settings that keep their file and line.
package sysctl

import (
	"strings"

	"github.com/netsim/netsim/model/source"
)

// Setting is one sysctl value.
type Setting struct {
	Value string
	Pos   source.Pos
}

// Table maps dotted sysctl names (net.ipv4.ip_forward) to their settings.
type Table map[string]Setting

// Parse decodes `sysctl -a` (or `sysctl net`) output: "name = value" lines. Lines sysctl
// prints for keys it could not read ("sysctl: permission denied on key ...") are skipped.
func Parse(f *source.File) (Table, error) {
	t := Table{}
	var err error
	f.Lines(func(n int, text string) bool {
		line := strings.TrimSpace(text)
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";") || strings.HasPrefix(line, "sysctl: ") {
			return true
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok {
			// `sysctl -n`-less listings sometimes print "name: value".
			key, val, ok = strings.Cut(line, ": ")
		}
		key = strings.TrimSpace(key)
		if !ok || key == "" || strings.ContainsAny(key, " \t") {
			err = source.Errorf(f.Pos(n), "want \"name = value\" (sysctl -a output), found %q", trunc(line))
			return false
		}
		// Some tools print /proc/sys paths; the kernel's names use dots.
		key = strings.TrimPrefix(key, "/proc/sys/")
		if strings.Contains(key, "/") && !strings.Contains(key, ".") {
			key = strings.ReplaceAll(key, "/", ".")
		}
		t[key] = Setting{Value: strings.Join(strings.Fields(val), " "), Pos: f.Pos(n)}
		return true
	})
	return t, err
}

// Get returns a setting and whether it was present.
func (t Table) Get(name string) (Setting, bool) {
	s, ok := t[name]
	return s, ok
}

func trunc(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}
