package alibaba

import (
	"strings"
	"testing"

	"github.com/netsim/netsim/cloud"
	"github.com/netsim/netsim/model/source"
)

func TestAlibabaParsePositions(t *testing.T) {
	x := parse(t, map[string]string{FileInstances: instancesJSON, FileNICs: nicsJSON,
		sgFile("sg-a"): group("sg-a", "Accept", "", rule("ingress", "accept", "TCP", "80/80", "cidr", "0.0.0.0/0", 1), `{"Direction": "egress", "Policy": "Drop", "Priority": "7", "IpProtocol": "all", "PortRange": "-1/-1", "DestCidrIp": "10.0.0.5"}`)})
	if in := x.Instances["i-b"]; in == nil || in.Pos.Line != 4 || in.IPs[0].String() != "10.0.0.3" {
		t.Errorf("instance i-b %+v", in)
	}
	g := x.Groups["sg-a"]
	if g == nil || len(g.Rules) != 2 {
		t.Fatalf("group %+v", g)
	}
	r := g.Rules[1]
	if r.Pos.Line != 4 || r.Ingress || r.Accept || r.Priority != 7 || r.Proto != "ALL" || r.CIDR.String() != "10.0.0.5/32" || r.From != -1 {
		t.Errorf("rule %+v", r)
	}
	if g.Inner != "Accept" || g.InnerPos.Line != 1 {
		t.Errorf("inner %q at %v", g.Inner, g.InnerPos)
	}
	var tn *NIC
	for _, n := range x.NICs {
		if n.ID == "eni-t" {
			tn = n
		}
	}
	if tn == nil || len(tn.IPs) != 2 || tn.IPs[1].String() != "10.0.1.10" || tn.Pos.Line != 6 {
		t.Errorf("Terway ENI %+v", tn)
	}
	// DescribeNetworkInterfaces replaces the instance's own view of its primary interface.
	n := 0
	for _, nic := range x.NICs {
		if nic.InstanceID == "i-a" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("i-a has %d interfaces, want 1", n)
	}
}

