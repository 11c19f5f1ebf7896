package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func TestExitCode(t *testing.T) {
	paths := func(vs ...string) *Trace {
		tr := &Trace{}
		for _, v := range vs {
			tr.Paths = append(tr.Paths, Path{Verdict: v})
		}
		return tr
	}
	for _, c := range []struct {
		t    *Trace
		want int
	}{
		{paths("delivered", "delivered"), 0},
		{paths("delivered", "denied"), 1},
		{paths("unknown", "delivered"), 3},
		{paths("unknown", "no-route"), 1},
		{paths("no-listener"), 1},
		{paths(), 3},
		{&Trace{Paths: []Path{{Verdict: "delivered"}}, DNS: []DNS{{Verdict: "no-route", Problem: "no DNS Service"}}}, 1},
		{&Trace{Paths: []Path{{Verdict: "delivered"}}, DNS: []DNS{{Verdict: "unknown", Problem: "resolv.conf"}}}, 3},
		{&Trace{Paths: []Path{{Verdict: "delivered"}}, DNS: []DNS{{Verdict: "mixed", UDP: paths("denied"), TCP: paths("delivered")}}}, 1},
	} {
		if got := ExitCode(c.t); got != c.want {
			t.Errorf("%+v: exit %d, want %d", c.t, got, c.want)
		}
	}
}

// TestDocumentForms checks that JSON and YAML carry the same document with the contract's
// field names, and that the text marks the first blocker.
func TestDocumentForms(t *testing.T) {
	tr := &Trace{SchemaVersion: 1, Verdict: "denied", Query: Query{Src: "pod/a/b", Dst: "svc/a/c", Port: 80, Protocol: "tcp"},
		Paths: []Path{{Verdict: "denied", Endpoint: "10.0.0.1:8080",
			Hops:     []Hop{{Node: "n1", NetNS: "host", Step: "iptables filter/FORWARD", Action: "drop", Rule: &Rule{File: "nodes/n1/iptables-save.txt", Line: 7, Text: "-A FORWARD -j DROP"}}},
			Findings: []Finding{{Code: "iptables-drop", Severity: "error", Hop: 0, Message: "dropped", Fix: "allow it"}}}}}
	var jb, yb, tb bytes.Buffer
	if err := WriteJSON(&jb, tr); err != nil {
		t.Fatal(err)
	}
	if err := WriteYAML(&yb, tr); err != nil {
		t.Fatal(err)
	}
	var fromJSON, fromYAML map[string]any
	if err := json.Unmarshal(jb.Bytes(), &fromJSON); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(yb.Bytes(), &fromYAML); err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(fromJSON)
	b, _ := json.Marshal(fromYAML)
	if !bytes.Equal(a, b) {
		t.Errorf("JSON and YAML differ:\n%s\n%s", a, b)
	}
	for _, key := range []string{`"schemaVersion": 1`, `"verdict": "denied"`, `"endpoint": "10.0.0.1:8080"`, `"file": "nodes/n1/iptables-save.txt"`, `"line": 7`, `"code": "iptables-drop"`} {
		if !strings.Contains(jb.String(), key) {
			t.Errorf("JSON lacks %s:\n%s", key, jb.String())
		}
	}
	WriteText(&tb, tr)
	if !strings.Contains(tb.String(), "  >  0") || !strings.Contains(tb.String(), "BLOCKED at hop 0 [iptables-drop]: dropped") || !strings.Contains(tb.String(), "fix: allow it") {
		t.Errorf("text:\n%s", tb.String())
	}
}

func TestFirstBlocker(t *testing.T) {
	tr := &Trace{Paths: []Path{
		{Verdict: "delivered", Findings: []Finding{{Code: "x", Severity: "error"}}},
		{Verdict: "denied", Findings: []Finding{{Code: "policy-not-enforced", Severity: "warning"}, {Code: "iptables-drop", Severity: "error", Message: "dropped"}}},
	}}
	if p, f, ok := tr.FirstBlocker(); !ok || f.Code != "iptables-drop" || p != &tr.Paths[1] {
		t.Errorf("FirstBlocker = %v %v %v", p, f, ok)
	}
	if got := tr.BlockerText(); got != "iptables-drop: dropped" {
		t.Errorf("BlockerText = %q", got)
	}
	unknown := &Trace{Paths: []Path{{Verdict: "unknown", Findings: []Finding{{Code: "nft-unknown", Severity: "warning", Message: "m"}}}}}
	if got := unknown.BlockerText(); got != "nft-unknown: m" {
		t.Errorf("an unknown path's finding blocks it: %q", got)
	}
	bare := &Trace{Paths: []Path{{Verdict: "no-route"}}}
	if _, _, ok := bare.FirstBlocker(); ok || bare.BlockerText() != "no-route" {
		t.Errorf("a path without findings: %q", bare.BlockerText())
	}
	if (&Trace{Paths: []Path{{Verdict: "delivered"}}}).BlockerText() != "" {
		t.Error("delivered has no blocker")
	}
}
