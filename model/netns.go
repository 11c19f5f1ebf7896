package model

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"path"
	"sort"
	"strings"
	"sync"

	"github.com/netsim/netsim/bundle"
	"github.com/netsim/netsim/model/iproute"
	"github.com/netsim/netsim/model/sockets"
	"github.com/netsim/netsim/model/source"
	"github.com/netsim/netsim/model/sysctl"
)

// RuleFileKind names a rule file that the rules engines read.
type RuleFileKind string

// The rule files of a network namespace (../shared/CONTRACT.md §3).
const (
	IPTablesV4 RuleFileKind = "iptables-save.txt"
	IPTablesV6 RuleFileKind = "ip6tables-save.txt"
	IPSet      RuleFileKind = "ipset.txt"
	NFTables   RuleFileKind = "nft.json"
	IPVS       RuleFileKind = "ipvs.txt"
)

// RuleFileKinds lists every rule file kind.
var RuleFileKinds = []RuleFileKind{IPTablesV4, IPTablesV6, IPSet, NFTables, IPVS}

// NetNS is one network namespace's dataplane state: a node's host namespace or a pod's.
type NetNS struct {
	// Name is "host" or "pod/NAMESPACE/NAME".
	Name string
	// Dir is the bundle directory the state was read from.
	Dir    string
	Links  []iproute.Link
	Routes []iproute.Route
	Rules  []iproute.Rule
	Neighs []iproute.Neigh
	// FDB is the bridge forwarding database (`bridge -j fdb show`): for VXLAN devices,
	// which remote endpoint each MAC is behind. Optional beyond CONTRACT §3.
	FDB     []iproute.FDB
	Sysctls sysctl.Table
	Sockets []sockets.Socket
	// RuleFiles are handed to the rules engines as they are, with their names for citations.
	RuleFiles map[RuleFileKind]*source.File
	// Read lists the files that were read; Missing the standard state files that were not
	// in the bundle (so that what they would decide is unknown); Unread the other files.
	Read, Missing, Unread []string
}

// Has reports whether the namespace's dump includes a state: "addr", "route", "rule",
// "neigh", "sysctl", "sockets", or a rule file name.
func (n *NetNS) Has(what string) bool {
	for _, r := range n.Read {
		base := path.Base(r)
		if base == what || strings.HasPrefix(base, what+".") || strings.HasPrefix(base, what+"6.") {
			return true
		}
	}
	return false
}

// Link returns the named device.
func (n *NetNS) Link(name string) *iproute.Link {
	for i := range n.Links {
		if n.Links[i].Name == name {
			return &n.Links[i]
		}
	}
	return nil
}

// LinkByIndex returns the device with an ifindex.
func (n *NetNS) LinkByIndex(idx int) *iproute.Link {
	for i := range n.Links {
		if n.Links[i].Index == idx {
			return &n.Links[i]
		}
	}
	return nil
}

// Addrs lists every address in the namespace, with the link that holds it.
func (n *NetNS) Addrs() []LinkAddr {
	var out []LinkAddr
	for i := range n.Links {
		for _, a := range n.Links[i].Addrs {
			out = append(out, LinkAddr{Link: &n.Links[i], Addr: a})
		}
	}
	return out
}

// LinkAddr is an address and the device it is on.
type LinkAddr struct {
	Link *iproute.Link
	Addr iproute.Addr
}

// HasAddr reports whether an address is configured on any device of the namespace.
func (n *NetNS) HasAddr(a netip.Addr) bool {
	for _, la := range n.Addrs() {
		if la.Addr.Prefix.Addr() == a {
			return true
		}
	}
	return false
}

// NodeState is a node's dataplane: its host namespace and its pods' namespaces.
type NodeState struct {
	Name string
	Dir  string
	Host *NetNS
	// Pods maps "namespace/name" to the pod's namespace dump.
	Pods map[string]*NetNS
	// Collect is the node's collect.yaml, if present.
	Collect *source.File
}

type nodeEntry struct {
	once  sync.Once
	state *NodeState
	err   error
}

// NodeDirs lists the nodes that have a dataplane dump in the bundle (nodes/NAME/).
func (c *Cluster) NodeDirs() []string {
	c.nodesMu.Lock()
	defer c.nodesMu.Unlock()
	if !c.nodeDirsOK {
		_, c.nodeDirs = c.Bundle.List("nodes")
		c.nodeDirsOK = true
	}
	return c.nodeDirs
}

// HasNodeState reports whether the bundle holds a dataplane dump for a node.
func (c *Cluster) HasNodeState(node string) bool {
	for _, d := range c.NodeDirs() {
		if d == node {
			return true
		}
	}
	return false
}

// ErrNoNodeState is returned by NodeState for a node without a dump in the bundle.
var ErrNoNodeState = errors.New("no dataplane dump in the bundle")

// NodeState reads a node's dataplane files the first time it is asked for, and returns
// the same state afterwards. A malformed file fails the node with an error naming file
// and line.
func (c *Cluster) NodeState(node string) (*NodeState, error) {
	if !c.HasNodeState(node) {
		return nil, fmt.Errorf("node %s: %w", node, ErrNoNodeState)
	}
	c.nodesMu.Lock()
	e := c.nodeStates[node]
	if e == nil {
		e = &nodeEntry{}
		c.nodeStates[node] = e
	}
	c.nodesMu.Unlock()
	e.once.Do(func() { e.state, e.err = loadNode(c.Bundle, node) })
	return e.state, e.err
}

