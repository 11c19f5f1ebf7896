package diagnose

// The cloud checks (FIELD-GUIDE rows 17, 18, 19, 21, 22, 24): with no flow given, the
// traffic the cluster's own objects need is put to the bundle's cloud provider through
// cloud.Provider, the same interface the walk uses at its cloud hop, so every provider
// netsim reads (AWS, GCP, and those registered later) is judged by the same code:
//   - node to node, for every ordered pair of node classes: pod to pod on the ports the
//     Services target (or the overlay's encapsulated packet), node to pod where kube-proxy
//     masquerades NodePort traffic, node to host-network endpoints, kubelet from the
//     control plane;
//   - the outside to every LoadBalancer Service's address and port (Inbound), and to every
//     NodePort Service's node port on the nodes that serve it;
//   - each node class to the internet (row 21);
//   - pod and Service CIDRs against the ranges the cloud routes elsewhere (row 24), where
//     the provider lists them (CloudRanges), and through its route decisions otherwise.
// A decision that does not allow is a finding citing the object that decided; an unknown
// is a warning naming the missing export, never counted as allowed.

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/netsim/netsim/bundle"
	"github.com/netsim/netsim/cloud"
	"github.com/netsim/netsim/model"
	"github.com/netsim/netsim/model/iproute"
	"github.com/netsim/netsim/rules/packet"
	"github.com/netsim/netsim/rules/routing"
	"github.com/netsim/netsim/simulate"
)

// exactClassLimit: up to this many nodes every node is its own class (exact); beyond
// it, nodes are grouped by the identity the provider gives them, else by the labels that
// follow their cloud identity. A variable so a test can group a small bundle.
var exactClassLimit = 64

const (
	// maxPodPorts bounds the Service target ports probed per pair of classes.
	maxPodPorts = 64
	// cloudClient is the outside client of the probes: TEST-NET-2 (RFC 5737), the
	// client the cloud test bundles use.
	cloudClient = "198.51.100.7"
	// cloudClient2 is a second outside client, in TEST-NET-1.
	cloudClient2 = "192.0.2.9"
	// cloudClient6 and cloudClient6b are the outside clients of IPv6 addresses (RFC 3849).
	cloudClient6  = "2001:db8:100::7"
	cloudClient6b = "2001:db8:200::9"
	// internetProbe is the public address pods are checked against (row 21): the
	// address the cloud test bundles use for "the internet".
	internetProbe = "93.184.216.34"
	// internetProbe6 is the same for a node whose first address is IPv6 (example.com's).
	internetProbe6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"
	probeSPort     = 40000
	kubeletPort    = 10250
)

// classLabels are the node labels that follow a node's cloud identity when the provider
// cannot say it: zone (subnet), node pool (launch template: groups, tags) and role.
var classLabels = []string{
	"topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone",
	"node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master",
	"eks.amazonaws.com/nodegroup", "alpha.eksctl.io/nodegroup-name", "karpenter.sh/nodepool",
	"cloud.google.com/gke-nodepool", "kubernetes.azure.com/agentpool",
	"alibabacloud.com/nodepool-id", "tke.cloud.tencent.com/nodepool-id",
}

// nodeClass is a set of nodes judged as one.
type nodeClass struct {
	key   string
	nodes []*model.Node // sorted by name
}

// endpointRef is a host-network Service endpoint: a node's own address and port.
type endpointRef struct {
	node  *model.Node
	addr  netip.Addr
	proto uint8
	port  uint16
	svc   string
}

// less orders endpoints by node, address, protocol and port: a total order, so the
// probes' order does not depend on the order the Services were read in.
func (a endpointRef) less(b endpointRef) bool {
	var an, bn string
	if a.node != nil {
		an = a.node.Name
	}
	if b.node != nil {
		bn = b.node.Name
	}
	switch {
	case an != bn:
		return an < bn
	case a.addr != b.addr:
		return a.addr.Less(b.addr)
	case a.proto != b.proto:
		return a.proto < b.proto
	}
	return a.port < b.port
}

// cloudRun is one cloud analysis.
type cloudRun struct {
	r       *run
	p       cloud.Provider
	classes []*nodeClass
	// podPorts are the (protocol, port) pairs Services target on pods, sorted.
	podPorts []protoNum
	hostEps  []endpointRef
	// outEps are endpoints neither a pod nor a node holds: the API server outside the
	// nodes, databases in a peered VPC or on premises (selector-less Services).
	outEps []endpointRef
	// masq: some NodePort or LoadBalancer Service with externalTrafficPolicy Cluster makes
	// kube-proxy masquerade outside traffic to the node's address before forwarding it.
	masq bool
	// unprobed are the pairs of nodes whose pod traffic could not be probed (no pod and
	// node addresses of one family on both), said in one note.
	unprobed []string
	routers  map[string]*nodeRoutes
	// sim walks a pod's packet through its node's own rules, for the source it has when
	// it reaches the cloud (egressSource); opened on first use.
	sim      *simulate.Simulator
	sources  map[string]egress
	findings map[string]*cloudFinding
	order    []string
	notes    []string
}

type protoNum struct {
	proto uint8
	port  uint16
}

func (p protoNum) String() string {
	return strings.ToUpper(packet.ProtoName(p.proto)) + " " + fmt.Sprint(p.port)
}

// nodeRoutes is a node's host routing, read for the encapsulation of pod traffic.
type nodeRoutes struct {
	router *routing.Router
	links  map[string]*iproute.Link
	err    error
	none   bool // no dump
}

// cloudFinding gathers the probes one decision blocked.
type cloudFinding struct {
	f     Finding
	flows []string
	nodes map[string]bool
}

// cloudOpener replaces simulate.OpenCloud in tests (a fake provider over any bundle).
var cloudOpener func(*model.Cluster) (cloud.Provider, []string, error)

