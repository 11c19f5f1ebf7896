package diagnose

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/netsim/netsim/model"
	"github.com/netsim/netsim/rules/routing"
)

// checkPods checks every pod namespace of a node: its interface is up, it has a route out
// of its own subnet through an address the node holds (FIELD-GUIDE 6), and it listens
// where its Services send traffic (FIELD-GUIDE 14).
func (r *run) checkPods(nd *nodeDump) {
	for _, key := range sortedKeys(nd.pods) {
		ns := nd.pods[key]
		r.checkPodLink(nd, key, ns)
		r.checkPodRoute(nd, key, ns)
		r.checkListeners(nd, key, ns)
	}
}

// podEth0 is the pod's interface to the node: eth0, else its first non-loopback device.
func podEth0(ns *model.NetNS) int {
	for i := range ns.Links {
		if ns.Links[i].Name == "eth0" {
			return i
		}
	}
	for i := range ns.Links {
		if ns.Links[i].Name != "lo" {
			return i
		}
	}
	return -1
}

func (r *run) checkPodLink(nd *nodeDump, key string, ns *model.NetNS) {
	i := podEth0(ns)
	if i < 0 || !ns.Has("addr") {
		return
	}
	l := &ns.Links[i]
	if !l.Up() {
		r.add(Finding{Code: "pod-link-down", Severity: Error, Node: nd.name,
			Message:  fmt.Sprintf("pod %s's %s is down: the pod can reach nothing", key, l.Name),
			Evidence: []Evidence{at(l.Pos, l.Name+" flags "+strings.Join(l.Flags, ","))},
			Fix:      "recreate the pod (its CNI setup failed), or ip link set " + l.Name + " up inside it"})
	}
}

// checkPodRoute looks up, inside the pod, a destination outside its subnet (the first
// Service's cluster IP, else another node's pod CIDR): no route or a blackhole is an
// error; a default route through an address neither the node holds nor answers for is a
// warning.
func (r *run) checkPodRoute(nd *nodeDump, key string, ns *model.NetNS) {
	if !ns.Has("route") {
		return
	}
	dst, what := r.outsideProbe(nd.name)
	if !dst.IsValid() {
		return
	}
	router := routing.New(ns.Routes, ns.Rules, ns.Links, ns.Sysctls)
	d := router.Lookup(routing.Query{Dst: dst})
	switch d.Kind {
	case routing.NoRoute, routing.Blackhole, routing.Unreachable, routing.Prohibit:
		ev := routeEvidenceNS(d, ns)
		r.add(Finding{Code: "pod-no-default-route", Severity: Error, Node: nd.name,
			Message:  fmt.Sprintf("pod %s has no route to %s (%s): it can reach only its own subnet, not Services, DNS or pods on other nodes", key, dst, what),
			Evidence: ev,
			Fix:      "recreate the pod so that the CNI sets up its routes again (a default route via the node's bridge or gateway)"})
	case routing.Unicast:
		if len(d.Hops) == 0 || !d.Hops[0].Gateway.IsValid() {
			return
		}
		gw := d.Hops[0].Gateway
		if nd.host.HasAddr(gw) || isLinkLocal169(gw) || hasFlag(d.Route.Flags, "onlink") {
			return
		}
		r.add(Finding{Code: "pod-default-route-wrong", Severity: Warning, Node: nd.name,
			Message:  fmt.Sprintf("pod %s routes %s via %s, an address node %s does not hold: the next hop may not answer", key, dst, gw, nd.name),
			Evidence: []Evidence{at(d.Route.Pos, d.Route.String())},
			Fix:      "route the pod via its node's bridge address (recreate the pod so the CNI sets it up)"})
	}
}

func isLinkLocal169(a netip.Addr) bool { return a.Is4() && a.IsLinkLocalUnicast() }

func hasFlag(fs []string, f string) bool {
	for _, x := range fs {
		if x == f {
			return true
		}
	}
	return false
}

func routeEvidenceNS(d routing.Decision, ns *model.NetNS) []Evidence {
	var ev []Evidence
	if d.Route != nil {
		ev = append(ev, at(d.Route.Pos, d.Route.String()))
	}
	if d.Rule != nil && !d.Rule.Pos.IsZero() {
		ev = append(ev, at(d.Rule.Pos, d.Rule.String()))
	}
	if len(ev) == 0 {
		ev = append(ev, Evidence{File: fileOf(ns, "route")})
	}
	return ev
}

