package simulate

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/netsim/netsim/model"
	"github.com/netsim/netsim/model/iproute"
	"github.com/netsim/netsim/policy"
	"github.com/netsim/netsim/rules/packet"
	"github.com/netsim/netsim/rules/routing"
)

// Simulator walks packets through a cluster's graph. The graph grows as walks reach new
// nodes, so a Simulator is not safe for concurrent use.
type Simulator struct {
	C *model.Cluster
	G *Graph
	// MaxPaths bounds how many paths one trace explores (random matches multiply them).
	MaxPaths int
	rules    *ruleCache
	pol      *policy.Engine
	enf      *policy.Enforcer
	cloud    cloudState // the bundle's cloud provider (cloud.go)
}

// New starts a simulator over a loaded cluster.
func New(c *model.Cluster) *Simulator {
	g := NewGraph(c)
	return &Simulator{C: c, G: g, MaxPaths: 512, rules: g.rules}
}

// maxHops bounds a path's namespace crossings: a routing loop ends as unknown rather than
// running forever (the kernel's TTL would end it as a drop).
const maxHops = 32

// walk is one path in progress. Branching copies it.
type walk struct {
	q        Query
	first    packet.Packet // the client's packet as sent
	client   *Space        // the client's namespace; nil for an outside client
	hops     []Hop
	blocks   []block
	branches []string
	conns    []conn
	endpoint string
	reply    bool
	// answer is what the client sees if the packet sent back arrives: delivered for a
	// reply, no-listener for a reset or port unreachable, rejected for a REJECT's error.
	answer Verdict
	ttl    int
	// tunnel holds the inner packets of the tunnels the packet is in, innermost last.
	tunnel []tunneled
	// policyDone is set once the request's policies have been checked.
	policyDone bool
	// infos are findings that do not block (a policy not enforced, a cross-check).
	infos []Finding
	// intent is the API objects' policy verdict for the request, when an enforcer's rules
	// are in the dumps: the end of the path compares it with what the dataplane did.
	intent *intentCheck
	// cloudBack undoes a cloud load balancer's (or gateway's) translation on the reply.
	cloudBack cloudUndo
}

type intentCheck struct {
	allowed bool
	hop     int
	why     string
	chains  []string // the enforcer's chain prefixes
	name    string
}

// tunneled is a packet inside a tunnel, waiting to be decapsulated.
type tunneled struct {
	kind  string // vxlan or ipip
	inner packet.Packet
	vni   int
	from  string // the encapsulating device, for explanations
}

type block struct {
	v Verdict
	f Finding
	// asIf marks a blocker found while the walk went on past a REJECT as if it had
	// allowed the packet: it is reported, but cannot change what the client saw.
	asIf bool
}

// conn is a namespace's conntrack entry for the connection: the request as it left (or
// was delivered in) that namespace, with the NAT done there.
type conn struct {
	space string
	exit  packet.Packet
}

func (w *walk) clone() *walk {
	n := *w
	n.hops = append([]Hop(nil), w.hops...)
	n.blocks = append([]block(nil), w.blocks...)
	n.branches = append([]string(nil), w.branches...)
	n.conns = append([]conn(nil), w.conns...)
	n.tunnel = append([]tunneled(nil), w.tunnel...)
	n.infos = append([]Finding(nil), w.infos...)
	return &n
}

func (w *walk) hop(h Hop) int {
	h.Reply = w.reply
	w.hops = append(w.hops, h)
	return len(w.hops) - 1
}

func (w *walk) blockAt(v Verdict, hop int, code, msg, fix string) {
	asIf := len(w.blocks) > 0 && w.blocks[0].v == VRejected
	w.blocks = append(w.blocks, block{v: v, asIf: asIf, f: Finding{Code: code, Severity: "error", Hop: hop, Message: msg, Fix: fix, AfterFirst: len(w.blocks) > 0}})
}

// conn finds the namespace's conntrack entry that a packet going back belongs to (the
// request may have passed a namespace twice, as two connections, after NAT).
func (w *walk) conn(space string, back packet.Packet) *conn {
	for i := len(w.conns) - 1; i >= 0; i-- {
		if w.conns[i].space == space && replyMatches(w.conns[i].exit, back) {
			return &w.conns[i]
		}
	}
	return nil
}

func (w *walk) hasConn(space string, exit packet.Packet) bool {
	for _, c := range w.conns {
		if c.space == space && c.exit == exit {
			return true
		}
	}
	return false
}

// tracer collects the paths of one trace.
type tracer struct {
	s     *Simulator
	paths []Path
	notes []string
}

// Trace walks the query's packet from SRC to DST, every path, and each path's reply.
func (s *Simulator) Trace(q Query) (*Result, error) {
	t := &tracer{s: s}
	p := packet.Packet{Src: q.Src.Addr, Dst: q.Dst.Addr, Proto: q.Proto, SPort: q.SPort, DPort: q.Port, CtState: packet.CtNew, Len: q.Size}
	switch q.Proto {
	case packet.TCP:
		p.TCPFlags = packet.SYN
	case packet.ICMP:
		p.ICMPType, p.SPort, p.DPort = 8, 0, 0
	}
	if p.HasPorts() && p.SPort == 0 {
		p.SPort = 40000
	}
	if !q.Dst.Addr.IsValid() {
		return nil, usagef("%s has no address in the bundle (a headless Service, or a pod without an IP)", q.Dst.Name)
	}
	s.prefetch(s.nodesFor(q))
	if err := s.openCloud(); err != nil {
		return nil, err
	}
	w := &walk{q: q, ttl: maxHops, answer: VDelivered}
	for _, e := range []Endpoint{q.Src, q.Dst} {
		if e.How != "" {
			t.notes = append(t.notes, e.How)
		}
	}
	switch q.Src.Kind {
	case PodEndpoint, NodeEndpoint:
		sp, err := t.sourceSpace(q.Src)
		if err != nil {
			return nil, err
		}
		if sp == nil {
			w.first = p
			t.fromUndumped(w, p)
			break
		}
		if !p.Src.IsValid() {
			// The kernel picks the source address (the route's preferred source).
			p.Src = netip.Addr{}
		}
		w.client = sp
		eng, err := sp.Engine()
		if err != nil {
			return nil, err
		}
		eng.GoOn, eng.Ports = true, portResolver{t, sp}
		outs := eng.Send(p)
		if len(outs) > 0 {
			p.Src = outs[0].Steps[0].Packet.Src
		}
		w.first = p
		t.outcomes(w, sp, outs)
	default:
		if !p.Src.IsValid() {
			return nil, usagef("%s has no address", q.Src.Name)
		}
		w.first = p
		t.fromOutside(w, p)
	}
	sort.SliceStable(t.paths, func(i, j int) bool { return t.paths[i].Endpoint < t.paths[j].Endpoint })
	return &Result{Query: q, Verdict: commonVerdict(t.paths), Paths: t.paths, Notes: t.notes}, nil
}