// checkCloud runs the cloud analysis and returns its notes. A malformed export is an error
// naming its file and line, as for a trace.
func (r *run) checkCloud() ([]string, error) {
	if !r.c.Bundle.IsDir("cloud") && cloudOpener == nil {
		return []string{"no cloud/ exports: security groups and cloud route tables were not checked"}, nil
	}
	open := simulate.OpenCloud
	if cloudOpener != nil {
		open = cloudOpener
	}
	p, unread, err := open(r.c)
	if err != nil {
		return nil, err
	}
	if p == nil {
		if len(unread) > 0 {
			return []string{fmt.Sprintf("the bundle has cloud/%s exports, which netsim does not read yet: security groups and cloud routes were not checked", strings.Join(unread, ", cloud/"))}, nil
		}
		return []string{"cloud/ holds no export netsim reads: security groups and cloud route tables were not checked"}, nil
	}
	cr := &cloudRun{r: r, p: p, routers: map[string]*nodeRoutes{}, findings: map[string]*cloudFinding{}, sources: map[string]egress{}}
	if len(unread) > 0 {
		cr.notes = append(cr.notes, fmt.Sprintf("cloud/%s was not read: the cloud was judged with cloud/%s's exports only, so nodes in another provider's network are unknown to it", strings.Join(unread, ", cloud/"), p.Name()))
	}
	cr.prepare()
	cr.nodeToNode()
	cr.outsideToLB()
	cr.outsideToNodePort()
	cr.toEndpoints()
	cr.toInternet()
	cr.overlaps()
	for _, k := range cr.order {
		cf := cr.findings[k]
		f := cf.f
		if len(cf.flows) > 1 {
			f.Message += fmt.Sprintf("; the same decision blocks %d more probe(s): %s", len(cf.flows)-1, listSome(cf.flows[1:], 5))
		}
		if len(cf.nodes) != 1 {
			f.Node = ""
		}
		r.add(f)
	}
	return cr.notes, nil
}

// prepare groups the nodes into classes and collects the ports the Services target.
func (cr *cloudRun) prepare() {
	c := cr.r.c
	nodes := append([]*model.Node(nil), c.Nodes...)
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
	ident, byProvider := cr.p.(cloud.CloudIdentifier)
	byKey := map[string]*nodeClass{}
	how := "every node is its own class"
	var unmapped []string
	for _, n := range nodes {
		key := n.Name
		if len(nodes) > exactClassLimit {
			// Small clusters are judged node by node even when the provider can group
			// them: a node's own routes (a host-gw pod-CIDR route, row 5) are not part of
			// its identity, and exactness costs little there.
			id, ok := "", false
			if byProvider {
				id, ok = ident.CloudIdentity(n.Name)
				how = "nodes are grouped by the identity " + cr.p.Name() + " gives them (subnet, groups, tags)"
			} else {
				how = fmt.Sprintf("nodes are grouped by their zone, node-pool and role labels (%s does not say which nodes share a subnet and groups; two nodes of one pool with different groups would be judged as one)", cr.p.Name())
			}
			if ok {
				key = "cloud:" + id
			} else {
				// Not mapped by the exports: grouped by labels, not one class each, so
				// exports of another account do not make every pair of nodes a probe.
				if byProvider {
					unmapped = append(unmapped, n.Name)
				}
				var parts []string
				for _, l := range classLabels {
					if v, ok := n.Labels[l]; ok {
						parts = append(parts, l+"="+v)
					}
				}
				key = "labels:" + strings.Join(parts, ",")
			}
		}
		cl := byKey[key]
		if cl == nil {
			cl = &nodeClass{key: key}
			byKey[key] = cl
			cr.classes = append(cr.classes, cl)
		}
		cl.nodes = append(cl.nodes, n)
	}
	cr.notes = append(cr.notes, fmt.Sprintf("cloud/%s: %d node(s) judged as %d class(es): %s", cr.p.Name(), len(nodes), len(cr.classes), how))
	if len(unmapped) > 0 {
		cr.notes = append(cr.notes, fmt.Sprintf("cloud/%s: %d node(s) are not in the exports and were grouped by their zone, node-pool and role labels instead: %s", cr.p.Name(), len(unmapped), listSome(unmapped, 10)))
	}

	ports := map[protoNum]bool{}
	hosts, outs := map[string]bool{}, map[string]bool{}
	for _, svc := range c.Services {
		if svc.Spec.Type == corev1.ServiceTypeExternalName {
			continue
		}
		if (svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer) &&
			svc.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyLocal {
			cr.masq = true
		}
		eps, _ := c.ServiceEndpoints(svc)
		for _, ep := range eps {
			if !ep.Ready && !ep.Serving {
				continue
			}
			for _, epp := range ep.Ports {
				if epp.Port == 0 {
					continue // a port the slice does not give: nothing to probe
				}
				pn := protoNum{protoOf(epp.Protocol), uint16(epp.Port)}
				if n := c.NodeByAddr(ep.Addr); n != nil {
					k := n.Name + " " + pn.String()
					if !hosts[k] {
						hosts[k] = true
						cr.hostEps = append(cr.hostEps, endpointRef{node: n, addr: ep.Addr, proto: pn.proto, port: pn.port, svc: svc.Key()})
					}
					continue
				}
				if ep.Pod == "" && !cr.r.inPodCIDR(ep.Addr) {
					if svc.Namespace == "default" && svc.Name == "kubernetes" {
						// The API server: a managed control plane is reached through
						// a path the exports may not show (EKS's cross-account
						// interfaces, GKE's peering); kubelet's side is probed below.
						cr.note(fmt.Sprintf("cloud: the API server's endpoint %s (service/default/kubernetes) is outside the nodes: the way pods and nodes reach it (a managed control plane's own path) was not checked", netip.AddrPortFrom(ep.Addr, uint16(epp.Port))))
						continue
					}
					k := ep.Addr.String() + " " + pn.String()
					if !outs[k] {
						outs[k] = true
						cr.outEps = append(cr.outEps, endpointRef{addr: ep.Addr, proto: pn.proto, port: pn.port, svc: svc.Key()})
					}
					continue
				}
				ports[pn] = true
			}
		}
	}
	for pn := range ports {
		cr.podPorts = append(cr.podPorts, pn)
	}
	sort.Slice(cr.podPorts, func(i, j int) bool {
		a, b := cr.podPorts[i], cr.podPorts[j]
		if a.proto != b.proto {
			return a.proto < b.proto
		}
		return a.port < b.port
	})
	if len(cr.podPorts) > maxPodPorts {
		var rest []string
		for _, pn := range cr.podPorts[maxPodPorts:] {
			rest = append(rest, pn.String())
		}
		cr.notes = append(cr.notes, fmt.Sprintf("cloud: pod-to-pod probes cover the first %d of %d Service target ports; not probed: %s", maxPodPorts, len(cr.podPorts), listSome(rest, 10)))
		cr.podPorts = cr.podPorts[:maxPodPorts]
	}
	sort.Slice(cr.outEps, func(i, j int) bool { return cr.outEps[i].less(cr.outEps[j]) })
	sort.Slice(cr.hostEps, func(i, j int) bool { return cr.hostEps[i].less(cr.hostEps[j]) })
}

func protoOf(p corev1.Protocol) uint8 {
	switch p {
	case corev1.ProtocolUDP:
		return packet.UDP
	case corev1.ProtocolSCTP:
		return packet.SCTP
	}
	return packet.TCP
}

