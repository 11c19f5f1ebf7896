package tencent

import (
	"strings"
	"testing"

	"github.com/netsim/netsim/cloud"
	"github.com/netsim/netsim/model/source"
)

func TestTencentParseShapes(t *testing.T) {
	x := parse(t, fixture())
	if len(x.Instances) != 3 || x.Instances[0].Groups[1] != "sg-base" || x.Instances[0].PublicIPs[0].String() != "203.0.113.11" {
		t.Errorf("instances %+v", x.Instances[0])
	}
	if g := x.Groups["sg-node"]; len(g.Ingress) != 4 || g.Ingress[2].Ports[1].From != 443 || g.Ingress[3].Ports[0] != (PortRange{3306, 20000}) || !g.Egress[0].AllPort {
		t.Errorf("sg-node %+v", g)
	}
	if r := x.RouteTables[0].Routes[3]; r.Enabled || r.GatewayType != "DIRECTCONNECT" || r.Pos.Line != 5 || r.ID != "rti-4" {
		t.Errorf("disabled route %+v", r)
	}
	if ts := x.Targets["lb-1"]; len(ts) != 5 || ts[1].Healthy || ts[1].Detail != "Dead" || ts[4].Rule != "b.example.com /api" || ts[4].Pos.Line != 11 {
		t.Errorf("targets %+v", ts)
	}
	if l := x.Listeners["lb-1"][1]; len(l.Rules) != 2 || l.Protocol != "HTTP" {
		t.Errorf("listener %+v", l)
	}
	if s := x.SNAT["nat-1"]; len(s) != 2 || s[1].Source.String() != "10.0.2.0/24" || s[0].Source.Bits() != 32 {
		t.Errorf("snat %+v", s)
	}
}

// The API's raw envelope {"Response": {...}} reads as tccli's output; pages printed back
// to back read as one list; PolicyIndex orders the policies.
func TestTencentParseEnvelopeAndPages(t *testing.T) {
	x := parse(t, map[string]string{
		FileSubnets: `{"Response": {"SubnetSet": [{"SubnetId": "subnet-1", "VpcId": "v", "CidrBlock": "10.0.0.0/24"}], "RequestId": "r"}}
{"Response": {"SubnetSet": [
  {"SubnetId": "subnet-2", "VpcId": "v", "CidrBlock": "10.0.1.0/24"}], "RequestId": "r"}}
`,
		DirPolicies + "/sg-1.json": `{"SecurityGroupPolicySet": {"Ingress": [
 {"PolicyIndex": 1, "Protocol": "TCP", "Port": "80", "CidrBlock": "0.0.0.0/0", "Action": "DROP"},
 {"PolicyIndex": 0, "Protocol": "tcp", "Port": "all", "Ipv6CidrBlock": "::/0", "Action": "accept"}]}}`,
	})
	if len(x.Subnets) != 2 || x.Subnets[1].Pos.Line != 3 {
		t.Errorf("subnets %+v %+v", *x.Subnets[0], *x.Subnets[1])
	}
	if g := x.Groups["sg-1"]; g.Ingress[0].Index != 0 || !g.Ingress[0].Accept || g.Ingress[0].Pos.Line != 3 || g.Ingress[0].Cidr.String() != "::/0" {
		t.Errorf("policies %+v", g.Ingress[0])
	}
}