// outsideProbe picks an address a pod must be able to route to: a Service cluster IP,
// else another node's pod CIDR.
func (r *run) outsideProbe(node string) (netip.Addr, string) {
	for _, s := range r.c.Services {
		for _, ip := range s.ClusterIPs {
			if ip.Is4() {
				return ip, "Service " + s.Key() + "'s cluster IP"
			}
		}
	}
	for _, m := range r.c.Nodes {
		if m.Name == node {
			continue
		}
		for _, p := range m.PodCIDRs {
			if p.Addr().Is4() {
				return probe(p), "in node " + m.Name + "'s pod CIDR"
			}
		}
	}
	return netip.Addr{}, ""
}

// checkListeners reports Service ports that an endpoint pod does not listen on, naming
// what it does listen on at that port (FIELD-GUIDE 14). It is an error when the pod
// declares the port (the objects agree it should be served), a warning otherwise (that
// is a targetPort mismatch, reported with the Service).
func (r *run) checkListeners(nd *nodeDump, key string, ns *model.NetNS) {
	exps := r.expects[key]
	if len(exps) == 0 || !ns.Has("sockets") {
		return
	}
	seen := map[protoPort]bool{}
	for _, e := range exps {
		if seen[e.pp] {
			continue
		}
		seen[e.pp] = true
		ok := false
		var other []string
		for i := range ns.Sockets {
			s := &ns.Sockets[i]
			if s.Accepts(e.pp.proto, netip.AddrPortFrom(e.ep.Addr, uint16(e.pp.port)), "") {
				ok = true
				break
			}
			if s.Listening() && s.Proto == e.pp.proto && int32(s.Local.Port()) == e.pp.port {
				other = append(other, s.String())
			}
		}
		if ok || !e.declared {
			continue
		}
		var svcs []string
		for _, x := range exps {
			if x.pp == e.pp {
				svcs = append(svcs, x.svc.Key())
			}
		}
		sort.Strings(svcs)
		svcs = dedup(svcs)
		msg := fmt.Sprintf("pod %s is a ready endpoint of %s on %d/%s, but nothing in it listens on %s:%d", key, listSome(svcs, 3), e.pp.port, e.pp.proto, e.ep.Addr, e.pp.port)
		ev := []Evidence{{File: fileOf(ns, "sockets")}, object("service", svcs[0], r.c.Service(splitKey(svcs[0])).Pos)}
		if len(other) > 0 {
			msg += fmt.Sprintf(" (it listens on %s only: connections from other addresses are refused)", listSome(other, 2))
			for i := range ns.Sockets {
				if ns.Sockets[i].String() == other[0] {
					ev[0] = at(ns.Sockets[i].Pos, other[0])
					break
				}
			}
		}
		r.add(Finding{Code: "endpoint-no-listener", Severity: Error, Node: nd.name,
			Message:  msg,
			Evidence: ev,
			Fix:      fmt.Sprintf("make the container listen on 0.0.0.0:%d (or [::]), or fix its readiness probe so it is not ready while it does not", e.pp.port)})
	}
}

// checkHairpin reports bridge ports with hairpin mode off whose pod backs a Service: the
// pod cannot reach itself through the Service (FIELD-GUIDE 15).
func (r *run) checkHairpin(nd *nodeDump) {
	for _, key := range sortedKeys(nd.pods) {
		if len(r.expects[key]) == 0 {
			continue
		}
		ns := nd.pods[key]
		i := podEth0(ns)
		if i < 0 || ns.Links[i].PeerIndex == 0 {
			continue
		}
		hl := nd.host.LinkByIndex(ns.Links[i].PeerIndex)
		if hl == nil || hl.Master == "" || hl.Hairpin == nil || *hl.Hairpin {
			continue
		}
		svc := r.expects[key][0].svc
		r.add(Finding{Code: "hairpin-off", Severity: Error, Node: nd.name,
			Message:  fmt.Sprintf("pod %s backs Service %s, but its bridge port %s on %s has hairpin mode off: when the Service picks the pod itself, the packet cannot go back out the port it came in, and the pod cannot reach itself through its Service", key, svc.Key(), hl.Name, hl.Master),
			Evidence: []Evidence{at(hl.Pos, hl.Name+" master "+hl.Master+" hairpin off"), object("service", svc.Key(), svc.Pos)},
			Fix:      fmt.Sprintf("on %s: ip link set %s type bridge_slave hairpin on (and set hairpinMode in the kubelet/CNI config)", nd.name, hl.Name)})
	}
}
