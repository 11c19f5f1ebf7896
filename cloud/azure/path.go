package azure

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/netsim/netsim/cloud"
)

// Route implements cloud.Provider: the sending subnet's effective route for the
// destination (user-defined routes over system routes, longest prefix first) and its
// next hop: the VNet (the NIC holding the address), a peering, a virtual appliance (the
// NIC holding its address, which must forward), a virtual network gateway, the internet
// (through the subnet's outbound method) or None (dropped).
func (p *Provider) Route(l cloud.Leg) ([]cloud.Decision, cloud.Landing) {
	const step = "azure route"
	n, c, gap := p.nicOf(l.From, l.Packet.Src)
	if n == nil {
		return []cloud.Decision{*gap}, cloud.Landing{}
	}
	if p.X.Has[FileVNets] == "" {
		return []cloud.Decision{p.gap(step, FileVNets, "the system routes of "+p.label(n)+"'s VNet")}, cloud.Landing{}
	}
	s := p.subnetOf(c)
	if s == nil {
		return []cloud.Decision{{Verdict: cloud.Unknown, Step: step, Action: "unknown", Code: "cloud-missing-data",
			Message: fmt.Sprintf("%s's subnet %s is in no VNet of %s", p.label(n), lastSeg(c.Subnet), p.file(FileVNets))}}, cloud.Landing{}
	}
	if p.X.Has[FileRoutes] == "" && s.RouteTable != "" {
		return []cloud.Decision{p.gap(step, FileRoutes, "the routes of subnet "+s.Name+"'s route table "+lastSeg(s.RouteTable))}, cloud.Landing{}
	}
	dst := l.Packet.Dst
	r, rt, why := p.X.Lookup(s, dst)
	if why != "" {
		return []cloud.Decision{{Verdict: cloud.Unknown, Step: step, Action: "unknown", Code: "cloud-missing-data", Object: "subnet/" + s.Name, Pos: s.Pos,
			Message: fmt.Sprintf("the route subnet %s takes to %s is not known: %s", s.Name, dst, why)}}, cloud.Landing{}
	}
	if r == nil {
		return []cloud.Decision{{Verdict: cloud.NoRoute, Step: step, Action: "no-route", Object: "subnet/" + s.Name, Pos: s.Pos, Code: "azure-no-route",
			Message: fmt.Sprintf("subnet %s has no route to %s", s.Name, dst)}}, cloud.Landing{}
	}
	d := cloud.Decision{Step: step, Action: "route", Pos: r.Pos, Text: r.Label(), Note: "subnet " + s.Name}
	if r.System {
		d.Object = "virtualnetwork/" + s.VNet.Name + " system route " + r.Prefix.String()
		if rt != nil {
			d.Note += fmt.Sprintf(" (route table %s has no more specific route)", rt.Name)
		} else {
			d.Note += " (no route table)"
		}
	} else {
		d.Object = "routetable/" + rt.Name + " route " + r.Name
	}
	var more []cloud.Decision
	var land cloud.Landing
	switch r.Hop {
	case HopNone:
		d.Verdict, d.Action, d.Code = cloud.NoRoute, "drop", "azure-route-none"
		d.Message = fmt.Sprintf("subnet %s's route for %s is %s: next hop None, Azure drops the packet", s.Name, dst, r.Label())
		d.Fix = p.routeFix(s, rt, dst)
		if s.VNet.HasGateway() && rt != nil && rt.NoBGP && r.System {
			d.Message += fmt.Sprintf("; VNet %s has a virtual network gateway, but route table %s (%s) disables BGP route propagation, so the on-premises routes the gateway learns do not reach subnet %s", s.VNet.Name, rt.Name, rt.Pos, s.Name)
			d.Fix = fmt.Sprintf("az network route-table update -g %s -n %s --disable-bgp-route-propagation false, or %s", rg(rt.ID), rt.Name, d.Fix)
		}
		return []cloud.Decision{d}, cloud.Landing{}
	case HopVnetLocal:
		more, land = p.viaVNet(l, s, r)
	case HopPeering:
		land = cloud.Landing{Beyond: fmt.Sprintf("VNet %s through %s", lastSeg(peerRemote(s.VNet, r)), r.Name)}
	case HopAppliance:
		more, land = p.viaAppliance(l, s, r)
	case HopGateway:
		if !s.VNet.HasGateway() {
			d.Verdict, d.Action, d.Code = cloud.NoRoute, "drop", "azure-no-gateway"
			d.Message = fmt.Sprintf("route %s sends %s to the virtual network gateway, but VNet %s has no GatewaySubnet (no gateway): Azure drops it", r.Label(), dst, s.VNet.Name)
			d.Fix = "create the VPN or ExpressRoute gateway in the VNet's GatewaySubnet, or point the route elsewhere"
			return []cloud.Decision{d}, cloud.Landing{}
		}
		land = cloud.Landing{Beyond: "the on-premises network through VNet " + s.VNet.Name + "'s virtual network gateway"}
	case HopInternet:
		if !publicAddr(dst) {
			d.Verdict, d.Action, d.Code = cloud.NoRoute, "drop", "azure-no-route"
			d.Message = fmt.Sprintf("only %s covers the private address %s: the internet does not route it", r.Label(), dst)
			d.Fix = p.routeFix(s, rt, dst)
			return []cloud.Decision{d}, cloud.Landing{}
		}
		more, land = p.outbound(l, n, c, s)
	}
	if l.To != "" && land.Node != l.To && !blocked(more) {
		more = append(more, p.misroute(l, r, land))
		land = cloud.Landing{}
	}
	return append([]cloud.Decision{d}, more...), land
}

