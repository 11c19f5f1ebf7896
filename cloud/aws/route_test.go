package aws

import (
	"net/netip"
	"testing"

	"github.com/netsim/netsim/cloud"
)

const rtExport = `{"RouteTables": [
 {"RouteTableId": "rtb-main", "VpcId": "vpc-1", "Associations": [{"Main": true}],
  "Routes": [
   {"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local", "State": "active"},
   {"DestinationCidrBlock": "10.244.2.0/24", "InstanceId": "i-2", "NetworkInterfaceId": "eni-2", "State": "active"},
   {"DestinationCidrBlock": "10.244.3.0/24", "InstanceId": "i-3", "State": "active"},
   {"DestinationCidrBlock": "10.244.9.0/24", "NetworkInterfaceId": "eni-gone", "State": "blackhole"},
   {"DestinationCidrBlock": "10.50.0.0/16", "VpcPeeringConnectionId": "pcx-1", "State": "active"},
   {"DestinationCidrBlock": "10.60.0.0/16", "TransitGatewayId": "tgw-1", "State": "active"},
   {"DestinationCidrBlock": "192.168.0.0/16", "GatewayId": "vgw-1", "State": "active"},
   {"DestinationPrefixListId": "pl-s3", "GatewayId": "vpce-1", "State": "active"},
   {"DestinationIpv6CidrBlock": "::/0", "EgressOnlyInternetGatewayId": "eigw-1", "State": "active"},
   {"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": "nat-1", "State": "active"}]},
 {"RouteTableId": "rtb-public", "VpcId": "vpc-1", "Associations": [{"Main": false, "SubnetId": "subnet-pub"}],
  "Routes": [
   {"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local", "State": "active"},
   {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-1", "State": "active"}]}
]}`

func TestRouteTables(t *testing.T) {
	x := parse(t, map[string]string{FileRouteTables: rtExport,
		DirPLEntries + "/pl-s3.json": `{"Entries": [{"Cidr": "52.216.0.0/15"}]}`})
	if rt, explicit := x.RouteTableFor("subnet-pub", "vpc-1"); rt.ID != "rtb-public" || !explicit {
		t.Errorf("explicit association: %s %v", rt.ID, explicit)
	}
	if rt, explicit := x.RouteTableFor("subnet-nodes", "vpc-1"); rt.ID != "rtb-main" || explicit {
		t.Errorf("main-table fallback: %s %v", rt.ID, explicit)
	}
	main, _ := x.RouteTableFor("subnet-nodes", "vpc-1")
	cases := []struct {
		dst, target string
		kind        TargetKind
		blackhole   bool
	}{
		{"10.0.3.4", "local", TargetLocal, false},
		{"10.244.2.7", "eni-2", TargetENI, false},
		{"10.244.3.7", "i-3", TargetInstance, false},
		{"10.244.9.1", "eni-gone", TargetENI, true},
		{"10.50.1.1", "pcx-1", TargetPeering, false},
		{"10.60.1.1", "tgw-1", TargetTGW, false},
		{"192.168.7.7", "vgw-1", TargetVGW, false},
		{"52.217.1.1", "vpce-1", TargetEndpoint, false}, // the prefix list's /15 beats 0.0.0.0/0
		{"2600::1", "eigw-1", TargetEgressIG, false},
		{"93.184.216.34", "nat-1", TargetNAT, false},
		{"10.244.4.4", "nat-1", TargetNAT, false}, // no route for that pod CIDR: the default
	}
	for _, c := range cases {
		r, unk := x.Lookup(main, netip.MustParseAddr(c.dst))
		if r == nil || r.Target != c.target || r.Kind != c.kind || r.Blackhole != c.blackhole || unk != "" {
			t.Errorf("%s: %+v %q; want %s (%s) blackhole %v", c.dst, r, unk, c.target, c.kind, c.blackhole)
		}
	}
	pub, _ := x.RouteTableFor("subnet-pub", "vpc-1")
	if r, _ := x.Lookup(pub, netip.MustParseAddr("8.8.8.8")); r.Kind != TargetIGW {
		t.Errorf("public subnet: %+v", r)
	}
	if r, _ := x.Lookup(pub, netip.MustParseAddr("2600::1")); r != nil {
		t.Errorf("no IPv6 route: got %+v", r)
	}
}

