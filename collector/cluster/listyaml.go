package cluster

import (
	"bytes"
	"strings"

	"gopkg.in/yaml.v3"
)

// listWriter renders objects one at a time into the YAML of a v1 List, as
// `kubectl get -o yaml` prints it (keys sorted: apiVersion, items, kind, metadata). Each
// object is rendered as it arrives, so a large list never sits in memory twice.
type listWriter struct {
	buf  bytes.Buffer
	item bytes.Buffer
	n    int
}

// Add renders one object as the next item.
func (l *listWriter) Add(obj map[string]any) error {
	l.item.Reset()
	enc := yaml.NewEncoder(&l.item)
	enc.SetIndent(2)
	if err := enc.Encode(obj); err != nil {
		return err
	}
	if err := enc.Close(); err != nil {
		return err
	}
	if l.n == 0 {
		l.buf.WriteString("apiVersion: v1\nitems:\n")
	}
	l.n++
	text := strings.TrimSuffix(l.item.String(), "\n")
	for i, line := range strings.Split(text, "\n") {
		switch {
		case i == 0:
			l.buf.WriteString("- ")
		case line == "":
		default:
			l.buf.WriteString("  ")
		}
		l.buf.WriteString(line)
		l.buf.WriteByte('\n')
	}
	return nil
}

// Len is the number of items added.
func (l *listWriter) Len() int { return l.n }

// Bytes finishes the List.
func (l *listWriter) Bytes() []byte {
	if l.n == 0 {
		return []byte("apiVersion: v1\nitems: []\nkind: List\nmetadata:\n  resourceVersion: \"\"\n")
	}
	l.buf.WriteString("kind: List\nmetadata:\n  resourceVersion: \"\"\n")
	return l.buf.Bytes()
}

// ListYAML renders objects the way `kubectl get -o yaml` does: a v1 List.
func ListYAML(items []map[string]any) ([]byte, error) {
	var l listWriter
	for _, o := range items {
		if err := l.Add(o); err != nil {
			return nil, err
		}
	}
	return l.Bytes(), nil
}
