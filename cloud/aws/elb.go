package aws

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/netsim/netsim/cloud"
	"github.com/netsim/netsim/rules/packet"
)

// Inbound implements cloud.Provider: a packet from outside to a load balancer's address
// (its listener, its security groups, its target group and the targets' health), or to
// an interface's public IP (the internet gateway's translation).
func (p *Provider) Inbound(pk packet.Packet) ([]cloud.Entry, bool) {
	for _, lb := range p.X.LBs {
		for _, a := range lb.Addrs {
			if a == pk.Dst {
				return p.viaLB(lb, pk), true
			}
		}
	}
	if e, priv := p.X.PublicOwner(pk.Dst); e != nil {
		return []cloud.Entry{p.viaPublicIP(e, priv, pk)}, true
	}
	return nil, false
}

func blockedEntry(ds ...cloud.Decision) []cloud.Entry { return []cloud.Entry{{Decisions: ds}} }

// listenerProto reports whether a listener's protocol carries the packet's.
func listenerProto(lp string, proto uint8) bool {
	switch strings.ToUpper(lp) {
	case "TCP", "TLS", "HTTP", "HTTPS":
		return proto == packet.TCP
	case "UDP":
		return proto == packet.UDP
	case "TCP_UDP":
		return proto == packet.TCP || proto == packet.UDP
	}
	return false
}

