package azure

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/netsim/netsim/cloud"
	"github.com/netsim/netsim/rules/packet"
)

// Inbound implements cloud.Provider: a packet from outside to a load balancer frontend
// (its load-balancing rule or inbound NAT rule, the backends' health, the backends'
// NSGs), or to a NIC's instance-level public IP.
func (p *Provider) Inbound(pk packet.Packet) ([]cloud.Entry, bool) {
	for _, lb := range p.X.LBs {
		for _, fe := range lb.Frontends {
			if a := p.frontendAddr(lb, fe.ID); a.IsValid() && a == pk.Dst {
				return p.viaLB(lb, fe, pk), true
			}
		}
	}
	for _, pi := range p.X.PublicIPs {
		if pi.IP != pk.Dst || pi.Config == "" {
			continue
		}
		if c := p.X.Config(pi.Config); c != nil {
			return []cloud.Entry{p.viaPublicIP(pi, c, pk)}, true
		}
		// The public IP is bound to something whose export is missing: say so rather
		// than let the walk go on as if Azure did not know the address.
		head := cloud.Decision{Step: "azure public ip", Action: "accept", Object: "publicipaddress/" + pi.Name, Pos: pi.Pos, Text: fmt.Sprintf("%s bound to %s", pi.IP, lastSeg(parentID(pi.Config))+"/"+lastSeg(pi.Config))}
		switch {
		case strings.Contains(strings.ToLower(pi.Config), "/loadbalancers/") && p.X.Has[FileLBs] == "":
			return []cloud.Entry{{Decisions: []cloud.Decision{head, p.gap("azure load balancer", FileLBs, "the load balancer "+pk.Dst.String()+" is a frontend of")}}}, true
		case strings.Contains(strings.ToLower(pi.Config), "/networkinterfaces/") && p.X.Has[FileNICs] == "":
			return []cloud.Entry{{Decisions: []cloud.Decision{head, p.gap("azure public ip", FileNICs, "the NIC public IP "+pk.Dst.String()+" belongs to")}}}, true
		}
	}
	return nil, false
}

func protoOK(rule string, proto uint8) bool {
	switch rule {
	case "all":
		return proto == packet.TCP || proto == packet.UDP
	case "tcp":
		return proto == packet.TCP
	case "udp":
		return proto == packet.UDP
	}
	return false
}

func sameRef(a, b *Frontend, id string) bool {
	return normID(a.ID) == normID(id) || (a.ID == "" && a.Name == lastSeg(id)) || b == a
}

