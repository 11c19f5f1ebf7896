package alibaba

import (
	"fmt"
	"net/netip"
	"path"
	"strings"

	"github.com/netsim/netsim/cloud"
	"github.com/netsim/netsim/rules/packet"
)

// Provider is the Alibaba Cloud network for the walk: it maps the cluster's nodes to
// ECS instances and judges packets with the exports' security groups, route tables,
// NAT gateways and load balancers.
type Provider struct {
	X *Export
	// PodCIDRs are the cluster's pod ranges, for the rules a fix proposes.
	PodCIDRs []netip.Prefix

	nodes   []cloud.Node
	byInst  map[string]string // instance ID -> node
	nodeNIC map[string]*NIC   // node -> its primary interface
}

var _ cloud.Provider = (*Provider)(nil)

// New maps nodes to instances: by spec.providerID (ACK's REGION.INSTANCE-ID, e.g.
// cn-hangzhou.i-bp1abc), else by a node address held by an interface.
func New(x *Export, nodes []cloud.Node, podCIDRs []netip.Prefix) *Provider {
	p := &Provider{X: x, PodCIDRs: podCIDRs, nodes: nodes, byInst: map[string]string{}, nodeNIC: map[string]*NIC{}}
	for _, n := range nodes {
		if id := InstanceID(n.ProviderID); id != "" {
			if in := x.Instances[id]; in != nil {
				p.byInst[id] = n.Name
				for _, a := range n.Addrs {
					if nic := x.NICWith(a); nic != nil && nic.InstanceID == id {
						p.nodeNIC[n.Name] = nic
						break
					}
				}
				if p.nodeNIC[n.Name] == nil {
					p.nodeNIC[n.Name] = x.PrimaryNIC(id)
				}
				continue
			}
		}
		for _, a := range n.Addrs {
			if nic := x.NICWith(a); nic != nil {
				p.nodeNIC[n.Name] = nic
				if nic.InstanceID != "" {
					p.byInst[nic.InstanceID] = n.Name
				}
				break
			}
		}
	}
	return p
}

// InstanceID takes the instance ID out of a providerID: ACK writes REGION.INSTANCE-ID
// (cn-hangzhou.i-bp1abc); a URL form (alicloud://cn-hangzhou.i-bp1abc) is read too.
func InstanceID(providerID string) string {
	if i := strings.Index(providerID, "://"); i >= 0 && providerID[:i] != "alicloud" {
		return "" // another provider's (aws://, gce://)
	}
	s := path.Base(strings.TrimRight(providerID, "/"))
	if i := strings.LastIndex(s, "."); i >= 0 {
		s = s[i+1:]
	}
	if !strings.HasPrefix(s, "i-") {
		return ""
	}
	return s
}

// Name implements cloud.Provider.
func (p *Provider) Name() string { return "alibaba" }

// command is the aliyun CLI call that exports a file.
func command(name string) string {
	d, base := path.Split(name)
	id := strings.TrimSuffix(base, ".json")
	call := strings.TrimSuffix(d, "/")
	if call == "" {
		call, id = id, ""
	}
	product := "ecs"
	switch call {
	case "DescribeVSwitches", "DescribeNetworkAcls", "DescribeRouteTableList", "DescribeRouteEntryList", "DescribeNatGateways", "DescribeSnatTableEntries":
		product = "vpc"
	case "DescribeLoadBalancers", "DescribeLoadBalancerListeners", "DescribeHealthStatus", "DescribeAccessControlListAttribute":
		product = "slb"
	}
	arg := map[string]string{
		DirGroups: " --SecurityGroupId " + id + " --Direction all", DirPrefixLists: " --PrefixListId " + id,
		DirRouteEntries: " --RouteTableId " + id, DirSnatEntries: " --SnatTableId " + id,
		DirListeners: " --LoadBalancerId.1 " + id, DirHealth: " --LoadBalancerId " + id, DirAccessControl: " --AclId " + id,
	}[call]
	return fmt.Sprintf("aliyun %s %s --RegionId <region>%s", product, call, arg)
}

