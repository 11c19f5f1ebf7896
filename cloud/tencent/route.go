package tencent

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/netsim/netsim/cloud"
)

// TableFor is the route table of a subnet: the subnet's RouteTableId, else the table
// whose AssociationSet names it, else its VPC's default (Main) table.
func (x *Export) TableFor(subnet, vpc string) *RouteTable {
	for _, s := range x.Subnets {
		if s.ID == subnet && s.RouteTableID != "" {
			for _, rt := range x.RouteTables {
				if rt.ID == s.RouteTableID {
					return rt
				}
			}
		}
	}
	for _, rt := range x.RouteTables {
		if contains(rt.Subnets, subnet) {
			return rt
		}
	}
	for _, rt := range x.RouteTables {
		if rt.Main && (vpc == "" || rt.VpcID == vpc) {
			return rt
		}
	}
	return nil
}

// Lookup picks the route a table takes for dst: the longest prefix among its enabled
// routes and the VPC's local routes (one per subnet of the VPC: Tencent Cloud delivers
// inside the VPC by the "Local" route, which custom routes cannot override); at equal
// length the local route wins. Disabled routes (Enabled false) are skipped: skipped
// returns the ones that covered dst.
func (x *Export) Lookup(rt *RouteTable, dst netip.Addr) (best *Route, skipped []*Route) {
	better := func(r *Route) bool {
		return best == nil || r.Dst.Bits() > best.Dst.Bits() || (r.Dst.Bits() == best.Dst.Bits() && r.Local && !best.Local)
	}
	for _, s := range x.Subnets {
		if s.VpcID == rt.VpcID && s.Cidr.Contains(dst) {
			r := &Route{ID: "local", Dst: s.Cidr, GatewayType: "LOCAL", GatewayID: s.ID, Enabled: true, Table: rt.ID, Local: true, Pos: s.Pos}
			if better(r) {
				best = r
			}
		}
	}
	for _, r := range x.routesCovering(rt, dst) {
		if !r.Dst.Contains(dst) {
			continue
		}
		if !r.Enabled {
			skipped = append(skipped, r)
			continue
		}
		if r.GatewayType == "LOCAL" {
			r.Local = true
		}
		if better(r) {
			best = r
		}
	}
	return best, skipped
}

// Label renders a route as the console shows it: "10.244.2.0/24 -> NORMAL_CVM 10.200.0.12".
func (r *Route) Label() string {
	if r.Local {
		return fmt.Sprintf("%s -> Local (%s)", r.Dst, r.GatewayID)
	}
	s := fmt.Sprintf("%s -> %s %s", r.Dst, r.GatewayType, r.GatewayID)
	if !r.Enabled {
		s += " (disabled)"
	}
	return s
}

