package model

import (
	"errors"
	"fmt"
	"net/netip"
	"path"
	"runtime"
	"sort"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	anpv1alpha1 "sigs.k8s.io/network-policy-api/apis/v1alpha1"

	"github.com/netsim/netsim/bundle"
	"github.com/netsim/netsim/model/kube"
	"github.com/netsim/netsim/model/source"
)

// Options tune loading.
type Options struct {
	// Lenient keeps going past malformed files and objects, recording them in Problems,
	// instead of failing. inspect uses it to show everything wrong with a bundle at once.
	Lenient bool
}

// Cluster is a loaded bundle. It is safe for concurrent use.
type Cluster struct {
	Bundle   *bundle.Bundle
	Manifest *bundle.Manifest

	Pods            []*Pod
	Nodes           []*Node
	Services        []*Service
	EndpointSlices  []*EndpointSlice
	Endpoints       []*Endpoints
	Namespaces      []*Namespace
	NetworkPolicies []*NetworkPolicy
	AdminPolicies   []*AdminNetworkPolicy
	BaselinePolicy  []*BaselineAdminNetworkPolicy
	ServiceCIDRs    []*ServiceCIDR
	ConfigMaps      []*ConfigMap
	// Others are objects of every other kind, kept so that they can be listed (and used by
	// later analyses: DaemonSets show which CNI and policy enforcer run).
	Others []kube.Object

	// Problems are malformed files and objects (Lenient), and, always, objects that
	// contradict each other or hold values no API server would accept (duplicates, node
	// ports used twice, addresses that do not parse). They never stop a load.
	Problems []error
	// Skipped lists files under cluster/ that are not object files.
	Skipped []string

	podByKey     map[string]*Pod
	podsByIP     map[netip.Addr][]*Pod
	podsByNS     map[string][]*Pod
	podsByNode   map[string][]*Pod
	nodeByName   map[string]*Node
	nodeByAddr   map[netip.Addr]*Node
	svcByKey     map[string]*Service
	svcByIP      map[netip.Addr][]ServiceIP
	svcByNodePrt map[nodePortKey]NodePort
	slicesBySvc  map[string][]*EndpointSlice
	epByKey      map[string]*Endpoints
	nsByName     map[string]*Namespace

	nodesMu    sync.Mutex
	nodeStates map[string]*nodeEntry
	nodeDirs   []string
	nodeDirsOK bool
}

type nodePortKey struct {
	port  int32
	proto corev1.Protocol
}

