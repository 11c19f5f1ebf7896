// Package report renders a trace for people (a table per path, the first blocker with its
// cause and fix) and for programs (the JSON and YAML of ../shared/CONTRACT.md §2).
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"sigs.k8s.io/yaml"

	"github.com/netsim/netsim/rules/packet"
	"github.com/netsim/netsim/simulate"
)

// SchemaVersion is the trace JSON's version; adding fields keeps it, renaming or removing
// one bumps it.
const SchemaVersion = 1

// Trace is the trace document of CONTRACT §2.
type Trace struct {
	SchemaVersion int      `json:"schemaVersion"`
	Query         Query    `json:"query"`
	Verdict       string   `json:"verdict"`
	Notes         []string `json:"notes,omitempty"`
	Paths         []Path   `json:"paths"`
	// DNS is the path to the source pod's nameservers (trace --dns).
	DNS []DNS `json:"dns,omitempty"`
}

// DNS is the path from the source pod to one nameserver, on UDP and TCP 53.
type DNS struct {
	Policy     string `json:"dnsPolicy,omitempty"`
	Nameserver string `json:"nameserver,omitempty"`
	How        string `json:"how,omitempty"`
	// Problem says why names cannot resolve (or why the bundle cannot tell), when it can
	// be said without a walk: no DNS Service, no nameserver, the node's resolv.conf.
	Problem string `json:"problem,omitempty"`
	Verdict string `json:"verdict"`
	UDP     *Trace `json:"udp,omitempty"`
	TCP     *Trace `json:"tcp,omitempty"`
}

// AddDNS attaches --dns results.
func (t *Trace) AddDNS(checks []simulate.DNSCheck) {
	for _, c := range checks {
		d := DNS{Policy: c.Policy, How: c.How, Problem: c.Problem}
		if c.Nameserver.IsValid() {
			d.Nameserver = c.Nameserver.String()
		}
		switch {
		case c.Problem != "" && c.Unknown:
			d.Verdict = string(simulate.VUnknown)
		case c.Problem != "":
			d.Verdict = string(simulate.VNoRoute)
		default:
			d.UDP, d.TCP = FromResult(c.UDP), FromResult(c.TCP)
			d.Verdict = d.UDP.Verdict
			if d.TCP.Verdict != d.UDP.Verdict {
				d.Verdict = string(simulate.VMixed)
			}
		}
		t.DNS = append(t.DNS, d)
	}
}

// Query is what was asked.
type Query struct {
	Src      string `json:"src"`
	Dst      string `json:"dst"`
	Port     int    `json:"port,omitempty"`
	Protocol string `json:"protocol"`
	SPort    int    `json:"sport,omitempty"`
	Size     int    `json:"size,omitempty"`
}

// Path is one way the packet goes.
type Path struct {
	Verdict  string    `json:"verdict"`
	Endpoint string    `json:"endpoint,omitempty"`
	Branches []string  `json:"branches,omitempty"`
	Hops     []Hop     `json:"hops"`
	Findings []Finding `json:"findings"`
}

// Hop is one decision or crossing.
type Hop struct {
	Node   string `json:"node,omitempty"`
	NetNS  string `json:"netns"`
	Step   string `json:"step"`
	Action string `json:"action"`
	Rule   *Rule  `json:"rule,omitempty"`
	Note   string `json:"note,omitempty"`
	// Direction is "reply" for hops of the packet sent back (omitted for the request).
	Direction string  `json:"direction,omitempty"`
	Packet    *Packet `json:"packet,omitempty"`
}

// Rule is the source of a decision: a file and line with its text.
type Rule struct {
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	Text string `json:"text,omitempty"`
}

// Packet is the packet after the hop.
type Packet struct {
	Protocol string `json:"protocol,omitempty"`
	Src      string `json:"src"`
	SPort    int    `json:"sport,omitempty"`
	Dst      string `json:"dst"`
	DPort    int    `json:"dport,omitempty"`
	Mark     string `json:"mark,omitempty"`
}

// Finding is a blocker or a notable fact of a path.
type Finding struct {
	Code       string `json:"code"`
	Severity   string `json:"severity"`
	Hop        int    `json:"hop"`
	Message    string `json:"message"`
	Fix        string `json:"fix,omitempty"`
	AfterFirst bool   `json:"afterFirst,omitempty"`
}