// nodeAddr is a node's first InternalIP (else its first address).
func nodeAddr(n *model.Node) netip.Addr {
	if a := n.InternalIPs(); len(a) > 0 {
		return a[0]
	}
	if len(n.Addrs) > 0 {
		return n.Addrs[0]
	}
	return netip.Addr{}
}

// nodeAddrLike is a node's first InternalIP of like's address family (else its first
// address of that family): a probe's source and destination are of one family.
func nodeAddrLike(n *model.Node, like netip.Addr) netip.Addr {
	for _, as := range [][]netip.Addr{n.InternalIPs(), n.Addrs} {
		for _, a := range as {
			if a.Is4() == like.Is4() {
				return a
			}
		}
	}
	return netip.Addr{}
}

// families are the address families probed, IPv4 first: one address of each.
var families = []netip.Addr{netip.IPv4Unspecified(), netip.IPv6Unspecified()}

// podOn is the address of a pod on the node (a running one's, else one in its pod CIDR)
// of like's address family, and what it is, for the messages.
func (cr *cloudRun) podOn(n *model.Node, like netip.Addr) (netip.Addr, string) {
	for _, p := range cr.r.c.PodsOnNode(n.Name) {
		if p.HostNetwork() {
			continue
		}
		for _, a := range p.IPs {
			if a.Is4() == like.Is4() {
				return a, "pod " + p.Key()
			}
		}
	}
	for _, pc := range n.PodCIDRs {
		if pc.Addr().Is4() == like.Is4() {
			// The second address: the first is often the node's bridge (cni0, cbr0).
			return pc.Addr().Next().Next(), "an address of node " + n.Name + "'s pod CIDR " + pc.String()
		}
	}
	return netip.Addr{}, ""
}

// routesOf reads a node's host routing once.
func (cr *cloudRun) routesOf(n string) *nodeRoutes {
	if nr := cr.routers[n]; nr != nil {
		return nr
	}
	nr := &nodeRoutes{links: map[string]*iproute.Link{}}
	cr.routers[n] = nr
	if !cr.r.c.HasNodeState(n) {
		nr.none = true
		return nr
	}
	host, err := model.LoadNetNS(cr.r.c.Bundle, bundle.NodeDir(n), "host")
	if err != nil {
		nr.err = err
		return nr
	}
	nr.router = routing.New(host.Routes, host.Rules, host.Links, host.Sysctls)
	for i := range host.Links {
		nr.links[host.Links[i].Name] = &host.Links[i]
	}
	return nr
}

// encap is how a node sends pod traffic to another node: natively (the pod packet, via
// a gateway), or inside a tunnel whose outer packet is what the cloud sees.
type encap struct {
	kind  string // "" native, vxlan, geneve, ipip
	outer packet.Packet
	via   netip.Addr
	label string
}

// encapFor looks up a's route to a pod address of b, as simulate's transmit does: the
// device it leaves through decides the packet the cloud network carries.
func (cr *cloudRun) encapFor(a, b *model.Node, dst netip.Addr) encap {
	e := encap{via: dst}
	nr := cr.routesOf(a.Name)
	if nr.none || nr.err != nil || nr.router == nil {
		what := "has no dump"
		if nr.err != nil {
			what = "has a dump netsim could not read (" + nr.err.Error() + ")"
		}
		cr.note(fmt.Sprintf("cloud: node %s %s: its pod traffic was judged as sent natively (pod addresses on the wire), since its overlay device is not known", a.Name, what))
		return e
	}
	d := nr.router.Lookup(routing.Query{Dst: dst})
	if d.Kind != routing.Unicast || len(d.Hops) == 0 {
		return e // a missing route is diagnose's route-missing finding, not the cloud's
	}
	h := d.Hops[0]
	if h.Gateway.IsValid() {
		e.via = h.Gateway
	}
	l := nr.links[h.Dev]
	if l == nil {
		return e
	}
	src, peer := nodeAddr(a), nodeAddrLike(b, nodeAddr(a))
	switch {
	case l.Kind == "vxlan" || l.VXLAN != nil:
		port := 8472 // the kernel's default dstport (flannel's); Calico and Cilium set 4789 / 8472
		assumed := ""
		if l.VXLAN != nil {
			if l.VXLAN.Port != 0 {
				port = l.VXLAN.Port
			}
			if l.VXLAN.Local.IsValid() {
				src = l.VXLAN.Local
			}
		} else {
			// Said, since a CNI on 4789 (Calico) would be judged on the wrong port.
			assumed = " assumed"
			cr.note(fmt.Sprintf("cloud: node %s's VXLAN device %s has no configuration in the dump (dump it with ip -d): its outer packet was judged on the kernel's default UDP port 8472", a.Name, l.Name))
		}
		e.kind = "vxlan"
		e.outer = packet.Packet{Src: src, Dst: peer, Proto: packet.UDP, SPort: 49152, DPort: uint16(port), CtState: packet.CtNew}
		e.label = fmt.Sprintf("VXLAN (UDP %d%s, %s)", port, assumed, l.Name)
	case l.Kind == "geneve":
		e.kind = "geneve"
		e.outer = packet.Packet{Src: src, Dst: peer, Proto: packet.UDP, SPort: 49152, DPort: 6081, CtState: packet.CtNew}
		e.label = "Geneve (UDP 6081, " + l.Name + ")"
	case l.Kind == "ipip":
		if h.Gateway.IsValid() {
			peer = h.Gateway
		}
		e.kind = "ipip"
		e.outer = packet.Packet{Src: src, Dst: peer, Proto: 4, CtState: packet.CtNew}
		e.label = "IP-in-IP (protocol 4, " + l.Name + ")"
	case l.Kind == "wireguard" || l.Kind == "gre" || l.Kind == "ip6tnl":
		cr.note(fmt.Sprintf("cloud: node %s sends pod traffic through the %s tunnel %s, whose outer packet netsim does not model: the cloud's view of it was not checked", a.Name, l.Kind, l.Name))
		e.kind = "unsupported"
	}
	if e.kind != "" && e.kind != "unsupported" && (!e.outer.Src.IsValid() || !e.outer.Dst.IsValid()) {
		cr.note(fmt.Sprintf("cloud: node %s sends pod traffic to node %s through %s, but they have no addresses of one family for its outer packet: the cloud's view of it was not checked", a.Name, b.Name, e.label))
		e.kind = "unsupported"
	}
	return e
}

func (cr *cloudRun) note(s string) {
	for _, n := range cr.notes {
		if n == s {
			return
		}
	}
	cr.notes = append(cr.notes, s)
}

