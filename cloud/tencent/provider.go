package tencent

import (
	"fmt"
	"net/netip"
	"path"
	"strings"

	"github.com/netsim/netsim/cloud"
	"github.com/netsim/netsim/rules/packet"
)

// Provider is the Tencent Cloud network for the walk: it maps the cluster's nodes to
// CVM instances and interfaces and judges packets with the exports' security groups,
// route tables, NAT gateways and load balancers.
type Provider struct {
	X *Export
	// PodCIDRs are the cluster's pod ranges (the manifest's), for the rules a fix proposes.
	PodCIDRs []netip.Prefix

	nodes      []cloud.Node
	nics       []*ENI            // the exported interfaces, and one per instance without its primary exported
	byInstance map[string]string // instance ID -> node
	nodeNIC    map[string]*ENI   // node -> its primary interface
	idx        *nicIndex         // lookups of nics and instances (index.go)
}

var _ cloud.Provider = (*Provider)(nil)

// New maps the nodes to instances: by spec.providerID (TKE's qcloud:///ZONE-ID/ins-xxx),
// else by a node address that is an instance's private IP (or an interface's).
func New(x *Export, nodes []cloud.Node, podCIDRs []netip.Prefix) *Provider {
	p := &Provider{X: x, PodCIDRs: podCIDRs, nodes: nodes, byInstance: map[string]string{}, nodeNIC: map[string]*ENI{}}
	ix := newNICIndex()
	p.nics = append(p.nics, x.ENIs...)
	for _, e := range p.nics {
		ix.addNIC(e)
	}
	for _, in := range x.Instances {
		ix.addInstance(in)
	}
	p.idx = ix
	for _, in := range x.Instances {
		if p.primaryOf(in.ID) == nil {
			// Without its interface exported, the instance's own fields describe its
			// primary NIC (SecurityGroupIds are the primary ENI's groups).
			e := &ENI{ID: "instance " + in.ID, VpcID: in.VpcID, SubnetID: in.SubnetID, InstanceID: in.ID, Primary: true,
				IPs: in.PrivateIPs, Public: publicMap(in), Groups: in.Groups, Pos: in.Pos}
			p.nics = append(p.nics, e)
			ix.addNIC(e)
		}
	}
	for _, n := range nodes {
		id := instanceID(n.ProviderID)
		if id == "" || p.instance(id) == nil {
			id = ""
			for _, a := range n.Addrs {
				if in := p.instanceWith(a); in != nil {
					id = in.ID
					break
				}
				if e := p.nicWith(a); e != nil && e.InstanceID != "" {
					id = e.InstanceID
					break
				}
			}
		}
		if id == "" {
			continue
		}
		p.byInstance[id] = n.Name
		p.nodeNIC[n.Name] = p.primaryOf(id)
	}
	return p
}

func publicMap(in *Instance) map[netip.Addr]netip.Addr {
	m := map[netip.Addr]netip.Addr{}
	if len(in.PrivateIPs) > 0 && len(in.PublicIPs) > 0 {
		m[in.PrivateIPs[0]] = in.PublicIPs[0]
	}
	return m
}

// instanceID takes the instance ID out of a providerID: qcloud:///800002/ins-xxx.
func instanceID(providerID string) string {
	if !strings.HasPrefix(providerID, "qcloud://") {
		return ""
	}
	id := path.Base(providerID)
	if !strings.HasPrefix(id, "ins-") {
		return ""
	}
	return id
}

func (p *Provider) instance(id string) *Instance {
	if p.idx != nil {
		return p.idx.inst[id]
	}
	for _, in := range p.X.Instances {
		if in.ID == id {
			return in
		}
	}
	return nil
}

func (p *Provider) instanceWith(a netip.Addr) *Instance {
	if p.idx != nil {
		return p.idx.instAt[a]
	}
	for _, in := range p.X.Instances {
		for _, ip := range in.PrivateIPs {
			if ip == a {
				return in
			}
		}
	}
	return nil
}

