package alibaba

import (
	"strings"
	"testing"

	"github.com/netsim/netsim/cloud"
	"github.com/netsim/netsim/rules/packet"
)

func sgFile(id string) string { return DirGroups + "/" + id + ".json" }

// TestSecurityGroups judges packets at i-b's eni-b (sg-a) and i-a's eni-a (sg-a and
// sg-b), with the rules of the groups evaluated together by priority.
func TestAlibabaSecurityGroups(t *testing.T) {
	basicA := func(rules ...string) string { return group("sg-a", "Accept", "", rules...) }
	cases := []struct {
		name    string
		groups  map[string]string
		ingress bool
		leg     cloud.Leg
		want    cloud.Verdict
		object  string // the decision's Object must contain it
		msg     string // and its Message (or Note), when set
	}{
		{name: "accept rule admits", groups: map[string]string{sgFile("sg-a"): basicA(rule("ingress", "accept", "TCP", "80/80", "cidr", "0.0.0.0/0", 1))},
			ingress: true, leg: cloud.Leg{To: "nb", Packet: tcp("203.0.113.1", "10.0.0.3", 80)}, want: cloud.Allow, object: "sg-a ingress rule 1"},
		{name: "port outside the range", groups: map[string]string{sgFile("sg-a"): basicA(rule("ingress", "accept", "TCP", "80/80", "cidr", "0.0.0.0/0", 1))},
			ingress: true, leg: cloud.Leg{To: "nb", Packet: tcp("203.0.113.1", "10.0.0.3", 81)}, want: cloud.Deny, msg: "the default ingress rule denies"},
		{name: "equal priority: drop wins", groups: map[string]string{sgFile("sg-a"): basicA(
			rule("ingress", "accept", "TCP", "80/80", "cidr", "0.0.0.0/0", 5), rule("ingress", "drop", "TCP", "1/65535", "cidr", "10.0.0.0/8", 5))},
			ingress: true, leg: cloud.Leg{To: "nb", Packet: tcp("10.0.0.4", "10.0.0.3", 80)}, want: cloud.Deny, object: "sg-a ingress rule 2", msg: "at equal priority Drop wins"},
		{name: "equal priority drop does not match the source", groups: map[string]string{sgFile("sg-a"): basicA(
			rule("ingress", "accept", "TCP", "80/80", "cidr", "0.0.0.0/0", 5), rule("ingress", "drop", "TCP", "1/65535", "cidr", "10.0.0.0/8", 5))},
			ingress: true, leg: cloud.Leg{To: "nb", Packet: tcp("203.0.113.1", "10.0.0.3", 80)}, want: cloud.Allow, object: "sg-a ingress rule 1"},
		{name: "higher priority accept beats a lower drop", groups: map[string]string{sgFile("sg-a"): basicA(
			rule("ingress", "drop", "ALL", "-1/-1", "cidr", "0.0.0.0/0", 100), rule("ingress", "accept", "TCP", "22/22", "cidr", "0.0.0.0/0", 1))},
			ingress: true, leg: cloud.Leg{To: "nb", Packet: tcp("203.0.113.1", "10.0.0.3", 22)}, want: cloud.Allow, object: "sg-a ingress rule 2"},
		{name: "across groups: sg-b's drop at priority 1 beats sg-a's accept at 10", groups: map[string]string{
			sgFile("sg-a"): basicA(rule("ingress", "accept", "TCP", "443/443", "cidr", "0.0.0.0/0", 10)),
			sgFile("sg-b"): group("sg-b", "Accept", "", rule("ingress", "drop", "TCP", "443/443", "cidr", "203.0.113.0/24", 1))},
			ingress: true, leg: cloud.Leg{To: "na", Packet: tcp("203.0.113.1", "10.0.0.2", 443)}, want: cloud.Deny, object: "sg-b ingress rule 1"},
		{name: "across groups: sg-a's accept at 1 beats sg-b's drop at 10", groups: map[string]string{
			sgFile("sg-a"): basicA(rule("ingress", "accept", "TCP", "443/443", "cidr", "0.0.0.0/0", 1)),
			sgFile("sg-b"): group("sg-b", "Accept", "", rule("ingress", "drop", "TCP", "443/443", "cidr", "203.0.113.0/24", 10))},
			ingress: true, leg: cloud.Leg{To: "na", Packet: tcp("203.0.113.1", "10.0.0.2", 443)}, want: cloud.Allow, object: "sg-a ingress rule 1"},
		{name: "inner access Accept: same basic group", groups: map[string]string{sgFile("sg-a"): basicA()},
			ingress: true, leg: cloud.Leg{From: "na", To: "nb", Packet: tcp("10.0.0.2", "10.0.0.3", 10256)}, want: cloud.Allow, object: "sg-a InnerAccessPolicy"},
		{name: "inner access Drop: same group isolated", groups: map[string]string{sgFile("sg-a"): group("sg-a", "Drop", "normal")},
			ingress: true, leg: cloud.Leg{From: "na", To: "nb", Packet: tcp("10.0.0.2", "10.0.0.3", 10256)}, want: cloud.Deny, msg: "the default ingress rule denies"},
		{name: "inner access Accept does not admit another group's member", groups: map[string]string{sgFile("sg-a"): basicA(), sgFile("sg-c"): group("sg-c", "Accept", "")},
			ingress: true, leg: cloud.Leg{To: "nb", Packet: tcp("10.0.0.4", "10.0.0.3", 10256)}, want: cloud.Deny, msg: "share no security group"},
		{name: "a custom drop overrides inner access", groups: map[string]string{sgFile("sg-a"): basicA(rule("ingress", "drop", "TCP", "10256/10256", "cidr", "10.0.0.0/24", 100))},
			ingress: true, leg: cloud.Leg{From: "na", To: "nb", Packet: tcp("10.0.0.2", "10.0.0.3", 10256)}, want: cloud.Deny, object: "sg-a ingress rule 1"},
		{name: "enterprise group: no inner access", groups: map[string]string{sgFile("sg-a"): group("sg-a", "Drop", "enterprise")},
			ingress: true, leg: cloud.Leg{From: "na", To: "nb", Packet: tcp("10.0.0.2", "10.0.0.3", 10256)}, want: cloud.Deny},
		{name: "basic group: egress allowed by default", groups: map[string]string{sgFile("sg-a"): basicA()},
			leg: cloud.Leg{From: "nb", Packet: tcp("10.0.0.3", "93.184.216.34", 443)}, want: cloud.Allow, msg: ""},
		{name: "enterprise group: egress denied by default", groups: map[string]string{sgFile("sg-a"): group("sg-a", "Drop", "enterprise")},
			leg: cloud.Leg{From: "nb", Packet: tcp("10.0.0.3", "93.184.216.34", 443)}, want: cloud.Deny, msg: "enterprise security group denies egress"},
		{name: "egress default unknown when the group type is not exported", groups: map[string]string{sgFile("sg-a"): group("sg-a", "Drop", "")},
			leg: cloud.Leg{From: "nb", Packet: tcp("10.0.0.3", "93.184.216.34", 443)}, want: cloud.Unknown, msg: "basic (allow) or enterprise (deny)"},
		{name: "egress drop rule", groups: map[string]string{sgFile("sg-a"): basicA(rule("egress", "drop", "TCP", "443/443", "cidr", "0.0.0.0/0", 1))},
			leg: cloud.Leg{From: "nb", Packet: tcp("10.0.0.3", "93.184.216.34", 443)}, want: cloud.Deny, object: "sg-a egress rule 1"},
		{name: "stateful: the reply passes an egress drop", groups: map[string]string{sgFile("sg-a"): basicA(rule("egress", "drop", "ALL", "-1/-1", "cidr", "0.0.0.0/0", 1))},
			leg: cloud.Leg{From: "nb", Reply: true, Packet: tcp("10.0.0.3", "203.0.113.1", 40000)}, want: cloud.Allow, msg: "stateful"},
		{name: "stateful: the reply passes ingress with no rule", groups: map[string]string{sgFile("sg-a"): basicA()},
			ingress: true, leg: cloud.Leg{To: "nb", Reply: true, Packet: tcp("203.0.113.1", "10.0.0.3", 40000)}, want: cloud.Allow, msg: "stateful"},
		{name: "group reference admits a Terway pod's secondary IP", groups: map[string]string{sgFile("sg-a"): basicA(rule("ingress", "accept", "TCP", "8080/8080", "group", "sg-pod", 1))},
			ingress: true, leg: cloud.Leg{To: "nb", Packet: tcp("10.0.1.10", "10.0.0.3", 8080)}, want: cloud.Allow, object: "sg-a ingress rule 1"},
		{name: "group reference does not admit a non-member", groups: map[string]string{sgFile("sg-a"): basicA(rule("ingress", "accept", "TCP", "8080/8080", "group", "sg-pod", 1)), sgFile("sg-c"): group("sg-c", "Accept", "")},
			ingress: true, leg: cloud.Leg{To: "nb", Packet: tcp("10.0.0.4", "10.0.0.3", 8080)}, want: cloud.Deny},
		{name: "a Terway pod is judged by its own ENI's groups", groups: map[string]string{sgFile("sg-pod"): group("sg-pod", "Accept", "", rule("ingress", "accept", "TCP", "8080/8080", "cidr", "10.0.0.0/24", 1))},
			ingress: true, leg: cloud.Leg{To: "nb", Packet: tcp("10.0.0.2", "10.0.1.10", 8080)}, want: cloud.Allow, object: "sg-pod ingress rule 1"},
		{name: "prefix list exported", groups: map[string]string{sgFile("sg-a"): basicA(rule("ingress", "accept", "TCP", "443/443", "prefix", "pl-office", 1)),
			DirPrefixLists + "/pl-office.json": `{"Entries": {"Entry": [{"Cidr": "203.0.113.0/24"}]}}`},
			ingress: true, leg: cloud.Leg{To: "nb", Packet: tcp("203.0.113.1", "10.0.0.3", 443)}, want: cloud.Allow, object: "sg-a ingress rule 1"},
		{name: "prefix list missing: unknown", groups: map[string]string{sgFile("sg-a"): basicA(rule("ingress", "accept", "TCP", "443/443", "prefix", "pl-office", 1))},
			ingress: true, leg: cloud.Leg{To: "nb", Packet: tcp("203.0.113.1", "10.0.0.3", 443)}, want: cloud.Unknown, msg: "DescribePrefixListAttributes/pl-office.json"},
		{name: "one group of two missing: unknown", groups: map[string]string{sgFile("sg-a"): basicA(rule("ingress", "accept", "TCP", "443/443", "cidr", "0.0.0.0/0", 3))},
			ingress: true, leg: cloud.Leg{To: "na", Packet: tcp("203.0.113.1", "10.0.0.2", 443)}, want: cloud.Unknown, msg: "DescribeSecurityGroupAttribute/sg-b.json"},
		{name: "ICMP rule with -1/-1", groups: map[string]string{sgFile("sg-a"): basicA(rule("ingress", "accept", "ICMP", "-1/-1", "cidr", "0.0.0.0/0", 1))},
			ingress: true, leg: cloud.Leg{To: "nb", Packet: packet.Packet{Src: tcp("203.0.113.1", "10.0.0.3", 0).Src, Dst: tcp("203.0.113.1", "10.0.0.3", 0).Dst, Proto: packet.ICMP}}, want: cloud.Allow, object: "rule 1"},
		{name: "GRE rule does not cover TCP", groups: map[string]string{sgFile("sg-a"): basicA(rule("ingress", "accept", "GRE", "-1/-1", "cidr", "0.0.0.0/0", 1))},
			ingress: true, leg: cloud.Leg{To: "nb", Packet: tcp("203.0.113.1", "10.0.0.3", 80)}, want: cloud.Deny},
		{name: "GRE rule covers GRE", groups: map[string]string{sgFile("sg-a"): basicA(rule("ingress", "accept", "GRE", "-1/-1", "cidr", "0.0.0.0/0", 1))},
			ingress: true, leg: cloud.Leg{To: "nb", Packet: packet.Packet{Src: tcp("203.0.113.1", "10.0.0.3", 0).Src, Dst: tcp("203.0.113.1", "10.0.0.3", 0).Dst, Proto: GRE}}, want: cloud.Allow},
		{name: "an internet NicType rule does not apply in a VPC", groups: map[string]string{sgFile("sg-a"): basicA(strings.Replace(rule("ingress", "accept", "TCP", "80/80", "cidr", "0.0.0.0/0", 1), "intranet", "internet", 1))},
			ingress: true, leg: cloud.Leg{To: "nb", Packet: tcp("203.0.113.1", "10.0.0.3", 80)}, want: cloud.Deny},
		{name: "TCP 25 to the internet is restricted whatever the rules", groups: map[string]string{sgFile("sg-a"): basicA(rule("egress", "accept", "ALL", "-1/-1", "cidr", "0.0.0.0/0", 1))},
			leg: cloud.Leg{From: "nb", Packet: tcp("10.0.0.3", "93.184.216.34", 25)}, want: cloud.Deny, msg: "port 25"},
		{name: "TCP 25 inside the VPC is judged by the rules", groups: map[string]string{sgFile("sg-a"): basicA()},
			leg: cloud.Leg{From: "nb", Packet: tcp("10.0.0.3", "10.0.0.2", 25)}, want: cloud.Allow},
		{name: "an IPv6 rule does not admit IPv4", groups: map[string]string{sgFile("sg-a"): basicA(strings.Replace(rule("ingress", "accept", "TCP", "80/80", "cidr", "::/0", 1), "SourceCidrIp", "Ipv6SourceCidrIp", 1))},
			ingress: true, leg: cloud.Leg{To: "nb", Packet: tcp("203.0.113.1", "10.0.0.3", 80)}, want: cloud.Deny, msg: "the default ingress rule denies"},
		{name: "a rule without a peer is unknown, not all addresses", groups: map[string]string{sgFile("sg-a"): basicA(strings.Replace(rule("ingress", "accept", "TCP", "80/80", "cidr", "0.0.0.0/0", 1), `"SourceCidrIp": "0.0.0.0/0", `, "", 1))},
			ingress: true, leg: cloud.Leg{To: "nb", Packet: tcp("203.0.113.1", "10.0.0.3", 80)}, want: cloud.Unknown, msg: "names no peer netsim reads"},
		{name: "no group file at all: unknown naming the file", groups: map[string]string{},
			ingress: true, leg: cloud.Leg{To: "nb", Packet: tcp("203.0.113.1", "10.0.0.3", 80)}, want: cloud.Unknown, msg: "cloud/alibaba/DescribeSecurityGroupAttribute/sg-a.json"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := provider(t, c.groups)
			var ds []cloud.Decision
			if c.ingress {
				ds = p.Ingress(c.leg)
			} else {
				ds = p.Egress(c.leg)
			}
			d := last(ds)
			if d.Verdict != c.want || !strings.Contains(d.Object, c.object) || !strings.Contains(d.Message+d.Note+d.Text, c.msg) {
				t.Errorf("got %s %q %q (%s)\nwant %s %q %q", d.Verdict, d.Object, d.Message+d.Note+d.Text, verdicts(ds), c.want, c.object, c.msg)
			}
			if d.Verdict != cloud.Unknown && !c.leg.Reply && d.Pos.IsZero() {
				t.Errorf("decision cites no file: %+v", d)
			}
		})
	}
}