// gap is a check whose export is missing: unknown, naming the file and the command.
func (p *Provider) gap(step, name, what string) cloud.Decision {
	f := p.X.file(name)
	return cloud.Decision{Verdict: cloud.Unknown, Step: step, Action: "unknown", Code: "cloud-missing-data",
		Message: fmt.Sprintf("%s: the bundle has no %s, so this is not known (netsim never assumes a cloud check allows)", what, f),
		Fix:     fmt.Sprintf("add the output of `%s` to the bundle as %s", command(name), f)}
}

// nodeOf names the cluster node an interface belongs to ("" for none).
func (p *Provider) nodeOf(n *NIC) string {
	if n == nil {
		return ""
	}
	if node := p.byInst[n.InstanceID]; node != "" && n.InstanceID != "" {
		return node
	}
	for node, nic := range p.nodeNIC {
		if nic == n {
			return node
		}
	}
	return ""
}

func (p *Provider) nicLabel(n *NIC) string {
	if node := p.nodeOf(n); node != "" {
		return fmt.Sprintf("node %s's %s", node, n.ID)
	}
	if n.InstanceID != "" && n.InstanceID != n.ID {
		return fmt.Sprintf("%s (instance %s)", n.ID, n.InstanceID)
	}
	return n.ID
}

// nicOf finds the interface a node sends or receives an address with: the interface
// holding the address itself (a Terway pod's secondary IP: VPC-native, judged as
// itself), else the node's (an overlay or host-gw pod address, or the node's own).
func (p *Provider) nicOf(node string, a netip.Addr) (*NIC, *cloud.Decision) {
	if p.X.Has[FileInstances] == "" && p.X.Has[FileNICs] == "" {
		d := p.gap("alibaba network interface", FileNICs, "which instance and interface node "+node+" is")
		return nil, &d
	}
	if n := p.X.NICWith(a); n != nil && (node == "" || p.nodeOf(n) == node) {
		return n, nil
	}
	if n := p.nodeNIC[node]; n != nil {
		return n, nil
	}
	pid := cloud.ProviderIDNote(p.nodes, node)
	return nil, &cloud.Decision{Verdict: cloud.Unknown, Step: "alibaba network interface", Action: "unknown", Code: "cloud-node-unmapped",
		Message: fmt.Sprintf("node %s%s is no instance or interface of the Alibaba Cloud exports (by providerID or private IP): its security groups and vSwitch are not known", node, pid),
		Fix:     "export DescribeInstances and DescribeNetworkInterfaces from the region the node runs in"}
}

// Egress implements cloud.Provider: the sending interface's security groups (a reply
// passes: they are stateful). Alibaba Cloud has no source/destination check to turn
// off: a node may send pods' addresses, and the route table decides where they go.
func (p *Provider) Egress(l cloud.Leg) []cloud.Decision {
	nic, gap := p.nicOf(l.From, l.Packet.Src)
	if nic == nil {
		return []cloud.Decision{*gap}
	}
	var d cloud.Decision
	if l.Reply {
		d = p.stateful(nic, false)
	} else {
		d = p.sgCheck(nic, false, l.Packet, l)
	}
	return p.withNACL(d, nic, p.vSwitchOf(l.To, l.Packet.Dst), true, l)
}

// Ingress implements cloud.Provider: the receiving interface's security groups.
func (p *Provider) Ingress(l cloud.Leg) []cloud.Decision {
	nic, gap := p.nicOf(l.To, l.Packet.Dst)
	if nic == nil {
		return []cloud.Decision{*gap}
	}
	var d cloud.Decision
	if l.Reply {
		d = p.stateful(nic, true)
	} else {
		d = p.sgCheck(nic, true, l.Packet, l)
	}
	return p.withNACL(d, nic, p.vSwitchOf(l.From, l.Packet.Src), false, l)
}

