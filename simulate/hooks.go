package simulate

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/netsim/netsim/model/source"
	"github.com/netsim/netsim/rules/iptables"
	"github.com/netsim/netsim/rules/nft"
	"github.com/netsim/netsim/rules/packet"
)

// One hook order for every netfilter user of a namespace: at each hook the base chains of
// the nft tables netsim reads from nft.json and iptables' tables (from iptables-save), by
// priority. Accept in one base chain goes on to the next; drop and reject are final. The
// nat chains of both run where the kernel's NAT core sits (-100 at prerouting and output,
// 100 at input and postrouting), by their own priorities among themselves, only for a
// connection's first packet, and the first one that sets up a translation decides.

// iptPrio are iptables' tables at their standard priorities (nat is the NAT core's).
var iptPrio = map[string]int{"raw": -300, "mangle": -150, "filter": 0, "security": 50}

// Conntrack's own priorities: a notrack before -200 keeps the packet untracked.
const prioConntrack = -200

func natPrio(hook string) int {
	if hook == "PREROUTING" || hook == "OUTPUT" {
		return -100
	}
	return 100
}

// hookEntry is one base chain at a hook: an iptables table's built-in chain, an nft base
// chain, or the NAT core with the nat chains of both.
type hookEntry struct {
	prio int
	// reg orders entries of equal priority: the kernel puts a hook registered later
	// before the earlier ones of its priority. nft chains are registered in the order of
	// their table's and their own handles; iptables' tables written by iptables-nft by
	// theirs; legacy iptables' before any nft table (-1).
	reg   [2]int
	ipt   string       // iptables table
	chain *nft.Chain   // nft base chain
	core  bool         // the NAT core
	nat   []*hookEntry // the NAT core's chains, in order
}

func (h *hookEntry) String() string {
	switch {
	case h.chain != nil:
		return "nftables " + h.chain.Table.Key() + "/" + h.chain.Name
	case h.ipt != "":
		return "iptables " + h.ipt
	}
	return "nat"
}

// nftState is what a namespace's nft.json contributes.
type nftState struct {
	rs *nft.Ruleset
	// native are the tables read from nft.json; the others iptables-nft wrote, and
	// iptables-save shows them.
	native []*nft.Table
	// iptTables are iptables' tables nft.json shows (written by iptables-nft).
	iptTables map[string]bool
	// bridge names the bridge-family tables with base chains (not evaluated).
	bridge []string
}

// nftKey keys the parsed nft.json of a file in the rule cache.
type nftKey struct{ f *source.File }

type nftParsed struct {
	once sync.Once
	rs   *nft.Ruleset
	err  error
}

func (c *ruleCache) nft(f *source.File) (*nft.Ruleset, error) {
	if c == nil {
		return nft.Parse(f)
	}
	v, _ := c.m.LoadOrStore(nftKey{f}, &nftParsed{})
	p := v.(*nftParsed)
	p.once.Do(func() { p.rs, p.err = nft.Parse(f) })
	return p.rs, p.err
}

// loadNFT reads nft.json and sorts its tables into native ones and iptables-nft's.
func loadNFT(f *source.File, cache *ruleCache, incompatible map[string]bool) (*nftState, error) {
	rs, err := cache.nft(f)
	if err != nil {
		return nil, err
	}
	st := &nftState{rs: rs, iptTables: map[string]bool{}}
	for _, t := range rs.Tables {
		if (t.Family == "ip" || t.Family == "ip6") && iptablesTables[t.Name] && !incompatible[t.Name] {
			st.iptTables[t.Family+" "+t.Name] = true
			continue
		}
		switch t.Family {
		case "ip", "ip6", "inet", "netdev":
			st.native = append(st.native, t)
		case "bridge":
			for _, c := range t.Order {
				if c.IsBase() && (len(c.Rules) > 0 || c.Policy == "drop") {
					st.bridge = append(st.bridge, t.Key())
					break
				}
			}
		}
	}
	return st, nil
}

