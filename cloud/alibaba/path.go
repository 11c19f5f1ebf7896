package alibaba

import (
	"fmt"
	"net/netip"

	"github.com/netsim/netsim/cloud"
)

const routeStep = "alibaba route table"

// Route implements cloud.Provider: the sending vSwitch's route table (its custom table,
// else the VPC's system table) picks a route by longest prefix, and its next hop
// decides: local (the system route of a vSwitch CIDR: the interface holding the
// address), an ECS instance or a network interface, a NAT gateway (its SNAT entries),
// an IPv4 gateway (the source's public IP), or a way out of the VPC (a router
// interface, a VPC peering, a VPN gateway, a transit router, a HaVip).
func (p *Provider) Route(l cloud.Leg) ([]cloud.Decision, cloud.Landing) {
	nic, gap := p.nicOf(l.From, l.Packet.Src)
	if nic == nil {
		return []cloud.Decision{*gap}, cloud.Landing{}
	}
	dst := l.Packet.Dst
	if p.X.Has[FileRouteTables] == "" {
		return []cloud.Decision{p.gap(routeStep, FileRouteTables, "the route table of "+nic.VSwitchID)}, cloud.Landing{}
	}
	t, custom := p.X.TableFor(nic.VSwitchID, nic.VpcID)
	if t == nil {
		return []cloud.Decision{{Verdict: cloud.Unknown, Step: routeStep, Action: "unknown", Code: "cloud-missing-data",
			Message: fmt.Sprintf("%s has no route table for %s (no custom table bound to it, and no system table of %s)", p.X.file(FileRouteTables), nic.VSwitchID, nic.VpcID)}}, cloud.Landing{}
	}
	which := nic.VSwitchID + "'s custom table"
	if !custom {
		which = "the system table of " + nic.VpcID
	}
	if !t.HasEntries {
		return []cloud.Decision{p.gap(routeStep, DirRouteEntries+"/"+t.ID+".json", "the routes of "+t.ID+" ("+which+")")}, cloud.Landing{}
	}
	r := p.X.Lookup(t, nic.VpcID, dst)
	if r == nil || ((r.HopType == HopNatGateway || r.HopType == HopIpv4Gateway) && !dst.IsPrivate()) {
		if ds, land, ok := p.viaPublicIP(l, nic, r); ok {
			return ds, land
		}
	}
	if r == nil {
		d := cloud.Decision{Verdict: cloud.NoRoute, Step: routeStep, Action: "no-route", Code: "alibaba-no-route", Object: "routetable/" + t.ID, Pos: t.Pos,
			Text: "no route for " + dst.String(), Note: which}
		d.Message = fmt.Sprintf("routetable/%s (%s) has no route for %s", t.ID, which, dst)
		d.Fix = p.routeFix(t, dst)
		return []cloud.Decision{d}, cloud.Landing{}
	}
	d := cloud.Decision{Step: routeStep, Action: "route", Object: "routetable/" + t.ID + " route " + r.Dest.String(), Pos: r.Pos, Text: r.Label(), Note: which}
	if r.ID != "" && r.HopType != HopLocal {
		d.Object += " (" + r.ID + ")"
	}
	if !r.Available() {
		d.Verdict, d.Action, d.Code = cloud.NoRoute, "blackhole", "alibaba-route-not-available"
		d.Message = fmt.Sprintf("routetable/%s route %s is %s, not Available: it does not forward %s", t.ID, r.Dest, r.Status, flowText(l.Packet))
		d.Fix = fmt.Sprintf("wait for the route to become Available, or recreate it: aliyun vpc DeleteRouteEntry --RouteEntryId %s, then aliyun vpc CreateRouteEntry --RouteTableId %s --DestinationCidrBlock %s --NextHopType %s --NextHopId %s", r.ID, t.ID, r.Dest, r.HopType, r.HopID)
		return []cloud.Decision{d}, cloud.Landing{}
	}
	if (r.HopType == HopNatGateway || r.HopType == HopIpv4Gateway) && dst.IsPrivate() && l.To == "" {
		d.Verdict, d.Action, d.Code = cloud.NoRoute, "no-route", "alibaba-no-route"
		d.Message = fmt.Sprintf("routetable/%s (%s) has no route for the private address %s: only %s covers it, towards the internet, which does not route private addresses", t.ID, which, dst, r.Label())
		d.Fix = fmt.Sprintf("add a route for the range holding %s through what reaches it: aliyun vpc CreateRouteEntry --RouteTableId %s --DestinationCidrBlock <its range> --NextHopType VpnGateway|RouterInterface|Attachment|VpcPeer --NextHopId <id>", dst, t.ID)
		return []cloud.Decision{d}, cloud.Landing{}
	}
	var more []cloud.Decision
	var land cloud.Landing
	switch r.HopType {
	case HopNatGateway, HopIpv4Gateway:
		if dst.IsPrivate() {
			// Meant for a node: the default route carries it towards the internet.
			land = cloud.Landing{Beyond: "the internet through " + r.HopType + " " + r.HopID}
			break
		}
		if r.HopType == HopNatGateway {
			more, land = p.viaNAT(l, nic, r)
		} else {
			more, land = p.viaIPv4Gateway(l, nic, r)
		}
	case HopLocal:
		more, land = p.viaLocal(l, t, r)
	case HopInstance, HopNetworkInterface:
		more, land = p.viaHop(l, r)
	case HopRouterInterface, HopVpcPeer, HopVpnGateway, HopAttachment, HopHaVip, HopIPv6Gateway:
		land = cloud.Landing{Beyond: fmt.Sprintf("%s through %s %s", beyondOf(r.HopType), r.HopType, r.HopID)}
	default:
		// A next hop netsim does not know (or an ECMP route whose hops are all
		// disabled) is never read as leaving the VPC.
		what := fmt.Sprintf("next hop type %q", r.HopType)
		if r.HopType == "" {
			what = fmt.Sprintf("no enabled next hop among its %d", r.Hops)
		}
		d.Verdict, d.Action, d.Code = cloud.Unknown, "unknown", "cloud-unsupported"
		d.Message = fmt.Sprintf("routetable/%s route %s (%s) has %s: where it sends %s is not known", t.ID, r.Dest, r.Pos, what, flowText(l.Packet))
		return []cloud.Decision{d}, cloud.Landing{}
	}
	if l.To != "" && land.Node != l.To && !blocked(more) {
		more = append(more, p.misroute(l, t, r, land))
		land = cloud.Landing{}
	}
	return append([]cloud.Decision{d}, more...), land
}

