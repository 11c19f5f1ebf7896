package alibaba

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/netsim/netsim/cloud"
	"github.com/netsim/netsim/model/source"
	"github.com/netsim/netsim/rules/packet"
)

const lbStep = "alibaba load balancer"

// slbL7Source stands for the addresses a CLB's layer-7 (HTTP/HTTPS) listeners connect
// to backends from: 100.64.0.0/10 (Alibaba Cloud CLB docs); layer-4 listeners keep the
// client's address.
var slbL7Source = netip.MustParseAddr("100.64.0.1")

// Inbound implements cloud.Provider: a packet from outside to a load balancer's address
// (its listener, access control, backends and their health), or to an instance's
// public IP or EIP.
func (p *Provider) Inbound(pk packet.Packet) ([]cloud.Entry, bool) {
	for _, lb := range p.X.LBs {
		if lb.Addr.IsValid() && lb.Addr == pk.Dst {
			return p.viaLB(lb, pk), true
		}
	}
	nics := p.X.NICs
	if p.X.idx != nil {
		nics = nil
		if i, ok := p.X.idx.public[pk.Dst]; ok {
			nics = p.X.NICs[i : i+1]
		}
	}
	for _, n := range nics {
		for priv, pub := range n.Public {
			if pub == pk.Dst {
				return []cloud.Entry{p.viaPublic(n, priv, pk)}, true
			}
		}
	}
	return nil, false
}

func blockedEntry(ds ...cloud.Decision) []cloud.Entry { return []cloud.Entry{{Decisions: ds}} }

// listenerCarries reports whether a listener's protocol carries the packet's.
func listenerCarries(proto string, p uint8) bool {
	switch proto {
	case "tcp", "http", "https":
		return p == packet.TCP
	case "udp":
		return p == packet.UDP
	}
	return false
}

