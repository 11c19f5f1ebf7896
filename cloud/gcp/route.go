package gcp

import (
	"fmt"
	"net/netip"
)

// Lookup finds the route a packet from an interface to dst takes: among the routes of the
// interface's network that cover dst and apply to the instance (no tags, or one of its
// tags), the longest prefix, then the lowest priority number. The subnet routes are the
// ones `routes list` prints with nextHopNetwork; when none covers dst, the implied local
// routes are the subnetworks' ranges (primary and secondary) when subnets.json is
// exported, else taken from the instances' interfaces of that network (each primary IP
// as a /32 and its alias ranges).
func (x *Export) Lookup(nic *NIC, dst netip.Addr) *Route {
	var best *Route
	subnet := false
	better := func(r *Route) bool {
		return best == nil || r.Dest.Bits() > best.Dest.Bits() || (r.Dest.Bits() == best.Dest.Bits() && r.Priority < best.Priority)
	}
	for _, r := range x.routesCovering(dst) {
		if (r.Network != "" && nic.Network != "" && r.Network != nic.Network) || !r.Dest.Contains(dst) {
			continue
		}
		if len(r.Tags) > 0 && (nic.Inst == nil || !overlap(r.Tags, nic.Inst.Tags)) {
			continue
		}
		if r.Kind == HopNetwork && r.Hop == nic.Network {
			subnet = true
		}
		if better(r) {
			best = r
		}
	}
	if subnet {
		return best
	}
	if x.Has[FileSubnets] != "" {
		for _, sn := range x.Subnets {
			for _, p := range sn.Ranges {
				if sn.Network != nic.Network || !p.Contains(dst) {
					continue
				}
				r := &Route{Name: fmt.Sprintf("implied local route of subnetwork %s", sn.Name), Network: sn.Network, Dest: p, Kind: HopLocal, Hop: sn.Name, Pos: sn.Pos}
				if better(r) {
					best = r
				}
			}
		}
		return best
	}
	for _, n := range x.nicsHolding(dst) {
		if n.Network != nic.Network {
			continue
		}
		in := n.Inst
		p := netip.PrefixFrom(n.IP, n.IP.BitLen())
		for _, a := range n.Aliases {
			if a.Contains(dst) {
				p = a
			}
		}
		r := &Route{Name: fmt.Sprintf("implied local route of %s %s", in.Name, n.Name), Network: n.Network, Dest: p, Kind: HopLocal, Hop: in.Name, Pos: n.Pos}
		if better(r) {
			best = r
		}
	}
	return best
}

func (r *Route) String() string {
	s := fmt.Sprintf("%s priority %d next hop %s %s", r.Dest, r.Priority, r.Kind, r.Hop)
	if len(r.Tags) > 0 {
		s += fmt.Sprintf(" for tags %v", r.Tags)
	}
	return s
}
