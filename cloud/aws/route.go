package aws

import (
	"net/netip"
)

// RouteTableFor returns a subnet's route table: the one explicitly associated with it,
// else the VPC's main table.
func (x *Export) RouteTableFor(subnet, vpc string) (t *RouteTable, explicit bool) {
	for _, rt := range x.RouteTables {
		if contains(rt.Subnets, subnet) {
			return rt, true
		}
	}
	for _, rt := range x.RouteTables {
		if rt.Main && (vpc == "" || rt.VpcID == vpc) {
			return rt, false
		}
	}
	return nil, false
}

// Lookup picks the route for an address by longest prefix; a route to a managed prefix
// list counts with the longest of its entries that holds the address. unknown names a
// prefix list route that could not be judged for want of its entries.
func (x *Export) Lookup(t *RouteTable, a netip.Addr) (best *Route, unknown string) {
	if t.byDst != nil {
		return x.lookupIndexed(t, a)
	}
	bits := -1
	for i := range t.Routes {
		r := &t.Routes[i]
		l := -1
		switch {
		case r.Dst.IsValid():
			if r.Dst.Contains(a) {
				l = r.Dst.Bits()
			}
		case r.PrefixList != "":
			pl := x.PrefixLists[r.PrefixList]
			if pl == nil || !pl.HasEntries {
				unknown = "route to prefix list " + r.PrefixList + " (its entries are not exported)"
				continue
			}
			for _, c := range pl.CIDRs {
				if c.Contains(a) && c.Bits() > l {
					l = c.Bits()
				}
			}
		}
		if l > bits {
			best, bits = r, l
		}
	}
	return best, unknown
}

// index builds the table's lookup index (RouteTable.byDst).
func (t *RouteTable) index() {
	t.byDst = map[netip.Prefix]int{}
	t.lists = nil
	for i, r := range t.Routes {
		switch {
		case r.Dst.IsValid():
			if _, ok := t.byDst[r.Dst.Masked()]; !ok {
				t.byDst[r.Dst.Masked()] = i
			}
		case r.PrefixList != "":
			t.lists = append(t.lists, i)
		}
	}
}

// lookupIndexed is Lookup through the table's index, with the same answer: the route
// with the longest match, the first in the table among equally long ones.
func (x *Export) lookupIndexed(t *RouteTable, a netip.Addr) (best *Route, unknown string) {
	at, bits := -1, -1
	for b := a.BitLen(); b >= 0; b-- {
		p, err := a.Prefix(b)
		if err != nil {
			break
		}
		if i, ok := t.byDst[p]; ok {
			at, bits = i, b
			break
		}
	}
	for _, i := range t.lists {
		r := &t.Routes[i]
		pl := x.PrefixLists[r.PrefixList]
		if pl == nil || !pl.HasEntries {
			unknown = "route to prefix list " + r.PrefixList + " (its entries are not exported)"
			continue
		}
		l := -1
		for _, c := range pl.CIDRs {
			if c.Contains(a) && c.Bits() > l {
				l = c.Bits()
			}
		}
		if l >= 0 && (l > bits || (l == bits && i < at)) {
			at, bits = i, l
		}
	}
	if at < 0 {
		return nil, unknown
	}
	return &t.Routes[at], unknown
}

// DstLabel renders the route's destination: a CIDR or a prefix list.
func (r *Route) DstLabel() string {
	if r.Dst.IsValid() {
		return r.Dst.String()
	}
	return r.PrefixList
}

// Label renders the route: "10.244.2.0/24 -> eni-0abc (network interface)".
func (r *Route) Label() string {
	s := r.DstLabel() + " -> " + r.Target
	if r.Kind != TargetLocal {
		s += " (" + string(r.Kind) + ")"
	}
	if r.Blackhole {
		s += " blackhole"
	}
	return s
}

// ENI returns an interface by ID.
func (x *Export) ENI(id string) *ENI {
	if x.eniPos != nil {
		if i, ok := x.eniPos[id]; ok {
			return x.ENIs[i]
		}
		return nil
	}
	for _, n := range x.ENIs {
		if n.ID == id {
			return n
		}
	}
	return nil
}

// ENIWith returns the interface holding an address as its own.
func (x *Export) ENIWith(a netip.Addr) *ENI {
	if x.eniAt != nil {
		// The first interface in export order holding it: as one of its addresses or
		// within a delegated prefix.
		best := -1
		if l := x.eniAt[a]; len(l) > 0 {
			best = l[0]
		}
		for _, i := range x.prefixed {
			if best >= 0 && i > best {
				break
			}
			if x.ENIs[i].Holds(a) {
				best = i
				break
			}
		}
		if best < 0 {
			return nil
		}
		return x.ENIs[best]
	}
	for _, n := range x.ENIs {
		if n.Holds(a) {
			return n
		}
	}
	return nil
}

// PrimaryENI returns an instance's primary interface (device index 0).
func (x *Export) PrimaryENI(in *Instance) *ENI {
	var first *ENI
	for _, id := range in.ENIs {
		n := x.ENI(id)
		if n == nil {
			continue
		}
		if n.DeviceIndex == 0 {
			return n
		}
		if first == nil {
			first = n
		}
	}
	return first
}

// PublicOwner returns the interface and private address a public IP maps to.
func (x *Export) PublicOwner(pub netip.Addr) (*ENI, netip.Addr) {
	if x.publicAt != nil {
		i, ok := x.publicAt[pub]
		if !ok {
			return nil, netip.Addr{}
		}
		for priv, p := range x.ENIs[i].Public {
			if p == pub {
				return x.ENIs[i], priv
			}
		}
	}
	for _, n := range x.ENIs {
		for priv, p := range n.Public {
			if p == pub {
				return n, priv
			}
		}
	}
	return nil, netip.Addr{}
}
