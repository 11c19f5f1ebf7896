package diagnose

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"

	"github.com/netsim/netsim/model"
	"github.com/netsim/netsim/model/iproute"
)

// sysctlEv cites a setting.
func sysctlEv(ns *model.NetNS, name string) (Evidence, string, bool) {
	s, ok := ns.Sysctls.Get(name)
	if !ok {
		return Evidence{}, "", false
	}
	return at(s.Pos, name+" = "+s.Value), s.Value, true
}

// podBridges lists the host's bridges that have pod veths as ports.
func podBridges(host *model.NetNS) []*iproute.Link {
	var out []*iproute.Link
	for i := range host.Links {
		l := &host.Links[i]
		if l.Kind != "bridge" {
			continue
		}
		for _, p := range host.Links {
			if p.Master == l.Name && (p.Kind == "veth" || p.PeerNetNSID >= 0) {
				out = append(out, l)
				break
			}
		}
	}
	return out
}

// tunnelKinds are the devices that carry pod traffic between nodes, with their overhead.
var tunnelKinds = map[string]int{"vxlan": 50, "ipip": 20, "geneve": 50, "wireguard": 80, "gre": 24, "sit": 20}

// checkSysctls finds forwarding switched off, br_netfilter off where pods sit on a bridge,
// and strict rp_filter (kept for the cross-node check) (FIELD-GUIDE 2, 3, 4).
func (r *run) checkSysctls(nd *nodeDump) {
	host := nd.host
	if !host.Has("sysctl") {
		return
	}
	if ev, v, ok := sysctlEv(host, "net.ipv4.ip_forward"); ok && v == "0" {
		r.add(Finding{Code: "ip-forward-off", Severity: Error, Node: nd.name,
			Message:  fmt.Sprintf("%s does not forward IPv4 (net.ipv4.ip_forward = 0): traffic to and from its pods across the node, Service traffic it DNATs, and (with proxy ARP) even node-to-pod traffic is dropped", nd.name),
			Evidence: []Evidence{ev},
			Fix:      "sysctl -w net.ipv4.ip_forward=1 on " + nd.name + ", and persist it (/etc/sysctl.d)"})
	} else if ok {
		// Forwarding on, but switched off on a device pods use.
		for _, l := range host.Links {
			if !podFacing(host, &l) {
				continue
			}
			if ev, v, ok := sysctlEv(host, "net.ipv4.conf."+l.Name+".forwarding"); ok && v == "0" {
				r.add(Finding{Code: "forwarding-off", Severity: Error, Node: nd.name,
					Message:  fmt.Sprintf("%s does not forward packets arriving on %s (net.ipv4.conf.%s.forwarding = 0), which carries pod traffic", nd.name, l.Name, l.Name),
					Evidence: []Evidence{ev},
					Fix:      fmt.Sprintf("sysctl -w net.ipv4.conf.%s.forwarding=1 on %s", l.Name, nd.name)})
			}
		}
	}
	if brs := podBridges(host); len(brs) > 0 && host.RuleFiles[model.IPTablesV4] != nil {
		if ev, v, ok := sysctlEv(host, "net.bridge.bridge-nf-call-iptables"); ok && v == "0" {
			r.add(Finding{Code: "bridge-nf-call-iptables-off", Severity: Error, Node: nd.name,
				Message:  fmt.Sprintf("%s's pods sit on bridge %s, but bridged traffic skips iptables (net.bridge.bridge-nf-call-iptables = 0): a pod reaching a Service whose endpoint is on the same bridge gets replies that are never un-NATed", nd.name, brs[0].Name),
				Evidence: []Evidence{ev, at(brs[0].Pos, "bridge "+brs[0].Name)},
				Fix:      "modprobe br_netfilter; sysctl -w net.bridge.bridge-nf-call-iptables=1 on " + nd.name},
			)
		} else if !ok && !hasAnyBridgeSysctl(host) {
			r.add(Finding{Code: "br-netfilter-not-loaded", Severity: Warning, Node: nd.name,
				Message:  fmt.Sprintf("%s's pods sit on bridge %s, but the sysctl dump has no net.bridge.* settings: br_netfilter looks unloaded, so bridged traffic skips iptables", nd.name, brs[0].Name),
				Evidence: []Evidence{{File: sysctlFile(host)}, at(brs[0].Pos, "bridge "+brs[0].Name)},
				Fix:      "modprobe br_netfilter; sysctl -w net.bridge.bridge-nf-call-iptables=1 on " + nd.name})
		}
	}
	for _, l := range host.Links {
		if l.Name == "lo" {
			continue
		}
		mode, known := nd.router.RPFilterMode(l.Name)
		if !known || mode != 1 {
			continue
		}
		name := "net.ipv4.conf." + l.Name + ".rp_filter"
		if v, _ := nd.router.Sysctl(name); v != "1" {
			name = "net.ipv4.conf.all.rp_filter"
		}
		if ev, _, ok := sysctlEv(host, name); ok {
			nd.info.strict[l.Name] = ev
		}
	}
}