// nodeToNode probes every ordered pair of classes with the traffic the cluster needs.
func (cr *cloudRun) nodeToNode() {
	for _, A := range cr.classes {
		for _, B := range cr.classes {
			a, b := A.nodes[0], B.nodes[0]
			if A == B {
				if len(A.nodes) < 2 {
					continue
				}
				b = A.nodes[1]
			}
			cr.podTraffic(a, b)
		}
	}
	if len(cr.unprobed) > 0 {
		cr.note(fmt.Sprintf("cloud: pod traffic between %d pair(s) of nodes was not checked, since they have no pod address and node address of one address family in common: %s", len(cr.unprobed), listSome(cr.unprobed, 10)))
	}
	// Host-network endpoints (the API server on the control plane, node agents): from one
	// node of every class to each.
	for _, ep := range cr.hostEps {
		for _, A := range cr.classes {
			a := A.nodes[0]
			if a == ep.node {
				if len(A.nodes) < 2 {
					continue
				}
				a = A.nodes[1]
			}
			src := nodeAddrLike(a, ep.addr)
			if !src.IsValid() {
				cr.note(fmt.Sprintf("cloud: node %s has no address of %s's family: its traffic to the host-network endpoint of service/%s was not checked", a.Name, ep.addr, ep.svc))
				continue
			}
			p := packet.Packet{Src: src, Dst: ep.addr, Proto: ep.proto, SPort: probeSPort, DPort: ep.port, CtState: packet.CtNew}
			cr.cross(a, ep.node, p, ep.addr, fmt.Sprintf("node %s to node %s, the host-network endpoint of service/%s, %s", a.Name, ep.node.Name, ep.svc, protoNum{ep.proto, ep.port}))
		}
	}
	// The API server reaches every kubelet on 10250 (logs, exec, port-forward).
	var cps []*model.Node
	for _, n := range cr.r.c.Nodes {
		if _, ok := n.Labels["node-role.kubernetes.io/control-plane"]; ok {
			cps = append(cps, n)
		} else if _, ok := n.Labels["node-role.kubernetes.io/master"]; ok {
			cps = append(cps, n)
		}
	}
	if len(cps) == 0 {
		cr.notes = append(cr.notes, "cloud: no node has the control-plane role: kubelet's port 10250 from the API server (outside the nodes) was not checked")
		return
	}
	sort.Slice(cps, func(i, j int) bool { return cps[i].Name < cps[j].Name })
	cp := cps[0]
	for _, B := range cr.classes {
		b := B.nodes[0]
		if b == cp {
			if len(B.nodes) < 2 {
				continue
			}
			b = B.nodes[1]
		}
		src, dst := nodeAddr(cp), nodeAddrLike(b, nodeAddr(cp))
		if !src.IsValid() || !dst.IsValid() {
			cr.note(fmt.Sprintf("cloud: control-plane node %s and node %s have no addresses of one family: kubelet's port %d there was not checked", cp.Name, b.Name, kubeletPort))
			continue
		}
		p := packet.Packet{Src: src, Dst: dst, Proto: packet.TCP, SPort: probeSPort, DPort: kubeletPort, CtState: packet.CtNew}
		cr.cross(cp, b, p, p.Dst, fmt.Sprintf("control-plane node %s to the kubelet of node %s, TCP %d", cp.Name, b.Name, kubeletPort))
	}
}

// podTraffic probes a's pods (and a itself, where kube-proxy masquerades) to b's pods, in
// every address family both nodes have pods and addresses in.
func (cr *cloudRun) podTraffic(a, b *model.Node) {
	probed := false
	for _, fam := range families {
		src, srcWhat := cr.podOn(a, fam)
		dst, dstWhat := cr.podOn(b, fam)
		na, nb := nodeAddrLike(a, fam), nodeAddrLike(b, fam)
		if !src.IsValid() || !dst.IsValid() || !na.IsValid() || !nb.IsValid() {
			continue
		}
		probed = true
		e := cr.encapFor(a, b, dst)
		switch e.kind {
		case "unsupported":
			return
		case "":
		default:
			// The cloud sees only the outer packet: one probe for every pod port and family.
			cr.cross(a, b, e.outer, e.outer.Dst, fmt.Sprintf("node %s to node %s, the overlay's %s carrying pod traffic", a.Name, b.Name, e.label))
			return
		}
		if len(cr.podPorts) == 0 {
			cr.note("cloud: no Service targets a port on pods: pod-to-pod traffic on the wire (no overlay) was not probed")
			return
		}
		for _, pn := range cr.podPorts {
			p := packet.Packet{Src: src, Dst: dst, Proto: pn.proto, SPort: probeSPort, DPort: pn.port, CtState: packet.CtNew}
			cr.cross(a, b, p, e.via, fmt.Sprintf("%s on node %s to %s on node %s, %s (a port Services target)", srcWhat, a.Name, dstWhat, b.Name, pn))
			if cr.masq {
				p.Src = na
				cr.cross(a, b, p, e.via, fmt.Sprintf("node %s to %s on node %s, %s (NodePort traffic kube-proxy masquerades to the node's address)", a.Name, dstWhat, b.Name, pn))
			}
		}
	}
	if !probed {
		cr.unprobed = append(cr.unprobed, a.Name+" -> "+b.Name)
	}
}

// cross judges a packet from node a to node b through the provider: egress, route, ingress.
func (cr *cloudRun) cross(a, b *model.Node, p packet.Packet, via netip.Addr, what string) {
	l := cloud.Leg{From: a.Name, To: b.Name, Via: via, Packet: p}
	if cr.judge("node-to-node", what, a.Name, cr.p.Egress(l)) {
		return
	}
	rds, land := cr.p.Route(l)
	if cr.judge("node-to-node", what, a.Name, rds) {
		return
	}
	if land.Node != b.Name {
		where := landingText(land)
		cr.record("node-to-node", what, a.Name, cloud.Decision{Verdict: cloud.Misroute, Code: "cloud-misroute",
			Message: fmt.Sprintf("the %s network delivers %s to %s, not to node %s", cr.p.Name(), flowText(p), where, b.Name),
			Fix:     "route node " + b.Name + "'s addresses to its interface"}, []Evidence{object("node", b.Name, b.Pos)})
		return
	}
	cr.judge("node-to-node", what, b.Name, cr.p.Ingress(l))
}

// judge records the first decision that blocks, or warns, and reports whether one blocked.
func (cr *cloudRun) judge(kind, what, node string, ds []cloud.Decision) bool {
	for _, d := range ds {
		if d.Blocks() || d.Warning {
			cr.record(kind, what, node, d, nil)
		}
		if d.Blocks() {
			return true
		}
	}
	return false
}

