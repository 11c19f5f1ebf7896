package tencent

import (
	"strings"
	"testing"

	"github.com/netsim/netsim/cloud"
	"github.com/netsim/netsim/model/source"
	"github.com/netsim/netsim/rules/packet"
)

// aclsJSON: acl-n on the nodes' subnet, acl-d on the database's.
const aclsJSON = `{"TotalCount": 2, "NetworkAclSet": [
 {"NetworkAclId": "acl-n", "VpcId": "vpc-1", "NetworkAclName": "nodes", "NetworkAclType": "TRIPLE", "SubnetSet": [{"SubnetId": "subnet-n"}],
  "IngressEntries": [
   {"Protocol": "TCP", "Port": "22", "CidrBlock": "0.0.0.0/0", "Action": "DROP", "Description": "no ssh"},
   {"Protocol": "TCP", "Port": "30000-32767", "CidrBlock": "0.0.0.0/0", "Action": "ACCEPT"},
   {"Protocol": "UDP", "Port": "30000-32767", "CidrBlock": "0.0.0.0/0", "Action": "Accept"},
   {"Protocol": "ALL", "Port": "ALL", "CidrBlock": "10.0.0.0/16", "Action": "ACCEPT"}],
  "EgressEntries": [
   {"Protocol": "ALL", "Port": "ALL", "CidrBlock": "10.0.0.0/16", "Action": "ACCEPT"},
   {"Protocol": "TCP", "Port": "1024-65535", "CidrBlock": "0.0.0.0/0", "Action": "ACCEPT"}]},
 {"NetworkAclId": "acl-d", "VpcId": "vpc-1", "SubnetSet": [{"SubnetId": "subnet-d"}],
  "IngressEntries": [{"Protocol": "TCP", "Port": "5432", "CidrBlock": "10.0.1.0/24", "Action": "ACCEPT"}],
  "EgressEntries": [{"Protocol": "TCP", "Port": "1024-65535", "CidrBlock": "10.0.1.0/24", "Action": "ACCEPT"}]}
]}`

func aclFixture() map[string]string {
	files := fixture()
	files[FileACLs] = aclsJSON
	return files
}

// Entries are matched top to bottom, the first match decides, and a packet no entry
// matches meets the default rule (DROP).
func TestTencentACLEval(t *testing.T) {
	x := parse(t, aclFixture())
	acl := x.ACLsOf("subnet-n")
	if len(acl) != 1 || acl[0].ID != "acl-n" || len(x.ACLsOf("subnet-x")) != 0 {
		t.Fatalf("ACLs of subnet-n: %+v", acl)
	}
	a := acl[0]
	cases := []struct {
		name    string
		ingress bool
		pk      packet.Packet
		entry   int // 1-based; 0 the default rule
		accept  bool
	}{
		{"an earlier DROP wins over a later ACCEPT", true, tcp("10.0.2.20", "10.0.1.11", 22), 1, false},
		{"node port from the internet", true, tcp("198.51.100.1", "10.0.1.11", 30080), 2, true},
		{"Action spelled Accept", true, udp("198.51.100.1", "10.0.1.11", 31000), 3, true},
		{"the VPC range, any protocol", true, proto("10.0.2.20", "10.0.1.11", packet.ICMP), 4, true},
		{"nothing matches: the default rule drops", true, tcp("198.51.100.1", "10.0.1.11", 8443), 0, false},
		{"egress to the VPC", false, udp("10.0.1.11", "10.0.2.20", 53), 1, true},
		{"egress TCP to the internet, ephemeral range", false, tcp("10.0.1.11", "93.184.216.34", 8443), 2, true},
		{"egress UDP to the internet: the default rule", false, udp("10.0.1.11", "93.184.216.34", 40000), 0, false},
		{"egress below the port range", false, tcp("10.0.1.11", "93.184.216.34", 80), 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := a.Eval(c.ingress, c.pk)
			got := 0
			if r.Entry != nil {
				got = r.Entry.Index + 1
			}
			if got != c.entry || r.Accept != c.accept || r.Unknown != "" {
				t.Errorf("entry %d accept %v (%q), want entry %d accept %v", got, r.Accept, r.Unknown, c.entry, c.accept)
			}
		})
	}
	if l := a.Ingress[0].Label(); l != "DROP TCP 22 from 0.0.0.0/0" {
		t.Errorf("label %q", l)
	}
}