// viaLB follows a packet to a CLB instance and on to each backend it would pick.
func (p *Provider) viaLB(lb *LoadBalancer, pk packet.Packet) []cloud.Entry {
	obj := "loadbalancer/" + lb.ID
	hop := cloud.Decision{Step: lbStep, Action: "accept", Object: obj, Pos: lb.Pos, Text: fmt.Sprintf("%s %s %s, status %s", lb.Name, lb.AddressType, lb.Addr, lb.Status)}
	if lb.Status != "active" {
		hop.Verdict, hop.Action, hop.Code = cloud.Deny, "drop", "alibaba-slb-status"
		hop.Message = fmt.Sprintf("load balancer %s is %s, not active", lb.ID, lb.Status)
		hop.Fix = "aliyun slb SetLoadBalancerStatus --LoadBalancerId " + lb.ID + " --LoadBalancerStatus active"
		return blockedEntry(hop)
	}
	if lb.AddressType == "intranet" && !pk.Src.IsPrivate() {
		hop.Verdict, hop.Action, hop.Code = cloud.Deny, "drop", "alibaba-slb-intranet"
		hop.Message = fmt.Sprintf("load balancer %s is internal (AddressType intranet): %s, outside the VPC, cannot reach it", lb.ID, pk.Src)
		hop.Fix = "annotate the Service for an internet-facing load balancer (service.beta.kubernetes.io/alibaba-cloud-loadbalancer-address-type: internet)"
		return blockedEntry(hop)
	}
	name := DirListeners + "/" + lb.ID + ".json"
	ls, ok := p.X.Listeners[lb.ID]
	if !ok {
		return blockedEntry(hop, p.gap("alibaba listener", name, "which listeners "+lb.ID+" has"))
	}
	var ln *Listener
	var others []string
	for _, l := range ls {
		if l.Port == int(pk.DPort) && listenerCarries(l.Protocol, pk.Proto) {
			ln = l
		} else {
			others = append(others, fmt.Sprintf("%d/%s", l.Port, l.Protocol))
		}
	}
	if ln == nil {
		hop.Verdict, hop.Action, hop.Code = cloud.Deny, "drop", "alibaba-slb-no-listener"
		list := "none"
		if len(others) > 0 {
			list = strings.Join(others, ", ")
		}
		hop.Message = fmt.Sprintf("load balancer %s has no listener on %s (its listeners: %s): the connection is refused", lb.ID, flowLabel(pk), list)
		hop.Fix = fmt.Sprintf("add a %s listener on port %d forwarding to the Service's node port (the cloud controller manager adds one per Service port: check the Service's events), e.g. aliyun slb CreateLoadBalancer%sListener --LoadBalancerId %s --ListenerPort %d --BackendServerPort <node port>",
			strings.ToUpper(packet.ProtoName(pk.Proto)), pk.DPort, strings.ToUpper(packet.ProtoName(pk.Proto)), lb.ID, pk.DPort)
		return blockedEntry(hop)
	}
	lnHop := cloud.Decision{Step: "alibaba listener", Action: "allow", Object: fmt.Sprintf("listener/%s:%d", lb.ID, ln.Port), Pos: ln.Pos,
		Text: fmt.Sprintf("%d/%s status %s backend port %d", ln.Port, ln.Protocol, ln.Status, ln.BackendPort)}
	if ln.VServerGroup != "" {
		lnHop.Text += " vserver group " + ln.VServerGroup
	}
	if ln.Status != "running" {
		lnHop.Verdict, lnHop.Action, lnHop.Code = cloud.Deny, "drop", "alibaba-slb-listener-stopped"
		lnHop.Message = fmt.Sprintf("listener %d/%s of %s is %s, not running: it accepts no connection", ln.Port, ln.Protocol, lb.ID, ln.Status)
		lnHop.Fix = fmt.Sprintf("aliyun slb StartLoadBalancerListener --LoadBalancerId %s --ListenerPort %d --ListenerProtocol %s", lb.ID, ln.Port, ln.Protocol)
		return blockedEntry(hop, lnHop)
	}
	head := []cloud.Decision{hop, lnHop}
	if strings.EqualFold(ln.AclStatus, "on") {
		d, ok := p.aclCheck(ln, pk)
		head = append(head, d)
		if !ok {
			return blockedEntry(head...)
		}
	}
	hname := DirHealth + "/" + lb.ID + ".json"
	all, ok := p.X.Health[lb.ID]
	if !ok {
		return blockedEntry(append(head, p.gap("alibaba backend health", hname, "which backends of "+lb.ID+" serve and whether they are healthy"))...)
	}
	var bs []*Backend
	for _, b := range all {
		if (b.ListenerPort == 0 || b.ListenerPort == ln.Port) && (b.Protocol == "" || b.Protocol == ln.Protocol) {
			bs = append(bs, b)
		}
	}
	var live, sick []*Backend
	for _, b := range bs {
		if b.Health == "abnormal" {
			sick = append(sick, b)
		} else {
			// normal, or unavailable: no health check ran (none configured), and the
			// backend gets connections.
			live = append(live, b)
		}
	}
	bHop := cloud.Decision{Step: "alibaba backend health", Action: "forward", Object: fmt.Sprintf("loadbalancer/%s:%d backends", lb.ID, ln.Port), Pos: p.healthPos(hname, bs),
		Text: fmt.Sprintf("%d of %d backends healthy (%s)", len(live), len(bs), healthSummary(bs))}
	if len(live) == 0 {
		bHop.Verdict, bHop.Action, bHop.Code = cloud.Deny, "drop", "alibaba-slb-no-healthy-backend"
		if len(bs) == 0 {
			bHop.Message = fmt.Sprintf("listener %d of %s has no backend server", ln.Port, lb.ID)
			bHop.Fix = "check the cloud controller manager's events for the Service: it adds the nodes (or Terway pods) as backends"
		} else {
			bHop.Message = fmt.Sprintf("every backend of listener %d of %s is abnormal (%s): the health check fails, so the load balancer sends them nothing", ln.Port, lb.ID, healthSummary(sick))
			// CLB health checks come from 100.64.0.0/10, which security groups need no
			// rule for (CLB health check FAQ); the nodes' own filters can still drop them.
			bHop.Fix = fmt.Sprintf("make the backends answer the health check on their port (%s): trace it on a node (netsim trace 100.64.0.1 <node IP> %s), and check that nothing on the nodes (iptables, NetworkPolicy, externalTrafficPolicy Local without a local endpoint) drops the checks from 100.64.0.0/10", backendPorts(sick, ln), backendPorts(sick, ln))
		}
		return blockedEntry(append(head, bHop)...)
	}
	if len(sick) > 0 {
		bHop.Note = "not chosen: " + healthSummary(sick)
	}
	head = append(head, bHop)
	var out []cloud.Entry
	for _, b := range live {
		out = append(out, p.toBackend(lb, ln, b, pk, head))
	}
	return out
}