// viaLB follows a packet to a frontend: the load-balancing rule for its protocol and
// port (HA ports: protocol All, port 0), the probe's view of each backend (health per
// rule), and each healthy backend's NSGs. Azure's load balancer is pass-through: the
// client's address stays the source; with floating IP the frontend address stays the
// destination (AKS), else the backend's address and port replace it.
func (p *Provider) viaLB(lb *LB, fe *Frontend, pk packet.Packet) []cloud.Entry {
	front := p.frontendAddr(lb, fe.ID)
	head := cloud.Decision{Step: "azure load balancer", Action: "accept", Object: "loadbalancer/" + lb.Name + " frontend " + fe.Name, Pos: fe.Pos,
		Text: fmt.Sprintf("%s SKU %s, frontend %s", lb.Name, orDash(lb.SKU), front)}
	var rule *LBRule
	var others []string
	for _, r := range lb.Rules {
		if !sameRef(fe, nil, r.Frontend) {
			continue
		}
		if protoOK(r.Protocol, pk.Proto) && (r.FrontendPort == int(pk.DPort) || (r.Protocol == "all" && r.FrontendPort == 0)) {
			rule = r
			break
		}
		others = append(others, fmt.Sprintf("%d/%s", r.FrontendPort, r.Protocol))
	}
	if rule == nil {
		for _, nr := range lb.NatRules {
			if sameRef(fe, nil, nr.Frontend) && protoOK(nr.Protocol, pk.Proto) && nr.FrontendPort == int(pk.DPort) {
				return []cloud.Entry{p.viaNatRule(lb, head, nr, pk)}
			}
		}
		head.Verdict, head.Action, head.Code = cloud.Deny, "drop", "azure-lb-no-rule"
		list := "none"
		if len(others) > 0 {
			sort.Strings(others)
			list = strings.Join(others, ", ")
		}
		head.Message = fmt.Sprintf("load balancer %s has no load-balancing rule for %s %s:%d on frontend %s (its rules there: %s): the connection is dropped", lb.Name, packet.ProtoName(pk.Proto), front, pk.DPort, fe.Name, list)
		head.Fix = fmt.Sprintf("the Service of type LoadBalancer needs port %d: check its spec.ports and the cloud controller's events (it creates one rule per Service port), or az network lb rule create -g %s --lb-name %s -n <name> --protocol Tcp --frontend-port %d --backend-port <port> --frontend-ip-name %s --backend-pool-name <pool> --probe-name <probe>",
			pk.DPort, rg(lb.ID), lb.Name, pk.DPort, fe.Name)
		return []cloud.Entry{{Decisions: []cloud.Decision{head}}}
	}
	ruleHop := cloud.Decision{Step: "azure load-balancing rule", Action: "allow", Object: "loadbalancer/" + lb.Name + " rule " + rule.Name, Pos: rule.Pos,
		Text: fmt.Sprintf("%s %d -> backend port %d, probe %s, floating IP %v", rule.Protocol, rule.FrontendPort, rule.BackendPort, orDash(lastSeg(rule.Probe)), rule.FloatingIP)}
	ds := []cloud.Decision{head, ruleHop}
	if p.X.Has[DirHealth] == "" || p.X.Health[lb.Name] == nil {
		return []cloud.Entry{{Decisions: append(ds, p.gap("azure backend health", DirHealth, "which backends of "+lb.Name+" rule "+rule.Name+" the probe sees up ("+DirHealth+"/"+lb.Name+".json)"))}}
	}
	hs, ok := p.X.Health[lb.Name][rule.Name]
	if !ok {
		return []cloud.Entry{{Decisions: append(ds, cloud.Decision{Verdict: cloud.Unknown, Step: "azure backend health", Action: "unknown", Code: "cloud-missing-data", Pos: p.X.HealthPos[lb.Name],
			Object:  "loadbalancer/" + lb.Name,
			Message: fmt.Sprintf("%s/%s/%s.json has no health for rule %s", p.X.Dir, DirHealth, lb.Name, rule.Name)})}}
	}
	var up, down, other []Health
	for _, h := range hs {
		switch strings.ToLower(h.State) {
		case "up":
			up = append(up, h)
		case "down":
			down = append(down, h)
		default:
			// Unknown, Partial, an empty state: whether the probe lets the backend
			// take new flows is not known, never read as down (or up).
			other = append(other, h)
		}
	}
	probe := lastSeg(rule.Probe)
	for _, pr := range lb.Probes {
		if normID(pr.ID) == normID(rule.Probe) || pr.Name == probe {
			probe = fmt.Sprintf("%s (%s port %d%s)", pr.Name, pr.Protocol, pr.Port, pathOf(pr.Path))
		}
	}
	hh := cloud.Decision{Step: "azure backend health", Action: "forward", Object: "loadbalancer/" + lb.Name + " rule " + rule.Name + " health", Pos: p.X.HealthPos[lb.Name],
		Text: fmt.Sprintf("probe %s: %d up, %d down", orDash(probe), len(up), len(down))}
	if len(down) > 0 {
		hh.Note = "down: " + healthList(down)
	}
	var unsure []cloud.Entry
	for _, h := range other {
		unsure = append(unsure, cloud.Entry{Branch: "backend " + healthList([]Health{h}), Decisions: append(append([]cloud.Decision(nil), ds...), cloud.Decision{
			Verdict: cloud.Unknown, Step: "azure backend health", Action: "unknown", Code: "cloud-missing-data", Object: "loadbalancer/" + lb.Name + " rule " + rule.Name + " health", Pos: h.Pos,
			Text:    "probe " + orDash(probe) + ": " + healthList([]Health{h}),
			Message: fmt.Sprintf("the health state %q of backend %s of load balancer %s rule %s is neither Up nor Down: whether it takes new connections is not known", h.State, healthList([]Health{h}), lb.Name, rule.Name),
			Fix: fmt.Sprintf("export %s again once the probe has settled: Get-AzLoadBalancerRuleHealth -ResourceGroupName %s -LoadBalancerName %s -Name %s",
				p.file(DirHealth+"/"+lb.Name+".json"), rg(lb.ID), lb.Name, rule.Name)})})
	}
	if len(up) == 0 && len(unsure) > 0 {
		return unsure
	}
	if len(up) == 0 {
		// Azure sends no new flows to a backend its probe marks down, and fails closed
		// when all are (learn.microsoft.com, "Load Balancer health probes").
		hh.Verdict, hh.Action, hh.Code = cloud.Deny, "drop", "azure-lb-backends-down"
		hh.Message = fmt.Sprintf("no backend of load balancer %s rule %s is up (%s): the load balancer sends new connections nowhere", lb.Name, rule.Name, healthList(down))
		hh.Fix = fmt.Sprintf("make probe %s succeed on the nodes: for a Service with externalTrafficPolicy Local only nodes with a ready endpoint answer its health check node port; NSGs must admit the probe from AzureLoadBalancer (168.63.129.16)", orDash(probe))
		return []cloud.Entry{{Decisions: append(ds, hh)}}
	}
	ds = append(ds, hh)
	var out []cloud.Entry
	for _, h := range up {
		out = append(out, p.toBackend(lb, rule, front, h, pk, ds))
	}
	return append(out, unsure...)
}