// record adds a probe to the finding of its deciding object, creating it.
func (cr *cloudRun) record(kind, what, node string, d cloud.Decision, extra []Evidence) {
	sev := Error
	switch {
	case d.Verdict == cloud.Unknown, d.Warning && !d.Blocks():
		sev = Warning
	case kind == "pod-to-internet" || kind == "outside-to-nodeport":
		// Nothing in the cluster's objects says pods must reach the internet, or that a
		// NodePort must be open to every address: a private cluster may mean it.
		sev = Warning
	}
	code := d.Code
	if code == "" {
		code = "cloud-" + d.Verdict.String()
	}
	key := strings.Join([]string{kind, code, d.Object, d.Pos.String(), d.Fix, string(sev)}, "\x00")
	if cf := cr.findings[key]; cf != nil {
		cf.flows = append(cf.flows, what)
		cf.nodes[node] = true
		return
	}
	ev := Evidence{Object: d.Object, File: d.Pos.File, Line: d.Pos.Line, Entry: d.Pos.Entry, Text: d.Text}
	if ev.Object == "" && ev.File == "" {
		ev = Evidence{Object: "cloud/" + cr.p.Name(), Text: d.Step}
	}
	msg := what + ": " + d.Message
	if d.Message == "" {
		msg = fmt.Sprintf("%s: %s %s", what, d.Step, d.Verdict)
	}
	fix := d.Fix
	switch {
	case fix != "":
	case d.Verdict == cloud.Unknown:
		fix = "add the missing export to the bundle's cloud/" + cr.p.Name() + " folder"
	default:
		fix = "change " + ev.Object + " so that it lets the traffic through"
	}
	cr.findings[key] = &cloudFinding{
		f:     Finding{Code: code, Severity: sev, Node: node, Message: msg, Evidence: append([]Evidence{ev}, extra...), Fix: fix},
		flows: []string{what}, nodes: map[string]bool{node: true},
	}
	cr.order = append(cr.order, key)
}

// landingText says where the provider's network handed a packet over.
func landingText(land cloud.Landing) string {
	switch {
	case land.Node != "":
		return "node " + land.Node
	case land.Beyond != "":
		return land.Beyond
	}
	return "nowhere"
}

func flowText(p packet.Packet) string {
	if p.HasPorts() {
		return fmt.Sprintf("%s %s -> %s:%d", packet.ProtoName(p.Proto), p.Src, p.Dst, p.DPort)
	}
	return fmt.Sprintf("%s %s -> %s", packet.ProtoName(p.Proto), p.Src, p.Dst)
}

// clients are the outside addresses of like's family a Service admits: one in each of its
// loadBalancerSourceRanges of that family (up to eight), else two documentation clients
// of unrelated ranges (TEST-NET-2 and TEST-NET-1, RFC 5737; 2001:db8::/32, RFC 3849),
// since a Service without source ranges admits every address and a cloud rule that admits
// only some is caught by one of them. None when the source ranges admit no address of
// that family.
func clients(svc *model.Service, like netip.Addr) []netip.Addr {
	anyClient := []netip.Addr{netip.MustParseAddr(cloudClient), netip.MustParseAddr(cloudClient2)}
	if !like.Is4() {
		anyClient = []netip.Addr{netip.MustParseAddr(cloudClient6), netip.MustParseAddr(cloudClient6b)}
	}
	var out []netip.Addr
	for _, s := range svc.Spec.LoadBalancerSourceRanges {
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil || p.Addr().Is4() != like.Is4() {
			continue
		}
		if p.Bits() == 0 {
			return anyClient
		}
		a := p.Masked().Addr()
		if p.Bits() < a.BitLen() {
			a = a.Next()
		}
		if out = append(out, a); len(out) == 8 {
			break
		}
	}
	if len(out) == 0 && len(svc.Spec.LoadBalancerSourceRanges) == 0 {
		return anyClient
	}
	return out
}

// outsideToLB asks the provider how every LoadBalancer Service's address and port is
// entered from an admitted client (row 22).
func (cr *cloudRun) outsideToLB() {
	for _, svc := range cr.r.c.Services {
		if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
			continue
		}
		svcEv := object("service", svc.Key(), svc.Pos)
		var ips []netip.Addr
		for _, in := range svc.Status.LoadBalancer.Ingress {
			if a, err := netip.ParseAddr(in.IP); err == nil {
				ips = append(ips, a.Unmap())
			} else if in.Hostname != "" {
				cr.note(fmt.Sprintf("cloud: service/%s's load balancer %s has a hostname, not an address: how it is entered was not checked", svc.Key(), in.Hostname))
			}
		}
		if len(ips) == 0 {
			cr.note(fmt.Sprintf("cloud: service/%s has no load-balancer address in its status: how it is entered was not checked", svc.Key()))
			continue
		}
		if len(svc.Spec.Ports) == 0 {
			cr.note(fmt.Sprintf("cloud: service/%s has no ports: how its load balancer is entered was not checked", svc.Key()))
			continue
		}
		// The clients of every address's family, in the order client, address, port.
		byIP := make([][]netip.Addr, len(ips))
		most := 0
		for i, ip := range ips {
			if byIP[i] = clients(svc, ip); len(byIP[i]) == 0 {
				cr.note(fmt.Sprintf("cloud: service/%s's loadBalancerSourceRanges admit no address of %s's family: that address was not checked", svc.Key(), ip))
			}
			most = max(most, len(byIP[i]))
		}
		for c := 0; c < most; c++ {
			for i, ip := range ips {
				if c >= len(byIP[i]) {
					continue
				}
				from := byIP[i][c]
				for _, sp := range svc.Spec.Ports {
					cr.enterLB(svc, svcEv, from, ip, sp)
				}
			}
		}
	}
}

