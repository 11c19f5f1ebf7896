// Package routing decides a packet's route as Linux does: policy rules by priority
// (selectors, fwmark with mask, iif/oif, not, goto, suppress_prefixlength, rule actions),
// then the longest prefix in the table a rule names, then the lowest metric; route types
// (unicast, local, broadcast, blackhole, unreachable, prohibit, throw); multipath; source
// address selection. What the sysctls change (forwarding, rp_filter, route_localnet,
// accept_local) is answered here too.
package routing

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"

	"github.com/netsim/netsim/model/iproute"
	"github.com/netsim/netsim/model/sysctl"
)

// Kind is a lookup's outcome.
type Kind int

// Outcomes of a route lookup.
const (
	Unicast     Kind = iota // forward (or send) out a device, maybe via a gateway
	Local                   // the address is this namespace's: deliver locally
	Broadcast               // a broadcast address of a local subnet
	Multicast               // a multicast route
	Blackhole               // dropped silently
	Unreachable             // dropped; ICMP host unreachable (EHOSTUNREACH)
	Prohibit                // dropped; ICMP administratively prohibited (EACCES)
	NoRoute                 // no rule found a route; ICMP net unreachable (ENETUNREACH)
	Unknown                 // depends on what the dump does not show
)

func (k Kind) String() string {
	return [...]string{"unicast", "local", "broadcast", "multicast", "blackhole", "unreachable", "prohibit", "no route", "unknown"}[k]
}

// Hop is one next hop of a route.
type Hop struct {
	Gateway netip.Addr // invalid: the destination is on the link
	Dev     string
	Weight  int
}

// Decision is the result of a lookup.
type Decision struct {
	Kind  Kind
	Route *iproute.Route // the route that decided, if any
	Rule  *iproute.Rule  // the policy rule that led to it
	Hops  []Hop          // one per next hop (multipath: several)
	// Src is the source address the kernel would pick for a locally generated packet.
	Src netip.Addr
	// Trail lists the rules and tables consulted, in order, for explanations.
	Trail []string
	Why   string
}

// Router is one namespace's routing state, indexed for lookups.
type Router struct {
	rules4, rules6 []*iproute.Rule
	tables         map[string][]*iproute.Route // by table name; both families
	// host and rest split each table for lpm: host routes (/32, /128) by address, the
	// others in table order. kube-proxy's ipvs mode puts one local host route per Service
	// address in the local table (10,000 Services: 10,000 routes to skip otherwise).
	host     map[string]map[netip.Addr][]*iproute.Route
	rest     map[string][]*iproute.Route
	links    []iproute.Link
	sysctls  sysctl.Table
	hasRules bool
}

// New indexes a namespace's routes, rules and links. With no rules dumped, the kernel's
// defaults (local, main, default) stand in.
func New(routes []iproute.Route, rules []iproute.Rule, links []iproute.Link, sc sysctl.Table) *Router {
	r := &Router{tables: map[string][]*iproute.Route{}, links: links, sysctls: sc, hasRules: len(rules) > 0}
	for i := range routes {
		rt := &routes[i]
		r.tables[rt.Table] = append(r.tables[rt.Table], rt)
	}
	for _, rs := range r.tables {
		// Longest prefix first, then lowest metric; stable keeps dump order for ties.
		sort.SliceStable(rs, func(i, j int) bool {
			if rs[i].Dst.Bits() != rs[j].Dst.Bits() {
				return rs[i].Dst.Bits() > rs[j].Dst.Bits()
			}
			return rs[i].Metric < rs[j].Metric
		})
	}
	r.host, r.rest = map[string]map[netip.Addr][]*iproute.Route{}, map[string][]*iproute.Route{}
	for name, rs := range r.tables {
		for _, rt := range rs {
			if rt.Dst.IsValid() && rt.Dst.Bits() == rt.Dst.Addr().BitLen() {
				if r.host[name] == nil {
					r.host[name] = map[netip.Addr][]*iproute.Route{}
				}
				r.host[name][rt.Dst.Addr()] = append(r.host[name][rt.Dst.Addr()], rt)
				continue
			}
			r.rest[name] = append(r.rest[name], rt)
		}
	}
	for i := range rules {
		ru := &rules[i]
		if ru.Family == 6 {
			r.rules6 = append(r.rules6, ru)
		} else {
			r.rules4 = append(r.rules4, ru)
		}
	}
	defaults := func(fam int) []*iproute.Rule {
		return []*iproute.Rule{
			{Priority: 0, Family: fam, Action: "lookup", Table: "local", SuppressPrefixLen: -1},
			{Priority: 32766, Family: fam, Action: "lookup", Table: "main", SuppressPrefixLen: -1},
			{Priority: 32767, Family: fam, Action: "lookup", Table: "default", SuppressPrefixLen: -1},
		}
	}
	if len(r.rules4) == 0 {
		r.rules4 = defaults(4)
	}
	if len(r.rules6) == 0 {
		r.rules6 = defaults(6)
	}
	for _, rs := range [][]*iproute.Rule{r.rules4, r.rules6} {
		sort.SliceStable(rs, func(i, j int) bool { return rs[i].Priority < rs[j].Priority })
	}
	return r
}