func (p *Provider) healthPos(name string, bs []*Backend) source.Pos {
	if len(bs) > 0 {
		return bs[0].Pos
	}
	return source.Pos{File: p.X.file(name), Line: 1}
}

func healthSummary(bs []*Backend) string {
	var out []string
	for _, b := range bs {
		out = append(out, fmt.Sprintf("%s:%d %s", b.ServerID, b.Port, b.Health))
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

func backendPorts(bs []*Backend, ln *Listener) string {
	seen := map[int]bool{}
	var out []string
	for _, b := range bs {
		port := b.Port
		if port == 0 {
			port = ln.BackendPort
		}
		if !seen[port] {
			seen[port] = true
			out = append(out, fmt.Sprint(port))
		}
	}
	return strings.Join(out, ", ")
}

// aclCheck judges the client at a listener's access control list: a whitelist admits
// only its entries, a blacklist refuses its entries.
func (p *Provider) aclCheck(ln *Listener, pk packet.Packet) (cloud.Decision, bool) {
	step := "alibaba listener access control"
	name := DirAccessControl + "/" + ln.AclID + ".json"
	entries, ok := p.X.ACLs[ln.AclID]
	if !ok {
		return p.gap(step, name, fmt.Sprintf("listener %d of %s has access control on (%s list %s)", ln.Port, ln.LB, ln.AclType, ln.AclID)), false
	}
	var hit *ACLEntry
	for i := range entries {
		if entries[i].CIDR.Contains(pk.Src) {
			hit = &entries[i]
			break
		}
	}
	d := cloud.Decision{Step: step, Object: "acl/" + ln.AclID, Pos: ln.Pos, Text: fmt.Sprintf("%s list %s on listener %d", ln.AclType, ln.AclID, ln.Port)}
	if hit != nil {
		d.Pos, d.Text = hit.Pos, fmt.Sprintf("%s list %s entry %s", ln.AclType, ln.AclID, hit.CIDR)
	}
	white := strings.EqualFold(ln.AclType, "white")
	if (white && hit != nil) || (!white && hit == nil) {
		d.Action = "allow"
		return d, true
	}
	d.Verdict, d.Action, d.Code = cloud.Deny, "drop", "alibaba-slb-acl"
	if white {
		d.Message = fmt.Sprintf("the whitelist %s of listener %d of %s does not hold the client %s: the connection is refused", ln.AclID, ln.Port, ln.LB, pk.Src)
		d.Fix = fmt.Sprintf("aliyun slb AddAccessControlListEntry --AclId %s --AclEntrys '[{\"entry\":\"%s\"}]' (or the Service's loadBalancerSourceRanges)", ln.AclID, netip.PrefixFrom(pk.Src, pk.Src.BitLen()))
	} else {
		d.Message = fmt.Sprintf("the blacklist %s of listener %d of %s holds the client %s (%s): the connection is refused", ln.AclID, ln.Port, ln.LB, pk.Src, hit.CIDR)
		d.Fix = fmt.Sprintf("aliyun slb RemoveAccessControlListEntry --AclId %s --AclEntrys '[{\"entry\":\"%s\"}]'", ln.AclID, hit.CIDR)
	}
	return d, false
}

// toBackend is the way to one backend: the load balancer's translation to the backend's
// address and port (a node port on the node, or a Terway pod's own address), then the
// backend interface's security groups.
func (p *Provider) toBackend(lb *LoadBalancer, ln *Listener, b *Backend, pk packet.Packet, head []cloud.Decision) cloud.Entry {
	port := b.Port
	if port == 0 {
		port = ln.BackendPort
	}
	var node string
	dst := b.IP
	if n := p.nodeNIC[p.byInst[b.ServerID]]; n != nil {
		node = p.byInst[b.ServerID]
		if !dst.IsValid() {
			dst = n.Primary()
		}
	} else if dst.IsValid() {
		if n := p.X.NICWith(dst); n != nil {
			node = p.nodeOf(n)
		}
	} else {
		for _, n := range p.X.NICs {
			if n.ID == b.ServerID {
				node, dst = p.nodeOf(n), n.Primary()
			}
		}
	}
	fwd := pk
	fwd.Dst, fwd.DPort = dst, uint16(port)
	if ln.Protocol == "http" || ln.Protocol == "https" {
		fwd.Src = slbL7Source
	}
	ds := append([]cloud.Decision(nil), head...)
	th := cloud.Decision{Step: "alibaba backend", Action: "dnat", Object: fmt.Sprintf("loadbalancer/%s backend %s", lb.ID, b.ServerID), Pos: b.Pos,
		Text: fmt.Sprintf("%s %s:%d %s", b.ServerID, dst, port, b.Health), Packet: fwd}
	if node != "" {
		th.Note = "node " + node
	}
	if b.Health == "unavailable" {
		th.Note += "; health status unavailable: no health check ran, the backend gets connections unchecked"
	}
	if fwd.Src == slbL7Source {
		th.Note += "; a layer-7 listener connects from 100.64.0.0/10"
	}
	ds = append(ds, th)
	if !dst.IsValid() || node == "" {
		ds = append(ds, cloud.Decision{Verdict: cloud.Unknown, Step: "alibaba backend", Action: "unknown", Code: "cloud-node-unmapped",
			Message: fmt.Sprintf("backend %s of %s is no node of the cluster (by instance or address): where it goes is not in the bundle", b.ServerID, lb.ID)})
		return cloud.Entry{Decisions: ds, Branch: "backend " + b.ServerID}
	}
	ds = append(ds, p.Ingress(cloud.Leg{To: node, Packet: fwd})...)
	e := cloud.Entry{Decisions: ds, Node: node, Packet: fwd, Branch: fmt.Sprintf("load balancer %s backend %s (node %s)", lb.ID, b.ServerID, node)}
	if blocked(ds) {
		e.Node = ""
	}
	lbAddr, lbPort := pk.Dst, pk.DPort
	e.Back = func(r packet.Packet) (packet.Packet, []cloud.Decision) {
		out := r
		out.Src, out.SPort = lbAddr, lbPort
		out.Dst, out.DPort = pk.Src, pk.SPort
		return out, []cloud.Decision{{Step: lbStep, Action: "snat", Object: "loadbalancer/" + lb.ID, Pos: lb.Pos, Text: lb.Addr.String(), Note: "the reply leaves from the load balancer's address", Packet: out}}
	}
	return e
}

// viaPublic follows a packet to an interface's public IP or EIP: translated to the
// private address and judged by the interface's security groups.
func (p *Provider) viaPublic(n *NIC, priv netip.Addr, pk packet.Packet) cloud.Entry {
	fwd := pk
	fwd.Dst = priv
	ds := []cloud.Decision{{Step: "alibaba public IP", Action: "dnat", Object: "networkinterface/" + n.ID, Pos: n.Pos, Text: fmt.Sprintf("%s <-> %s", pk.Dst, priv), Packet: fwd}}
	node := p.nodeOf(n)
	if node == "" {
		ds = append(ds, cloud.Decision{Verdict: cloud.Unknown, Step: "alibaba public IP", Action: "unknown", Code: "cloud-node-unmapped",
			Message: fmt.Sprintf("%s belongs to %s, which is no node of the cluster", pk.Dst, p.nicLabel(n))})
		return cloud.Entry{Decisions: ds}
	}
	ds = append(ds, p.Ingress(cloud.Leg{To: node, Packet: fwd})...)
	e := cloud.Entry{Decisions: ds, Node: node, Packet: fwd, Branch: "public IP " + pk.Dst.String() + " of node " + node}
	if blocked(ds) {
		e.Node = ""
	}
	pub := pk.Dst
	e.Back = func(r packet.Packet) (packet.Packet, []cloud.Decision) {
		out := r
		out.Src = pub
		return out, []cloud.Decision{{Step: "alibaba public IP", Action: "snat", Object: "networkinterface/" + n.ID, Pos: n.Pos, Text: fmt.Sprintf("%s <-> %s", priv, pub), Packet: out}}
	}
	return e
}
