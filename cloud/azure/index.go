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
