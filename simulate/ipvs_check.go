package simulate

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/netsim/netsim/model"
	"github.com/netsim/netsim/rules/ipset"
	"github.com/netsim/netsim/rules/ipvs"
	"github.com/netsim/netsim/rules/packet"
)

// What the walk says about kube-proxy's IPVS beyond the packet's fate: why a virtual
// service rejects (no real server, or only drained ones), and where a node's IPVS state
// disagrees with the API objects — real servers that are not the Service's ready
// endpoints (kube-proxy lagging or dead on that node), a Service address missing from
// kube-ipvs0 or from kube-proxy's ipsets.

// ipvsReject explains a virtual service that answered port unreachable: its finding code,
// message and fix.
func (t *tracer) ipvsReject(sp *Space, h Hop, pkt string) (code, msg, fix string) {
	vs := ipvsServiceAt(sp, h.Packet)
	if vs == nil {
		return "ipvs-no-real-server", "IPVS rejects " + pkt + " with ICMP port unreachable (ip_vs_leave)", ""
	}
	code, what := "ipvs-no-real-server", "has no real server"
	fix = "the Service has no ready endpoints: make its selector match ready pods (kubectl get endpointslices -l kubernetes.io/service-name=NAME)"
	if len(vs.Reals) > 0 {
		code, what = "ipvs-all-drained", fmt.Sprintf("has only real servers drained to weight 0 (%s)", realList(vs.Reals))
		fix = "real servers drained (weight 0): terminating endpoints, which IPVS gives no new connection; the Service needs ready endpoints (new pods ready, or the old ones' readiness)"
	}
	msg = fmt.Sprintf("IPVS virtual service %s %s, so IPVS answers %s with ICMP port unreachable (ip_vs_leave)", vsName(vs), what, pkt)
	if api := t.ipvsAPI(sp.Node, vs); api != nil {
		msg += "; " + api.summary()
	}
	return code, msg, fix
}

// ipvsChecks adds the warnings of one namespace's part of a request's walk (hops from base
// on): for each virtual service that scheduled or rejected it, whether its real servers
// are the Service's endpoints; for the packet as it arrived, whether kube-proxy's
// kube-ipvs0 and ipsets hold the Service address.
func (t *tracer) ipvsChecks(w *walk, sp *Space, base int) {
	if w.reply || len(w.tunnel) > 0 || base >= len(w.hops) {
		return
	}
	eng, err := sp.Engine()
	if err != nil || eng.ipvs == nil || len(eng.ipvs.t.Services) == 0 {
		return
	}
	for i := base; i < len(w.hops); i++ {
		h := w.hops[i]
		if h.Step != "ipvs" || (h.Action != "schedule" && h.Action != "reject") {
			continue
		}
		vs := ipvsServiceAt(sp, h.Packet)
		if vs == nil {
			continue
		}
		if api := t.ipvsAPI(sp.Node, vs); api != nil {
			if f, ok := api.compare(sp.Node, vs); ok {
				f.Hop = i
				w.info(f)
			}
		}
	}
	t.ipvsAddressChecks(w, sp, eng, base)
}

// info adds a non-blocking finding once per path.
func (w *walk) info(f Finding) {
	for _, o := range w.infos {
		if o.Code == f.Code && o.Message == f.Message {
			return
		}
	}
	w.infos = append(w.infos, f)
}

