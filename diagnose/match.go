package diagnose

import (
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/netsim/netsim/rules/iptables"
)

// match is the part of an iptables rule's conditions that can be compared exactly:
// addresses, protocol, ports and interfaces. Every other condition is kept as its
// canonical text, and is only ever known to be implied by the very same condition.
type match struct {
	src, dst addrCond
	proto    protoCond
	in, out  ifaceCond
	sport    portCond
	dport    portCond
	// other are the conditions that cannot be compared, as canonical text.
	other []string
	// notNew is set when a conntrack/state condition leaves out new connections: the rule
	// only sees packets of connections something else let through (or INVALID ones).
	notNew bool
}

type addrCond struct {
	set bool
	neg bool
	p   netip.Prefix
}

type protoCond struct {
	set  bool
	neg  bool
	name string // tcp, udp, sctp, icmp, or the number
}

type ifaceCond struct {
	set  bool
	neg  bool
	name string // as written; a trailing + matches every name with that prefix
}

// portCond is a set of ports: sorted, disjoint, inclusive ranges (a negated condition is
// stored as its complement).
type portCond struct {
	set    bool
	ranges [][2]int
}

// protoNames maps protocol numbers to the names iptables-save prints.
var protoNames = map[string]string{"6": "tcp", "17": "udp", "132": "sctp", "1": "icmp", "58": "ipv6-icmp", "icmpv6": "ipv6-icmp"}

// parseMatch reads a rule's conditions.
func parseMatch(r *iptables.Rule) match {
	var m match
	for _, c := range r.Conds {
		arg := ""
		if len(c.Args) > 0 {
			arg = c.Args[0]
		}
		switch {
		case c.Module == "" && (c.Option == "-s" || c.Option == "-d"):
			p, err := parsePrefix(arg)
			if err != nil {
				m.other = append(m.other, condText(c))
				continue
			}
			ac := addrCond{set: true, neg: c.Neg, p: p}
			if c.Option == "-s" {
				m.src = ac
			} else {
				m.dst = ac
			}
		case c.Module == "" && c.Option == "-p":
			name := strings.ToLower(arg)
			if n, ok := protoNames[name]; ok {
				name = n
			}
			if name == "all" || name == "0" {
				if c.Neg {
					m.other = append(m.other, condText(c)) // matches nothing
				}
				continue
			}
			m.proto = protoCond{set: true, neg: c.Neg, name: name}
		case c.Module == "" && (c.Option == "-i" || c.Option == "-o"):
			ic := ifaceCond{set: true, neg: c.Neg, name: arg}
			if c.Option == "-i" {
				m.in = ic
			} else {
				m.out = ic
			}
		case c.Module == "comment":
			// Comments match every packet.
		case (c.Module == "tcp" || c.Module == "udp" || c.Module == "sctp") && c.Option == "":
			// "-m tcp" alone adds nothing to "-p tcp".
		case (c.Module == "tcp" || c.Module == "udp" || c.Module == "sctp") && isPortOption(c.Option):
			pc, ok := parsePorts(arg, ":", c.Neg)
			if !ok {
				m.other = append(m.other, condText(c))
				continue
			}
			if c.Option == "--dport" || c.Option == "--destination-port" {
				m.dport = pc
			} else {
				m.sport = pc
			}
		case c.Module == "multiport" && (c.Option == "--dports" || c.Option == "--destination-ports" || c.Option == "--sports" || c.Option == "--source-ports"):
			pc, ok := parsePorts(arg, ",", c.Neg)
			if !ok {
				m.other = append(m.other, condText(c))
				continue
			}
			if c.Option == "--dports" || c.Option == "--destination-ports" {
				m.dport = pc
			} else {
				m.sport = pc
			}
		default:
			if (c.Module == "conntrack" && c.Option == "--ctstate") || (c.Module == "state" && c.Option == "--state") {
				states := strings.Split(strings.ToUpper(arg), ",")
				hasNew := false
				for _, s := range states {
					hasNew = hasNew || s == "NEW"
				}
				if hasNew == c.Neg {
					m.notNew = true
				}
			}
			m.other = append(m.other, condText(c))
		}
	}
	sort.Strings(m.other)
	return m
}

func isPortOption(o string) bool {
	switch o {
	case "--dport", "--destination-port", "--sport", "--source-port":
		return true
	}
	return false
}

