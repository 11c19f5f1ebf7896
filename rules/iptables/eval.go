package iptables

import (
	"fmt"
	"net/netip"

	"github.com/netsim/netsim/rules/packet"
)

// Verdict is what a hook (or one table's chain at it) decides.
type Verdict int

// Verdicts.
const (
	Accept  Verdict = iota // the packet goes on
	Drop                   // silently dropped
	Reject                 // dropped with an error sent back (RejectWith)
	Unknown                // depends on what netsim cannot evaluate; Step says what
)

func (v Verdict) String() string {
	return [...]string{"accept", "drop", "reject", "unknown"}[v]
}

// Step is one decision on the way: a rule that matched (or may have), a policy applied.
type Step struct {
	Table, Chain string
	Rule         *Rule // nil for a chain policy
	Action       string
	Note         string
	Packet       packet.Packet // after the step
}

// Result is one way a packet can leave a hook.
type Result struct {
	Verdict    Verdict
	RejectWith string
	Packet     packet.Packet
	Steps      []Step
	// Branches are the statistic (numgen-like) choices that led here, one per rule.
	Branches []string
	// Why explains an Unknown verdict; UnknownRule is the rule it comes from.
	Why         string
	UnknownRule *Rule
	// TProxy is set when TPROXY diverted the packet to a local socket.
	TProxy netip.AddrPort
}

// maxPaths bounds how many ways one traversal may split, so that a ruleset full of
// may-match rules cannot make a trace explode; past it the result is Unknown.
const maxPaths = 1024

// NATEnv supplies what NAT targets need from the namespace.
type NATEnv interface {
	Env
	// SourceFor is the source address MASQUERADE picks for a packet leaving oif.
	SourceFor(oif string, dst netip.Addr) (netip.Addr, bool)
	// PrimaryAddr is the first address of a device (REDIRECT's new destination).
	PrimaryAddr(iface string, ipv6 bool) (netip.Addr, bool)
}

// Hooks and the tables at each, in the order of their priorities (raw -300, mangle -150,
// nat DNAT -100, filter 0, security 50, nat SNAT 100).
var hookTables = map[string][]string{
	"PREROUTING":  {"raw", "mangle", "nat"},
	"INPUT":       {"mangle", "filter", "security", "nat"},
	"FORWARD":     {"mangle", "filter", "security"},
	"OUTPUT":      {"raw", "mangle", "nat", "filter", "security"},
	"POSTROUTING": {"mangle", "nat"},
}

// Hook runs a packet through every table at a netfilter hook. nat is consulted only for a
// connection's first packet (CtState New, tracked), as conntrack does.
func (rs *Ruleset) Hook(env Env, hook string, p packet.Packet) []Result {
	results := []Result{{Verdict: Accept, Packet: p}}
	for _, tname := range hookTables[hook] {
		t := rs.Tables[tname]
		if t == nil || t.Chains[hook] == nil {
			continue
		}
		var next []Result
		for _, r := range results {
			if r.Verdict != Accept {
				next = append(next, r)
				continue
			}
			if tname == "nat" && (r.Packet.CtState != packet.CtNew || r.Packet.Untracked) {
				// Not a first packet: the nat table is not consulted; conntrack undoes the
				// connection's NAT on replies instead, at the nat hooks' places.
				if r.Packet.Reply {
					r.Packet = reverseNAT(hook, r.Packet)
				}
				next = append(next, r)
				continue
			}
			for _, tr := range rs.Chain(env, tname, hook, r.Packet) {
				tr.Steps = append(append([]Step{}, r.Steps...), tr.Steps...)
				tr.Branches = append(append([]string{}, r.Branches...), tr.Branches...)
				next = append(next, tr)
			}
		}
		results = next
	}
	return results
}

// Chain traverses one built-in chain of a table.
func (rs *Ruleset) Chain(env Env, table, chain string, p packet.Packet) []Result {
	t := rs.Tables[table]
	if t == nil || t.Chains[chain] == nil {
		return []Result{{Verdict: Accept, Packet: p}}
	}
	w := &walker{rs: rs, env: env, table: t, base: t.Chains[chain], budget: maxPaths}
	return w.walk([]frame{{chain: t.Chains[chain]}}, p, nil, nil)
}

