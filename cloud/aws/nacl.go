package aws

import (
	"fmt"
	"net/netip"
	"sort"

	"github.com/netsim/netsim/rules/packet"
)

// ACLFor returns the network ACL of a subnet: the one associated with it, else the
// VPC's default ACL (every subnet has exactly one).
func (x *Export) ACLFor(subnet, vpc string) *NetworkACL {
	for _, a := range x.ACLs {
		if contains(a.Subnets, subnet) {
			return a
		}
	}
	for _, a := range x.ACLs {
		if a.Default && (vpc == "" || a.VpcID == vpc) {
			return a
		}
	}
	return nil
}

// ACLResult is an ACL evaluation: the first rule by number that matched (nil: none
// matched, and the implicit final deny `*` drops the packet).
type ACLResult struct {
	Allowed bool
	Entry   *ACLEntry
}

// Eval judges a packet in one direction. ACLs are stateless: the reply is judged again,
// in its own direction, on its own ports. Rules are taken in number order and the first
// that matches decides; egress rules match the destination, ingress rules the source.
func (a *NetworkACL) Eval(egress bool, p packet.Packet) ACLResult {
	var ents []*ACLEntry
	for i := range a.Entries {
		if a.Entries[i].Egress == egress {
			ents = append(ents, &a.Entries[i])
		}
	}
	sort.SliceStable(ents, func(i, j int) bool { return ents[i].Number < ents[j].Number })
	peer := p.Src
	if egress {
		peer = p.Dst
	}
	for _, e := range ents {
		if e.matches(p, peer) {
			return ACLResult{Allowed: e.Allow, Entry: e}
		}
	}
	return ACLResult{}
}

func (e *ACLEntry) matches(p packet.Packet, peer netip.Addr) bool {
	if !e.CIDR.Contains(peer) {
		return false
	}
	proto := protoNumber(e.Protocol)
	if proto != -1 && proto != int(p.Proto) {
		return false
	}
	if icmpLike(proto) {
		return portsMatch(proto, e.ICMPType, e.ICMPCode, p)
	}
	return portsMatch(proto, e.FromPort, e.ToPort, p)
}

// RuleName is how the rule is cited: "rule 100", or "rule *" for the default deny.
func (e *ACLEntry) RuleName() string {
	if e == nil || e.Number == 32767 {
		return "rule *"
	}
	return fmt.Sprintf("rule %d", e.Number)
}

// Label renders the rule: "allow TCP 1024-65535 from 0.0.0.0/0".
func (e *ACLEntry) Label() string {
	act, word := "deny", "from"
	if e.Allow {
		act = "allow"
	}
	if e.Egress {
		word = "to"
	}
	proto := protoNumber(e.Protocol)
	from, to := e.FromPort, e.ToPort
	if icmpLike(proto) {
		from, to = e.ICMPType, e.ICMPCode
	}
	return fmt.Sprintf("%s %s%s %s %s", act, protoLabel(e.Protocol), rangeLabel(proto, from, to), word, e.CIDR)
}