func TestTencentParseErrors(t *testing.T) {
	cases := []struct{ file, text, want string }{
		{FileInstances, "{\n \"InstanceSet\": [\n  {\"InstanceId\": \"ins-1\",\n   \"PrivateIpAddresses\": \"10.0.0.1\"}]}", "DescribeInstances.json:4: PrivateIpAddresses: want []string"},
		{FileInstances, "{\n \"InstanceSet\": [\n  {\"InstanceId\": \"ins-1\",,}]}", "DescribeInstances.json:3: not valid JSON"},
		{FileInstances, "{\n \"InstanceSet\": [\n", "DescribeInstances.json:2: not valid JSON: the file ends"},
		{FileInstances, `{"Instances": []}`, `DescribeInstances.json:1: no "InstanceSet" list`},
		{FileInstances, `{"Response": {"Error": {"Code": "AuthFailure"}}}`, "is an API error"},
		{FileInstances, `[1, 2]`, "want the JSON object tccli prints"},
		{FileInstances, `{"InstanceSet": [{"InstanceName": "x"}]}`, "without InstanceId"},
		{FileInstances, `{"InstanceSet": [{"InstanceId": "ins-1", "PrivateIpAddresses": ["10.0.0.300"]}]}`, `"10.0.0.300" is not an IP address`},
		{FileENIs, "{\"NetworkInterfaceSet\": [\n {\"NetworkInterfaceId\": \"eni-1\", \"PrivateIpAddressSet\": [{\"PrivateIpAddress\": \"x\"}]}]}", "DescribeNetworkInterfaces.json:2: network interface eni-1"},
		{DirPolicies + "/sg-1.json", "{\"SecurityGroupPolicySet\": {\"Ingress\": [\n {\"Protocol\": \"TCP\", \"Port\": \"80-70\", \"CidrBlock\": \"0.0.0.0/0\", \"Action\": \"ACCEPT\"}]}}", "sg-1.json:2: security group sg-1 policy 0: Port \"80-70\""},
		{DirPolicies + "/sg-1.json", `{"SecurityGroupPolicySet": {"Ingress": [{"Protocol": "TCP", "Port": "80", "CidrBlock": "0.0.0.0/0", "Action": "MAYBE"}]}}`, `Action "MAYBE"`},
		{DirPolicies + "/sg-1.json", `{"SecurityGroupPolicySet": {"Ingress": [{"Protocol": "SCTP", "Port": "80", "CidrBlock": "0.0.0.0/0", "Action": "DROP"}]}}`, `Protocol "SCTP"`},
		{DirPolicies + "/sg-1.json", `{"SecurityGroupPolicySet": {"Ingress": [{"Protocol": "TCP", "Port": "80", "Action": "DROP"}]}}`, "names no CidrBlock"},
		{DirPolicies + "/sg-1.json", `{"SecurityGroupPolicySet": {"Ingress": [{"Protocol": "TCP", "Port": "80", "CidrBlock": "10.0.0.0/40", "Action": "DROP"}]}}`, "is not a CIDR"},
		{DirPolicies + "/sg-1.json", `{"Version": "1"}`, "no \"SecurityGroupPolicySet\""},
		{FileRouteTables, "{\"RouteTableSet\": [{\"RouteTableId\": \"r\",\n \"RouteSet\": [{\"DestinationCidrBlock\": \"10.0.0.0/33\", \"GatewayType\": \"NAT\"}]}]}", "DescribeRouteTables.json:2: route table r: DestinationCidrBlock"},
		{FileRouteTables, `{"RouteTableSet": [{"RouteTableId": "r", "RouteSet": [{"DestinationCidrBlock": "10.0.0.0/16"}]}]}`, "has no GatewayType"},
		{DirSNAT + "/nat-1.json", `{"SourceIpTranslationNatRuleSet": [{"ResourceType": "VPC", "PrivateIpAddress": "10.0.0.0/24"}]}`, `ResourceType "VPC"`},
		{DirListeners + "/lb-1.json", `{"Listeners": [{"ListenerId": "l", "Port": 70000}]}`, "Port 70000 is not a port"},
		{DirListeners + "/lb-1.json", "{\"Listeners\": [\n {\"ListenerId\": \"l\", \"Port\": 80, \"Protocol\": \"SCTP\"}]}", "DescribeListeners/lb-1.json:2: listener l of lb-1: Protocol \"SCTP\""},
		{DirListeners + "/lb-1.json", `{"Listeners": [{"ListenerId": "l", "Port": 80, "EndPort": 70, "Protocol": "TCP"}]}`, "EndPort 70 does not end a range"},
		{FileTargetHealth, "{\"LoadBalancers\": [{\"LoadBalancerId\": \"lb-1\", \"Listeners\": [{\"ListenerId\": \"l\", \"Rules\": [{\"Targets\": [\n {\"IP\": \"x\"}]}]}]}]}", "DescribeTargetHealth.json:2: target of lb-1"},
		{FileAddrTemplates, `{"AddressTemplateSet": [{"AddressTemplateId": "ipm-1", "AddressSet": ["10.0.0.9-10.0.0.1"]}]}`, "is not an address range"},
	}
	for _, c := range cases {
		_, err := Parse("cloud/tencent", map[string]*source.File{c.file: source.NewFile("cloud/tencent/"+c.file, []byte(c.text))})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %q: %v; want %q", c.file, c.text, err, c.want)
		}
	}
}

// FuzzTencentParse feeds every export reader arbitrary text: errors are fine, panics are not,
// and neither is a provider that panics on what parsed. The corpus is testdata/fuzz/FuzzTencentParse.
func FuzzTencentParse(f *testing.F) {
	for _, s := range fixture() {
		f.Add(s)
	}
	f.Add(`{"Response": {"InstanceSet": null}}`)
	f.Add(aclsJSON)
	f.Fuzz(func(t *testing.T, text string) {
		for _, name := range []string{FileInstances, FileENIs, FileSubnets, FileRouteTables, FileNATs, FileLBs, FileTargetHealth, FileAddrTemplates, FileAddrTmplGroups, FileACLs,
			DirPolicies + "/sg-1.json", DirSNAT + "/nat-1.json", DirListeners + "/lb-1.json"} {
			x, err := Parse("cloud/tencent", map[string]*source.File{name: source.NewFile("cloud/tencent/"+name, []byte(text))})
			if err != nil {
				continue
			}
			p := New(x, nil, nil)
			pk := tcp("10.0.1.11", "10.0.1.12", 80)
			p.Egress(cloudLeg(pk))
			p.Ingress(cloud.Leg{Packet: tcp("10.0.2.11", "10.0.1.12", 80)})
			p.Route(cloudLeg(pk))
			p.Inbound(tcp("198.51.100.7", "203.0.113.10", 80))
		}
	})
}