// Query is what a lookup is made for.
type Query struct {
	Src, Dst netip.Addr // Src may be invalid for a locally generated packet
	Mark     uint32
	// IIf is the device the packet came in on; "" for a locally generated packet (whose
	// iif rules match "lo").
	IIf string
	// OIf is the device a local socket is bound to, if any.
	OIf          string
	Proto        uint8
	SPort, DPort uint16
}

func (r *Router) link(name string) *iproute.Link {
	for i := range r.links {
		if r.links[i].Name == name {
			return &r.links[i]
		}
	}
	return nil
}

func ruleMatches(ru *iproute.Rule, q Query) bool {
	ok := true
	if ru.Src.IsValid() {
		ok = ok && q.Src.IsValid() && ru.Src.Contains(q.Src)
	}
	if ru.Dst.IsValid() {
		ok = ok && ru.Dst.Contains(q.Dst)
	}
	if ru.HasMark {
		ok = ok && q.Mark&ru.FwMask == ru.FwMark
	}
	if ru.IIf != "" {
		iif := q.IIf
		if iif == "" {
			iif = "lo"
		}
		ok = ok && iif == ru.IIf
	}
	if ru.OIf != "" {
		ok = ok && q.OIf == ru.OIf
	}
	if ru.IPProto != "" {
		ok = ok && protoMatches(ru.IPProto, q.Proto)
	}
	if ru.DPort != "" {
		ok = ok && portIn(ru.DPort, q.DPort)
	}
	if ru.SPort != "" {
		ok = ok && portIn(ru.SPort, q.SPort)
	}
	if ru.Not {
		return !ok
	}
	return ok
}

func protoMatches(name string, p uint8) bool {
	switch name {
	case "tcp":
		return p == 6
	case "udp":
		return p == 17
	case "icmp":
		return p == 1
	case "sctp":
		return p == 132
	}
	n, err := strconv.Atoi(name)
	return err == nil && n == int(p)
}

func portIn(spec string, port uint16) bool {
	var lo, hi int
	if _, err := fmt.Sscanf(spec, "%d-%d", &lo, &hi); err != nil {
		if _, err := fmt.Sscanf(spec, "%d", &lo); err != nil {
			return false
		}
		hi = lo
	}
	return int(port) >= lo && int(port) <= hi
}

// Lookup decides the route for a packet.
func (r *Router) Lookup(q Query) Decision {
	d := Decision{}
	rules := r.rules4
	if q.Dst.Is6() && !q.Dst.Is4In6() {
		rules = r.rules6
	}
	q.Dst = q.Dst.Unmap()
	for i := 0; i < len(rules); i++ {
		ru := rules[i]
		if ru.L3MDev {
			d.Trail = append(d.Trail, ru.String())
			return Decision{Kind: Unknown, Rule: ru, Trail: d.Trail, Why: "an l3mdev (VRF) rule: the VRF's table is not known from the dump"}
		}
		if !ruleMatches(ru, q) {
			continue
		}
		d.Trail = append(d.Trail, ru.String())
		switch ru.Action {
		case "blackhole":
			return Decision{Kind: Blackhole, Rule: ru, Trail: d.Trail}
		case "unreachable":
			return Decision{Kind: Unreachable, Rule: ru, Trail: d.Trail}
		case "prohibit":
			return Decision{Kind: Prohibit, Rule: ru, Trail: d.Trail}
		case "nop":
			continue
		case "goto":
			j := sort.Search(len(rules), func(k int) bool { return rules[k].Priority >= ru.Goto })
			if j <= i {
				return Decision{Kind: Unknown, Rule: ru, Trail: d.Trail, Why: "goto to an earlier rule"}
			}
			i = j - 1
			continue
		}
		rt := r.lpm(ru.Table, q.Dst)
		if rt == nil {
			continue
		}
		if ru.SuppressPrefixLen >= 0 && rt.Dst.Bits() <= ru.SuppressPrefixLen {
			d.Trail = append(d.Trail, "  suppressed: "+rt.String())
			continue
		}
		if rt.Type == "throw" {
			d.Trail = append(d.Trail, "  throw: "+rt.String())
			continue
		}
		d.Trail = append(d.Trail, "  "+rt.String())
		return r.decide(ru, rt, q, d.Trail)
	}
	return Decision{Kind: NoRoute, Trail: d.Trail, Why: "no rule's table has a route to " + q.Dst.String()}
}