// Route implements cloud.Provider: the sending subnet's route table picks a route by
// longest prefix and its next hop decides; with no route, an instance with a public IP
// reaches the internet directly by it.
func (p *Provider) Route(l cloud.Leg) ([]cloud.Decision, cloud.Landing) {
	const step = "tencent route table"
	nic, gap := p.nicOf(l.From, l.Packet.Src)
	if nic == nil {
		return []cloud.Decision{*gap}, cloud.Landing{}
	}
	if p.X.Has[FileRouteTables] == "" {
		return []cloud.Decision{p.gap(step, FileRouteTables, "the route table of "+nic.SubnetID)}, cloud.Landing{}
	}
	if p.X.Has[FileSubnets] == "" {
		return []cloud.Decision{p.gap(step, FileSubnets, "the route table and local routes of "+nic.SubnetID)}, cloud.Landing{}
	}
	rt := p.X.TableFor(nic.SubnetID, nic.VpcID)
	if rt == nil {
		return []cloud.Decision{{Verdict: cloud.Unknown, Step: step, Action: "unknown", Code: "cloud-missing-data",
			Message: fmt.Sprintf("%s has no route table for %s (none named by the subnet or associated with it, and no default table of %s)", p.file(FileRouteTables), nic.SubnetID, nic.VpcID)}}, cloud.Landing{}
	}
	dst := l.Packet.Dst
	r, skipped := p.X.Lookup(rt, dst)
	note := fmt.Sprintf("%s's table %s", nic.SubnetID, rt.ID)
	var off *Route // the most specific disabled route that would have won
	for _, s := range skipped {
		if (r == nil || s.Dst.Bits() > r.Dst.Bits()) && (off == nil || s.Dst.Bits() > off.Dst.Bits()) {
			off = s
		}
	}
	if off != nil {
		note += fmt.Sprintf("; route %s is disabled and skipped (%s)", off.Label(), off.Pos)
	}
	if r == nil {
		ds, land := p.noRoute(l, nic, rt, note)
		return withDisabled(ds, off), land
	}
	d := cloud.Decision{Step: step, Action: "route", Object: "routetable/" + rt.ID + " route " + r.Dst.String(), Pos: r.Pos, Text: r.Label(), Note: note}
	if (r.GatewayType == "NAT" || r.GatewayType == "EIP") && dst.IsPrivate() {
		// A private destination only a route towards the internet covers.
		d.Verdict, d.Action, d.Code = cloud.NoRoute, "no-route", "tencent-no-route"
		d.Message = fmt.Sprintf("routetable/%s has no route for the private address %s: only %s covers it, towards the internet, which does not route private addresses", rt.ID, dst, r.Label())
		d.Fix = p.routeFix(rt, dst, l)
		return withDisabled([]cloud.Decision{d}, off), cloud.Landing{}
	}
	var more []cloud.Decision
	var land cloud.Landing
	switch r.GatewayType {
	case "LOCAL":
		more, land = p.viaLocal(l, r)
	case "NORMAL_CVM", "CVM":
		more, land = p.viaCVM(r)
	case "NAT":
		more, land = p.viaNAT(l, nic, r)
	case "EIP":
		more, land = p.viaPublic(l, nic, r)
	case "VPN", "SSLVPN", "DIRECTCONNECT", "PEERCONNECTION", "CCN", "HAVIP", "LOCAL_GATEWAY", "INTRANAT":
		land = cloud.Landing{Beyond: fmt.Sprintf("%s through %s %s", beyondOf(r.GatewayType), r.GatewayType, r.GatewayID)}
	default:
		// A GatewayType netsim does not know is never read as leaving the VPC.
		d.Verdict, d.Action, d.Code = cloud.Unknown, "unknown", "cloud-unsupported"
		d.Message = fmt.Sprintf("routetable/%s route %s (%s) has GatewayType %q, which netsim does not follow: where it sends %s is not known", rt.ID, r.Dst, r.Pos, r.GatewayType, flowLabel(l.Packet))
		return withDisabled([]cloud.Decision{d}, off), cloud.Landing{}
	}
	if l.To != "" && land.Node != l.To && !blocks(more) {
		more = append(more, p.misroute(l, r, land))
		land = cloud.Landing{}
	}
	return append([]cloud.Decision{d}, more...), land
}

// withDisabled explains a blocked packet that a disabled route would have carried: the
// fix is to enable it.
func withDisabled(ds []cloud.Decision, off *Route) []cloud.Decision {
	if off == nil || len(ds) == 0 || !ds[len(ds)-1].Blocks() {
		return ds
	}
	d := &ds[len(ds)-1]
	d.Message += fmt.Sprintf("; route %s would carry it (Enabled false, %s)", off.Label(), off.Pos)
	id := off.ID
	if id == "" {
		id = "<RouteItemId of " + off.Dst.String() + ">"
	}
	d.Fix = fmt.Sprintf(`enable it: tccli vpc EnableRoutes --RouteTableId %s --RouteItemIds '["%s"]'`, off.Table, id)
	return ds
}