func TestAlibabaParseErrors(t *testing.T) {
	g := func(perm string) string {
		return "{\"SecurityGroupId\": \"sg-x\",\n \"Permissions\": {\"Permission\": [\n" + perm + "\n]}}"
	}
	cases := []struct{ file, text, want string }{
		{sgFile("sg-x"), g(`{"Direction": "ingress", "IpProtocol": "TCP", "PortRange": "22", "SourceCidrIp": "0.0.0.0/0"}`), `sg-x.json:3: security group sg-x rule: PortRange "22" is not FROM/TO`},
		{sgFile("sg-x"), g(`{"Direction": "ingress", "IpProtocol": "TCP", "PortRange": "90/80"}`), `PortRange "90/80"`},
		{sgFile("sg-x"), g(`{"Direction": "ingress", "IpProtocol": "TCP", "PortRange": "1/70000"}`), `PortRange "1/70000"`},
		{sgFile("sg-x"), g(`{"Direction": "ingress", "IpProtocol": "SCTP", "PortRange": "-1/-1"}`), `IpProtocol "SCTP"`},
		{sgFile("sg-x"), g(`{"Direction": "in", "IpProtocol": "TCP"}`), `Direction "in"`},
		{sgFile("sg-x"), g(`{"Direction": "ingress", "IpProtocol": "TCP", "Policy": "reject"}`), `Policy "reject"`},
		{sgFile("sg-x"), g(`{"Direction": "ingress", "IpProtocol": "ALL", "Priority": 101}`), `sg-x.json:3: security group sg-x rule: Priority 101 is not in 1-100`},
		{sgFile("sg-x"), g(`{"Direction": "ingress", "IpProtocol": "ALL", "Priority": "x"}`), `sg-x.json:3: Priority: want int`},
		{sgFile("sg-x"), g(`{"Direction": "ingress", "IpProtocol": "ALL", "SourceCidrIp": "10.0.0.0/33"}`), `"10.0.0.0/33" is not a CIDR`},
		{sgFile("sg-x"), "{\"SecurityGroupId\": \"sg-x\",\n \"InnerAccessPolicy\": \"Maybe\", \"Permissions\": {\"Permission\": []}}", `sg-x.json:2: security group sg-x: InnerAccessPolicy "Maybe"`},
		{sgFile("sg-x"), `{"SecurityGroupId": "sg-x"}`, `no "Permissions.Permission" list`},
		{sgFile("sg-x"), "{\"SecurityGroupId\": \"sg-x\",\n \"Permissions\": {\"Permission\": [,]}}", `sg-x.json:2: not valid JSON`},
		{sgFile("sg-x"), `[]`, `want the JSON object`},
		{sgFile("sg-x"), "{\"SecurityGroupId\": \"sg-x\",\n", `not valid JSON: the file ends`},
		{FileInstances, `{"Instances": {"Instance": [{"InstanceId": "i-1", "VpcAttributes": {"PrivateIpAddress": {"IpAddress": ["10.0.0.300"]}}}]}}`, `is not an IP address`},
		{FileInstances, "{\"Instances\": {\"Instance\": [\n{\"InstanceName\": \"x\"}]}}", `DescribeInstances.json:2: an instance without an InstanceId`},
		{FileInstances, `{"Reservations": []}`, `no "Instances.Instance" list`},
		{FileNICs, `{"NetworkInterfaceSets": {"NetworkInterfaceSet": [{"NetworkInterfaceId": "eni-1", "Ipv4PrefixSets": {"Ipv4PrefixSet": [{"Ipv4Prefix": "10.0.0.0/99"}]}}]}}`, `"10.0.0.0/99" is not a CIDR`},
		{FileVSwitches, `{"VSwitches": {"VSwitch": [{"VSwitchId": "vsw-1", "CidrBlock": "x"}]}}`, `vSwitch vsw-1 CidrBlock "x" is not a CIDR`},
		{FileRouteTables, `{"RouterTableList": {"RouterTableListType": [{"VpcId": "v"}]}}`, `a route table without a RouteTableId`},
		{DirRouteEntries + "/vtb-1.json", "{\"RouteEntrys\": {\"RouteEntry\": [\n\n{\"RouteEntryId\": \"rte-1\", \"DestinationCidrBlock\": \"10.0.0.0/8\", \"Type\": \"Custom\"}]}}", `vtb-1.json:3: route entry rte-1 (10.0.0.0/8) has no next hop`},
		{DirRouteEntries + "/vtb-1.json", `{"RouteEntrys": {"RouteEntry": [{"RouteEntryId": "rte-1", "Type": "System"}]}}`, `has no DestinationCidrBlock`},
		{DirRouteEntries + "/vtb-1.json", `{"RouteEntrys": {"RouteEntry": {"RouteEntryId": "rte-1"}}}`, `"RouteEntrys.RouteEntry" is not a list`},
		{FileNATs, `{"NatGateways": {"NatGateway": [{"NatGatewayId": "ngw-1", "IpLists": {"IpList": [{"IpAddress": "47.0.0"}]}}]}}`, `NAT gateway ngw-1 IpAddress "47.0.0" is not an IP address`},
		{DirSnatEntries + "/stb-1.json", `{"SnatTableEntries": {"SnatTableEntry": [{"SnatEntryId": "snat-1", "SnatIp": "47.0.0.1"}]}}`, `SNAT entry snat-1 has neither SourceCIDR nor SourceVSwitchId`},
		{FileLBs, `{"LoadBalancers": {"LoadBalancer": [{"LoadBalancerId": "lb-1", "Address": "nope"}]}}`, `load balancer lb-1 Address "nope"`},
		{DirListeners + "/lb-1.json", "{\"Listeners\": [\n{\"ListenerPort\": 0}]}", `lb-1.json:2: listener of lb-1: ListenerPort 0 is not in 1-65535`},
		{FileLBs, "{\"LoadBalancers\": {\"LoadBalancer\": [\n{\"LoadBalancerId\": \"lb-1\", \"Address\": \"47.0.0.30\", \"LoadBalancerStatus\": \"active\"}]}}", `DescribeLoadBalancers.json:2: load balancer lb-1: AddressType "" is neither internet nor intranet`},
		{FileLBs, "{\"LoadBalancers\": {\"LoadBalancer\": [\n{\"LoadBalancerId\": \"lb-1\", \"Address\": \"47.0.0.30\", \"AddressType\": \"internet\"}]}}", `DescribeLoadBalancers.json:2: load balancer lb-1: LoadBalancerStatus ""`},
		{DirListeners + "/lb-1.json", "{\"Listeners\": [\n{\"ListenerPort\": 80, \"ListenerProtocol\": \"sctp\"}]}", `lb-1.json:2: listener 80 of lb-1: ListenerProtocol "sctp"`},
		{DirListeners + "/lb-1.json", "{\"Listeners\": [\n{\"ListenerPort\": 80, \"ListenerProtocol\": \"tcp\", \"AclStatus\": \"on\", \"AclId\": \"acl-1\"}]}", `lb-1.json:2: listener 80 of lb-1: AclStatus on with AclType ""`},
		{DirListeners + "/lb-1.json", "{\"Listeners\": [\n{\"ListenerPort\": 80, \"ListenerProtocol\": \"tcp\", \"AclStatus\": \"enabled\"}]}", `AclStatus "enabled" is neither on nor off`},
		{DirListeners + "/lb-1.json", `{"Listeners": [{"ListenerPort": "eighty"}]}`, `ListenerPort: want int`},
		{DirHealth + "/lb-1.json", `{"BackendServers": {"BackendServer": [{"ServerId": "i-1", "ServerHealthStatus": "ok"}]}}`, `ServerHealthStatus "ok"`},
		{DirAccessControl + "/acl-1.json", `{"AclEntrys": {"AclEntry": [{"AclEntryComment": "x"}]}}`, `an entry without AclEntryIP`},
		{DirPrefixLists + "/pl-1.json", `{"Entries": {"Entry": [{"Cidr": "300.0.0.0/8"}]}}`, `Cidr "300.0.0.0/8" is not a CIDR`},
	}
	for _, c := range cases {
		_, err := Parse("cloud/alibaba", map[string]*source.File{c.file: source.NewFile("cloud/alibaba/"+c.file, []byte(c.text))})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %q:\n got %v\nwant %q", c.file, c.text, err, c.want)
		}
	}
}

