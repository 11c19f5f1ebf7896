package gcp

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/netsim/netsim/cloud"
)

var (
	_ cloud.CloudRanges     = (*Provider)(nil)
	_ cloud.CloudIdentifier = (*Provider)(nil)
)

// RoutedRanges lists the ranges the nodes' VPC networks route (FIELD-GUIDE row 24): every
// subnet range (subnets.json) and subnet route of the network (nextHopNetwork) as Local,
// a secondary range, or one holding the interfaces' alias ranges, marked Pods (GKE's
// VPC-native pod and Service ranges); and every route that leads out of it: a peering
// (nextHopPeering, or a subnet route of another network), a VPN tunnel, an internal load
// balancer, an instance or address that is not a cluster node. Default routes (/0) and
// routes to the nodes (a routes-based cluster's pod ranges) are left out.
func (p *Provider) RoutedRanges() []cloud.RoutedRange {
	nets := map[string]bool{}
	var aliases []netip.Prefix
	for _, n := range p.nodeNIC {
		nets[n.Network] = true
		for _, a := range n.Aliases {
			if n.AliasRange[a] != "" {
				aliases = append(aliases, a)
			}
		}
	}
	mine := func(network string) bool { return len(nets) == 0 || nets[network] }
	holdsAlias := func(r netip.Prefix) bool {
		for _, a := range aliases {
			if r.Overlaps(a) && r.Bits() <= a.Bits() {
				return true
			}
		}
		return false
	}
	var out []cloud.RoutedRange
	local := map[netip.Prefix]bool{}
	for _, s := range p.X.Subnets {
		if !mine(s.Network) {
			continue
		}
		for i, r := range s.Ranges {
			obj, where := "subnetwork/"+s.Name, "subnetwork "+s.Name+" of network "+s.Network
			secondary := i < len(s.RangeNames) && s.RangeNames[i] != ""
			if secondary {
				obj += " secondary range " + s.RangeNames[i]
			}
			local[r] = true
			out = append(out, cloud.RoutedRange{Prefix: r, Local: true, Pods: secondary || holdsAlias(r), Where: where, Object: obj, Pos: s.Pos})
		}
	}
	for _, r := range p.X.Routes {
		if !mine(r.Network) || !r.Dest.IsValid() || r.Dest.Bits() == 0 {
			continue
		}
		rr := cloud.RoutedRange{Prefix: r.Dest, Object: "route/" + r.Name, Pos: r.Pos}
		switch r.Kind {
		case HopNetwork, HopLocal:
			if r.Hop != "" && r.Hop != r.Network && r.Kind == HopNetwork {
				rr.Where = "network " + r.Hop // a peered network's subnet route
				break
			}
			if local[r.Dest] {
				continue // the subnet's range, cited at subnets.json
			}
			rr.Local, rr.Pods, rr.Where = true, holdsAlias(r.Dest), "network "+r.Network
		case HopInstance:
			if p.nodeInstance(r.Hop) {
				continue
			}
			rr.Where = "instance " + r.Hop
		case HopIP:
			if a, err := netip.ParseAddr(r.Hop); err == nil {
				if h := p.X.NICWith(a); h != nil && p.byInst[h.Inst] != "" {
					continue
				}
			}
			rr.Where = "next hop " + r.Hop
		case HopPeering:
			rr.Where = "the peered network through peering " + r.Hop
		case HopVPN:
			rr.Where = "VPN tunnel " + r.Hop
		case HopILB:
			rr.Where = "internal load balancer " + r.Hop
		case HopGateway:
			rr.Where = "the internet gateway"
		default:
			rr.Where = r.Kind + " " + r.Hop
		}
		out = append(out, rr)
	}
	return out
}

// nodeInstance reports whether an instance name is a cluster node's.
func (p *Provider) nodeInstance(name string) bool {
	for in, node := range p.byInst {
		if in.Name == name && node != "" {
			return true
		}
	}
	return false
}

// CloudIdentity is what decides a node's traffic on GCP: its interface's network and
// subnetwork (routes apply per network), its network tags and service accounts (what
// firewall rules and tagged routes select), canIpForward (row 5) and whether it has an
// external IP. ok is false for a node the exports do not map.
func (p *Provider) CloudIdentity(node string) (string, bool) {
	n := p.nodeNIC[node]
	if n == nil || n.Inst == nil {
		return "", false
	}
	tags := append([]string(nil), n.Inst.Tags...)
	sas := append([]string(nil), n.Inst.SAs...)
	sort.Strings(tags)
	sort.Strings(sas)
	return fmt.Sprintf("%s/%s tags=%s sa=%s forward=%v external=%v", n.Network, n.Subnetwork, strings.Join(tags, ","), strings.Join(sas, ","), n.Inst.CanIPForward, n.NatIP.IsValid()), true
}