func beyondOf(hop string) string {
	switch hop {
	case HopRouterInterface:
		return "a peer VPC or a virtual border router (Express Connect)"
	case HopVpcPeer:
		return "the peer VPC"
	case HopVpnGateway:
		return "the on-premises network (VPN)"
	case HopAttachment:
		return "a network beyond the transit router (CEN)"
	case HopHaVip:
		return "the instance holding the HaVip"
	case HopIPv6Gateway:
		return "the IPv6 internet"
	}
	return "a network beyond the VPC"
}

func blocked(ds []cloud.Decision) bool {
	for _, d := range ds {
		if d.Blocks() {
			return true
		}
	}
	return false
}

// routeFix proposes the route a missing one should be.
func (p *Provider) routeFix(t *RouteTable, dst netip.Addr) string {
	if node, c := p.podCIDROf(dst); node != "" {
		if n := p.nodeNIC[node]; n != nil && n.InstanceID != "" {
			return fmt.Sprintf("aliyun vpc CreateRouteEntry --RegionId <region> --RouteTableId %s --DestinationCidrBlock %s --NextHopType Instance --NextHopId %s (node %s's pod CIDR to its instance, as Flannel's alloc mode on ACK does)", t.ID, c, n.InstanceID, node)
		}
	}
	if dst.IsPrivate() {
		return fmt.Sprintf("add a route for the range holding %s to %s through what reaches it: aliyun vpc CreateRouteEntry --RouteTableId %s --DestinationCidrBlock <its range> --NextHopType VpnGateway|RouterInterface|Attachment|VpcPeer --NextHopId <id>", dst, t.ID, t.ID)
	}
	for _, n := range p.X.NATs {
		if (n.VpcID == t.VpcID || t.VpcID == "") && n.Status == "Available" {
			return fmt.Sprintf("aliyun vpc CreateRouteEntry --RegionId <region> --RouteTableId %s --DestinationCidrBlock 0.0.0.0/0 --NextHopType NatGateway --NextHopId %s", t.ID, n.ID)
		}
	}
	return fmt.Sprintf("add a default route (0.0.0.0/0) to %s through an internet NAT gateway (and an SNAT entry for the nodes' vSwitch), or give the nodes EIPs", t.ID)
}