// nftChains are the native base chains at a hook for a packet of this family.
func (e *NetNS) nftChains(hook string, v6 bool) []*nft.Chain {
	if e.nft == nil {
		return nil
	}
	h := strings.ToLower(hook)
	var out []*nft.Chain
	for _, t := range e.nft.native {
		switch {
		case t.Family == "inet", t.Family == "ip" && !v6, t.Family == "ip6" && v6:
		default:
			continue
		}
		for _, c := range t.Order {
			if c.Hook == h {
				out = append(out, c)
			}
		}
	}
	return out
}

// hookOrder lists the base chains at a hook in the kernel's order.
func (e *NetNS) hookOrder(hook string, rs *iptables.Ruleset, chains []*nft.Chain, v6 bool) []*hookEntry {
	var plain []*hookEntry
	nat := &hookEntry{prio: natPrio(hook), core: true}
	if rs != nil {
		for _, tname := range iptablesHookTables[hook] {
			t := rs.Tables[tname]
			if t == nil || t.Chains[hook] == nil {
				continue
			}
			reg := e.iptReg(tname, hook, rs.IPv6)
			if tname == "nat" {
				nat.nat = append(nat.nat, &hookEntry{prio: natPrio(hook), ipt: "nat", reg: reg})
				continue
			}
			plain = append(plain, &hookEntry{prio: iptPrio[tname], ipt: tname, reg: reg})
		}
	}
	for _, c := range chains {
		ent := &hookEntry{prio: c.Prio, chain: c, reg: [2]int{c.Table.Handle, c.Handle}}
		if c.Type == "nat" {
			nat.nat = append(nat.nat, ent)
			continue
		}
		plain = append(plain, ent)
	}
	order := func(x []*hookEntry) {
		sort.SliceStable(x, func(i, j int) bool {
			a, b := x[i], x[j]
			if a.prio != b.prio {
				return a.prio < b.prio
			}
			if a.core || b.core {
				return b.core // the NAT core after the chains of its own priority
			}
			return a.reg[0] > b.reg[0] || a.reg[0] == b.reg[0] && a.reg[1] > b.reg[1]
		})
	}
	order(nat.nat)
	if len(nat.nat) > 0 || e.natCore(rs, v6) {
		// The NAT core is at all four hooks once any nat chain of the family exists: it
		// undoes translations on replies even where no nat chain is.
		plain = append(plain, nat)
	}
	order(plain)
	return plain
}

// natCore reports whether the namespace has a nat chain of the packet's family: an
// iptables nat table, or an nft base chain of type nat.
func (e *NetNS) natCore(rs *iptables.Ruleset, v6 bool) bool {
	if rs != nil && rs.Tables["nat"] != nil {
		return true
	}
	for _, h := range []string{"PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"} {
		for _, c := range e.nftChains(h, v6) {
			if c.Type == "nat" {
				return true
			}
		}
	}
	return false
}

// iptReg is when an iptables table's chain was registered, as far as nft.json tells:
// tables iptables-nft wrote have handles there.
func (e *NetNS) iptReg(table, hook string, v6 bool) [2]int {
	fam := "ip"
	if v6 {
		fam = "ip6"
	}
	if e.nft != nil {
		for _, t := range e.nft.rs.Tables {
			if t.Family == fam && t.Name == table {
				if c := t.Chains[hook]; c != nil {
					return [2]int{t.Handle, c.Handle}
				}
				return [2]int{t.Handle, 0}
			}
		}
	}
	return [2]int{-1, -1}
}

// iptablesHookTables are the tables iptables has at each hook, in priority order.
var iptablesHookTables = map[string][]string{
	"PREROUTING":  {"raw", "mangle", "nat"},
	"INPUT":       {"mangle", "filter", "security", "nat"},
	"FORWARD":     {"mangle", "filter", "security"},
	"OUTPUT":      {"raw", "mangle", "nat", "filter", "security"},
	"POSTROUTING": {"mangle", "nat"},
}