// The provider judges the ACLs only across a subnet boundary, before the receiver's
// security groups, and again for replies (they are stateless).
func TestTencentACLProvider(t *testing.T) {
	p := provider(t, aclFixture())
	type check struct {
		name   string
		ds     []cloud.Decision
		want   cloud.Verdict
		object string // of the last decision
		acls   int    // how many ACL decisions
	}
	reply := func(pk packet.Packet) packet.Packet { pk.Reply = true; return pk }
	cases := []check{
		{"same subnet: no ACL", p.Ingress(cloud.Leg{From: "b", To: "a", Packet: tcp("10.0.1.12", "10.0.1.11", 8080)}), cloud.Allow, "securitygroup/sg-node ingress policy 1", 0},
		{"same subnet, egress: no ACL", p.Egress(cloud.Leg{From: "a", To: "b", Packet: tcp("10.0.1.11", "10.0.1.12", 22)}), cloud.Allow, "securitygroup/sg-node egress policy 0", 0},
		{"internet to a node port: ACL then groups", p.Ingress(cloud.Leg{To: "a", Packet: tcp("198.51.100.1", "10.0.1.11", 30080)}), cloud.Allow, "securitygroup/sg-base ingress policy 2", 1},
		{"the ACL drops before the groups", p.Ingress(cloud.Leg{To: "a", Packet: tcp("198.51.100.1", "10.0.1.11", 22)}), cloud.Deny, "networkacl/acl-n ingress entry 1", 1},
		{"egress across subnets", p.Egress(cloud.Leg{From: "a", Packet: tcp("10.0.1.11", "10.0.2.20", 5432)}), cloud.Allow, "networkacl/acl-n egress entry 1", 1},
		{"the database's ACL admits 5432", p.Ingress(cloud.Leg{From: "a", Packet: tcp("10.0.1.11", "10.0.2.20", 5432)}), cloud.Allow, "securitygroup/sg-db ingress policy 0", 1},
		{"the database's ACL default rule", p.Ingress(cloud.Leg{From: "a", Packet: tcp("10.0.1.11", "10.0.2.20", 5433)}), cloud.Deny, "networkacl/acl-d ingress default rule", 1},
		{"a TCP reply to the internet passes the egress entry", p.Egress(cloud.Leg{From: "a", Packet: reply(cloud.Leg{}.Packet), Reply: true}), cloud.Allow, "networkacl/acl-n egress entry 2", 1},
		{"a UDP reply to the internet: stateless, the default rule drops it", p.Egress(cloud.Leg{From: "a", Packet: reply(udp("10.0.1.11", "198.51.100.1", 40000)), Reply: true}), cloud.Deny, "networkacl/acl-n egress default rule", 1},
		{"a reply from the database lands through acl-n", p.Ingress(cloud.Leg{To: "a", Packet: reply(tcp("10.0.2.20", "10.0.1.11", 40000)), Reply: true}), cloud.Allow, "networkinterface/ins-a", 1},
	}
	// The TCP reply row needs a real packet.
	cases[7].ds = p.Egress(cloud.Leg{From: "a", Packet: reply(tcp("10.0.1.11", "198.51.100.1", 40000)), Reply: true})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := last(t, c.ds)
			n := 0
			for _, x := range c.ds {
				if strings.HasPrefix(x.Step, "tencent network ACL") {
					n++
				}
			}
			if d.Verdict != c.want || d.Object != c.object || n != c.acls {
				t.Errorf("got %v %q with %d ACL decisions, want %v %q with %d: %+v", d.Verdict, d.Object, n, c.want, c.object, c.acls, c.ds)
			}
		})
	}
}

