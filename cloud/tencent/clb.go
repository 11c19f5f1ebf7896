package tencent

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/netsim/netsim/cloud"
	"github.com/netsim/netsim/rules/packet"
)

// Inbound implements cloud.Provider: a packet from outside to a CLB's VIP (its status,
// listener, security groups, and each target with its health), or to an instance's
// public IP (translated to its private IP and judged by its security groups).
func (p *Provider) Inbound(pk packet.Packet) ([]cloud.Entry, bool) {
	for _, lb := range p.X.LBs {
		for _, a := range lb.VIPs {
			if a == pk.Dst {
				return p.viaLB(lb, pk), true
			}
		}
	}
	nics := p.nics
	if p.idx != nil {
		nics = nil
		if e := p.idx.public[pk.Dst]; e != nil {
			nics = []*ENI{e}
		}
	}
	for _, e := range nics {
		for priv, pub := range e.Public {
			if pub == pk.Dst {
				return []cloud.Entry{p.viaPublicIP(e, priv, pk)}, true
			}
		}
	}
	for _, n := range p.X.NATs {
		for _, a := range n.PublicIPs {
			if a == pk.Dst {
				return []cloud.Entry{{Decisions: []cloud.Decision{{Verdict: cloud.Unknown, Step: "tencent NAT gateway", Action: "unknown", Code: "cloud-unsupported", Object: "natgateway/" + n.ID, Pos: n.Pos,
					Message: fmt.Sprintf("%s is a public IP of NAT gateway %s: its port forwarding (DNAT) rules are not read, so where it leads is not known", pk.Dst, n.ID)}}}}, true
			}
		}
	}
	return nil, false
}

func blocked(ds ...cloud.Decision) []cloud.Entry { return []cloud.Entry{{Decisions: ds}} }

// listenerCarries reports whether a listener's protocol carries the packet's.
func listenerCarries(proto string, p uint8) bool {
	switch proto {
	case "TCP", "TCP_SSL", "HTTP", "HTTPS":
		return p == packet.TCP
	case "UDP", "QUIC":
		return p == packet.UDP
	}
	return false
}

// covers reports whether a listener's port (or port range, Port-EndPort) holds port.
func (l *Listener) covers(port uint16) bool {
	if l.EndPort > l.Port {
		return int(port) >= l.Port && int(port) <= l.EndPort
	}
	return l.Port == int(port)
}

func layer7(proto string) bool { return proto == "HTTP" || proto == "HTTPS" }