func beyondOf(kind string) string {
	switch kind {
	case "VPN", "SSLVPN":
		return "the on-premises network (VPN)"
	case "DIRECTCONNECT":
		return "the on-premises network (Direct Connect gateway)"
	case "PEERCONNECTION":
		return "the peered VPC"
	case "CCN":
		return "a network of the Cloud Connect Network"
	case "HAVIP":
		return "the CVM holding the HAVIP"
	case "LOCAL_GATEWAY":
		return "the CDC local gateway's network"
	case "INTRANAT":
		return "a private NAT gateway's network"
	}
	return "a network beyond the VPC"
}

func blocks(ds []cloud.Decision) bool {
	for _, d := range ds {
		if d.Blocks() {
			return true
		}
	}
	return false
}

// noRoute is a destination no route covers: an instance with a public IP reaches the
// internet directly (Tencent Cloud needs no route for that); else the packet is dropped.
func (p *Provider) noRoute(l cloud.Leg, nic *ENI, rt *RouteTable, note string) ([]cloud.Decision, cloud.Landing) {
	dst := l.Packet.Dst
	if !dst.IsPrivate() && l.To == "" {
		if pub, ok := nic.Public[l.Packet.Src]; ok {
			out := l.Packet
			out.Src = pub
			return []cloud.Decision{{Step: "tencent public IP", Action: "snat", Object: "networkinterface/" + objID(nic.ID), Pos: nic.Pos,
					Text: fmt.Sprintf("%s <-> %s", l.Packet.Src, pub), Note: "no route of " + rt.ID + " covers " + dst.String() + ": the instance's public IP carries it to the internet", Packet: out}},
				cloud.Landing{Beyond: "the internet through the public IP " + pub.String()}
		}
	}
	d := cloud.Decision{Verdict: cloud.NoRoute, Step: "tencent route table", Action: "no-route", Code: "tencent-no-route", Object: "routetable/" + rt.ID, Pos: rt.Pos,
		Text: "no route for " + dst.String(), Note: note}
	d.Message = fmt.Sprintf("routetable/%s (%s) has no enabled route for %s", rt.ID, note, dst)
	if !dst.IsPrivate() {
		d.Message += fmt.Sprintf(", and %s has no public IP for %s to leave by", p.nicLabel(nic), l.Packet.Src)
	}
	d.Fix = p.routeFix(rt, dst, l)
	return []cloud.Decision{d}, cloud.Landing{}
}

// routeFix proposes the route a destination needs, as a tccli call.
func (p *Provider) routeFix(rt *RouteTable, dst netip.Addr, l cloud.Leg) string {
	create := func(cidr, typ, id string) string {
		return fmt.Sprintf(`tccli vpc CreateRoutes --RouteTableId %s --Routes '[{"DestinationCidrBlock":"%s","GatewayType":"%s","GatewayId":"%s"}]'`, rt.ID, cidr, typ, id)
	}
	if node, c := p.podCIDROf(dst); node != "" {
		if e := p.nodeNIC[node]; e != nil && len(e.IPs) > 0 {
			return create(c.String(), "NORMAL_CVM", e.IPs[0].String()) + fmt.Sprintf(" (node %s's pod CIDR to the node: the route TKE's GlobalRouter network keeps for each node)", node)
		}
	}
	if dst.IsPrivate() {
		return fmt.Sprintf("add a route for the range holding %s to %s through the gateway that reaches it (DIRECTCONNECT, VPN, CCN or PEERCONNECTION): %s", dst, rt.ID, create("<range of "+dst.String()+">", "<type>", "<gateway id>"))
	}
	for _, n := range p.X.NATs {
		if n.VpcID == rt.VpcID && n.State == "AVAILABLE" {
			return create("0.0.0.0/0", "NAT", n.ID)
		}
	}
	return "create a NAT gateway and route 0.0.0.0/0 to it: " + create("0.0.0.0/0", "NAT", "<nat gateway id>") + ", or give the instance a public IP"
}