// TestSecurityGroupFix: a denial names the group and the rule that would be needed,
// as an aliyun command.
func TestAlibabaSecurityGroupFix(t *testing.T) {
	p := provider(t, map[string]string{sgFile("sg-a"): group("sg-a", "Accept", "")})
	d := last(p.Ingress(cloud.Leg{To: "nb", Packet: tcp("198.51.100.7", "10.0.0.3", 30080)}))
	want := "ingress TCP 30000/32767 from 0.0.0.0/0 on sg-a: aliyun ecs AuthorizeSecurityGroup --RegionId <region> --SecurityGroupId sg-a --IpProtocol tcp --PortRange 30000/32767 --SourceCidrIp 0.0.0.0/0 --Policy accept --Priority 1"
	if d.Verdict != cloud.Deny || !strings.HasPrefix(d.Fix, want) {
		t.Errorf("fix %q\nwant prefix %q", d.Fix, want)
	}
	d = last(p.Ingress(cloud.Leg{From: "na", To: "nb", Packet: tcp("10.244.1.5", "10.0.0.3", 8080)}))
	if !strings.Contains(d.Fix, "--SourceCidrIp 10.244.0.0/16") || !strings.Contains(d.Message, "pod CIDR 10.244.0.0/16") {
		t.Errorf("pod source: %q / %q", d.Message, d.Fix)
	}
	p = provider(t, map[string]string{sgFile("sg-a"): group("sg-a", "Accept", "", rule("ingress", "drop", "TCP", "1/65535", "cidr", "10.0.0.0/8", 7)), sgFile("sg-c"): group("sg-c", "Accept", "")})
	d = last(p.Ingress(cloud.Leg{To: "nb", Packet: tcp("10.0.0.4", "10.0.0.3", 9000)}))
	if !strings.Contains(d.Fix, "--SourceGroupId sg-c") || !strings.Contains(d.Fix, "--Priority 6") {
		t.Errorf("peer group fix %q", d.Fix)
	}
}

