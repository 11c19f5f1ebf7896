package aws

import (
	"fmt"
	"net/netip"
	"path"
	"strings"

	"github.com/netsim/netsim/cloud"
	"github.com/netsim/netsim/model/source"
	"github.com/netsim/netsim/rules/packet"
)

// Provider is the AWS network for the walk: it maps the cluster's nodes to instances and
// interfaces and judges packets with the exports' security groups, network ACLs, route
// tables, gateways and load balancers.
type Provider struct {
	X *Export
	// PodCIDRs are the cluster's pod ranges (the manifest's), for the rules a fix proposes.
	PodCIDRs []netip.Prefix

	nodes      []cloud.Node
	byInstance map[string]string // instance ID -> node
	nodeNIC    map[string]*ENI   // node -> the interface holding its address
}

var _ cloud.Provider = (*Provider)(nil)

// New maps the nodes to the exports' instances: by spec.providerID
// (aws:///ZONE/INSTANCE-ID), else by a node address held by an interface.
func New(x *Export, nodes []cloud.Node, podCIDRs []netip.Prefix) *Provider {
	p := &Provider{X: x, PodCIDRs: podCIDRs, nodes: nodes, byInstance: map[string]string{}, nodeNIC: map[string]*ENI{}}
	for _, n := range nodes {
		if id := instanceID(n.ProviderID); id != "" {
			if in := x.Instances[id]; in != nil {
				p.byInstance[id] = n.Name
				for _, a := range n.Addrs {
					if e := x.ENIWith(a); e != nil && e.InstanceID == id {
						p.nodeNIC[n.Name] = e
						break
					}
				}
				if p.nodeNIC[n.Name] == nil {
					p.nodeNIC[n.Name] = x.PrimaryENI(in)
				}
				continue
			}
		}
		for _, a := range n.Addrs {
			if e := x.ENIWith(a); e != nil {
				p.nodeNIC[n.Name] = e
				if e.InstanceID != "" {
					p.byInstance[e.InstanceID] = n.Name
				}
				break
			}
		}
	}
	return p
}

// instanceID takes the instance ID out of a providerID: aws:///us-east-1a/i-0abc.
func instanceID(providerID string) string {
	if !strings.HasPrefix(providerID, "aws://") {
		return ""
	}
	id := path.Base(providerID)
	if !strings.HasPrefix(id, "i-") {
		return ""
	}
	return id
}

// Name implements cloud.Provider.
func (p *Provider) Name() string { return "aws" }

// file is the bundle path of an export, for gaps.
func (p *Provider) file(name string) string { return path.Join(p.X.Dir, name) }

func (p *Provider) gap(step, name, what string) cloud.Decision {
	return cloud.Decision{Verdict: cloud.Unknown, Step: step, Action: "unknown", Code: "cloud-missing-data",
		Message: fmt.Sprintf("%s: the bundle has no %s, so this is not known (netsim never assumes a cloud check allows)", what, p.file(name)),
		Fix:     fmt.Sprintf("add the output of `aws %s` to the bundle as %s", command(name), p.file(name))}
}

func command(name string) string {
	c := strings.TrimSuffix(name, ".json")
	switch c {
	case "describe-load-balancers", "describe-listeners", "describe-target-groups", "describe-target-health", "describe-rules":
		return "elbv2 " + c
	}
	return "ec2 " + c
}

// nodeOf names the cluster node an interface belongs to ("" for none).
func (p *Provider) nodeOf(e *ENI) string {
	if e == nil {
		return ""
	}
	if n := p.byInstance[e.InstanceID]; n != "" && e.InstanceID != "" {
		return n
	}
	for n, nic := range p.nodeNIC {
		if nic == e {
			return n
		}
	}
	return ""
}

func (p *Provider) nicLabel(e *ENI) string {
	if n := p.nodeOf(e); n != "" {
		return fmt.Sprintf("%s's %s", n, e.ID)
	}
	if e.InstanceID != "" {
		return fmt.Sprintf("%s (instance %s)", e.ID, e.InstanceID)
	}
	return e.ID
}