// viaLB follows a packet to a CLB: it must be running (Status 1), public (OPEN) for a
// client outside the VPC, and have a listener on the port and protocol; its own
// security groups judge the client; then each healthy target of the listener (of each
// forwarding rule, for layer 7) gets the packet. When no target of a rule is healthy,
// CLB forwards to all of them (it fails open); a warning says so.
func (p *Provider) viaLB(lb *LoadBalancer, pk packet.Packet) []cloud.Entry {
	obj := "loadbalancer/" + lb.ID
	hop := cloud.Decision{Step: "tencent CLB", Action: "accept", Object: obj, Pos: lb.Pos, Text: fmt.Sprintf("%s %s, status %d", lb.Type, lb.Name, lb.Status)}
	if lb.Status != 1 {
		hop.Verdict, hop.Action, hop.Code = cloud.Deny, "drop", "tencent-clb-status"
		hop.Message = fmt.Sprintf("CLB %s has status %d, not 1 (normal): it does not serve yet", lb.ID, lb.Status)
		return blocked(hop)
	}
	if lb.Type == "INTERNAL" && !pk.Src.IsPrivate() {
		hop.Verdict, hop.Action, hop.Code = cloud.Deny, "drop", "tencent-clb-internal"
		hop.Message = fmt.Sprintf("CLB %s is INTERNAL (private network): %s, on the internet, cannot reach it", lb.ID, pk.Src)
		hop.Fix = "annotate the Service for a public CLB (remove service.kubernetes.io/qcloud-loadbalancer-internal-subnetid)"
		return blocked(hop)
	}
	lfile := DirListeners + "/" + lb.ID + ".json"
	lns, ok := p.X.Listeners[lb.ID]
	if !ok {
		return blocked(hop, p.gap("tencent CLB listener", lfile, "which listeners CLB "+lb.ID+" has"))
	}
	var ln *Listener
	var others []string
	for _, l := range lns {
		if l.covers(pk.DPort) && listenerCarries(l.Protocol, pk.Proto) {
			ln = l
		} else {
			others = append(others, fmt.Sprintf("%d/%s", l.Port, l.Protocol))
		}
	}
	if ln == nil {
		hop.Verdict, hop.Action, hop.Code = cloud.Deny, "drop", "tencent-clb-no-listener"
		list := "none"
		if len(others) > 0 {
			list = strings.Join(others, ", ")
		}
		hop.Message = fmt.Sprintf("CLB %s has no listener on %s (its listeners: %s): the connection is refused", lb.ID, flowLabel(pk), list)
		hop.Fix = fmt.Sprintf("add a listener on %s to %s forwarding to the nodes' node port (TKE's service controller adds one per Service port: check the Service's events), e.g. tccli clb CreateListener --LoadBalancerId %s --Ports '[%d]' --Protocol %s",
			flowLabel(pk), lb.ID, lb.ID, pk.DPort, strings.ToUpper(packet.ProtoName(pk.Proto)))
		return blocked(hop)
	}
	lnHop := cloud.Decision{Step: "tencent CLB listener", Action: "allow", Object: fmt.Sprintf("listener/%s %s", lb.ID, ln.ID), Pos: ln.Pos, Text: fmt.Sprintf("%d/%s %s", ln.Port, ln.Protocol, ln.Name)}
	if ln.EndPort > ln.Port {
		// Which target port a port in the range goes to is not followed: never guess.
		lnHop.Text = fmt.Sprintf("%d-%d/%s %s", ln.Port, ln.EndPort, ln.Protocol, ln.Name)
		lnHop.Verdict, lnHop.Action, lnHop.Code = cloud.Unknown, "unknown", "cloud-unsupported"
		lnHop.Message = fmt.Sprintf("listener %s of %s listens on the port range %d-%d (%s): netsim does not follow port range listeners to their targets", ln.ID, lb.ID, ln.Port, ln.EndPort, p.file(DirListeners+"/"+lb.ID+".json"))
		return blocked(hop, lnHop)
	}
	head := []cloud.Decision{hop, lnHop}
	if len(lb.Groups) > 0 {
		d := p.sgCheck(lb.Groups, "CLB "+lb.ID, true, pk, cloud.Leg{})
		head = append(head, d)
		if d.Blocks() {
			return blocked(head...)
		}
	}
	if p.X.Has[FileTargetHealth] == "" {
		return blocked(append(head, p.gap("tencent CLB target", FileTargetHealth, "which targets of "+lb.ID+" are healthy"))...)
	}
	// Targets of the listener, per forwarding rule (layer 4 listeners have one).
	byRule := map[string][]*Target{}
	var order []string
	for _, t := range p.X.Targets[lb.ID] {
		if t.Listener != ln.ID {
			continue
		}
		if _, seen := byRule[t.Location]; !seen {
			order = append(order, t.Location)
		}
		byRule[t.Location] = append(byRule[t.Location], t)
	}
	if len(order) == 0 {
		d := cloud.Decision{Verdict: cloud.Deny, Step: "tencent CLB target", Action: "drop", Code: "tencent-clb-no-targets", Object: lnHop.Object, Pos: ln.Pos,
			Message: fmt.Sprintf("listener %d/%s of %s has no bound target in %s: nothing serves it", ln.Port, ln.Protocol, lb.ID, p.file(FileTargetHealth)),
			Fix:     "bind the nodes (or the pods' ENI IPs) to the listener: check the Service's events and TKE's service controller"}
		return blocked(append(head, d)...)
	}
	var out []cloud.Entry
	for _, loc := range order {
		ts := byRule[loc]
		var live, sick []*Target
		for _, t := range ts {
			if serves(t) {
				live = append(live, t)
			} else {
				sick = append(sick, t)
			}
		}
		rh := append([]cloud.Decision(nil), head...)
		hd := cloud.Decision{Step: "tencent CLB target", Action: "forward", Object: lnHop.Object, Pos: ts[0].Pos, Text: fmt.Sprintf("%d of %d targets healthy", len(live), len(ts))}
		if layer7(ln.Protocol) {
			hd.Object += " rule " + loc
			hd.Text = "rule " + ts[0].Rule + ": " + hd.Text
		}
		if len(live) > 0 && len(sick) > 0 {
			hd.Text += " (not chosen: " + healthSummary(sick) + ")"
		}
		chosen := live
		if len(live) == 0 {
			chosen = sick
			hd.Warning, hd.Code = true, "tencent-clb-fail-open"
			hd.Message = fmt.Sprintf("no target of listener %d/%s of %s is healthy (%s): CLB then forwards to all of them", ln.Port, ln.Protocol, lb.ID, healthSummary(sick))
			hd.Fix = "find why the health checks fail: the node port answering on each node, the nodes' security groups admitting the health check source"
		}
		rh = append(rh, hd)
		for _, t := range chosen {
			out = append(out, p.toTarget(lb, ln, t, pk, rh, sick))
		}
	}
	return out
}

// serves reports whether CLB sends to a target: healthy, or its health check is off.
func serves(t *Target) bool { return t.Healthy || strings.EqualFold(t.Detail, "Close") }