// TestAlibabaSecondaryENIGroups: without DescribeNetworkInterfaces, a secondary ENI that
// DescribeInstances lists has no known groups (the instance's are its primary ENI's):
// a pod on it is judged unknown, never by the node's groups.
func TestAlibabaSecondaryENIGroups(t *testing.T) {
	inst := strings.Replace(instancesJSON, `"SecurityGroupIds": {"SecurityGroupId": ["sg-a"]}},`,
		`"SecurityGroupIds": {"SecurityGroupId": ["sg-a"]}, "NetworkInterfaces": {"NetworkInterface": [{"NetworkInterfaceId": "eni-b", "Type": "Primary", "PrimaryIpAddress": "10.0.0.3"},
  {"NetworkInterfaceId": "eni-t", "Type": "Secondary", "PrimaryIpAddress": "10.0.1.9", "PrivateIpSets": {"PrivateIpSet": [{"PrivateIpAddress": "10.0.1.10"}]}}]}},`, 1)
	p := provider(t, map[string]string{FileInstances: inst, FileNICs: "", sgFile("sg-a"): group("sg-a", "Accept", "", rule("ingress", "accept", "ALL", "-1/-1", "cidr", "0.0.0.0/0", 1))})
	d := last(p.Ingress(cloud.Leg{To: "nb", Packet: tcp("10.0.0.2", "10.0.1.10", 8080)}))
	if d.Verdict != cloud.Unknown || !strings.Contains(d.Message, "DescribeNetworkInterfaces.json") {
		t.Errorf("pod on a secondary ENI: %s %q", d.Verdict, d.Message)
	}
	if d := last(p.Ingress(cloud.Leg{To: "nb", Packet: tcp("10.0.0.2", "10.0.0.3", 8080)})); d.Verdict != cloud.Allow {
		t.Errorf("the node's primary ENI: %s %q", d.Verdict, d.Message)
	}
}