// enterLB judges one client entering one load-balancer address and port.
func (cr *cloudRun) enterLB(svc *model.Service, svcEv Evidence, from, ip netip.Addr, sp corev1.ServicePort) {
	p := packet.Packet{Src: from, Dst: ip, Proto: protoOf(sp.Protocol), SPort: probeSPort, DPort: uint16(sp.Port), CtState: packet.CtNew}
	what := fmt.Sprintf("client %s to service/%s's load balancer %s (%s)", from, svc.Key(), netip.AddrPortFrom(ip, uint16(sp.Port)), strings.ToUpper(packet.ProtoName(p.Proto)))
	entries, ok := cr.p.Inbound(p)
	if !ok || len(entries) == 0 {
		msg := fmt.Sprintf("the %s exports do not know the address %s, so whether the load balancer is entered is not known", cr.p.Name(), ip)
		if ok {
			msg = fmt.Sprintf("the %s exports know the address %s but give no way in for %s, so whether the load balancer is entered is not known", cr.p.Name(), ip, flowText(p))
		}
		cr.record("outside-to-lb", what, "", cloud.Decision{Verdict: cloud.Unknown, Code: "cloud-lb-unknown", Object: "service/" + svc.Key(), Pos: svc.Pos,
			Message: msg,
			Fix:     "add the load balancer exports of the cloud/" + cr.p.Name() + " folder, from the account and region that serve it"}, nil)
		return
	}
	for _, e := range entries {
		w := what
		if e.Branch != "" {
			w += ", " + e.Branch
		}
		cr.judgeWith("outside-to-lb", w, e.Node, e.Decisions, svcEv)
	}
}

// outsideToNodePort judges an outside client reaching every NodePort Service's node port
// on the nodes that answer it (externalTrafficPolicy Local: those with a ready endpoint),
// at the node's interface, as the walk does for a node's address reached from outside.
// LoadBalancer Services are entered through their load balancer (outsideToLB), whose
// own address or groups the node must admit, not every client.
func (cr *cloudRun) outsideToNodePort() {
	for _, svc := range cr.r.c.Services {
		if svc.Spec.Type != corev1.ServiceTypeNodePort {
			continue
		}
		var ports []corev1.ServicePort
		for _, sp := range svc.Spec.Ports {
			if sp.NodePort != 0 {
				ports = append(ports, sp)
			}
		}
		if len(ports) == 0 {
			cr.note(fmt.Sprintf("cloud: service/%s is of type NodePort but lists no node port: how it is entered from outside was not checked", svc.Key()))
			continue
		}
		local := svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
		serving := map[string]bool{}
		if local {
			eps, _ := cr.r.c.ServiceEndpoints(svc)
			for _, ep := range eps {
				if ep.Ready && ep.NodeName != "" {
					serving[ep.NodeName] = true
				}
			}
			if len(serving) == 0 {
				cr.note(fmt.Sprintf("cloud: service/%s has externalTrafficPolicy Local and no ready endpoint on a node: no node answers its node port, so the cloud's side was not checked", svc.Key()))
				continue
			}
		}
		for _, cl := range cr.classes {
			var n *model.Node
			for _, m := range cl.nodes {
				if !local || serving[m.Name] {
					n = m
					break
				}
			}
			if n == nil {
				continue // no node of the class answers the port (Local): nothing to enter
			}
			dst := nodeAddr(n)
			from := clients(svc, dst)
			if !dst.IsValid() || len(from) == 0 {
				cr.note(fmt.Sprintf("cloud: node %s has no address an outside client of service/%s can use: its node port was not checked", n.Name, svc.Key()))
				continue
			}
			for _, sp := range ports {
				p := packet.Packet{Src: from[0], Dst: dst, Proto: protoOf(sp.Protocol), SPort: probeSPort, DPort: uint16(sp.NodePort), CtState: packet.CtNew}
				what := fmt.Sprintf("client %s to node %s's node port %d of service/%s (%s)", from[0], n.Name, sp.NodePort, svc.Key(), strings.ToUpper(packet.ProtoName(p.Proto)))
				cr.judgeWith("outside-to-nodeport", what, n.Name, cr.p.Ingress(cloud.Leg{To: n.Name, Via: p.Dst, Packet: p}), object("service", svc.Key(), svc.Pos))
			}
		}
	}
}

// judgeWith is judge with an evidence added to the finding.
func (cr *cloudRun) judgeWith(kind, what, node string, ds []cloud.Decision, ev Evidence) {
	for _, d := range ds {
		if d.Blocks() || d.Warning {
			cr.record(kind, what, node, d, []Evidence{ev})
		}
		if d.Blocks() {
			return
		}
	}
}

// toEndpoints judges the pods of one node of every class reaching each endpoint outside
// the nodes and pods (rows 19 and 20: a peered VPC, an on-premises range): the Service
// says the traffic should flow. The source is the one the node's own rules give the pod's
// packet (egressSource): the peer sees the node's address when the node masquerades.
func (cr *cloudRun) toEndpoints() {
	for _, ep := range cr.outEps {
		for _, cl := range cr.classes {
			n := cl.nodes[0]
			eg := cr.egressSource(n, ep.addr, ep.proto, ep.port)
			if !eg.src.IsValid() {
				cr.note(fmt.Sprintf("cloud: node %s has no address of %s's family: its pods' traffic to that endpoint of service/%s was not checked", n.Name, ep.addr, ep.svc))
				continue
			}
			p := packet.Packet{Src: eg.src, Dst: ep.addr, Proto: ep.proto, SPort: probeSPort, DPort: ep.port, CtState: packet.CtNew}
			what := fmt.Sprintf("pods of node %s to %s (%s), an endpoint of service/%s outside the cluster's nodes and pods, %s", n.Name, netip.AddrPortFrom(ep.addr, ep.port), strings.ToUpper(packet.ProtoName(ep.proto)), ep.svc, eg.how)
			l := cloud.Leg{From: n.Name, Via: ep.addr, Packet: p}
			if cr.judge("to-endpoint", what, n.Name, cr.p.Egress(l)) {
				continue
			}
			rds, land := cr.p.Route(l)
			if cr.judge("to-endpoint", what, n.Name, rds) || land.Node == "" {
				continue
			}
			l.To = land.Node
			cr.judge("to-endpoint", what, land.Node, cr.p.Ingress(l))
		}
	}
}

// toInternet judges the pods of one node of every class reaching a public address on 443
// (row 21), with the source the node's own rules give them (egressSource).
func (cr *cloudRun) toInternet() {
	for _, cl := range cr.classes {
		n := cl.nodes[0]
		dst := netip.MustParseAddr(internetProbe)
		if a := nodeAddr(n); a.IsValid() && !a.Is4() {
			dst = netip.MustParseAddr(internetProbe6)
		}
		eg := cr.egressSource(n, dst, packet.TCP, 443)
		if !eg.src.IsValid() {
			cr.note(fmt.Sprintf("cloud: node %s has no address: its pods' traffic to the internet was not checked", n.Name))
			continue
		}
		p := packet.Packet{Src: eg.src, Dst: dst, Proto: packet.TCP, SPort: probeSPort, DPort: 443, CtState: packet.CtNew}
		what := fmt.Sprintf("pods of node %s to the internet (%s), %s", n.Name, netip.AddrPortFrom(dst, 443), eg.how)
		l := cloud.Leg{From: n.Name, Via: dst, Packet: p}
		if cr.judge("pod-to-internet", what, n.Name, cr.p.Egress(l)) {
			continue
		}
		rds, land := cr.p.Route(l)
		if cr.judge("pod-to-internet", what, n.Name, rds) {
			continue
		}
		if land.Node != "" {
			cr.record("pod-to-internet", what, n.Name, cloud.Decision{Verdict: cloud.Misroute, Code: "cloud-misroute",
				Message: fmt.Sprintf("the %s network delivers %s to node %s, not to the internet", cr.p.Name(), flowText(p), land.Node),
				Fix:     "route 0.0.0.0/0 from node " + n.Name + "'s subnet to a NAT or internet gateway"}, []Evidence{object("node", n.Name, n.Pos)})
		}
	}
}