// nicWith is the interface holding a private address.
func (p *Provider) nicWith(a netip.Addr) *ENI {
	if p.idx != nil {
		return p.idx.nicAt[a]
	}
	for _, e := range p.nics {
		if e.Holds(a) {
			return e
		}
	}
	return nil
}

func (p *Provider) primaryOf(id string) *ENI {
	if p.idx != nil {
		return p.idx.primary[id]
	}
	for _, e := range p.nics {
		if e.InstanceID == id && e.Primary {
			return e
		}
	}
	return nil
}

// Name implements cloud.Provider.
func (p *Provider) Name() string { return "tencent" }

func (p *Provider) file(name string) string { return path.Join(p.X.Dir, name) }

// gap is the decision of a check whose export is missing.
func (p *Provider) gap(step, name, what string) cloud.Decision {
	return cloud.Decision{Verdict: cloud.Unknown, Step: step, Action: "unknown", Code: "cloud-missing-data",
		Message: fmt.Sprintf("%s: the bundle has no %s, so this is not known (netsim never assumes a cloud check allows)", what, p.file(name)),
		Fix:     fmt.Sprintf("add the output of `%s` to the bundle as %s", command(name), p.file(name))}
}

// command is the tccli call that exports a file.
func command(name string) string {
	dir, base := path.Split(name)
	id := strings.TrimSuffix(base, ".json")
	switch strings.TrimSuffix(dir, "/") {
	case DirPolicies:
		return "tccli vpc DescribeSecurityGroupPolicies --SecurityGroupId " + id
	case DirSNAT:
		return "tccli vpc DescribeNatGatewaySourceIpTranslationNatRules --NatGatewayId " + id
	case DirListeners:
		return "tccli clb DescribeListeners --LoadBalancerId " + id
	}
	switch name {
	case FileInstances:
		return "tccli cvm DescribeInstances"
	case FileLBs:
		return "tccli clb DescribeLoadBalancers"
	case FileTargetHealth:
		return "tccli clb DescribeTargetHealth --LoadBalancerIds '[...]'"
	}
	return "tccli vpc " + id
}

// nodeOf names the cluster node an interface belongs to ("" for none).
func (p *Provider) nodeOf(e *ENI) string {
	if e == nil {
		return ""
	}
	return p.byInstance[e.InstanceID]
}

func (p *Provider) nicLabel(e *ENI) string {
	if n := p.nodeOf(e); n != "" {
		if strings.HasPrefix(e.ID, "instance ") {
			return fmt.Sprintf("node %s (%s)", n, e.ID)
		}
		return fmt.Sprintf("node %s's %s", n, e.ID)
	}
	if e.InstanceID != "" && !strings.HasPrefix(e.ID, "instance ") {
		return fmt.Sprintf("%s (instance %s)", e.ID, e.InstanceID)
	}
	return e.ID
}

// nicOf finds the interface a node sends or receives an address with: the interface
// holding the address itself (a VPC-CNI pod's ENI IP is judged as itself), else the
// node's primary NIC (GlobalRouter pod addresses are the node's to carry).
func (p *Provider) nicOf(node string, a netip.Addr) (*ENI, *cloud.Decision) {
	if p.X.Has[FileInstances] == "" && p.X.Has[FileENIs] == "" {
		d := p.gap("tencent instance", FileInstances, "which CVM instance node "+node+" is")
		return nil, &d
	}
	if e := p.nicWith(a); e != nil && (node == "" || p.nodeOf(e) == node) {
		return e, nil
	}
	if e := p.nodeNIC[node]; e != nil {
		return e, nil
	}
	pid := cloud.ProviderIDNote(p.nodes, node)
	return nil, &cloud.Decision{Verdict: cloud.Unknown, Step: "tencent instance", Action: "unknown", Code: "cloud-node-unmapped",
		Message: fmt.Sprintf("node %s%s is no CVM instance or interface of the Tencent Cloud exports (by providerID or private IP): its security groups and subnet are not known", node, pid),
		Fix:     "export DescribeInstances and DescribeNetworkInterfaces from the region the node runs in"}
}