// condText is a condition's canonical form: two conditions with the same text match the
// same packets.
func condText(c iptables.Cond) string {
	neg := ""
	if c.Neg {
		neg = "! "
	}
	return c.Module + "|" + neg + c.Option + " " + strings.Join(c.Args, " ")
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// parsePorts reads "80", "1000:2000", "1000:", ":2000" or a multiport list "22,80,8000:8080".
func parsePorts(s, listSep string, neg bool) (portCond, bool) {
	var rs [][2]int
	items := []string{s}
	if listSep == "," {
		items = strings.Split(s, ",")
	}
	for _, it := range items {
		lo, hi, isRange := strings.Cut(it, ":")
		a, b := 0, 65535
		var err error
		if lo != "" {
			if a, err = strconv.Atoi(lo); err != nil {
				return portCond{}, false
			}
		}
		if !isRange {
			b = a
		} else if hi != "" {
			if b, err = strconv.Atoi(hi); err != nil {
				return portCond{}, false
			}
		}
		if a > b || a < 0 || b > 65535 {
			return portCond{}, false
		}
		rs = append(rs, [2]int{a, b})
	}
	rs = normRanges(rs)
	if neg {
		rs = complement(rs)
	}
	return portCond{set: true, ranges: rs}, true
}

func normRanges(rs [][2]int) [][2]int {
	sort.Slice(rs, func(i, j int) bool { return rs[i][0] < rs[j][0] })
	var out [][2]int
	for _, r := range rs {
		if n := len(out); n > 0 && r[0] <= out[n-1][1]+1 {
			if r[1] > out[n-1][1] {
				out[n-1][1] = r[1]
			}
			continue
		}
		out = append(out, r)
	}
	return out
}

func complement(rs [][2]int) [][2]int {
	var out [][2]int
	next := 0
	for _, r := range rs {
		if r[0] > next {
			out = append(out, [2]int{next, r[0] - 1})
		}
		next = r[1] + 1
	}
	if next <= 65535 {
		out = append(out, [2]int{next, 65535})
	}
	return out
}

// contains reports whether port set a holds every port of b.
func (a portCond) containsAll(b portCond) bool {
	for _, r := range b.ranges {
		ok := false
		for _, q := range a.ranges {
			if q[0] <= r[0] && r[1] <= q[1] {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// has reports whether port p is in the set.
func (a portCond) has(p int) bool {
	for _, q := range a.ranges {
		if q[0] <= p && p <= q[1] {
			return true
		}
	}
	return false
}

// covers reports whether every packet that matches b also matches a.
func (a match) covers(b match) bool {
	return a.src.covers(b.src) && a.dst.covers(b.dst) && a.proto.covers(b.proto) &&
		a.in.covers(b.in) && a.out.covers(b.out) && a.sport.covers(b.sport) && a.dport.covers(b.dport) &&
		subset(a.other, b.other)
}

func (a addrCond) covers(b addrCond) bool {
	if !a.set || (!a.neg && a.p.Bits() == 0) {
		return true
	}
	if !b.set {
		return false
	}
	if a.p.Addr().Is4() != b.p.Addr().Is4() {
		return false
	}
	switch {
	case !a.neg && !b.neg: // b's prefix inside a's
		return a.p.Bits() <= b.p.Bits() && a.p.Contains(b.p.Addr())
	case a.neg && !b.neg: // b's prefix outside a's
		return !a.p.Overlaps(b.p)
	case a.neg && b.neg: // everything outside b is outside a: a's prefix inside b's
		return b.p.Bits() <= a.p.Bits() && b.p.Contains(a.p.Addr())
	}
	return false // a positive prefix never covers a negated one (short of /0)
}

func (a protoCond) covers(b protoCond) bool {
	if !a.set {
		return true
	}
	if !b.set {
		return false
	}
	switch {
	case a.neg == b.neg:
		return a.name == b.name
	case a.neg && !b.neg:
		return a.name != b.name
	}
	return false
}

func (a ifaceCond) covers(b ifaceCond) bool {
	if !a.set || (!a.neg && a.name == "+") {
		return true
	}
	if !b.set {
		return false
	}
	switch {
	case !a.neg && !b.neg:
		return ifaceWithin(b.name, a.name)
	case a.neg && !b.neg:
		return ifaceDisjoint(a.name, b.name)
	case a.neg && b.neg:
		return ifaceWithin(a.name, b.name)
	}
	return false
}

// ifaceWithin reports whether every name pattern p matches is matched by pattern q.
func ifaceWithin(p, q string) bool {
	if strings.HasSuffix(q, "+") {
		return strings.HasPrefix(strings.TrimSuffix(p, "+"), strings.TrimSuffix(q, "+"))
	}
	return p == q
}

// ifaceDisjoint reports whether no name matches both patterns.
func ifaceDisjoint(p, q string) bool {
	pw, qw := strings.HasSuffix(p, "+"), strings.HasSuffix(q, "+")
	ps, qs := strings.TrimSuffix(p, "+"), strings.TrimSuffix(q, "+")
	switch {
	case pw && qw:
		return !strings.HasPrefix(ps, qs) && !strings.HasPrefix(qs, ps)
	case pw:
		return !strings.HasPrefix(qs, ps)
	case qw:
		return !strings.HasPrefix(ps, qs)
	}
	return p != q
}

// ifaceMatches reports whether a device name matches a pattern.
func ifaceMatches(pattern, name string) bool {
	if strings.HasSuffix(pattern, "+") {
		return strings.HasPrefix(name, strings.TrimSuffix(pattern, "+"))
	}
	return pattern == name
}

func (a portCond) covers(b portCond) bool {
	if !a.set {
		return true
	}
	if !b.set {
		return false
	}
	return a.containsAll(b)
}

// subset reports whether every element of a (sorted) is in b (sorted).
func subset(a, b []string) bool {
	j := 0
	for _, x := range a {
		for j < len(b) && b[j] < x {
			j++
		}
		if j == len(b) || b[j] != x {
			return false
		}
		j++
	}
	return true
}

// terminal reports whether a target ends the packet's walk through the chain.
func terminal(t iptables.Target) bool {
	switch t.Kind {
	case iptables.TAccept, iptables.TDrop, iptables.TReject, iptables.TReturn:
		return true
	}
	return false
}
