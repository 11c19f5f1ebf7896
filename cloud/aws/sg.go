package aws

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/netsim/netsim/rules/packet"
)

// Peer is the other end of a packet as a security group rule sees it: its address, and
// the groups it is known to carry beyond those of the interfaces holding that address
// (a load balancer's groups, for the address it sends from).
type Peer struct {
	Addr   netip.Addr
	Groups []string
}

// SGResult is a security group evaluation: the permission that admitted the packet, or
// none; Unknown names what could not be decided (a prefix list whose entries are not
// exported) when nothing else admitted it.
type SGResult struct {
	Allowed bool
	Group   *SecurityGroup
	Rule    *Permission
	Unknown string
}

// EvalGroups judges a packet against the union of an interface's groups: security
// groups only allow, and the packet passes if any rule of any group admits it. ingress
// selects the ingress rules (the peer is the source) or the egress rules (the peer is
// the destination). Group references match the peer's private addresses: an interface
// holding the peer's address must carry the group.
func (x *Export) EvalGroups(groups []GroupRef, ingress bool, p packet.Packet, peer Peer) SGResult {
	var unknown []string
	for _, gr := range groups {
		g := x.Groups[gr.ID]
		if g == nil {
			unknown = append(unknown, gr.ID+" is not in "+FileGroups)
			continue
		}
		perms := g.Egress
		if ingress {
			perms = g.Ingress
		}
		for i := range perms {
			pm := &perms[i]
			ok, unk := x.permits(pm, p, peer)
			if ok {
				return SGResult{Allowed: true, Group: g, Rule: pm}
			}
			if unk != "" {
				unknown = append(unknown, unk)
			}
		}
	}
	return SGResult{Unknown: strings.Join(unknown, "; ")}
}

// permits applies one permission; unknown is set when a prefix list it names has no
// exported entries.
func (x *Export) permits(pm *Permission, p packet.Packet, peer Peer) (ok bool, unknown string) {
	proto := protoNumber(pm.Protocol)
	if proto != -1 && proto != int(p.Proto) {
		return false, ""
	}
	if !portsMatch(proto, pm.From, pm.To, p) {
		return false, ""
	}
	for _, c := range pm.CIDRs {
		if c.Contains(peer.Addr) {
			return true, ""
		}
	}
	for _, g := range pm.Groups {
		if contains(peer.Groups, g) || x.carries(peer.Addr, g) {
			return true, ""
		}
	}
	for _, id := range pm.Lists {
		pl := x.PrefixLists[id]
		if pl == nil || !pl.HasEntries {
			unknown = fmt.Sprintf("rule %d names prefix list %s, whose entries are not exported (%s/%s.json)", pm.Index, id, DirPLEntries, id)
			continue
		}
		for _, c := range pl.CIDRs {
			if c.Contains(peer.Addr) {
				return true, ""
			}
		}
	}
	return false, unknown
}

// carries reports whether an interface holding the address as a private address carries
// the group.
func (x *Export) carries(a netip.Addr, group string) bool {
	has := func(n *ENI) bool {
		for _, g := range n.Groups {
			if g.ID == group {
				return true
			}
		}
		return false
	}
	if x.eniAt != nil {
		for _, i := range x.eniAt[a] {
			if has(x.ENIs[i]) {
				return true
			}
		}
		for _, i := range x.prefixed {
			if x.ENIs[i].Holds(a) && has(x.ENIs[i]) {
				return true
			}
		}
		return false
	}
	for _, n := range x.ENIs {
		if n.Holds(a) && has(n) {
			return true
		}
	}
	return false
}

// Label renders a permission: "TCP 30000-32767 from 0.0.0.0/0".
func (pm *Permission) Label(ingress bool) string {
	dir, word := "egress", "to"
	if ingress {
		dir, word = "ingress", "from"
	}
	var peers []string
	for _, c := range pm.CIDRs {
		peers = append(peers, c.String())
	}
	peers = append(peers, pm.Groups...)
	peers = append(peers, pm.Lists...)
	proto := protoNumber(pm.Protocol)
	_ = dir
	return fmt.Sprintf("%s%s %s %s", protoLabel(pm.Protocol), rangeLabel(proto, pm.From, pm.To), word, strings.Join(peers, ", "))
}

// groupNames renders groups as "sg-0abc (nodes), sg-0def".
func (x *Export) groupNames(groups []GroupRef) string {
	var out []string
	for _, g := range groups {
		name := g.Name
		if sg := x.Groups[g.ID]; sg != nil && name == "" {
			name = sg.Name
		}
		if name != "" {
			out = append(out, g.ID+" ("+name+")")
		} else {
			out = append(out, g.ID)
		}
	}
	if len(out) == 0 {
		return "no security group"
	}
	return strings.Join(out, ", ")
}