// podCIDROf names the node whose pod CIDR holds an address.
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

// misroute explains a packet meant for a node that the VPC sends elsewhere.
func (p *Provider) misroute(l cloud.Leg, r *Route, land cloud.Landing) cloud.Decision {
	d := cloud.Decision{Verdict: cloud.Misroute, Step: "tencent route table", Action: "misroute", Code: "tencent-route-misdirected", Object: "routetable/" + r.Table + " route " + r.Dst.String(), Pos: r.Pos, Text: r.Label()}
	to := land.Beyond
	if land.Node != "" {
		to = "node " + land.Node
	}
	d.Message = fmt.Sprintf("node %s sends %s to node %s, but the VPC routes by destination address: route %s sends it to %s", l.From, flowText(l.Packet), l.To, r.Label(), to)
	node, c := p.podCIDROf(l.Packet.Dst)
	switch {
	case node != "" && r.GatewayType != "NORMAL_CVM" && r.GatewayType != "CVM":
		d.Code = "tencent-cidr-overlap"
		d.Message += fmt.Sprintf("; node %s's pod CIDR %s overlaps %s, a range the VPC reaches through %s %s, and no more specific route sends the pod CIDR to the node", node, c, r.Dst, r.GatewayType, r.GatewayID)
		d.Fix = "give the cluster a pod CIDR that overlaps no range the VPC routes (its subnets, peered VPCs, CCN and on-premises ranges); meanwhile " + p.routeFix(&RouteTable{ID: r.Table}, l.Packet.Dst, l)
	case node != "":
		d.Message += fmt.Sprintf("; %s is in node %s's pod CIDR %s", l.Packet.Dst, node, c)
		d.Fix = "point the route at the node holding the pod CIDR: " + p.routeFix(&RouteTable{ID: r.Table}, l.Packet.Dst, l)
	}
	return d
}

// viaLocal delivers inside the VPC to the interface holding the address.
func (p *Provider) viaLocal(l cloud.Leg, r *Route) ([]cloud.Decision, cloud.Landing) {
	dst := l.Packet.Dst
	e := p.nicWith(dst)
	if e == nil {
		d := cloud.Decision{Verdict: cloud.NoRoute, Step: "tencent VPC", Action: "no-route", Code: "tencent-no-interface", Object: "route " + r.Dst.String(), Pos: r.Pos, Text: r.Label()}
		if node, c := p.podCIDROf(dst); node != "" {
			d.Code = "tencent-cidr-overlap"
			d.Message = fmt.Sprintf("%s is in node %s's pod CIDR %s, which overlaps the VPC's own range %s (its Local route): the VPC delivers it to the interface holding it, and none does", dst, node, c, r.Dst)
			d.Fix = "give the cluster a pod CIDR outside the VPC's ranges (TKE refuses a container network that overlaps the VPC), or use VPC-CNI, whose pod addresses are ENI addresses"
			return []cloud.Decision{d}, cloud.Landing{}
		}
		if p.X.Has[FileENIs] == "" {
			return []cloud.Decision{p.gap("tencent VPC", FileENIs, "which interface holds "+dst.String())}, cloud.Landing{}
		}
		d.Message = fmt.Sprintf("no instance or interface in the exports holds %s (the Local route %s delivers only to interfaces' own addresses)", dst, r.Dst)
		return []cloud.Decision{d}, cloud.Landing{}
	}
	if node := p.nodeOf(e); node != "" {
		return nil, cloud.Landing{Node: node}
	}
	return nil, cloud.Landing{Beyond: p.nicLabel(e) + " in " + e.VpcID}
}