// viaLB follows a packet to a load balancer and on to each target it would pick.
func (p *Provider) viaLB(lb *LoadBalancer, pk packet.Packet) []cloud.Entry {
	obj := "loadbalancer/" + lb.Name
	lbHop := cloud.Decision{Step: "aws load balancer", Action: "accept", Object: obj, Pos: lb.Pos, Text: fmt.Sprintf("%s %s %s, state %s", lb.Type, lb.Scheme, lb.DNSName, lb.State)}
	if lb.State != "active" {
		lbHop.Verdict, lbHop.Action, lbHop.Code = cloud.Deny, "drop", "aws-lb-state"
		lbHop.Message = fmt.Sprintf("load balancer %s is %s, not active", lb.Name, lb.State)
		return blockedEntry(lbHop)
	}
	if lb.Scheme == "internal" && !pk.Src.IsPrivate() {
		lbHop.Verdict, lbHop.Action, lbHop.Code = cloud.Deny, "drop", "aws-lb-internal"
		lbHop.Message = fmt.Sprintf("load balancer %s is internal: %s, outside the VPC, cannot reach it", lb.Name, pk.Src)
		lbHop.Fix = "annotate the Service for an internet-facing load balancer (service.beta.kubernetes.io/aws-load-balancer-scheme: internet-facing)"
		return blockedEntry(lbHop)
	}
	if p.X.Has[FileListeners] == "" {
		return blockedEntry(lbHop, p.gap("aws load balancer listener", FileListeners, "which listeners "+lb.Name+" has"))
	}
	var ln *Listener
	var others []string
	for _, l := range p.X.Listeners {
		if l.LB != lb.ARN {
			continue
		}
		if l.Port == int(pk.DPort) && listenerProto(l.Protocol, pk.Proto) {
			ln = l
		} else {
			others = append(others, fmt.Sprintf("%d/%s", l.Port, l.Protocol))
		}
	}
	if ln == nil {
		lbHop.Verdict, lbHop.Action, lbHop.Code = cloud.Deny, "drop", "aws-lb-no-listener"
		lis := "none"
		if len(others) > 0 {
			lis = strings.Join(others, ", ")
		}
		lbHop.Message = fmt.Sprintf("load balancer %s has no listener on %s (its listeners: %s): the connection is dropped", lb.Name, flowLabel(pk), lis)
		lbHop.Fix = fmt.Sprintf("add a listener on %s forwarding to the target group of the Service's node port (the AWS load balancer controller or cloud provider adds one per Service port: check its events)", flowLabel(pk))
		return blockedEntry(lbHop)
	}
	lnHop := cloud.Decision{Step: "aws listener", Action: "allow", Object: "listener/" + lb.Name + fmt.Sprintf(":%d", ln.Port), Pos: ln.Pos, Text: fmt.Sprintf("%d/%s %s %s", ln.Port, ln.Protocol, ln.Action, strings.Join(tgNames(p.X, ln.TargetGroups), ", "))}
	head := []cloud.Decision{lbHop, lnHop}
	if lb.HasGroups {
		var refs []GroupRef
		for _, g := range lb.Groups {
			refs = append(refs, GroupRef{ID: g})
		}
		head = append(head, p.groupsCheck(refs, "load balancer "+lb.Name, pk, Peer{Addr: pk.Src}))
	}
	if len(ln.TargetGroups) == 0 || ln.Action != "forward" {
		return blockedEntry(append(head, cloud.Decision{Verdict: cloud.Unknown, Step: "aws listener", Action: "unknown", Code: "cloud-unsupported",
			Message: fmt.Sprintf("listener %d of %s does %q, not a forward to a target group: netsim does not follow it", ln.Port, lb.Name, ln.Action)})...)
	}
	if p.X.Has[FileTGs] == "" {
		return blockedEntry(append(head, p.gap("aws target group", FileTGs, "the target group of "+lb.Name))...)
	}
	tg := p.X.TGs[ln.TargetGroups[0]]
	if tg == nil {
		return blockedEntry(append(head, cloud.Decision{Verdict: cloud.Unknown, Step: "aws target group", Action: "unknown", Code: "cloud-missing-data",
			Message: fmt.Sprintf("listener %d forwards to %s, which %s does not list", ln.Port, ln.TargetGroups[0], p.file(FileTGs))})...)
	}
	hs, ok := p.X.Health[tg.ARN]
	if !ok {
		return blockedEntry(append(head, p.gap("aws target health", DirTargetHealth+"/"+tg.Name+".json", "which targets of "+tg.Name+" are healthy"))...)
	}
	var live, sick []TargetHealth
	for _, h := range hs {
		switch h.State {
		case "healthy":
			live = append(live, h)
		case "unhealthy", "initial", "unavailable":
			sick = append(sick, h)
		}
	}
	tgHop := cloud.Decision{Step: "aws target group", Action: "forward", Object: "targetgroup/" + tg.Name, Pos: tg.Pos, Text: fmt.Sprintf("%s %s port %d, %d of %d targets healthy", tg.TargetType, tg.Protocol, tg.Port, len(live), len(hs))}
	chosen := live
	if len(live) == 0 {
		if len(sick) == 0 {
			tgHop.Verdict, tgHop.Action, tgHop.Code = cloud.Deny, "drop", "aws-lb-no-targets"
			tgHop.Message = fmt.Sprintf("target group %s of %s has no registered target that can serve", tg.Name, lb.Name)
			tgHop.Fix = "register the nodes (or pods) as targets: check the load balancer controller's logs and the nodes' labels it selects by"
			return blockedEntry(append(head, tgHop)...)
		}
		chosen = sick
		tgHop.Warning, tgHop.Code = true, "aws-lb-fail-open"
		tgHop.Message = fmt.Sprintf("no target of %s is healthy: the load balancer fails open and sends to all of them (%s)", tg.Name, healthSummary(sick))
	}
	head = append(head, tgHop)
	var out []cloud.Entry
	for _, h := range chosen {
		out = append(out, p.toTarget(lb, ln, tg, h, pk, head, sick))
	}
	return out
}

func tgNames(x *Export, arns []string) []string {
	var out []string
	for _, a := range arns {
		if tg := x.TGs[a]; tg != nil {
			out = append(out, tg.Name)
		} else {
			out = append(out, a)
		}
	}
	return out
}

