package alibaba

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

// RoutedRanges lists the ranges the nodes' VPC routes (FIELD-GUIDE row 24): its vSwitch
// CIDRs as Local (the system routes, when the vSwitches are not exported), and every
// route entry that leads out of the VPC: a router interface (Express Connect, a VBR), a
// VPC peer, a VPN gateway, a transit router attachment (CEN), a HaVip, an instance or ENI
// that is not a cluster node. Default routes (/0) and routes to the nodes (Flannel's
// per-node pod CIDR routes) are left out.
func (p *Provider) RoutedRanges() []cloud.RoutedRange {
	vpcs := map[string]bool{}
	for _, n := range p.nodeNIC {
		if n != nil {
			vpcs[n.VpcID] = true
		}
	}
	mine := func(vpc string) bool { return len(vpcs) == 0 || vpcs[vpc] }
	var out []cloud.RoutedRange
	ids := make([]string, 0, len(p.X.VSwitches))
	for id := range p.X.VSwitches {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		v := p.X.VSwitches[id]
		if mine(v.VpcID) && v.CIDR.IsValid() {
			out = append(out, cloud.RoutedRange{Prefix: v.CIDR, Local: true, Where: "vSwitch " + v.ID + " of " + v.VpcID, Object: "vswitch/" + v.ID, Pos: v.Pos})
		}
	}
	for _, t := range p.X.Tables {
		if !mine(t.VpcID) {
			continue
		}
		for _, r := range t.Entries {
			if !r.Dest.IsValid() || r.Dest.Bits() == 0 {
				continue
			}
			rr := cloud.RoutedRange{Prefix: r.Dest, Object: "routetable/" + t.ID + " route " + r.Dest.String(), Pos: r.Pos}
			switch r.HopType {
			case HopLocal:
				if len(p.X.VSwitches) > 0 {
					continue // cited at the vSwitch
				}
				rr.Local, rr.Where = true, "the VPC "+t.VpcID
			case HopInstance:
				if p.byInst[r.HopID] != "" {
					continue
				}
				rr.Where = "instance " + r.HopID
			case HopNetworkInterface:
				if p.nodeOf(p.nicByID(r.HopID)) != "" {
					continue
				}
				rr.Where = "ENI " + r.HopID
			default:
				rr.Where = fmt.Sprintf("%s through %s %s", beyondOf(r.HopType), r.HopType, r.HopID)
			}
			if !r.Available() {
				rr.Where += " (" + r.Status + ")"
			}
			out = append(out, rr)
		}
	}
	return out
}

// nicByID returns the interface with an ID, or nil.
func (p *Provider) nicByID(id string) *NIC {
	for _, n := range p.X.NICs {
		if n.ID == id {
			return n
		}
	}
	return nil
}

// CloudIdentity is what decides a node's traffic on Alibaba Cloud: its interface's VPC and
// vSwitch (the route table bound to it), its security groups (a set: the rules of all
// apply, by priority) and whether it has a public or elastic IP. ok is false for a node
// the exports do not map.
func (p *Provider) CloudIdentity(node string) (string, bool) {
	n := p.nodeNIC[node]
	if n == nil {
		return "", false
	}
	groups := append([]string(nil), n.Groups...)
	sort.Strings(groups)
	pub := len(n.Public) > 0
	if in := p.X.Instances[n.InstanceID]; in != nil && in.Public.IsValid() {
		pub = true
	}
	return fmt.Sprintf("%s/%s %s public=%v", n.VpcID, n.VSwitchID, strings.Join(groups, ","), pub), true
}