func peerRemote(v *VNet, r *Route) string {
	for _, pe := range v.Peerings {
		for _, p := range pe.RemoteSpace {
			if p == r.Prefix && r.Pos == pe.Pos {
				if pe.Remote != "" {
					return pe.Remote
				}
				return pe.Name
			}
		}
	}
	return "peer"
}

// routeFix proposes the route a destination needs.
func (p *Provider) routeFix(s *Subnet, rt *RouteTable, dst netip.Addr) string {
	table, group := "<route table>", "<resource group>"
	if rt != nil {
		table, group = rt.Name, rg(rt.ID)
	}
	if node, c := p.podCIDROf(dst); node != "" {
		if nic := p.nodeNIC[node]; nic != nil && nic.Primary() != nil {
			return fmt.Sprintf("az network route-table route create -g %s --route-table-name %s -n %s --address-prefix %s --next-hop-type VirtualAppliance --next-hop-ip-address %s (node %s's pod CIDR via the node; its NIC needs --ip-forwarding true)",
				group, table, node, c, nic.Primary().IP, node)
		}
	}
	if rt == nil {
		return fmt.Sprintf("associate a route table with subnet %s holding a route for the range of %s (next hop VirtualNetworkGateway for on-premises, VirtualAppliance for a firewall)", s.Name, dst)
	}
	return fmt.Sprintf("az network route-table route create -g %s --route-table-name %s -n <name> --address-prefix <range of %s> --next-hop-type VirtualNetworkGateway (on-premises) or VirtualAppliance --next-hop-ip-address <appliance>", group, table, dst)
}

// podCIDROf names the node whose pod CIDR holds a.
func (p *Provider) podCIDROf(a netip.Addr) (string, netip.Prefix) {
	for _, n := range p.nodes {
		for _, c := range n.PodCIDRs {
			if c.Contains(a) {
				return n.Name, c
			}
		}
	}
	return "", netip.Prefix{}
}

