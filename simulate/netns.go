// Package simulate walks packets through the model. netns.go is the step inside one
// network namespace: netfilter hooks and routing in the kernel's order.
package simulate

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/netsim/netsim/model"
	"github.com/netsim/netsim/model/source"
	"github.com/netsim/netsim/rules/ipset"
	"github.com/netsim/netsim/rules/iptables"
	"github.com/netsim/netsim/rules/packet"
	"github.com/netsim/netsim/rules/routing"
)

// NetNS evaluates packets in one network namespace.
type NetNS struct {
	State  *model.NetNS
	Router *routing.Router
	IPT4   *iptables.Ruleset // nil when the dump has no iptables-save.txt
	IPT6   *iptables.Ruleset
	Sets   *ipset.Sets
	// nft is what nft.json holds: its native tables run at the hooks with iptables'
	// (hooks.go); nil without nft.json.
	nft *nftState
	// ipvs is what ipvs.txt holds: IPVS's stages run among the hooks (ipvs.go).
	ipvs *ipvsState

	// GoOn makes a drop, reject or undecidable step a Blocker of the outcome, after which
	// the packet goes on as if it had been allowed: a trace then shows every blocker on
	// the path, not only the first (fix one, see the next). Routing failures still stop.
	GoOn bool
	// Ports finds the bridge port that leads to an address (the walker's graph knows the
	// other ends of the ports). It is needed when br_netfilter bridges a packet that
	// PREROUTING DNATed to an address on the bridge it came from.
	Ports PortResolver
}

// PortResolver finds which port of a bridge leads to an address.
type PortResolver interface {
	PortFor(bridge string, dst netip.Addr) (port string, hairpin *bool, ok bool)
}

// Blocker is a step that would have stopped the packet, when GoOn let it continue.
type Blocker struct {
	Kind   OutcomeKind
	Reject string
	Why    string
	Step   int // index in Steps of the step that decided (-1: none)
	Packet packet.Packet
}

// block applies a drop, reject or unknown to an outcome: without GoOn it ends the
// outcome (and block reports true); with it, the blocker is recorded and the walk goes on.
func (e *NetNS) block(o *Outcome, kind OutcomeKind, reject, why string) bool {
	if !e.GoOn {
		o.Kind, o.Reject, o.Why = kind, reject, why
		return true
	}
	o.Blocked = append(append([]Blocker{}, o.Blocked...), Blocker{Kind: kind, Reject: reject, Why: why, Step: len(o.Steps) - 1, Packet: o.Packet})
	return false
}

// rpStep cites the rp_filter setting that decided (the device's or conf.all, whichever is
// larger, as the kernel takes).
func (e *NetNS) rpStep(iif, why string, p packet.Packet) Step {
	name := "net.ipv4.conf." + iif + ".rp_filter"
	all, _ := e.Router.Sysctl("net.ipv4.conf.all.rp_filter")
	dev, _ := e.Router.Sysctl(name)
	if all > dev {
		name = "net.ipv4.conf.all.rp_filter"
	}
	return e.sysctlStep(name, "drop", why, p)
}

// sysctlStep cites a setting.
func (e *NetNS) sysctlStep(name, action, note string, p packet.Packet) Step {
	st := Step{What: "sysctl", Action: action, Note: note, Packet: p}
	if s, ok := e.State.Sysctls.Get(name); ok {
		st.Pos, st.Text = s.Pos, name+" = "+s.Value
	} else {
		st.Text = name + " (not in the dump)"
	}
	return st
}

// NewNetNS parses a namespace's rule files (once) and indexes its routes.
func NewNetNS(ns *model.NetNS) (*NetNS, error) { return newNetNS(ns, nil) }