// egress is the source a pod's packet has when it reaches the cloud, and how it was found.
type egress struct {
	src netip.Addr
	how string
}

// egressSource walks a packet from a pod of node n to dst through the node's own rules
// (simulate's trace: the CNI's masquerade, ip-masq-agent's nonMasqueradeCIDRs, an egress
// gateway) and returns the source it has at the first cloud hop. Without a pod with a dump
// on the node, or when the walk ends before the cloud (the node itself drops it: its own
// finding), the node's address stands in, since CNIs masquerade traffic leaving the
// cluster by default; the message says which.
func (cr *cloudRun) egressSource(n *model.Node, dst netip.Addr, proto uint8, port uint16) egress {
	key := fmt.Sprint(n.Name, " ", dst, " ", proto, " ", port)
	if e, ok := cr.sources[key]; ok {
		return e
	}
	na := nodeAddrLike(n, dst)
	e := egress{src: na, how: fmt.Sprintf("sent as the node's address %s (CNIs masquerade traffic leaving the cluster; no walk of the node's rules showed otherwise)", na)}
	defer func() { cr.sources[key] = e }()
	var (
		pod   *model.Pod
		podIP netip.Addr
	)
	for _, p := range cr.r.c.PodsOnNode(n.Name) {
		if p.HostNetwork() {
			continue
		}
		for _, a := range p.IPs {
			if a.Is4() == dst.Is4() {
				pod, podIP = p, a
				break
			}
		}
		if pod != nil {
			break
		}
	}
	if pod == nil || !cr.r.c.HasNodeState(n.Name) {
		return e
	}
	if cr.sim == nil {
		cr.sim = simulate.New(cr.r.c)
		cr.sim.UseCloud(cr.p) // the exports are parsed once
	}
	src, err := simulate.Resolve(cr.r.c, "pod/"+pod.Key())
	if err != nil {
		return e
	}
	to, err := simulate.Resolve(cr.r.c, dst.String())
	if err != nil {
		return e
	}
	res, err := cr.sim.Trace(simulate.Query{Src: src, Dst: to, Port: port, Proto: proto, SPort: probeSPort})
	if err != nil {
		e.how = fmt.Sprintf("sent as the node's address %s (the walk of pod/%s's packet through node %s's rules failed: %v)", na, pod.Key(), n.Name, err)
		return e
	}
	for _, path := range res.Paths {
		for _, h := range path.Hops {
			if h.NetNS != "cloud" || h.Reply || !h.Packet.Src.IsValid() {
				continue
			}
			if h.Packet.Src == podIP {
				e = egress{src: h.Packet.Src, how: fmt.Sprintf("sent as pod/%s's own address %s (node %s's rules do not masquerade it)", pod.Key(), h.Packet.Src, n.Name)}
			} else {
				e = egress{src: h.Packet.Src, how: fmt.Sprintf("sent as %s (node %s's rules translate pod/%s's %s)", h.Packet.Src, n.Name, pod.Key(), podIP)}
			}
			return e
		}
	}
	return e
}

// overlaps compares the pod and Service CIDRs with the ranges the provider routes (row
// 24, cloud.CloudRanges): a pod or Service CIDR overlapping a range routed elsewhere (a
// peered network, a VPN, on premises) is an error citing the route, since traffic from
// pods to hosts there, or to Services, goes the wrong way. Against the network's own
// (Local) ranges: a Service CIDR overlapping one is an error (kube-proxy captures the
// hosts' addresses), unless it lies inside a range the network reserves for the cluster
// (Pods: GKE's secondary ranges); a pod CIDR overlapping one is VPC-native when the
// network delivers a pod address there to its node (localOverlap), else an error.
// Without CloudRanges, a pod CIDR that overlaps a routed range still shows in the route
// decisions of the pod-to-pod probes (the provider's own overlap code).
func (cr *cloudRun) overlaps() {
	cp, ok := cr.p.(cloud.CloudRanges)
	if !ok {
		cr.note(fmt.Sprintf("cloud/%s does not list its routed ranges: pod and Service CIDRs were compared with them only through the routes the node-to-node probes took", cr.p.Name()))
		return
	}
	ranges := cp.RoutedRanges()
	// reserved: a cluster range inside a range the network reserves for the cluster is
	// VPC-native, and so not an overlap with any of the network's own ranges around it.
	reserved := func(p netip.Prefix) bool {
		for _, rr := range ranges {
			if rr.Pods && rr.Prefix.Bits() <= p.Bits() && rr.Prefix.Contains(p.Addr()) {
				return true
			}
		}
		return false
	}
	for _, pc := range cr.r.podCIDRs {
		native := reserved(pc)
		for _, rr := range ranges {
			if !rr.Prefix.Overlaps(pc) || (rr.Local && native) {
				continue
			}
			if rr.Local {
				cr.localOverlap(pc, rr)
				continue
			}
			cr.record("cidr", "pod CIDR "+pc.String(), "", cloud.Decision{Verdict: cloud.Misroute, Code: "cloud-cidr-overlap", Object: rr.Object, Pos: rr.Pos,
				Text:    rr.Prefix.String() + " -> " + rr.Where,
				Message: fmt.Sprintf("the cluster's pod CIDR %s overlaps %s, which the %s network routes to %s: traffic between pods and that range goes the wrong way", pc, rr.Prefix, cr.p.Name(), rr.Where),
				Fix:     "give the cluster a pod CIDR that overlaps no range the network routes, or renumber the other network"}, nil)
		}
	}
	svcs := cr.serviceCIDRs()
	if len(svcs) == 0 {
		cr.note("cloud: the bundle does not say the Service CIDR (manifest serviceCIDRs, ServiceCIDR objects, kube-apiserver's --service-cluster-ip-range): it was not compared with the ranges cloud/" + cr.p.Name() + " routes")
	}
	for _, sc := range svcs {
		native := reserved(sc.p)
		for _, rr := range ranges {
			if !rr.Prefix.Overlaps(sc.p) || (rr.Local && native) {
				continue
			}
			where := rr.Where
			if rr.Local {
				where = "its own range, " + rr.Where
			}
			cr.record("cidr", "Service CIDR "+sc.p.String(), "", cloud.Decision{Verdict: cloud.Misroute, Code: "cloud-cidr-overlap", Object: rr.Object, Pos: rr.Pos,
				Text:    rr.Prefix.String() + " -> " + where,
				Message: fmt.Sprintf("the cluster's Service CIDR %s overlaps %s, which the %s network routes (%s): pods cannot reach hosts there, kube-proxy takes the addresses", sc.p, rr.Prefix, cr.p.Name(), where),
				Fix:     "choose a Service CIDR outside every range the network routes"}, []Evidence{sc.ev})
		}
	}
}