// lpm finds the most specific route in a table, skipping dead routes and other families.
func (r *Router) lpm(table string, dst netip.Addr) *iproute.Route {
	// A host route for dst is longer than any other of its family: the host routes of
	// dst first (in table order), then the rest, as one scan of the sorted table would.
	if rt := firstLive(r.host[table][dst], dst); rt != nil {
		return rt
	}
	return firstLive(r.rest[table], dst)
}

func firstLive(routes []*iproute.Route, dst netip.Addr) *iproute.Route {
	for _, rt := range routes {
		if rt.Dst.Addr().Is6() != dst.Is6() || !rt.Dst.Contains(dst) {
			continue
		}
		dead := false
		for _, f := range rt.Flags {
			dead = dead || f == "dead"
		}
		if dead {
			continue
		}
		if rt.NHID != 0 {
			return rt // decide reports it as unknown
		}
		return rt
	}
	return nil
}

func (r *Router) decide(ru *iproute.Rule, rt *iproute.Route, q Query, trail []string) Decision {
	d := Decision{Rule: ru, Route: rt, Trail: trail}
	switch rt.Type {
	case "local":
		d.Kind = Local
		d.Hops = []Hop{{Dev: rt.Dev, Weight: 1}}
		d.Src = q.Dst
		return d
	case "broadcast":
		d.Kind = Broadcast
	case "multicast":
		d.Kind = Multicast
	case "blackhole":
		d.Kind = Blackhole
		return d
	case "unreachable":
		d.Kind = Unreachable
		return d
	case "prohibit":
		d.Kind = Prohibit
		return d
	case "unicast", "":
		d.Kind = Unicast
	default:
		return Decision{Kind: Unknown, Rule: ru, Route: rt, Trail: trail, Why: "route type " + rt.Type + " is not modelled"}
	}
	if rt.NHID != 0 {
		return Decision{Kind: Unknown, Rule: ru, Route: rt, Trail: trail, Why: fmt.Sprintf("the route's next hops are in nexthop object %d, which `ip route` does not show (attach `ip nexthop`)", rt.NHID)}
	}
	if len(rt.NextHops) > 0 {
		for _, nh := range rt.NextHops {
			d.Hops = append(d.Hops, Hop{Gateway: nh.Gateway, Dev: nh.Dev, Weight: nh.Weight})
		}
	} else {
		d.Hops = []Hop{{Gateway: rt.Gateway, Dev: rt.Dev, Weight: 1}}
	}
	d.Src = r.selectSource(rt, d.Hops[0], q.Dst)
	return d
}

// selectSource picks the source address for a locally generated packet: the route's
// prefsrc, else an address on the output device (one whose subnet holds the next hop
// first), else any global address of the family.
func (r *Router) selectSource(rt *iproute.Route, h Hop, dst netip.Addr) netip.Addr {
	if rt.PrefSrc.IsValid() {
		return rt.PrefSrc
	}
	target := h.Gateway
	if !target.IsValid() {
		target = dst
	}
	var first netip.Addr
	if l := r.link(h.Dev); l != nil {
		for _, a := range l.Addrs {
			ip := a.Prefix.Addr()
			if ip.Is6() != dst.Is6() || (dst.Is6() && ip.IsLinkLocalUnicast() && !dst.IsLinkLocalUnicast()) || hasFlag(a.Flags, "tentative") {
				continue
			}
			if a.Prefix.Masked().Contains(target) && !hasFlag(a.Flags, "secondary") {
				return ip
			}
			if !first.IsValid() && !hasFlag(a.Flags, "secondary") {
				first = ip
			}
		}
	}
	if first.IsValid() {
		return first
	}
	for _, l := range r.links {
		for _, a := range l.Addrs {
			ip := a.Prefix.Addr()
			if ip.Is6() == dst.Is6() && a.Scope == "global" {
				return ip
			}
		}
	}
	return netip.Addr{}
}