// viaCVM hands the packet to the instance a route names (NORMAL_CVM: its private IP;
// CVM: a public gateway instance): TKE's GlobalRouter routes each node's pod CIDR so.
func (p *Provider) viaCVM(r *Route) ([]cloud.Decision, cloud.Landing) {
	var e *ENI
	if a, err := netip.ParseAddr(r.GatewayID); err == nil {
		e = p.nicWith(a)
	} else {
		e = p.primaryOf(r.GatewayID)
	}
	if e == nil {
		return []cloud.Decision{{Verdict: cloud.NoRoute, Step: "tencent route table", Action: "no-route", Code: "tencent-route-target", Object: "routetable/" + r.Table + " route " + r.Dst.String(), Pos: r.Pos, Text: r.Label(),
			Message: fmt.Sprintf("route %s names %s, which no instance or interface of the exports holds: the next hop is gone", r.Label(), r.GatewayID)}}, cloud.Landing{}
	}
	if node := p.nodeOf(e); node != "" {
		return nil, cloud.Landing{Node: node}
	}
	return nil, cloud.Landing{Beyond: p.nicLabel(e) + " (the instance the route names)"}
}

// viaPublic sends a packet out by the sender's own public IP (an EIP route, or no route
// at all): only an address that has one is translated.
func (p *Provider) viaPublic(l cloud.Leg, nic *ENI, r *Route) ([]cloud.Decision, cloud.Landing) {
	src := l.Packet.Src
	pub, ok := nic.Public[src]
	if !ok {
		d := cloud.Decision{Verdict: cloud.Deny, Step: "tencent public IP", Action: "drop", Code: "tencent-no-public-ip", Object: "routetable/" + r.Table + " route " + r.Dst.String(), Pos: r.Pos, Text: r.Label()}
		d.Message = fmt.Sprintf("route %s sends %s out by the instance's public IP, and %s has none on %s", r.Label(), flowText(l.Packet), src, p.nicLabel(nic))
		if node, _ := p.podCIDROf(src); node != "" {
			d.Message += " (it is a pod address: the node did not masquerade it)"
		}
		d.Fix = fmt.Sprintf("route 0.0.0.0/0 through a NAT gateway with an SNAT rule for the subnet, or bind an EIP to %s", p.nicLabel(nic))
		return []cloud.Decision{d}, cloud.Landing{}
	}
	out := l.Packet
	out.Src = pub
	return []cloud.Decision{{Step: "tencent public IP", Action: "snat", Object: "networkinterface/" + objID(nic.ID), Pos: nic.Pos, Text: fmt.Sprintf("%s <-> %s", src, pub), Packet: out}},
		cloud.Landing{Beyond: "the internet through the public IP " + pub.String()}
}