// LoadedNodes lists the nodes whose state has been read so far (for tests and benchmarks
// that check a trace reads only what its path touches).
func (c *Cluster) LoadedNodes() []string {
	c.nodesMu.Lock()
	defer c.nodesMu.Unlock()
	var out []string
	for n := range c.nodeStates {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func loadNode(b *bundle.Bundle, node string) (*NodeState, error) {
	dir := bundle.NodeDir(node)
	ns := &NodeState{Name: node, Dir: dir, Pods: map[string]*NetNS{}}
	host, err := LoadNetNS(b, dir, "host")
	if err != nil {
		return nil, err
	}
	ns.Host = host
	if f, err := b.ReadFile(path.Join(dir, "collect.yaml")); err == nil {
		ns.Collect = f
	}
	_, pods := b.List(path.Join(dir, "pods"))
	for _, p := range pods {
		namespace, name, ok := strings.Cut(p, "_")
		if !ok {
			return nil, fmt.Errorf("%s/pods/%s: want a folder named NAMESPACE_NAME", dir, p)
		}
		pn, err := LoadNetNS(b, path.Join(dir, "pods", p), "pod/"+namespace+"/"+name)
		if err != nil {
			return nil, err
		}
		ns.Pods[namespace+"/"+name] = pn
	}
	return ns, nil
}

// stateFiles are the files of a namespace dump, in the order they are looked for.
// For each state the JSON form wins over the text form.
var stateFiles = []struct {
	state string
	names []string
}{
	{"addr", []string{"addr.json", "addr.txt", "link.json", "link.txt"}},
	{"route", []string{"route.json", "route.txt"}},
	{"route6", []string{"route6.json", "route6.txt"}},
	{"rule", []string{"rule.json", "rule.txt"}},
	{"rule6", []string{"rule6.json", "rule6.txt"}},
	{"neigh", []string{"neigh.json", "neigh.txt"}},
	{"fdb", []string{"fdb.json", "fdb.txt"}},
	{"sysctl", []string{"sysctl.txt"}},
	{"sockets", []string{"sockets.txt"}},
}

// optionalStates are not reported missing when absent: IPv6 tables often are.
var optionalStates = map[string]bool{"route6": true, "rule6": true, "fdb": true}

// LoadNetNS reads the dump of one network namespace from a bundle directory.
func LoadNetNS(b *bundle.Bundle, dir, name string) (*NetNS, error) {
	n := &NetNS{Name: name, Dir: dir, RuleFiles: map[RuleFileKind]*source.File{}}
	files, _ := b.List(dir)
	present := map[string]bool{}
	for _, f := range files {
		present[f] = true
	}
	used := map[string]bool{"collect.yaml": true}
	for _, sf := range stateFiles {
		var file string
		for _, cand := range sf.names {
			if present[cand] {
				file = cand
				break
			}
		}
		if file == "" {
			if !optionalStates[sf.state] {
				n.Missing = append(n.Missing, path.Join(dir, sf.names[0]))
			}
			continue
		}
		used[file] = true
		f, err := b.ReadFile(path.Join(dir, file))
		if err != nil {
			return nil, err
		}
		if err := n.parse(sf.state, file, f); err != nil {
			return nil, err
		}
		n.Read = append(n.Read, f.Name)
	}
	for _, k := range RuleFileKinds {
		if !present[string(k)] {
			continue
		}
		used[string(k)] = true
		f, err := b.ReadFile(path.Join(dir, string(k)))
		if err != nil {
			return nil, err
		}
		n.RuleFiles[k] = f
		n.Read = append(n.Read, f.Name)
	}
	for _, f := range files {
		if !used[f] {
			n.Unread = append(n.Unread, path.Join(dir, f))
		}
	}
	return n, nil
}

func (n *NetNS) parse(state, file string, f *source.File) error {
	isJSON := strings.HasSuffix(file, ".json")
	fam := 4
	if strings.HasSuffix(state, "6") {
		fam = 6
	}
	var err error
	switch state {
	case "addr":
		if isJSON {
			n.Links, err = iproute.ParseLinksJSON(f)
		} else {
			n.Links, err = iproute.ParseLinksText(f)
		}
	case "route", "route6":
		var rs []iproute.Route
		if isJSON {
			rs, err = iproute.ParseRoutesJSON(f, fam)
		} else {
			rs, err = iproute.ParseRoutesText(f, fam)
		}
		n.Routes = append(n.Routes, rs...)
	case "rule", "rule6":
		var rs []iproute.Rule
		if isJSON {
			rs, err = iproute.ParseRulesJSON(f, fam)
		} else {
			rs, err = iproute.ParseRulesText(f, fam)
		}
		n.Rules = append(n.Rules, rs...)
	case "neigh":
		if isJSON {
			n.Neighs, err = iproute.ParseNeighJSON(f)
		} else {
			n.Neighs, err = iproute.ParseNeighText(f)
		}
	case "fdb":
		if isJSON {
			n.FDB, err = iproute.ParseFDBJSON(f)
		} else {
			n.FDB, err = iproute.ParseFDBText(f)
		}
	case "sysctl":
		n.Sysctls, err = sysctl.Parse(f)
	case "sockets":
		n.Sockets, err = sockets.Parse(f)
	}
	return err
}

// isNotExist is errors.Is(err, fs.ErrNotExist).
func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
