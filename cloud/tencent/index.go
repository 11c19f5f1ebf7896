package tencent

import (
	"net/netip"
	"sort"
)

// nicIndex holds the provider's lookups of interfaces and instances, built once by New,
// so that the decisions about one packet (and New itself) do not scan the account's
// every ENI or instance (issue 8: a trace must not grow with the cluster beyond what its
// path touches). Each answers what the scan it replaces answered: the first match in
// the order of p.nics or Export.Instances.
type nicIndex struct {
	nicAt   map[netip.Addr]*ENI      // private address -> first interface holding it
	primary map[string]*ENI          // instance ID -> its first primary interface
	inst    map[string]*Instance     // instance ID -> first instance
	instAt  map[netip.Addr]*Instance // private address -> first instance holding it
	public  map[netip.Addr]*ENI      // public address -> first interface mapping it
}

func newNICIndex() *nicIndex {
	return &nicIndex{nicAt: map[netip.Addr]*ENI{}, primary: map[string]*ENI{}, inst: map[string]*Instance{}, instAt: map[netip.Addr]*Instance{}, public: map[netip.Addr]*ENI{}}
}

// addNIC indexes an interface appended to p.nics.
func (ix *nicIndex) addNIC(e *ENI) {
	for _, a := range e.IPs {
		if ix.nicAt[a] == nil {
			ix.nicAt[a] = e
		}
	}
	for _, pub := range e.Public {
		if ix.public[pub] == nil {
			ix.public[pub] = e
		}
	}
	if e.Primary && ix.primary[e.InstanceID] == nil {
		ix.primary[e.InstanceID] = e
	}
}

func (ix *nicIndex) addInstance(in *Instance) {
	if ix.inst[in.ID] == nil {
		ix.inst[in.ID] = in
	}
	for _, a := range in.PrivateIPs {
		if ix.instAt[a] == nil {
			ix.instAt[a] = in
		}
	}
}

// exportIndex holds the export's lookups, built once by Parse: the interfaces and
// instances holding each private address (in export order), for a rule naming a
// security group as its peer, and each route table's routes by destination (places in
// the table), for a lookup. Nil for an Export built without Parse: lookups then scan.
type exportIndex struct {
	eniAt  map[netip.Addr][]*ENI
	instAt map[netip.Addr][]*Instance
	routes map[*RouteTable]map[netip.Prefix][]int
}

func (x *Export) buildIndex() {
	ix := &exportIndex{eniAt: map[netip.Addr][]*ENI{}, instAt: map[netip.Addr][]*Instance{}, routes: map[*RouteTable]map[netip.Prefix][]int{}}
	for _, n := range x.ENIs {
		for _, a := range n.IPs {
			ix.eniAt[a] = append(ix.eniAt[a], n)
		}
	}
	for _, in := range x.Instances {
		for _, a := range in.PrivateIPs {
			ix.instAt[a] = append(ix.instAt[a], in)
		}
	}
	for _, rt := range x.RouteTables {
		m := map[netip.Prefix][]int{}
		for i, r := range rt.Routes {
			if r.Dst.IsValid() {
				m[r.Dst.Masked()] = append(m[r.Dst.Masked()], i)
			}
		}
		ix.routes[rt] = m
	}
	x.idx = ix
}

// routesCovering is the table's routes whose destination holds dst, in table order.
func (x *Export) routesCovering(rt *RouteTable, dst netip.Addr) []*Route {
	if x.idx == nil || x.idx.routes[rt] == nil {
		return rt.Routes // Lookup checks Dst.Contains itself
	}
	m := x.idx.routes[rt]
	var at []int
	for b := dst.BitLen(); b >= 0; b-- {
		p, err := dst.Prefix(b)
		if err != nil {
			break
		}
		at = append(at, m[p]...)
	}
	sort.Ints(at)
	out := make([]*Route, len(at))
	for i, j := range at {
		out[i] = rt.Routes[j]
	}
	return out
}