type frame struct {
	chain *Chain
	idx   int
}

type walker struct {
	rs     *Ruleset
	env    Env
	table  *Table
	base   *Chain
	budget int
}

func (w *walker) step(r *Rule, chain, action, note string, p packet.Packet) Step {
	return Step{Table: w.table.Name, Chain: chain, Rule: r, Action: action, Note: note, Packet: p}
}

// evalConds ANDs a rule's conditions. A False anywhere decides; otherwise the first Maybe
// or Branch (in rule order) is reported with its reason.
func evalConds(env Env, r *Rule, p *packet.Packet) (Tri, string) {
	res, why := True, ""
	for i := range r.Conds {
		c := &r.Conds[i]
		v, reason := c.pred.eval(env, p)
		if c.Neg {
			switch v {
			case True:
				v = False
			case False:
				v = True
			}
		}
		switch v {
		case False:
			return False, ""
		case Maybe, Branch:
			if res == True {
				res, why = v, reason
			}
		}
	}
	return res, why
}

func (w *walker) walk(stack []frame, p packet.Packet, steps []Step, branches []string) []Result {
	for {
		if len(stack) == 0 {
			// The base chain was left by RETURN or by the end of a chain reached by goto:
			// its policy decides.
			return []Result{w.policy(p, steps, branches)}
		}
		top := &stack[len(stack)-1]
		c := top.chain
		i := c.next(top.idx, p.Dst)
		if i < 0 {
			if c.Builtin && len(stack) == 1 && c == w.base {
				return []Result{w.policy(p, steps, branches)}
			}
			stack = stack[:len(stack)-1]
			continue
		}
		top.idx = i + 1
		r := c.Rules[i]
		t, why := evalConds(w.env, r, &p)
		switch t {
		case False:
			continue
		case True:
		case Branch, Maybe:
			w.budget -= 2
			if w.budget <= 0 {
				return []Result{{Verdict: Unknown, Packet: p, Steps: steps, Branches: branches, UnknownRule: r,
					Why: fmt.Sprintf("more than %d ways through table %s", maxPaths, w.table.Name)}}
			}
			label := fmt.Sprintf("%s rule %d (%s)", c.Name, r.Num, why)
			yes := w.apply(cloneStack(stack), r, p, appendStep(steps, w.step(r, c.Name, "may match", why, p)), appendStr(branches, label+" taken"))
			no := w.walk(cloneStack(stack), p, steps, appendStr(branches, label+" not taken"))
			if t == Branch {
				return append(yes, no...)
			}
			return mergeMaybe(r, why, w.step(r, c.Name, "may match", why+"; either way the outcome is the same", p), len(steps), len(branches), yes, no)
		}
		return w.apply(stack, r, p, steps, branches)
	}
}

// mergeMaybe joins the two ways past a rule that may or may not match: where they end
// alike the rule did not matter; where they differ the outcome is Unknown at that rule.
// st is the rule's step; at and nb are how many steps and branches the walk had made before the rule: where the
// rule did not matter, its step goes there (so a later blocking step stays the last), and
// the branch it would have been is dropped.
func mergeMaybe(r *Rule, why string, st Step, at, nb int, yes, no []Result) []Result {
	key := func(x Result) string {
		return fmt.Sprintf("%v|%s|%v|%v|%d|%d|%x", x.Verdict, x.RejectWith, x.Packet.Src, x.Packet.Dst, x.Packet.SPort, x.Packet.DPort, x.Packet.Mark)
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
			steps := make([]Step, 0, len(no[i].Steps)+1)
			steps = append(append(append(steps, no[i].Steps[:at]...), st), no[i].Steps[at:]...)
			no[i].Steps = steps
			if nb < len(no[i].Branches) {
				no[i].Branches = append(append([]string(nil), no[i].Branches[:nb]...), no[i].Branches[nb+1:]...)
			}
		}
		return no
	}
	first := no[0]
	return []Result{{Verdict: Unknown, Packet: first.Packet, Steps: first.Steps, UnknownRule: r,
		Why: fmt.Sprintf("%s rule %d may or may not match (%s), and the outcome differs", r.Chain, r.Num, why)}}
}