// Egress implements cloud.Provider: the sending interface's security groups (a reply
// passes: they are stateful).
func (p *Provider) Egress(l cloud.Leg) []cloud.Decision {
	nic, gap := p.nicOf(l.From, l.Packet.Src)
	if nic == nil {
		return []cloud.Decision{*gap}
	}
	var d cloud.Decision
	if l.Reply {
		d = p.stateful(nic, false)
	} else {
		d = p.sgCheck(nic.Groups, p.nicLabel(nic), false, l.Packet, l)
	}
	out := []cloud.Decision{d}
	// The subnet's network ACLs judge a packet only as it leaves the subnet.
	if nic.SubnetID != "" && p.subnetOf(l.To, l.Packet.Dst) != nic.SubnetID {
		if p.X.Has[FileACLs] == "" {
			if !l.Reply {
				out[0].Note = joinNote(out[0].Note, p.aclNote())
			}
		} else if !d.Blocks() {
			out = append(out, p.aclCheck(nic.SubnetID, false, l.Packet, l.Reply)...)
		}
	}
	return out
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// Ingress implements cloud.Provider: the receiving interface's security groups (a
// reply passes).
func (p *Provider) Ingress(l cloud.Leg) []cloud.Decision {
	nic, gap := p.nicOf(l.To, l.Packet.Dst)
	if nic == nil {
		return []cloud.Decision{*gap}
	}
	var out []cloud.Decision
	// The subnet's network ACLs judge a packet entering it from another subnet or from
	// outside the VPC, before the interface's security groups.
	from := p.subnetOf(l.From, l.Packet.Src)
	missing := false
	if nic.SubnetID != "" && from != nic.SubnetID {
		if p.X.Has[FileACLs] == "" {
			// Said once per trace: on the sender's egress when a node sends.
			missing = l.From == "" && !l.Reply
		} else {
			out = p.aclCheck(nic.SubnetID, true, l.Packet, l.Reply)
			if len(out) > 0 && out[len(out)-1].Blocks() {
				return out
			}
		}
	}
	var d cloud.Decision
	if l.Reply {
		d = p.stateful(nic, true)
	} else {
		d = p.sgCheck(nic.Groups, p.nicLabel(nic), true, l.Packet, l)
	}
	if missing {
		d.Note = joinNote(d.Note, p.aclNote())
	}
	return append(out, d)
}

func (p *Provider) stateful(nic *ENI, ingress bool) cloud.Decision {
	dir := "egress"
	if ingress {
		dir = "ingress"
	}
	return cloud.Decision{Step: "tencent security group " + dir, Action: "allow", Object: "networkinterface/" + objID(nic.ID), Pos: nic.Pos,
		Text: strings.Join(nic.Groups, ", "), Note: "the reply of an allowed connection: security groups are stateful"}
}

func objID(id string) string { return strings.TrimPrefix(id, "instance ") }

// sgCheck judges a packet against the groups bound to an interface (or a load balancer).
func (p *Provider) sgCheck(groups []string, who string, ingress bool, pk packet.Packet, l cloud.Leg) cloud.Decision {
	dir, word, peer := "egress", "to", pk.Dst
	if ingress {
		dir, word, peer = "ingress", "from", pk.Src
	}
	step := "tencent security group " + dir
	if p.X.Has[DirPolicies] == "" {
		d := p.gap(step, DirPolicies+"/<SecurityGroupId>.json", "the security group policies of "+who)
		d.Fix = fmt.Sprintf("add the output of `tccli vpc DescribeSecurityGroupPolicies --SecurityGroupId ID` for each of %s to the bundle as %s/ID.json", strings.Join(groups, ", "), p.file(DirPolicies))
		return d
	}
	if len(groups) == 0 {
		return cloud.Decision{Verdict: cloud.Unknown, Step: step, Action: "unknown", Code: "cloud-missing-data",
			Message: fmt.Sprintf("%s is bound to no security group in the exports: what filters it is not known", who)}
	}
	ev := p.X.EvalGroups(groups, ingress, pk, peer)
	if ev.Policy != nil {
		pol := ev.Policy
		d := cloud.Decision{Step: step, Object: fmt.Sprintf("securitygroup/%s %s policy %d", pol.Group, dir, pol.Index), Pos: pol.Pos, Text: pol.Label(), Note: who}
		if len(groups) > 1 {
			d.Note += " (groups in binding order: " + strings.Join(groups, ", ") + ")"
		}
		if pol.Accept {
			d.Action = "allow"
			return d
		}
		d.Verdict, d.Action, d.Code = cloud.Deny, "drop", "tencent-security-group"
		rule, desc := p.proposal(groups, ingress, pk, l)
		d.Message = fmt.Sprintf("security group %s %s policy %d (%s) drops %s %s %s on %s%s: it is the first policy that matches, in the groups' binding order (%s)",
			pol.Group, dir, pol.Index, pol.Label(), flowLabel(pk), word, peer, who, desc, strings.Join(groups, ", "))
		d.Fix = p.fix(pol.Group, ingress, rule, pol.Index, fmt.Sprintf(" (before policy %d, which drops it)", pol.Index))
		if pol.Group != groups[0] {
			// Any policy of a group bound before it is matched first.
			d.Fix = p.fix(groups[0], ingress, rule, -1, fmt.Sprintf(" (bound before %s, whose policy %d drops it)", pol.Group, pol.Index))
		}
		return d
	}
	d := cloud.Decision{Step: step, Action: "drop", Object: "securitygroup/" + groups[0], Text: strings.Join(groups, ", ") + ": no policy matched", Note: who}
	if g := p.X.Groups[groups[0]]; g != nil {
		d.Pos = g.Pos
	}
	if ev.Unknown != "" {
		d.Verdict, d.Action, d.Code = cloud.Unknown, "unknown", "cloud-missing-data"
		d.Message = fmt.Sprintf("%s on %s: whether they admit %s %s %s is not known: %s", strings.Join(groups, ", "), who, flowLabel(pk), word, peer, ev.Unknown)
		return d
	}
	d.Verdict, d.Code = cloud.Deny, "tencent-security-group"
	rule, desc := p.proposal(groups, ingress, pk, l)
	d.Message = fmt.Sprintf("no %s policy of %s (in binding order; %d consulted) matches %s %s %s on %s%s: a packet no policy matches is dropped",
		dir, strings.Join(groups, ", "), ev.Consulted, flowLabel(pk), word, peer, who, desc)
	d.Fix = p.fix(groups[0], ingress, rule, -1, "")
	return d
}

// ruleSpec is the policy a fix proposes.
type ruleSpec struct {
	proto, port, cidr, sg string
}

func (r ruleSpec) String() string {
	s := r.proto
	if r.port != "" {
		s += " " + r.port
	}
	if r.sg != "" {
		return s + " security group " + r.sg
	}
	return s + " " + r.cidr
}

// fix renders "ingress TCP 30000-32767 from 0.0.0.0/0 on sg-x" with the tccli call that
// adds it: PolicyIndex puts it before the policy that dropped the packet (0 is the top;
// without an index the policy is appended).
func (p *Provider) fix(group string, ingress bool, r ruleSpec, before int, where string) string {
	dir, word, key := "egress", "to", "Egress"
	if ingress {
		dir, word, key = "ingress", "from", "Ingress"
	}
	peer := r.cidr
	js := fmt.Sprintf(`"CidrBlock":"%s"`, r.cidr)
	if r.sg != "" {
		peer, js = "security group "+r.sg, fmt.Sprintf(`"SecurityGroupId":"%s"`, r.sg)
	}
	port := ""
	if r.port != "" {
		port = " " + r.port
	}
	idx := ""
	if before >= 0 {
		idx = fmt.Sprintf(`"PolicyIndex":%d,`, before)
	}
	portJS := r.port
	if portJS == "" {
		portJS = "ALL"
	}
	return fmt.Sprintf("%s %s%s %s %s on %s%s: tccli vpc CreateSecurityGroupPolicies --SecurityGroupId %s --SecurityGroupPolicySet '{\"%s\":[{%s\"Protocol\":\"%s\",\"Port\":\"%s\",%s,\"Action\":\"ACCEPT\"}]}'",
		dir, r.proto, port, word, peer, group, where, group, key, idx, r.proto, portJS, js)
}

// proposal is the policy that would admit the packet, and what the peer is.
func (p *Provider) proposal(groups []string, ingress bool, pk packet.Packet, l cloud.Leg) (ruleSpec, string) {
	r := ruleSpec{proto: strings.ToUpper(packet.ProtoName(pk.Proto))}
	switch pk.Proto {
	case packet.TCP, packet.UDP:
		r.port = fmt.Sprint(pk.DPort)
	case packet.ICMP:
		r.proto = "ICMP"
	default:
		r.proto = "ALL"
	}
	peer, other := pk.Dst, l.To
	if ingress {
		peer, other = pk.Src, l.From
	}
	var desc string
	if ingress && pk.HasPorts() && pk.DPort >= 30000 && pk.DPort <= 32767 && l.To != "" {
		r.port, desc = "30000-32767", " (a node port)"
	}
	if e := p.nicWith(peer); e != nil && len(e.Groups) > 0 {
		shared := false
		for _, g := range e.Groups {
			shared = shared || contains(groups, g)
		}
		who := p.nicLabel(e)
		if other != "" && p.nodeOf(e) == other {
			who = "node " + other + " (" + objID(e.ID) + ")"
		}
		desc += fmt.Sprintf(", which is %s in %s", who, strings.Join(e.Groups, ", "))
		if !shared {
			desc += fmt.Sprintf("; the two sides share no security group (this side: %s)", strings.Join(groups, ", "))
		}
		r.sg = e.Groups[0]
		return r, desc
	}
	for _, c := range p.PodCIDRs {
		if c.Contains(peer) {
			r.cidr = c.String()
			return r, desc + fmt.Sprintf(" (a pod address, in the cluster's pod CIDR %s)", c)
		}
	}
	for _, n := range p.nodes {
		for _, c := range n.PodCIDRs {
			if c.Contains(peer) {
				r.cidr = c.String()
				return r, desc + fmt.Sprintf(" (a pod address, in node %s's pod CIDR %s)", n.Name, c)
			}
		}
	}
	if !peer.IsPrivate() && !peer.IsLoopback() {
		r.cidr = "0.0.0.0/0"
		if peer.Is6() {
			r.cidr = "::/0"
		}
		return r, desc
	}
	r.cidr = netip.PrefixFrom(peer, peer.BitLen()).String()
	return r, desc
}

func flowLabel(pk packet.Packet) string {
	proto := strings.ToUpper(packet.ProtoName(pk.Proto))
	if pk.HasPorts() {
		return fmt.Sprintf("%s %d", proto, pk.DPort)
	}
	return proto
}

func flowText(pk packet.Packet) string {
	if pk.HasPorts() {
		return fmt.Sprintf("%s %s -> %s", packet.ProtoName(pk.Proto), pk.SrcAP(), pk.DstAP())
	}
	return fmt.Sprintf("%s %s -> %s", packet.ProtoName(pk.Proto), pk.Src, pk.Dst)
}

// CloudIdentity is what decides a node's traffic on Tencent Cloud: its NIC's VPC, subnet
// (its route table) and security groups in binding order, and whether it has a public IP.
// Nodes with the same identity are judged alike (diagnose groups them into one class);
// ok is false for a node the exports do not map.
func (p *Provider) CloudIdentity(node string) (string, bool) {
	nic := p.nodeNIC[node]
	if nic == nil {
		return "", false
	}
	pub := "private"
	if len(nic.Public) > 0 {
		pub = "public"
	}
	return fmt.Sprintf("%s/%s %s %s", nic.VpcID, nic.SubnetID, strings.Join(nic.Groups, ","), pub), true
}
