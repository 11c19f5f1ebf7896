package tencent

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/netsim/netsim/cloud"
	"github.com/netsim/netsim/model/source"
	"github.com/netsim/netsim/rules/packet"
)

// FileACLs is the optional export of the VPC's network ACLs: tccli vpc DescribeNetworkAcls.
const FileACLs = "DescribeNetworkAcls.json"

// NetworkACL is a subnet network ACL (NetworkAclSet[] of DescribeNetworkAcls).
type NetworkACL struct {
	ID, VpcID, Name string
	// Type is NetworkAclType: TRIPLE (the entries below) or QUINTUPLE, whose rules
	// DescribeNetworkAclQuintupleEntries lists and netsim does not read.
	Type    string
	Subnets []string // SubnetSet: the subnets it is associated with
	// Ingress and Egress are the entries in the order the API lists them: the order
	// they are matched in.
	Ingress, Egress []*ACLEntry
	Pos             source.Pos
}

// ACLEntry is one entry of a network ACL (a NetworkAclEntry).
type ACLEntry struct {
	ACL            string
	Ingress        bool
	Index          int    // its place in its direction's list, 0 first
	Proto          string // TCP, UDP, ICMP, ICMPV6, GRE, ALL
	Ports          []PortRange
	AllPort        bool
	Cidr           netip.Prefix // CidrBlock or Ipv6CidrBlock
	Accept         bool
	PortText, Desc string
	Pos            source.Pos
}

func (x *Export) parseACLs(f *source.File) error {
	els, err := listOf(f, "NetworkAclSet")
	if err != nil {
		return err
	}
	for _, e := range els {
		var v struct {
			NetworkAclId, VpcId, NetworkAclName, NetworkAclType string
			SubnetSet                                           []struct{ SubnetId string }
		}
		if err := decodeAt(f, e, &v); err != nil {
			return err
		}
		pos := f.PosAt(e.off)
		if v.NetworkAclId == "" {
			return source.Errorf(pos, "a network ACL without NetworkAclId")
		}
		a := &NetworkACL{ID: v.NetworkAclId, VpcID: v.VpcId, Name: v.NetworkAclName, Type: strings.ToUpper(v.NetworkAclType), Pos: pos}
		for _, s := range v.SubnetSet {
			a.Subnets = append(a.Subnets, s.SubnetId)
		}
		for _, dir := range []string{"IngressEntries", "EgressEntries"} {
			ents, _, err := arrayIn(f, e, dir)
			if err != nil {
				return err
			}
			for i, ee := range ents {
				ent, err := parseACLEntry(f, ee, a.ID, dir == "IngressEntries", i)
				if err != nil {
					return err
				}
				if ent.Ingress {
					a.Ingress = append(a.Ingress, ent)
				} else {
					a.Egress = append(a.Egress, ent)
				}
			}
		}
		x.ACLs = append(x.ACLs, a)
	}
	return nil
}

func parseACLEntry(f *source.File, e element, acl string, ingress bool, i int) (*ACLEntry, error) {
	var v struct {
		Protocol, Port, CidrBlock, Ipv6CidrBlock, Action, Description string
	}
	if err := decodeAt(f, e, &v); err != nil {
		return nil, err
	}
	pos := f.PosAt(e.off)
	dir := "egress"
	if ingress {
		dir = "ingress"
	}
	what := fmt.Sprintf("network ACL %s %s entry %d", acl, dir, i+1)
	ent := &ACLEntry{ACL: acl, Ingress: ingress, Index: i, Proto: strings.ToUpper(strings.TrimSpace(v.Protocol)), PortText: v.Port, Desc: v.Description, Pos: pos}
	// The API documents Action as ACCEPT or DROP; its examples spell it "Accept".
	switch strings.ToUpper(v.Action) {
	case "ACCEPT":
		ent.Accept = true
	case "DROP":
	default:
		return nil, source.Errorf(pos, "%s: Action %q is neither ACCEPT nor DROP", what, v.Action)
	}
	switch ent.Proto {
	case "TCP", "UDP", "ICMP", "ICMPV6", "GRE", "ALL":
	case "":
		ent.Proto = "ALL"
	default:
		return nil, source.Errorf(pos, "%s: Protocol %q is none of TCP, UDP, ICMP, ICMPV6, GRE, ALL", what, v.Protocol)
	}
	var err error
	if ent.Ports, ent.AllPort, err = parsePorts(v.Port); err != nil {
		return nil, source.Errorf(pos, "%s: %v", what, err)
	}
	cidr := v.CidrBlock
	if cidr == "" {
		cidr = v.Ipv6CidrBlock
	}
	if cidr == "" {
		return nil, source.Errorf(pos, "%s names no CidrBlock or Ipv6CidrBlock", what)
	}
	if ent.Cidr, err = parsePrefix(cidr); err != nil {
		return nil, source.Errorf(pos, "%s: CidrBlock %v", what, err)
	}
	return ent, nil
}

