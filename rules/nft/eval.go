package nft

import (
	"fmt"
	"net/netip"

	"github.com/netsim/netsim/rules/packet"
)

// Env answers what expressions need beyond the packet: the namespace's addresses and
// routes (fib), and the addresses NAT picks. A nil Env makes fib unknown.
type Env interface {
	// AddrType is the route type of an address in the local table ("local", "unicast",
	// "broadcast", "multicast", ...; "" when unknown); with iface set, only addresses on
	// that device are local.
	AddrType(a netip.Addr, iface string) string
	// Route looks a destination up: the output device, whether there is a route, and
	// whether the dump can tell.
	Route(q RouteQuery) (oif string, found, known bool)
	// SourceFor is the source address masquerade picks for a packet leaving oif.
	SourceFor(oif string, dst netip.Addr) (netip.Addr, bool)
	// PrimaryAddr is the first address of a device (redirect's new destination).
	PrimaryAddr(iface string, ipv6 bool) (netip.Addr, bool)
}

// RouteQuery is a fib lookup.
type RouteQuery struct {
	Dst, Src netip.Addr
	IIf      string
	Mark     uint32
	// Reverse is set for a lookup of the packet's source (fib saddr): reverse-path checks.
	Reverse bool
}

// Outcome is how a packet leaves a base chain.
type Outcome uint8

// Outcomes of a base chain.
const (
	Accept  Outcome = iota // the packet goes on to the next base chain at the hook
	Drop                   // silently dropped
	Reject                 // dropped with an error sent back (RejectWith)
	Unknown                // depends on what netsim cannot evaluate; Why says what
)

func (o Outcome) String() string { return [...]string{"accept", "drop", "reject", "unknown"}[o] }

// Step is one decision on the way: a rule that matched (or may have), a policy applied.
type Step struct {
	Chain  *Chain
	Rule   *Rule // nil for the base chain's policy
	Action string
	Note   string
	// Comment is the comment of the map element a vmap chose, or the rule's.
	Comment string
	Packet  packet.Packet // after the step
}

// Result is one way a packet can leave a base chain.
type Result struct {
	Outcome    Outcome
	RejectWith string // as iptables names it: icmp-port-unreachable, tcp-reset, ...
	Packet     packet.Packet
	Steps      []Step
	// Branches are the numgen/jhash choices (and may-match rules) that led here.
	Branches    []string
	Why         string
	UnknownRule *Rule
}

// maxPaths bounds how many ways one traversal may split.
const maxPaths = 1024

// maxDepth is the kernel's jump stack (NFT_JUMP_STACK_SIZE).
const maxDepth = 16

// Run evaluates a packet through a base chain at hook (prerouting, input, ...).
func Run(env Env, c *Chain, hook string, p packet.Packet) []Result {
	w := &walker{env: env, hook: hook, base: c, budget: maxPaths}
	return w.walk([]frame{{chain: c}}, p, nil, nil)
}

type frame struct {
	chain *Chain
	idx   int
}

type walker struct {
	env    Env
	hook   string
	base   *Chain
	budget int
}

func (w *walker) policy(p packet.Packet, steps []Step, br []string) []Result {
	o := Accept
	if w.base.Policy == "drop" {
		o = Drop
	}
	return []Result{{Outcome: o, Packet: p, Branches: br, Steps: appendStep(steps, Step{Chain: w.base, Action: "policy " + w.base.Policy, Packet: p})}}
}

// walk runs rules from the top frame on until a verdict ends the traversal.
func (w *walker) walk(stack []frame, p packet.Packet, steps []Step, br []string) []Result {
	for {
		if len(stack) == 0 {
			return w.policy(p, steps, br)
		}
		top := &stack[len(stack)-1]
		if top.idx >= len(top.chain.Rules) {
			if len(stack) == 1 {
				return w.policy(p, steps, br)
			}
			stack = stack[:len(stack)-1]
			continue
		}
		r := top.chain.Rules[top.idx]
		top.idx++
		st := &state{stack: stack, p: p, steps: steps, br: br}
		if res, done := w.rule(st, r, 0); done {
			return res
		}
		stack, p, steps, br = st.stack, st.p, st.steps, st.br
	}
}

// state is a traversal's position while a rule is evaluated.
type state struct {
	stack []frame
	p     packet.Packet
	steps []Step
	br    []string
}

func (s *state) clone() *state {
	return &state{stack: append([]frame(nil), s.stack...), p: s.p, steps: s.steps, br: s.br}
}

func (w *walker) step(r *Rule, action, note string, p packet.Packet) Step {
	return Step{Chain: r.Chain, Rule: r, Action: action, Note: note, Packet: p}
}