// nicOf finds the interface a node sends or receives an address with: the interface
// holding the address itself (a pod's secondary IP with the VPC CNI), else the node's.
func (p *Provider) nicOf(node string, a netip.Addr) (*ENI, *cloud.Decision) {
	if p.X.Has[FileInstances] == "" && p.X.Has[FileENIs] == "" {
		d := p.gap("aws network interface", FileENIs, "which instance and interface node "+node+" is")
		return nil, &d
	}
	if e := p.X.ENIWith(a); e != nil && (node == "" || p.nodeOf(e) == node) {
		return e, nil
	}
	if e := p.nodeNIC[node]; e != nil {
		return e, nil
	}
	pid := cloud.ProviderIDNote(p.nodes, node)
	return nil, &cloud.Decision{Verdict: cloud.Unknown, Step: "aws network interface", Action: "unknown", Code: "cloud-node-unmapped",
		Message: fmt.Sprintf("node %s%s is no instance or interface of the AWS exports (by providerID or private IP): its security groups and subnet are not known", node, pid),
		Fix:     "export describe-instances and describe-network-interfaces from the account and region the node runs in"}
}

// Egress implements cloud.Provider: the sending interface's source/destination check,
// its security groups (not for a reply: they are stateful) and its subnet's outbound
// ACL (when the packet leaves the subnet).
func (p *Provider) Egress(l cloud.Leg) []cloud.Decision {
	nic, gap := p.nicOf(l.From, l.Packet.Src)
	if nic == nil {
		return []cloud.Decision{*gap}
	}
	var out []cloud.Decision
	if d, ok := p.srcDstCheck(nic, l.Packet, true); ok {
		out = append(out, d)
	}
	if l.Reply {
		out = append(out, p.stateful(nic, false, l.Packet))
	} else {
		out = append(out, p.sgCheck(nic, false, l.Packet, Peer{Addr: l.Packet.Dst}, l))
	}
	if to := p.peerSubnet(l); to != nic.SubnetID {
		out = append(out, p.aclCheck(nic.SubnetID, nic.VpcID, true, l.Packet)...)
	}
	return out
}

// Ingress implements cloud.Provider for a packet landing on a node: its subnet's inbound
// ACL (when it comes from another subnet), the source/destination check, and its
// security groups (not for a reply).
func (p *Provider) Ingress(l cloud.Leg) []cloud.Decision {
	return p.ingress(l, Peer{Addr: l.Packet.Src})
}

// ingress is Ingress with the peer's groups known (a load balancer's).
func (p *Provider) ingress(l cloud.Leg, peer Peer) []cloud.Decision {
	nic, gap := p.nicOf(l.To, l.Packet.Dst)
	if nic == nil {
		return []cloud.Decision{*gap}
	}
	var out []cloud.Decision
	if from := p.senderSubnet(l); from != nic.SubnetID {
		out = append(out, p.aclCheck(nic.SubnetID, nic.VpcID, false, l.Packet)...)
	}
	if d, ok := p.srcDstCheck(nic, l.Packet, false); ok {
		out = append(out, d)
	}
	if l.Reply {
		out = append(out, p.stateful(nic, true, l.Packet))
	} else {
		out = append(out, p.sgCheck(nic, true, l.Packet, peer, l))
	}
	return out
}

// peerSubnet is the subnet the packet is going to ("" outside the VPC's interfaces).
func (p *Provider) peerSubnet(l cloud.Leg) string {
	if l.To != "" {
		if e, _ := p.nicOf(l.To, l.Packet.Dst); e != nil {
			return e.SubnetID
		}
	}
	if e := p.X.ENIWith(l.Packet.Dst); e != nil {
		return e.SubnetID
	}
	return ""
}

// senderSubnet is the subnet the packet comes from ("" from outside).
func (p *Provider) senderSubnet(l cloud.Leg) string {
	if l.From != "" {
		if e, _ := p.nicOf(l.From, l.Packet.Src); e != nil {
			return e.SubnetID
		}
	}
	if e := p.X.ENIWith(l.Packet.Src); e != nil {
		return e.SubnetID
	}
	return ""
}

// srcDstCheck judges an address that is not the interface's own: the sender's source
// or the receiver's destination. ok is false when the address is its own (nothing to say).
func (p *Provider) srcDstCheck(nic *ENI, pk packet.Packet, sending bool) (cloud.Decision, bool) {
	a, what := pk.Dst, "destination"
	if sending {
		a, what = pk.Src, "source"
	}
	if nic.Holds(a) {
		return cloud.Decision{}, false
	}
	d := cloud.Decision{Step: "aws source/dest check", Object: "networkinterface/" + nic.ID, Pos: nic.Pos, Text: fmt.Sprintf("SourceDestCheck %v", nic.SourceDestCheck)}
	if !nic.SourceDestCheck {
		d.Action, d.Note = "allow", fmt.Sprintf("%s forwards: the %s %s is not its own, and its source/destination check is off", p.nicLabel(nic), what, a)
		return d, true
	}
	d.Verdict, d.Action, d.Code = cloud.Deny, "drop", "aws-source-dest-check"
	d.Message = fmt.Sprintf("%s has its source/destination check on, and the %s %s of %s is not one of its addresses: AWS drops the packet (a node forwarding pod traffic with the pods' own addresses, as host-gw and kubenet do, needs the check off)",
		p.nicLabel(nic), what, a, flowText(pk))
	d.Fix = fmt.Sprintf("aws ec2 modify-network-interface-attribute --network-interface-id %s --no-source-dest-check", nic.ID)
	return d, true
}

