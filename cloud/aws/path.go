package aws

import (
	"fmt"
	"net/netip"

	"github.com/netsim/netsim/cloud"
	"github.com/netsim/netsim/rules/packet"
)

// Route implements cloud.Provider: the sending subnet's route table (explicitly
// associated, else the VPC's main table) picks a route by longest prefix, and its target
// decides: local (the interface holding the address), an interface or instance, a NAT
// gateway, an internet gateway, a peering, a transit gateway, a virtual private gateway,
// or a blackhole.
func (p *Provider) Route(l cloud.Leg) ([]cloud.Decision, cloud.Landing) {
	nic, gap := p.nicOf(l.From, l.Packet.Src)
	if nic == nil {
		return []cloud.Decision{*gap}, cloud.Landing{}
	}
	rd, r, ok := p.lookup(nic.SubnetID, nic.VpcID, l.Packet.Dst, l)
	if !ok {
		return []cloud.Decision{rd}, cloud.Landing{}
	}
	out := []cloud.Decision{rd}
	if (r.Kind == TargetNAT || r.Kind == TargetIGW) && l.To == "" && l.Packet.Dst.IsPrivate() {
		// A private destination that only a default route to the internet covers.
		d := rd
		d.Verdict, d.Action, d.Code = cloud.NoRoute, "no-route", "aws-no-route"
		d.Message = fmt.Sprintf("routetable/%s has no route for the private address %s: only %s covers it, towards the internet, which does not route private addresses", objectID(rd.Object), l.Packet.Dst, r.Label())
		d.Fix = fmt.Sprintf("add a route for the range holding %s (an on-premises network, a peer VPC) to %s, through the virtual private gateway, transit gateway or peering that reaches it", l.Packet.Dst, objectID(rd.Object))
		return []cloud.Decision{d}, cloud.Landing{}
	}
	var more []cloud.Decision
	var land cloud.Landing
	switch r.Kind {
	case TargetLocal:
		more, land = p.viaLocal(l, r)
	case TargetENI, TargetInstance:
		more, land = p.viaENI(l, r)
	case TargetNAT:
		more, land = p.viaNAT(l, nic, r)
	case TargetIGW:
		more, land = p.viaIGW(l, nic, r)
	case TargetPeering:
		more, land = p.viaPeering(l, nic, r)
	case TargetTGW:
		more, land = p.viaTGW(l, r)
	default:
		land = cloud.Landing{Beyond: fmt.Sprintf("%s through %s (%s)", beyondOf(r.Kind), r.Target, r.Kind)}
	}
	if l.To != "" && land.Node != l.To && !blocked(more) {
		more = append(more, p.misroute(l, r, land))
		land = cloud.Landing{}
	}
	return append(out, more...), land
}

func beyondOf(k TargetKind) string {
	switch k {
	case TargetVGW:
		return "the on-premises network (VPN or Direct Connect)"
	case TargetEgressIG:
		return "the IPv6 internet"
	case TargetEndpoint:
		return "an AWS service"
	}
	return "a network beyond the VPC"
}

func blocked(ds []cloud.Decision) bool {
	for _, d := range ds {
		if d.Verdict == cloud.NoRoute || d.Verdict == cloud.Misroute {
			return true
		}
	}
	return false
}

// lookup consults a subnet's route table for an address; ok is false when the decision
// ends the path (no table, no route, a blackhole).
func (p *Provider) lookup(subnet, vpc string, dst netip.Addr, l cloud.Leg) (cloud.Decision, *Route, bool) {
	step := "aws route table"
	if p.X.Has[FileRouteTables] == "" {
		return p.gap(step, FileRouteTables, "the route table of "+subnet), nil, false
	}
	rt, explicit := p.X.RouteTableFor(subnet, vpc)
	if rt == nil {
		return cloud.Decision{Verdict: cloud.Unknown, Step: step, Action: "unknown", Code: "cloud-missing-data",
			Message: fmt.Sprintf("%s has no route table for %s (none associated, and no main table of %s)", p.file(FileRouteTables), subnet, vpc)}, nil, false
	}
	which := fmt.Sprintf("%s's table", subnet)
	if !explicit {
		which = fmt.Sprintf("the main table of %s: %s has no table of its own", rt.VpcID, subnet)
	}
	r, unk := p.X.Lookup(rt, dst)
	if r == nil {
		d := cloud.Decision{Step: step, Action: "no-route", Object: "routetable/" + rt.ID, Pos: rt.Pos, Text: "no route for " + dst.String(), Note: which}
		if unk != "" {
			d.Verdict, d.Action, d.Code = cloud.Unknown, "unknown", "cloud-missing-data"
			d.Message = fmt.Sprintf("routetable/%s (%s) has no route for %s but a %s", rt.ID, which, dst, unk)
			return d, nil, false
		}
		d.Verdict, d.Code = cloud.NoRoute, "aws-no-route"
		d.Message = fmt.Sprintf("routetable/%s (%s) has no route for %s", rt.ID, which, dst)
		d.Fix = p.routeFix(rt, dst, l)
		return d, nil, false
	}
	d := cloud.Decision{Step: step, Action: "route", Object: "routetable/" + rt.ID + " route " + r.DstLabel(), Pos: r.Pos, Text: r.Label(), Note: which}
	if r.Blackhole {
		d.Verdict, d.Action, d.Code = cloud.NoRoute, "blackhole", "aws-blackhole-route"
		d.Message = fmt.Sprintf("routetable/%s route %s -> %s is a blackhole (its target no longer exists): AWS drops %s", rt.ID, r.DstLabel(), r.Target, flowText(l.Packet))
		d.Fix = fmt.Sprintf("aws ec2 replace-route --route-table-id %s --destination-cidr-block %s with a live target, or delete the route", rt.ID, r.DstLabel())
		return d, r, false
	}
	return d, r, true
}