// ACLsOf are the network ACLs associated with a subnet, in the export's order.
func (x *Export) ACLsOf(subnet string) []*NetworkACL {
	var out []*NetworkACL
	for _, a := range x.ACLs {
		if contains(a.Subnets, subnet) {
			out = append(out, a)
		}
	}
	return out
}

// ACLResult is an ACL's verdict on a packet in one direction.
type ACLResult struct {
	// Entry is the first entry that matched; nil when none did and the default rule
	// (ALL ALL 0.0.0.0/0 DROP) decided.
	Entry  *ACLEntry
	Accept bool
	// Unknown says why the ACL cannot be evaluated (a quintuple ACL).
	Unknown string
}

// Eval judges a packet crossing the ACL's subnet boundary in one direction. Tencent
// Cloud network ACLs are stateless (a reply is judged again, on its own ports) and
// "prioritized from top to bottom": the first entry that matches decides; each ACL has
// a default inbound and outbound rule, ALL ALL 0.0.0.0/0 Deny, with the lowest priority
// (VPC docs, Network ACL "Rule Overview": default rules, rule priorities). Ingress
// entries match the source, egress entries the destination; Port is the destination port.
func (a *NetworkACL) Eval(ingress bool, pk packet.Packet) ACLResult {
	if a.Type == "QUINTUPLE" {
		return ACLResult{Unknown: fmt.Sprintf("%s is a quintuple ACL, whose rules (tccli vpc DescribeNetworkAclQuintupleEntries) netsim does not read", a.ID)}
	}
	ents, peer := a.Egress, pk.Dst
	if ingress {
		ents, peer = a.Ingress, pk.Src
	}
	for _, e := range ents {
		if e.Cidr.Contains(peer) && e.covers(pk) {
			return ACLResult{Entry: e, Accept: e.Accept}
		}
	}
	return ACLResult{}
}

func (e *ACLEntry) covers(pk packet.Packet) bool {
	p := Policy{Proto: e.Proto, Ports: e.Ports, AllPort: e.AllPort}
	return p.covers(pk)
}

// Name cites the entry: "ingress entry 2" (1-based, in list order), or the default rule.
func (e *ACLEntry) Name(ingress bool) string {
	dir := "egress"
	if ingress {
		dir = "ingress"
	}
	if e == nil {
		return dir + " default rule"
	}
	return fmt.Sprintf("%s entry %d", dir, e.Index+1)
}

// Label renders the entry: "DROP TCP 30000-32767 from 0.0.0.0/0".
func (e *ACLEntry) Label() string {
	p := Policy{Ingress: e.Ingress, Proto: e.Proto, Ports: e.Ports, AllPort: e.AllPort, Cidr: e.Cidr, Accept: e.Accept, PortText: e.PortText}
	return p.Label()
}

// subnetOf is the subnet an address is in: that of the interface holding it (the node's
// when node is set, for the pod addresses a node carries), else the exported subnet whose
// CIDR holds it; "" for an address outside the VPC's subnets.
func (p *Provider) subnetOf(node string, a netip.Addr) string {
	if node != "" {
		if e, _ := p.nicOf(node, a); e != nil {
			return e.SubnetID
		}
	}
	if e := p.nicWith(a); e != nil {
		return e.SubnetID
	}
	for _, s := range p.X.Subnets {
		if s.Cidr.Contains(a) {
			return s.ID
		}
	}
	return ""
}

// aclNote is the note a decision carries when the ACLs are not exported.
func (p *Provider) aclNote() string {
	return fmt.Sprintf("network ACLs not exported (%s): not judged", p.file(FileACLs))
}