// fromUndumped starts a walk whose source namespace the bundle does not hold: the API
// objects decide what they can. The first hop is unknown (the source node's routes and
// rules are not known); a Service's endpoints come from its EndpointSlices, each a path;
// and each path goes on from the node that holds its destination, when that node has a
// dump, so that blockers further on are still found.
func (t *tracer) fromUndumped(w *walk, p packet.Packet) {
	q := w.q
	msg := fmt.Sprintf("%s is on node %s, and the bundle has no dump of %s: the first hops are not known", q.Src.Name, q.Src.Node, t.missingWhat(q.Src))
	fix := "collect the node's dataplane (netsim collect --nodes " + q.Src.Node + ")"
	type target struct {
		addr netip.AddrPort
		node string
		how  string
		pos  string
	}
	var targets []target
	switch q.Dst.Kind {
	case ServiceEndpoint:
		for _, sip := range t.s.C.ServicesByIP(q.Dst.Addr) {
			svc := sip.Service
			var portName string
			found := false
			for _, sp := range svc.Spec.Ports {
				if uint16(sp.Port) == q.Port && packet.ProtoName(q.Proto) == strings.ToLower(string(sp.Protocol)) {
					portName, found = sp.Name, true
				}
			}
			if !found {
				t.endUnknown(w, Hop{Node: q.Src.Node, NetNS: "host", Step: "api", Action: "unknown", Text: "service/" + svc.Key(), Packet: p}, "missing-data",
					msg+fmt.Sprintf("; Service %s has no port %d/%s", svc.Key(), q.Port, packet.ProtoName(q.Proto)), fix)
				return
			}
			eps, _ := t.s.C.ServiceEndpoints(svc)
			for _, e := range eps {
				if !e.Ready {
					continue
				}
				for _, ep := range e.Ports {
					if ep.Name == portName {
						node := e.NodeName
						if node == "" {
							if pod := t.s.C.PodByIP(e.Addr); pod != nil {
								node = pod.Spec.NodeName
							}
						}
						targets = append(targets, target{netip.AddrPortFrom(e.Addr, uint16(ep.Port)), node, "endpoint of Service " + svc.Key(), e.Pos.String()})
					}
				}
			}
			if len(targets) == 0 {
				i := w.hop(Hop{Node: q.Src.Node, NetNS: "host", Step: "api", Action: "reject", Text: "service/" + svc.Key(), Packet: p})
				w.blockAt(VRejected, i, "no-endpoints", fmt.Sprintf("Service %s has no ready endpoint for port %d (its EndpointSlices): kube-proxy rejects connections to it", svc.Key(), q.Port),
					"make the Service's selector match ready pods")
				t.end(w)
				return
			}
		}
	case PodEndpoint, NodeEndpoint:
		targets = append(targets, target{netip.AddrPortFrom(q.Dst.Addr, q.Port), q.Dst.Node, q.Dst.Name, ""})
	}
	if len(targets) == 0 {
		t.endUnknown(w, Hop{Node: q.Src.Node, NetNS: "host", Step: "dump", Action: "unknown", Packet: p}, "missing-data", msg, fix)
		return
	}
	for i, tg := range targets {
		b := w
		if i < len(targets)-1 {
			b = w.clone()
		}
		pk := p
		pk.Dst, pk.DPort = tg.addr.Addr(), tg.addr.Port()
		if !pk.HasPorts() {
			pk.DPort = 0
		}
		b.endpoint = tg.addr.String()
		if !pk.HasPorts() {
			b.endpoint = tg.addr.Addr().String()
		}
		h := b.hop(Hop{Node: q.Src.Node, NetNS: "host", Step: "api", Action: "assume", Text: tg.how + " " + tg.addr.String(), Note: "from the API objects (" + tg.pos + ")", Packet: pk})
		b.blockAt(VUnknown, h, "missing-data", msg+"; the API objects say the packet goes to "+tg.addr.String()+" ("+tg.how+")", fix)
		if tg.node == "" || tg.node == q.Src.Node || !t.s.C.HasNodeState(tg.node) {
			t.end(b)
			continue
		}
		if err := t.s.G.LoadNode(tg.node); err != nil {
			t.end(b)
			continue
		}
		var under *Device
		for _, d := range t.s.G.devicesOf(t.s.G.Space(tg.node, "host")) {
			if t.s.G.OnUnderlay(d) {
				under = d
				break
			}
		}
		if under == nil {
			t.end(b)
			continue
		}
		b.hop(Hop{Node: tg.node, NetNS: "underlay", Step: "underlay", Action: "forward", Packet: pk, Note: "assumed: from node " + q.Src.Node + " to " + under.String()})
		t.arrive(b, under, pk)
	}
}

func (t *tracer) missingWhat(e Endpoint) string {
	if e.Kind == PodEndpoint {
		return "the pod's network namespace"
	}
	return "the node"
}

// sourceSpace is the namespace a pod or node endpoint sends from; nil when the bundle
// has no dump of it.
func (t *tracer) sourceSpace(e Endpoint) (*Space, error) {
	if e.Node == "" {
		return nil, usagef("%s is not scheduled to a node", e.Name)
	}
	if err := t.s.G.LoadNode(e.Node); err != nil {
		if errors.Is(err, model.ErrNoNodeState) {
			return nil, nil
		}
		return nil, err
	}
	if e.Kind == PodEndpoint {
		ns, name, _ := strings.Cut(e.Pod, "/")
		if p := t.s.C.Pod(ns, name); p != nil && p.HostNetwork() {
			return t.s.G.Space(e.Node, "host"), nil
		}
		return t.s.G.Space(e.Node, "pod/"+e.Pod), nil
	}
	return t.s.G.Space(e.Node, "host"), nil
}

// fromOutside brings a packet from outside the cluster to the node that receives it: the
// node that holds the destination address, or, for a Service address that no node holds
// (an external or load-balancer IP), every node with a dump, each a path of its own.
func (t *tracer) fromOutside(w *walk, p packet.Packet) {
	// An address the cloud answers for: a load balancer, a public IP (cloud.go).
	if t.cloudIn(w, p) {
		return
	}
	if d, err := t.s.G.NodeOwning(p.Dst); err == nil && d != nil {
		h := w.hop(Hop{NetNS: "outside", Step: "underlay", Action: "forward", Packet: p, Note: "from outside to " + d.String()})
		_ = h
		t.arrive(w, d, p)
		return
	}
	if len(t.s.C.ServicesByIP(p.Dst)) == 0 {
		t.endUnknown(w, Hop{NetNS: "outside", Step: "underlay", Action: "unknown", Packet: p}, "outside",
			p.Dst.String()+" is neither a node's, a pod's nor a Service's address: where the outside sends it is not in the bundle", "")
		return
	}
	for _, n := range t.s.C.NodeDirs() {
		if err := t.s.G.LoadNode(n); err != nil {
			continue
		}
		host := t.s.G.Space(n, "host")
		var under *Device
		for _, d := range t.s.G.devicesOf(host) {
			if t.s.G.OnUnderlay(d) {
				under = d
				break
			}
		}
		if under == nil {
			continue
		}
		b := w.clone()
		b.branches = append(b.branches, "arrives at node "+n)
		b.hop(Hop{NetNS: "outside", Step: "underlay", Action: "forward", Packet: p, Note: "the Service address " + p.Dst.String() + " is routed to node " + n + " (one path per node)"})
		t.arrive(b, under, p)
	}
}

// outcomes turns what a namespace did with the packet into hops, and follows each way
// it left.
func (t *tracer) outcomes(w *walk, sp *Space, outs []Outcome) {
	for i, o := range outs {
		b := w
		if len(outs) > 1 && i < len(outs)-1 {
			b = w.clone()
		}
		t.outcome(b, sp, o)
	}
}

func (t *tracer) outcome(w *walk, sp *Space, o Outcome) {
	if len(t.paths) >= t.s.MaxPaths {
		return
	}
	base := len(w.hops)
	for _, st := range o.Steps {
		w.hop(Hop{Node: sp.Node, NetNS: sp.Name, Step: st.What, Action: st.Action, Pos: st.Pos, Text: st.Text, Note: st.Note, Packet: st.Packet})
	}
	w.branches = append(w.branches, o.Branches...)
	t.ipvsChecks(w, sp, base) // IPVS against the API objects (ipvs_check.go)
	for _, b := range o.Blocked {
		h := base + b.Step
		if b.Step < 0 || h >= len(w.hops) {
			h = len(w.hops) - 1
		}
		first := len(w.blocks) == 0
		t.blockFromStep(w, sp, b.Kind, b.Reject, b.Why, h, b.Packet)
		if first && b.Kind == Rejected && !w.reply {
			t.errorReturns(w, sp, b.Packet, b.Reject)
		}
	}
	if !w.reply && len(w.tunnel) == 0 {
		w.endpoint = o.Packet.DstAP().String()
		if !o.Packet.HasPorts() {
			w.endpoint = o.Packet.Dst.String()
		}
	}
	switch o.Kind {
	case Deliver:
		t.delivered(w, sp, o)
	case Forward:
		if !w.reply && len(w.tunnel) == 0 {
			w.conns = append(w.conns, conn{space: sp.Key(), exit: o.Packet})
		}
		t.transmit(w, sp, o)
	default:
		h := len(w.hops) - 1
		if h < base {
			h = w.hop(Hop{Node: sp.Node, NetNS: sp.Name, Step: "netns", Action: o.Kind.String(), Packet: o.Packet, Note: o.Why})
		}
		t.blockFromStep(w, sp, o.Kind, o.Reject, o.Why, h, o.Packet)
		if o.Kind == Rejected && !w.reply {
			t.sendBack(w, sp, o.Packet, o.Reject, VRejected)
			return
		}
		t.end(w)
	}
}