// viaVNet delivers inside the VNet to the IP configuration holding the address; Azure
// delivers to no other address.
func (p *Provider) viaVNet(l cloud.Leg, s *Subnet, r *Route) ([]cloud.Decision, cloud.Landing) {
	dst := l.Packet.Dst
	c := p.X.ConfigWith(dst)
	if c == nil {
		d := cloud.Decision{Verdict: cloud.NoRoute, Step: "azure vnet", Action: "drop", Code: "azure-no-ip-configuration", Object: "virtualnetwork/" + s.VNet.Name, Pos: r.Pos, Text: r.Label()}
		if node, cidr := p.podCIDROf(dst); node != "" {
			d.Message = fmt.Sprintf("%s is in node %s's pod CIDR %s, which route %s sends into the VNet, where no IP configuration holds it: Azure delivers only to NICs' own addresses", dst, node, cidr, r.Label())
			if r.System && s.VNet != nil {
				for _, sp := range s.VNet.Space {
					if sp.Contains(dst) {
						d.Code = "azure-cidr-overlap"
						d.Message += fmt.Sprintf("; the pod CIDR overlaps the VNet's address space %s", sp)
					}
				}
			}
			d.Fix = p.routeFix(s, p.X.routeTableOf(s), dst) + "; kubenet needs a route per node's pod CIDR in the subnet's route table"
		} else {
			d.Message = fmt.Sprintf("no IP configuration in %s holds %s: the VNet delivers only to NICs' own addresses", p.file(FileNICs), dst)
		}
		return []cloud.Decision{d}, cloud.Landing{}
	}
	if node := p.nodeOf(c.NIC); node != "" {
		return nil, cloud.Landing{Node: node}
	}
	return nil, cloud.Landing{Beyond: p.label(c.NIC) + " in VNet " + s.VNet.Name}
}

// viaAppliance hands the packet to the NIC holding a route's next hop IP; the NIC must
// forward it (checked at its ingress).
func (p *Provider) viaAppliance(l cloud.Leg, s *Subnet, r *Route) ([]cloud.Decision, cloud.Landing) {
	c := p.X.ConfigWith(r.HopIP)
	if c == nil {
		inVNet := false
		for _, sp := range s.VNet.Space {
			inVNet = inVNet || sp.Contains(r.HopIP)
		}
		if inVNet {
			return []cloud.Decision{{Verdict: cloud.NoRoute, Step: "azure route", Action: "drop", Code: "azure-appliance-missing", Object: "route " + r.Name, Pos: r.Pos, Text: r.Label(),
				Message: fmt.Sprintf("route %s sends %s to the virtual appliance %s, which no IP configuration of %s holds: Azure drops the packet", r.Name, l.Packet.Dst, r.HopIP, p.file(FileNICs)),
				Fix:     fmt.Sprintf("point route %s at the appliance's current private IP (or recreate the appliance at %s)", r.Name, r.HopIP)}}, cloud.Landing{}
		}
		return nil, cloud.Landing{Beyond: "the virtual appliance " + r.HopIP.String() + " (outside this VNet's NICs)"}
	}
	if node := p.nodeOf(c.NIC); node != "" {
		return nil, cloud.Landing{Node: node}
	}
	d := cloud.Decision{Step: "azure ip forwarding", Object: "networkinterface/" + c.NIC.Name, Pos: c.NIC.Pos, Text: fmt.Sprintf("enableIPForwarding %v", c.NIC.IPForwarding)}
	if !c.NIC.IPForwarding && !c.NIC.Holds(l.Packet.Dst) {
		d.Verdict, d.Action, d.Code = cloud.Deny, "drop", "azure-ip-forwarding"
		d.Message = fmt.Sprintf("the virtual appliance %s (%s) has IP forwarding off: Azure does not hand it %s", r.HopIP, c.NIC.Name, flowText(l.Packet))
		d.Fix = fmt.Sprintf("az network nic update -g %s -n %s --ip-forwarding true", rg(c.NIC.ID), c.NIC.Name)
		return []cloud.Decision{d}, cloud.Landing{}
	}
	d.Action = "forward"
	return []cloud.Decision{d}, cloud.Landing{Beyond: "the virtual appliance " + r.HopIP.String() + " (" + c.NIC.Name + ")"}
}