func (w *walker) policy(p packet.Packet, steps []Step, branches []string) Result {
	v := Accept
	if w.base.Policy == "DROP" {
		v = Drop
	}
	return Result{Verdict: v, Packet: p, Branches: branches,
		Steps: appendStep(steps, w.step(nil, w.base.Name, "policy "+w.base.Policy, "", p))}
}

// apply runs a matched rule's target.
func (w *walker) apply(stack []frame, r *Rule, p packet.Packet, steps []Step, branches []string) []Result {
	t := &r.Target
	done := func(v Verdict, action string) []Result {
		return []Result{{Verdict: v, RejectWith: t.RejectWith, Packet: p, Branches: branches, Steps: appendStep(steps, w.step(r, r.Chain, action, "", p))}}
	}
	switch t.Kind {
	case TAccept:
		return done(Accept, "accept")
	case TDrop:
		return done(Drop, "drop")
	case TReject:
		return done(Reject, "reject")
	case TReturn:
		steps = appendStep(steps, w.step(r, r.Chain, "return", "", p))
		return w.walk(stack[:len(stack)-1], p, steps, branches)
	case TJump:
		steps = appendStep(steps, w.step(r, r.Chain, "jump "+t.Chain, "", p))
		return w.walk(append(stack, frame{chain: w.table.Chains[t.Chain]}), p, steps, branches)
	case TGoto:
		steps = appendStep(steps, w.step(r, r.Chain, "goto "+t.Chain, "", p))
		stack[len(stack)-1] = frame{chain: w.table.Chains[t.Chain]}
		return w.walk(stack, p, steps, branches)
	case TMark:
		p.Mark = (p.Mark &^ t.MarkMask) ^ t.MarkXor
		return w.walk(stack, p, appendStep(steps, w.step(r, r.Chain, "mark", fmt.Sprintf("mark %#x", p.Mark), p)), branches)
	case TConnmark:
		switch {
		case t.ConnmarkSave:
			p.CtMark = (p.CtMark &^ t.CtMask) ^ (p.Mark & t.NfMask)
		case t.ConnmarkRestore:
			p.Mark = (p.Mark &^ t.NfMask) ^ (p.CtMark & t.CtMask)
		default:
			p.CtMark = (p.CtMark &^ t.MarkMask) ^ t.MarkXor
		}
		return w.walk(stack, p, appendStep(steps, w.step(r, r.Chain, "connmark", fmt.Sprintf("mark %#x ctmark %#x", p.Mark, p.CtMark), p)), branches)
	case TNone, TContinue, TCT:
		return w.walk(stack, p, appendStep(steps, w.step(r, r.Chain, "continue", t.Name, p)), branches)
	case TNotrack:
		p.Untracked = true
		return w.walk(stack, p, appendStep(steps, w.step(r, r.Chain, "notrack", "", p)), branches)
	case TDNAT, TSNAT, TMasquerade, TRedirect:
		return w.nat(r, p, steps, branches)
	case TTProxy:
		p.Mark = (p.Mark &^ t.MarkMask) ^ t.MarkXor
		res := done(Accept, "tproxy")
		ip := t.TProxyIP
		res[0].TProxy = netip.AddrPortFrom(ip, t.TProxyPort)
		return res
	}
	return []Result{{Verdict: Unknown, Packet: p, Branches: branches, UnknownRule: r, Steps: steps,
		Why: fmt.Sprintf("netsim cannot evaluate target %s", t.Name)}}
}