func newNetNS(ns *model.NetNS, cache *ruleCache) (*NetNS, error) {
	e := &NetNS{State: ns, Router: routing.New(ns.Routes, ns.Rules, ns.Links, ns.Sysctls)}
	var err error
	if f := ns.RuleFiles[model.IPTablesV4]; f != nil {
		if e.IPT4, err = cache.iptables(f, false); err != nil {
			return nil, err
		}
	}
	if f := ns.RuleFiles[model.IPTablesV6]; f != nil {
		if e.IPT6, err = cache.iptables(f, true); err != nil {
			return nil, err
		}
	}
	if f := ns.RuleFiles[model.IPSet]; f != nil {
		if e.Sets, err = ipset.Parse(f); err != nil {
			return nil, err
		}
	}
	if e.ipvs, err = loadIPVS(ns); err != nil { // IPVS (ipvs.go)
		return nil, err
	}
	if f := ns.RuleFiles[model.NFTables]; f != nil {
		if e.nft, err = loadNFT(f, cache, incompatibleTables(ns)); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// incompatibleTables are the tables iptables-save (nft backend) says it cannot show
// ("# Table `filter' is incompatible, use 'nft' tool."): nft wrote them, and nft.json is
// where they are read from.
func incompatibleTables(ns *model.NetNS) map[string]bool {
	out := map[string]bool{}
	for _, k := range []model.RuleFileKind{model.IPTablesV4, model.IPTablesV6} {
		f := ns.RuleFiles[k]
		if f == nil || !strings.Contains(string(f.Data), "is incompatible") {
			continue
		}
		f.Lines(func(_ int, line string) bool {
			if i := strings.Index(line, "# Table `"); i >= 0 && strings.Contains(line, "is incompatible") {
				name, _, _ := strings.Cut(line[i+len("# Table `"):], "'")
				out[name] = true
			}
			return true
		})
	}
	return out
}

// iptablesTables are the tables iptables-nft writes; their rules are read from
// iptables-save, which shows them in full.
var iptablesTables = map[string]bool{"filter": true, "nat": true, "mangle": true, "raw": true, "security": true}

// OutcomeKind is how a packet leaves a namespace.
type OutcomeKind int

// Outcome kinds.
const (
	Deliver  OutcomeKind = iota // to a local socket (INPUT accepted)
	Forward                     // out of a device, towards a next hop
	Dropped                     // silently
	Rejected                    // with an error sent back (Reject says which)
	NoRoute                     // no route, or a blackhole/unreachable/prohibit route
	Unknown                     // the data cannot decide
)

func (k OutcomeKind) String() string {
	return [...]string{"deliver", "forward", "drop", "reject", "no-route", "unknown"}[k]
}

// Step is one decision inside the namespace, with its source.
type Step struct {
	What   string     // "iptables nat/PREROUTING", "routing", "sysctl"
	Action string     // accept, drop, dnat, route, ...
	Pos    source.Pos // the rule, route or setting that decided
	Text   string     // that line's text
	Note   string
	Packet packet.Packet
}

// Outcome is one way a packet leaves the namespace.
type Outcome struct {
	Kind     OutcomeKind
	Packet   packet.Packet
	OutIface string
	NextHop  netip.Addr // invalid: the destination itself is on the link
	// Reject is the error sent back: an ICMP type name (REJECT's --reject-with, or
	// host-unreachable/net-unreachable/admin-prohibited for routes).
	Reject   string
	Steps    []Step
	Branches []string
	Why      string
	// Blocked lists the steps that would have stopped the packet before this outcome
	// (GoOn only), first first.
	Blocked []Blocker
}

// Env is the namespace as iptables' matches and NAT targets see it.
func (e *NetNS) Env() iptables.NATEnv { return env{e} }

// env adapts the namespace for iptables' matches and NAT.
type env struct{ e *NetNS }

var addrTypeBits = map[string]uint16{"LOCAL": iptables.AddrLocal, "BROADCAST": iptables.AddrBroadcast, "MULTICAST": iptables.AddrMulticast, "UNICAST": iptables.AddrUnicast}

func (v env) AddrType(a netip.Addr, iface string) uint16 {
	return addrTypeBits[v.e.Router.AddrType(a, iface)]
}

func (v env) SetMatch(name string, p *packet.Packet, dirs []string, rn bool) (iptables.Tri, string) {
	if v.e.Sets == nil {
		return iptables.Maybe, "the dump has no ipset.txt (ipset " + name + ")"
	}
	t, why := v.e.Sets.Match(name, p, dirs, rn)
	return [...]iptables.Tri{iptables.False, iptables.True, iptables.Maybe}[t], why
}

func (v env) RPFilter(p *packet.Packet, loose, validMark, acceptLocal bool) (iptables.Tri, string) {
	if v.e.Router.IsLocal(p.Src) && !acceptLocal {
		return iptables.False, ""
	}
	mark := uint32(0)
	if validMark {
		mark = p.Mark
	}
	back := v.e.Router.Lookup(routing.Query{Src: p.Dst, Dst: p.Src, Mark: mark})
	if back.Kind != routing.Unicast && back.Kind != routing.Local {
		return iptables.False, ""
	}
	if loose {
		return iptables.True, ""
	}
	for _, h := range back.Hops {
		if h.Dev == p.InIface {
			return iptables.True, ""
		}
	}
	return iptables.False, ""
}

func (v env) SourceFor(oif string, dst netip.Addr) (netip.Addr, bool) {
	d := v.e.Router.Lookup(routing.Query{Dst: dst})
	if d.Src.IsValid() && (oif == "" || len(d.Hops) > 0 && d.Hops[0].Dev == oif) {
		return d.Src, true
	}
	if l := v.e.State.Link(oif); l != nil {
		for _, a := range l.Addrs {
			if a.Prefix.Addr().Is6() == dst.Is6() && a.Scope != "link" {
				return a.Prefix.Addr(), true
			}
		}
	}
	return d.Src, d.Src.IsValid()
}

func (v env) SocketFor(p *packet.Packet, nowildcard bool) (found, known bool) {
	if !v.e.State.Has("sockets") {
		return false, false
	}
	proto := packet.ProtoName(p.Proto)
	for i := range v.e.State.Sockets {
		s := &v.e.State.Sockets[i]
		if s.Proto != proto {
			continue
		}
		if s.State == "ESTAB" && s.Local.Addr() == p.Dst && s.Local.Port() == p.DPort && s.Peer == p.SrcAP().String() {
			return true, true
		}
		if s.Accepts(proto, p.DstAP(), p.InIface) && (nowildcard || (!s.Local.Addr().IsUnspecified() && !s.DualStack)) {
			return true, true
		}
	}
	return false, true
}

func (v env) PrimaryAddr(iface string, ipv6 bool) (netip.Addr, bool) {
	if l := v.e.State.Link(iface); l != nil {
		for _, a := range l.Addrs {
			if a.Prefix.Addr().Is6() == ipv6 {
				return a.Prefix.Addr(), true
			}
		}
	}
	return netip.Addr{}, false
}

func (e *NetNS) rules(p packet.Packet) *iptables.Ruleset {
	if p.Is6() {
		return e.IPT6
	}
	return e.IPT4
}

// ipHook runs a netfilter hook; a namespace without a rules dump is a gap, not an accept.
// Where nft.json has base chains at the hook, they run with iptables' tables in one
// priority order (hooks.go). hook adds the device hooks (ingress, egress) around it.
func (e *NetNS) ipHook(name string, o Outcome) []Outcome {
	if o.Packet.Bridged && e.nft != nil && len(e.nft.bridge) > 0 {
		o.Steps = append(o.Steps, Step{What: "nftables bridge", Action: "unknown", Pos: e.nft.rs.Tables[0].Pos, Packet: o.Packet})
		if e.block(&o, Unknown, "", fmt.Sprintf("%s/nft.json has bridge-family tables (%s) with base chains, which netsim does not evaluate: the bridged packet's way cannot be decided", e.State.Dir, strings.Join(e.nft.bridge, ", "))) {
			return []Outcome{o}
		}
	}
	if outs, ok := e.ipvsHook(name, o); ok { // IPVS's stages among the chains (ipvs.go)
		return outs
	}
	rs := e.rules(o.Packet)
	if chains := e.nftChains(name, o.Packet.Is6()); len(chains) > 0 || e.nft != nil && e.natCore(nil, o.Packet.Is6()) {
		return e.mergedHook(name, o, rs, chains)
	}
	if rs == nil {
		file := "iptables-save.txt"
		if o.Packet.Is6() {
			file = "ip6tables-save.txt"
		}
		if e.block(&o, Unknown, "", fmt.Sprintf("%s: no %s in the dump, so the %s hook cannot be evaluated", e.State.Dir, file, name)) {
			return []Outcome{o}
		}
		return []Outcome{o}
	}
	return e.iptResults(o, rs, rs.Hook(env{e}, name, o.Packet), name)
}

func iptSteps(rs *iptables.Ruleset, steps []iptables.Step) []Step {
	var out []Step
	for _, s := range steps {
		st := Step{What: "iptables " + s.Table + "/" + s.Chain, Action: s.Action, Note: s.Note, Packet: s.Packet}
		if s.Rule != nil {
			st.Pos, st.Text = s.Rule.Pos, s.Rule.Text
		} else if t := rs.Tables[s.Table]; t != nil && t.Chains[s.Chain] != nil {
			st.Pos = t.Chains[s.Chain].Pos
			st.Text = ":" + s.Chain + " " + t.Chains[s.Chain].Policy
		}
		out = append(out, st)
	}
	return out
}

func routeStep(d routing.Decision, p packet.Packet) Step {
	st := Step{What: "routing", Action: d.Kind.String(), Packet: p, Note: d.Why}
	if d.Route != nil {
		st.Pos, st.Text = d.Route.Pos, d.Route.String()
	} else if d.Rule != nil {
		st.Pos, st.Text = d.Rule.Pos, d.Rule.String()
	}
	return st
}

// Arrive takes a packet that came in on iif through PREROUTING, routing, and INPUT or
// FORWARD and POSTROUTING.
func (e *NetNS) Arrive(p packet.Packet, iif string) []Outcome {
	p.InIface, p.OutIface = iif, ""
	p.PhysIn, p.PhysOut, p.Bridged = "", "", false
	return e.arrive(p, iif)
}

// ArriveBridge takes a packet that came into a bridge through one of its ports and is
// addressed (at layer 2) to the bridge itself: the host routes it. With br_netfilter on,
// PREROUTING sees the port as --physdev-in, and a packet that PREROUTING DNATs to an
// address behind the same bridge is bridged back out (which needs hairpin mode when that
// address is behind the port it came in on) instead of being routed.
func (e *NetNS) ArriveBridge(p packet.Packet, bridge, port string) []Outcome {
	p.InIface, p.OutIface = bridge, ""
	p.PhysIn, p.PhysOut, p.Bridged = "", "", false
	if on, _, _ := e.BridgeNetfilter(bridge, p.Is6()); on {
		p.PhysIn = port
	}
	return e.arrive(p, bridge)
}

func (e *NetNS) arrive(p packet.Packet, iif string) []Outcome {
	var out []Outcome
	for _, o := range e.hook("PREROUTING", Outcome{Packet: p}) {
		if o.Kind != Deliver {
			out = append(out, o)
			continue
		}
		out = append(out, e.routeInput(o, iif, p.Dst)...)
	}
	return out
}

// routeInput routes a packet that passed PREROUTING; arrivedFor is its destination
// before PREROUTING (DNAT, or conntrack undoing an SNAT, may have changed it).
func (e *NetNS) routeInput(o Outcome, iif string, arrivedFor netip.Addr) []Outcome {
	p := o.Packet
	d := e.Router.Lookup(routing.Query{Src: p.Src, Dst: p.Dst, Mark: p.Mark, IIf: iif, Proto: p.Proto, SPort: p.SPort, DPort: p.DPort})
	o.Steps = append(o.Steps, routeStep(d, p))
	if e.Router.IsLocal(p.Src) && d.Kind != routing.Local {
		if v, _ := e.Router.Sysctl("net.ipv4.conf." + iif + ".accept_local"); v != "1" {
			o.Steps = append(o.Steps, e.sysctlStep("net.ipv4.conf."+iif+".accept_local", "drop", "martian source", p))
			if e.block(&o, Dropped, "", "martian source: "+p.Src.String()+" is an address of this namespace (accept_local=0)") {
				return []Outcome{o}
			}
		}
	}
	if ok, why := e.Router.RPFilter(p.Src, p.Dst, iif, p.Mark); !ok {
		o.Steps = append(o.Steps, e.rpStep(iif, why, p))
		if e.block(&o, Dropped, "", why) {
			return []Outcome{o}
		}
	}
	switch d.Kind {
	case routing.Local:
		if p.Dst.IsLoopback() && iif != "lo" {
			if v, _ := e.Router.Sysctl("net.ipv4.conf." + iif + ".route_localnet"); v != "1" {
				if all, _ := e.Router.Sysctl("net.ipv4.conf.all.route_localnet"); all != "1" {
					o.Steps = append(o.Steps, e.sysctlStep("net.ipv4.conf."+iif+".route_localnet", "drop", "martian destination", p))
					if e.block(&o, Dropped, "", "martian destination: "+p.Dst.String()+" from "+iif+" (route_localnet=0)") {
						return []Outcome{o}
					}
				}
			}
		}
		return e.input(o)
	case routing.Unicast:
	case routing.Unknown:
		o.Kind, o.Why = Unknown, d.Why
		return []Outcome{o}
	}
	fwd, setting, known := e.Router.Forwarding(iif, p.Is6())
	if !known {
		if e.block(&o, Unknown, "", "the dump has no forwarding sysctl for "+iif) {
			return []Outcome{o}
		}
	} else if !fwd {
		// ip_error: with forwarding off on the input device no ICMP is sent.
		name, _, _ := strings.Cut(setting, " ")
		o.Steps = append(o.Steps, e.sysctlStep(name, "drop", "forwarding is off", p))
		if e.block(&o, Dropped, "", "forwarding is off on "+iif+" ("+setting+")") {
			return []Outcome{o}
		}
	}
	switch d.Kind {
	case routing.Blackhole:
		o.Kind, o.Why = NoRoute, "blackhole route"
		return []Outcome{o}
	case routing.Unreachable:
		o.Kind, o.Reject, o.Why = NoRoute, "icmp-host-unreachable", "unreachable route"
		return []Outcome{o}
	case routing.Prohibit:
		o.Kind, o.Reject, o.Why = NoRoute, "icmp-admin-prohibited", "prohibit route"
		return []Outcome{o}
	case routing.NoRoute:
		o.Kind, o.Reject, o.Why = NoRoute, "icmp-net-unreachable", d.Why
		return []Outcome{o}
	case routing.Broadcast, routing.Multicast:
		o.Kind, o.Why = Unknown, "broadcast and multicast forwarding are not modelled"
		return []Outcome{o}
	}
	if p.PhysIn != "" && len(d.Hops) == 1 && d.Hops[0].Dev == iif && p.Dst != arrivedFor && e.Ports != nil {
		return e.bridgedDNAT(o, iif, d.Hops[0])
	}
	var out []Outcome
	for _, h := range d.Hops {
		n := o
		n.Packet.OutIface = h.Dev
		n.NextHop = h.Gateway
		if len(d.Hops) > 1 {
			n.Branches = append(append([]string{}, o.Branches...), "multipath next hop "+h.Gateway.String()+" dev "+h.Dev)
		}
		for _, f := range e.hook("FORWARD", n) {
			if f.Kind != Deliver {
				out = append(out, f)
				continue
			}
			out = append(out, e.postrouting(f)...)
		}
	}
	return out
}

// bridgedDNAT is br_netfilter's bridged_dnat: PREROUTING changed the destination of a
// packet that came in through a bridge port, and the new destination is behind the same
// bridge. The frame is bridged, not routed: FORWARD and POSTROUTING see the bridge as
// both devices, and the bridge will not send it back out of the port it came in on
// unless that port is in hairpin mode.
func (e *NetNS) bridgedDNAT(o Outcome, bridge string, h routing.Hop) []Outcome {
	target := h.Gateway
	if !target.IsValid() {
		target = o.Packet.Dst
	}
	port, hairpin, ok := e.Ports.PortFor(bridge, target)
	o.Packet.OutIface, o.NextHop = bridge, h.Gateway
	if !ok {
		o.Kind, o.Reject, o.Why = NoRoute, "", "no port of "+bridge+" leads to "+target.String()+" (ARP for it fails)"
		return []Outcome{o}
	}
	o.Packet.PhysOut, o.Packet.Bridged = port, true
	if port == o.Packet.PhysIn {
		switch {
		case hairpin == nil:
			o.Steps = append(o.Steps, Step{What: "bridge " + bridge, Action: "unknown", Packet: o.Packet, Note: "hairpin mode of port " + port + " is not in the dump (ip -d link)"})
			if e.block(&o, Unknown, "", "the packet must leave "+bridge+" through the port it came in on ("+port+"), and the dump does not show that port's hairpin mode") {
				return []Outcome{o}
			}
		case !*hairpin:
			o.Steps = append(o.Steps, Step{What: "bridge " + bridge, Action: "drop", Packet: o.Packet, Note: "hairpin off on " + port})
			if e.block(&o, Dropped, "", "the Service sent the pod's packet back to the pod itself: bridge "+bridge+" does not send a frame out of the port it came in on ("+port+") unless hairpin mode is on") {
				return []Outcome{o}
			}
		default:
			o.Steps = append(o.Steps, Step{What: "bridge " + bridge, Action: "hairpin", Packet: o.Packet, Note: "hairpin on " + port})
		}
	} else {
		o.Steps = append(o.Steps, Step{What: "bridge " + bridge, Action: "bridge", Packet: o.Packet, Note: "br_netfilter bridges the DNATed packet from " + o.Packet.PhysIn + " to " + port})
	}
	var out []Outcome
	for _, f := range e.hook("FORWARD", o) {
		if f.Kind != Deliver {
			out = append(out, f)
			continue
		}
		for _, post := range e.hook("POSTROUTING", f) {
			if post.Kind == Deliver {
				post.Kind, post.OutIface = Forward, port
			}
			out = append(out, post)
		}
	}
	return out
}

func (e *NetNS) input(o Outcome) []Outcome {
	var out []Outcome
	for _, i := range e.hook("INPUT", o) {
		// Deliver is the zero Kind: an INPUT that accepts leaves it so.
		out = append(out, i)
	}
	return out
}

func (e *NetNS) postrouting(o Outcome) []Outcome {
	var out []Outcome
	for _, p := range e.hook("POSTROUTING", o) {
		if p.Kind == Deliver {
			p.Kind = Forward
			p.OutIface = p.Packet.OutIface
		}
		out = append(out, p)
	}
	return out
}

// Send takes a locally generated packet (Src may be unset: the kernel picks it) through
// routing, OUTPUT (rerouting when OUTPUT changed its destination or mark) and
// POSTROUTING; a packet to a local address comes back through INPUT.
func (e *NetNS) Send(p packet.Packet) []Outcome {
	d := e.Router.Lookup(routing.Query{Src: p.Src, Dst: p.Dst, Mark: p.Mark, Proto: p.Proto, SPort: p.SPort, DPort: p.DPort})
	o := Outcome{Packet: p}
	if !o.Packet.Src.IsValid() {
		o.Packet.Src = d.Src
	}
	o.Steps = append(o.Steps, routeStep(d, o.Packet))
	if bad, ok := e.localRouteFailure(d, o); !ok {
		return []Outcome{bad}
	}
	if d.Kind == routing.Local {
		o.Packet.OutIface = "lo"
	} else {
		o.Packet.OutIface = d.Hops[0].Dev
		o.NextHop = d.Hops[0].Gateway
	}
	var out []Outcome
	for _, n := range e.hook("OUTPUT", o) {
		if n.Kind != Deliver {
			out = append(out, n)
			continue
		}
		if n.Packet.Dst != p.Dst || n.Packet.Mark != p.Mark {
			// ip_route_me_harder: OUTPUT changed what routing depends on.
			d2 := e.Router.Lookup(routing.Query{Src: n.Packet.Src, Dst: n.Packet.Dst, Mark: n.Packet.Mark, Proto: p.Proto, SPort: p.SPort, DPort: p.DPort})
			n.Steps = append(n.Steps, routeStep(d2, n.Packet))
			if bad, ok := e.localRouteFailure(d2, n); !ok {
				out = append(out, bad)
				continue
			}
			d = d2
			if d.Kind == routing.Local {
				n.Packet.OutIface = "lo"
			} else {
				n.Packet.OutIface, n.NextHop = d.Hops[0].Dev, d.Hops[0].Gateway
			}
		}
		for _, post := range e.hook("POSTROUTING", n) {
			if post.Kind != Deliver {
				out = append(out, post)
				continue
			}
			if d.Kind == routing.Local {
				// Looped back: the packet now arrives on lo.
				post.Packet.InIface, post.Packet.OutIface = "lo", ""
				for _, pr := range e.hook("PREROUTING", post) {
					if pr.Kind != Deliver {
						out = append(out, pr)
						continue
					}
					out = append(out, e.input(pr)...)
				}
				continue
			}
			post.Kind, post.OutIface = Forward, post.Packet.OutIface
			out = append(out, post)
		}
	}
	return out
}

// localRouteFailure turns a failed lookup for a locally generated packet into its
// outcome (the sending program gets an error at once).
func (e *NetNS) localRouteFailure(d routing.Decision, o Outcome) (Outcome, bool) {
	switch d.Kind {
	case routing.Unicast, routing.Local:
		return o, true
	case routing.Unknown:
		o.Kind, o.Why = Unknown, d.Why
	case routing.Blackhole:
		o.Kind, o.Why = NoRoute, "blackhole route (the sender gets EINVAL)"
	case routing.Unreachable:
		o.Kind, o.Reject, o.Why = NoRoute, "icmp-host-unreachable", "unreachable route (the sender gets EHOSTUNREACH)"
	case routing.Prohibit:
		o.Kind, o.Reject, o.Why = NoRoute, "icmp-admin-prohibited", "prohibit route (the sender gets EACCES)"
	default:
		o.Kind, o.Reject, o.Why = NoRoute, "icmp-net-unreachable", "no route (the sender gets ENETUNREACH)"
	}
	return o, false
}

// BridgeNetfilter reports whether bridged IPv4 (or IPv6) traffic on a bridge passes
// iptables (br_netfilter): the namespace's net.bridge.bridge-nf-call-ip(6)tables. (A
// bridge's own nf_call_iptables option, which `ip -d` shows, is not read yet.) known is
// false when the dump does not have the setting.
func (e *NetNS) BridgeNetfilter(bridge string, ipv6 bool) (on bool, setting string, known bool) {
	name := "net.bridge.bridge-nf-call-iptables"
	if ipv6 {
		name = "net.bridge.bridge-nf-call-ip6tables"
	}
	if v, ok := e.Router.Sysctl(name); ok {
		return v == "1", name + " = " + v, true
	}
	return false, "", false
}

// Bridge takes a packet that a bridge forwards from one port to another. With
// br_netfilter on, it passes PREROUTING, FORWARD and POSTROUTING with the bridge as its
// devices and the ports as physdev; with it off, netfilter never sees it (which is how
// Service replies on one node escape conntrack's reverse NAT).
func (e *NetNS) Bridge(p packet.Packet, bridge, inPort, outPort string) []Outcome {
	p.InIface, p.OutIface, p.PhysIn, p.PhysOut, p.Bridged = bridge, "", inPort, outPort, true
	o := Outcome{Packet: p}
	on, setting, known := e.BridgeNetfilter(bridge, p.Is6())
	if !known {
		o.Kind, o.Why = Unknown, "the dump has no net.bridge.bridge-nf-call-iptables: whether iptables sees bridged traffic on "+bridge+" is unknown"
		return []Outcome{o}
	}
	o.Steps = append(o.Steps, Step{What: "sysctl", Action: "bridge", Text: setting, Packet: p,
		Note: map[bool]string{true: "bridged traffic passes iptables", false: "bridged traffic skips iptables"}[on]})
	if !on {
		o.Kind, o.OutIface = Forward, outPort
		return []Outcome{o}
	}
	var out []Outcome
	for _, pre := range e.hook("PREROUTING", o) {
		if pre.Kind != Deliver {
			out = append(out, pre)
			continue
		}
		pre.Packet.OutIface = bridge
		for _, f := range e.hook("FORWARD", pre) {
			if f.Kind != Deliver {
				out = append(out, f)
				continue
			}
			for _, post := range e.hook("POSTROUTING", f) {
				if post.Kind == Deliver {
					post.Kind, post.OutIface = Forward, outPort
				}
				out = append(out, post)
			}
		}
	}
	return out
}
