package diagnose

import (
	"fmt"
	"net/netip"
	"runtime"
	"sort"
	"sync"

	"github.com/netsim/netsim/model"
	"github.com/netsim/netsim/model/source"
	"github.com/netsim/netsim/policy"
)

// Options tune a diagnosis.
type Options struct {
	// Workers is how many nodes are read at once; 0 means one per core.
	Workers int
}

// run is one diagnosis: the cluster, what the checks share, and the findings so far.
type run struct {
	c        *model.Cluster
	podCIDRs []netip.Prefix // the cluster's pod ranges: the manifest's and every Node's
	// expects lists, per pod (namespace/name), the Service ports it is an endpoint for.
	expects map[string][]expect
	// podPorts are the (protocol, port) pairs pods serve: container ports and endpoint ports.
	podPorts map[protoPort]bool
	nodeIdx  map[string]int // Node object name -> index in c.Nodes
	cache    digestCache
	wantOnce sync.Once
	wanted   []*wantedPort

	mu           sync.Mutex
	findings     []Finding
	nodes        map[string]*nodeInfo // nodes with a dump, after the first pass
	enforcer     policy.Enforcer      // one whose chains a dump holds
	enforcerFile string
}

func nodeFilePos(file string, line int) source.Pos { return source.Pos{File: file, Line: line} }

// Run diagnoses a loaded bundle. A malformed node file stops it with an error naming the
// file and line, as a trace would.
func Run(c *model.Cluster, opts Options) (*Report, error) {
	r := &run{c: c, nodes: map[string]*nodeInfo{}, nodeIdx: map[string]int{}}
	r.prepare()
	// The API objects alone.
	r.checkServices()
	r.checkDNS()
	r.checkCIDRs()
	r.checkAPIAddresses()
	// Each node's dump, read one node at a time per worker and dropped once summarised.
	if err := r.scanNodes(opts.Workers); err != nil {
		return nil, err
	}
	// What needs every node's summary.
	idx := r.holders()
	r.checkGateways(idx)
	r.checkRPFilter(idx)
	r.checkDuplicateAddrs(idx)
	r.checkNeighbours(idx)
	r.checkPolicy()
	cloudNotes, err := r.checkCloud() // cloud.go: security groups, cloud routes, load balancers
	if err != nil {
		return nil, err
	}
	rep := &Report{SchemaVersion: SchemaVersion, Findings: r.findings, Notes: append(r.notes(), cloudNotes...)}
	if rep.Findings == nil {
		rep.Findings = []Finding{}
	}
	for i := range rep.Findings {
		if len(rep.Findings[i].Evidence) == 0 {
			return nil, fmt.Errorf("diagnose: finding %s has no evidence (a bug)", rep.Findings[i].Code)
		}
	}
	sortFindings(rep.Findings)
	return rep, nil
}

func (r *run) add(f Finding) {
	// The same object or line cited twice says nothing more.
	out := f.Evidence[:0:0]
	for _, e := range f.Evidence {
		dup := false
		for _, o := range out {
			dup = dup || o == e
		}
		if !dup {
			out = append(out, e)
		}
	}
	f.Evidence = out
	r.mu.Lock()
	r.findings = append(r.findings, f)
	r.mu.Unlock()
}

// prepare computes what several checks share, once.
func (r *run) prepare() {
	for _, s := range r.c.Manifest.PodCIDRs {
		if p, err := netip.ParsePrefix(s); err == nil {
			r.podCIDRs = append(r.podCIDRs, p.Masked())
		}
	}
	for i, n := range r.c.Nodes {
		r.nodeIdx[n.Name] = i
		for _, p := range n.PodCIDRs {
			if !coveredBy(p, r.podCIDRs) {
				r.podCIDRs = append(r.podCIDRs, p)
			}
		}
	}
	r.expects, r.podPorts = endpointExpectations(r.c)
}

// scanNodes reads every node with a dump, in parallel.
func (r *run) scanNodes(workers int) error {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	names := r.c.NodeDirs()
	jobs := make(chan string)
	errs := make([]error, len(names))
	idx := map[string]int{}
	for i, n := range names {
		idx[n] = i
	}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for name := range jobs {
				info, err := r.scanNode(name)
				if err != nil {
					errs[idx[name]] = err
					continue
				}
				r.mu.Lock()
				r.nodes[name] = info
				r.mu.Unlock()
			}
		}()
	}
	for _, n := range names {
		jobs <- n
	}
	close(jobs)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// notes say what the diagnosis could not look at.
func (r *run) notes() []string {
	var out, missing []string
	for _, n := range r.c.Nodes {
		if r.nodes[n.Name] == nil {
			missing = append(missing, n.Name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		out = append(out, fmt.Sprintf("%d node(s) have no dataplane dump, so their rules, routes and sysctls were not checked: %s", len(missing), listSome(missing, 10)))
	}
	return out
}

// coveredBy reports whether p lies inside one of the prefixes.
func coveredBy(p netip.Prefix, in []netip.Prefix) bool {
	for _, q := range in {
		if q.Bits() <= p.Bits() && q.Contains(p.Addr()) {
			return true
		}
	}
	return false
}

// inPodCIDR reports whether an address is in the cluster's pod ranges.
func (r *run) inPodCIDR(a netip.Addr) bool {
	for _, p := range r.podCIDRs {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