// withNACL adds the network ACL check of nic's vSwitch to its security group decision,
// when the packet crosses the vSwitch's boundary (other is the vSwitch on the far side,
// "" outside the VPC): an ACL filters what enters or leaves its vSwitch. The ACL comes
// first on the way in and last on the way out. Without the export the decision notes,
// on the sending side (or the receiving side of a packet from outside the cluster's
// nodes), that ACLs were not judged. The VPC docs ("Network ACLs") say an ACL applies to
// the ENIs of its vSwitch, not whether traffic that never leaves the vSwitch is
// filtered: netsim judges only where a packet crosses the boundary (docs/cloud-alibaba.md,
// "What is not known").
func (p *Provider) withNACL(d cloud.Decision, nic *NIC, other string, egress bool, l cloud.Leg) []cloud.Decision {
	if other == nic.VSwitchID && other != "" {
		return []cloud.Decision{d}
	}
	if p.X.Has[FileNetworkACLs] == "" {
		// Said once a path: on the leg the packet first enters the VPC's judgement
		// (leaving a node, or arriving from outside the nodes), not on its reply.
		if nic.VSwitchID != "" && !l.Reply && !l.Packet.Reply && (egress || l.From == "") {
			if d.Note != "" {
				d.Note += "; "
			}
			d.Note += p.naclNote()
		}
		return []cloud.Decision{d}
	}
	if nic.VSwitchID == "" && len(p.X.NetworkACLs) > 0 {
		// An ACL may be bound to the interface's vSwitch, which the export does not say.
		dir := "ingress"
		if egress {
			dir = "egress"
		}
		return append([]cloud.Decision{d}, cloud.Decision{Verdict: cloud.Unknown, Step: "alibaba network ACL " + dir, Action: "unknown", Code: "cloud-missing-data",
			Object: "networkinterface/" + nic.ID, Pos: nic.Pos,
			Message: fmt.Sprintf("%s has no VSwitchId in the exports: whether a network ACL of %s filters it is not known", p.nicLabel(nic), p.X.file(FileNetworkACLs)),
			Fix:     "export DescribeInstances and DescribeNetworkInterfaces with their VSwitchId"})
	}
	a, ok := p.naclCheck(nic, egress, l.Packet, l.Reply || l.Packet.Reply)
	if !ok {
		return []cloud.Decision{d}
	}
	if egress {
		return []cloud.Decision{d, a}
	}
	return []cloud.Decision{a, d}
}

func (p *Provider) stateful(nic *NIC, ingress bool) cloud.Decision {
	dir := "egress"
	if ingress {
		dir = "ingress"
	}
	return cloud.Decision{Step: "alibaba security group " + dir, Action: "allow", Object: "networkinterface/" + nic.ID, Pos: nic.Pos,
		Text: p.groupNames(nic.Groups), Note: "the reply of an allowed connection: security groups are stateful"}
}

func (p *Provider) groupNames(ids []string) string {
	var out []string
	for _, id := range ids {
		if g := p.X.Groups[id]; g != nil && g.Name != "" {
			out = append(out, fmt.Sprintf("%s (%s)", id, g.Name))
		} else {
			out = append(out, id)
		}
	}
	if len(out) == 0 {
		return "no security group"
	}
	return strings.Join(out, ", ")
}

