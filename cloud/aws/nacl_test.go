package aws

import (
	"testing"

	"github.com/netsim/netsim/rules/packet"
)

// The entries are listed out of number order on purpose: evaluation sorts them.
const aclExport = `{"NetworkAcls": [
 {"NetworkAclId": "acl-1", "VpcId": "vpc-1", "IsDefault": false,
  "Associations": [{"SubnetId": "subnet-a"}],
  "Entries": [
   {"RuleNumber": 100, "Egress": false, "Protocol": "6", "RuleAction": "allow", "CidrBlock": "0.0.0.0/0", "PortRange": {"From": 80, "To": 80}},
   {"RuleNumber": 90, "Egress": false, "Protocol": "-1", "RuleAction": "deny", "CidrBlock": "203.0.113.0/24"},
   {"RuleNumber": 110, "Egress": false, "Protocol": "6", "RuleAction": "allow", "CidrBlock": "0.0.0.0/0", "PortRange": {"From": 1024, "To": 65535}},
   {"RuleNumber": 120, "Egress": false, "Protocol": "1", "RuleAction": "allow", "CidrBlock": "10.0.0.0/8", "IcmpTypeCode": {"Type": 3, "Code": -1}},
   {"RuleNumber": 32767, "Egress": false, "Protocol": "-1", "RuleAction": "deny", "CidrBlock": "0.0.0.0/0"},
   {"RuleNumber": 100, "Egress": true, "Protocol": "6", "RuleAction": "allow", "CidrBlock": "10.0.0.0/8", "PortRange": {"From": 1024, "To": 65535}},
   {"RuleNumber": 32767, "Egress": true, "Protocol": "-1", "RuleAction": "deny", "CidrBlock": "0.0.0.0/0"}]},
 {"NetworkAclId": "acl-default", "VpcId": "vpc-1", "IsDefault": true, "Associations": [],
  "Entries": [{"RuleNumber": 100, "Egress": false, "Protocol": "-1", "RuleAction": "allow", "CidrBlock": "0.0.0.0/0"}]}
]}`

func TestNetworkACLs(t *testing.T) {
	x := parse(t, map[string]string{FileACLs: aclExport})
	a := x.ACLFor("subnet-a", "vpc-1")
	if a == nil || a.ID != "acl-1" {
		t.Fatalf("subnet-a's ACL: %+v", a)
	}
	if d := x.ACLFor("subnet-b", "vpc-1"); d == nil || d.ID != "acl-default" {
		t.Fatalf("a subnet without an association takes the VPC's default ACL, got %+v", d)
	}
	reply := func(p packet.Packet) packet.Packet {
		return packet.Packet{Src: p.Dst, Dst: p.Src, Proto: p.Proto, SPort: p.DPort, DPort: p.SPort, Reply: true}
	}
	cases := []struct {
		name    string
		egress  bool
		p       packet.Packet
		allowed bool
		rule    string
	}{
		{"allowed by 100", false, tcp("198.51.100.1", "10.0.1.1", 80), true, "rule 100"},
		{"lower number first: 90 denies before 100 allows", false, tcp("203.0.113.9", "10.0.1.1", 80), false, "rule 90"},
		{"first match: 110 (ephemeral ports) admits port 8080 too", false, tcp("198.51.100.1", "10.0.1.1", 8080), true, "rule 110"},
		{"no rule: the default deny", false, tcp("198.51.100.1", "10.0.1.1", 22), false, "rule *"},
		{"icmp type 3 any code", false, icmp("10.1.1.1", "10.0.1.1", 3, 4), true, "rule 120"},
		{"icmp echo is not type 3", false, icmp("10.1.1.1", "10.0.1.1", 8, 0), false, "rule *"},
		{"udp is not tcp", false, udp("198.51.100.1", "10.0.1.1", 80), false, "rule *"},
		{"egress matches the destination", true, tcp("10.0.1.1", "10.2.2.2", 40000), true, "rule 100"},
		// Stateless: the reply of an allowed request is judged again, on its own port.
		{"reply to a client on an ephemeral port leaves", true, reply(tcp("10.9.9.9", "10.0.1.1", 80)), true, "rule 100"},
		{"reply to the internet is not covered by egress 100", true, reply(tcp("198.51.100.1", "10.0.1.1", 80)), false, "rule *"},
		{"reply coming in to a client's low source port is denied", false, packet.Packet{Src: tcp("198.51.100.1", "10.0.1.1", 0).Src, Dst: tcp("198.51.100.1", "10.0.1.1", 0).Dst, Proto: packet.TCP, SPort: 443, DPort: 1000, Reply: true}, false, "rule *"},
	}
	for _, c := range cases {
		r := a.Eval(c.egress, c.p)
		if r.Allowed != c.allowed || r.Entry.RuleName() != c.rule {
			t.Errorf("%s: allowed %v by %s; want %v by %s", c.name, r.Allowed, r.Entry.RuleName(), c.allowed, c.rule)
		}
	}
	// An ACL without an explicit 32767 still denies by default.
	b := &NetworkACL{ID: "acl-x"}
	if r := b.Eval(false, tcp("1.1.1.1", "10.0.0.1", 80)); r.Allowed || r.Entry != nil || r.Entry.RuleName() != "rule *" {
		t.Errorf("empty ACL: %+v", r)
	}
}