// routeFix proposes the route a missing one should be.
func (p *Provider) routeFix(rt *RouteTable, dst netip.Addr, l cloud.Leg) string {
	if node, c := p.podCIDROf(dst); node != "" {
		if e := p.nodeNIC[node]; e != nil {
			return fmt.Sprintf("aws ec2 create-route --route-table-id %s --destination-cidr-block %s --network-interface-id %s (node %s's pod CIDR via its interface)", rt.ID, c, e.ID, node)
		}
	}
	if dst.IsPrivate() {
		return fmt.Sprintf("add a route for the range holding %s to %s: through the peering, transit gateway or virtual private gateway that reaches it", dst, rt.ID)
	}
	for _, n := range p.X.NATs {
		if n.VpcID == rt.VpcID && n.State == "available" {
			return fmt.Sprintf("aws ec2 create-route --route-table-id %s --destination-cidr-block 0.0.0.0/0 --nat-gateway-id %s", rt.ID, n.ID)
		}
	}
	return fmt.Sprintf("add a default route (0.0.0.0/0) to %s through a NAT gateway (private subnets) or an internet gateway", rt.ID)
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

// misroute explains a packet meant for a node that the route table sends elsewhere.
func (p *Provider) misroute(l cloud.Leg, r *Route, land cloud.Landing) cloud.Decision {
	d := cloud.Decision{Verdict: cloud.Misroute, Step: "aws route table", Action: "misroute", Code: "aws-route-misdirected", Object: "route " + r.DstLabel(), Pos: r.Pos, Text: r.Label()}
	to := land.Beyond
	if land.Node != "" {
		to = "node " + land.Node
	}
	d.Message = fmt.Sprintf("node %s sends %s to node %s, but the VPC routes by destination address, not by the next hop's MAC: route %s sends it to %s", l.From, flowText(l.Packet), l.To, r.Label(), to)
	if node, c := p.podCIDROf(l.Packet.Dst); node != "" && r.Dst.IsValid() && r.Dst.Bits() > 0 && r.Kind != TargetENI && r.Kind != TargetInstance {
		d.Code = "aws-cidr-overlap"
		d.Message += fmt.Sprintf("; node %s's pod CIDR %s overlaps %s, a range the VPC reaches through %s (%s)", node, c, r.Dst, r.Target, r.Kind)
		d.Fix = "give the cluster a pod CIDR that overlaps no range the VPC routes (its own, peered VPCs', on-premises ones); meanwhile a more specific route per node's pod CIDR to its interface wins"
	} else if node != "" {
		d.Message += fmt.Sprintf("; %s is in node %s's pod CIDR %s, which has no route of its own", l.Packet.Dst, node, c)
		if e := p.nodeNIC[node]; e != nil {
			d.Fix = fmt.Sprintf("add route %s -> %s (node %s's interface) to the route table, and turn off its source/destination check (host-gw and kubenet on AWS need both)", c, e.ID, node)
		}
	}
	return d
}

// viaLocal delivers inside the VPC to the interface holding the address.
func (p *Provider) viaLocal(l cloud.Leg, r *Route) ([]cloud.Decision, cloud.Landing) {
	dst := l.Packet.Dst
	e := p.X.ENIWith(dst)
	if e == nil {
		d := cloud.Decision{Step: "aws VPC", Action: "no-route", Object: "route " + r.DstLabel(), Pos: r.Pos, Text: r.Label()}
		if node, c := p.podCIDROf(dst); node != "" {
			d.Verdict, d.Code = cloud.NoRoute, "aws-cidr-overlap"
			d.Message = fmt.Sprintf("%s is in node %s's pod CIDR %s, which overlaps the VPC's own range %s (the local route): the VPC delivers it to the interface holding it, and none does", dst, node, c, r.DstLabel())
			d.Fix = "give the cluster a pod CIDR outside the VPC's ranges (and outside peered VPCs' and on-premises ranges), or use the VPC CNI, whose pod addresses are the interfaces' own"
			return []cloud.Decision{d}, cloud.Landing{}
		}
		if p.X.Has[FileENIs] == "" {
			return []cloud.Decision{p.gap("aws VPC", FileENIs, "which interface holds "+dst.String())}, cloud.Landing{}
		}
		d.Verdict, d.Code = cloud.NoRoute, "aws-no-interface"
		d.Message = fmt.Sprintf("no interface in the VPC holds %s (the local route %s delivers only to interfaces' own addresses)", dst, r.DstLabel())
		return []cloud.Decision{d}, cloud.Landing{}
	}
	if node := p.nodeOf(e); node != "" {
		return nil, cloud.Landing{Node: node}
	}
	more := p.remote(l, e, l.Packet, "")
	return more, cloud.Landing{Beyond: p.nicLabel(e) + " in " + e.VpcID}
}

// viaENI hands the packet to the interface (or instance) a route names.
func (p *Provider) viaENI(l cloud.Leg, r *Route) ([]cloud.Decision, cloud.Landing) {
	e := p.X.ENI(r.Target)
	if in := p.X.Instances[r.Target]; e == nil && in != nil {
		e = p.X.PrimaryENI(in)
	}
	if e == nil {
		return []cloud.Decision{{Verdict: cloud.NoRoute, Step: "aws route table", Action: "no-route", Code: "aws-blackhole-route", Object: "route " + r.DstLabel(), Pos: r.Pos, Text: r.Label(),
			Message: fmt.Sprintf("route %s names %s, which is in no export (deleted? AWS then shows the route as a blackhole)", r.DstLabel(), r.Target)}}, cloud.Landing{}
	}
	if node := p.nodeOf(e); node != "" {
		return nil, cloud.Landing{Node: node}
	}
	return nil, cloud.Landing{Beyond: p.nicLabel(e) + " (an appliance the route names)"}
}

// remote judges a packet that lands on an interface outside the cluster (an instance in
// this VPC or a peered one): its subnet's inbound ACL, its security groups, the route
// back from its subnet, and the reply's ACLs. via is the peering the reply must take
// ("" inside one VPC).
func (p *Provider) remote(l cloud.Leg, e *ENI, pk packet.Packet, via string) []cloud.Decision {
	from := p.senderSubnet(l)
	var out []cloud.Decision
	if from != e.SubnetID {
		out = append(out, p.aclCheck(e.SubnetID, e.VpcID, false, pk)...)
	}
	out = append(out, p.sgCheck(e, true, pk, Peer{Addr: pk.Src}, cloud.Leg{From: l.From, Packet: pk}))
	back := packet.Packet{Src: pk.Dst, Dst: pk.Src, Proto: pk.Proto, SPort: pk.DPort, DPort: pk.SPort, Reply: true}
	d, r, ok := p.lookup(e.SubnetID, e.VpcID, pk.Src, cloud.Leg{})
	d.Reply, d.Packet = true, back
	if !ok {
		d.Step = "aws route table (reply)"
		if d.Verdict == cloud.NoRoute {
			d.Verdict, d.Action, d.Code = cloud.Deny, "drop", "aws-return-route"
			d.Message = fmt.Sprintf("the reply is lost: %s", d.Message)
			if via != "" {
				d.Fix = fmt.Sprintf("aws ec2 create-route --route-table-id %s --destination-cidr-block %s --vpc-peering-connection-id %s", objectID(d.Object), p.rangeOf(pk.Src), via)
			}
		}
		out = append(out, d)
	} else if via != "" && r.Target != via {
		d.Verdict, d.Action, d.Code, d.Step = cloud.Deny, "drop", "aws-return-route", "aws route table (reply)"
		d.Message = fmt.Sprintf("the reply to %s leaves %s by route %s, not by %s the request came through: it is lost", pk.Src, e.VpcID, r.Label(), via)
		d.Fix = fmt.Sprintf("add a route for %s through %s to %s", p.rangeOf(pk.Src), via, objectID(d.Object))
		out = append(out, d)
	} else {
		d.Step = "aws route table (reply)"
		out = append(out, d)
	}
	if from != e.SubnetID {
		out = append(out, p.aclCheck(e.SubnetID, e.VpcID, true, back)...)
		if s := p.senderSubnet(l); s != "" {
			if n, _ := p.nicOf(l.From, l.Packet.Src); n != nil {
				out = append(out, p.aclCheck(n.SubnetID, n.VpcID, false, back)...)
			}
		}
	}
	return out
}

func objectID(obj string) string {
	for i := 0; i < len(obj); i++ {
		if obj[i] == '/' {
			rest := obj[i+1:]
			for j := 0; j < len(rest); j++ {
				if rest[j] == ' ' {
					return rest[:j]
				}
			}
			return rest
		}
	}
	return obj
}

// rangeOf proposes the range a route or rule for an address should cover: the pod CIDR
// or the VPC range holding it, else the address alone.
func (p *Provider) rangeOf(a netip.Addr) netip.Prefix {
	if _, c := p.podCIDROf(a); c.IsValid() {
		for _, pc := range p.PodCIDRs {
			if pc.Contains(a) {
				return pc
			}
		}
		return c
	}
	if e := p.X.ENIWith(a); e != nil {
		if rt, _ := p.X.RouteTableFor(e.SubnetID, e.VpcID); rt != nil {
			for _, r := range rt.Routes {
				if r.Kind == TargetLocal && r.Dst.Contains(a) {
					return r.Dst
				}
			}
		}
	}
	return netip.PrefixFrom(a, a.BitLen())
}