// sgCheck judges a packet with all the security groups of an interface.
func (p *Provider) sgCheck(nic *NIC, ingress bool, pk packet.Packet, l cloud.Leg) cloud.Decision {
	dir, word, other := "egress", "to", pk.Dst
	if ingress {
		dir, word, other = "ingress", "from", pk.Src
	}
	step := "alibaba security group " + dir
	if len(p.X.Groups) == 0 && len(nic.Groups) > 0 {
		return p.gap(step, DirGroups+"/"+nic.Groups[0]+".json", "the rules of security group "+nic.Groups[0]+" of "+p.nicLabel(nic))
	}
	if !ingress && pk.Proto == packet.TCP && pk.DPort == 25 && !pk.Dst.IsPrivate() {
		// Alibaba Cloud restricts TCP port 25 to the internet for every ECS instance
		// ("Security group rules": use 465), whatever the rules say.
		return cloud.Decision{Verdict: cloud.Deny, Step: step, Action: "drop", Code: "alibaba-port-25", Object: "networkinterface/" + nic.ID, Pos: nic.Pos,
			Text: "TCP port 25 to the internet is restricted", Message: fmt.Sprintf("%s sends %s: Alibaba Cloud restricts outbound TCP port 25 from ECS instances, whatever the security groups allow", p.nicLabel(nic), flowText(pk)),
			Fix: "send mail on port 465 (SMTPS), or apply to Alibaba Cloud to unblock port 25"}
	}
	r := p.X.Evaluate(nic, ingress, pk)
	d := cloud.Decision{Step: step, Object: "networkinterface/" + nic.ID, Pos: nic.Pos, Text: p.groupNames(nic.Groups), Note: p.nicLabel(nic)}
	if len(nic.Groups) > 0 {
		if g := p.X.Groups[nic.Groups[0]]; g != nil {
			d.Object, d.Pos = "securitygroup/"+g.ID, g.Pos
		}
	}
	switch {
	case r.Unknown != "":
		d.Verdict, d.Action, d.Code = cloud.Unknown, "unknown", "cloud-missing-data"
		d.Message = fmt.Sprintf("%s on %s: whether they admit %s %s %s is not known: %s", p.groupNames(nic.Groups), p.nicLabel(nic), flowLabel(pk), word, other, r.Unknown)
		if strings.Contains(r.Unknown, "prefix list") && r.Rule == nil {
			d.Fix = "add the output of `aliyun ecs DescribePrefixListAttributes --PrefixListId ID` as " + p.X.file(DirPrefixLists+"/ID.json")
		}
		return d
	case r.Rule != nil:
		d.Object = fmt.Sprintf("securitygroup/%s %s rule %d", r.Rule.Group.ID, dir, r.Rule.Index)
		if r.Rule.ID != "" {
			d.Object += " (" + r.Rule.ID + ")"
		}
		d.Pos, d.Text = r.Rule.Pos, r.Rule.Label()
		if r.Allowed {
			d.Action = "allow"
			return d
		}
		d.Verdict, d.Action, d.Code = cloud.Deny, "drop", "alibaba-security-group"
		rule, desc := p.proposal(nic, ingress, pk, l)
		d.Message = fmt.Sprintf("rule %d of %s (%s) drops %s %s %s%s at %s: of the rules of %s it is the first by priority that matches (at equal priority Drop wins)",
			r.Rule.Index, r.Rule.Group.ID, r.Rule.Label(), flowLabel(pk), word, other, desc, p.nicLabel(nic), p.groupNames(nic.Groups))
		d.Fix = fmt.Sprintf("%s %s on %s at a higher priority than %d (a smaller number), or remove the Drop rule: %s", dir, rule, r.Rule.Group.ID, r.Rule.Priority,
			p.authorize(r.Rule.Group.ID, ingress, pk, l, max(1, r.Rule.Priority-1)))
		return d
	case r.Allowed:
		d.Action = "allow"
		if r.Inner != nil {
			d.Object, d.Pos, d.Text = "securitygroup/"+r.Inner.ID+" InnerAccessPolicy", r.Inner.InnerPos, "InnerAccessPolicy Accept"
			if d.Pos.IsZero() {
				d.Pos = r.Inner.Pos
			}
			d.Note = fmt.Sprintf("%s: no rule matched; %s is in basic group %s too, whose instances reach each other", p.nicLabel(nic), other, r.Inner.ID)
		} else {
			d.Text = "default rule: " + r.Default
		}
		return d
	}
	d.Verdict, d.Action, d.Code = cloud.Deny, "drop", "alibaba-security-group"
	rule, desc := p.proposal(nic, ingress, pk, l)
	d.Message = fmt.Sprintf("%s on %s: no rule admits %s %s %s%s, and %s", p.groupNames(nic.Groups), p.nicLabel(nic), flowLabel(pk), word, other, desc, r.Default)
	if len(nic.Groups) > 0 {
		d.Fix = fmt.Sprintf("%s %s on %s: %s", dir, rule, nic.Groups[0], p.authorize(nic.Groups[0], ingress, pk, l, 1))
	}
	return d
}

// ports is the protocol and port range a rule for the packet needs: a node port's
// whole range (30000/32767) for a node's node port.
func (p *Provider) ports(nic *NIC, ingress bool, pk packet.Packet) (proto, rng string) {
	proto = strings.ToUpper(packet.ProtoName(pk.Proto))
	switch {
	case pk.HasPorts() && ingress && pk.DPort >= 30000 && pk.DPort <= 32767 && p.nodeOf(nic) != "":
		return proto, "30000/32767"
	case pk.HasPorts():
		return proto, fmt.Sprintf("%d/%d", pk.DPort, pk.DPort)
	case pk.Proto == packet.ICMP:
		return "ICMP", "-1/-1"
	case pk.Proto == GRE:
		return "GRE", "-1/-1"
	}
	return "ALL", "-1/-1"
}