// mergedHook runs a hook where nft base chains are present.
func (e *NetNS) mergedHook(name string, o Outcome, rs *iptables.Ruleset, chains []*nft.Chain) []Outcome {
	if rs == nil {
		// Without iptables-save the hook is not known in full: iptables-nft's tables are
		// read from it, and legacy iptables' do not show in nft.json at all.
		file := "iptables-save.txt"
		if o.Packet.Is6() {
			file = "ip6tables-save.txt"
		}
		why := fmt.Sprintf("%s: no %s in the dump (legacy iptables' rules do not show in nft.json), so the %s hook cannot be evaluated in full", e.State.Dir, file, name)
		if e.iptablesMissing(o.Packet.Is6()) {
			why = fmt.Sprintf("%s: nft.json shows iptables' tables, and the dump has no %s to read them from: the %s hook cannot be evaluated in full", e.State.Dir, file, name)
		}
		o.Steps = append(o.Steps, Step{What: "iptables", Action: "unknown", Packet: o.Packet, Note: "no " + file})
		if e.block(&o, Unknown, "", why) {
			return []Outcome{o}
		}
	}
	results := []Outcome{o}
	for _, ent := range e.hookOrder(name, rs, chains, o.Packet.Is6()) {
		var next []Outcome
		for _, r := range results {
			if r.Kind != Deliver {
				next = append(next, r)
				continue
			}
			next = append(next, e.runEntry(name, ent, rs, r)...)
		}
		results = next
	}
	return results
}

// iptablesMissing: nft.json shows tables iptables-nft wrote but the dump has no
// iptables-save for this family.
func (e *NetNS) iptablesMissing(v6 bool) bool {
	fam := "ip "
	if v6 {
		fam = "ip6 "
	}
	for k := range e.nft.iptTables {
		if strings.HasPrefix(k, fam) {
			return true
		}
	}
	return false
}

func (e *NetNS) runEntry(hook string, ent *hookEntry, rs *iptables.Ruleset, o Outcome) []Outcome {
	switch {
	case ent.core:
		p := o.Packet
		if p.CtState != packet.CtNew || p.Untracked {
			// Not a first packet: nat chains are not consulted; conntrack undoes the
			// connection's translation on replies here instead.
			if p.Reply {
				o.Packet = reverseNAT(hook, p)
			}
			return []Outcome{o}
		}
		return e.runNAT(hook, ent.nat, rs, o)
	case ent.ipt != "":
		return e.iptResults(o, rs, rs.Chain(env{e}, ent.ipt, hook, o.Packet), hook)
	}
	return e.nftResults(hook, ent.chain, o)
}

// runNAT runs the nat chains in order until one sets up a translation for this hook's
// direction (destination at prerouting and output, source at input and postrouting).
func (e *NetNS) runNAT(hook string, chains []*hookEntry, rs *iptables.Ruleset, o Outcome) []Outcome {
	if len(chains) == 0 {
		return []Outcome{o}
	}
	ent := chains[0]
	var res []Outcome
	if ent.ipt != "" {
		res = e.iptResults(o, rs, rs.Chain(env{e}, "nat", hook, o.Packet), hook)
	} else {
		res = e.nftResults(hook, ent.chain, o)
	}
	var out []Outcome
	for _, r := range res {
		bound := r.Packet.DNATed && !o.Packet.DNATed
		if natPrio(hook) > 0 {
			bound = r.Packet.SNATed && !o.Packet.SNATed
		}
		if r.Kind != Deliver || bound {
			out = append(out, r)
			continue
		}
		out = append(out, e.runNAT(hook, chains[1:], rs, r)...)
	}
	return out
}