// viaNAT follows a packet into a NAT gateway: it must exist and be AVAILABLE, and one
// of its SNAT rules must cover the source (a SUBNET rule the subnet's CIDR, a
// NETWORKINTERFACE rule the instance's private IP); it translates the source to the
// rule's public IPs.
func (p *Provider) viaNAT(l cloud.Leg, nic *ENI, r *Route) ([]cloud.Decision, cloud.Landing) {
	const step = "tencent NAT gateway"
	if p.X.Has[FileNATs] == "" {
		return []cloud.Decision{p.gap(step, FileNATs, "whether NAT gateway "+r.GatewayID+" is available")}, cloud.Landing{}
	}
	n := p.X.NATs[r.GatewayID]
	if n == nil || n.State != "AVAILABLE" {
		d := cloud.Decision{Verdict: cloud.NoRoute, Step: step, Action: "no-route", Code: "tencent-nat-gateway", Object: "natgateway/" + r.GatewayID, Pos: r.Pos, Text: r.Label()}
		if n == nil {
			d.Message = fmt.Sprintf("route %s names %s, which %s does not list: packets to it are dropped", r.Label(), r.GatewayID, p.file(FileNATs))
		} else {
			d.Pos, d.Text = n.Pos, "State "+n.State
			d.Message = fmt.Sprintf("NAT gateway %s is %s, not AVAILABLE: packets routed to it are dropped", n.ID, n.State)
		}
		d.Fix = "create a NAT gateway in the VPC and point the route at it"
		return []cloud.Decision{d}, cloud.Landing{}
	}
	rules, ok := p.X.SNAT[n.ID]
	if !ok {
		return []cloud.Decision{p.gap(step, DirSNAT+"/"+n.ID+".json", "which sources NAT gateway "+n.ID+" translates")}, cloud.Landing{}
	}
	src := l.Packet.Src
	for _, s := range rules {
		if !s.Source.IsValid() || !s.Source.Contains(src) {
			continue
		}
		out := l.Packet
		if len(s.PublicIPs) > 0 {
			out.Src = s.PublicIPs[0]
		} else if len(n.PublicIPs) > 0 {
			out.Src = n.PublicIPs[0]
		}
		d := cloud.Decision{Step: step, Action: "snat", Object: fmt.Sprintf("natgateway/%s snat rule %s", n.ID, s.ID), Pos: s.Pos,
			Text: s.Label(), Note: fmt.Sprintf("%s translates %s to %s", n.ID, src, out.Src), Packet: out}
		return []cloud.Decision{d}, cloud.Landing{Beyond: "the internet through NAT gateway " + n.ID}
	}
	d := cloud.Decision{Verdict: cloud.Deny, Step: step, Action: "drop", Code: "tencent-nat-no-snat", Object: "natgateway/" + n.ID, Pos: n.Pos,
		Text: fmt.Sprintf("%d SNAT rules, none for %s", len(rules), src)}
	d.Message = fmt.Sprintf("NAT gateway %s has no SNAT rule covering the source %s of %s (rules: %s): it does not translate it, and the packet is dropped", n.ID, src, flowText(l.Packet), snatSummary(rules))
	if node, _ := p.podCIDROf(src); node != "" {
		d.Message += " (it is a pod address: the node did not masquerade it to its own)"
	}
	pub := "<EIP of the NAT gateway>"
	if len(n.PublicIPs) > 0 {
		pub = n.PublicIPs[0].String()
	}
	cidr := ""
	for _, s := range p.X.Subnets {
		if s.ID == nic.SubnetID {
			cidr = s.Cidr.String()
		}
	}
	d.Fix = fmt.Sprintf(`tccli vpc CreateNatGatewaySourceIpTranslationNatRule --NatGatewayId %s --SourceIpTranslationNatRules '[{"ResourceId":"%s","ResourceType":"SUBNET","PrivateIpAddress":"%s","PublicIpAddresses":["%s"]}]' (SNAT for the node's subnet)`, n.ID, nic.SubnetID, cidr, pub)
	if node, c := p.podCIDROf(src); node != "" {
		for _, pc := range p.PodCIDRs {
			if pc.Contains(src) {
				c = pc
			}
		}
		d.Fix = fmt.Sprintf(`masquerade pod traffic leaving the cluster to the node's address (ip-masq-agent), or add an SNAT rule for the pod range: tccli vpc CreateNatGatewaySourceIpTranslationNatRule --NatGatewayId %s --SourceIpTranslationNatRules '[{"ResourceType":"USERDEFINED","PrivateIpAddress":"%s","PublicIpAddresses":["%s"]}]'`, n.ID, c, pub)
	}
	return []cloud.Decision{d}, cloud.Landing{}
}

func snatSummary(rs []*SNATRule) string {
	if len(rs) == 0 {
		return "none"
	}
	var s string
	for i, r := range rs {
		if i > 0 {
			s += ", "
		}
		s += r.Label()
	}
	return s
}

// Label renders an SNAT rule: "SUBNET subnet-x 10.0.0.0/24 -> 203.0.113.1".
func (r *SNATRule) Label() string {
	var pubs []string
	for _, a := range r.PublicIPs {
		pubs = append(pubs, a.String())
	}
	s := r.ResourceType
	if r.ResourceID != "" {
		s += " " + r.ResourceID
	}
	return fmt.Sprintf("%s %s -> %s", s, r.Source, strings.Join(pubs, ", "))
}