// misroute explains a packet meant for a node that the route sends elsewhere.
func (p *Provider) misroute(l cloud.Leg, r *Route, land cloud.Landing) cloud.Decision {
	d := cloud.Decision{Verdict: cloud.Misroute, Step: "azure route", Action: "misroute", Code: "azure-route-misdirected", Object: "route " + r.Name, Pos: r.Pos, Text: r.Label()}
	to := land.Beyond
	if land.Node != "" {
		to = "node " + land.Node
	}
	d.Message = fmt.Sprintf("node %s sends %s to node %s, but Azure routes by destination address: %s sends it to %s", l.From, flowText(l.Packet), l.To, r.Label(), to)
	if node, c := p.podCIDROf(l.Packet.Dst); node != "" {
		if r.System && r.Hop == HopPeering {
			d.Code = "azure-cidr-overlap"
			d.Message += fmt.Sprintf("; node %s's pod CIDR %s overlaps %s, the address space of a peered VNet", node, c, r.Prefix)
			d.Fix = "give the cluster a pod CIDR that overlaps no VNet, peered VNet or on-premises range; meanwhile a route per node's pod CIDR to the node (VirtualAppliance) in the subnet's route table wins by longest prefix"
			return d
		}
		d.Message += fmt.Sprintf("; %s is in node %s's pod CIDR %s", l.Packet.Dst, node, c)
		if nic := p.nodeNIC[node]; nic != nil && nic.Primary() != nil {
			d.Fix = fmt.Sprintf("route %s to %s (VirtualAppliance, node %s) in the subnet's route table", c, nic.Primary().IP, node)
		}
	}
	return d
}