// errorReturns walks the error a REJECT sends back, on a copy of the walk, while the walk
// itself goes on as if the packet had been allowed. If the error does not reach the
// client (an OUTPUT rule, a missing route back), the client times out instead of failing
// fast: that becomes a finding of the path, and its verdict.
func (t *tracer) errorReturns(w *walk, sp *Space, p packet.Packet, kind string) {
	sub := &tracer{s: t.s}
	sub.sendBack(w.clone(), sp, p, kind, VRejected)
	for _, path := range sub.paths {
		if path.Verdict == VRejected {
			continue
		}
		msg := "the error sent back never reaches the client, which times out instead of failing fast"
		for _, f := range path.Findings[1:] {
			msg += ": " + f.Message
			break
		}
		w.blocks = append(w.blocks, block{v: VDenied, f: Finding{Code: "error-lost", Severity: "error", Hop: len(w.hops) - 1, Message: msg, AfterFirst: true}})
		return
	}
}

// blockFromStep records a blocker that a namespace's step decided, with its finding.
func (t *tracer) blockFromStep(w *walk, sp *Space, kind OutcomeKind, reject, why string, hop int, p packet.Packet) {
	h := w.hops[hop]
	where := sp.Node + " " + nsLabel(sp)
	cite := ""
	if h.Pos.File != "" {
		cite = " (" + h.Pos.String() + ")"
	}
	pkt := flow(p)
	dir := ""
	if w.reply {
		dir = "the reply "
	}
	switch kind {
	case Dropped:
		switch {
		case strings.HasPrefix(h.Step, "iptables"), strings.HasPrefix(h.Step, "nftables"):
			what := strings.TrimPrefix(h.Step, "iptables ")
			code := "iptables-drop"
			if strings.HasPrefix(h.Step, "nftables") {
				code = "nftables-drop"
			}
			if h.Text != "" && (strings.HasPrefix(h.Text, ":") || strings.HasPrefix(h.Text, "chain ")) {
				what += " policy DROP"
			} else {
				what += " rule " + h.Text
			}
			w.blockAt(VDenied, hop, code, fmt.Sprintf("%s%s %s drops %s%s", dir, where, what, pkt, cite),
				"allow this traffic in "+strings.TrimPrefix(h.Step, "iptables ")+" on "+sp.Node+" (a rule not managed by Kubernetes: the host firewall, or Docker's FORWARD policy)")
		case strings.Contains(why, "forwarding is off"):
			w.blockAt(VDenied, hop, "forwarding-disabled", fmt.Sprintf("%son %s: %s, so %s is dropped%s", dir, where, why, pkt, cite),
				"enable forwarding: sysctl -w net.ipv4.ip_forward=1 on "+sp.Node+" (and persist it in /etc/sysctl.d)")
		case strings.Contains(why, "rp_filter"):
			w.blockAt(VDenied, hop, "rp-filter", fmt.Sprintf("%s%s reverse-path filter drops %s: %s%s", dir, where, pkt, why, cite),
				"set rp_filter to 2 (loose) or 0 on that interface, or make the route back leave through it")
		case strings.Contains(why, "hairpin"):
			w.blockAt(VDenied, hop, "hairpin", fmt.Sprintf("%s%s: %s", dir, where, why),
				"turn hairpin mode on for the pod's bridge port (kubelet --hairpin-mode=hairpin-veth, or the CNI bridge plugin's hairpinMode: true)")
		default:
			w.blockAt(VDenied, hop, "drop", fmt.Sprintf("%s%s drops %s: %s%s", dir, where, pkt, why, cite), "")
		}
	case Rejected:
		if h.Step == "ipvs" {
			code, msg, fix := t.ipvsReject(sp, h, pkt) // ipvs_check.go
			w.blockAt(VRejected, hop, code, dir+where+": "+msg, fix)
			break
		}
		code, fix := "iptables-reject", "allow this traffic in "+strings.TrimPrefix(h.Step, "iptables ")+" on "+sp.Node
		if strings.HasPrefix(h.Step, "nftables") {
			code = "nftables-reject"
		}
		msg := fmt.Sprintf("%s%s %s rejects %s with %s%s", dir, where, strings.TrimPrefix(h.Step, "iptables "), pkt, reject, cite)
		if strings.Contains(h.Text+h.Note, "has no endpoints") {
			code, fix = "no-endpoints", "make the Service's selector match ready pods (kubectl get endpointslices -l kubernetes.io/service-name=NAME)"
			msg = fmt.Sprintf("%s: the Service has no endpoints, so kube-proxy's rule rejects %s%s%s", where, pkt, cite, t.noEndpointsWhy(h.Text+" "+h.Note))
		}
		w.blockAt(VRejected, hop, code, msg, fix)
	case NoRoute:
		code, fix := "no-route", "add the missing route on "+sp.Node+" "+nsLabel(sp)
		switch {
		case strings.Contains(why, "blackhole"), strings.Contains(why, "unreachable route"), strings.Contains(why, "prohibit"):
			code, fix = "route-type", "remove the route (or the policy rule leading to it) if this traffic should flow"
		case strings.Contains(why, "ARP"), strings.Contains(why, "neighbour"):
			code, fix = "neighbour", "check the neighbour entry and the address's owner on that link"
		}
		w.blockAt(VNoRoute, hop, code, fmt.Sprintf("%s%s: %s for %s%s", dir, where, why, pkt, cite), fix)
	case Unknown:
		w.blockAt(VUnknown, hop, "unknown", fmt.Sprintf("%s%s cannot decide %s: %s%s", dir, where, pkt, why, cite), "")
	}
}

// noEndpointsWhy explains from the API objects why a Service named in a kube-proxy
// "has no endpoints" rule has none.
func (t *tracer) noEndpointsWhy(rule string) string {
	i := strings.Index(rule, `--comment "`)
	if i < 0 {
		return ""
	}
	c := rule[i+len(`--comment "`):]
	c, _, _ = strings.Cut(c, " ")
	c, _, _ = strings.Cut(c, ":")
	ns, name, ok := strings.Cut(c, "/")
	if !ok {
		return ""
	}
	svc := t.s.C.Service(ns, name)
	if svc == nil {
		return ""
	}
	eps, from := t.s.C.ServiceEndpoints(svc)
	ready := 0
	for _, e := range eps {
		if e.Ready {
			ready++
		}
	}
	sel := labelsString(svc.Spec.Selector)
	matching := 0
	for _, p := range t.s.C.PodsInNamespace(ns) {
		if len(svc.Spec.Selector) > 0 && selects(svc.Spec.Selector, p.Labels) && !p.Terminal() {
			matching++
		}
	}
	switch {
	case from == "":
		return fmt.Sprintf("; Service %s/%s (selector %s) has no EndpointSlice in the bundle, and %d pods match its selector", ns, name, sel, matching)
	default:
		return fmt.Sprintf("; Service %s/%s (selector %s): %d pods match its selector, %d of %d endpoints in its %s are ready", ns, name, sel, matching, ready, len(eps), from)
	}
}