// stateful is the hop of a reply at a security group: allowed as part of the connection.
func (p *Provider) stateful(nic *ENI, ingress bool, pk packet.Packet) cloud.Decision {
	dir := "egress"
	if ingress {
		dir = "ingress"
	}
	return cloud.Decision{Step: "aws security group " + dir, Action: "allow", Object: "networkinterface/" + nic.ID, Pos: nic.Pos,
		Text: p.X.groupNames(nic.Groups), Note: "the reply of an allowed connection: security groups are stateful"}
}

// sgCheck judges the union of an interface's security groups.
func (p *Provider) sgCheck(nic *ENI, ingress bool, pk packet.Packet, peer Peer, l cloud.Leg) cloud.Decision {
	dir, word := "egress", "to"
	if ingress {
		dir, word = "ingress", "from"
	}
	step := "aws security group " + dir
	if p.X.Has[FileGroups] == "" {
		return p.gap(step, FileGroups, "the security groups of "+p.nicLabel(nic))
	}
	r := p.X.EvalGroups(nic.Groups, ingress, pk, peer)
	if r.Allowed {
		return cloud.Decision{Step: step, Action: "allow", Object: "securitygroup/" + r.Group.ID + " " + dir + fmt.Sprintf(" rule %d", r.Rule.Index),
			Pos: r.Rule.Pos, Text: r.Rule.Label(ingress), Note: p.nicLabel(nic)}
	}
	d := cloud.Decision{Step: step, Action: "drop", Object: "networkinterface/" + nic.ID, Pos: nic.Pos, Text: p.X.groupNames(nic.Groups)}
	if len(nic.Groups) > 0 {
		if g := p.X.Groups[nic.Groups[0].ID]; g != nil {
			d.Object, d.Pos = "securitygroup/"+g.ID, g.Pos
		}
	}
	if r.Unknown != "" {
		d.Verdict, d.Action, d.Code = cloud.Unknown, "unknown", "cloud-missing-data"
		d.Message = fmt.Sprintf("%s on %s: no rule admits %s %s %s, and %s", p.X.groupNames(nic.Groups), p.nicLabel(nic), flowLabel(pk), word, peer.Addr, r.Unknown)
		return d
	}
	d.Verdict, d.Code = cloud.Deny, "aws-security-group"
	rule, peerDesc := p.proposal(nic, ingress, pk, peer, l)
	d.Message = fmt.Sprintf("%s on %s admits nothing on %s %s %s%s", p.X.groupNames(nic.Groups), p.nicLabel(nic), flowLabel(pk), word, peer.Addr, peerDesc)
	if len(nic.Groups) > 0 {
		d.Fix = fmt.Sprintf("add %s %s on %s", dir, rule, nic.Groups[0].ID)
	}
	return d
}

// proposal is the rule a fix proposes, and what the peer is, for the message.
func (p *Provider) proposal(nic *ENI, ingress bool, pk packet.Packet, peer Peer, l cloud.Leg) (rule, desc string) {
	ports := flowLabel(pk)
	if ingress && pk.HasPorts() && pk.DPort >= 30000 && pk.DPort <= 32767 && p.nodeOf(nic) != "" {
		ports = strings.ToUpper(packet.ProtoName(pk.Proto)) + " 30000-32767"
		desc = " (a node port)"
	}
	if !pk.HasPorts() && pk.Proto != packet.ICMP {
		ports = fmt.Sprintf("protocol %d", pk.Proto)
	}
	from := "from"
	if !ingress {
		from = "to"
	}
	other := l.From
	if !ingress {
		other = l.To
	}
	if e := p.X.ENIWith(peer.Addr); e != nil && len(e.Groups) > 0 {
		shared := false
		for _, g := range e.Groups {
			for _, h := range nic.Groups {
				shared = shared || g.ID == h.ID
			}
		}
		who := p.nicLabel(e)
		if other != "" {
			who = "node " + other + " (" + e.ID + ")"
		}
		desc += fmt.Sprintf(", which is %s in %s", who, p.X.groupNames(e.Groups))
		if !shared {
			desc += "; the two interfaces share no security group"
		}
		return fmt.Sprintf("%s %s %s", ports, from, e.Groups[0].ID), desc
	}
	for _, c := range p.PodCIDRs {
		if c.Contains(peer.Addr) {
			return fmt.Sprintf("%s %s %s", ports, from, c), desc + fmt.Sprintf(" (a pod address, in the cluster's pod CIDR %s)", c)
		}
	}
	for _, n := range p.nodes {
		for _, c := range n.PodCIDRs {
			if c.Contains(peer.Addr) {
				return fmt.Sprintf("%s %s %s", ports, from, c), desc + fmt.Sprintf(" (a pod address, in node %s's pod CIDR %s)", n.Name, c)
			}
		}
	}
	if !peer.Addr.IsPrivate() && !peer.Addr.IsLoopback() {
		return fmt.Sprintf("%s %s 0.0.0.0/0 (or the clients' range)", ports, from), desc
	}
	return fmt.Sprintf("%s %s %s", ports, from, netip.PrefixFrom(peer.Addr, peer.Addr.BitLen())), desc
}