// FuzzAlibabaParse feeds every export reader arbitrary text: errors are fine, panics are not,
// and an accepted export can be judged without panicking. The corpus is
// testdata/fuzz/FuzzAlibabaParse.
func FuzzAlibabaParse(f *testing.F) {
	for _, s := range []string{instancesJSON, nicsJSON, vswitchesJSON, group("sg-a", "Accept", "", rule("ingress", "accept", "TCP", "1/2", "group", "sg-b", 3)),
		entries(entry("0.0.0.0/0", "NatGateway", "ngw-1", "Available")), natsJSON, snat(`{"SnatEntryId": "s", "SourceVSwitchId": "vsw-1"}`),
		listeners(listener(80, "tcp", "running", "")), health(backend("i-a", "10.0.0.2", 80, "normal")), lbs("active", "internet"),
		nacl("vsw-1", []string{nentry(false, "drop", "tcp", "30000/32767", "0.0.0.0/0", "custom"), sysIn}, []string{sysOut})} {
		f.Add(s)
	}
	names := []string{FileInstances, FileNICs, FileVSwitches, FileRouteTables, FileNATs, FileLBs, sgFile("sg-a"), DirRouteEntries + "/vtb-sys.json",
		DirSnatEntries + "/stb-1.json", DirListeners + "/lb-1.json", DirHealth + "/lb-1.json", DirAccessControl + "/acl-1.json", DirPrefixLists + "/pl-1.json", FileNetworkACLs}
	f.Fuzz(func(t *testing.T, text string) {
		for _, n := range names {
			files := map[string]*source.File{n: source.NewFile("cloud/alibaba/"+n, []byte(text))}
			x, err := Parse("cloud/alibaba", files)
			if err != nil {
				continue
			}
			if x == nil {
				t.Fatal("nil export without an error")
			}
			p := New(x, nodes(), nil)
			pk := tcp("10.0.0.2", "93.184.216.34", 443)
			p.Egress(legFrom("na", pk))
			p.Route(legFrom("na", pk))
			p.Inbound(tcp("198.51.100.7", "47.0.0.30", 80))
			p.Ingress(cloud.Leg{To: "na", Packet: tcp("198.51.100.7", "10.0.0.2", 30080)})
			p.Egress(cloud.Leg{From: "na", Reply: true, Packet: reply(tcp("198.51.100.7", "10.0.0.2", 30080))})
		}
	})
}