func hasFlag(fs []string, f string) bool {
	for _, x := range fs {
		if x == f {
			return true
		}
	}
	return false
}

// IsLocal reports whether an address is one of the namespace's own (in the local table).
func (r *Router) IsLocal(a netip.Addr) bool {
	a = a.Unmap()
	for _, rt := range r.host["local"][a] {
		if rt.Type == "local" {
			return true
		}
	}
	for _, rt := range r.rest["local"] {
		if rt.Type == "local" && rt.Dst.Contains(a) {
			return true
		}
	}
	return false
}

// AddrType is the type of an address in the local table (for -m addrtype): LOCAL,
// BROADCAST, MULTICAST or UNICAST; with iface set, LOCAL only for that device's addresses.
func (r *Router) AddrType(a netip.Addr, iface string) string {
	a = a.Unmap()
	if a.IsMulticast() {
		return "MULTICAST"
	}
	// The local table in its order: a's host routes come before every other route that
	// holds a (see lpm).
	for _, rs := range [2][]*iproute.Route{r.host["local"][a], r.rest["local"]} {
		for _, rt := range rs {
			if !rt.Dst.Contains(a) || (iface != "" && rt.Dev != iface) {
				continue
			}
			switch rt.Type {
			case "local":
				return "LOCAL"
			case "broadcast":
				return "BROADCAST"
			}
		}
	}
	if a.Is4() && a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return "BROADCAST"
	}
	return "UNICAST"
}

// Sysctl returns a net.* setting, and whether the dump has it.
func (r *Router) Sysctl(name string) (string, bool) {
	if r.sysctls == nil {
		return "", false
	}
	s, ok := r.sysctls[name]
	return s.Value, ok
}

// Forwarding reports whether packets arriving on iif are forwarded (IPv4: the device's
// conf.IIF.forwarding, which ip_forward sets for all; IPv6: conf.IIF.forwarding), and
// the setting that says so. known is false when the dump lacks it.
func (r *Router) Forwarding(iif string, ipv6 bool) (on bool, setting string, known bool) {
	fam := "ipv4"
	if ipv6 {
		fam = "ipv6"
	}
	for _, name := range []string{"net." + fam + ".conf." + iif + ".forwarding", "net.ipv4.ip_forward"} {
		if ipv6 && name == "net.ipv4.ip_forward" {
			name = "net.ipv6.conf.all.forwarding"
		}
		if v, ok := r.Sysctl(name); ok {
			return v == "1", name + " = " + v, true
		}
	}
	return false, "", false
}

// RPFilterMode is the effective rp_filter for packets arriving on iif: the larger of
// conf.all and conf.IIF (0 off, 1 strict, 2 loose), and whether the dump has it.
func (r *Router) RPFilterMode(iif string) (mode int, known bool) {
	all, ok1 := r.Sysctl("net.ipv4.conf.all.rp_filter")
	dev, ok2 := r.Sysctl("net.ipv4.conf." + iif + ".rp_filter")
	a, _ := strconv.Atoi(all)
	b, _ := strconv.Atoi(dev)
	if b > a {
		a = b
	}
	return a, ok1 || ok2
}

// RPFilter checks a packet arriving on iif against reverse-path filtering: strict wants
// the route back to the source to leave through iif, loose any route back.
func (r *Router) RPFilter(src, dst netip.Addr, iif string, mark uint32) (ok bool, why string) {
	mode, known := r.RPFilterMode(iif)
	if !known || mode == 0 || src.Is6() {
		return true, ""
	}
	// The kernel looks the source up as if sending to it from here (iif lo), with the
	// packet's mark only when src_valid_mark is set (fib_validate_source).
	if v, _ := r.Sysctl("net.ipv4.conf." + iif + ".src_valid_mark"); v != "1" {
		if all, _ := r.Sysctl("net.ipv4.conf.all.src_valid_mark"); all != "1" {
			mark = 0
		}
	}
	back := r.Lookup(Query{Src: dst, Dst: src, Mark: mark})
	switch {
	case back.Kind != Unicast && back.Kind != Local:
		return false, fmt.Sprintf("rp_filter=%d on %s: no route back to %s", mode, iif, src)
	case mode == 1:
		for _, h := range back.Hops {
			if h.Dev == iif {
				return true, ""
			}
		}
		return false, fmt.Sprintf("rp_filter=1 (strict) on %s: the route back to %s leaves through %s", iif, src, back.Hops[0].Dev)
	}
	return true, ""
}
