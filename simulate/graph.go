package simulate

import (
	"net/netip"
	"sort"
	"strings"

	"gonum.org/v1/gonum/graph"
	"gonum.org/v1/gonum/graph/simple"

	"github.com/netsim/netsim/model"
	"github.com/netsim/netsim/model/iproute"
)

// Graph is the cluster's wiring as far as a walk has needed it: network namespaces, their
// devices, veth pairs, bridges and their ports, tunnels, the underlay that joins the nodes,
// and the outside. It is built from the bundle one node at a time, the first time a walk
// reaches that node, so a trace reads only the nodes its path touches.
type Graph struct {
	c *model.Cluster
	g *simple.UndirectedGraph

	spaces  map[string]*Space // by key: "node1/host", "node1/pod/default/web"
	devices map[devKey]*Device
	nodes   map[string]*nodeEntry // nodes read so far (nil entry: no dump)
	rules   *ruleCache

	// Underlay is the network the nodes' own addresses are on (a cloud VPC, a switch);
	// Outside is everything the bundle does not show. Later issues hang the cloud
	// fabric (security groups, route tables, NAT, load balancers) on them.
	Underlay, Outside *Segment
	nextID            int64
}

type nodeEntry struct {
	state *model.NodeState
	err   error
}

type devKey struct{ space, dev string }

// Space is a network namespace in the graph.
type Space struct {
	id    int64
	Node  string // the node it is on
	Name  string // "host" or "pod/NS/NAME"
	State *model.NetNS
	Pod   *model.Pod // for a pod's namespace
	eng   *NetNS
	err   error
	rules *ruleCache
}

// ID implements graph.Node.
func (s *Space) ID() int64 { return s.id }

// Key names the namespace uniquely in the cluster.
func (s *Space) Key() string { return s.Node + "/" + s.Name }

// Device is a network device in a namespace.
type Device struct {
	id    int64
	Space *Space
	Link  *iproute.Link
}

// ID implements graph.Node.
func (d *Device) ID() int64 { return d.id }

func (d *Device) String() string { return d.Space.Key() + " dev " + d.Link.Name }

// Segment is a network outside any dumped namespace: the underlay, or the outside.
type Segment struct {
	id   int64
	Name string
}

// ID implements graph.Node.
func (s *Segment) ID() int64 { return s.id }

// NewGraph starts an empty graph over a cluster.
func NewGraph(c *model.Cluster) *Graph {
	g := &Graph{c: c, g: simple.NewUndirectedGraph(), spaces: map[string]*Space{}, devices: map[devKey]*Device{}, nodes: map[string]*nodeEntry{}, rules: &ruleCache{}}
	g.Underlay = &Segment{id: g.id(), Name: "underlay"}
	g.Outside = &Segment{id: g.id(), Name: "outside"}
	g.g.AddNode(g.Underlay)
	g.g.AddNode(g.Outside)
	g.g.SetEdge(g.g.NewEdge(g.Underlay, g.Outside))
	return g
}

func (g *Graph) id() int64 { g.nextID++; return g.nextID }

// Nodes lists the graph's vertices (for tests and `--graph` style dumps).
func (g *Graph) Nodes() graph.Nodes { return g.g.Nodes() }

// From lists the vertices joined to one.
func (g *Graph) From(n graph.Node) graph.Nodes { return g.g.From(n.ID()) }

