package aws

import (
	"fmt"
	"net/netip"

	"github.com/netsim/netsim/cloud"
	"github.com/netsim/netsim/rules/packet"
)

// viaNAT follows a packet into a NAT gateway: it must exist and be available; a public
// one translates the source to its address and hands the packet to its own subnet's
// route table, which must send it to an internet gateway; that table must also route the
// original source back, or the replies die at the NAT gateway. The NAT gateway's subnet
// ACLs judge the packet and its reply (stateless) on the way.
func (p *Provider) viaNAT(l cloud.Leg, nic *ENI, r *Route) ([]cloud.Decision, cloud.Landing) {
	step := "aws NAT gateway"
	if p.X.Has[FileNATs] == "" {
		return []cloud.Decision{p.gap(step, FileNATs, "whether "+r.Target+" is available")}, cloud.Landing{}
	}
	n := p.X.NATs[r.Target]
	if n == nil || n.State != "available" {
		d := cloud.Decision{Verdict: cloud.NoRoute, Step: step, Action: "no-route", Code: "aws-nat-gateway", Object: "natgateway/" + r.Target, Pos: r.Pos, Text: r.Label()}
		if n == nil {
			d.Message = fmt.Sprintf("route %s names %s, which %s does not list: packets to it are dropped", r.DstLabel(), r.Target, p.file(FileNATs))
		} else {
			d.Pos, d.Text = n.Pos, "State "+n.State
			d.Message = fmt.Sprintf("%s is %s, not available: packets routed to it are dropped", n.ID, n.State)
		}
		d.Fix = "create a NAT gateway in a public subnet and point the route at it"
		return []cloud.Decision{d}, cloud.Landing{}
	}
	orig := l.Packet
	var out []cloud.Decision
	if nic.SubnetID != n.SubnetID {
		out = append(out, p.aclCheck(n.SubnetID, n.VpcID, false, orig)...)
	}
	snat := orig
	if n.PrivateIP.IsValid() {
		snat.Src = n.PrivateIP
	}
	note := fmt.Sprintf("%s in %s translates %s to %s", n.ID, n.SubnetID, orig.Src, n.PrivateIP)
	if n.PublicIP.IsValid() {
		note += fmt.Sprintf(" (%s on the internet)", n.PublicIP)
	}
	out = append(out, cloud.Decision{Step: step, Action: "snat", Object: "natgateway/" + n.ID, Pos: n.Pos, Text: "State available, " + map[bool]string{true: "public", false: "private"}[n.Public], Note: note, Packet: snat})
	d, r2, ok := p.lookup(n.SubnetID, n.VpcID, orig.Dst, cloud.Leg{})
	d.Step = "aws route table (NAT gateway's subnet)"
	out = append(out, d)
	if !ok {
		if d.Verdict == cloud.NoRoute {
			out[len(out)-1].Message = fmt.Sprintf("the NAT gateway %s cannot send the packet on: %s", n.ID, d.Message)
			out[len(out)-1].Fix = fmt.Sprintf("add 0.0.0.0/0 -> an internet gateway to %s", objectID(d.Object))
		}
		return out, cloud.Landing{}
	}
	if n.Public && r2.Kind != TargetIGW {
		out = append(out, cloud.Decision{Verdict: cloud.NoRoute, Step: step, Action: "no-route", Code: "aws-nat-no-igw", Object: "routetable route " + r2.DstLabel(), Pos: r2.Pos, Text: r2.Label(),
			Message: fmt.Sprintf("the public NAT gateway %s is in %s, whose route for %s goes to %s, not to an internet gateway: it cannot reach the internet", n.ID, n.SubnetID, orig.Dst, r2.Target),
			Fix:     "put the NAT gateway in a public subnet (one whose route table sends 0.0.0.0/0 to the internet gateway)"})
		return out, cloud.Landing{}
	}
	out = append(out, p.aclCheck(n.SubnetID, n.VpcID, true, snat)...)
	// The replies come back to the NAT gateway and go on to the original source.
	back := packet.Packet{Src: orig.Dst, Dst: snat.Src, Proto: orig.Proto, SPort: orig.DPort, DPort: orig.SPort, Reply: true}
	out = append(out, p.aclCheck(n.SubnetID, n.VpcID, false, back)...)
	if d, rb, ok := p.lookup(n.SubnetID, n.VpcID, orig.Src, cloud.Leg{}); !ok || (rb.Kind == TargetLocal && p.X.ENIWith(orig.Src) == nil) || (rb.Kind != TargetLocal && rb.Kind != TargetENI && rb.Kind != TargetInstance) {
		d.Step, d.Action, d.Reply, d.Packet = "aws route table (reply)", "drop", true, withDst(back, orig.Src)
		if d.Verdict != cloud.Unknown {
			d.Verdict, d.Code = cloud.Deny, "aws-nat-return-route"
			d.Message = fmt.Sprintf("the replies are lost: %s translates them back to %s, and its subnet's table (%s) has no route to that address that reaches node %s", n.ID, orig.Src, objectID(d.Object), l.From)
			if e := p.nodeNIC[l.From]; e != nil {
				d.Fix = fmt.Sprintf("aws ec2 create-route --route-table-id %s --destination-cidr-block %s --network-interface-id %s", objectID(d.Object), p.rangeOf(orig.Src), e.ID)
			}
		}
		out = append(out, d)
	} else {
		d.Step, d.Reply, d.Packet = "aws route table (reply)", true, withDst(back, orig.Src)
		out = append(out, d)
	}
	backIn := back
	backIn.Dst = orig.Src
	out = append(out, p.aclCheck(n.SubnetID, n.VpcID, true, backIn)...)
	if nic.SubnetID != n.SubnetID {
		out = append(out, p.aclCheck(nic.SubnetID, nic.VpcID, false, backIn)...)
	}
	beyond := "the internet through " + n.ID + " and " + r2.Target
	if !n.Public {
		beyond = fmt.Sprintf("%s through the private NAT gateway %s", r2.Target, n.ID)
	}
	return out, cloud.Landing{Beyond: beyond}
}