// A cluster on AWS: two nodes in one subnet, host-gw pod CIDRs routed to their
// interfaces, a NAT gateway in a public subnet.
func awsCluster(t *testing.T, edit func(map[string]string)) *Provider {
	files := map[string]string{
		FileENIs: `{"NetworkInterfaces": [
 {"NetworkInterfaceId": "eni-1", "SubnetId": "subnet-n", "VpcId": "vpc-1", "PrivateIpAddress": "10.0.0.11", "SourceDestCheck": false,
  "Attachment": {"InstanceId": "i-1", "DeviceIndex": 0}, "Groups": [{"GroupId": "sg-n"}]},
 {"NetworkInterfaceId": "eni-2", "SubnetId": "subnet-m", "VpcId": "vpc-1", "PrivateIpAddress": "10.0.1.12", "SourceDestCheck": true,
  "Attachment": {"InstanceId": "i-2", "DeviceIndex": 0}, "Groups": [{"GroupId": "sg-n"}],
  "PrivateIpAddresses": [{"PrivateIpAddress": "10.0.1.12", "Primary": true}, {"PrivateIpAddress": "10.0.1.50"}]}]}`,
		FileInstances: `{"Reservations": [{"Instances": [{"InstanceId": "i-1", "PrivateIpAddress": "10.0.0.11", "SubnetId": "subnet-n", "VpcId": "vpc-1"},
 {"InstanceId": "i-2", "PrivateIpAddress": "10.0.1.12", "SubnetId": "subnet-m", "VpcId": "vpc-1"}]}]}`,
		FileGroups: `{"SecurityGroups": [{"GroupId": "sg-n", "GroupName": "nodes",
  "IpPermissions": [{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": "sg-n"}]}],
  "IpPermissionsEgress": [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}]}`,
		FileACLs: `{"NetworkAcls": [{"NetworkAclId": "acl-n", "VpcId": "vpc-1", "IsDefault": true, "Entries": [
  {"RuleNumber": 100, "Egress": true, "Protocol": "-1", "RuleAction": "allow", "CidrBlock": "0.0.0.0/0"},
  {"RuleNumber": 100, "Egress": false, "Protocol": "6", "RuleAction": "allow", "CidrBlock": "10.0.0.0/16", "PortRange": {"From": 443, "To": 443}}]}]}`,
		FileRouteTables: `{"RouteTables": [{"RouteTableId": "rtb-m", "VpcId": "vpc-1", "Associations": [{"Main": true}], "Routes": [
  {"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local", "State": "active"},
  {"DestinationCidrBlock": "10.244.2.0/24", "NetworkInterfaceId": "eni-2", "State": "active"},
  {"DestinationCidrBlock": "10.244.9.0/24", "NetworkInterfaceId": "eni-9", "State": "blackhole"}]}]}`,
	}
	if edit != nil {
		edit(files)
	}
	nodes := []cloud.Node{
		{Name: "n1", ProviderID: "aws:///us-east-1a/i-1", PodCIDRs: []netip.Prefix{netip.MustParsePrefix("10.244.1.0/24")}},
		{Name: "n2", Addrs: []netip.Addr{netip.MustParseAddr("10.0.1.12")}, PodCIDRs: []netip.Prefix{netip.MustParsePrefix("10.244.2.0/24")}},
	}
	return New(parse(t, files), nodes, []netip.Prefix{netip.MustParsePrefix("10.244.0.0/16")})
}