// FromResult builds the document for a result.
func FromResult(r *simulate.Result) *Trace {
	q := r.Query
	t := &Trace{SchemaVersion: SchemaVersion, Verdict: string(r.Verdict), Notes: r.Notes, Paths: []Path{},
		Query: Query{Src: q.Src.Name, Dst: q.Dst.Name, Port: int(q.Port), Protocol: packet.ProtoName(q.Proto), SPort: int(q.SPort), Size: q.Size}}
	for _, p := range r.Paths {
		pd := Path{Verdict: string(p.Verdict), Endpoint: p.Endpoint, Branches: p.Branches, Hops: []Hop{}, Findings: []Finding{}}
		for _, h := range p.Hops {
			hd := Hop{Node: h.Node, NetNS: h.NetNS, Step: h.Step, Action: h.Action, Note: h.Note, Packet: packetDoc(h.Packet)}
			if h.Reply {
				hd.Direction = "reply"
			}
			if h.Pos.File != "" || h.Text != "" {
				hd.Rule = &Rule{File: h.Pos.File, Line: h.Pos.Line, Text: h.Text}
			}
			pd.Hops = append(pd.Hops, hd)
		}
		for _, f := range p.Findings {
			pd.Findings = append(pd.Findings, Finding(f))
		}
		t.Paths = append(t.Paths, pd)
	}
	return t
}

func packetDoc(p packet.Packet) *Packet {
	if !p.Src.IsValid() && !p.Dst.IsValid() {
		return nil
	}
	d := &Packet{Protocol: packet.ProtoName(p.Proto), Src: addr(p.Src), Dst: addr(p.Dst)}
	if p.HasPorts() {
		d.SPort, d.DPort = int(p.SPort), int(p.DPort)
	}
	if p.Mark != 0 {
		d.Mark = fmt.Sprintf("0x%x", p.Mark)
	}
	return d
}

func addr(a interface {
	IsValid() bool
	String() string
}) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// WriteJSON writes the document as indented JSON.
func WriteJSON(w io.Writer, t *Trace) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(t)
}