// misroute explains a packet meant for a node that the route table sends elsewhere.
func (p *Provider) misroute(l cloud.Leg, t *RouteTable, r *RouteEntry, land cloud.Landing) cloud.Decision {
	d := cloud.Decision{Verdict: cloud.Misroute, Step: routeStep, Action: "misroute", Code: "alibaba-route-misdirected", Object: "routetable/" + t.ID + " route " + r.Dest.String(), Pos: r.Pos, Text: r.Label()}
	to := land.Beyond
	if land.Node != "" {
		to = "node " + land.Node
	}
	d.Message = fmt.Sprintf("node %s sends %s to node %s, but the VPC routes by destination address, not by the next hop the node chose: route %s sends it to %s", l.From, flowText(l.Packet), l.To, r.Label(), to)
	if node, c := p.podCIDROf(l.Packet.Dst); node != "" && r.Dest.Bits() > 0 && r.HopType != HopInstance && r.HopType != HopNetworkInterface {
		d.Code = "alibaba-cidr-overlap"
		d.Message += fmt.Sprintf("; node %s's pod CIDR %s overlaps %s, a range the VPC reaches through %s %s", node, c, r.Dest, r.HopType, r.HopID)
		d.Fix = "give the cluster a pod CIDR that overlaps no range the VPC routes (its vSwitches', peered VPCs', the IDC's); meanwhile a more specific route per node's pod CIDR to its instance wins"
	} else if node != "" {
		d.Message += fmt.Sprintf("; %s is in node %s's pod CIDR %s, which has no route of its own", l.Packet.Dst, node, c)
		if n := p.nodeNIC[node]; n != nil {
			d.Fix = fmt.Sprintf("aliyun vpc CreateRouteEntry --RegionId <region> --RouteTableId %s --DestinationCidrBlock %s --NextHopType Instance --NextHopId %s", t.ID, c, n.InstanceID)
		}
	}
	return d
}

// viaLocal delivers inside the VPC (the system route of a vSwitch CIDR) to the
// interface holding the address.
func (p *Provider) viaLocal(l cloud.Leg, t *RouteTable, r *RouteEntry) ([]cloud.Decision, cloud.Landing) {
	dst := l.Packet.Dst
	n := p.X.NICWith(dst)
	if n == nil {
		d := cloud.Decision{Step: "alibaba VPC", Action: "no-route", Object: "routetable/" + t.ID + " route " + r.Dest.String(), Pos: r.Pos, Text: r.Label()}
		if node, c := p.podCIDROf(dst); node != "" {
			d.Verdict, d.Code = cloud.NoRoute, "alibaba-cidr-overlap"
			d.Message = fmt.Sprintf("%s is in node %s's pod CIDR %s, which overlaps the vSwitch CIDR %s (a system route): the VPC delivers it to the interface holding it, and none does", dst, node, c, r.Dest)
			d.Fix = "give the cluster a pod CIDR outside the VPC's vSwitch CIDRs (and outside peered VPCs' and the IDC's ranges), or use Terway, whose pod addresses are the ENIs' own"
			return []cloud.Decision{d}, cloud.Landing{}
		}
		if p.X.Has[FileNICs] == "" {
			return []cloud.Decision{p.gap("alibaba VPC", FileNICs, "which interface holds "+dst.String())}, cloud.Landing{}
		}
		d.Verdict, d.Code = cloud.NoRoute, "alibaba-no-interface"
		d.Message = fmt.Sprintf("no interface in the VPC holds %s (the system route %s delivers only to interfaces' own addresses)", dst, r.Dest)
		return []cloud.Decision{d}, cloud.Landing{}
	}
	if node := p.nodeOf(n); node != "" {
		return nil, cloud.Landing{Node: node}
	}
	return nil, cloud.Landing{Beyond: p.nicLabel(n) + " in " + n.VpcID}
}