// Load reads the bundle's cluster objects and builds the indexes. Node dataplane files
// are not read until NodeState asks for them.
func Load(b *bundle.Bundle, opts Options) (*Cluster, error) {
	c := &Cluster{Bundle: b, Manifest: b.Manifest, nodeStates: map[string]*nodeEntry{}}
	files, err := b.Walk("cluster")
	if err != nil {
		return nil, fmt.Errorf("%s: listing cluster/: %v", b.Path, err)
	}
	// Files are read and decoded in parallel, then added in bundle order, so that which
	// of two duplicates wins does not depend on timing.
	type decoded struct {
		objs []kube.Object
		errs []error
		err  error
	}
	results := make([]decoded, len(files))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i, name := range files {
		ext := strings.ToLower(path.Ext(name))
		if ext != ".yaml" && ext != ".yml" && ext != ".json" {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func(i int, name string) {
			defer func() { <-sem; wg.Done() }()
			f, err := b.ReadFile(name)
			if err != nil {
				results[i].err = err
				return
			}
			results[i].objs, results[i].errs = kube.Decode(f)
		}(i, name)
	}
	wg.Wait()
	seen := map[string]source.Pos{}
	for i, name := range files {
		ext := strings.ToLower(path.Ext(name))
		if ext != ".yaml" && ext != ".yml" && ext != ".json" {
			c.Skipped = append(c.Skipped, name)
			continue
		}
		r := results[i]
		if r.err != nil {
			return nil, r.err
		}
		if len(r.errs) > 0 {
			if !opts.Lenient {
				return nil, joinErrs(r.errs)
			}
			c.Problems = append(c.Problems, r.errs...)
		}
		for _, o := range r.objs {
			key := objectKey(o)
			if first, dup := seen[key]; dup {
				c.Problems = append(c.Problems, source.Errorf(o.Pos, "%s is also at %s; the first is used", key, first))
				continue
			}
			seen[key] = o.Pos
			c.add(o)
		}
	}
	c.index()
	return c, nil
}

// joinErrs reports up to 10 errors, then how many more there were.
func joinErrs(errs []error) error {
	if len(errs) <= 10 {
		return errors.Join(errs...)
	}
	return errors.Join(append(errs[:10:10], fmt.Errorf("... and %d more errors", len(errs)-10))...)
}

func objectKey(o kube.Object) string {
	type named interface {
		GetNamespace() string
		GetName() string
	}
	ns, name := "", ""
	if m, ok := o.Obj.(named); ok {
		ns, name = m.GetNamespace(), m.GetName()
	}
	kind := strings.ToLower(o.GVK.Kind)
	if ns == "" {
		return kind + "/" + name
	}
	return kind + "/" + ns + "/" + name
}

func (c *Cluster) add(o kube.Object) {
	switch x := o.Obj.(type) {
	case *corev1.Pod:
		c.Pods = append(c.Pods, &Pod{Pod: x, Pos: o.Pos})
	case *corev1.Node:
		c.Nodes = append(c.Nodes, &Node{Node: x, Pos: o.Pos})
	case *corev1.Service:
		c.Services = append(c.Services, &Service{Service: x, Pos: o.Pos})
	case *discoveryv1.EndpointSlice:
		c.EndpointSlices = append(c.EndpointSlices, &EndpointSlice{EndpointSlice: x, Pos: o.Pos})
	case *corev1.Endpoints:
		c.Endpoints = append(c.Endpoints, &Endpoints{Endpoints: x, Pos: o.Pos})
	case *corev1.Namespace:
		c.Namespaces = append(c.Namespaces, &Namespace{Namespace: x, Pos: o.Pos})
	case *networkingv1.NetworkPolicy:
		c.NetworkPolicies = append(c.NetworkPolicies, &NetworkPolicy{NetworkPolicy: x, Pos: o.Pos})
	case *anpv1alpha1.AdminNetworkPolicy:
		c.AdminPolicies = append(c.AdminPolicies, &AdminNetworkPolicy{AdminNetworkPolicy: x, Pos: o.Pos})
	case *anpv1alpha1.BaselineAdminNetworkPolicy:
		c.BaselinePolicy = append(c.BaselinePolicy, &BaselineAdminNetworkPolicy{BaselineAdminNetworkPolicy: x, Pos: o.Pos})
	case *networkingv1.ServiceCIDR:
		c.ServiceCIDRs = append(c.ServiceCIDRs, &ServiceCIDR{ServiceCIDR: x, Pos: o.Pos})
	case *corev1.ConfigMap:
		c.ConfigMaps = append(c.ConfigMaps, &ConfigMap{ConfigMap: x, Pos: o.Pos})
	default:
		c.Others = append(c.Others, o)
	}
}

// parseIP parses an address from an API field, reporting it as a problem when malformed.
func parseIP(s string, pos source.Pos, what string, problems *[]error) (netip.Addr, bool) {
	if s == "" {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		*problems = append(*problems, source.Errorf(pos, "%s %q is not an IP address", what, s))
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

func (c *Cluster) index() {
	var probs []error
	c.podByKey = make(map[string]*Pod, len(c.Pods))
	c.podsByIP = make(map[netip.Addr][]*Pod, len(c.Pods))
	c.podsByNS = map[string][]*Pod{}
	c.podsByNode = map[string][]*Pod{}
	for _, p := range c.Pods {
		c.podByKey[p.Key()] = p
		c.podsByNS[p.Namespace] = append(c.podsByNS[p.Namespace], p)
		if p.Spec.NodeName != "" {
			c.podsByNode[p.Spec.NodeName] = append(c.podsByNode[p.Spec.NodeName], p)
		}
		ips := p.Status.PodIPs
		if len(ips) == 0 && p.Status.PodIP != "" {
			ips = []corev1.PodIP{{IP: p.Status.PodIP}}
		}
		for _, ip := range ips {
			if a, ok := parseIP(ip.IP, p.Pos, "pod "+p.Key()+" podIP", &probs); ok {
				p.IPs = append(p.IPs, a)
				c.podsByIP[a] = append(c.podsByIP[a], p)
			}
		}
	}
	c.nodeByName = make(map[string]*Node, len(c.Nodes))
	c.nodeByAddr = make(map[netip.Addr]*Node, len(c.Nodes))
	for _, n := range c.Nodes {
		c.nodeByName[n.Name] = n
		for _, a := range n.Status.Addresses {
			if a.Type != corev1.NodeInternalIP && a.Type != corev1.NodeExternalIP {
				continue
			}
			if ip, ok := parseIP(a.Address, n.Pos, "node "+n.Name+" address", &probs); ok {
				n.Addrs = append(n.Addrs, ip)
				c.nodeByAddr[ip] = n
			}
		}
		cidrs := n.Spec.PodCIDRs
		if len(cidrs) == 0 && n.Spec.PodCIDR != "" {
			cidrs = []string{n.Spec.PodCIDR}
		}
		for _, s := range cidrs {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				probs = append(probs, source.Errorf(n.Pos, "node %s podCIDR %q is not a CIDR", n.Name, s))
				continue
			}
			n.PodCIDRs = append(n.PodCIDRs, p.Masked())
		}
	}
	c.svcByKey = make(map[string]*Service, len(c.Services))
	c.svcByIP = map[netip.Addr][]ServiceIP{}
	c.svcByNodePrt = map[nodePortKey]NodePort{}
	for _, s := range c.Services {
		c.svcByKey[s.Key()] = s
		cips := s.Spec.ClusterIPs
		if len(cips) == 0 && s.Spec.ClusterIP != "" {
			cips = []string{s.Spec.ClusterIP}
		}
		for _, ip := range cips {
			if ip == corev1.ClusterIPNone {
				continue
			}
			if a, ok := parseIP(ip, s.Pos, "service "+s.Key()+" clusterIP", &probs); ok {
				s.ClusterIPs = append(s.ClusterIPs, a)
				c.svcByIP[a] = append(c.svcByIP[a], ServiceIP{Service: s, Kind: ClusterIP})
			}
		}
		for _, ip := range s.Spec.ExternalIPs {
			if a, ok := parseIP(ip, s.Pos, "service "+s.Key()+" externalIP", &probs); ok {
				c.svcByIP[a] = append(c.svcByIP[a], ServiceIP{Service: s, Kind: ExternalIP})
			}
		}
		for _, in := range s.Status.LoadBalancer.Ingress {
			if a, ok := parseIP(in.IP, s.Pos, "service "+s.Key()+" load-balancer ingress", &probs); ok {
				c.svcByIP[a] = append(c.svcByIP[a], ServiceIP{Service: s, Kind: LoadBalancerIP})
			}
		}
		for i := range s.Spec.Ports {
			sp := &s.Spec.Ports[i]
			if sp.NodePort == 0 {
				continue
			}
			proto := sp.Protocol
			if proto == "" {
				proto = corev1.ProtocolTCP
			}
			k := nodePortKey{sp.NodePort, proto}
			if prev, dup := c.svcByNodePrt[k]; dup {
				probs = append(probs, source.Errorf(s.Pos, "nodePort %d/%s of service %s is also used by service %s", sp.NodePort, proto, s.Key(), prev.Service.Key()))
				continue
			}
			c.svcByNodePrt[k] = NodePort{Service: s, Port: sp}
		}
	}
	c.slicesBySvc = map[string][]*EndpointSlice{}
	for _, es := range c.EndpointSlices {
		svc := es.Labels[discoveryv1.LabelServiceName]
		if svc == "" {
			continue
		}
		k := es.Namespace + "/" + svc
		c.slicesBySvc[k] = append(c.slicesBySvc[k], es)
	}
	c.epByKey = make(map[string]*Endpoints, len(c.Endpoints))
	for _, ep := range c.Endpoints {
		c.epByKey[ep.Namespace+"/"+ep.Name] = ep
	}
	c.nsByName = make(map[string]*Namespace, len(c.Namespaces))
	for _, ns := range c.Namespaces {
		c.nsByName[ns.Name] = ns
	}
	// These are inconsistencies between objects that each decoded fine (an API server
	// would have refused them): they are reported, and never stop a load.
	c.Problems = append(c.Problems, probs...)
}

// Pod returns the pod namespace/name.
func (c *Cluster) Pod(ns, name string) *Pod { return c.podByKey[ns+"/"+name] }

// PodsByIP returns every pod with the address, live pods first: a finished pod's IP may
// already have been reused, and two live pods with one IP are a fault of their own.
// Host-network pods are left out: their address is their node's.
func (c *Cluster) PodsByIP(a netip.Addr) []*Pod {
	var live, done []*Pod
	for _, p := range c.podsByIP[a.Unmap()] {
		switch {
		case p.HostNetwork():
		case p.Terminal():
			done = append(done, p)
		default:
			live = append(live, p)
		}
	}
	return append(live, done...)
}

// PodByIP returns the live pod with the address, or nil if none (or none live).
func (c *Cluster) PodByIP(a netip.Addr) *Pod {
	for _, p := range c.podsByIP[a.Unmap()] {
		if !p.HostNetwork() && !p.Terminal() {
			return p
		}
	}
	return nil
}

// PodsInNamespace lists the namespace's pods in bundle order.
func (c *Cluster) PodsInNamespace(ns string) []*Pod { return c.podsByNS[ns] }

// PodsOnNode lists the pods scheduled to a node.
func (c *Cluster) PodsOnNode(node string) []*Pod { return c.podsByNode[node] }

// Node returns the node by name.
func (c *Cluster) Node(name string) *Node { return c.nodeByName[name] }

// NodeByAddr returns the node with an InternalIP or ExternalIP address.
func (c *Cluster) NodeByAddr(a netip.Addr) *Node { return c.nodeByAddr[a.Unmap()] }

// Service returns the Service namespace/name.
func (c *Cluster) Service(ns, name string) *Service { return c.svcByKey[ns+"/"+name] }

// ServicesByIP returns the Services that answer on an address: as cluster IP,
// external IP or load-balancer IP.
func (c *Cluster) ServicesByIP(a netip.Addr) []ServiceIP { return c.svcByIP[a.Unmap()] }

// ServiceByNodePort returns the Service port exposed as a node port.
func (c *Cluster) ServiceByNodePort(port int32, proto corev1.Protocol) (NodePort, bool) {
	np, ok := c.svcByNodePrt[nodePortKey{port, proto}]
	return np, ok
}

// Namespace returns the Namespace object, or nil when the bundle lacks it.
func (c *Cluster) Namespace(name string) *Namespace { return c.nsByName[name] }

// NamespaceLabels returns a namespace's labels, and whether the Namespace object was in
// the bundle. Without it, only the label the API server sets on every namespace
// (kubernetes.io/metadata.name) is known.
func (c *Cluster) NamespaceLabels(name string) (labels.Set, bool) {
	if ns := c.nsByName[name]; ns != nil {
		l := labels.Set{}
		for k, v := range ns.Labels {
			l[k] = v
		}
		l[corev1.LabelMetadataName] = name
		return l, true
	}
	return labels.Set{corev1.LabelMetadataName: name}, false
}

// ServiceEndpoints returns the endpoints of a Service from its EndpointSlices, or from its
// Endpoints object when the bundle has no slice for it. The second result says which
// ("endpointslices", "endpoints" or "" when neither is present).
func (c *Cluster) ServiceEndpoints(svc *Service) ([]Endpoint, string) {
	key := svc.Key()
	if slices := c.slicesBySvc[key]; len(slices) > 0 {
		return endpointsFromSlices(slices), "endpointslices"
	}
	if ep := c.epByKey[key]; ep != nil {
		return endpointsFromEndpoints(ep), "endpoints"
	}
	return nil, ""
}

func endpointsFromSlices(slices []*EndpointSlice) []Endpoint {
	var out []Endpoint
	for _, es := range slices {
		var ports []EndpointPort
		for _, p := range es.Ports {
			ep := EndpointPort{Protocol: corev1.ProtocolTCP}
			if p.Name != nil {
				ep.Name = *p.Name
			}
			if p.Port != nil {
				ep.Port = *p.Port
			}
			if p.Protocol != nil {
				ep.Protocol = *p.Protocol
			}
			ports = append(ports, ep)
		}
		for _, e := range es.Endpoints {
			// Per the API, a nil ready means ready; serving follows ready when unset.
			ready := e.Conditions.Ready == nil || *e.Conditions.Ready
			serving := ready
			if e.Conditions.Serving != nil {
				serving = *e.Conditions.Serving
			}
			terminating := e.Conditions.Terminating != nil && *e.Conditions.Terminating
			for _, a := range e.Addresses {
				ip, err := netip.ParseAddr(a)
				if err != nil {
					continue // FQDN slices name hosts, not addresses
				}
				ep := Endpoint{Addr: ip.Unmap(), Ready: ready, Serving: serving, Terminating: terminating, Ports: ports, Pos: es.Pos}
				if e.NodeName != nil {
					ep.NodeName = *e.NodeName
				}
				if e.Hostname != nil {
					ep.Hostname = *e.Hostname
				}
				if e.Zone != nil {
					ep.Zone = *e.Zone
				}
				if e.TargetRef != nil && e.TargetRef.Kind == "Pod" {
					ep.Pod = e.TargetRef.Namespace + "/" + e.TargetRef.Name
				}
				out = append(out, ep)
			}
		}
	}
	return out
}

func endpointsFromEndpoints(ep *Endpoints) []Endpoint {
	var out []Endpoint
	for _, ss := range ep.Subsets {
		var ports []EndpointPort
		for _, p := range ss.Ports {
			proto := p.Protocol
			if proto == "" {
				proto = corev1.ProtocolTCP
			}
			ports = append(ports, EndpointPort{Name: p.Name, Port: p.Port, Protocol: proto})
		}
		add := func(addrs []corev1.EndpointAddress, ready bool) {
			for _, a := range addrs {
				ip, err := netip.ParseAddr(a.IP)
				if err != nil {
					continue
				}
				e := Endpoint{Addr: ip.Unmap(), Ready: ready, Serving: ready, Ports: ports, Hostname: a.Hostname, Pos: ep.Pos}
				if a.NodeName != nil {
					e.NodeName = *a.NodeName
				}
				if a.TargetRef != nil && a.TargetRef.Kind == "Pod" {
					e.Pod = a.TargetRef.Namespace + "/" + a.TargetRef.Name
				}
				out = append(out, e)
			}
		}
		add(ss.Addresses, true)
		add(ss.NotReadyAddresses, false)
	}
	return out
}

// KindCount is how many objects of one kind the bundle holds.
type KindCount struct {
	GVK     schema.GroupVersionKind
	Count   int
	Modeled bool // read into the model's typed view (false: kept and listed only)
}

// Kinds counts the bundle's objects by kind, modelled kinds first.
func (c *Cluster) Kinds() []KindCount {
	modeled := []KindCount{
		{schema.GroupVersionKind{Version: "v1", Kind: "Pod"}, len(c.Pods), true},
		{schema.GroupVersionKind{Version: "v1", Kind: "Node"}, len(c.Nodes), true},
		{schema.GroupVersionKind{Version: "v1", Kind: "Service"}, len(c.Services), true},
		{schema.GroupVersionKind{Group: "discovery.k8s.io", Version: "v1", Kind: "EndpointSlice"}, len(c.EndpointSlices), true},
		{schema.GroupVersionKind{Version: "v1", Kind: "Endpoints"}, len(c.Endpoints), true},
		{schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}, len(c.Namespaces), true},
		{schema.GroupVersionKind{Group: "networking.k8s.io", Version: "v1", Kind: "NetworkPolicy"}, len(c.NetworkPolicies), true},
		{schema.GroupVersionKind{Group: "policy.networking.k8s.io", Version: "v1alpha1", Kind: "AdminNetworkPolicy"}, len(c.AdminPolicies), true},
		{schema.GroupVersionKind{Group: "policy.networking.k8s.io", Version: "v1alpha1", Kind: "BaselineAdminNetworkPolicy"}, len(c.BaselinePolicy), true},
		{schema.GroupVersionKind{Group: "networking.k8s.io", Version: "v1", Kind: "ServiceCIDR"}, len(c.ServiceCIDRs), true},
		{schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, len(c.ConfigMaps), true},
	}
	others := map[schema.GroupVersionKind]int{}
	for _, o := range c.Others {
		others[o.GVK]++
	}
	var rest []KindCount
	for g, n := range others {
		rest = append(rest, KindCount{g, n, false})
	}
	sort.Slice(rest, func(i, j int) bool { return rest[i].GVK.String() < rest[j].GVK.String() })
	return append(modeled, rest...)
}
