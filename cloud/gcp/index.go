package gcp

import (
	"net/netip"
	"slices"
	"sort"
)

// index holds lookups built once by Parse, so that the decisions about one packet do
// not scan the project's every instance, route or firewall rule (issue 8: a trace must
// not grow with the cluster beyond what its path touches). Each lookup answers exactly
// what the scan it replaces answered, in the same export order; an Export built without
// Parse has none and scans.
type index struct {
	nics    []*NIC                     // every instance's interfaces, in export order
	ipAt    map[netip.Addr][]int       // primary internal IP -> places in nics
	aliasAt map[netip.Prefix][]int     // alias range (masked) -> places in nics
	byName  map[string][]*Instance     // instance name -> instances, in export order
	natAt   map[netip.Addr][]*Instance // external IP (accessConfigs natIP) -> instances, in export order
	routes  map[netip.Prefix][]*Route  // destination (masked) -> routes, in export order
	// The firewall rules (places in Export.Firewalls) that target every instance, and
	// those naming each target tag and target service account.
	fwAll   []int
	fwByTag map[string][]int
	fwBySA  map[string][]int
}

func (x *Export) buildIndex() {
	ix := &index{ipAt: map[netip.Addr][]int{}, aliasAt: map[netip.Prefix][]int{}, byName: map[string][]*Instance{}, natAt: map[netip.Addr][]*Instance{}}
	for _, in := range x.Instances {
		ix.byName[in.Name] = append(ix.byName[in.Name], in)
		for _, n := range in.NICs {
			if n.NatIP.IsValid() && (len(ix.natAt[n.NatIP]) == 0 || ix.natAt[n.NatIP][len(ix.natAt[n.NatIP])-1] != in) {
				ix.natAt[n.NatIP] = append(ix.natAt[n.NatIP], in)
			}
		}
		for _, n := range in.NICs {
			i := len(ix.nics)
			ix.nics = append(ix.nics, n)
			ix.ipAt[n.IP] = append(ix.ipAt[n.IP], i)
			for _, p := range n.Aliases {
				ix.aliasAt[p.Masked()] = append(ix.aliasAt[p.Masked()], i)
			}
		}
	}
	ix.routes = map[netip.Prefix][]*Route{}
	for _, r := range x.Routes {
		ix.routes[r.Dest.Masked()] = append(ix.routes[r.Dest.Masked()], r)
	}
	ix.fwByTag, ix.fwBySA = map[string][]int{}, map[string][]int{}
	for i, fw := range x.Firewalls {
		if len(fw.TargetTags) == 0 && len(fw.TargetSAs) == 0 {
			ix.fwAll = append(ix.fwAll, i)
		}
		for _, t := range fw.TargetTags {
			ix.fwByTag[t] = append(ix.fwByTag[t], i)
		}
		for _, sa := range fw.TargetSAs {
			ix.fwBySA[sa] = append(ix.fwBySA[sa], i)
		}
	}
	x.idx = ix
}

// firewallsFor is the firewall rules that may target the instance (Firewall.Targets),
// in Export.Firewalls' order, which Decide's tie-break between equal priorities keeps.
func (x *Export) firewallsFor(in *Instance) []*Firewall {
	if x.idx == nil {
		return x.Firewalls
	}
	at := append([]int(nil), x.idx.fwAll...)
	if in != nil {
		for _, t := range in.Tags {
			at = append(at, x.idx.fwByTag[t]...)
		}
		for _, sa := range in.SAs {
			at = append(at, x.idx.fwBySA[sa]...)
		}
	}
	sort.Ints(at)
	at = slices.Compact(at)
	out := make([]*Firewall, len(at))
	for i, j := range at {
		out[i] = x.Firewalls[j]
	}
	return out
}

// routesCovering is the routes whose destination holds a, longest prefix first and in
// export order within a length; Lookup's choice (longest prefix, then lowest priority,
// then the first) does not depend on the order across lengths.
func (x *Export) routesCovering(a netip.Addr) []*Route {
	if x.idx == nil {
		return x.Routes // Lookup checks Dest.Contains itself
	}
	var out []*Route
	for b := a.BitLen(); b >= 0; b-- {
		p, err := a.Prefix(b)
		if err != nil {
			break
		}
		out = append(out, x.idx.routes[p]...)
	}
	return out
}

// holding lists the places in nics of the interfaces holding a (NIC.Holds), ascending.
func (ix *index) holding(a netip.Addr) []int {
	out := append([]int(nil), ix.ipAt[a]...)
	for b := a.BitLen(); b >= 0; b-- {
		p, err := a.Prefix(b)
		if err != nil {
			break
		}
		out = append(out, ix.aliasAt[p]...)
	}
	sort.Ints(out)
	return slices.Compact(out) // an interface listed twice (its IP and an alias) counts once
}

// instanceNamed is the first instance of that name, else nil.
func (x *Export) instanceNamed(name string) *Instance {
	if x.idx != nil {
		if l := x.idx.byName[name]; len(l) > 0 {
			return l[0]
		}
		return nil
	}
	for _, in := range x.Instances {
		if in.Name == name {
			return in
		}
	}
	return nil
}

// instancesNamed is every instance of that name, in export order.
func (x *Export) instancesNamed(name string) []*Instance {
	if x.idx != nil {
		return x.idx.byName[name]
	}
	var out []*Instance
	for _, in := range x.Instances {
		if in.Name == name {
			out = append(out, in)
		}
	}
	return out
}

// nicsHolding is every interface holding a (NIC.Holds), in export order.
func (x *Export) nicsHolding(a netip.Addr) []*NIC {
	var out []*NIC
	if x.idx != nil {
		for _, i := range x.idx.holding(a) {
			out = append(out, x.idx.nics[i])
		}
		return out
	}
	for _, in := range x.Instances {
		for _, n := range in.NICs {
			if n.Holds(a) {
				out = append(out, n)
			}
		}
	}
	return out
}

// withExternalIP is the instances that may hold a as an interface's external IP, in
// export order (Inbound checks each interface itself).
func (x *Export) withExternalIP(a netip.Addr) []*Instance {
	if x.idx == nil {
		return x.Instances
	}
	return x.idx.natAt[a]
}
