package check

import (
	"errors"

	"github.com/netsim/netsim/model"
	"github.com/netsim/netsim/report"
	"github.com/netsim/netsim/rules/packet"
	"github.com/netsim/netsim/simulate"
)

// Result is an assertion's outcome.
type Result struct {
	Assertion Assertion
	// Holds is true when every flow has the expected outcome.
	Holds bool
	// Error says why the assertion could not be evaluated (a from/to that names nothing);
	// such an assertion does not hold.
	Error string
	Flows []Flow
}

// Flow is one concrete source, destination and verdict of an assertion.
type Flow struct {
	Src, Dst string
	Verdict  string
	Holds    bool
	// Blocker is the first blocking finding of the first path that was not delivered (or,
	// for an unexpected delivery, nothing): what to fix.
	Blocker *Blocker
	Trace   *report.Trace
}

// Blocker is a path's first blocking finding with the hop that decided.
type Blocker struct {
	Endpoint string `json:"endpoint,omitempty"`
	Code     string `json:"code"`
	Message  string `json:"message"`
	Fix      string `json:"fix,omitempty"`
	File     string `json:"file,omitempty"`
	Line     int    `json:"line,omitempty"`
	Text     string `json:"text,omitempty"`
}

var protos = map[string]uint8{"tcp": packet.TCP, "udp": packet.UDP, "sctp": packet.SCTP, "icmp": packet.ICMP}

// Run evaluates every assertion against the cluster. An error is returned only for a
// bundle that cannot be read; problems of one assertion are in its Result.
func Run(c *model.Cluster, as []Assertion) ([]Result, error) {
	sim := simulate.New(c)
	var out []Result
	for _, a := range as {
		r := Result{Assertion: a, Holds: true}
		srcs, err := Expand(c, a.From)
		if err != nil {
			r.Holds, r.Error = false, "from: "+err.Error()
			out = append(out, r)
			continue
		}
		dsts, err := Expand(c, a.To)
		if err != nil {
			r.Holds, r.Error = false, "to: "+err.Error()
			out = append(out, r)
			continue
		}
		for _, s := range srcs {
			for _, d := range dsts {
				if s.Name == d.Name && IsSelector(a.From) && IsSelector(a.To) {
					continue // a pod to itself is not a flow between two selected sets
				}
				res, err := sim.Trace(simulate.Query{Src: s, Dst: d, Port: a.Port, Proto: protos[a.Protocol]})
				if err != nil {
					var ue *simulate.UsageError
					if errors.As(err, &ue) {
						r.Holds, r.Error = false, err.Error()
						break
					}
					return nil, err
				}
				doc := report.FromResult(res)
				f := Flow{Src: s.Name, Dst: d.Name, Verdict: doc.Verdict, Holds: Matches(a.Expect, doc.Verdict), Trace: doc}
				f.Blocker = firstBlocker(doc)
				if !f.Holds {
					r.Holds = false
				}
				r.Flows = append(r.Flows, f)
			}
			if r.Error != "" {
				break
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// Matches says whether a trace verdict meets an expectation: allow is delivered, deny is
// anything else (CONTRACT §4), a verdict is itself.
func Matches(expect, verdict string) bool {
	switch expect {
	case "allow":
		return verdict == string(simulate.VDelivered)
	case "deny":
		return verdict != string(simulate.VDelivered)
	}
	return expect == verdict
}

// firstBlocker is the first error finding of the first path not delivered, with the rule
// of the hop it names.
func firstBlocker(t *report.Trace) *Blocker {
	p, f, ok := t.FirstBlocker()
	if !ok {
		return nil
	}
	b := &Blocker{Endpoint: p.Endpoint, Code: f.Code, Message: f.Message, Fix: f.Fix}
	if f.Hop >= 0 && f.Hop < len(p.Hops) && p.Hops[f.Hop].Rule != nil {
		h := p.Hops[f.Hop].Rule
		b.File, b.Line, b.Text = h.File, h.Line, h.Text
	}
	return b
}