// iptResults turns an iptables traversal's results into outcomes.
func (e *NetNS) iptResults(o Outcome, rs *iptables.Ruleset, results []iptables.Result, name string) []Outcome {
	var out []Outcome
	for _, r := range results {
		n := o
		n.Packet = r.Packet
		n.Steps = append(append([]Step{}, o.Steps...), iptSteps(rs, r.Steps)...)
		n.Branches = append(append([]string{}, o.Branches...), r.Branches...)
		switch r.Verdict {
		case iptables.Drop:
			e.block(&n, Dropped, "", "dropped by iptables at "+name)
		case iptables.Reject:
			e.block(&n, Rejected, r.RejectWith, "rejected by iptables at "+name)
		case iptables.Unknown:
			if r.UnknownRule != nil {
				n.Steps = append(n.Steps, Step{What: "iptables " + r.UnknownRule.Table + "/" + r.UnknownRule.Chain, Action: "unknown", Pos: r.UnknownRule.Pos, Text: r.UnknownRule.Text, Note: r.Why, Packet: r.Packet})
			}
			e.block(&n, Unknown, "", r.Why)
		}
		out = append(out, n)
	}
	return out
}

// nftResults runs one nft base chain.
func (e *NetNS) nftResults(hook string, c *nft.Chain, o Outcome) []Outcome {
	var out []Outcome
	where := "nftables " + c.Table.Key() + "/" + c.Name
	for _, r := range nft.Run(nftEnv{e}, c, strings.ToLower(hook), o.Packet) {
		n := o
		n.Packet = r.Packet
		if r.Packet.Untracked && !o.Packet.Untracked && hook != "INGRESS" && (c.Prio >= prioConntrack || (hook != "PREROUTING" && hook != "OUTPUT")) {
			// Conntrack has already attached an entry: notrack changes nothing.
			n.Packet.Untracked = false
		}
		n.Steps = append(append([]Step{}, o.Steps...), nftSteps(r.Steps)...)
		n.Branches = append(append([]string{}, o.Branches...), r.Branches...)
		switch r.Outcome {
		case nft.Drop:
			e.block(&n, Dropped, "", "dropped by "+where+" at "+hook)
		case nft.Reject:
			e.block(&n, Rejected, r.RejectWith, "rejected by "+where+" at "+hook)
		case nft.Unknown:
			if u := r.UnknownRule; u != nil {
				n.Steps = append(n.Steps, Step{What: "nftables " + u.Chain.Table.Key() + "/" + u.Chain.Name, Action: "unknown", Pos: u.Pos, Text: u.Text(), Note: r.Why, Packet: r.Packet})
			}
			e.block(&n, Unknown, "", r.Why)
		}
		out = append(out, n)
	}
	return out
}

func nftSteps(steps []nft.Step) []Step {
	out := make([]Step, 0, len(steps))
	noEndpoints := ""
	for _, s := range steps {
		st := Step{What: "nftables " + s.Chain.Table.Key() + "/" + s.Chain.Name, Action: s.Action, Note: s.Note, Packet: s.Packet}
		// kube-proxy's nftables mode sends a Service without endpoints to its reject chain
		// through the no-endpoint maps, whose element names the Service: say so at the
		// reject, in the words of its iptables mode.
		if s.Rule != nil && s.Comment != "" && strings.Contains(s.Rule.Text(), "@no-endpoint-") {
			noEndpoints = s.Comment
		}
		if s.Action == "reject" && noEndpoints != "" {
			st.Note = fmt.Sprintf("--comment %q (an element of kube-proxy's no-endpoint map)", noEndpoints+" has no endpoints")
		}
		if s.Rule != nil {
			st.Pos, st.Text = s.Rule.Pos, s.Rule.Text()
		} else {
			st.Pos, st.Text = s.Chain.Pos, s.Chain.Text()
		}
		out = append(out, st)
	}
	return out
}

// reverseNAT applies conntrack's translation to a reply packet: at PREROUTING and OUTPUT
// the destination manipulation (undoing SNAT/MASQUERADE), at INPUT and POSTROUTING the
// source manipulation (undoing DNAT/REDIRECT).
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

