package alibaba

import "net/netip"

// index holds lookups built once by Parse, so that the decisions about one packet do
// not scan the account's every ENI or route entry (issue 8: a trace must not grow with
// the cluster beyond what its path touches). Each answers what the scan it replaces
// answered, in export order; an Export built without Parse has none and scans.
type index struct {
	nicAt    map[netip.Addr][]int // private address -> places in Export.NICs
	prefixed []int                // places of the ENIs with delegated prefixes, ascending
	byInst   map[string][]int     // instance ID -> places of its ENIs
	public   map[netip.Addr]int   // public IP or EIP -> place of the first ENI mapping it
	// entries is, per route table, the first entry to each destination (masked).
	entries map[*RouteTable]map[netip.Prefix]*RouteEntry
}

func (x *Export) buildIndex() {
	ix := &index{nicAt: map[netip.Addr][]int{}, byInst: map[string][]int{}, public: map[netip.Addr]int{}}
	for i, n := range x.NICs {
		for _, pub := range n.Public {
			if _, ok := ix.public[pub]; !ok {
				ix.public[pub] = i
			}
		}
		for _, a := range n.IPs {
			if l := ix.nicAt[a]; len(l) == 0 || l[len(l)-1] != i {
				ix.nicAt[a] = append(l, i)
			}
		}
		if len(n.Prefixes) > 0 {
			ix.prefixed = append(ix.prefixed, i)
		}
		ix.byInst[n.InstanceID] = append(ix.byInst[n.InstanceID], i)
	}
	ix.entries = map[*RouteTable]map[netip.Prefix]*RouteEntry{}
	for _, t := range x.Tables {
		m := map[netip.Prefix]*RouteEntry{}
		for _, r := range t.Entries {
			if _, ok := m[r.Dest.Masked()]; !ok && r.Dest.IsValid() {
				m[r.Dest.Masked()] = r
			}
		}
		ix.entries[t] = m
	}
	x.idx = ix
}

// longestEntry is the table's entry with the longest destination holding a, the first
// of equally long ones (Lookup's first step); ok is false when the table has no index.
func (x *Export) longestEntry(t *RouteTable, a netip.Addr) (best *RouteEntry, ok bool) {
	if x.idx == nil || x.idx.entries[t] == nil {
		return nil, false
	}
	m := x.idx.entries[t]
	for b := a.BitLen(); b >= 0; b-- {
		p, err := a.Prefix(b)
		if err != nil {
			break
		}
		if r := m[p]; r != nil {
			return r, true
		}
	}
	return nil, true
}

// nicWith is NICWith through the index: the first ENI in export order holding a, as
// one of its addresses or within a delegated prefix.
func (ix *index) nicWith(x *Export, a netip.Addr) *NIC {
	best := -1
	if l := ix.nicAt[a]; len(l) > 0 {
		best = l[0]
	}
	for _, i := range ix.prefixed {
		if best >= 0 && i > best {
			break
		}
		if x.NICs[i].Holds(a) {
			best = i
			break
		}
	}
	if best < 0 {
		return nil
	}
	return x.NICs[best]
}

// nicsOf is the instance's ENIs in export order.
func (x *Export) nicsOf(id string) []*NIC {
	if x.idx != nil {
		out := make([]*NIC, 0, len(x.idx.byInst[id]))
		for _, i := range x.idx.byInst[id] {
			out = append(out, x.NICs[i])
		}
		return out
	}
	var out []*NIC
	for _, n := range x.NICs {
		if n.InstanceID == id {
			out = append(out, n)
		}
	}
	return out
}