// LoadNode adds a node's namespaces and devices, reading its dump on first use. A node
// without a dump is remembered as such (NodeSpace then returns a nil State).
func (g *Graph) LoadNode(name string) error {
	if e, ok := g.nodes[name]; ok {
		return e.err
	}
	st, err := g.c.NodeState(name)
	g.nodes[name] = &nodeEntry{state: st, err: err}
	if err != nil {
		return err
	}
	host := g.addSpace(name, "host", st.Host, nil)
	keys := make([]string, 0, len(st.Pods))
	for k := range st.Pods {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	byPeer := map[int]*Device{}
	for _, k := range keys {
		ns, nm, _ := strings.Cut(k, "/")
		sp := g.addSpace(name, "pod/"+k, st.Pods[k], g.c.Pod(ns, nm))
		for _, d := range g.devicesOf(sp) {
			if d.Link.PeerIndex > 0 && d.Link.PeerNetNSID >= 0 && d.Link.Kind != "bridge" {
				byPeer[d.Link.PeerIndex] = d
			}
		}
	}
	// veth pairs: a pod's eth0@ifN names the host's ifindex N.
	for _, d := range g.devicesOf(host) {
		if p := byPeer[d.Link.Index]; p != nil {
			g.g.SetEdge(g.g.NewEdge(d, p))
		}
		if d.Link.Master != "" {
			if m := g.devices[devKey{host.Key(), d.Link.Master}]; m != nil {
				g.g.SetEdge(g.g.NewEdge(d, m))
			}
		}
		if g.isUnderlay(name, d) {
			g.g.SetEdge(g.g.NewEdge(d, g.Underlay))
		}
	}
	return nil
}

func (g *Graph) addSpace(node, name string, st *model.NetNS, pod *model.Pod) *Space {
	sp := &Space{id: g.id(), Node: node, Name: name, State: st, Pod: pod, rules: g.rules}
	g.spaces[sp.Key()] = sp
	g.g.AddNode(sp)
	for i := range st.Links {
		d := &Device{id: g.id(), Space: sp, Link: &st.Links[i]}
		g.devices[devKey{sp.Key(), d.Link.Name}] = d
		g.g.AddNode(d)
		g.g.SetEdge(g.g.NewEdge(sp, d))
	}
	// Same-namespace veth pairs and masters in a pod (rare, but seen with nested bridges).
	for i := range st.Links {
		l := &st.Links[i]
		d := g.devices[devKey{sp.Key(), l.Name}]
		if l.PeerName != "" {
			if p := g.devices[devKey{sp.Key(), l.PeerName}]; p != nil {
				g.g.SetEdge(g.g.NewEdge(d, p))
			}
		}
	}
	return sp
}

func (g *Graph) devicesOf(sp *Space) []*Device {
	out := make([]*Device, 0, len(sp.State.Links))
	for i := range sp.State.Links {
		out = append(out, g.devices[devKey{sp.Key(), sp.State.Links[i].Name}])
	}
	return out
}

// isUnderlay reports whether a host device attaches the node to the underlay: it holds one
// of the Node object's addresses, or it is the device of the host's default route.
func (g *Graph) isUnderlay(node string, d *Device) bool {
	if d.Link.Kind == "bridge" && d.Link.Master == "" && len(d.Link.Addrs) > 0 && !g.holdsNodeAddr(node, d) {
		return false
	}
	if g.holdsNodeAddr(node, d) {
		return true
	}
	// A second link into the node's network: an address in the subnet of a device that
	// holds the node's address.
	if d.Link.Kind != "vxlan" && d.Link.Master == "" && d.Link.Name != "lo" {
		for i := range d.Space.State.Links {
			o := &d.Space.State.Links[i]
			if o.Name == d.Link.Name {
				continue
			}
			for _, oa := range o.Addrs {
				if !g.isNodeAddr(node, oa.Prefix.Addr()) {
					continue
				}
				for _, a := range d.Link.Addrs {
					if a.Scope != "link" && a.Scope != "host" && oa.Prefix.Masked().Contains(a.Prefix.Addr()) {
						return true
					}
				}
			}
		}
	}
	for _, r := range d.Space.State.Routes {
		if r.Dev == d.Link.Name && r.Dst.Bits() == 0 && (r.Table == "main" || r.Table == "") {
			return true
		}
	}
	return false
}

func (g *Graph) isNodeAddr(node string, a netip.Addr) bool {
	if n := g.c.Node(node); n != nil {
		for _, na := range n.Addrs {
			if na == a {
				return true
			}
		}
	}
	return false
}

func (g *Graph) holdsNodeAddr(node string, d *Device) bool {
	n := g.c.Node(node)
	if n == nil {
		return false
	}
	for _, a := range d.Link.Addrs {
		for _, na := range n.Addrs {
			if a.Prefix.Addr() == na {
				return true
			}
		}
	}
	return false
}

// Space returns a namespace already in the graph.
func (g *Graph) Space(node, name string) *Space { return g.spaces[node+"/"+name] }

// Device returns a device of a namespace.
func (g *Graph) Device(sp *Space, name string) *Device { return g.devices[devKey{sp.Key(), name}] }

// Engine returns the namespace's rules and routing engine, built on first use.
func (sp *Space) Engine() (*NetNS, error) {
	if sp.eng == nil && sp.err == nil {
		sp.eng, sp.err = newNetNS(sp.State, sp.rules)
	}
	return sp.eng, sp.err
}

// VethPeer returns the other end of a veth (or the device a pod's interface is paired
// with), when it is in the graph.
func (g *Graph) VethPeer(d *Device) *Device {
	for _, n := range graph.NodesOf(g.g.From(d.id)) {
		if p, ok := n.(*Device); ok && p.Space != d.Space {
			return p
		}
		if p, ok := n.(*Device); ok && p.Space == d.Space && d.Link.PeerName == p.Link.Name {
			return p
		}
	}
	return nil
}

// Ports lists a bridge's ports.
func (g *Graph) Ports(br *Device) []*Device {
	var out []*Device
	for _, n := range graph.NodesOf(g.g.From(br.id)) {
		if p, ok := n.(*Device); ok && p.Space == br.Space && p.Link.Master == br.Link.Name {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Link.Name < out[j].Link.Name })
	return out
}

// OnUnderlay reports whether a device attaches its node to the underlay.
func (g *Graph) OnUnderlay(d *Device) bool { return g.g.HasEdgeBetween(d.id, g.Underlay.id) }

// NodeOwning finds the node (among all the cluster's nodes, reading their dumps) whose
// host namespace holds an address on an underlay device; Node objects' addresses are
// tried first so that usually only one dump is read.
func (g *Graph) NodeOwning(a netip.Addr) (*Device, error) {
	if n := g.c.NodeByAddr(a); n != nil {
		if err := g.LoadNode(n.Name); err != nil {
			return nil, err
		}
		if d := g.hostDeviceWith(n.Name, a); d != nil {
			return d, nil
		}
	}
	// An address the Node objects do not list (a node's second link): the nodes read so
	// far are searched, in name order.
	names := make([]string, 0, len(g.nodes))
	for n, e := range g.nodes {
		if e.err == nil {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		if d := g.hostDeviceWith(n, a); d != nil && g.OnUnderlay(d) {
			return d, nil
		}
	}
	return nil, nil
}

func (g *Graph) hostDeviceWith(node string, a netip.Addr) *Device {
	host := g.Space(node, "host")
	if host == nil {
		return nil
	}
	for _, d := range g.devicesOf(host) {
		for _, ad := range d.Link.Addrs {
			if ad.Prefix.Addr() == a {
				return d
			}
		}
	}
	return nil
}

// DeviceWithAddr returns the device of a namespace holding an address.
func (g *Graph) DeviceWithAddr(sp *Space, a netip.Addr) *Device {
	for _, d := range g.devicesOf(sp) {
		for _, ad := range d.Link.Addrs {
			if ad.Prefix.Addr() == a {
				return d
			}
		}
	}
	return nil
}

// String summarises the graph (for debugging and the graph tests).
func (g *Graph) String() string {
	var lines []string
	for _, n := range graph.NodesOf(g.g.Nodes()) {
		var name string
		switch v := n.(type) {
		case *Space:
			name = "netns " + v.Key()
		case *Device:
			name = "dev " + v.String()
		case *Segment:
			name = "segment " + v.Name
		}
		var to []string
		for _, m := range graph.NodesOf(g.g.From(n.ID())) {
			switch v := m.(type) {
			case *Device:
				if _, isSpace := n.(*Space); !isSpace {
					to = append(to, v.String())
				}
			case *Segment:
				to = append(to, v.Name)
			}
		}
		sort.Strings(to)
		if len(to) > 0 {
			name += " -- " + strings.Join(to, ", ")
		}
		lines = append(lines, name)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}