// localOverlap judges a pod CIDR overlapping one of the network's own ranges. VPC-native
// networking (the AWS VPC CNI, Azure CNI, Terway, Tencent's VPC-CNI, a host-gw route the
// network takes to the node) gives pods addresses the network itself delivers to their
// node: then the overlap is the design. The provider is asked, as for a probe, where it
// delivers a pod address inside the overlap sent from another node; anything else (no
// pod address there yet, a drop, another landing) makes the overlap an error: hosts of
// that range and pods can get the same addresses.
func (cr *cloudRun) localOverlap(pc netip.Prefix, rr cloud.RoutedRange) {
	ov := pc
	if rr.Prefix.Bits() > pc.Bits() {
		ov = rr.Prefix
	}
	var (
		owner *model.Node
		addr  netip.Addr
		what  string
	)
	for _, n := range cr.r.c.Nodes {
		if a, w := cr.podOn(n, ov.Addr()); a.IsValid() && ov.Contains(a) {
			owner, addr, what = n, a, w
			break
		}
	}
	if owner == nil {
		for _, p := range cr.r.c.Pods {
			if p.HostNetwork() || p.Terminal() || len(p.IPs) == 0 || !ov.Contains(p.IPs[0]) {
				continue
			}
			if n := cr.r.c.Node(p.Spec.NodeName); n != nil {
				owner, addr, what = n, p.IPs[0], "pod "+p.Key()
				break
			}
		}
	}
	why := fmt.Sprintf("no pod address of the cluster is in %s yet, so none is the network's", ov)
	if owner != nil {
		var from *model.Node
		for _, n := range cr.r.c.Nodes {
			if n != owner && nodeAddrLike(n, addr).IsValid() {
				from = n
				break
			}
		}
		if from == nil {
			cr.note(fmt.Sprintf("cloud: pod CIDR %s overlaps %s (%s), and with one node whether the network delivers pod addresses there (VPC-native) was not checked", pc, rr.Prefix, rr.Object))
			return
		}
		pk := packet.Packet{Src: nodeAddrLike(from, addr), Dst: addr, Proto: packet.TCP, SPort: probeSPort, DPort: kubeletPort, CtState: packet.CtNew}
		ds, land := cr.p.Route(cloud.Leg{From: from.Name, To: owner.Name, Via: addr, Packet: pk})
		blocked := ""
		for _, d := range ds {
			if d.Verdict == cloud.Unknown {
				// Whether the network delivers pod addresses is not known: a gap, never
				// an allow, nor an overlap error.
				cr.record("cidr", fmt.Sprintf("pod CIDR %s overlaps %s, the %s network's own range (%s), and whether the network delivers %s (%s) to node %s (VPC-native) is not known", pc, rr.Prefix, cr.p.Name(), rr.Object, addr, what, owner.Name), "", d,
					[]Evidence{{Object: rr.Object, File: rr.Pos.File, Line: rr.Pos.Line, Entry: rr.Pos.Entry}})
				return
			}
			if d.Blocks() {
				blocked = d.Verdict.String() + " at " + d.Object
				if d.Message != "" {
					blocked = d.Message
				}
				break
			}
		}
		switch {
		case blocked == "" && land.Node == owner.Name:
			return // VPC-native: the network delivers the pod's address to its node
		case blocked != "":
			why = fmt.Sprintf("the network does not deliver %s (%s) to node %s: %s", addr, what, owner.Name, blocked)
		default:
			to := landingText(land)
			why = fmt.Sprintf("the network delivers %s (%s) to %s, not to node %s", addr, what, to, owner.Name)
		}
	}
	cr.record("cidr", "pod CIDR "+pc.String(), "", cloud.Decision{Verdict: cloud.Misroute, Code: "cloud-cidr-overlap", Object: rr.Object, Pos: rr.Pos,
		Text:    rr.Prefix.String() + " -> " + rr.Where,
		Message: fmt.Sprintf("the cluster's pod CIDR %s overlaps %s, the %s network's own range (%s), and the pods are not VPC-native: %s; hosts of that range and pods can have the same addresses, and traffic between them goes the wrong way", pc, rr.Prefix, cr.p.Name(), rr.Where, why),
		Fix:     "give the cluster a pod CIDR outside the network's ranges, or use the provider's VPC-native CNI, whose pod addresses are the network's own"}, nil)
}

// serviceCIDRs are the cluster's Service ranges: the manifest's and the ServiceCIDR
// objects' (diagnose's own list), else kube-apiserver's --service-cluster-ip-range from
// its pod in the bundle (a kubeadm static pod; `kubectl cluster-info dump` lists it).
func (cr *cloudRun) serviceCIDRs() []cidrEv {
	if out := cr.r.serviceCIDRs(); len(out) > 0 {
		return out
	}
	var out []cidrEv
	for _, p := range cr.r.c.Pods {
		if p.Namespace != "kube-system" || !strings.HasPrefix(p.Name, "kube-apiserver") {
			continue
		}
		for _, c := range p.Spec.Containers {
			args := append(append([]string(nil), c.Command...), c.Args...)
			for i, a := range args {
				v, ok := strings.CutPrefix(a, "--service-cluster-ip-range=")
				if !ok && a == "--service-cluster-ip-range" && i+1 < len(args) {
					v, ok = args[i+1], true
				}
				if !ok {
					continue
				}
				for _, s := range strings.Split(v, ",") {
					if pr, err := netip.ParsePrefix(strings.TrimSpace(s)); err == nil {
						ev := object("pod", p.Key(), p.Pos)
						ev.Text = "--service-cluster-ip-range=" + v
						out = append(out, cidrEv{pr.Masked(), ev})
					}
				}
			}
		}
		if len(out) > 0 {
			return out
		}
	}
	return out
}
