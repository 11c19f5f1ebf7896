package azure

import (
	"fmt"
	"sort"
	"strings"

	"github.com/netsim/netsim/cloud"
)

var (
	_ cloud.CloudRanges     = (*Provider)(nil)
	_ cloud.CloudIdentifier = (*Provider)(nil)
)

// RoutedRanges lists the ranges the nodes' subnets route (FIELD-GUIDE row 24): their
// VNet's address space as Local (its system routes, next hop VnetLocal), each Connected
// peering's remote space (next hop VNetPeering), and the user-defined routes of the
// nodes' subnets' route tables that lead out of the VNet: a virtual network gateway (VPN,
// ExpressRoute), a virtual appliance that is not a cluster node, the internet for a
// specific range. Default routes (/0), None (drop) routes and the routes to the nodes
// (kubenet's per-node pod CIDR routes) are left out; BGP routes are not in the exports.
func (p *Provider) RoutedRanges() []cloud.RoutedRange {
	var out []cloud.RoutedRange
	seenVNet, seenTable := map[*VNet]bool{}, map[*RouteTable]bool{}
	names := make([]string, 0, len(p.nodeNIC))
	for n := range p.nodeNIC {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		nic := p.nodeNIC[name]
		c := nic.Primary()
		if c == nil {
			continue
		}
		s := p.subnetOf(c)
		if s == nil {
			continue
		}
		if v := s.VNet; v != nil && !seenVNet[v] {
			seenVNet[v] = true
			for _, r := range SystemRoutes(v) {
				switch r.Hop {
				case HopVnetLocal:
					out = append(out, cloud.RoutedRange{Prefix: r.Prefix, Local: true, Where: "the VNet " + v.Name, Object: "virtualnetwork/" + v.Name + " address space " + r.Prefix.String(), Pos: r.Pos})
				case HopPeering:
					out = append(out, cloud.RoutedRange{Prefix: r.Prefix, Where: "the peered VNet through " + r.Name, Object: "virtualnetwork/" + v.Name + " " + r.Name, Pos: r.Pos})
				}
			}
		}
		rt := p.X.routeTableOf(s)
		if rt == nil || seenTable[rt] {
			continue
		}
		seenTable[rt] = true
		for _, r := range rt.Routes {
			if !r.Prefix.IsValid() || r.Prefix.Bits() == 0 {
				continue
			}
			rr := cloud.RoutedRange{Prefix: r.Prefix, Object: "routetable/" + rt.Name + " route " + r.Name, Pos: r.Pos}
			switch r.Hop {
			case HopVnetLocal:
				rr.Local, rr.Where = true, "the VNet"
			case HopAppliance:
				if h := p.X.NICWith(r.HopIP); h != nil && p.nodeOf(h) != "" {
					continue
				}
				rr.Where = "the virtual appliance " + r.HopIP.String()
			case HopGateway:
				rr.Where = "the virtual network gateway (VPN or ExpressRoute)"
			case HopInternet:
				rr.Where = "the internet"
			default:
				continue // None drops: the range is routed nowhere
			}
			out = append(out, rr)
		}
	}
	return out
}

// CloudIdentity is what decides a node's traffic on Azure: its NIC's subnet (its route
// table and subnet NSG), the NIC's own NSG and application security groups, IP forwarding
// (row 5) and whether it has a public IP. ok is false for a node the exports do not map.
func (p *Provider) CloudIdentity(node string) (string, bool) {
	n := p.nodeNIC[node]
	if n == nil || n.Primary() == nil {
		return "", false
	}
	c := n.Primary()
	asgs := make([]string, 0, len(c.ASGs))
	for _, a := range c.ASGs {
		asgs = append(asgs, normID(a))
	}
	sort.Strings(asgs)
	return fmt.Sprintf("%s nsg=%s asg=%s forwarding=%v public=%v", normID(c.Subnet), normID(n.NSG), strings.Join(asgs, ","), n.IPForwarding, c.PublicIP != ""), true
}