// viaHop hands the packet to the instance or interface a custom route names (Flannel's
// routes on ACK name the node's instance).
func (p *Provider) viaHop(l cloud.Leg, r *RouteEntry) ([]cloud.Decision, cloud.Landing) {
	var n *NIC
	if r.HopType == HopInstance {
		if p.X.Instances[r.HopID] != nil || p.X.PrimaryNIC(r.HopID) != nil {
			n = p.X.PrimaryNIC(r.HopID)
			if n == nil {
				n = &NIC{ID: r.HopID, InstanceID: r.HopID}
			}
		}
	} else {
		for _, x := range p.X.NICs {
			if x.ID == r.HopID {
				n = x
			}
		}
	}
	if n == nil {
		return []cloud.Decision{{Verdict: cloud.NoRoute, Step: routeStep, Action: "no-route", Code: "alibaba-route-hop-missing", Object: "route " + r.Dest.String(), Pos: r.Pos, Text: r.Label(),
			Message: fmt.Sprintf("route %s names %s %s, which no export lists (released?): the VPC has nowhere to send %s", r.Dest, r.HopType, r.HopID, l.Packet.Dst)}}, cloud.Landing{}
	}
	if node := p.nodeOf(n); node != "" {
		return nil, cloud.Landing{Node: node}
	}
	if node := p.byInst[n.InstanceID]; node != "" {
		return nil, cloud.Landing{Node: node}
	}
	return nil, cloud.Landing{Beyond: p.nicLabel(n) + " (an instance the route names)"}
}

// viaNAT follows a packet into a NAT gateway: it must be Available, and one of its SNAT
// entries must cover the source (the most specific: an ECS-granular entry before its
// vSwitch's); else the gateway drops it.
func (p *Provider) viaNAT(l cloud.Leg, nic *NIC, r *RouteEntry) ([]cloud.Decision, cloud.Landing) {
	step := "alibaba NAT gateway"
	if p.X.Has[FileNATs] == "" {
		return []cloud.Decision{p.gap(step, FileNATs, "whether NAT gateway "+r.HopID+" is available and which SNAT tables it has")}, cloud.Landing{}
	}
	n := p.X.NATs[r.HopID]
	if n == nil || n.Status != "Available" {
		d := cloud.Decision{Verdict: cloud.NoRoute, Step: step, Action: "no-route", Code: "alibaba-nat-gateway", Object: "natgateway/" + r.HopID, Pos: r.Pos, Text: r.Label()}
		if n == nil {
			d.Message = fmt.Sprintf("route %s names NAT gateway %s, which %s does not list: packets to it are dropped", r.Dest, r.HopID, p.X.file(FileNATs))
		} else {
			d.Pos, d.Text = n.Pos, "Status "+n.Status
			d.Message = fmt.Sprintf("NAT gateway %s is %s, not Available: packets routed to it are dropped", n.ID, n.Status)
		}
		d.Fix = "create an internet NAT gateway in the VPC and point the route at it"
		return []cloud.Decision{d}, cloud.Landing{}
	}
	src := l.Packet.Src
	vsw := ""
	if nic.Holds(src) {
		vsw = nic.VSwitchID
	}
	e, missing := p.X.snatFor(n, src, vsw)
	if e == nil && len(missing) > 0 {
		d := p.gap(step, DirSnatEntries+"/"+n.SnatTables[0]+".json", "which SNAT entry of "+n.ID+" covers "+src.String())
		return []cloud.Decision{d}, cloud.Landing{}
	}
	if e == nil {
		d := cloud.Decision{Verdict: cloud.NoRoute, Step: step, Action: "no-route", Code: "alibaba-no-snat-entry", Object: "natgateway/" + n.ID, Pos: n.Pos,
			Text: fmt.Sprintf("SNAT tables %v", n.SnatTables)}
		d.Message = fmt.Sprintf("no SNAT entry of NAT gateway %s covers the source %s (by SourceCIDR or SourceVSwitchId): the gateway does not translate it and the packet does not reach the internet", n.ID, src)
		if node, _ := p.podCIDROf(src); node != "" {
			d.Message += " (it is a pod address: the node did not masquerade it)"
		}
		ip := "<EIP of " + n.ID + ">"
		if len(n.IPs) > 0 {
			ip = n.IPs[0].String()
		}
		table := "<SNAT table>"
		if len(n.SnatTables) > 0 {
			table = n.SnatTables[0]
		}
		d.Fix = fmt.Sprintf("aliyun vpc CreateSnatEntry --RegionId <region> --SnatTableId %s --SourceVSwitchId %s --SnatIp %s", table, nic.VSwitchID, ip)
		if node, _ := p.podCIDROf(src); node != "" && !nic.Holds(src) {
			// An SNAT entry covers the VPC's addresses: an overlay pod address needs the
			// node's masquerade first.
			d.Fix = "masquerade pod traffic leaving the cluster on the nodes (Flannel's ipMasq, ip-masq-agent), so that it leaves with the node's address; and for the nodes' vSwitch, if it has no entry: " + d.Fix
		}
		return []cloud.Decision{d}, cloud.Landing{}
	}
	snat := l.Packet
	note := fmt.Sprintf("%s translates %s", n.ID, src)
	if len(e.SnatIPs) > 0 {
		snat.Src = e.SnatIPs[0]
		note += " to " + e.SnatIPs[0].String()
	}
	what := "SourceCIDR " + e.Source.String()
	if e.VSwitch != "" {
		what = "SourceVSwitchId " + e.VSwitch
	}
	d := cloud.Decision{Step: step, Action: "snat", Object: "snatentry/" + e.ID, Pos: e.Pos, Text: fmt.Sprintf("%s -> %v (%s)", what, e.SnatIPs, e.Table), Note: note, Packet: snat}
	beyond := "the internet through " + n.ID
	if n.NetworkType == "intranet" {
		beyond = "the network beyond the VPC NAT gateway " + n.ID
	}
	return []cloud.Decision{d}, cloud.Landing{Beyond: beyond}
}