func labelsString(m map[string]string) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for k, v := range m {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func selects(sel, labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func nsLabel(sp *Space) string {
	if sp.Name == "host" {
		return "host"
	}
	return sp.Name
}

func flow(p packet.Packet) string {
	if p.HasPorts() {
		return fmt.Sprintf("%s %s -> %s", packet.ProtoName(p.Proto), p.SrcAP(), p.DstAP())
	}
	return fmt.Sprintf("%s %s -> %s", packet.ProtoName(p.Proto), p.Src, p.Dst)
}

// end closes a path.
func (t *tracer) end(w *walk) {
	if len(t.paths) >= t.s.MaxPaths {
		return
	}
	v := w.answer
	if len(w.blocks) > 0 {
		v = w.blocks[0].v
		// An error answer that never makes it back leaves the client waiting.
		if v == VNoListener || v == VRejected {
			for _, b := range w.blocks[1:] {
				if !b.asIf && b.v != VNoListener && b.v != VRejected {
					v = VDenied
					break
				}
			}
		}
	}
	p := Path{Verdict: v, Endpoint: w.endpoint, Hops: w.hops, Branches: w.branches}
	for _, b := range w.blocks {
		p.Findings = append(p.Findings, b.f)
	}
	p.Findings = append(p.Findings, w.infos...)
	if f, ok := intentDisagrees(w, v); ok {
		p.Findings = append(p.Findings, f)
	}
	t.paths = append(t.paths, p)
}

func (t *tracer) endUnknown(w *walk, h Hop, code, msg, fix string) {
	i := w.hop(h)
	w.blockAt(VUnknown, i, code, msg, fix)
	t.end(w)
}

// delivered handles a packet that a namespace delivers locally: to a socket (the request),
// or back to the client (the reply).
func (t *tracer) delivered(w *walk, sp *Space, o Outcome) {
	p := o.Packet
	if len(w.tunnel) > 0 {
		t.decapsulate(w, sp, p)
		return
	}
	if w.reply {
		t.replyArrived(w, sp, p)
		return
	}
	w.conns = append(w.conns, conn{space: sp.Key(), exit: p})
	if sp != w.client {
		t.checkPolicy(w, sp, p)
	}
	if p.Proto == packet.ICMP {
		if v, ok := sp.State.Sysctls.Get("net.ipv4.icmp_echo_ignore_all"); ok && v.Value == "1" {
			i := w.hop(Hop{Node: sp.Node, NetNS: sp.Name, Step: "icmp", Action: "drop", Pos: v.Pos, Text: "net.ipv4.icmp_echo_ignore_all = 1", Packet: p})
			w.blockAt(VDenied, i, "icmp-ignored", sp.Node+" "+nsLabel(sp)+" ignores echo requests (net.ipv4.icmp_echo_ignore_all = 1)", "")
			t.end(w)
			return
		}
		w.hop(Hop{Node: sp.Node, NetNS: sp.Name, Step: "icmp", Action: "deliver", Packet: p, Note: "the kernel answers the echo request"})
		t.sendBack(w, sp, p, "echo-reply", VDelivered)
		return
	}
	if !sp.State.Has("sockets") {
		t.endUnknown(w, Hop{Node: sp.Node, NetNS: sp.Name, Step: "socket", Action: "unknown", Packet: p}, "missing-data",
			fmt.Sprintf("%s %s: the dump has no sockets.txt, so whether anything listens on %s is unknown", sp.Node, nsLabel(sp), p.DstAP()), "include `ss -Htuanp` in the bundle")
		return
	}
	proto := packet.ProtoName(p.Proto)
	for i := range sp.State.Sockets {
		s := &sp.State.Sockets[i]
		if s.Accepts(proto, p.DstAP(), p.InIface) {
			w.hop(Hop{Node: sp.Node, NetNS: sp.Name, Step: "socket", Action: "deliver", Pos: s.Pos, Text: s.String() + procOf(s.Process), Packet: p})
			t.sendBack(w, sp, p, "", VDelivered)
			return
		}
	}
	var others []string
	for i := range sp.State.Sockets {
		s := &sp.State.Sockets[i]
		if s.Listening() && s.Proto == proto && s.Local.Port() == p.DPort {
			others = append(others, s.String()+" ("+s.Pos.String()+")")
		}
	}
	msg := fmt.Sprintf("%s %s: nothing listens on %s %s", sp.Node, nsLabel(sp), proto, p.DstAP())
	fix := "start the server, or point the Service's targetPort at the port it listens on"
	if len(others) > 0 {
		msg += "; on that port only " + strings.Join(others, ", ") + " listens"
		fix = "make the server listen on " + p.Dst.String() + " (or 0.0.0.0), not only where it does"
	} else if ports := listeningPorts(sp, proto); ports != "" {
		msg += "; it listens on " + ports
	}
	i := w.hop(Hop{Node: sp.Node, NetNS: sp.Name, Step: "socket", Action: "no-listener", Packet: p, Note: msg})
	w.blocks = append(w.blocks, block{v: VNoListener, f: Finding{Code: "no-listener", Severity: "error", Hop: i, Message: msg, Fix: fix, AfterFirst: len(w.blocks) > 0}})
	kind := "tcp-reset"
	if p.Proto != packet.TCP {
		kind = "icmp-port-unreachable"
	}
	t.sendBack(w, sp, p, kind, VNoListener)
}

func procOf(s string) string {
	if s == "" {
		return ""
	}
	return " " + s
}

func listeningPorts(sp *Space, proto string) string {
	var out []string
	seen := map[string]bool{}
	for i := range sp.State.Sockets {
		s := &sp.State.Sockets[i]
		if s.Listening() && s.Proto == proto && !seen[s.Local.String()] {
			seen[s.Local.String()] = true
			out = append(out, s.Local.String())
		}
	}
	if len(out) > 6 {
		out = append(out[:6], "...")
	}
	return strings.Join(out, ", ")
}

// sendBack starts the packet that goes back to the client from sp: the reply to a
// delivered request (kind ""), a reset or ICMP error (kind names it: tcp-reset,
// icmp-port-unreachable, a REJECT's --reject-with), or an echo reply.
func (t *tracer) sendBack(w *walk, sp *Space, p packet.Packet, kind string, answer Verdict) {
	w.reply, w.answer = true, answer
	if !w.hasConn(sp.Key(), p) {
		w.conns = append(w.conns, conn{space: sp.Key(), exit: p})
	}
	r := packet.Packet{Src: p.Dst, Dst: p.Src, Proto: p.Proto, SPort: p.DPort, DPort: p.SPort}
	switch {
	case kind == "" || kind == "tcp-reset":
		if p.Proto == packet.TCP {
			r.TCPFlags = packet.SYN | packet.ACK
			if kind == "tcp-reset" {
				r.TCPFlags = packet.RST | packet.ACK
			}
		}
	case kind == "echo-reply":
		r.SPort, r.DPort = 0, 0
	default:
		// An ICMP error from this namespace's own address towards the sender.
		r = packet.Packet{Dst: p.Src, Proto: packet.ICMP, ICMPType: 3, ICMPCode: icmpCode(kind)}
	}
	eng, err := sp.Engine()
	if err != nil {
		t.endUnknown(w, Hop{Node: sp.Node, NetNS: sp.Name, Step: "rules", Action: "unknown"}, "bad-data", err.Error(), "")
		return
	}
	r = t.enter(w, sp, r)
	eng.GoOn, eng.Ports = true, portResolver{t, sp}
	t.outcomes(w, sp, eng.Send(r))
}

func icmpCode(kind string) uint8 {
	switch kind {
	case "icmp-net-unreachable", "net-unreach":
		return 0
	case "icmp-host-unreachable", "host-unreach":
		return 1
	case "icmp-proto-unreachable":
		return 2
	case "icmp-port-unreachable", "port-unreach", "":
		return 3
	case "icmp-net-prohibited":
		return 9
	case "icmp-host-prohibited":
		return 10
	case "icmp-admin-prohibited":
		return 13
	}
	return 3
}

// replyArrived checks a reply that a namespace delivered locally: it must reach the
// client, carrying the addresses the client sent to.
func (t *tracer) replyArrived(w *walk, sp *Space, r packet.Packet) {
	if w.client == nil || sp != w.client {
		i := w.hop(Hop{Node: sp.Node, NetNS: sp.Name, Step: "deliver", Action: "misdelivered", Packet: r})
		w.blockAt(VDenied, i, "reply-misdelivered", fmt.Sprintf("the reply %s is delivered to %s %s, not to the client", flow(r), sp.Node, nsLabel(sp)),
			"check for a duplicated address or a route that sends "+r.Dst.String()+" elsewhere")
		t.end(w)
		return
	}
	t.replyAtClient(w, r, Hop{Node: sp.Node, NetNS: sp.Name, Step: "deliver", Packet: r})
}

func (t *tracer) replyAtClient(w *walk, r packet.Packet, h Hop) {
	f := w.first
	ok := r.Dst == f.Src
	if r.Proto == f.Proto && f.HasPorts() {
		ok = ok && r.Src == f.Dst && r.SPort == f.DPort && r.DPort == f.SPort
	} else if r.Proto == f.Proto && r.ICMPType == 0 {
		ok = ok && r.Src == f.Dst
	}
	if !ok {
		h.Action = "mismatch"
		i := w.hop(h)
		w.blockAt(VDenied, i, "reply-not-unnat", fmt.Sprintf("the reply arrives as %s, but the client sent to %s: the reply was not translated back (the client drops it, and times out)", flow(r), f.DstAP()),
			"make the reply pass the node that translated the request: net.bridge.bridge-nf-call-iptables=1 when client and endpoint share a bridge, or masquerade")
		t.end(w)
		return
	}
	h.Action, h.Note = "deliver", "the client receives the answer"
	w.hop(h)
	t.end(w)
}

// enter is conntrack's view of a packet entering a namespace: each namespace has its own
// table. A request starts a new connection there; a reply finds the entry the request
// made (and the NAT to undo), or none (a TCP reply without an entry is INVALID, as after
// an asymmetric route). Marks do not cross namespaces (the veth scrubs them).
func (t *tracer) enter(w *walk, sp *Space, p packet.Packet) packet.Packet {
	p.Mark, p.CtMark = 0, 0
	p.InIface, p.OutIface, p.PhysIn, p.PhysOut, p.Bridged = "", "", "", "", false
	p.DNATed, p.SNATed, p.OrigSrc, p.OrigDst, p.Untracked = false, false, netip.AddrPort{}, netip.AddrPort{}, false
	p.IPVS, p.IPVSVAddr, p.IPVSMethod = false, netip.AddrPort{}, 0 // skb_scrub_packet's ipvs_reset
	if !w.reply {
		p.CtState, p.Reply = packet.CtNew, false
		return p
	}
	c := w.conn(sp.Key(), p)
	if c != nil && c.exit.IPVSVAddr.IsValid() {
		p.IPVSVAddr, p.IPVSMethod = c.exit.IPVSVAddr, c.exit.IPVSMethod // IPVS's own table (ipvs.go)
		if ipvsUntracked(c.exit) {
			c = nil
		}
	}
	if c != nil {
		p.Reply = true
		p.CtState = packet.CtEstablished
		if p.Proto == packet.ICMP && p.ICMPType == 3 {
			p.CtState = packet.CtRelated
		}
		p.OrigSrc, p.OrigDst, p.DNATed, p.SNATed = c.exit.OrigSrc, c.exit.OrigDst, c.exit.DNATed, c.exit.SNATed
		return p
	}
	p.Reply = false
	if p.Proto == packet.TCP && p.TCPFlags&packet.SYN != 0 {
		p.CtState = packet.CtInvalid
	} else {
		p.CtState = packet.CtNew
	}
	return p
}

func replyMatches(req, r packet.Packet) bool {
	if r.Proto == packet.ICMP && r.ICMPType == 3 {
		return r.Dst == req.Src
	}
	if r.Proto != req.Proto || r.Src != req.Dst || r.Dst != req.Src {
		return false
	}
	return !req.HasPorts() || (r.SPort == req.DPort && r.DPort == req.SPort)
}

// transmit sends a packet out of a device towards its next hop (or its destination on
// the link): across a veth, through a bridge, over the underlay, or out of the cluster.
func (t *tracer) transmit(w *walk, sp *Space, o Outcome) {
	p := o.Packet
	dev := t.s.G.Device(sp, o.OutIface)
	if dev == nil {
		t.endUnknown(w, Hop{Node: sp.Node, NetNS: sp.Name, Step: "device", Action: "unknown", Packet: p}, "missing-data",
			fmt.Sprintf("%s %s: the packet leaves through %s, which is not in the dump's addr.json", sp.Node, nsLabel(sp), o.OutIface), "")
		return
	}
	if w.ttl--; w.ttl <= 0 {
		t.endUnknown(w, Hop{Node: sp.Node, NetNS: sp.Name, Step: "routing", Action: "loop", Packet: p}, "routing-loop",
			"the packet has crossed "+fmt.Sprint(maxHops)+" namespaces: a routing loop (the kernel drops it when its TTL runs out)", "")
		return
	}
	if !w.reply && w.q.Size > 0 && dev.Link.MTU > 0 && p.Len > dev.Link.MTU {
		i := w.hop(Hop{Node: sp.Node, NetNS: sp.Name, Step: "mtu", Action: "drop", Pos: dev.Link.Pos, Text: dev.Link.String(), Packet: p})
		what := fmt.Sprintf("a %d-byte packet", p.Len)
		if len(w.tunnel) > 0 {
			what = fmt.Sprintf("a %d-byte packet (%d inside %s, plus its encapsulation)", p.Len, w.tunnel[0].inner.Len, w.tunnel[0].from)
		}
		w.blockAt(VDenied, i, "mtu", fmt.Sprintf("%s does not fit %s %s %s (mtu %d): with DF set it is dropped, and large transfers stall", what, sp.Node, nsLabel(sp), dev.Link.Name, dev.Link.MTU),
			"make the pods' MTU no larger than the smallest on the path, less tunnel overhead (VXLAN 50, IP-in-IP 20)")
	}
	target := o.NextHop
	if !target.IsValid() {
		target = p.Dst
	}
	switch {
	case dev.Link.Kind == "vxlan" || dev.Link.VXLAN != nil:
		t.vxlan(w, sp, dev, target, p)
	case dev.Link.Kind == "ipip":
		t.ipip(w, sp, dev, o.NextHop, p)
	case dev.Link.Kind == "ip6tnl" || dev.Link.Kind == "gre" || dev.Link.Kind == "wireguard":
		t.endUnknown(w, Hop{Node: sp.Node, NetNS: sp.Name, Step: dev.Link.Kind + " " + dev.Link.Name, Action: "unknown", Pos: dev.Link.Pos, Text: dev.Link.String(), Packet: p}, "unsupported-tunnel",
			fmt.Sprintf("%s %s: the packet enters the %s tunnel %s, whose encapsulation netsim does not model yet: the rest of the path is unknown", sp.Node, nsLabel(sp), dev.Link.Kind, dev.Link.Name), "")
	case t.s.G.OnUnderlay(dev):
		t.underlay(w, sp, dev, target, p)
	case dev.Link.Kind == "bridge" || len(t.s.G.Ports(dev)) > 0:
		port, owner := t.behindBridge(dev, target)
		if owner == nil {
			t.noNeighbour(w, sp, dev, target, p, "no device behind bridge "+dev.Link.Name+" holds "+target.String())
			return
		}
		if !t.neighbourOK(w, sp, dev, target, owner, p) {
			return
		}
		w.hop(Hop{Node: sp.Node, NetNS: sp.Name, Step: "bridge " + dev.Link.Name, Action: "forward", Packet: p, Note: "out of port " + port.Link.Name + " to " + owner.String()})
		t.arrive(w, owner, p)
	default:
		peer := t.s.G.VethPeer(dev)
		if peer == nil {
			what := "the other end of " + dev.Link.Name
			if sp.Name == "host" && dev.Link.Kind == "veth" {
				what += " (a pod's namespace that is not in the dump)"
			}
			t.endUnknown(w, Hop{Node: sp.Node, NetNS: sp.Name, Step: "device", Action: "unknown", Pos: dev.Link.Pos, Text: dev.Link.String(), Packet: p}, "missing-data",
				fmt.Sprintf("%s %s: the packet leaves through %s, and %s is not in the bundle", sp.Node, nsLabel(sp), dev.Link.Name, what), "")
			return
		}
		t.acrossVeth(w, sp, dev, peer, target, p)
	}
}

// vxlanOverhead is what VXLAN adds over IPv4: outer IP 20, UDP 8, VXLAN 8, inner Ethernet 14.
const vxlanOverhead = 50

// vxlan encapsulates a packet sent through a VXLAN device: the inner frame goes to the MAC
// the neighbour table gives for the next hop, the forwarding database says behind which
// remote endpoint that MAC is, and the outer UDP packet leaves this namespace as a locally
// generated packet (OUTPUT, routing, POSTROUTING) towards it.
func (t *tracer) vxlan(w *walk, sp *Space, dev *Device, target netip.Addr, p packet.Packet) {
	cfg := dev.Link.VXLAN
	if cfg == nil {
		t.endUnknown(w, Hop{Node: sp.Node, NetNS: sp.Name, Step: "vxlan " + dev.Link.Name, Action: "unknown", Pos: dev.Link.Pos, Text: dev.Link.String(), Packet: p}, "missing-data",
			fmt.Sprintf("%s: %s is a VXLAN device, and the dump does not show its configuration (dump it with ip -d)", sp.Node, dev.Link.Name), "")
		return
	}
	n := neighbour(sp.State, dev.Link.Name, target)
	if n == nil || n.LLAddr == "" {
		h := Hop{Node: sp.Node, NetNS: sp.Name, Step: "vxlan " + dev.Link.Name, Action: "no-route", Packet: p}
		if n != nil {
			h.Pos, h.Text = n.Pos, n.String()
		}
		i := w.hop(h)
		w.blockAt(VNoRoute, i, "neighbour", fmt.Sprintf("%s: no neighbour entry gives the MAC of %s on %s (flannel and Calico VXLAN install them as permanent entries; without one the kernel cannot build the inner frame)", sp.Node, target, dev.Link.Name),
			"check the overlay agent on "+sp.Node+" (it writes the VTEP neighbour and fdb entries)")
		t.end(w)
		return
	}
	var fdb *iproute.FDB
	for i := range sp.State.FDB {
		e := &sp.State.FDB[i]
		if e.Dev == dev.Link.Name && strings.EqualFold(e.MAC, n.LLAddr) && e.Dst.IsValid() {
			fdb = e
			break
		}
	}
	if fdb == nil {
		if !sp.State.Has("fdb") {
			t.endUnknown(w, Hop{Node: sp.Node, NetNS: sp.Name, Step: "vxlan " + dev.Link.Name, Action: "unknown", Pos: n.Pos, Text: n.String(), Packet: p}, "missing-data",
				fmt.Sprintf("%s: the inner frame goes to %s on %s, and the bundle has no fdb.json (bridge -j fdb show) saying which node is behind that MAC", sp.Node, n.LLAddr, dev.Link.Name), "add `bridge -j fdb show` to the node's dump as fdb.json")
			return
		}
		i := w.hop(Hop{Node: sp.Node, NetNS: sp.Name, Step: "vxlan " + dev.Link.Name, Action: "no-route", Pos: n.Pos, Text: n.String(), Packet: p})
		w.blockAt(VNoRoute, i, "vxlan-fdb", fmt.Sprintf("%s: no forwarding-database entry on %s for %s (the MAC of %s): the kernel has no remote endpoint to send it to", sp.Node, dev.Link.Name, n.LLAddr, target),
			"check the overlay agent on "+sp.Node+" (bridge fdb append "+n.LLAddr+" dev "+dev.Link.Name+" dst NODE-IP)")
		t.end(w)
		return
	}
	port := uint16(cfg.Port)
	if port == 0 {
		port = 8472 // the kernel's default when dstport is not given
	}
	outer := packet.Packet{Src: cfg.Local, Dst: fdb.Dst, Proto: packet.UDP, SPort: 49152 + uint16(p.SPort%16384), DPort: port, CtState: packet.CtNew}
	if p.Len > 0 {
		outer.Len = p.Len + vxlanOverhead
	}
	w.hop(Hop{Node: sp.Node, NetNS: sp.Name, Step: "vxlan " + dev.Link.Name, Action: "encapsulate", Pos: fdb.Pos, Packet: outer,
		Text: fmt.Sprintf("%s dev %s dst %s", fdb.MAC, fdb.Dev, fdb.Dst), Note: fmt.Sprintf("VNI %d: %s inside udp %s -> %s:%d", cfg.ID, flow(p), cfg.Local, fdb.Dst, port)})
	w.tunnel = append(w.tunnel, tunneled{kind: "vxlan", inner: p, vni: cfg.ID, from: sp.Node + " " + dev.Link.Name})
	eng, err := sp.Engine()
	if err != nil {
		t.endUnknown(w, Hop{Node: sp.Node, NetNS: sp.Name, Step: "rules", Action: "unknown"}, "bad-data", err.Error(), "")
		return
	}
	t.outcomes(w, sp, eng.Send(t.enter(w, sp, outer)))
}

// ipipProto is IP-in-IP's protocol number; ipipOverhead the outer IPv4 header it adds.
const (
	ipipProto    = 4
	ipipOverhead = 20
)

// ipip encapsulates a packet routed into an IP-in-IP device (Calico's tunl0: routes
// "via NODE-IP dev tunl0 onlink"): the outer packet goes from this node to the route's
// gateway, locally generated, through OUTPUT and POSTROUTING. This machine's kernel has no
// ipip module, so this part is proven by unit tests on a synthetic bundle, not by the
// end-to-end tests.
func (t *tracer) ipip(w *walk, sp *Space, dev *Device, gw netip.Addr, p packet.Packet) {
	if !gw.IsValid() {
		t.endUnknown(w, Hop{Node: sp.Node, NetNS: sp.Name, Step: "ipip " + dev.Link.Name, Action: "unknown", Pos: dev.Link.Pos, Text: dev.Link.String(), Packet: p}, "missing-data",
			fmt.Sprintf("%s: the route into %s names no gateway, and the tunnel's fixed remote is not in the dump", sp.Node, dev.Link.Name), "")
		return
	}
	eng, err := sp.Engine()
	if err != nil {
		t.endUnknown(w, Hop{Node: sp.Node, NetNS: sp.Name, Step: "rules", Action: "unknown"}, "bad-data", err.Error(), "")
		return
	}
	// A tunnel with "local any" takes the source address routing picks towards the remote.
	outer := packet.Packet{Src: eng.Router.Lookup(routing.Query{Dst: gw}).Src, Dst: gw, Proto: ipipProto, CtState: packet.CtNew}
	if p.Len > 0 {
		outer.Len = p.Len + ipipOverhead
	}
	w.hop(Hop{Node: sp.Node, NetNS: sp.Name, Step: "ipip " + dev.Link.Name, Action: "encapsulate", Pos: dev.Link.Pos, Text: dev.Link.String(), Packet: outer,
		Note: fmt.Sprintf("%s inside IP-in-IP to %s", flow(p), gw)})
	w.tunnel = append(w.tunnel, tunneled{kind: "ipip", inner: p, from: sp.Node + " " + dev.Link.Name})
	t.outcomes(w, sp, eng.Send(t.enter(w, sp, outer)))
}

// decapsulate takes an outer tunnel packet delivered to a namespace: a VXLAN device there
// listening on its port with the same VNI receives the inner packet.
func (t *tracer) decapsulate(w *walk, sp *Space, p packet.Packet) {
	tun := w.tunnel[len(w.tunnel)-1]
	if tun.kind == "ipip" {
		for _, d := range t.s.G.devicesOf(sp) {
			if d.Link.Kind == "ipip" && p.Proto == ipipProto {
				w.tunnel = w.tunnel[:len(w.tunnel)-1]
				w.hop(Hop{Node: sp.Node, NetNS: sp.Name, Step: "ipip " + d.Link.Name, Action: "decapsulate", Pos: d.Link.Pos, Text: d.Link.String(), Packet: tun.inner, Note: "from " + p.Src.String()})
				t.arrive(w, d, tun.inner)
				return
			}
		}
		i := w.hop(Hop{Node: sp.Node, NetNS: sp.Name, Step: "ipip", Action: "drop", Packet: p})
		w.blockAt(VDenied, i, "tunnel-no-endpoint", fmt.Sprintf("%s %s: the IP-in-IP packet from %s reaches no ipip device (the kernel answers protocol unreachable)", sp.Node, nsLabel(sp), p.Src), "")
		t.end(w)
		return
	}
	for _, d := range t.s.G.devicesOf(sp) {
		v := d.Link.VXLAN
		if v == nil || p.Proto != packet.UDP {
			continue
		}
		port := uint16(v.Port)
		if port == 0 {
			port = 8472
		}
		if port != p.DPort || (v.Local.IsValid() && v.Local != p.Dst) {
			continue
		}
		if v.ID != tun.vni {
			continue
		}
		w.tunnel = w.tunnel[:len(w.tunnel)-1]
		w.hop(Hop{Node: sp.Node, NetNS: sp.Name, Step: "vxlan " + d.Link.Name, Action: "decapsulate", Pos: d.Link.Pos, Text: d.Link.String(), Packet: tun.inner,
			Note: fmt.Sprintf("VNI %d from %s", tun.vni, p.Src)})
		t.arrive(w, d, tun.inner)
		return
	}
	i := w.hop(Hop{Node: sp.Node, NetNS: sp.Name, Step: "vxlan", Action: "drop", Packet: p})
	w.blockAt(VDenied, i, "vxlan-no-endpoint", fmt.Sprintf("%s %s: the VXLAN packet from %s (VNI %d, udp port %d) reaches no VXLAN device with that VNI and port", sp.Node, nsLabel(sp), p.Src, tun.vni, p.DPort),
		"give both nodes' VXLAN devices the same VNI and port")
	t.end(w)
}

// acrossVeth delivers a frame to the other end of a veth: a device there that holds the
// target, the bridge the peer is a port of, or a peer that answers ARP by proxy.
func (t *tracer) acrossVeth(w *walk, sp *Space, dev, peer *Device, target netip.Addr, p packet.Packet) {
	if !peer.Link.Up() {
		i := w.hop(Hop{Node: peer.Space.Node, NetNS: peer.Space.Name, Step: "device", Action: "drop", Pos: peer.Link.Pos, Text: peer.Link.String(), Packet: p})
		w.blockAt(VDenied, i, "link-down", fmt.Sprintf("%s %s %s, the other end of %s, is down", peer.Space.Node, nsLabel(peer.Space), peer.Link.Name, dev.Link.Name), "ip link set "+peer.Link.Name+" up")
		t.end(w)
		return
	}
	if peer.Link.Master != "" {
		br := t.s.G.Device(peer.Space, peer.Link.Master)
		if br == nil {
			t.endUnknown(w, Hop{Node: peer.Space.Node, NetNS: peer.Space.Name, Step: "bridge", Action: "unknown", Packet: p}, "missing-data", "bridge "+peer.Link.Master+" is not in the dump", "")
			return
		}
		if holds(br, target) {
			if !t.neighbourOK(w, sp, dev, target, br, p) {
				return
			}
			w.hop(Hop{Node: peer.Space.Node, NetNS: peer.Space.Name, Step: "veth", Action: "forward", Packet: p, Note: sp.Key() + " " + dev.Link.Name + " -> " + peer.Link.Name + " (port of " + br.Link.Name + ", which holds " + target.String() + ")"})
			t.arriveBridge(w, br, peer, p)
			return
		}
		port, owner := t.behindBridge(br, target)
		if owner == nil {
			t.noNeighbour(w, sp, dev, target, p, "nothing on bridge "+br.Link.Name+" (behind "+dev.Link.Name+") holds "+target.String())
			return
		}
		if !t.neighbourOK(w, sp, dev, target, owner, p) {
			return
		}
		w.hop(Hop{Node: peer.Space.Node, NetNS: peer.Space.Name, Step: "veth", Action: "forward", Packet: p, Note: sp.Key() + " " + dev.Link.Name + " -> " + peer.Link.Name + " (port of " + br.Link.Name + ")"})
		eng, err := peer.Space.Engine()
		if err != nil {
			t.endUnknown(w, Hop{Node: peer.Space.Node, NetNS: peer.Space.Name, Step: "rules", Action: "unknown"}, "bad-data", err.Error(), "")
			return
		}
		q := t.enter(w, peer.Space, p)
		outs := eng.Bridge(q, br.Link.Name, peer.Link.Name, port.Link.Name)
		for i, o := range outs {
			b := w
			if i < len(outs)-1 {
				b = w.clone()
			}
			t.bridged(b, peer.Space, o, owner)
		}
		return
	}
	if holds(peer, target) || t.proxyARP(peer, target) {
		if !t.neighbourOK(w, sp, dev, target, peer, p) {
			return
		}
		w.hop(Hop{Node: peer.Space.Node, NetNS: peer.Space.Name, Step: "veth", Action: "forward", Packet: p, Note: sp.Key() + " " + dev.Link.Name + " -> " + peer.Space.Key() + " " + peer.Link.Name})
		t.arrive(w, peer, p)
		return
	}
	t.noNeighbour(w, sp, dev, target, p, "nothing at the other end of "+dev.Link.Name+" ("+peer.String()+") holds or proxies "+target.String())
}

// bridged follows a frame the bridge forwarded (through br_netfilter's hooks when on).
func (t *tracer) bridged(w *walk, sp *Space, o Outcome, owner *Device) {
	base := len(w.hops)
	for _, st := range o.Steps {
		w.hop(Hop{Node: sp.Node, NetNS: sp.Name, Step: st.What, Action: st.Action, Pos: st.Pos, Text: st.Text, Note: st.Note, Packet: st.Packet})
	}
	w.branches = append(w.branches, o.Branches...)
	for _, b := range o.Blocked {
		h := base + b.Step
		if b.Step < 0 || h >= len(w.hops) {
			h = len(w.hops) - 1
		}
		t.blockFromStep(w, sp, b.Kind, b.Reject, b.Why, h, b.Packet)
	}
	if o.Kind != Forward {
		h := len(w.hops) - 1
		if h < base {
			h = w.hop(Hop{Node: sp.Node, NetNS: sp.Name, Step: "bridge", Action: o.Kind.String(), Packet: o.Packet, Note: o.Why})
		}
		t.blockFromStep(w, sp, o.Kind, o.Reject, o.Why, h, o.Packet)
		t.end(w)
		return
	}
	if !w.reply {
		w.conns = append(w.conns, conn{space: sp.Key(), exit: o.Packet})
	}
	w.hop(Hop{Node: sp.Node, NetNS: sp.Name, Step: "bridge", Action: "forward", Packet: o.Packet, Note: "out of port " + o.OutIface + " to " + owner.String()})
	t.arrive(w, owner, o.Packet)
}

func holds(d *Device, a netip.Addr) bool {
	for _, ad := range d.Link.Addrs {
		if ad.Prefix.Addr() == a {
			return true
		}
	}
	return false
}

// behindBridge finds the port of a bridge whose other end holds an address.
func (t *tracer) behindBridge(br *Device, a netip.Addr) (port, owner *Device) {
	for _, p := range t.s.G.Ports(br) {
		if peer := t.s.G.VethPeer(p); peer != nil && holds(peer, a) {
			return p, peer
		}
	}
	return nil, nil
}

// proxyARP reports whether a device answers ARP for an address it does not hold: proxy_arp
// on, forwarding on, and a route to the address through another device (arp_process).
func (t *tracer) proxyARP(d *Device, a netip.Addr) bool {
	if !a.Is4() {
		return false
	}
	on := func(name string) bool {
		v, ok := d.Space.State.Sysctls.Get(name)
		return ok && v.Value == "1"
	}
	if !on("net.ipv4.conf."+d.Link.Name+".proxy_arp") && !on("net.ipv4.conf.all.proxy_arp") {
		return false
	}
	eng, err := d.Space.Engine()
	if err != nil {
		return false
	}
	if fwd, _, _ := eng.Router.Forwarding(d.Link.Name, false); !fwd {
		return false
	}
	dec := eng.Router.Lookup(routingQuery(a))
	return len(dec.Hops) > 0 && dec.Hops[0].Dev != d.Link.Name
}

// neighbourOK checks the sender's neighbour entry for the next hop against the device
// that owns the address: a static or cached entry with another MAC sends the frame to
// the wrong place.
func (t *tracer) neighbourOK(w *walk, sp *Space, dev *Device, target netip.Addr, owner *Device, p packet.Packet) bool {
	n := neighbour(sp.State, dev.Link.Name, target)
	if n == nil || n.LLAddr == "" || owner.Link.MAC == "" || strings.EqualFold(n.LLAddr, owner.Link.MAC) {
		return true
	}
	if !n.Usable() {
		return true // the kernel resolves it again, and the owner answers
	}
	i := w.hop(Hop{Node: sp.Node, NetNS: sp.Name, Step: "neighbour", Action: "drop", Pos: n.Pos, Text: n.String(), Packet: p})
	w.blockAt(VNoRoute, i, "neighbour", fmt.Sprintf("%s %s: the neighbour entry for %s on %s says %s, but %s (%s) has %s: frames go to the wrong MAC",
		sp.Node, nsLabel(sp), target, dev.Link.Name, n.LLAddr, target, owner.String(), owner.Link.MAC), "ip neigh replace "+target.String()+" lladdr "+owner.Link.MAC+" dev "+dev.Link.Name+" (or delete the stale static entry)")
	t.end(w)
	return false
}

func neighbour(ns *model.NetNS, dev string, a netip.Addr) *iproute.Neigh {
	for i := range ns.Neighs {
		if ns.Neighs[i].Dst == a && ns.Neighs[i].Dev == dev {
			return &ns.Neighs[i]
		}
	}
	return nil
}

// noNeighbour ends a path whose next hop nobody on the link answers for.
func (t *tracer) noNeighbour(w *walk, sp *Space, dev *Device, target netip.Addr, p packet.Packet, why string) {
	h := Hop{Node: sp.Node, NetNS: sp.Name, Step: "neighbour", Action: "no-route", Packet: p, Note: why}
	if n := neighbour(sp.State, dev.Link.Name, target); n != nil {
		h.Pos, h.Text = n.Pos, n.String()
	}
	i := w.hop(h)
	w.blockAt(VNoRoute, i, "neighbour", fmt.Sprintf("%s %s: ARP for %s on %s gets no answer: %s", sp.Node, nsLabel(sp), target, dev.Link.Name, why),
		"check the route's next hop and that the address is configured where it should be")
	t.end(w)
}

// underlay carries a packet from a node's underlay device to the node holding the next
// hop, or out of the cluster.
func (t *tracer) underlay(w *walk, sp *Space, dev *Device, target netip.Addr, p packet.Packet) {
	owner, err := t.s.G.NodeOwning(target)
	if err != nil && !errors.Is(err, model.ErrNoNodeState) {
		t.endUnknown(w, Hop{Node: sp.Node, NetNS: sp.Name, Step: "underlay", Action: "unknown", Packet: p}, "bad-data", err.Error(), "")
		return
	}
	if owner == nil {
		if n := t.s.C.NodeByAddr(target); n != nil {
			t.endUnknown(w, Hop{Node: sp.Node, NetNS: sp.Name, Step: "underlay", Action: "forward", Packet: p, Note: "to node " + n.Name}, "missing-data",
				fmt.Sprintf("the packet goes to node %s (%s), which has no dump in the bundle: the rest of the path is unknown", n.Name, target), "collect node "+n.Name)
			return
		}
		t.outside(w, sp, dev, target, p)
		return
	}
	if !t.neighbourOK(w, sp, dev, target, owner, p) {
		return
	}
	// The cloud network between the nodes: security groups, ACLs, route table (cloud.go).
	if !t.cloudCross(w, sp, owner, target, &p) {
		return
	}
	w.hop(Hop{Node: sp.Node, NetNS: "underlay", Step: "underlay", Action: "forward", Packet: p, Note: sp.Node + " " + dev.Link.Name + " -> " + owner.String()})
	t.arrive(w, owner, p)
}

// outside is where a packet goes when it leaves the cluster's nodes for an address that
// none of them holds.
func (t *tracer) outside(w *walk, sp *Space, dev *Device, target netip.Addr, p packet.Packet) {
	if w.reply && w.client == nil {
		p = t.cloudReply(w, sp, p) // undo a cloud load balancer's translation (cloud.go)
	}
	hop := Hop{Node: sp.Node, NetNS: "outside", Step: "underlay", Action: "forward", Packet: p, Note: sp.Node + " " + dev.Link.Name + " -> " + target.String() + " (outside the bundle)"}
	if w.reply {
		if w.client == nil {
			t.replyAtClient(w, p, hop)
			return
		}
		i := w.hop(hop)
		w.blockAt(VDenied, i, "reply-misrouted", fmt.Sprintf("the reply %s leaves the cluster through %s %s towards %s instead of returning to the client", flow(p), sp.Node, dev.Link.Name, target), "")
		t.end(w)
		return
	}
	if len(w.tunnel) > 0 {
		inner := w.tunnel[len(w.tunnel)-1]
		msg := fmt.Sprintf("the tunnel packet from %s carrying %s goes to %s, which is no node of the cluster", inner.from, flow(inner.inner), p.Dst)
		if owner := t.podCIDROwner(inner.inner.Dst); owner != "" {
			if n := t.s.C.Node(owner); n != nil && len(n.InternalIPs()) > 0 {
				msg += fmt.Sprintf("; %s is on node %s (%s)", inner.inner.Dst, owner, n.InternalIPs()[0])
			}
		}
		i := w.hop(hop)
		w.blockAt(VDenied, i, "tunnel-misdirected", msg, "fix the tunnel endpoint (the fdb entry, or the node annotation the overlay agent reads it from)")
		t.end(w)
		return
	}
	if len(w.tunnel) == 0 {
		t.checkPolicy(w, nil, p)
	}
	if svcs := t.s.C.ServicesByIP(p.Dst); len(svcs) > 0 {
		i := w.hop(hop)
		for _, b := range w.blocks {
			if b.f.Code == "no-endpoints" {
				// The same cause, seen again: kube-proxy has no DNAT for a Service without endpoints.
				t.end(w)
				return
			}
		}
		w.blockAt(VDenied, i, "service-not-translated", fmt.Sprintf("%s sends %s out of %s untranslated: its rules have no DNAT for the %s of Service %s, and the underlay does not route Service addresses (is kube-proxy running and synced on %s?)",
			sp.Node, flow(p), dev.Link.Name, svcs[0].Kind, svcs[0].Service.Key(), sp.Node), "check kube-proxy on "+sp.Node+" (its pod, its logs, its KUBE-SERVICES chain against another node's)")
		t.end(w)
		return
	}
	if n := neighbour(sp.State, dev.Link.Name, target); n != nil && !n.Usable() && n.LLAddr == "" {
		hop.Pos, hop.Text, hop.Action = n.Pos, n.String(), "no-route"
		i := w.hop(hop)
		w.blockAt(VNoRoute, i, "neighbour", fmt.Sprintf("%s: the next hop %s on %s does not answer ARP (%s)", sp.Node, target, dev.Link.Name, strings.Join(n.State, ",")), "")
		t.end(w)
		return
	}
	// The cloud's route tables, NAT and internet gateways decide from here (cloud.go).
	if t.cloudOut(w, sp, target, p) {
		return
	}
	if owner := t.podCIDROwner(p.Dst); owner != "" && !t.hasCloud() {
		i := w.hop(hop)
		w.blockAt(VNoRoute, i, "route-missing", fmt.Sprintf("%s has no route to %s, which is in node %s's pod CIDR: it goes to %s through %s, and the bundle has no cloud route table that would carry it", sp.Node, p.Dst, owner, target, dev.Link.Name),
			"add a route to "+owner+"'s pod CIDR via "+owner+" on "+sp.Node+" (host-gw/kubenet), or fix the CNI's routes")
		t.end(w)
		return
	}
	i := w.hop(hop)
	w.blockAt(VUnknown, i, "outside", fmt.Sprintf("the packet leaves the cluster through %s %s towards %s: what happens beyond is not in the bundle", sp.Node, dev.Link.Name, target), "")
	t.end(w)
}

func (t *tracer) hasCloud() bool {
	files, dirs := t.s.C.Bundle.List("cloud")
	return len(files)+len(dirs) > 0
}

func routingQuery(a netip.Addr) routing.Query { return routing.Query{Dst: a} }

// podCIDROwner names the node whose pod CIDR holds an address.
func (t *tracer) podCIDROwner(a netip.Addr) string {
	for _, n := range t.s.C.Nodes {
		for _, c := range n.PodCIDRs {
			if c.Contains(a) {
				return n.Name
			}
		}
	}
	return ""
}

// arrive hands a packet to a device's namespace.
func (t *tracer) arrive(w *walk, d *Device, p packet.Packet) {
	eng, err := d.Space.Engine()
	if err != nil {
		t.endUnknown(w, Hop{Node: d.Space.Node, NetNS: d.Space.Name, Step: "rules", Action: "unknown"}, "bad-data", err.Error(), "")
		return
	}
	if !d.Link.Up() {
		i := w.hop(Hop{Node: d.Space.Node, NetNS: d.Space.Name, Step: "device", Action: "drop", Pos: d.Link.Pos, Text: d.Link.String(), Packet: p})
		w.blockAt(VDenied, i, "link-down", fmt.Sprintf("%s %s %s is down", d.Space.Node, nsLabel(d.Space), d.Link.Name), "ip link set "+d.Link.Name+" up")
		t.end(w)
		return
	}
	if !w.reply && len(w.tunnel) == 0 && d.Space.Pod != nil && d.Space != w.client {
		t.checkPolicy(w, d.Space, p)
	}
	eng.GoOn, eng.Ports = true, portResolver{t, d.Space}
	q := t.enter(w, d.Space, p)
	t.outcomes(w, d.Space, eng.Arrive(q, d.Link.Name))
}

// arriveBridge hands a frame addressed to a bridge's own MAC to its namespace.
func (t *tracer) arriveBridge(w *walk, br, port *Device, p packet.Packet) {
	eng, err := br.Space.Engine()
	if err != nil {
		t.endUnknown(w, Hop{Node: br.Space.Node, NetNS: br.Space.Name, Step: "rules", Action: "unknown"}, "bad-data", err.Error(), "")
		return
	}
	eng.GoOn, eng.Ports = true, portResolver{t, br.Space}
	q := t.enter(w, br.Space, p)
	t.outcomes(w, br.Space, eng.ArriveBridge(q, br.Link.Name, port.Link.Name))
}

type portResolver struct {
	t  *tracer
	sp *Space
}

func (r portResolver) PortFor(bridge string, dst netip.Addr) (string, *bool, bool) {
	br := r.t.s.G.Device(r.sp, bridge)
	if br == nil {
		return "", nil, false
	}
	port, _ := r.t.behindBridge(br, dst)
	if port == nil {
		return "", nil, false
	}
	return port.Link.Name, port.Link.Hairpin, true
}