func hasAnyBridgeSysctl(ns *model.NetNS) bool {
	for k := range ns.Sysctls {
		if len(k) > 11 && k[:11] == "net.bridge." {
			return true
		}
	}
	return false
}

func sysctlFile(ns *model.NetNS) string {
	for _, f := range ns.Read {
		if len(f) >= 10 && f[len(f)-10:] == "sysctl.txt" {
			return f
		}
	}
	return ns.Dir + "/sysctl.txt"
}

// podFacing reports whether a host device carries pod traffic: a pod veth, a bridge
// with pod ports, a tunnel device.
func podFacing(host *model.NetNS, l *iproute.Link) bool {
	if l.Kind == "veth" && l.PeerNetNSID >= 0 && l.Master == "" {
		return true
	}
	if _, ok := tunnelKinds[l.Kind]; ok {
		return true
	}
	if l.Kind == "bridge" {
		for _, p := range host.Links {
			if p.Master == l.Name {
				return true
			}
		}
	}
	return false
}

// checkForwardPolicy reports filter/FORWARD policy DROP when no rule accepts pod traffic
// under it (FIELD-GUIDE 1: Docker's FORWARD policy).
func (r *run) checkForwardPolicy(nd *nodeDump, file string, d *digest) {
	if !d.fwdDrop {
		return
	}
	var fromPods, toPods bool
	var evs []Evidence
	for _, a := range d.fwdAccepts {
		m := a.m
		if len(m.other) > 0 || a.via != "" || m.proto.set || m.sport.set || m.dport.set || m.src.neg || m.dst.neg || m.in.neg || m.out.neg {
			continue
		}
		from := !m.dst.set && !m.out.set && (!m.src.set || r.coversPodCIDR(m.src.p)) && (!m.in.set || r.ifaceIsPods(nd, m.in.name))
		to := !m.src.set && !m.in.set && (!m.dst.set || r.coversPodCIDR(m.dst.p)) && (!m.out.set || r.ifaceIsPods(nd, m.out.name))
		fromPods, toPods = fromPods || from, toPods || to
		got := from || to
		if got && len(evs) < 3 {
			evs = append(evs, at(nodeFilePos(file, a.line), a.text))
		}
	}
	if fromPods && toPods {
		return
	}
	ev := append([]Evidence{at(nodeFilePos(file, d.fwdLine), d.fwdText)}, evs...)
	if !fromPods && !toPods {
		r.add(Finding{Code: "forward-policy-drop", Severity: Error, Node: nd.name,
			Message:  fmt.Sprintf("%s's filter/FORWARD policy is DROP and no rule accepts traffic from or to the pod network (%s): pod traffic leaving or entering the node, and between pods on one bridge, is dropped", nd.name, r.podCIDRText()),
			Evidence: ev,
			Fix:      fmt.Sprintf("on %s: iptables -A FORWARD -s %s -j ACCEPT; iptables -A FORWARD -d %s -j ACCEPT (or set the policy to ACCEPT)", nd.name, r.podCIDRText(), r.podCIDRText())})
		return
	}
	dir := "to"
	if !fromPods {
		dir = "from"
	}
	r.add(Finding{Code: "forward-policy-drop", Severity: Warning, Node: nd.name,
		Message:  fmt.Sprintf("%s's filter/FORWARD policy is DROP and only one direction of pod traffic is accepted: nothing accepts traffic %s the pod network (%s) that kube-proxy did not mark", nd.name, dir, r.podCIDRText()),
		Evidence: ev,
		Fix:      fmt.Sprintf("on %s: accept forwarding %s %s in filter/FORWARD", nd.name, dir, r.podCIDRText())})
}

func (r *run) podCIDRText() string {
	var s []string
	for _, p := range r.podCIDRs {
		s = append(s, p.String())
	}
	if len(s) == 0 {
		return "the pod CIDR"
	}
	return listSome(s, 3)
}

// coversPodCIDR reports whether a prefix holds the cluster's pod ranges (or a node's).
func (r *run) coversPodCIDR(p netip.Prefix) bool {
	for _, q := range r.podCIDRs {
		if p.Bits() <= q.Bits() && p.Contains(q.Addr()) {
			return true
		}
	}
	return false
}

// overlapsPods reports whether a prefix holds some pod address.
func (r *run) overlapsPods(p netip.Prefix) bool {
	for _, q := range r.podCIDRs {
		if p.Overlaps(q) {
			return true
		}
	}
	return false
}

// ifaceIsPods reports whether an interface pattern matches a pod-facing device of the node.
func (r *run) ifaceIsPods(nd *nodeDump, pattern string) bool {
	for i := range nd.host.Links {
		if ifaceMatches(pattern, nd.host.Links[i].Name) && podFacing(nd.host, &nd.host.Links[i]) {
			return true
		}
	}
	return false
}

