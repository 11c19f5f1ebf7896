package nft

import (
	"fmt"

	"github.com/netsim/netsim/rules/packet"
)

// tri is a match's outcome: holds, does not, may (netsim cannot know: both ways are
// explored), or splits the traffic (numgen, jhash: each way is a path).
type tri uint8

const (
	tFalse tri = iota
	tTrue
	tMaybe
	tBranch
)

func (o *matchOp) eval(c *ctx) (tri, string, string) {
	if o.pat.set != nil {
		groups, v := lookup(c, o.key, o.pat.set)
		switch v.st {
		case sAbsent:
			return tFalse, "", ""
		case sUnknown:
			return tMaybe, v.why, ""
		}
		in, out := 0, 0
		for _, g := range groups {
			if g.elem >= 0 {
				in++
			} else {
				out++
			}
		}
		want := o.op != "!="
		switch {
		case out == 0:
			return boolTri(want), "", ""
		case in == 0:
			return boolTri(!want), "", ""
		}
		return tBranch, "", o.String()
	}
	if len(o.key) > 1 {
		hit := true
		for i, k := range o.key {
			v := k.eval(c)
			switch {
			case v.st == sAbsent:
				return tFalse, "", ""
			case v.st == sUnknown:
				return tMaybe, v.why, ""
			case v.multi != nil:
				return tMaybe, "a numgen or jhash inside a concatenation", ""
			}
			if !(cmp(v.v, o.pat.lo[i]) >= 0 && cmp(v.v, o.pat.hi[i]) <= 0) {
				hit = false
			}
		}
		if o.op == "!=" {
			hit = !hit
		}
		return boolTri(hit), "", ""
	}
	v := o.key[0].eval(c)
	switch v.st {
	case sAbsent:
		return tFalse, "", ""
	case sUnknown:
		return tMaybe, v.why, ""
	}
	if v.multi != nil {
		in, out := 0, 0
		for _, x := range v.multi {
			if o.test(x) {
				in++
			} else {
				out++
			}
		}
		switch {
		case out == 0:
			return tTrue, "", ""
		case in == 0:
			return tFalse, "", ""
		}
		return tBranch, "", o.String()
	}
	if v.known != 0 {
		// ct status: netsim knows some of the bits. `ct status dnat` tests one bit; an
		// exact comparison is decided only where the known bits already differ.
		pat := o.pat.hi[0].Num
		switch {
		case o.op == "in" && pat&^v.known == 0:
		case (o.op == "==" || o.op == "!=") && v.v.Num&v.known != pat&v.known:
			return boolTri(o.op == "!="), "", ""
		default:
			return tMaybe, o.key[0].String() + ": conntrack status bits netsim does not model", ""
		}
	}
	return boolTri(o.test(v.v)), "", ""
}

func boolTri(b bool) tri {
	if b {
		return tTrue
	}
	return tFalse
}

// test applies the operator to one known value.
func (o *matchOp) test(x Value) bool {
	lo, hi := o.pat.lo[0], o.pat.hi[0]
	t := o.pat.types[0]
	if x.Kind != lo.Kind {
		// An interface name against a number, an address against a port: never equal.
		return o.op == "!="
	}
	in := func() bool {
		if wildcard(lo) {
			return eq(x, lo)
		}
		return cmp(x, lo) >= 0 && cmp(x, hi) <= 0
	}
	switch o.op {
	case "==":
		return in()
	case "!=":
		return !in()
	case "<":
		return cmp(x, lo) < 0
	case ">":
		return cmp(x, hi) > 0
	case "<=":
		return cmp(x, hi) <= 0
	case ">=":
		return cmp(x, lo) >= 0
	case "in":
		if t.bitmask() && x.Kind == vNum {
			return x.Num&lo.Num != 0
		}
		return in()
	}
	return false
}

// rejectWith names the error REJECT would send, as iptables names it. A TCP reset
// applies to TCP only (nft adds that dependency itself).
func (o *rejectOp) rejectWith(p *packet.Packet, family string) (string, bool) {
	v6 := p.Is6()
	code := o.code
	switch o.typ {
	case "tcp reset":
		return "tcp-reset", p.Proto == packet.TCP
	case "icmp":
		if code == "" {
			code = "port-unreachable"
		}
		return "icmp-" + code, !v6
	case "icmpv6":
		return icmp6Names[code], v6
	case "", "icmpx":
		if code == "" {
			code = "port-unreachable"
		}
		if v6 {
			return icmp6Names[map[string]string{"no-route": "no-route", "port-unreachable": "port-unreachable", "host-unreachable": "addr-unreachable", "admin-prohibited": "admin-prohibited"}[code]], true
		}
		if o.typ == "" && family == "ip" || o.typ == "icmpx" || o.typ == "" {
			return map[string]string{"no-route": "icmp-net-unreachable", "port-unreachable": "icmp-port-unreachable",
				"host-unreachable": "icmp-host-unreachable", "admin-prohibited": "icmp-admin-prohibited"}[code], true
		}
	}
	return fmt.Sprintf("reject %s %s", o.typ, code), true
}

var icmp6Names = map[string]string{"no-route": "icmp6-no-route", "admin-prohibited": "icmp6-adm-prohibited", "addr-unreachable": "icmp6-addr-unreachable",
	"port-unreachable": "icmp6-port-unreachable", "policy-fail": "icmp6-policy-fail", "reject-route": "icmp6-reject-route", "": "icmp6-port-unreachable"}