func TestProviderLegs(t *testing.T) {
	p := awsCluster(t, nil)
	if p.nodeNIC["n1"].ID != "eni-1" || p.nodeNIC["n2"].ID != "eni-2" {
		t.Fatalf("node mapping by providerID and by address: %v %v", p.nodeNIC["n1"], p.nodeNIC["n2"])
	}
	cases := []struct {
		name  string
		leg   cloud.Leg
		check func(p *Provider, l cloud.Leg) []cloud.Decision
		want  []string
	}{
		{"egress: group rule, subnet ACL (another subnet)", cloud.Leg{From: "n1", To: "n2", Packet: tcp("10.0.0.11", "10.0.1.12", 443)}, (*Provider).Egress,
			[]string{"aws security group egress=allow", "aws network ACL outbound=allow"}},
		{"egress: no rule for port 80", cloud.Leg{From: "n1", To: "n2", Packet: tcp("10.0.0.11", "10.0.1.12", 80)}, (*Provider).Egress,
			[]string{"aws security group egress=deny", "aws network ACL outbound=allow"}},
		{"stateful: a reply passes the groups whatever their rules", cloud.Leg{From: "n1", To: "n2", Packet: tcp("10.0.0.11", "10.0.1.12", 80), Reply: true}, (*Provider).Egress,
			[]string{"aws security group egress=allow", "aws network ACL outbound=allow"}},
		{"ingress: group reference by the sender's address", cloud.Leg{From: "n1", To: "n2", Packet: tcp("10.0.0.11", "10.0.1.12", 443)}, (*Provider).Ingress,
			[]string{"aws network ACL inbound=allow", "aws security group ingress=allow"}},
		{"stateless: the reply is judged by the ACL again", cloud.Leg{From: "n2", To: "n1", Packet: tcp("10.0.1.12", "10.0.0.11", 40000), Reply: true}, (*Provider).Ingress,
			[]string{"aws network ACL inbound=deny", "aws security group ingress=allow"}},
		{"source/dest check off on the sender: a pod address may leave", cloud.Leg{From: "n1", To: "n2", Packet: tcp("10.244.1.2", "10.244.2.2", 443)}, (*Provider).Egress,
			[]string{"aws source/dest check=allow", "aws security group egress=allow", "aws network ACL outbound=allow"}},
		{"source/dest check on at the receiver drops a pod address", cloud.Leg{From: "n1", To: "n2", Packet: tcp("10.0.0.11", "10.244.2.2", 443)}, (*Provider).Ingress,
			[]string{"aws network ACL inbound=allow", "aws source/dest check=deny", "aws security group ingress=allow"}},
		{"a secondary IP (VPC CNI pod) is the interface's own", cloud.Leg{From: "n1", To: "n2", Packet: tcp("10.0.0.11", "10.0.1.50", 443)}, (*Provider).Ingress,
			[]string{"aws network ACL inbound=allow", "aws security group ingress=allow"}},
	}
	for _, c := range cases {
		got := verdicts(c.check(p, c.leg))
		if len(got) != len(c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%s: %v, want %v", c.name, got, c.want)
				break
			}
		}
	}
}

func TestProviderRoutes(t *testing.T) {
	p := awsCluster(t, nil)
	route := func(l cloud.Leg) (string, cloud.Landing, string) {
		ds, land := p.Route(l)
		last := ds[len(ds)-1]
		return last.Verdict.String(), land, last.Code
	}
	cases := []struct {
		name       string
		leg        cloud.Leg
		verdict    string
		node, code string
	}{
		{"local: the interface holding the address", cloud.Leg{From: "n1", To: "n2", Packet: tcp("10.0.0.11", "10.0.1.12", 443)}, "allow", "n2", ""},
		{"a pod CIDR routed to the node's interface", cloud.Leg{From: "n1", To: "n2", Packet: tcp("10.244.1.2", "10.244.2.2", 443)}, "allow", "n2", ""},
		{"a pod CIDR without a route: the local range does not cover it, nothing does", cloud.Leg{From: "n2", To: "n1", Packet: tcp("10.244.2.2", "10.244.1.2", 443)}, "no-route", "", "aws-no-route"},
		{"a blackhole route", cloud.Leg{From: "n1", Packet: tcp("10.0.0.11", "10.244.9.9", 443)}, "no-route", "", "aws-blackhole-route"},
		{"no interface holds a VPC address", cloud.Leg{From: "n1", Packet: tcp("10.0.0.11", "10.0.7.7", 443)}, "no-route", "", "aws-no-interface"},
	}
	for _, c := range cases {
		v, land, code := route(c.leg)
		if v != c.verdict || land.Node != c.node || code != c.code {
			t.Errorf("%s: %s to %+v (%s); want %s to %q (%s)", c.name, v, land, code, c.verdict, c.node, c.code)
		}
	}
	// A missing export is never an allow.
	q := awsCluster(t, func(f map[string]string) { delete(f, FileACLs); delete(f, FileRouteTables) })
	ds := q.Egress(cloud.Leg{From: "n1", To: "n2", Packet: tcp("10.0.0.11", "10.0.1.12", 443)})
	if got := verdicts(ds); got[len(got)-1] != "aws network ACL outbound=unknown" {
		t.Errorf("no ACL export: %v", got)
	}
	if ds, _ := q.Route(cloud.Leg{From: "n1", To: "n2", Packet: tcp("10.0.0.11", "10.0.1.12", 443)}); ds[0].Verdict != cloud.Unknown {
		t.Errorf("no route-table export: %v", verdicts(ds))
	}
}