// checkFirewall reports DROP and REJECT rules not written by Kubernetes that filter/INPUT
// or filter/FORWARD reach, and whether they hit traffic the cluster needs (FIELD-GUIDE 1).
func (r *run) checkFirewall(nd *nodeDump, file string, d *digest) {
	for _, ru := range d.drops {
		m := ru.m
		if m.notNew {
			continue // only packets of connections something else admitted, or INVALID ones
		}
		hits, sev, why := r.firewallHits(nd, ru)
		if !hits {
			continue
		}
		code := "firewall-forward-drop"
		what := "forwarded pod traffic"
		if ru.hook == "INPUT" {
			code, what = "firewall-input-drop", "traffic to the node"
		}
		action := "drops"
		if ru.verb == "REJECT" {
			action = "rejects"
		}
		ev := []Evidence{at(nodeFilePos(file, ru.line), ru.text)}
		r.add(Finding{Code: code, Severity: sev, Node: nd.name,
			Message:  fmt.Sprintf("%s: filter/%s rule not written by Kubernetes %s %s: %s", nd.name, ru.chain, action, what, why),
			Evidence: ev,
			Fix:      fmt.Sprintf("remove or narrow the rule on %s (iptables -t filter -D %s ...), or accept the cluster's traffic before it", nd.name, ru.chain)})
	}
}

// firewallHits decides whether a drop rule hits cluster traffic: error when it does for
// sure (ports pods or the node serve, or no port condition), warning when it may.
func (r *run) firewallHits(nd *nodeDump, ru ruleRef) (bool, Severity, string) {
	m := ru.m
	sev := Error
	var caveats string
	if len(m.other) > 0 || ru.via != "" {
		sev = Warning
		caveats = " (depending on conditions netsim does not compare)"
	}
	for _, c := range []ifaceCond{m.in, m.out} {
		if c.set && !c.neg && !r.ifaceIsPods(nd, c.name) && !isUnderlay(nd, c.name, r) {
			return false, "", ""
		}
	}
	if ru.hook == "FORWARD" {
		if m.src.set && !m.src.neg && m.dst.set && !m.dst.neg && !r.overlapsPods(m.src.p) && !r.overlapsPods(m.dst.p) {
			return false, "", ""
		}
		if !m.dport.set {
			return true, sev, "it matches every port" + caveats
		}
		var hit []string
		for pp := range r.podPorts {
			if (!m.proto.set || (!m.proto.neg && m.proto.name == pp.proto)) && m.dport.has(int(pp.port)) {
				hit = append(hit, strconv.Itoa(int(pp.port))+"/"+pp.proto)
			}
		}
		if len(hit) == 0 {
			return true, Warning, "no pod declares or serves the ports it matches, so it may be intended"
		}
		sort.Strings(hit)
		return true, sev, "pods serve " + listSome(hit, 5) + caveats
	}
	// INPUT: what the node itself serves.
	if m.src.set && !m.src.neg && !r.overlapsPods(m.src.p) && !r.holdsNodeAddr(m.src.p) {
		return true, Warning, fmt.Sprintf("it matches sources in %s only, neither pods nor nodes", m.src.p)
	}
	if !m.dport.set {
		return true, sev, "it matches every port" + caveats
	}
	var hit []string
	for _, s := range nd.host.Sockets {
		if !s.Listening() || (m.proto.set && (m.proto.neg || m.proto.name != s.Proto)) || !m.dport.has(int(s.Local.Port())) || s.Local.Addr().IsLoopback() {
			continue
		}
		hit = append(hit, s.String())
	}
	if len(hit) > 0 {
		sort.Strings(hit)
		hit = dedup(hit)
		return true, sev, "the node listens there: " + listSome(hit, 3) + caveats
	}
	for _, w := range r.c.Services {
		for _, sp := range w.Spec.Ports {
			if sp.NodePort != 0 && m.dport.has(int(sp.NodePort)) && (!m.proto.set || m.proto.name == lower(sp.Protocol)) {
				return true, sev, fmt.Sprintf("Service %s's node port %d/%s is there%s", w.Key(), sp.NodePort, lower(sp.Protocol), caveats)
			}
		}
	}
	return true, Warning, "nothing the bundle shows listens on the ports it matches, so it may be intended"
}

// isUnderlay reports whether an interface pattern matches the device holding a Node address.
func isUnderlay(nd *nodeDump, pattern string, r *run) bool {
	for _, l := range nd.host.Links {
		if !ifaceMatches(pattern, l.Name) {
			continue
		}
		for _, a := range l.Addrs {
			if r.c.NodeByAddr(a.Prefix.Addr()) != nil {
				return true
			}
		}
	}
	return false
}

// holdsNodeAddr reports whether a prefix holds some Node's address.
func (r *run) holdsNodeAddr(p netip.Prefix) bool {
	for _, n := range r.c.Nodes {
		for _, a := range n.Addrs {
			if p.Contains(a) {
				return true
			}
		}
	}
	return false
}