// aclCheck judges the ACLs of subnet for a packet leaving it (egress) or entering it.
func (p *Provider) aclCheck(subnet string, ingress bool, pk packet.Packet, reply bool) []cloud.Decision {
	dir, word, peer := "outbound", "to", pk.Dst
	if ingress {
		dir, word, peer = "inbound", "from", pk.Src
	}
	step := "tencent network ACL " + dir
	var out []cloud.Decision
	for _, a := range p.X.ACLsOf(subnet) {
		r := a.Eval(ingress, pk)
		d := cloud.Decision{Step: step, Object: "networkacl/" + a.ID + " " + r.Entry.Name(ingress), Pos: a.Pos, Note: subnet, Packet: pk, Reply: reply}
		if r.Unknown != "" {
			d.Verdict, d.Action, d.Code, d.Object = cloud.Unknown, "unknown", "cloud-missing-data", "networkacl/"+a.ID
			d.Message = fmt.Sprintf("the network ACL %s of %s judges %s %s %s, and it cannot be evaluated: %s", a.ID, subnet, flowLabel(pk), word, peer, r.Unknown)
			d.Fix = "add the output of `tccli vpc DescribeNetworkAclQuintupleEntries --NetworkAclId " + a.ID + "` and judge it by hand, or convert the ACL to a triple ACL"
			return append(out, d)
		}
		d.Text = "ALL ALL 0.0.0.0/0 DROP (no entry matched)"
		if r.Entry != nil {
			d.Pos, d.Text = r.Entry.Pos, r.Entry.Label()
		}
		if r.Accept {
			d.Action = "allow"
			out = append(out, d)
			continue
		}
		d.Verdict, d.Action, d.Code = cloud.Deny, "drop", "tencent-network-acl"
		what := "the packet"
		if reply {
			what = "the reply (network ACLs are stateless: a reply needs its own entry, on its ephemeral port)"
		}
		rule := fmt.Sprintf("%s (%s)", r.Entry.Name(ingress), d.Text)
		if r.Entry == nil {
			rule = fmt.Sprintf("no %s entry matches, and the %s (ALL ALL 0.0.0.0/0 DROP)", strings.Split(r.Entry.Name(ingress), " ")[0], r.Entry.Name(ingress))
		}
		d.Message = fmt.Sprintf("network ACL %s of %s: %s drops %s, %s %s %s; its entries are matched top to bottom and the first match decides",
			a.ID, subnet, rule, what, flowLabel(pk), word, peer)
		d.Fix = p.aclFix(a, ingress, r.Entry, p.aclProposal(ingress, pk, reply))
		return append(out, d)
	}
	return out
}

// aclProposal is the entry that would admit the packet.
func (p *Provider) aclProposal(ingress bool, pk packet.Packet, reply bool) ruleSpec {
	r := ruleSpec{proto: strings.ToUpper(packet.ProtoName(pk.Proto))}
	switch pk.Proto {
	case packet.TCP, packet.UDP:
		r.port = fmt.Sprint(pk.DPort)
		if reply {
			r.port = "1024-65535" // the ephemeral port the reply goes to
		} else if ingress && pk.DPort >= 30000 && pk.DPort <= 32767 {
			r.port = "30000-32767" // the node port range
		}
	case packet.ICMP:
		r.proto = "ICMP"
	default:
		r.proto = "ALL"
	}
	peer := pk.Dst
	if ingress {
		peer = pk.Src
	}
	for _, c := range p.PodCIDRs {
		if c.Contains(peer) {
			r.cidr = c.String()
			return r
		}
	}
	for _, s := range p.X.Subnets {
		if s.Cidr.Contains(peer) {
			r.cidr = s.Cidr.String()
			return r
		}
	}
	if !peer.IsPrivate() && !peer.IsLoopback() {
		r.cidr = "0.0.0.0/0"
		if peer.Is6() {
			r.cidr = "::/0"
		}
		return r
	}
	r.cidr = netip.PrefixFrom(peer, peer.BitLen()).String()
	return r
}

// aclFix renders the entry to add with the tccli call: CreateNetworkAclEntries appends
// (above the default rule) when the default rule dropped; an entry that drops must have
// the new one above it, and ModifyNetworkAclEntries replaces a direction's whole list.
func (p *Provider) aclFix(a *NetworkACL, ingress bool, denied *ACLEntry, r ruleSpec) string {
	dir, word, key := "egress", "to", "Egress"
	if ingress {
		dir, word, key = "ingress", "from", "Ingress"
	}
	port := r.port
	if port == "" {
		port = "ALL"
	}
	family := "CidrBlock"
	if strings.Contains(r.cidr, ":") {
		family = "Ipv6CidrBlock"
	}
	entry := fmt.Sprintf(`{"Protocol":"%s","Port":"%s","%s":"%s","Action":"ACCEPT"}`, r.proto, port, family, r.cidr)
	if denied == nil {
		return fmt.Sprintf("%s ACCEPT %s %s %s %s on network ACL %s: tccli vpc CreateNetworkAclEntries --NetworkAclId %s --NetworkAclEntrySet '{\"%s\":[%s]}'",
			dir, r.proto, port, word, r.cidr, a.ID, a.ID, key, entry)
	}
	return fmt.Sprintf("%s ACCEPT %s %s %s %s on network ACL %s, above its %s: tccli vpc ModifyNetworkAclEntries --NetworkAclId %s --NetworkAclEntrySet '{\"%s\":[...the entries before %d..., %s, ...the rest...]}' (it replaces the %s list: pass all of it)",
		dir, r.proto, port, word, r.cidr, a.ID, denied.Name(ingress), a.ID, key, denied.Index+1, entry, dir)
}
