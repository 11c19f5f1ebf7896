package simulate

import (
	"runtime"
	"sync"

	"github.com/netsim/netsim/model"
	"github.com/netsim/netsim/model/source"
	"github.com/netsim/netsim/rules/iptables"
)

// ruleCache parses each rule file once, whoever asks first: the walk, or a prefetch
// running ahead of it on another core.
type ruleCache struct {
	m sync.Map // *source.File -> *parsed
}

type parsed struct {
	once sync.Once
	rs   *iptables.Ruleset
	err  error
}

func (c *ruleCache) iptables(f *source.File, ipv6 bool) (*iptables.Ruleset, error) {
	if c == nil {
		return iptables.Parse(f, ipv6)
	}
	v, _ := c.m.LoadOrStore(f, &parsed{})
	p := v.(*parsed)
	p.once.Do(func() { p.rs, p.err = iptables.Parse(f, ipv6) })
	return p.rs, p.err
}

// prefetch reads the dumps of nodes a trace is about to need and parses their hosts'
// rulesets in parallel (one per core), so that the walk, which is sequential, finds them
// ready. Which nodes: the API objects say — the source's node, the destination pod's, a
// Service's endpoints' nodes. A node the walk does not reach after all was read for nothing,
// which costs time but never changes an answer.
func (s *Simulator) prefetch(nodes []string) {
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	seen := map[string]bool{}
	for _, n := range nodes {
		if n == "" || seen[n] || !s.C.HasNodeState(n) {
			continue
		}
		seen[n] = true
		sem <- struct{}{}
		go func(n string) {
			defer func() { <-sem }()
			st, err := s.C.NodeState(n)
			if err != nil {
				return
			}
			if f := st.Host.RuleFiles[model.IPTablesV4]; f != nil {
				s.rules.iptables(f, false)
			}
		}(n)
	}
}

// nodesFor lists the nodes a query's paths will most likely cross, from the API objects.
func (s *Simulator) nodesFor(q Query) []string {
	out := []string{q.Src.Node}
	switch q.Dst.Kind {
	case PodEndpoint, NodeEndpoint:
		out = append(out, q.Dst.Node)
	case ServiceEndpoint:
		for _, sip := range s.C.ServicesByIP(q.Dst.Addr) {
			eps, _ := s.C.ServiceEndpoints(sip.Service)
			for _, e := range eps {
				if e.NodeName != "" {
					out = append(out, e.NodeName)
				} else if p := s.C.PodByIP(e.Addr); p != nil {
					out = append(out, p.Spec.NodeName)
				}
			}
		}
	}
	return out
}