func pathOf(s string) string {
	if s == "" {
		return ""
	}
	return " " + s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func healthList(hs []Health) string {
	var out []string
	for _, h := range hs {
		s := h.IP.String()
		if !h.IP.IsValid() {
			s = lastSeg(parentID(h.Config)) + "/" + lastSeg(h.Config)
		}
		s += " " + h.State
		if h.Reason != "" {
			s += " (" + h.Reason + ")"
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// backendConfig is the IP configuration a health entry names.
func (p *Provider) backendConfig(h Health) *IPConfig {
	if h.Config != "" {
		if c := p.X.Config(h.Config); c != nil {
			return c
		}
	}
	if h.IP.IsValid() {
		return p.X.ConfigWith(h.IP)
	}
	return nil
}

func (p *Provider) toBackend(lb *LB, rule *LBRule, front netip.Addr, h Health, pk packet.Packet, head []cloud.Decision) cloud.Entry {
	ds := append([]cloud.Decision(nil), head...)
	c := p.backendConfig(h)
	name := h.IP.String()
	if c != nil {
		name = c.IP.String()
	}
	if c == nil || p.nodeOf(c.NIC) == "" {
		ds = append(ds, cloud.Decision{Verdict: cloud.Unknown, Step: "azure backend", Action: "unknown", Code: "cloud-node-unmapped", Pos: h.Pos,
			Message: fmt.Sprintf("backend %s of %s is no node's NIC in %s: where it goes is not in the bundle", name, lb.Name, p.file(FileNICs))})
		return cloud.Entry{Decisions: ds, Branch: "backend " + name}
	}
	node := p.nodeOf(c.NIC)
	fwd := pk
	// An HA ports rule (protocol All, ports 0) keeps the packet's port.
	port := uint16(rule.BackendPort)
	if rule.BackendPort == 0 {
		port = pk.DPort
	}
	note := "floating IP: the frontend address stays the destination"
	if rule.FloatingIP {
		fwd.DPort = port
	} else {
		fwd.Dst, fwd.DPort = c.IP, port
		note = "the backend's address and port replace the frontend's; the client's address stays the source"
	}
	ds = append(ds, cloud.Decision{Step: "azure backend", Action: "dnat", Object: "loadbalancer/" + lb.Name + " backend " + c.NIC.Name + "/" + c.Name, Pos: h.Pos,
		Text: fmt.Sprintf("%s %s", name, h.State), Note: note + "; node " + node, Packet: fwd})
	// The NSGs see the packet as it arrives: for floating IP, to the frontend address.
	secure := strings.EqualFold(lb.SKU, "Standard")
	ds = append(ds, p.ingress(cloud.Leg{To: node, Packet: fwd}, !rule.FloatingIP, secure)...)
	nic, cfg := c.NIC, c
	fport := pk.DPort
	back := func(r packet.Packet) (packet.Packet, []cloud.Decision) {
		bd := p.nsgCheck(nic, cfg, false, r, true, false)
		out := r
		out.Src, out.SPort = front, fport
		bd = append(bd, cloud.Decision{Step: "azure load balancer", Action: "snat", Object: "loadbalancer/" + lb.Name, Pos: rule.Pos, Text: rule.Name, Note: "the reply leaves from the frontend's address", Packet: out})
		return out, bd
	}
	e := cloud.Entry{Decisions: ds, Node: node, Packet: fwd, Branch: fmt.Sprintf("load balancer %s backend %s (node %s)", lb.Name, name, node), Back: back}
	if blocked(ds) {
		e.Node = ""
	}
	return e
}

// viaNatRule follows an inbound NAT rule to its one backend IP configuration.
func (p *Provider) viaNatRule(lb *LB, head cloud.Decision, nr *NatRule, pk packet.Packet) cloud.Entry {
	ds := []cloud.Decision{head, {Step: "azure inbound nat rule", Action: "allow", Object: "loadbalancer/" + lb.Name + " inbound NAT rule " + nr.Name, Pos: nr.Pos,
		Text: fmt.Sprintf("%s %d -> %s port %d", nr.Protocol, nr.FrontendPort, lastSeg(nr.Backend), nr.BackendPort)}}
	c := p.X.Config(nr.Backend)
	if c == nil || p.nodeOf(c.NIC) == "" {
		ds = append(ds, cloud.Decision{Verdict: cloud.Unknown, Step: "azure inbound nat rule", Action: "unknown", Code: "cloud-node-unmapped",
			Message: fmt.Sprintf("inbound NAT rule %s goes to %s, no node's IP configuration in %s", nr.Name, orDash(nr.Backend), p.file(FileNICs))})
		return cloud.Entry{Decisions: ds}
	}
	node := p.nodeOf(c.NIC)
	fwd := pk
	fwd.DPort = uint16(nr.BackendPort)
	if !nr.FloatingIP {
		fwd.Dst = c.IP
	}
	ds[1].Packet = fwd
	ds = append(ds, p.ingress(cloud.Leg{To: node, Packet: fwd}, !nr.FloatingIP, strings.EqualFold(lb.SKU, "Standard"))...)
	front, fport, nic := pk.Dst, pk.DPort, c.NIC
	back := func(r packet.Packet) (packet.Packet, []cloud.Decision) {
		bd := p.nsgCheck(nic, c, false, r, true, false)
		out := r
		out.Src, out.SPort = front, fport
		return out, append(bd, cloud.Decision{Step: "azure load balancer", Action: "snat", Object: "loadbalancer/" + lb.Name, Pos: nr.Pos, Text: nr.Name, Packet: out})
	}
	e := cloud.Entry{Decisions: ds, Node: node, Packet: fwd, Branch: "inbound NAT rule " + nr.Name + " (node " + node + ")", Back: back}
	if blocked(ds) {
		e.Node = ""
	}
	return e
}

// viaPublicIP follows a packet to an IP configuration's public IP: Azure translates it
// to the private address, and the NSGs judge it (a Standard public IP is closed unless
// an NSG opens it).
func (p *Provider) viaPublicIP(pi *PublicIP, c *IPConfig, pk packet.Packet) cloud.Entry {
	fwd := pk
	fwd.Dst = c.IP
	ds := []cloud.Decision{{Step: "azure public ip", Action: "dnat", Object: "publicipaddress/" + pi.Name, Pos: pi.Pos, Text: fmt.Sprintf("%s <-> %s (%s)", pi.IP, c.IP, c.NIC.Name), Packet: fwd}}
	node := p.nodeOf(c.NIC)
	if node == "" {
		ds = append(ds, cloud.Decision{Verdict: cloud.Unknown, Step: "azure public ip", Action: "unknown", Code: "cloud-node-unmapped",
			Message: fmt.Sprintf("%s belongs to %s, which is no node of the cluster", pk.Dst, p.label(c.NIC))})
		return cloud.Entry{Decisions: ds}
	}
	ds = append(ds, p.ingress(cloud.Leg{To: node, Packet: fwd}, true, strings.EqualFold(pi.SKU, "Standard"))...)
	pub, priv, nic := pi.IP, c.IP, c.NIC
	back := func(r packet.Packet) (packet.Packet, []cloud.Decision) {
		bd := p.nsgCheck(nic, c, false, r, true, false)
		out := r
		out.Src = pub
		return out, append(bd, cloud.Decision{Step: "azure public ip", Action: "snat", Object: "publicipaddress/" + pi.Name, Pos: pi.Pos, Text: fmt.Sprintf("%s <-> %s", priv, pub), Packet: out})
	}
	e := cloud.Entry{Decisions: ds, Node: node, Packet: fwd, Branch: "public IP " + pub.String() + " of node " + node, Back: back}
	if blocked(ds) {
		e.Node = ""
	}
	return e
}