func healthSummary(hs []TargetHealth) string {
	var out []string
	for _, h := range hs {
		s := h.ID + " " + h.State
		if h.Reason != "" {
			s += " (" + h.Reason + ")"
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// groupsCheck judges a load balancer's own security groups (ingress, from the client).
func (p *Provider) groupsCheck(refs []GroupRef, who string, pk packet.Packet, peer Peer) cloud.Decision {
	step := "aws security group ingress"
	if p.X.Has[FileGroups] == "" {
		return p.gap(step, FileGroups, "the security groups of "+who)
	}
	r := p.X.EvalGroups(refs, true, pk, peer)
	if r.Allowed {
		return cloud.Decision{Step: step, Action: "allow", Object: fmt.Sprintf("securitygroup/%s ingress rule %d", r.Group.ID, r.Rule.Index), Pos: r.Rule.Pos, Text: r.Rule.Label(true), Note: who}
	}
	d := cloud.Decision{Verdict: cloud.Deny, Step: step, Action: "drop", Code: "aws-security-group", Object: "securitygroup/" + refs[0].ID, Text: p.X.groupNames(refs)}
	if g := p.X.Groups[refs[0].ID]; g != nil {
		d.Pos = g.Pos
	}
	if r.Unknown != "" {
		d.Verdict, d.Action, d.Code = cloud.Unknown, "unknown", "cloud-missing-data"
	}
	d.Message = fmt.Sprintf("%s on %s admits nothing on %s from %s%s", p.X.groupNames(refs), who, flowLabel(pk), pk.Src, suffix(r.Unknown))
	d.Fix = fmt.Sprintf("add ingress %s from 0.0.0.0/0 (or the clients' range) on %s (the Service's loadBalancerSourceRanges feed it)", flowLabel(pk), refs[0].ID)
	return d
}

func suffix(s string) string {
	if s == "" {
		return ""
	}
	return "; " + s
}

// lbSource is the address a load balancer sends to targets from when it does not keep
// the client's: its interface in the VPC.
func (p *Provider) lbSource(lb *LoadBalancer) netip.Addr {
	kind := map[string]string{"application": "app", "network": "net", "gateway": "gwy"}[lb.Type]
	for _, e := range p.X.ENIs {
		if strings.HasPrefix(e.Description, "ELB "+kind+"/"+lb.Name+"/") && len(e.IPs) > 0 {
			return e.IPs[0]
		}
	}
	for _, a := range lb.Addrs {
		if a.IsPrivate() {
			return a
		}
	}
	return netip.Addr{}
}

// toTarget is the way to one target: the load balancer's translation, then the
// target's subnet ACL and security groups.
func (p *Provider) toTarget(lb *LoadBalancer, ln *Listener, tg *TargetGroup, h TargetHealth, pk packet.Packet, head []cloud.Decision, sick []TargetHealth) cloud.Entry {
	port := h.Port
	if port == 0 {
		port = tg.Port
	}
	var node string
	var dst netip.Addr
	if tg.TargetType == "instance" {
		node = p.byInstance[h.ID]
		if e := p.nodeNIC[node]; e != nil && len(e.IPs) > 0 {
			dst = e.IPs[0]
		} else if in := p.X.Instances[h.ID]; in != nil {
			dst = in.PrivateIP
		}
	} else if a, err := netip.ParseAddr(h.ID); err == nil {
		dst = a
		if e := p.X.ENIWith(a); e != nil {
			node = p.nodeOf(e)
		}
	}
	fwd := pk
	fwd.Dst, fwd.DPort = dst, uint16(port)
	peer := Peer{Addr: pk.Src}
	// NLB instance targets see the client's address; ALB (and NLB IP targets over TCP,
	// by default) connect from the load balancer's own address.
	if lb.Type != "network" || tg.TargetType != "instance" {
		if src := p.lbSource(lb); src.IsValid() {
			fwd.Src = src
			peer = Peer{Addr: src, Groups: lb.Groups}
		} else {
			peer = Peer{Addr: pk.Src, Groups: lb.Groups}
		}
	}
	ds := append([]cloud.Decision(nil), head...)
	th := cloud.Decision{Step: "aws target", Action: "dnat", Object: "targetgroup/" + tg.Name + " target " + h.ID, Pos: h.Pos,
		Text: fmt.Sprintf("%s:%d %s", h.ID, port, h.State), Packet: fwd}
	if node != "" {
		th.Note = "node " + node
	}
	if len(sick) > 0 && h.State == "healthy" {
		th.Note += "; not chosen: " + healthSummary(sick)
	}
	ds = append(ds, th)
	if !dst.IsValid() || node == "" {
		ds = append(ds, cloud.Decision{Verdict: cloud.Unknown, Step: "aws target", Action: "unknown", Code: "cloud-node-unmapped",
			Message: fmt.Sprintf("target %s of %s is no node of the cluster (by instance or address): where it goes is not in the bundle", h.ID, tg.Name)})
		return cloud.Entry{Decisions: ds, Branch: "target " + h.ID}
	}
	ds = append(ds, p.ingress(cloud.Leg{To: node, Packet: fwd}, peer)...)
	nic := p.nodeNIC[node]
	lbAddr, lbPort := pk.Dst, pk.DPort
	back := func(r packet.Packet) (packet.Packet, []cloud.Decision) {
		var bd []cloud.Decision
		if nic != nil {
			bd = append(bd, p.aclCheck(nic.SubnetID, nic.VpcID, true, r)...)
		}
		out := r
		out.Src, out.SPort = lbAddr, lbPort
		out.Dst = pk.Src
		out.DPort = pk.SPort
		bd = append(bd, cloud.Decision{Step: "aws load balancer", Action: "snat", Object: "loadbalancer/" + lb.Name, Pos: lb.Pos, Text: lb.DNSName, Note: "the reply leaves from the load balancer's address", Packet: out})
		return out, bd
	}
	return cloud.Entry{Decisions: ds, Node: node, Packet: fwd, Branch: fmt.Sprintf("load balancer %s target %s (node %s)", lb.Name, h.ID, node), Back: back}
}

// viaPublicIP follows a packet to an interface's public IP: the internet gateway
// translates it to the private address, the subnet's ACL and the interface's groups
// judge it, and the subnet must route the client back through the internet gateway.
func (p *Provider) viaPublicIP(e *ENI, priv netip.Addr, pk packet.Packet) cloud.Entry {
	fwd := pk
	fwd.Dst = priv
	ds := []cloud.Decision{{Step: "aws internet gateway", Action: "dnat", Object: "networkinterface/" + e.ID, Pos: e.Pos, Text: fmt.Sprintf("%s <-> %s", pk.Dst, priv), Packet: fwd}}
	node := p.nodeOf(e)
	if node == "" {
		ds = append(ds, cloud.Decision{Verdict: cloud.Unknown, Step: "aws internet gateway", Action: "unknown", Code: "cloud-node-unmapped",
			Message: fmt.Sprintf("%s belongs to %s, which is no node of the cluster", pk.Dst, p.nicLabel(e))})
		return cloud.Entry{Decisions: ds}
	}
	if d, r, ok := p.lookup(e.SubnetID, e.VpcID, pk.Src, cloud.Leg{}); !ok || r.Kind != TargetIGW {
		d.Step, d.Reply = "aws route table (reply)", true
		d.Packet = packet.Packet{Src: priv, Dst: pk.Src, Proto: pk.Proto, SPort: pk.DPort, DPort: pk.SPort, Reply: true}
		if d.Verdict != cloud.Unknown {
			d.Verdict, d.Action, d.Code = cloud.Deny, "drop", "aws-return-route"
			d.Message = fmt.Sprintf("the replies to %s are lost: %s (%s's table) does not send them to an internet gateway", pk.Src, objectID(d.Object), e.SubnetID)
			d.Fix = "route 0.0.0.0/0 of the node's subnet to the internet gateway, or reach the node through a load balancer"
		}
		ds = append(ds, d)
	}
	ds = append(ds, p.ingress(cloud.Leg{To: node, Packet: fwd}, Peer{Addr: pk.Src})...)
	pub := pk.Dst
	back := func(r packet.Packet) (packet.Packet, []cloud.Decision) {
		bd := p.aclCheck(e.SubnetID, e.VpcID, true, r)
		out := r
		out.Src = pub
		bd = append(bd, cloud.Decision{Step: "aws internet gateway", Action: "snat", Object: "networkinterface/" + e.ID, Pos: e.Pos, Text: fmt.Sprintf("%s <-> %s", priv, pub), Packet: out})
		return out, bd
	}
	return cloud.Entry{Decisions: ds, Node: node, Packet: fwd, Branch: "public IP " + pk.Dst.String() + " of node " + node, Back: back}
}