// aclCheck judges a packet at a subnet's ACL, in one direction.
func (p *Provider) aclCheck(subnet, vpc string, egress bool, pk packet.Packet) []cloud.Decision {
	dir, word := "inbound", "from"
	if egress {
		dir, word = "outbound", "to"
	}
	step := "aws network ACL " + dir
	if subnet == "" {
		return nil
	}
	if p.X.Has[FileACLs] == "" {
		return []cloud.Decision{p.gap(step, FileACLs, "the network ACL of "+subnet)}
	}
	acl := p.X.ACLFor(subnet, vpc)
	if acl == nil {
		return []cloud.Decision{{Verdict: cloud.Unknown, Step: step, Action: "unknown", Code: "cloud-missing-data",
			Message: fmt.Sprintf("no network ACL in %s is associated with %s, and the VPC has no default ACL there", p.file(FileACLs), subnet)}}
	}
	r := acl.Eval(egress, pk)
	peer := pk.Src
	if egress {
		peer = pk.Dst
	}
	d := cloud.Decision{Step: step, Object: "networkacl/" + acl.ID + " " + r.Entry.RuleName(), Pos: acl.Pos, Text: "deny all traffic (no rule matched)", Note: subnet, Packet: pk, Reply: pk.Reply}
	if r.Entry != nil {
		d.Pos, d.Text = r.Entry.Pos, r.Entry.Label()
	}
	if r.Allowed {
		d.Action = "allow"
		return []cloud.Decision{d}
	}
	d.Verdict, d.Action, d.Code = cloud.Deny, "drop", "aws-network-acl"
	what := "the packet"
	if pk.Reply {
		what = "the reply (ACLs are stateless: replies need their own rule, on the ephemeral ports)"
	}
	d.Message = fmt.Sprintf("networkacl/%s (of %s) %s: %s denies %s: %s %s %s", acl.ID, subnet, r.Entry.RuleName(), dir, what, flowLabel(pk), word, peer)
	n := nextFreeRule(acl, egress, r.Entry)
	d.Fix = fmt.Sprintf("add %s rule %d to %s: allow %s %s %s", dir, n, acl.ID, flowLabel(pk), word, netip.PrefixFrom(peer, peer.BitLen()))
	if pk.Reply && pk.HasPorts() {
		d.Fix = fmt.Sprintf("add %s rule %d to %s: allow %s 1024-65535 %s %s (the ephemeral ports replies go to)", dir, n, acl.ID, strings.ToUpper(packet.ProtoName(pk.Proto)), word, netip.PrefixFrom(peer, peer.BitLen()))
	}
	return []cloud.Decision{d}
}

// nextFreeRule proposes a rule number before the one that denied.
func nextFreeRule(acl *NetworkACL, egress bool, denied *ACLEntry) int {
	limit := 32767
	if denied != nil {
		limit = denied.Number
	}
	used := map[int]bool{}
	for _, e := range acl.Entries {
		if e.Egress == egress {
			used[e.Number] = true
		}
	}
	for n := (limit - 1) / 10 * 10; n > 0; n -= 10 {
		if !used[n] && n < limit {
			return n
		}
	}
	return 1
}

func flowText(p packet.Packet) string {
	if p.HasPorts() {
		return fmt.Sprintf("%s %s -> %s", packet.ProtoName(p.Proto), p.SrcAP(), p.DstAP())
	}
	return fmt.Sprintf("%s %s -> %s", packet.ProtoName(p.Proto), p.Src, p.Dst)
}

func at(pos source.Pos) string {
	if pos.IsZero() {
		return ""
	}
	return " (" + pos.String() + ")"
}