// ipvsAddressChecks: a packet for a Service address that arrives at a node running
// kube-proxy's ipvs mode is handed to IPVS only if the address is local (kube-proxy binds
// it to kube-ipvs0), and kube-proxy's iptables rules admit and masquerade it only if its
// ipset holds it (KUBE-IPVS-FILTER rejects new connections to an address of
// KUBE-IPVS-IPS that no Service set holds).
func (t *tracer) ipvsAddressChecks(w *walk, sp *Space, eng *NetNS, base int) {
	p := w.hops[base].Packet
	if !p.HasPorts() {
		return
	}
	for _, sip := range t.s.C.ServicesByIP(p.Dst) {
		port := servicePort(sip.Service, p.DPort, p.Proto)
		if port == nil {
			continue
		}
		what := fmt.Sprintf("%s:%d/%s (%s of Service %s)", p.Dst, p.DPort, packet.ProtoName(p.Proto), sip.Kind, sip.Service.Key())
		if p.InIface != "" && !eng.Router.IsLocal(p.Dst) {
			w.info(Finding{Code: "ipvs-address-missing", Severity: "warning", Hop: base,
				Message: fmt.Sprintf("%s: %s is not a local address (kube-proxy binds Service addresses to kube-ipvs0; addr.json has no such address), so the kernel routes the packet on instead of handing it to IPVS at LOCAL_IN", sp.Node, what),
				Fix:     "check kube-proxy on " + sp.Node + " (ip addr show kube-ipvs0 should list " + p.Dst.String() + ")"})
		}
		set := ipvsSetFor(sip, port)
		if eng.Sets == nil || eng.Sets.ByName[set] == nil {
			continue
		}
		q := p
		if r, _ := eng.Sets.Match(set, &q, []string{"dst", "dst"}, false); r == ipset.No {
			s := eng.Sets.ByName[set]
			w.info(Finding{Code: "ipvs-ipset-missing", Severity: "warning", Hop: base,
				Message: fmt.Sprintf("%s: %s is not in ipset %s (%s): kube-proxy's iptables rules in ipvs mode look Service addresses up there (KUBE-IPVS-FILTER rejects new connections to kube-ipvs0 addresses no Service set holds; KUBE-SERVICES masquerades by it)", sp.Node, what, set, s.Pos),
				Fix:     "kube-proxy on " + sp.Node + " has not synced this Service: check its logs, or restart it"})
		}
	}
}

// ipvsSetFor is the ipset kube-proxy's ipvs mode puts a Service address in.
func ipvsSetFor(sip model.ServiceIP, port *corev1.ServicePort) string {
	local := sip.Service.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
	switch sip.Kind {
	case model.ExternalIP:
		if local {
			return "KUBE-EXTERNAL-IP-LOCAL"
		}
		return "KUBE-EXTERNAL-IP"
	case model.LoadBalancerIP:
		return "KUBE-LOAD-BALANCER"
	}
	return "KUBE-CLUSTER-IP"
}

func servicePort(svc *model.Service, port uint16, proto uint8) *corev1.ServicePort {
	for i := range svc.Spec.Ports {
		sp := &svc.Spec.Ports[i]
		if uint16(sp.Port) == port && protoOf(sp.Protocol) == proto {
			return sp
		}
	}
	return nil
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

// ipvsServiceAt finds the virtual service a packet (as IPVS saw it) belongs to.
func ipvsServiceAt(sp *Space, p packet.Packet) *ipvs.Service {
	eng, err := sp.Engine()
	if err != nil || eng.ipvs == nil {
		return nil
	}
	return eng.ipvs.t.Lookup(p.Proto, p.DstAP(), p.Mark)
}

// vsName names a virtual service as address:port/proto with its ipvs.txt line.
func vsName(vs *ipvs.Service) string {
	name := vs.Key()
	if vs.Proto != 0 {
		name = fmt.Sprintf("%s/%s", vs.Addr, packet.ProtoName(vs.Proto))
	}
	if vs.Pos.File != "" {
		name += " (" + vs.Pos.String() + ")"
	}
	return name
}

func realList(rs []*ipvs.Real) string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Addr.String())
	}
	return strings.Join(out, ", ")
}

// ipvsExpect is what the API objects say a node's virtual service should hold.
type ipvsExpect struct {
	svc    *model.Service
	port   *corev1.ServicePort
	kind   string // clusterIP, externalIP, loadBalancerIP, nodePort
	from   string // endpointslices or endpoints
	total  int
	ready  int
	want   map[netip.AddrPort]bool
	policy string // how kube-proxy chose them
}

func (e *ipvsExpect) summary() string {
	return fmt.Sprintf("Service %s (%s port %d/%s): %d of %d endpoints in its %s are ready", e.svc.Key(), e.kind, e.port.Port, strings.ToLower(string(e.port.Protocol)), e.ready, e.total, e.from)
}

