package simulate

import (
	"github.com/netsim/netsim/cloud"
	"github.com/netsim/netsim/model"
)

// OpenCloud opens the bundle's cloud provider as the walk does (every provider registered
// in cloudOpeners), for analyses that judge cloud traffic without a walk (netsim
// diagnose). p is nil when the bundle has no exports netsim reads; unread names the
// provider directories under cloud/ that were not read: those netsim cannot read yet, and
// any beside p's (one provider judges a bundle: the first in name order). A malformed
// export is an error naming its file and line.
func OpenCloud(c *model.Cluster) (p cloud.Provider, unread []string, err error) {
	s := &Simulator{C: c}
	if err := s.openCloud(); err != nil {
		return nil, nil, err
	}
	return s.cloud.p, s.cloud.unread, nil
}

// UseCloud makes the simulator's walk judge cloud hops with a provider already opened
// (by OpenCloud, or a test's), instead of opening the bundle's exports again.
func (s *Simulator) UseCloud(p cloud.Provider) {
	s.cloud = cloudState{opened: true, p: p}
}