// hook runs a netfilter hook: at PREROUTING first the ingress chains of the device the
// packet came in on (netdev and inet tables' `hook ingress device ...`), at POSTROUTING
// last the egress chains of the device it leaves by. A bridged frame is seen there on its
// bridge ports.
func (e *NetNS) hook(name string, o Outcome) []Outcome {
	switch {
	case name == "PREROUTING" && e.devChains("ingress") > 0:
		var out []Outcome
		dev := o.Packet.InIface
		if o.Packet.PhysIn != "" {
			dev = o.Packet.PhysIn
		}
		for _, r := range e.devHook("ingress", dev, o) {
			if r.Kind != Deliver {
				out = append(out, r)
				continue
			}
			out = append(out, e.ipHook(name, r)...)
		}
		return out
	case name == "POSTROUTING" && e.devChains("egress") > 0:
		var out []Outcome
		for _, r := range e.ipHook(name, o) {
			if r.Kind != Deliver {
				out = append(out, r)
				continue
			}
			dev := r.Packet.OutIface
			if r.Packet.PhysOut != "" {
				dev = r.Packet.PhysOut
			}
			out = append(out, e.devHook("egress", dev, r)...)
		}
		return out
	}
	return e.ipHook(name, o)
}

// devChains counts the native base chains at a device hook.
func (e *NetNS) devChains(hook string) int {
	if e.nft == nil {
		return 0
	}
	n := 0
	for _, t := range e.nft.native {
		for _, c := range t.Order {
			if c.Hook == hook {
				n++
			}
		}
	}
	return n
}

// devHook runs the ingress or egress chains attached to a device, by priority (the
// later-registered first at equal priorities).
func (e *NetNS) devHook(hook, dev string, o Outcome) []Outcome {
	var chains []*hookEntry
	for _, t := range e.nft.native {
		if t.Family != "netdev" && t.Family != "inet" {
			continue
		}
		for _, c := range t.Order {
			if c.Hook != hook {
				continue
			}
			if len(c.Device) == 0 {
				// nft before 1.0.7 leaves the device out of its JSON: the chain may be
				// on this device or not.
				chains = append(chains, &hookEntry{prio: c.Prio, chain: c, reg: [2]int{t.Handle, c.Handle}, ipt: "?"})
			}
			for _, d := range c.Device {
				if d == dev {
					chains = append(chains, &hookEntry{prio: c.Prio, chain: c, reg: [2]int{t.Handle, c.Handle}})
				}
			}
		}
	}
	sort.SliceStable(chains, func(i, j int) bool {
		a, b := chains[i], chains[j]
		if a.prio != b.prio {
			return a.prio < b.prio
		}
		return a.reg[0] > b.reg[0] || a.reg[0] == b.reg[0] && a.reg[1] > b.reg[1]
	})
	results := []Outcome{o}
	for _, ent := range chains {
		var next []Outcome
		for _, r := range results {
			if r.Kind != Deliver {
				next = append(next, r)
				continue
			}
			if ent.ipt != "?" {
				next = append(next, e.nftResults(strings.ToUpper(hook), ent.chain, r)...)
				continue
			}
			// Whether the chain is on dev is unknown: where it would change nothing that
			// does not matter; elsewhere the step is unknown.
			strict := *e
			strict.GoOn = false
			var changed *Outcome
			for _, x := range strict.nftResults(strings.ToUpper(hook), ent.chain, r) {
				if x.Kind != Deliver || x.Packet != r.Packet {
					changed = &x
					break
				}
			}
			if changed == nil {
				next = append(next, r)
				continue
			}
			c := ent.chain
			u := r
			u.Steps = append(append([]Step{}, r.Steps...), Step{What: "nftables " + c.Table.Key() + "/" + c.Name, Action: "unknown", Pos: c.Pos, Text: c.Text(), Packet: r.Packet,
				Note: "nft.json does not say which device this " + hook + " chain is on (nft before 1.0.7 leaves it out)"})
			e.block(&u, Unknown, "", fmt.Sprintf("%s chain %s/%s would change this packet's way (%s) if it is on %s, and nft.json does not name its device", hook, c.Table.Key(), c.Name, changed.Kind, dev))
			next = append(next, u)
		}
		results = next
	}
	return results
}