func (w *walker) unknown(st *state, r *Rule, why string) []Result {
	return []Result{{Outcome: Unknown, Packet: st.p, Steps: st.steps, Branches: st.br, UnknownRule: r, Why: why}}
}

// rule evaluates a rule's ops from i on. done=false: the rule ended without a terminal
// verdict (no match, or continue, jump, goto, return changed st.stack) and the walk goes on
// from st; done=true: res are the ways out of the base chain.
func (w *walker) rule(st *state, r *Rule, i int) (res []Result, done bool) {
	for ; i < len(r.ops); i++ {
		c := &ctx{env: w.env, p: &st.p, hook: w.hook}
		switch o := r.ops[i].(type) {
		case *matchOp:
			t, why, label := o.eval(c)
			switch t {
			case tFalse:
				return nil, false
			case tTrue:
				continue
			}
			w.budget -= 2
			if w.budget <= 0 {
				return w.unknown(st, r, fmt.Sprintf("more than %d ways through table %s", maxPaths, r.Chain.Table.Key())), true
			}
			yes := st.clone()
			yes.steps = appendStep(yes.steps, w.step(r, "may match", why, st.p))
			no := st.clone()
			if t == tBranch {
				yes.br = appendStr(yes.br, label+" taken")
				no.br = appendStr(no.br, label+" not taken")
			}
			a := w.resume(yes, r, i+1)
			b := w.walk(no.stack, no.p, no.steps, no.br)
			if t == tBranch {
				return append(a, b...), true
			}
			return mergeMaybe(r, why, a, b), true
		case *vmapOp:
			groups, v := lookup(c, o.key, o.set)
			switch v.st {
			case sAbsent:
				return nil, false
			case sUnknown:
				return w.unknown(st, r, fmt.Sprintf("%s: %s", o, v.why)), true
			}
			if len(groups) == 1 {
				g := groups[0]
				if g.elem < 0 {
					return nil, false
				}
				el := &o.set.Elems[g.elem]
				res, done := w.verdict(st, r, el.Verdict, "element "+renderKey(el.Lo, el.Hi, o.set.Key)+commentNote(el.Comment))
				if !done && len(st.steps) > 0 {
					st.steps[len(st.steps)-1].Comment = el.Comment
				}
				return res, done
			}
			w.budget -= len(groups)
			if w.budget <= 0 {
				return w.unknown(st, r, fmt.Sprintf("more than %d ways through table %s", maxPaths, r.Chain.Table.Key())), true
			}
			var out []Result
			for _, g := range groups {
				b := st.clone()
				b.br = appendStr(b.br, g.label)
				if g.elem < 0 {
					out = append(out, w.walk(b.stack, b.p, b.steps, b.br)...)
					continue
				}
				el := &o.set.Elems[g.elem]
				res, done := w.verdict(b, r, el.Verdict, g.label+commentNote(el.Comment))
				if !done {
					res = w.walk(b.stack, b.p, b.steps, b.br)
				}
				out = append(out, res...)
			}
			return out, true
		case *verdictOp:
			return w.verdict(st, r, o.v, "")
		case *rejectOp:
			with, applies := o.rejectWith(&st.p, r.Chain.Table.Family)
			if !applies {
				return nil, false
			}
			return []Result{{Outcome: Reject, RejectWith: with, Packet: st.p, Branches: st.br, Steps: appendStep(st.steps, w.step(r, "reject", with, st.p))}}, true
		case *natOp:
			return w.nat(st, r, o, c), true
		case *mangleOp:
			switch o.what {
			case "unknown":
				return w.unknown(st, r, o.String()+" changes the packet in a way netsim does not model"), true
			case "harmless":
				continue
			}
			v := o.value.eval(c)
			if v.st == sAbsent {
				return nil, false
			}
			if v.st == sUnknown || v.multi != nil || v.v.Kind != vNum {
				return w.unknown(st, r, o.String()+": the value cannot be computed ("+v.why+")"), true
			}
			if o.what == "mark" {
				st.p.Mark = uint32(v.v.Num)
				st.steps = appendStep(st.steps, w.step(r, "mark", fmt.Sprintf("mark %#x", st.p.Mark), st.p))
			} else {
				st.p.CtMark = uint32(v.v.Num)
				st.steps = appendStep(st.steps, w.step(r, "ct mark", fmt.Sprintf("ct mark %#x", st.p.CtMark), st.p))
			}
		case *notrackOp:
			st.p.Untracked = true
			st.steps = appendStep(st.steps, w.step(r, "notrack", "", st.p))
		case *passOp:
		case *maybeOp:
			w.budget -= 2
			if w.budget <= 0 {
				return w.unknown(st, r, fmt.Sprintf("more than %d ways through table %s", maxPaths, r.Chain.Table.Key())), true
			}
			yes, no := st.clone(), st.clone()
			yes.steps = appendStep(yes.steps, w.step(r, "may match", o.why, st.p))
			a := w.resume(yes, r, i+1)
			b := w.walk(no.stack, no.p, no.steps, no.br)
			return mergeMaybe(r, o.why, a, b), true
		case *unknownOp:
			return w.unknown(st, r, o.why), true
		}
	}
	// The rule ran to its end without a verdict: the next rule.
	return nil, false
}

