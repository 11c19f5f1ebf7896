package tencent

import "net/netip"

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
}

func newNICIndex() *nicIndex {
	return &nicIndex{nicAt: map[netip.Addr]*ENI{}, primary: map[string]*ENI{}, inst: map[string]*Instance{}, instAt: map[netip.Addr]*Instance{}}
}

// addNIC indexes an interface appended to p.nics.
func (ix *nicIndex) addNIC(e *ENI) {
	for _, a := range e.IPs {
		if ix.nicAt[a] == nil {
			ix.nicAt[a] = e
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