// A drop names the ACL and entry, cites its line, and proposes the entry with tccli.
func TestTencentACLDenyMessages(t *testing.T) {
	p := provider(t, aclFixture())
	d := last(t, p.Ingress(cloud.Leg{To: "a", Packet: tcp("198.51.100.1", "10.0.1.11", 22)}))
	if d.Code != "tencent-network-acl" || d.Pos.Line != 4 || d.Pos.File != "cloud/tencent/DescribeNetworkAcls.json" || !has(d.Message, "network ACL acl-n of subnet-n: ingress entry 1 (DROP TCP 22 from 0.0.0.0/0)") {
		t.Errorf("%+v", d)
	}
	if !has(d.Fix, "ModifyNetworkAclEntries --NetworkAclId acl-n") || !has(d.Fix, `{"Protocol":"TCP","Port":"22","CidrBlock":"0.0.0.0/0","Action":"ACCEPT"}`) || !has(d.Fix, "above its ingress entry 1") {
		t.Errorf("fix %q", d.Fix)
	}
	d = last(t, p.Ingress(cloud.Leg{From: "a", Packet: tcp("10.0.1.11", "10.0.2.20", 5433)}))
	if d.Pos.Line != 11 || !has(d.Message, "no ingress entry matches, and the ingress default rule") || !has(d.Fix, `CreateNetworkAclEntries --NetworkAclId acl-d --NetworkAclEntrySet '{"Ingress":[{"Protocol":"TCP","Port":"5433","CidrBlock":"10.0.1.0/24","Action":"ACCEPT"}]}'`) {
		t.Errorf("default rule: %+v", d)
	}
	back := udp("10.0.1.11", "198.51.100.1", 40000)
	back.Reply = true
	d = last(t, p.Egress(cloud.Leg{From: "a", Packet: back, Reply: true}))
	if !has(d.Message, "stateless") || !has(d.Fix, `"Egress":[{"Protocol":"UDP","Port":"1024-65535","CidrBlock":"0.0.0.0/0"`) || !d.Reply {
		t.Errorf("reply: %+v", d)
	}
	// Pod traffic from another subnet's pod CIDR route: the proposal names the pod CIDR.
	d = last(t, p.Ingress(cloud.Leg{To: "a", Packet: tcp("172.20.9.5", "10.0.1.11", 8443)}))
	if d.Verdict != cloud.Deny || !has(d.Fix, `"CidrBlock":"172.20.0.0/16"`) {
		t.Errorf("pod source: %+v", d)
	}
}

// Without the export the ACLs are not judged, and the trace says so once: on the
// sender's egress (or, from outside, the receiver's ingress), never as an error.
func TestTencentACLMissing(t *testing.T) {
	p := provider(t, fixture())
	note := "network ACLs not exported (cloud/tencent/DescribeNetworkAcls.json): not judged"
	eg := p.Egress(cloud.Leg{From: "a", Packet: tcp("10.0.1.11", "10.0.2.20", 5432)})
	in := p.Ingress(cloud.Leg{From: "a", Packet: tcp("10.0.1.11", "10.0.2.20", 5432)})
	if len(eg) != 1 || !has(eg[0].Note, note) || eg[0].Verdict != cloud.Allow {
		t.Errorf("egress: %+v", eg)
	}
	if len(in) != 1 || has(in[0].Note, note) || in[0].Verdict != cloud.Allow {
		t.Errorf("ingress after a node's egress: %+v", in)
	}
	out := p.Ingress(cloud.Leg{To: "a", Packet: tcp("198.51.100.1", "10.0.1.11", 30080)})
	if len(out) != 1 || !has(out[0].Note, note) {
		t.Errorf("ingress from outside: %+v", out)
	}
	same := p.Egress(cloud.Leg{From: "a", To: "b", Packet: tcp("10.0.1.11", "10.0.1.12", 80)})
	if has(same[0].Note, note) {
		t.Errorf("same subnet: %+v", same)
	}
}

// A quintuple ACL's rules are another export: the verdict is unknown, naming it.
func TestTencentACLQuintuple(t *testing.T) {
	files := fixture()
	files[FileACLs] = `{"NetworkAclSet": [{"NetworkAclId": "acl-q", "NetworkAclType": "QUINTUPLE", "SubnetSet": [{"SubnetId": "subnet-n"}]}]}`
	p := provider(t, files)
	d := last(t, p.Ingress(cloud.Leg{To: "a", Packet: tcp("198.51.100.1", "10.0.1.11", 30080)}))
	if d.Verdict != cloud.Unknown || !has(d.Message, "DescribeNetworkAclQuintupleEntries") || d.Object != "networkacl/acl-q" {
		t.Errorf("%+v", d)
	}
}

