package aws

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

// RoutedRanges lists the ranges the VPC's route tables route (FIELD-GUIDE row 24): the
// local routes (the VPC's CIDR blocks, one local route each) as Local, and every route
// whose target leads out of the VPC (a peering, a virtual private gateway, a transit
// gateway, a VPC endpoint, an appliance that is not a cluster node), a prefix-list route
// once per entry of its list. Default routes (/0) and routes to the cluster's own nodes
// (a host-gw pod CIDR to a node's interface) are left out: they overlap by design. Only
// the route tables of the nodes' VPCs are read (the exports may hold a peer VPC's too,
// whose own range is not the cluster's); all of them when no node is mapped.
func (p *Provider) RoutedRanges() []cloud.RoutedRange {
	var out []cloud.RoutedRange
	seenLocal := map[string]bool{}
	vpcs := map[string]bool{}
	for _, e := range p.nodeNIC {
		if e != nil {
			vpcs[e.VpcID] = true
		}
	}
	for _, rt := range p.X.RouteTables {
		if len(vpcs) > 0 && !vpcs[rt.VpcID] {
			continue
		}
		for i := range rt.Routes {
			r := &rt.Routes[i]
			obj := "routetable/" + rt.ID + " route " + r.DstLabel()
			if r.Kind == TargetLocal {
				k := rt.VpcID + " " + r.Dst.String()
				if r.Dst.IsValid() && !seenLocal[k] {
					seenLocal[k] = true
					out = append(out, cloud.RoutedRange{Prefix: r.Dst, Local: true, Where: "the VPC " + rt.VpcID, Object: obj, Pos: r.Pos})
				}
				continue
			}
			if p.toNode(r) {
				continue
			}
			where := p.where(rt, r)
			if r.Dst.IsValid() {
				if r.Dst.Bits() > 0 {
					out = append(out, cloud.RoutedRange{Prefix: r.Dst, Where: where, Object: obj, Pos: r.Pos})
				}
				continue
			}
			if pl := p.X.PrefixLists[r.PrefixList]; pl != nil {
				for _, c := range pl.CIDRs {
					if c.Bits() > 0 {
						out = append(out, cloud.RoutedRange{Prefix: c, Where: where + " (prefix list " + pl.ID + ")", Object: obj, Pos: r.Pos})
					}
				}
			}
		}
	}
	return out
}

// toNode reports whether a route's target is a cluster node's interface or instance.
func (p *Provider) toNode(r *Route) bool {
	switch r.Kind {
	case TargetInstance:
		return p.byInstance[r.Target] != ""
	case TargetENI:
		return p.nodeOf(p.X.ENI(r.Target)) != ""
	}
	return false
}

// where says where a route leads, for the finding.
func (p *Provider) where(rt *RouteTable, r *Route) string {
	s := string(r.Kind) + " " + r.Target
	if pc := p.X.Peerings[r.Target]; pc != nil {
		peer := pc.Accepter
		if peer == rt.VpcID {
			peer = pc.Requester
		}
		s = peer + " through " + s
	}
	if r.Blackhole {
		s += " (blackhole)"
	}
	return s
}

// CloudIdentity is what decides a node's traffic on AWS: its interface's VPC and subnet
// (its route table and network ACL), its security groups (a set: their rules are a
// union), its source/destination check (host-gw pod traffic, row 5) and whether it has a
// public address. ok is false for a node the exports do not map.
func (p *Provider) CloudIdentity(node string) (string, bool) {
	e := p.nodeNIC[node]
	if e == nil {
		return "", false
	}
	var groups []string
	for _, g := range e.Groups {
		groups = append(groups, g.ID)
	}
	sort.Strings(groups)
	return fmt.Sprintf("%s/%s %s src-dst-check=%v public=%v", e.VpcID, e.SubnetID, strings.Join(groups, ","), e.SourceDestCheck, len(e.Public) > 0), true
}
