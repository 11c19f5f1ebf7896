package tencent

import (
	"fmt"
	"net/netip"
	"path"
	"strings"

	"github.com/netsim/netsim/rules/packet"
)

// Eval is the outcome of a packet against the security groups bound to an interface.
type Eval struct {
	// Policy is the first policy that matched, in binding order and PolicyIndex order;
	// nil when none did (the packet is denied) or the outcome is unknown.
	Policy *Policy
	// Unknown says why the outcome cannot be known (a policy that cannot be evaluated
	// before any that decides, a group whose policies are not exported); it names the file.
	Unknown string
	// Consulted counts the policies matched against, for the message of a deny.
	Consulted int
}

// EvalGroups judges a packet at an interface bound to groups (in binding order). Tencent
// Cloud evaluates an instance's security groups in their binding order (the first bound
// has the highest priority) and the policies of each group from the top (PolicyIndex 0)
// down: the first policy that matches the packet decides, ACCEPT or DROP; a packet no
// policy matches is dropped ("Security Group Overview: rule priorities"; an instance
// bound to several groups has them matched from top to bottom in that order). peer is
// the other side: the source for ingress, the destination for egress.
func (x *Export) EvalGroups(groups []string, ingress bool, pk packet.Packet, peer netip.Addr) Eval {
	var ev Eval
	for _, id := range groups {
		g := x.Groups[id]
		if g == nil {
			ev.Unknown = fmt.Sprintf("the policies of %s are not exported (%s)", id, path.Join(x.Dir, DirPolicies, id+".json"))
			return ev
		}
		ps := g.Egress
		if ingress {
			ps = g.Ingress
		}
		for _, p := range ps {
			ev.Consulted++
			ok, why := x.matches(p, pk, peer)
			if why != "" {
				ev.Unknown = fmt.Sprintf("%s policy %d (%s) comes first and cannot be evaluated: %s", id, p.Index, p.Label(), why)
				return ev
			}
			if ok {
				ev.Policy = p
				return ev
			}
		}
	}
	return ev
}

// matches reports whether a policy covers the packet and peer; why is set when that is
// not known (a template the exports lack).
func (x *Export) matches(p *Policy, pk packet.Packet, peer netip.Addr) (bool, string) {
	if p.SvcTmpl != "" {
		return false, fmt.Sprintf("it uses the service template %s, which netsim does not read", p.SvcTmpl)
	}
	if !p.covers(pk) {
		return false, ""
	}
	switch {
	case p.AddrTmpl != "":
		rs, ok := x.AddrTemplates[p.AddrTmpl]
		if !ok {
			file := FileAddrTemplates
			if strings.HasPrefix(p.AddrTmpl, "ipmg-") {
				file = FileAddrTmplGroups + " (and " + FileAddrTemplates + ")"
			}
			return false, fmt.Sprintf("its address template %s is not in %s", p.AddrTmpl, path.Join(x.Dir, file))
		}
		for _, r := range rs {
			if r.Contains(peer) {
				return true, ""
			}
		}
		return false, ""
	case p.RefSG != "":
		in, known := x.member(p.RefSG, peer)
		if !in && !known {
			return false, fmt.Sprintf("it admits the members of %s, and %s is not exported to tell whether %s is one", p.RefSG, path.Join(x.Dir, FileENIs), peer)
		}
		return in, ""
	}
	return p.Cidr.Contains(peer), ""
}

// member reports whether a is a private address of an instance or interface bound to
// group; known is false when it is not and the interfaces are not exported.
func (x *Export) member(group string, a netip.Addr) (in, known bool) {
	if x.idx != nil {
		for _, n := range x.idx.eniAt[a] {
			if contains(n.Groups, group) {
				return true, true
			}
		}
		for _, in := range x.idx.instAt[a] {
			if contains(in.Groups, group) {
				return true, true
			}
		}
		return false, x.Has[FileENIs] != ""
	}
	for _, n := range x.ENIs {
		if n.Holds(a) && contains(n.Groups, group) {
			return true, true
		}
	}
	for _, in := range x.Instances {
		for _, ip := range in.PrivateIPs {
			if ip == a && contains(in.Groups, group) {
				return true, true
			}
		}
	}
	return false, x.Has[FileENIs] != ""
}

func contains(ss []string, s string) bool {
	for _, t := range ss {
		if t == s {
			return true
		}
	}
	return false
}

// covers reports whether the policy's protocol and ports cover the packet (Port applies
// to TCP and UDP only; it names the destination port).
func (p *Policy) covers(pk packet.Packet) bool {
	switch p.Proto {
	case "ALL":
		return true
	case "ICMP":
		return pk.Proto == packet.ICMP
	case "ICMPV6":
		return pk.Proto == packet.ICMPv6
	case "GRE":
		return pk.Proto == 47
	case "TCP":
		if pk.Proto != packet.TCP {
			return false
		}
	case "UDP":
		if pk.Proto != packet.UDP {
			return false
		}
	default:
		return false
	}
	if p.AllPort {
		return true
	}
	for _, r := range p.Ports {
		if pk.DPort >= r.From && pk.DPort <= r.To {
			return true
		}
	}
	return false
}

// Label renders the policy as the console shows it: "ACCEPT TCP 30000-32767 from 0.0.0.0/0".
func (p *Policy) Label() string {
	act := "DROP"
	if p.Accept {
		act = "ACCEPT"
	}
	what := p.Proto
	if p.SvcTmpl != "" {
		what = "service template " + p.SvcTmpl
	} else if (p.Proto == "TCP" || p.Proto == "UDP") && !p.AllPort {
		what += " " + p.PortText
	} else if p.Proto != "ICMP" && p.Proto != "ICMPV6" && p.Proto != "GRE" {
		what += " ALL"
	}
	word := "to"
	if p.Ingress {
		word = "from"
	}
	peer := p.Cidr.String()
	switch {
	case p.AddrTmpl != "":
		peer = "address template " + p.AddrTmpl
	case p.RefSG != "":
		peer = "security group " + p.RefSG
	}
	return fmt.Sprintf("%s %s %s %s", act, what, word, peer)
}
