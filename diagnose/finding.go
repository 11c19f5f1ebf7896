// Package diagnose finds, with no flow given, the field-guide failures
// (../shared/FIELD-GUIDE.md) that a bundle shows by itself: Services without endpoints or
// listeners, kube-proxy rules that lag the API, host firewalls, sysctls, routes, tunnels,
// MTUs, duplicate addresses, unenforced policies and iptables rules no packet can reach.
// Every finding cites its evidence: a bundle file and line, or an API object.
package diagnose

import (
	"fmt"
	"sort"

	"github.com/netsim/netsim/model/source"
)

// SchemaVersion is the version of the `netsim diagnose -o json` document (CONTRACT §5).
const SchemaVersion = 1

// Severity says how bad a finding is.
type Severity string

// Severities. Error means traffic that the cluster's own objects say should flow will not.
const (
	Error   Severity = "error"
	Warning Severity = "warning"
	Info    Severity = "info"
)

func (s Severity) rank() int {
	switch s {
	case Error:
		return 0
	case Warning:
		return 1
	}
	return 2
}

// Evidence is where a finding was seen: a bundle file and line, an API object, or both
// (an object and the file and line it was read from).
type Evidence struct {
	Object string `json:"object,omitempty"`
	File   string `json:"file,omitempty"`
	Line   int    `json:"line,omitempty"`
	// Entry is the element of a one-line JSON array (compact `ip -j` output).
	Entry int `json:"entry,omitempty"`
	// Text is the cited line or setting, when it helps to read it in place.
	Text string `json:"text,omitempty"`
}

// String renders "file:line (object)" for the text output.
func (e Evidence) String() string {
	pos := source.Pos{File: e.File, Line: e.Line, Entry: e.Entry}.String()
	switch {
	case e.Object != "" && pos != "":
		return e.Object + " (" + pos + ")"
	case e.Object != "":
		return e.Object
	}
	return pos
}

// at cites a position in a bundle file.
func at(p source.Pos, text string) Evidence {
	return Evidence{File: p.File, Line: p.Line, Entry: p.Entry, Text: text}
}

// object cites an API object and where it was read.
func object(kind, key string, p source.Pos) Evidence {
	return Evidence{Object: kind + "/" + key, File: p.File, Line: p.Line, Entry: p.Entry}
}

// Finding is one problem found in the bundle.
type Finding struct {
	Code     string     `json:"code"`
	Severity Severity   `json:"severity"`
	Node     string     `json:"node,omitempty"`
	Message  string     `json:"message"`
	Evidence []Evidence `json:"evidence"`
	Fix      string     `json:"fix"`
}

// Report is the `netsim diagnose` document.
type Report struct {
	SchemaVersion int       `json:"schemaVersion"`
	Findings      []Finding `json:"findings"`
	// Notes say what could not be checked and why (nodes without dumps, no cloud data).
	Notes []string `json:"notes,omitempty"`
}

// Errors counts the error findings.
func (r *Report) Errors() int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == Error {
			n++
		}
	}
	return n
}

// Codes lists the distinct finding codes, sorted.
func (r *Report) Codes() []string {
	seen := map[string]bool{}
	var out []string
	for _, f := range r.Findings {
		if !seen[f.Code] {
			seen[f.Code] = true
			out = append(out, f.Code)
		}
	}
	sort.Strings(out)
	return out
}

// sortFindings orders findings by severity, code, node and message, so output is stable
// whatever order the checks ran in.
func sortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.Severity.rank() != b.Severity.rank() {
			return a.Severity.rank() < b.Severity.rank()
		}
		if a.Code != b.Code {
			return a.Code < b.Code
		}
		if a.Node != b.Node {
			return a.Node < b.Node
		}
		return a.Message < b.Message
	})
}

// listSome renders up to n items and how many more there are.
func listSome(items []string, n int) string {
	if len(items) <= n {
		return join(items)
	}
	return fmt.Sprintf("%s and %d more", join(items[:n]), len(items)-n)
}

func join(items []string) string {
	out := ""
	for i, s := range items {
		if i > 0 {
			out += ", "
		}
		out += s
	}
	return out
}
