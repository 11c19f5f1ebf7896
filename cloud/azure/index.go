package azure

import (
	"net/netip"

	"go4.org/netipx"
)

// vnetTag is the VirtualNetwork service tag of one VNet (Export.VirtualNetwork) as a set,
// built once by Parse: the tag holds a prefix per user-defined route, and kubenet
// clusters route each node's pod CIDR, so building the list for every rule an NSG
// evaluates would make each packet's cost grow with the cluster.
type vnetTag struct {
	set     *netipx.IPSet
	gateway bool
}

func (x *Export) indexVNetTags() {
	x.vnetTags = map[*VNet]*vnetTag{}
	for _, v := range x.VNets {
		ps, gw := x.VirtualNetwork(v)
		var b netipx.IPSetBuilder
		for _, p := range ps {
			b.AddPrefix(p)
		}
		set, err := b.IPSet()
		if err != nil {
			continue // left out: inTag computes the tag itself
		}
		x.vnetTags[v] = &vnetTag{set: set, gateway: gw}
	}
}

// inVirtualNetwork reports whether a is in the VNet's VirtualNetwork tag, and whether
// the VNet has a gateway.
func (x *Export) inVirtualNetwork(a netip.Addr, v *VNet) (in, gateway bool) {
	if t := x.vnetTags[v]; t != nil {
		return t.set.Contains(a), t.gateway
	}
	ps, gw := x.VirtualNetwork(v)
	for _, p := range ps {
		if p.Contains(a) {
			return true, gw
		}
	}
	return false, gw
}

// indexConfigs indexes the IP configurations by address: the first NIC in export
// order holding it, and that NIC's first configuration with it (NIC.Config).
func (x *Export) indexConfigs() {
	x.configAt = map[netip.Addr]*IPConfig{}
	for _, n := range x.NICs {
		for _, c := range n.IPConfigs {
			if _, ok := x.configAt[c.IP]; !ok {
				x.configAt[c.IP] = c
			}
		}
	}
}

// rtIndex is a route table's user-defined routes by destination (masked), in table
// order, and its first route to a service tag.
type rtIndex struct {
	byDst map[netip.Prefix][]*Route
	tag   *Route
}

func (x *Export) indexRouteTables() {
	x.rtIndex = map[*RouteTable]*rtIndex{}
	for _, rt := range x.RouteTables {
		ix := &rtIndex{byDst: map[netip.Prefix][]*Route{}}
		for _, u := range rt.Routes {
			switch {
			case u.Tag != "":
				if ix.tag == nil {
					ix.tag = u
				}
			case u.Prefix.IsValid():
				ix.byDst[u.Prefix.Masked()] = append(ix.byDst[u.Prefix.Masked()], u)
			}
		}
		x.rtIndex[rt] = ix
	}
}

// udrCandidates is Lookup's first step through the index: the route to a service tag
// that makes a public destination unknown (tag != nil), else the user-defined routes
// holding dst, longest prefix first and in table order within a length. ok is false
// when the table has no index.
func (x *Export) udrCandidates(rt *RouteTable, dst netip.Addr) (cands []*Route, tag *Route, ok bool) {
	ix := x.rtIndex[rt]
	if ix == nil {
		return nil, nil, false
	}
	if ix.tag != nil && publicAddr(dst) {
		return nil, ix.tag, true
	}
	for b := dst.BitLen(); b >= 0; b-- {
		p, err := dst.Prefix(b)
		if err != nil {
			break
		}
		cands = append(cands, ix.byDst[p]...)
	}
	return cands, nil, true
}