// outbound follows a packet to the internet through the subnet's outbound method, in
// Azure's order of precedence (learn.microsoft.com, "Default outbound access in Azure"
// and "Source NAT for outbound connections"): the subnet's NAT gateway, else the IP
// configuration's public IP, else a load balancer's outbound rule (or a
// load-balancing rule's default SNAT), else default outbound access.
func (p *Provider) outbound(l cloud.Leg, n *NIC, c *IPConfig, s *Subnet) ([]cloud.Decision, cloud.Landing) {
	const step = "azure outbound"
	src := l.Packet.Src
	if !n.Holds(src) {
		return []cloud.Decision{{Verdict: cloud.Unknown, Step: step, Action: "unknown", Code: "cloud-unsupported", Object: "networkinterface/" + n.Name, Pos: n.Pos,
			Message: fmt.Sprintf("%s leaves %s for the internet with the source %s, which is none of its IP configurations: Azure documents outbound SNAT for IP configurations' addresses only, so whether it is translated is not known (the node did not masquerade it)", flowText(l.Packet), p.label(n), src),
			Fix:     "masquerade pod traffic leaving the VNet on the nodes (ip-masq-agent; AKS kubenet does)"}}, cloud.Landing{}
	}
	snat := func(obj string, pos cloud.Decision, pub netip.Addr, what string) ([]cloud.Decision, cloud.Landing) {
		out := l.Packet
		d := pos
		d.Step, d.Action, d.Object = step, "snat", obj
		if pub.IsValid() {
			out.Src = pub
			d.Packet = out
			d.Note = fmt.Sprintf("%s translates %s to %s", what, src, pub)
		} else {
			d.Note = fmt.Sprintf("%s translates %s (its public address is not in %s)", what, src, p.file(FilePublicIP))
		}
		return []cloud.Decision{d}, cloud.Landing{Beyond: "the internet through " + what}
	}
	// 1. NAT gateway on the subnet.
	natID := s.NATGateway
	if natID == "" {
		for _, ng := range p.X.NATs {
			for _, sid := range ng.Subnets {
				if normID(sid) == normID(s.ID) {
					natID = ng.ID
				}
			}
		}
	}
	if natID != "" {
		if p.X.Has[FileNATs] == "" {
			return []cloud.Decision{p.gap(step, FileNATs, "NAT gateway "+lastSeg(natID)+" of subnet "+s.Name)}, cloud.Landing{}
		}
		ng := p.X.NATs[normID(natID)]
		if ng == nil {
			return []cloud.Decision{{Verdict: cloud.Unknown, Step: step, Action: "unknown", Code: "cloud-missing-data", Object: "subnet/" + s.Name, Pos: s.Pos,
				Message: fmt.Sprintf("subnet %s uses NAT gateway %s, which %s does not list", s.Name, lastSeg(natID), p.file(FileNATs))}}, cloud.Landing{}
		}
		base := cloud.Decision{Pos: ng.Pos, Text: fmt.Sprintf("NAT gateway %s, provisioningState %s", ng.Name, ng.State)}
		if ng.State != "" && !strings.EqualFold(ng.State, "Succeeded") {
			base.Verdict, base.Step, base.Action, base.Code, base.Object = cloud.Unknown, step, "unknown", "cloud-missing-data", "natgateway/"+ng.Name
			base.Message = fmt.Sprintf("NAT gateway %s is %s, not Succeeded: whether it translates is not known", ng.Name, ng.State)
			return []cloud.Decision{base}, cloud.Landing{}
		}
		if len(ng.PublicIPs) == 0 && len(ng.Prefixes) == 0 {
			base.Verdict, base.Step, base.Action, base.Code, base.Object = cloud.Deny, step, "drop", "azure-nat-gateway", "natgateway/"+ng.Name
			base.Message = fmt.Sprintf("NAT gateway %s has no public IP or prefix: it cannot translate, and it takes over the subnet's outbound traffic", ng.Name)
			base.Fix = fmt.Sprintf("az network nat gateway update -g %s -n %s --public-ip-addresses <public IP>", rg(ng.ID), ng.Name)
			return []cloud.Decision{base}, cloud.Landing{}
		}
		var pub netip.Addr
		if len(ng.PublicIPs) > 0 {
			if pi := p.X.PublicIPs[normID(ng.PublicIPs[0])]; pi != nil {
				pub = pi.IP
			}
		}
		return snat("natgateway/"+ng.Name, base, pub, "NAT gateway "+ng.Name)
	}
	// 2. An instance-level public IP.
	if c.PublicIP != "" {
		if p.X.Has[FilePublicIP] == "" {
			return []cloud.Decision{p.gap(step, FilePublicIP, "the address of public IP "+lastSeg(c.PublicIP))}, cloud.Landing{}
		}
		pi := p.X.PublicIPs[normID(c.PublicIP)]
		base := cloud.Decision{Pos: c.Pos, Text: "ipConfiguration " + c.Name + " publicIPAddress " + lastSeg(c.PublicIP)}
		var pub netip.Addr
		if pi != nil {
			pub, base.Pos = pi.IP, pi.Pos
		}
		return snat("publicipaddress/"+lastSeg(c.PublicIP), base, pub, "public IP "+lastSeg(c.PublicIP))
	}
	// 3. A load balancer's outbound rule, or a load-balancing rule's default SNAT.
	if p.X.Has[FileLBs] == "" {
		return []cloud.Decision{p.gap(step, FileLBs, "whether a load balancer's outbound rule translates "+p.label(n))}, cloud.Landing{}
	}
	for _, lb := range p.X.LBs {
		for _, o := range lb.Outbound {
			if p.inPool(lb, o.Pool, c) && len(o.Frontends) > 0 {
				pub := p.frontendAddr(lb, o.Frontends[0])
				return snat("loadbalancer/"+lb.Name+" outbound rule "+o.Name, cloud.Decision{Pos: o.Pos, Text: "outbound rule " + o.Name}, pub, "load balancer "+lb.Name+"'s outbound rule "+o.Name)
			}
		}
	}
	for _, lb := range p.X.LBs {
		for _, ru := range lb.Rules {
			if ru.NoOutboundSNAT {
				continue
			}
			for _, pool := range ru.Pools {
				if !p.inPool(lb, pool, c) {
					continue
				}
				pub := p.frontendAddr(lb, ru.Frontend)
				if !pub.IsValid() || !publicAddr(pub) {
					continue // an internal load balancer gives no outbound
				}
				return snat("loadbalancer/"+lb.Name+" rule "+ru.Name, cloud.Decision{Pos: ru.Pos, Text: "load-balancing rule " + ru.Name + " (default outbound SNAT)"}, pub, "load balancer "+lb.Name+"'s rule "+ru.Name)
			}
		}
	}
	// 4. Default outbound access.
	d := cloud.Decision{Step: step, Object: "subnet/" + s.Name, Pos: s.Pos}
	switch {
	case s.DefaultOutbound == nil:
		d.Verdict, d.Action, d.Code = cloud.Unknown, "unknown", "cloud-missing-data"
		d.Message = fmt.Sprintf("subnet %s has no NAT gateway, %s no public IP and no load balancer translates it: only default outbound access would, and the export does not say whether the subnet allows it (defaultOutboundAccess)", s.Name, p.label(n))
		d.Fix = fmt.Sprintf("give subnet %s an explicit outbound method: az network vnet subnet update -g %s --vnet-name %s -n %s --nat-gateway <NAT gateway>", s.Name, rg(s.VNet.ID), s.VNet.Name, s.Name)
		return []cloud.Decision{d}, cloud.Landing{}
	case !*s.DefaultOutbound:
		d.Verdict, d.Action, d.Code, d.Text = cloud.NoRoute, "drop", "azure-no-outbound", "defaultOutboundAccess false"
		d.Message = fmt.Sprintf("subnet %s is private (defaultOutboundAccess false) and has no NAT gateway, %s has no public IP, and no load balancer outbound rule covers it: the packet cannot reach the internet", s.Name, p.label(n))
		d.Fix = fmt.Sprintf("az network vnet subnet update -g %s --vnet-name %s -n %s --nat-gateway <NAT gateway> (or an outbound rule on the cluster's load balancer)", rg(s.VNet.ID), s.VNet.Name, s.Name)
		return []cloud.Decision{d}, cloud.Landing{}
	}
	d.Action, d.Text, d.Warning, d.Code = "snat", "defaultOutboundAccess true", true, "azure-default-outbound"
	d.Message = fmt.Sprintf("%s reaches the internet only through default outbound access, an implicit address Azure may change and is retiring", p.label(n))
	d.Fix = "give the subnet a NAT gateway (or the cluster's load balancer an outbound rule)"
	return []cloud.Decision{d}, cloud.Landing{Beyond: "the internet through default outbound access"}
}

// inPool reports whether an IP configuration is a member of a backend pool.
func (p *Provider) inPool(lb *LB, poolID string, c *IPConfig) bool {
	for _, id := range c.Pools {
		if normID(id) == normID(poolID) {
			return true
		}
	}
	for _, po := range lb.Pools {
		if normID(po.ID) != normID(poolID) {
			continue
		}
		for _, id := range po.Configs {
			if normID(id) == normID(c.ID) {
				return true
			}
		}
		for _, a := range po.Addrs {
			if a == c.IP {
				return true
			}
		}
	}
	return false
}

// frontendAddr is a frontend's address: its private IP, or its public IP's.
func (p *Provider) frontendAddr(lb *LB, id string) netip.Addr {
	for _, fe := range lb.Frontends {
		if normID(fe.ID) != normID(id) && fe.Name != lastSeg(id) {
			continue
		}
		if fe.Private.IsValid() {
			return fe.Private
		}
		if pi := p.X.PublicIPs[normID(fe.PublicIP)]; pi != nil {
			return pi.IP
		}
	}
	return netip.Addr{}
}