// WriteYAML writes the document as YAML with the JSON field names.
func WriteYAML(w io.Writer, t *Trace) error {
	b, err := yaml.Marshal(t)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// WriteText writes the trace for people: a summary line, then each path's hops as a
// table, its first blocker highlighted with the cause and the fix, and the blockers after
// it.
func WriteText(w io.Writer, t *Trace) error {
	writeText(w, t)
	for _, d := range t.DNS {
		fmt.Fprintf(w, "\nDNS (dnsPolicy %s): ", d.Policy)
		if d.Problem != "" {
			fmt.Fprintf(w, "%s: %s\n", strings.ToUpper(d.Verdict), d.Problem)
			continue
		}
		fmt.Fprintf(w, "nameserver %s, %s: udp %s, tcp %s\n", d.Nameserver, d.How, strings.ToUpper(d.UDP.Verdict), strings.ToUpper(d.TCP.Verdict))
		for _, sub := range []*Trace{d.UDP, d.TCP} {
			if sub.Verdict != string(simulate.VDelivered) {
				fmt.Fprintf(w, "\n--- DNS over %s\n", sub.Query.Protocol)
				writeText(w, sub)
			}
		}
	}
	return nil
}

func writeText(w io.Writer, t *Trace) {
	q := t.Query
	port := ""
	if q.Port != 0 {
		port = fmt.Sprintf(":%d", q.Port)
	}
	fmt.Fprintf(w, "%s -> %s%s/%s: %s (%s)\n", q.Src, q.Dst, port, q.Protocol, strings.ToUpper(t.Verdict), summary(t))
	for _, n := range t.Notes {
		fmt.Fprintf(w, "  %s\n", n)
	}
	for i, p := range t.Paths {
		fmt.Fprintf(w, "\npath %d/%d", i+1, len(t.Paths))
		if p.Endpoint != "" {
			fmt.Fprintf(w, " to %s", p.Endpoint)
		}
		fmt.Fprintf(w, ": %s\n", strings.ToUpper(p.Verdict))
		if len(p.Branches) > 0 {
			fmt.Fprintf(w, "  via: %s\n", strings.Join(p.Branches, "; "))
		}
		first, firstIdx := -1, -1
		for k, f := range p.Findings {
			if f.Severity == "error" {
				first, firstIdx = f.Hop, k
				break
			}
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  \tHOP\tWHERE\tSTEP\tACTION\tPACKET\tRULE")
		for j, h := range p.Hops {
			mark := " "
			if j == first {
				mark = ">"
			}
			where := h.NetNS
			if h.Node != "" {
				where = h.Node + " " + h.NetNS
			}
			if h.Direction == "reply" {
				where = "<- " + where
			}
			fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\t%s\t%s\t%s\n", mark, j, where, h.Step, h.Action, packetText(h.Packet), ruleText(h))
		}
		tw.Flush()
		for k, f := range p.Findings {
			switch {
			case k == firstIdx:
				fmt.Fprintf(w, "  BLOCKED at hop %d [%s]: %s\n", f.Hop, f.Code, f.Message)
			case f.Severity != "error":
				fmt.Fprintf(w, "  %s at hop %d [%s]: %s\n", f.Severity, f.Hop, f.Code, f.Message)
			default:
				fmt.Fprintf(w, "  then, at hop %d [%s]: %s\n", f.Hop, f.Code, f.Message)
			}
			if f.Fix != "" {
				fmt.Fprintf(w, "    fix: %s\n", f.Fix)
			}
		}
	}
}

func summary(t *Trace) string {
	counts := map[string]int{}
	var order []string
	for _, p := range t.Paths {
		if counts[p.Verdict] == 0 {
			order = append(order, p.Verdict)
		}
		counts[p.Verdict]++
	}
	var parts []string
	for _, v := range order {
		parts = append(parts, fmt.Sprintf("%s %d", v, counts[v]))
	}
	noun := "paths"
	if len(t.Paths) == 1 {
		noun = "path"
	}
	return fmt.Sprintf("%d %s: %s", len(t.Paths), noun, strings.Join(parts, ", "))
}

func packetText(p *Packet) string {
	if p == nil {
		return ""
	}
	s, d := p.Src, p.Dst
	if p.SPort != 0 {
		s = joinPort(p.Src, p.SPort)
	}
	if p.DPort != 0 {
		d = joinPort(p.Dst, p.DPort)
	}
	out := s + ">" + d
	if p.Mark != "" {
		out += " mark " + p.Mark
	}
	return out
}

func joinPort(a string, port int) string {
	if strings.Contains(a, ":") {
		return fmt.Sprintf("[%s]:%d", a, port)
	}
	return fmt.Sprintf("%s:%d", a, port)
}

func ruleText(h Hop) string {
	var parts []string
	if h.Rule != nil {
		if h.Rule.File != "" {
			parts = append(parts, fmt.Sprintf("%s:%d", h.Rule.File, h.Rule.Line))
		}
		if h.Rule.Text != "" {
			parts = append(parts, trunc(h.Rule.Text, 110))
		}
	}
	if h.Note != "" && (h.Rule == nil || h.Rule.Text == "") {
		parts = append(parts, trunc(h.Note, 110))
	}
	return strings.Join(parts, "  ")
}

func trunc(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

// ExitCode is trace's exit status (CONTRACT §1): 0 every path delivered, 1 a path not
// delivered, 3 no blocker found but some step undecided.
func ExitCode(t *Trace) int {
	unknown := false
	for _, d := range t.DNS {
		switch {
		case d.Verdict == string(simulate.VUnknown):
			unknown = true
		case d.Problem != "":
			return 1
		default:
			for _, sub := range []*Trace{d.UDP, d.TCP} {
				switch ExitCode(sub) {
				case 1:
					return 1
				case 3:
					unknown = true
				}
			}
		}
	}
	for _, p := range t.Paths {
		switch p.Verdict {
		case string(simulate.VDelivered):
		case string(simulate.VUnknown):
			unknown = true
		default:
			return 1
		}
	}
	if unknown || len(t.Paths) == 0 {
		return 3
	}
	return 0
}

// FirstBlocker is the first blocking finding of the first path that is not delivered — an
// error finding, or any finding of an `unknown` path — with its path. ok is false when every
// path is delivered or a path names no finding.
func (t *Trace) FirstBlocker() (p *Path, f *Finding, ok bool) {
	for i := range t.Paths {
		p := &t.Paths[i]
		if p.Verdict == "delivered" {
			continue
		}
		for j := range p.Findings {
			if f := &p.Findings[j]; f.Severity == "error" || p.Verdict == "unknown" {
				return p, f, true
			}
		}
	}
	return nil, nil, false
}

// BlockerText is "code: message" of the first blocker, the first verdict not delivered when
// no finding names one, or "" when every path is delivered: one line for a table cell.
func (t *Trace) BlockerText() string {
	if _, f, ok := t.FirstBlocker(); ok {
		return f.Code + ": " + f.Message
	}
	for _, p := range t.Paths {
		if p.Verdict != "delivered" {
			return p.Verdict
		}
	}
	return ""
}