func (w *walker) nat(r *Rule, p packet.Packet, steps []Step, branches []string) []Result {
	t := &r.Target
	if w.table.Name != "nat" {
		return []Result{{Verdict: Unknown, Packet: p, Steps: steps, UnknownRule: r, Branches: branches, Why: t.Name + " outside the nat table"}}
	}
	if !p.OrigDst.IsValid() {
		p.OrigSrc, p.OrigDst = p.SrcAP(), p.DstAP()
	}
	var outs []Result
	addrs := []netip.Addr{{}}
	var rg NATRange
	if len(t.NAT) > 0 {
		rg = t.NAT[0]
	}
	if rg.MinAddr.IsValid() {
		addrs = addrs[:0]
		for a, n := rg.MinAddr, 0; a.Compare(rg.MaxAddr) <= 0; a, n = a.Next(), n+1 {
			if n == 64 {
				return []Result{{Verdict: Unknown, Packet: p, Steps: steps, UnknownRule: r, Branches: branches, Why: "NAT address range wider than 64 addresses"}}
			}
			addrs = append(addrs, a)
		}
	}
	for _, a := range addrs {
		q := p
		note := ""
		switch t.Kind {
		case TDNAT:
			if a.IsValid() {
				q.Dst = a
			}
			q.DNATed = true
		case TSNAT:
			if a.IsValid() {
				q.Src = a
			}
			q.SNATed = true
		case TMasquerade:
			ne, ok := w.env.(NATEnv)
			var src netip.Addr
			if ok {
				src, ok = ne.SourceFor(q.OutIface, q.Dst)
			}
			if !ok {
				return []Result{{Verdict: Unknown, Packet: p, Steps: steps, UnknownRule: r, Branches: branches, Why: "MASQUERADE: no address to masquerade as on " + q.OutIface}}
			}
			q.Src, q.SNATed = src, true
		case TRedirect:
			ne, ok := w.env.(NATEnv)
			var dst netip.Addr
			if ok {
				if q.InIface == "" {
					dst = netip.MustParseAddr("127.0.0.1")
					if q.Is6() {
						dst = netip.IPv6Loopback()
					}
				} else {
					dst, ok = ne.PrimaryAddr(q.InIface, q.Is6())
				}
			}
			if !ok {
				return []Result{{Verdict: Unknown, Packet: p, Steps: steps, UnknownRule: r, Branches: branches, Why: "REDIRECT: no address on " + q.InIface}}
			}
			q.Dst, q.DNATed = dst, true
		}
		if rg.MinPort != 0 && q.HasPorts() {
			port := &q.DPort
			if t.Kind == TSNAT || t.Kind == TMasquerade {
				port = &q.SPort
			}
			if *port < rg.MinPort || *port > rg.MaxPort || t.Kind == TDNAT || t.Kind == TRedirect {
				if rg.MinPort != rg.MaxPort && (t.Kind == TDNAT || t.Kind == TRedirect) {
					note = fmt.Sprintf("port range %d-%d: netsim takes %d", rg.MinPort, rg.MaxPort, rg.MinPort)
				}
				if t.Kind == TDNAT || t.Kind == TRedirect || *port < rg.MinPort || *port > rg.MaxPort {
					*port = rg.MinPort
				}
			}
		}
		br := branches
		if len(addrs) > 1 {
			br = appendStr(branches, fmt.Sprintf("%s rule %d: %s to %s", r.Chain, r.Num, t.Name, a))
		}
		action := map[TargetKind]string{TDNAT: "dnat", TSNAT: "snat", TMasquerade: "masquerade", TRedirect: "redirect"}[t.Kind]
		outs = append(outs, Result{Verdict: Accept, Packet: q, Branches: br, Steps: appendStep(steps, w.step(r, r.Chain, action, note, q))})
	}
	return outs
}

func cloneStack(s []frame) []frame { return append([]frame(nil), s...) }

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

// reverseNAT applies conntrack's translation to a reply packet: at PREROUTING and OUTPUT
// the destination manipulation (undoing SNAT/MASQUERADE), at INPUT and POSTROUTING the
// source manipulation (undoing DNAT/REDIRECT). OrigSrc/OrigDst are the original
// direction's addresses.
func reverseNAT(hook string, p packet.Packet) packet.Packet {
	switch hook {
	case "PREROUTING", "OUTPUT":
		if p.SNATed && p.OrigSrc.IsValid() {
			p.Dst, p.DPort = p.OrigSrc.Addr(), p.OrigSrc.Port()
		}
	case "INPUT", "POSTROUTING":
		if p.DNATed && p.OrigDst.IsValid() {
			p.Src, p.SPort = p.OrigDst.Addr(), p.OrigDst.Port()
		}
	}
	return p
}