// viaIPv4Gateway follows a packet to an IPv4 gateway: only an address with a public IP
// (or EIP) reaches the internet through it.
func (p *Provider) viaIPv4Gateway(l cloud.Leg, nic *NIC, r *RouteEntry) ([]cloud.Decision, cloud.Landing) {
	src := l.Packet.Src
	if e := p.X.NICWith(src); e != nil {
		if pub, ok := e.Public[src]; ok {
			out := l.Packet
			out.Src = pub
			return []cloud.Decision{{Step: "alibaba IPv4 gateway", Action: "snat", Object: "networkinterface/" + e.ID, Pos: e.Pos, Text: fmt.Sprintf("%s <-> %s", src, pub), Packet: out}},
				cloud.Landing{Beyond: "the internet through " + r.HopID}
		}
	}
	d := cloud.Decision{Verdict: cloud.Deny, Step: "alibaba IPv4 gateway", Action: "drop", Code: "alibaba-no-public-ip", Object: "ipv4gateway/" + r.HopID, Pos: r.Pos, Text: r.Label()}
	d.Message = fmt.Sprintf("the route sends %s to the IPv4 gateway %s, which carries only addresses that have a public IP or EIP: %s has none", flowText(l.Packet), r.HopID, src)
	d.Fix = fmt.Sprintf("associate an EIP with %s (aliyun vpc AssociateEipAddress), or route 0.0.0.0/0 through an internet NAT gateway with an SNAT entry", p.nicLabel(nic))
	if node, _ := p.podCIDROf(src); node != "" {
		d.Message += " (it is a pod address: the node did not masquerade it)"
	}
	return []cloud.Decision{d}, cloud.Landing{}
}

// viaPublicIP sends a packet for the internet out through the source's own public IP or
// EIP: an instance that has one reaches the internet with it, before a NAT gateway's
// SNAT entries (Alibaba Cloud NAT gateway docs: an ECS instance with an EIP or a public
// IP uses it). ok is false when the source has none.
func (p *Provider) viaPublicIP(l cloud.Leg, nic *NIC, r *RouteEntry) ([]cloud.Decision, cloud.Landing, bool) {
	src := l.Packet.Src
	if l.Packet.Dst.IsPrivate() {
		return nil, cloud.Landing{}, false
	}
	e := p.X.NICWith(src)
	if e == nil {
		return nil, cloud.Landing{}, false
	}
	pub, ok := e.Public[src]
	if !ok {
		return nil, cloud.Landing{}, false
	}
	out := l.Packet
	out.Src = pub
	d := cloud.Decision{Step: "alibaba public IP", Action: "snat", Object: "networkinterface/" + e.ID, Pos: e.Pos, Text: fmt.Sprintf("%s <-> %s", src, pub), Packet: out,
		Note: "an instance with a public IP or EIP reaches the internet through it"}
	return []cloud.Decision{d}, cloud.Landing{Beyond: "the internet through " + p.nicLabel(e) + "'s public IP " + pub.String()}, true
}