// ipvsAPI finds the Service port a virtual service stands for — a ClusterIP, external or
// load-balancer IP and port, or a node port — and the real servers kube-proxy would give
// it on this node (pkg/proxy/ipvs syncEndpoint with CategorizeEndpoints): the ready
// endpoints, or the serving terminating ones when none is ready; under a Local traffic
// policy the node's own ones, or all of them when the node has none (kube-proxy keeps
// the Service reachable from local pods). nil when the API objects do not say.
func (t *tracer) ipvsAPI(node string, vs *ipvs.Service) *ipvsExpect {
	if vs.Proto == 0 {
		return nil
	}
	var e *ipvsExpect
	for _, sip := range t.s.C.ServicesByIP(vs.Addr.Addr()) {
		if port := servicePort(sip.Service, vs.Addr.Port(), vs.Proto); port != nil {
			e = &ipvsExpect{svc: sip.Service, port: port, kind: string(sip.Kind)}
			break
		}
	}
	if e == nil {
		np, ok := t.s.C.ServiceByNodePort(int32(vs.Addr.Port()), corev1.Protocol(strings.ToUpper(packet.ProtoName(vs.Proto))))
		if !ok {
			return nil
		}
		e = &ipvsExpect{svc: np.Service, port: np.Port, kind: "nodePort"}
	}
	local := e.svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
	if e.kind == string(model.ClusterIP) {
		local = e.svc.Spec.InternalTrafficPolicy != nil && *e.svc.Spec.InternalTrafficPolicy == corev1.ServiceInternalTrafficPolicyLocal
	}
	eps, from := t.s.C.ServiceEndpoints(e.svc)
	if from == "" {
		return nil
	}
	e.from, e.total = from, len(eps)
	type cand struct {
		ap    netip.AddrPort
		local bool
	}
	var ready, terminating []cand
	for _, ep := range eps {
		for _, p := range ep.Ports {
			if p.Name != e.port.Name || (p.Protocol != "" && protoOf(p.Protocol) != vs.Proto) {
				continue
			}
			c := cand{netip.AddrPortFrom(ep.Addr, uint16(p.Port)), ep.NodeName == node}
			switch {
			case ep.Ready:
				ready = append(ready, c)
			case ep.Serving && ep.Terminating:
				terminating = append(terminating, c)
			}
		}
		if ep.Ready {
			e.ready++
		}
	}
	pick := ready
	e.policy = "its ready endpoints"
	if len(pick) == 0 {
		pick, e.policy = terminating, "its serving terminating endpoints (none is ready)"
	}
	if local {
		var mine []cand
		for _, c := range pick {
			if c.local {
				mine = append(mine, c)
			}
		}
		if len(mine) > 0 {
			pick, e.policy = mine, e.policy+" on "+node+" (traffic policy Local)"
		} else {
			e.policy += " (traffic policy Local, none on " + node + ": kube-proxy uses them all)"
		}
	}
	e.want = map[netip.AddrPort]bool{}
	for _, c := range pick {
		e.want[c.ap] = true
	}
	return e
}

// compare names the real servers the virtual service has and the API objects do not give
// it (extra), and the endpoints it lacks (missing); only real servers IPVS may schedule
// (weight > 0) count: kube-proxy keeps removed endpoints at weight 0 while their
// connections drain.
func (e *ipvsExpect) compare(node string, vs *ipvs.Service) (Finding, bool) {
	have := map[netip.AddrPort]bool{}
	var extra, missing []string
	for _, r := range vs.Reals {
		if !r.Available() {
			continue
		}
		have[r.Addr] = true
		if !e.want[r.Addr] {
			extra = append(extra, r.Addr.String()+" ("+r.Pos.String()+")")
		}
	}
	for ap := range e.want {
		if !have[ap] {
			missing = append(missing, ap.String())
		}
	}
	if len(extra)+len(missing) == 0 {
		return Finding{}, false
	}
	sort.Strings(extra)
	sort.Strings(missing)
	var parts []string
	if len(extra) > 0 {
		parts = append(parts, "real servers that are not endpoints: "+strings.Join(extra, ", "))
	}
	if len(missing) > 0 {
		parts = append(parts, "endpoints that are not real servers: "+strings.Join(missing, ", "))
	}
	return Finding{Code: "ipvs-endpoints-differ", Severity: "warning",
		Message: fmt.Sprintf("%s's IPVS virtual service %s disagrees with Service %s (%s in its %s): %s", node, vsName(vs), e.svc.Key(), e.policy, e.from, strings.Join(parts, "; ")),
		Fix:     "kube-proxy on " + node + " is lagging or not running: check its pod and logs (kubectl -n kube-system logs ds/kube-proxy), and compare ipvsadm -Ln with another node"}, true
}
