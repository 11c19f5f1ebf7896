package tencent

import (
	"fmt"
	"net/netip"

	"github.com/netsim/netsim/cloud"
)

var (
	_ cloud.CloudRanges     = (*Provider)(nil)
	_ cloud.CloudIdentifier = (*Provider)(nil)
)

// RoutedRanges lists the ranges the nodes' VPC routes (FIELD-GUIDE row 24): its subnet
// CIDRs as Local, and every route that leads out of the VPC: a VPN or Direct Connect
// gateway, a peering connection, the CCN, a HAVIP, a CDC local gateway, a private NAT
// gateway, a CVM that is not a cluster node. Disabled routes (they route nothing), default
// routes (/0) and routes to the nodes (GlobalRouter's per-node pod CIDR routes) are left
// out.
func (p *Provider) RoutedRanges() []cloud.RoutedRange {
	vpcs := map[string]bool{}
	for _, n := range p.nodeNIC {
		if n != nil {
			vpcs[n.VpcID] = true
		}
	}
	mine := func(vpc string) bool { return len(vpcs) == 0 || vpcs[vpc] }
	var out []cloud.RoutedRange
	for _, s := range p.X.Subnets {
		if mine(s.VpcID) && s.Cidr.IsValid() {
			out = append(out, cloud.RoutedRange{Prefix: s.Cidr, Local: true, Where: "subnet " + s.ID + " of " + s.VpcID, Object: "subnet/" + s.ID, Pos: s.Pos})
		}
	}
	for _, t := range p.X.RouteTables {
		if !mine(t.VpcID) {
			continue
		}
		for _, r := range t.Routes {
			if !r.Enabled || !r.Dst.IsValid() || r.Dst.Bits() == 0 || r.Local || r.GatewayType == "LOCAL" {
				continue
			}
			rr := cloud.RoutedRange{Prefix: r.Dst, Object: "routetable/" + t.ID + " route " + r.Dst.String(), Pos: r.Pos}
			switch r.GatewayType {
			case "NORMAL_CVM", "CVM":
				var e *ENI
				if a, err := netip.ParseAddr(r.GatewayID); err == nil {
					e = p.nicWith(a)
				} else {
					e = p.primaryOf(r.GatewayID)
				}
				if p.nodeOf(e) != "" {
					continue
				}
				rr.Where = "the CVM " + r.GatewayID
			default:
				rr.Where = fmt.Sprintf("%s through %s %s", beyondOf(r.GatewayType), r.GatewayType, r.GatewayID)
			}
			out = append(out, rr)
		}
	}
	return out
}