func healthSummary(ts []*Target) string {
	var out []string
	for _, t := range ts {
		id := t.TargetID
		if id == "" {
			id = t.IP.String()
		}
		s := fmt.Sprintf("%s:%d", id, t.Port)
		if t.Detail != "" {
			s += " " + t.Detail
		} else if !t.Healthy {
			s += " unhealthy"
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// toTarget is the way to one target: CLB's translation to the target's address and
// port (the client's source is kept: CLB passes it through), then the target's
// security groups, unless the CLB lets its traffic pass to the targets.
func (p *Provider) toTarget(lb *LoadBalancer, ln *Listener, t *Target, pk packet.Packet, head []cloud.Decision, sick []*Target) cloud.Entry {
	var node string
	var dst netip.Addr
	var nic *ENI
	if strings.HasPrefix(t.TargetID, "ins-") {
		node = p.byInstance[t.TargetID]
		nic = p.primaryOf(t.TargetID)
	}
	if nic == nil && t.IP.IsValid() {
		nic = p.nicWith(t.IP)
		if nic != nil {
			node = p.nodeOf(nic)
		}
	}
	switch {
	case t.IP.IsValid():
		dst = t.IP
	case nic != nil && len(nic.IPs) > 0:
		dst = nic.IPs[0]
	}
	fwd := pk
	fwd.Dst, fwd.DPort = dst, uint16(t.Port)
	id := t.TargetID
	if id == "" {
		id = t.IP.String()
	}
	ds := append([]cloud.Decision(nil), head...)
	th := cloud.Decision{Step: "tencent CLB target", Action: "dnat", Object: fmt.Sprintf("listener/%s %s target %s", lb.ID, ln.ID, id), Pos: t.Pos,
		Text: fmt.Sprintf("%s:%d healthy %v %s", id, t.Port, t.Healthy, t.Detail), Packet: fwd}
	if node != "" {
		th.Note = "node " + node
	}
	if len(sick) > 0 && serves(t) {
		th.Note += "; not chosen: " + healthSummary(sick)
	}
	ds = append(ds, th)
	branch := fmt.Sprintf("CLB %s %d/%s target %s", lb.ID, ln.Port, ln.Protocol, id)
	if t.Rule != "" && layer7(ln.Protocol) {
		branch = fmt.Sprintf("CLB %s %d/%s rule %s target %s", lb.ID, ln.Port, ln.Protocol, t.Rule, id)
	}
	if !dst.IsValid() || node == "" {
		ds = append(ds, cloud.Decision{Verdict: cloud.Unknown, Step: "tencent CLB target", Action: "unknown", Code: "cloud-node-unmapped",
			Message: fmt.Sprintf("target %s of %s is no node of the cluster (by instance or ENI address): where it goes is not in the bundle", id, lb.ID)})
		return cloud.Entry{Decisions: ds, Branch: branch}
	}
	if lb.PassToTarget {
		ds = append(ds, cloud.Decision{Step: "tencent security group ingress", Action: "allow", Object: "loadbalancer/" + lb.ID, Pos: lb.Pos, Text: "LoadBalancerPassToTarget true",
			Note: "the CLB lets its traffic pass to the targets: their security groups do not judge it (the CLB's own do)"})
	} else {
		ds = append(ds, p.Ingress(cloud.Leg{To: node, Packet: fwd})...)
	}
	vip, vport := pk.Dst, pk.DPort
	client, cport := pk.Src, pk.SPort
	back := func(r packet.Packet) (packet.Packet, []cloud.Decision) {
		out := r
		out.Src, out.SPort, out.Dst, out.DPort = vip, vport, client, cport
		return out, []cloud.Decision{{Step: "tencent CLB", Action: "snat", Object: "loadbalancer/" + lb.ID, Pos: lb.Pos, Text: lb.Name, Note: "the reply leaves from the CLB's VIP", Packet: out}}
	}
	e := cloud.Entry{Decisions: ds, Node: node, Packet: fwd, Branch: branch + " (node " + node + ")", Back: back}
	if blocks(ds) {
		e.Node = ""
	}
	return e
}

// viaPublicIP follows a packet to an instance's public IP: Tencent Cloud translates it
// to the primary private IP and the instance's security groups judge it.
func (p *Provider) viaPublicIP(e *ENI, priv netip.Addr, pk packet.Packet) cloud.Entry {
	fwd := pk
	fwd.Dst = priv
	ds := []cloud.Decision{{Step: "tencent public IP", Action: "dnat", Object: "networkinterface/" + objID(e.ID), Pos: e.Pos, Text: fmt.Sprintf("%s <-> %s", pk.Dst, priv), Packet: fwd}}
	node := p.nodeOf(e)
	if node == "" {
		ds = append(ds, cloud.Decision{Verdict: cloud.Unknown, Step: "tencent public IP", Action: "unknown", Code: "cloud-node-unmapped",
			Message: fmt.Sprintf("%s belongs to %s, which is no node of the cluster", pk.Dst, p.nicLabel(e))})
		return cloud.Entry{Decisions: ds}
	}
	ds = append(ds, p.Ingress(cloud.Leg{To: node, Packet: fwd})...)
	pub := pk.Dst
	back := func(r packet.Packet) (packet.Packet, []cloud.Decision) {
		out := r
		out.Src = pub
		return out, []cloud.Decision{{Step: "tencent public IP", Action: "snat", Object: "networkinterface/" + objID(e.ID), Pos: e.Pos, Text: fmt.Sprintf("%s <-> %s", priv, pub), Packet: out}}
	}
	en := cloud.Entry{Decisions: ds, Node: node, Packet: fwd, Branch: "public IP " + pub.String() + " of node " + node, Back: back}
	if blocks(ds) {
		en.Node = ""
	}
	return en
}