// viaIGW follows a packet to an internet gateway: it translates only private addresses
// that have a public (or Elastic) IP, one to one; a source without one is dropped.
func (p *Provider) viaIGW(l cloud.Leg, nic *ENI, r *Route) ([]cloud.Decision, cloud.Landing) {
	src := l.Packet.Src
	step := "aws internet gateway"
	if src.Is6() && !src.Is4In6() {
		return nil, cloud.Landing{Beyond: "the internet through " + r.Target}
	}
	e := p.X.ENIWith(src)
	var pub netip.Addr
	if e != nil {
		pub = e.Public[src]
	}
	if !pub.IsValid() {
		d := cloud.Decision{Verdict: cloud.Deny, Step: step, Action: "drop", Code: "aws-no-public-ip", Object: "internetgateway/" + r.Target, Pos: r.Pos, Text: r.Label()}
		d.Message = fmt.Sprintf("the route sends %s to the internet gateway %s, which translates only private addresses that have a public IP: %s has none", flowText(l.Packet), r.Target, src)
		if node, _ := p.podCIDROf(src); node != "" {
			d.Message += " (it is a pod address: the node did not masquerade it)"
			d.Fix = "route the subnet's 0.0.0.0/0 through a NAT gateway, or masquerade pod traffic leaving the cluster on the nodes (ip-masq-agent, the CNI's masquerade option)"
		} else {
			d.Fix = fmt.Sprintf("associate a public or Elastic IP with %s, or route 0.0.0.0/0 through a NAT gateway", src)
		}
		return []cloud.Decision{d}, cloud.Landing{}
	}
	snat := l.Packet
	snat.Src = pub
	out := []cloud.Decision{{Step: step, Action: "snat", Object: "internetgateway/" + r.Target, Pos: e.Pos, Text: fmt.Sprintf("%s <-> %s (%s)", src, pub, e.ID), Note: "one-to-one translation to the public IP", Packet: snat}}
	back := packet.Packet{Src: l.Packet.Dst, Dst: src, Proto: l.Packet.Proto, SPort: l.Packet.DPort, DPort: l.Packet.SPort, Reply: true}
	out = append(out, p.aclCheck(nic.SubnetID, nic.VpcID, false, back)...)
	return out, cloud.Landing{Beyond: "the internet through " + r.Target}
}