// peerObject is what a rule for the other side should name: the peer's security group
// (another node's interface), the pod CIDR, 0.0.0.0/0 for the internet, else the address.
func (p *Provider) peerObject(nic *NIC, ingress bool, pk packet.Packet) (flag, value, desc string) {
	other := pk.Dst
	flag = "--DestCidrIp"
	if ingress {
		other, flag = pk.Src, "--SourceCidrIp"
	}
	if e := p.X.NICWith(other); e != nil && len(e.Groups) > 0 && e != nic {
		shared := false
		for _, g := range e.Groups {
			for _, h := range nic.Groups {
				shared = shared || g == h
			}
		}
		who := p.nicLabel(e)
		desc = fmt.Sprintf(" (%s, in %s", who, p.groupNames(e.Groups))
		if !shared {
			desc += "; the two interfaces share no security group"
		}
		desc += ")"
		gflag := "--DestGroupId"
		if ingress {
			gflag = "--SourceGroupId"
		}
		return gflag, e.Groups[0], desc
	}
	for _, c := range p.PodCIDRs {
		if c.Contains(other) {
			return flag, c.String(), fmt.Sprintf(" (a pod address, in the cluster's pod CIDR %s)", c)
		}
	}
	for _, n := range p.nodes {
		for _, c := range n.PodCIDRs {
			if c.Contains(other) {
				return flag, c.String(), fmt.Sprintf(" (a pod address, in node %s's pod CIDR %s)", n.Name, c)
			}
		}
	}
	if !other.IsPrivate() && !other.IsLoopback() {
		return flag, "0.0.0.0/0", ""
	}
	return flag, netip.PrefixFrom(other, other.BitLen()).String(), ""
}

// proposal is the rule a fix proposes ("TCP 30000/32767 from 0.0.0.0/0"), and what the
// peer is, for the message.
func (p *Provider) proposal(nic *NIC, ingress bool, pk packet.Packet, l cloud.Leg) (rule, desc string) {
	proto, rng := p.ports(nic, ingress, pk)
	flag, value, desc := p.peerObject(nic, ingress, pk)
	word := "to"
	if ingress {
		word = "from"
	}
	what := value
	if strings.HasSuffix(flag, "GroupId") {
		what = "group " + value
	}
	if rng == "30000/32767" {
		desc += " (a node port)"
	}
	return fmt.Sprintf("%s %s %s %s", proto, rng, word, what), desc
}

// authorize is the aliyun command that adds the rule a fix proposes.
func (p *Provider) authorize(group string, ingress bool, pk packet.Packet, l cloud.Leg, prio int) string {
	nic, _ := p.nicOf(l.To, pk.Dst)
	if !ingress {
		nic, _ = p.nicOf(l.From, pk.Src)
	}
	if nic == nil {
		nic = &NIC{}
	}
	proto, rng := p.ports(nic, ingress, pk)
	flag, value, _ := p.peerObject(nic, ingress, pk)
	call := "AuthorizeSecurityGroupEgress"
	if ingress {
		call = "AuthorizeSecurityGroup"
	}
	return fmt.Sprintf("aliyun ecs %s --RegionId <region> --SecurityGroupId %s --IpProtocol %s --PortRange %s %s %s --Policy accept --Priority %d --NicType intranet",
		call, group, strings.ToLower(proto), rng, flag, value, prio)
}

func flowLabel(pk packet.Packet) string {
	proto := strings.ToUpper(packet.ProtoName(pk.Proto))
	if pk.HasPorts() {
		return fmt.Sprintf("%s port %d", proto, pk.DPort)
	}
	return proto
}

func flowText(pk packet.Packet) string {
	if pk.HasPorts() {
		return fmt.Sprintf("%s %s -> %s", packet.ProtoName(pk.Proto), pk.SrcAP(), pk.DstAP())
	}
	return fmt.Sprintf("%s %s -> %s", packet.ProtoName(pk.Proto), pk.Src, pk.Dst)
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