// resume evaluates the rest of a rule from op i in a forked state and then walks on.
func (w *walker) resume(st *state, r *Rule, i int) []Result {
	if res, done := w.rule(st, r, i); done {
		return res
	}
	return w.walk(st.stack, st.p, st.steps, st.br)
}

func commentNote(c string) string {
	if c == "" {
		return ""
	}
	return " (" + c + ")"
}

// verdict applies a verdict. Jump, goto, return and continue change st and go on.
func (w *walker) verdict(st *state, r *Rule, v Verdict, note string) ([]Result, bool) {
	done := func(o Outcome, action string) ([]Result, bool) {
		return []Result{{Outcome: o, Packet: st.p, Branches: st.br, Steps: appendStep(st.steps, w.step(r, action, note, st.p))}}, true
	}
	switch v.Kind {
	case VAccept:
		return done(Accept, "accept")
	case VDrop:
		return done(Drop, "drop")
	case VQueue:
		return w.unknown(st, r, "queue hands the packet to a user-space program: its verdict is not in the dump"), true
	case VContinue:
		st.steps = appendStep(st.steps, w.step(r, "continue", note, st.p))
		return nil, false
	case VReturn:
		st.steps = appendStep(st.steps, w.step(r, "return", note, st.p))
		st.stack = st.stack[:len(st.stack)-1]
		return nil, false
	case VJump, VGoto:
		target := r.Chain.Table.Chains[v.Chain]
		if target == nil {
			return w.unknown(st, r, "no chain "+v.Chain), true
		}
		st.steps = appendStep(st.steps, w.step(r, v.String(), note, st.p))
		if v.Kind == VGoto {
			st.stack = append(append([]frame(nil), st.stack[:len(st.stack)-1]...), frame{chain: target})
		} else {
			if len(st.stack) >= maxDepth {
				return w.unknown(st, r, "jumps deeper than the kernel's 16 levels"), true
			}
			st.stack = append(append([]frame(nil), st.stack...), frame{chain: target})
		}
		return nil, false
	}
	return w.unknown(st, r, "verdict "+v.String()), true
}

// mergeMaybe joins the two ways past a rule that may or may not match: where they end
// alike the rule did not matter; where they differ the outcome is Unknown at that rule.
func mergeMaybe(r *Rule, why string, yes, no []Result) []Result {
	key := func(x Result) string {
		return fmt.Sprintf("%v|%s|%v|%v|%d|%d|%x|%x", x.Outcome, x.RejectWith, x.Packet.Src, x.Packet.Dst, x.Packet.SPort, x.Packet.DPort, x.Packet.Mark, x.Packet.CtMark)
	}
	ys, ns := map[string]bool{}, map[string]bool{}
	for _, y := range yes {
		ys[key(y)] = true
	}
	for _, n := range no {
		ns[key(n)] = true
	}
	same := len(ys) == len(ns)
	for k := range ys {
		same = same && ns[k]
	}
	if same {
		for i := range no {
			no[i].Steps = appendStep(no[i].Steps, Step{Chain: r.Chain, Rule: r, Action: "may match", Note: why + "; either way the outcome is the same"})
		}
		return no
	}
	first := no[0]
	return []Result{{Outcome: Unknown, Packet: first.Packet, Steps: first.Steps, UnknownRule: r, Branches: first.Branches,
		Why: fmt.Sprintf("rule %d in %s/%s may or may not match (%s), and the outcome differs", r.Handle, r.Chain.Table.Key(), r.Chain.Name, why)}}
}

func appendStep(s []Step, st Step) []Step {
	out := make([]Step, len(s), len(s)+1)
	copy(out, s)
	return append(out, st)
}

func appendStr(s []string, v string) []string {
	out := make([]string, len(s), len(s)+1)
	copy(out, s)
	return append(out, v)
}