func TestTencentACLParseErrors(t *testing.T) {
	cases := []struct{ text, want string }{
		{"{\"NetworkAclSet\": [{\"NetworkAclId\": \"acl-1\", \"IngressEntries\": [\n {\"Protocol\": \"TCP\", \"Port\": \"80\", \"CidrBlock\": \"0.0.0.0/0\", \"Action\": \"MAYBE\"}]}]}", "DescribeNetworkAcls.json:2: network ACL acl-1 ingress entry 1: Action \"MAYBE\""},
		{"{\"NetworkAclSet\": [{\"NetworkAclId\": \"acl-1\", \"EgressEntries\": [\n {\"Protocol\": \"TCP\", \"Port\": \"80\", \"Action\": \"DROP\"}]}]}", "DescribeNetworkAcls.json:2: network ACL acl-1 egress entry 1 names no CidrBlock"},
		{`{"NetworkAclSet": [{"NetworkAclId": "acl-1", "EgressEntries": [{"Protocol": "SCTP", "CidrBlock": "0.0.0.0/0", "Action": "DROP"}]}]}`, `Protocol "SCTP"`},
		{`{"NetworkAclSet": [{"NetworkAclId": "acl-1", "EgressEntries": [{"Protocol": "TCP", "Port": "9-1", "CidrBlock": "0.0.0.0/0", "Action": "DROP"}]}]}`, `Port "9-1"`},
		{`{"NetworkAclSet": [{"NetworkAclId": "acl-1", "EgressEntries": [{"Protocol": "TCP", "CidrBlock": "10.0.0.0/33", "Action": "DROP"}]}]}`, "is not a CIDR"},
		{`{"NetworkAclSet": [{"VpcId": "vpc-1"}]}`, "without NetworkAclId"},
		{`{"NetworkAclSet": [{"NetworkAclId": "acl-1", "IngressEntries": {}}]}`, `"IngressEntries" is not a list`},
		{"{\"NetworkAclSet\": [\n {\"NetworkAclId\": \"acl-1\", \"SubnetSet\": \"subnet-1\"}]}", "DescribeNetworkAcls.json:2: SubnetSet: want"},
		{`{"AclSet": []}`, `no "NetworkAclSet" list`},
	}
	for _, c := range cases {
		_, err := Parse("cloud/tencent", map[string]*source.File{FileACLs: source.NewFile("cloud/tencent/"+FileACLs, []byte(c.text))})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.text, err, c.want)
		}
	}
}

// Through a CLB the target's subnet ACL judges the client's address (CLB passes it on):
// the node port passes acl-n's entry 2, the VPC-CNI pod's port 8080 meets the default rule.
func TestTencentACLThroughCLB(t *testing.T) {
	p := provider(t, aclFixture())
	es, _ := p.Inbound(tcp("198.51.100.7", "203.0.113.10", 80))
	if len(es) != 1 || entryVerdict(es[0]) != cloud.Allow {
		t.Fatalf("listener 80: %+v", es)
	}
	found := false
	for _, d := range es[0].Decisions {
		found = found || d.Object == "networkacl/acl-n ingress entry 2" && d.Action == "allow"
	}
	if !found {
		t.Errorf("no acl-n entry 2 decision: %+v", es[0].Decisions)
	}
	es, _ = p.Inbound(tcp("198.51.100.7", "203.0.113.10", 8000))
	var pod *cloud.Entry
	for i := range es {
		if es[i].Packet.Dst.String() == "10.0.1.50" {
			pod = &es[i]
		}
	}
	if pod == nil {
		t.Fatalf("no path to the pod ENI: %+v", es)
	}
	if d := last(t, pod.Decisions); d.Verdict != cloud.Deny || d.Object != "networkacl/acl-n ingress default rule" {
		t.Errorf("pod ENI target: %+v", d)
	}
}