// viaPeering follows a packet over a VPC peering: active, to an address inside the
// peer's ranges (peering is not transitive); an interface of the export holding the
// address is judged there, with the route back.
func (p *Provider) viaPeering(l cloud.Leg, nic *ENI, r *Route) ([]cloud.Decision, cloud.Landing) {
	step := "aws VPC peering"
	if p.X.Has[FilePeerings] == "" {
		return []cloud.Decision{p.gap(step, FilePeerings, "whether "+r.Target+" is active")}, cloud.Landing{}
	}
	pc := p.X.Peerings[r.Target]
	d := cloud.Decision{Step: step, Object: "vpcpeering/" + r.Target, Pos: r.Pos, Text: r.Label()}
	if pc == nil || pc.Status != "active" {
		d.Verdict, d.Action, d.Code = cloud.NoRoute, "no-route", "aws-peering"
		if pc == nil {
			d.Message = fmt.Sprintf("route %s names %s, which %s does not list", r.DstLabel(), r.Target, p.file(FilePeerings))
		} else {
			d.Pos, d.Text = pc.Pos, "Status "+pc.Status
			d.Message = fmt.Sprintf("VPC peering %s is %s, not active", pc.ID, pc.Status)
		}
		return []cloud.Decision{d}, cloud.Landing{}
	}
	peerVPC, cidrs := pc.Accepter, pc.AccCIDR
	if nic.VpcID == pc.Accepter {
		peerVPC, cidrs = pc.Requester, pc.RequesterCIDRs
	}
	in := false
	for _, c := range cidrs {
		in = in || c.Contains(l.Packet.Dst)
	}
	d.Pos, d.Text = pc.Pos, fmt.Sprintf("%s <-> %s active", pc.Requester, pc.Accepter)
	if !in {
		d.Verdict, d.Action, d.Code = cloud.NoRoute, "no-route", "aws-peering"
		d.Message = fmt.Sprintf("%s is outside %s's ranges %v: a VPC peering carries only traffic between the two VPCs' own ranges (it is not transitive)", l.Packet.Dst, peerVPC, cidrs)
		return []cloud.Decision{d}, cloud.Landing{}
	}
	d.Action, d.Note = "forward", "to "+peerVPC
	out := []cloud.Decision{d}
	if e := p.X.ENIWith(l.Packet.Dst); e != nil {
		out = append(out, p.remote(l, e, l.Packet, pc.ID)...)
		return out, cloud.Landing{Beyond: p.nicLabel(e) + " in " + peerVPC + " through " + pc.ID}
	}
	return out, cloud.Landing{Beyond: peerVPC + " through " + pc.ID}
}

// viaTGW follows a packet into a transit gateway: its (default association) route
// table picks a route by longest prefix; blackhole routes and no route drop it.
func (p *Provider) viaTGW(l cloud.Leg, r *Route) ([]cloud.Decision, cloud.Landing) {
	step := "aws transit gateway"
	tables := p.X.TGWTables[r.Target]
	if p.X.Has[DirTGWRoutes] == "" || len(tables) == 0 {
		return []cloud.Decision{p.gap(step, DirTGWRoutes+"/<route table>.json", "which way transit gateway "+r.Target+" sends "+l.Packet.Dst.String())}, cloud.Landing{}
	}
	var best *TGWRoute
	for _, t := range tables {
		rs := p.X.TGWRoutes[t]
		for i := range rs {
			if rs[i].Dst.Contains(l.Packet.Dst) && (best == nil || rs[i].Dst.Bits() > best.Dst.Bits()) {
				best = &rs[i]
			}
		}
	}
	if best == nil {
		return []cloud.Decision{{Verdict: cloud.NoRoute, Step: step, Action: "no-route", Code: "aws-tgw-no-route", Object: "transitgateway/" + r.Target, Pos: r.Pos, Text: r.Label(),
			Message: fmt.Sprintf("transit gateway %s's route tables %v have no route for %s", r.Target, tables, l.Packet.Dst),
			Fix:     "add a route (or a propagation from the attachment that holds the range) to the transit gateway's route table"}}, cloud.Landing{}
	}
	d := cloud.Decision{Step: step, Action: "route", Object: "transitgatewayroutetable/" + best.Table + " route " + best.Dst.String(), Pos: best.Pos,
		Text: fmt.Sprintf("%s -> %s (%s %s)", best.Dst, best.Attachment, best.Type, best.Resource)}
	if best.Blackhole {
		d.Verdict, d.Action, d.Code, d.Text = cloud.NoRoute, "blackhole", "aws-blackhole-route", best.Dst.String()+" blackhole"
		d.Message = fmt.Sprintf("transit gateway route %s in %s is a blackhole: %s is dropped", best.Dst, best.Table, l.Packet.Dst)
		return []cloud.Decision{d}, cloud.Landing{}
	}
	return []cloud.Decision{d}, cloud.Landing{Beyond: fmt.Sprintf("%s %s through %s", best.Type, best.Resource, r.Target)}
}

// withDst is the packet sent on to another address (a NAT gateway's translation undone).
func withDst(p packet.Packet, a netip.Addr) packet.Packet {
	p.Dst = a
	return p
}
