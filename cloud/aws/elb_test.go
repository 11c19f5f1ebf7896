package aws

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/netsim/netsim/cloud"
	"github.com/netsim/netsim/model/source"
)

// An Application Load Balancer "web" (its interface 10.0.1.200, public 203.0.113.80) in
// front of nodes n1 (i-1, eni-n1 10.0.1.10 with the VPC CNI pod IP 10.0.1.20) and n2
// (i-2, eni-n2 10.0.1.11). Listener 80 has rules: 10 host api.example.com -> tg-api (IP
// targets: the pod), 20 source-ip 198.51.100.0/24 -> tg-web weight 3 + tg-canary weight
// 1 + tg-dark weight 0, default -> fixed-response 404. Listener 8080 forwards to tg-web
// by default, and its rules export has only the default rule.
const (
	elbENIs = `{"NetworkInterfaces": [
 {"NetworkInterfaceId": "eni-n1", "SubnetId": "subnet-a", "VpcId": "vpc-1", "PrivateIpAddress": "10.0.1.10", "Attachment": {"InstanceId": "i-1", "DeviceIndex": 0},
  "PrivateIpAddresses": [{"PrivateIpAddress": "10.0.1.10", "Primary": true}, {"PrivateIpAddress": "10.0.1.20"}], "Groups": [{"GroupId": "sg-node"}]},
 {"NetworkInterfaceId": "eni-n2", "SubnetId": "subnet-a", "VpcId": "vpc-1", "PrivateIpAddress": "10.0.1.11", "Attachment": {"InstanceId": "i-2", "DeviceIndex": 0},
  "Groups": [{"GroupId": "sg-node"}]},
 {"NetworkInterfaceId": "eni-alb", "SubnetId": "subnet-a", "VpcId": "vpc-1", "PrivateIpAddress": "10.0.1.200", "Description": "ELB app/web/abc",
  "Association": {"PublicIp": "203.0.113.80"}, "Groups": [{"GroupId": "sg-alb"}]}
]}`
	elbInstances = `{"Reservations": [{"Instances": [
 {"InstanceId": "i-1", "SubnetId": "subnet-a", "VpcId": "vpc-1", "PrivateIpAddress": "10.0.1.10"},
 {"InstanceId": "i-2", "SubnetId": "subnet-a", "VpcId": "vpc-1", "PrivateIpAddress": "10.0.1.11"}]}]}`
	elbGroups = `{"SecurityGroups": [
 {"GroupId": "sg-alb", "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
  {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]},
 {"GroupId": "sg-node", "IpPermissions": [{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": "sg-alb"}]}]}
]}`
	elbACLs = `{"NetworkAcls": [{"NetworkAclId": "acl-1", "VpcId": "vpc-1", "IsDefault": true, "Associations": [{"SubnetId": "subnet-a"}],
  "Entries": [{"RuleNumber": 100, "Egress": false, "Protocol": "-1", "RuleAction": "allow", "CidrBlock": "0.0.0.0/0"},
   {"RuleNumber": 100, "Egress": true, "Protocol": "-1", "RuleAction": "allow", "CidrBlock": "0.0.0.0/0"}]}]}`
	elbLBs = `{"LoadBalancers": [{"LoadBalancerArn": "arn:lb/app/web/abc", "LoadBalancerName": "web", "Type": "application", "Scheme": "internet-facing",
  "State": {"Code": "active"}, "VpcId": "vpc-1", "SecurityGroups": ["sg-alb"], "AvailabilityZones": [{"SubnetId": "subnet-a"}]}]}`
	elbListeners = `{"Listeners": [
 {"ListenerArn": "arn:listener/app/web/abc/l80", "LoadBalancerArn": "arn:lb/app/web/abc", "Port": 80, "Protocol": "HTTP",
  "DefaultActions": [{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404", "ContentType": "text/plain"}}]},
 {"ListenerArn": "arn:listener/app/web/abc/l8080", "LoadBalancerArn": "arn:lb/app/web/abc", "Port": 8080, "Protocol": "HTTP",
  "DefaultActions": [{"Type": "forward", "TargetGroupArn": "arn:tg/web"}]}
]}`
	elbRules80 = `{"Rules": [
 {"RuleArn": "arn:rule/default", "Priority": "default", "IsDefault": true, "Conditions": [],
  "Actions": [{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404", "ContentType": "text/plain"}}]},
 {"RuleArn": "arn:rule/20", "Priority": "20", "Conditions": [{"Field": "source-ip", "SourceIpConfig": {"Values": ["198.51.100.0/24"]}}],
  "Actions": [{"Type": "forward", "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": "arn:tg/web", "Weight": 3}, {"TargetGroupArn": "arn:tg/canary", "Weight": 1}, {"TargetGroupArn": "arn:tg/dark", "Weight": 0}]}}]},
 {"RuleArn": "arn:rule/10", "Priority": "10", "Conditions": [{"Field": "host-header", "HostHeaderConfig": {"Values": ["api.example.com"]}}],
  "Actions": [{"Type": "forward", "TargetGroupArn": "arn:tg/api"}]}
]}`
	elbTGs = `{"TargetGroups": [
 {"TargetGroupArn": "arn:tg/api", "TargetGroupName": "api", "Protocol": "HTTP", "Port": 8080, "TargetType": "ip", "VpcId": "vpc-1"},
 {"TargetGroupArn": "arn:tg/web", "TargetGroupName": "web", "Protocol": "HTTP", "Port": 30080, "TargetType": "instance", "VpcId": "vpc-1"},
 {"TargetGroupArn": "arn:tg/canary", "TargetGroupName": "canary", "Protocol": "HTTP", "Port": 30081, "TargetType": "instance", "VpcId": "vpc-1"},
 {"TargetGroupArn": "arn:tg/dark", "TargetGroupName": "dark", "Protocol": "HTTP", "Port": 30082, "TargetType": "instance", "VpcId": "vpc-1"}
]}`
)

func elbFiles() map[string]string {
	return map[string]string{
		FileENIs: elbENIs, FileInstances: elbInstances, FileGroups: elbGroups, FileACLs: elbACLs, FileLBs: elbLBs, FileListeners: elbListeners, FileTGs: elbTGs,
		DirRules + "/l80.json":           elbRules80,
		DirRules + "/l8080.json":         `{"Rules": [{"RuleArn": "arn:rule/d8080", "Priority": "default", "IsDefault": true, "Actions": [{"Type": "forward", "TargetGroupArn": "arn:tg/web"}]}]}`,
		DirTargetHealth + "/api.json":    `{"TargetHealthDescriptions": [{"Target": {"Id": "10.0.1.20", "Port": 8080}, "TargetHealth": {"State": "healthy"}}]}`,
		DirTargetHealth + "/web.json":    `{"TargetHealthDescriptions": [{"Target": {"Id": "i-1", "Port": 30080}, "TargetHealth": {"State": "healthy"}}, {"Target": {"Id": "i-2", "Port": 30080}, "TargetHealth": {"State": "unhealthy", "Reason": "Target.FailedHealthChecks"}}]}`,
		DirTargetHealth + "/canary.json": `{"TargetHealthDescriptions": [{"Target": {"Id": "i-2", "Port": 30081}, "TargetHealth": {"State": "healthy"}}]}`,
		DirTargetHealth + "/dark.json":   `{"TargetHealthDescriptions": [{"Target": {"Id": "i-1", "Port": 30082}, "TargetHealth": {"State": "healthy"}}]}`,
	}
}

func elbProvider(t *testing.T, mod func(map[string]string)) *Provider {
	t.Helper()
	files := elbFiles()
	if mod != nil {
		mod(files)
	}
	nodes := []cloud.Node{{Name: "n1", ProviderID: "aws:///us-east-1a/i-1", Addrs: []netip.Addr{netip.MustParseAddr("10.0.1.10")}},
		{Name: "n2", ProviderID: "aws:///us-east-1a/i-2", Addrs: []netip.Addr{netip.MustParseAddr("10.0.1.11")}}}
	return New(parse(t, files), nodes, nil)
}

// ways renders entries: per entry its node (or "-"), the packet it delivers (or the
// last decision's verdict and code).
func ways(es []cloud.Entry) []string {
	var out []string
	for _, e := range es {
		if e.Node != "" {
			out = append(out, e.Node+" "+e.Packet.DstAP().String())
			continue
		}
		d := e.Decisions[len(e.Decisions)-1]
		out = append(out, "- "+d.Verdict.String()+" "+d.Code)
	}
	return out
}

func TestListenerRules(t *testing.T) {
	cases := []struct {
		name     string
		mod      func(map[string]string)
		src      string
		port     uint16
		want     string
		branches string // the first entry's branch, when it matters
	}{
		{"host rule may match (the pod, an IP target); source-ip rule matches: its weighted groups; the default is never reached",
			nil, "198.51.100.7", 80, "n1 10.0.1.20:8080; n1 10.0.1.10:30080; n2 10.0.1.11:30081", "rule 10 (host-header api.example.com)"},
		{"source-ip rule does not match: the default answers itself",
			nil, "192.0.2.9", 80, "n1 10.0.1.20:8080; - deny aws-lb-fixed-response", ""},
		{"the default rule forwards (listener 8080)",
			nil, "192.0.2.9", 8080, "n1 10.0.1.10:30080", ""},
		{"an ALB listener without its describe-rules export: unknown",
			func(f map[string]string) { delete(f, DirRules+"/l80.json") }, "192.0.2.9", 80, "- unknown cloud-missing-data", ""},
		{"an authenticate action first: unknown",
			func(f map[string]string) {
				f[DirRules+"/l8080.json"] = `{"Rules": [{"Priority": "default", "IsDefault": true, "Actions": [{"Type": "authenticate-oidc", "Order": 1}, {"Type": "forward", "Order": 2, "TargetGroupArn": "arn:tg/web"}]}]}`
			}, "192.0.2.9", 8080, "- unknown cloud-unsupported", ""},
		{"a redirect",
			func(f map[string]string) {
				f[DirRules+"/l8080.json"] = `{"Rules": [{"Priority": "default", "IsDefault": true, "Actions": [{"Type": "redirect", "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}}]}]}`
			}, "192.0.2.9", 8080, "- deny aws-lb-redirect", ""},
		{"all weights 0",
			func(f map[string]string) {
				f[DirRules+"/l8080.json"] = `{"Rules": [{"Priority": "default", "IsDefault": true, "Actions": [{"Type": "forward", "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": "arn:tg/web", "Weight": 0}]}}]}]}`
			}, "192.0.2.9", 8080, "- deny aws-lb-no-targets", ""},
		{"an IP target no interface holds: unknown",
			func(f map[string]string) {
				f[DirTargetHealth+"/api.json"] = `{"TargetHealthDescriptions": [{"Target": {"Id": "10.0.9.9", "Port": 8080}, "TargetHealth": {"State": "healthy"}}]}`
			}, "192.0.2.9", 80, "- unknown cloud-node-unmapped; - deny aws-lb-fixed-response", ""},
		{"a weighted group's health export missing: that branch unknown, the other goes on",
			func(f map[string]string) { delete(f, DirTargetHealth+"/canary.json") }, "198.51.100.7", 80, "n1 10.0.1.20:8080; n1 10.0.1.10:30080; - unknown cloud-missing-data", ""},
	}
	for _, c := range cases {
		p := elbProvider(t, c.mod)
		es, ok := p.Inbound(tcp(c.src, "203.0.113.80", c.port))
		if !ok {
			t.Errorf("%s: the ALB's public address is not the provider's", c.name)
			continue
		}
		if got := strings.Join(ways(es), "; "); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
		if c.branches != "" && !strings.HasPrefix(es[0].Branch, c.branches) {
			t.Errorf("%s: branch %q", c.name, es[0].Branch)
		}
		// A listener's unknown or drop cites the rule or listener that decided.
		for _, e := range es {
			if d := e.Decisions[len(e.Decisions)-1]; d.Blocks() && strings.HasPrefix(d.Step, "aws listener") && d.Pos.IsZero() {
				t.Errorf("%s: %s %s cites no file: %+v", c.name, d.Step, d.Verdict, d)
			}
		}
	}
}

// The hops of the may-match and weighted branches say what they are; an ALB's targets
// see its own address as source, checked against the nodes' groups by the ALB's group.
func TestListenerRuleHops(t *testing.T) {
	p := elbProvider(t, nil)
	es, _ := p.Inbound(tcp("198.51.100.7", "203.0.113.80", 80))
	if len(es) != 3 {
		t.Fatalf("%d entries", len(es))
	}
	var may, web *cloud.Decision
	for i, d := range es[0].Decisions {
		if d.Step == "aws listener rule" {
			may = &es[0].Decisions[i]
		}
	}
	for i, d := range es[1].Decisions {
		if d.Step == "aws target group" {
			web = &es[1].Decisions[i]
		}
	}
	if may == nil || may.Action != "may match" || may.Blocks() || !strings.Contains(may.Note, "host-header api.example.com") || may.Pos.Line != 6 {
		t.Errorf("may-match hop %+v", may)
	}
	if web == nil || web.Note != "weight 3 of 4; weight 0, not chosen: dark" {
		t.Errorf("weighted hop %+v", web)
	}
	if !strings.Contains(es[1].Branch, "rule 20 (source-ip 198.51.100.0/24), target group web") {
		t.Errorf("branch %q", es[1].Branch)
	}
	for _, e := range es {
		if e.Packet.Src.String() != "10.0.1.200" {
			t.Errorf("%s: targets see %s, want the ALB's 10.0.1.200", e.Branch, e.Packet.Src)
		}
		last := e.Decisions[len(e.Decisions)-1]
		if last.Blocks() || !strings.Contains(last.Object, "sg-node") {
			t.Errorf("%s: last %+v", e.Branch, last)
		}
	}
}

func TestRuleParseErrors(t *testing.T) {
	cases := []struct{ file, text, want string }{
		{DirRules + "/l80.json", "{\"Rules\": [\n {\"RuleArn\": \"r\", \"Priority\": \"first\"}]}", "describe-rules/l80.json:2: rule r: Priority \"first\""},
		{DirRules + "/l80.json", "{\"Rules\": [\n\n {\"RuleArn\": \"r\", \"Priority\": \"1\", \"Conditions\": [{\"Field\": \"source-ip\", \"SourceIpConfig\": {\"Values\": [\"10.0.0.0/40\"]}}]}]}", "describe-rules/l80.json:3: rule r: source-ip \"10.0.0.0/40\" is not a CIDR"},
		{DirRules + "/nope.json", `{"Rules": []}`, "which describe-listeners does not list"},
		{DirRules + "/l80.json", `{"Rules": [{"Priority": 5}]}`, "Priority: want string"},
	}
	for _, c := range cases {
		fs := map[string]*source.File{}
		for n, text := range map[string]string{FileListeners: elbListeners, c.file: c.text} {
			fs[n] = source.NewFile("cloud/aws/"+n, []byte(text))
		}
		_, err := Parse("cloud/aws", fs)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %q: %v; want %q", c.file, c.text, err, c.want)
		}
	}
}

// An NLB keeps the client's address for instance targets and for IP targets over UDP,
// and (by default) replaces it with its own for IP targets over TCP.
func TestNLBClientIP(t *testing.T) {
	p := elbProvider(t, func(f map[string]string) {
		f[FileLBs] = `{"LoadBalancers": [{"LoadBalancerArn": "arn:lb/net/n/1", "LoadBalancerName": "n", "Type": "network", "Scheme": "internet-facing",
  "State": {"Code": "active"}, "VpcId": "vpc-1", "AvailabilityZones": [{"SubnetId": "subnet-a", "LoadBalancerAddresses": [{"IpAddress": "203.0.113.90", "PrivateIPv4Address": "10.0.1.90"}]}]}]}`
		f[FileListeners] = `{"Listeners": [
 {"ListenerArn": "arn:l/53", "LoadBalancerArn": "arn:lb/net/n/1", "Port": 53, "Protocol": "UDP", "DefaultActions": [{"Type": "forward", "TargetGroupArn": "arn:tg/dns"}]},
 {"ListenerArn": "arn:l/443", "LoadBalancerArn": "arn:lb/net/n/1", "Port": 443, "Protocol": "TCP", "DefaultActions": [{"Type": "forward", "TargetGroupArn": "arn:tg/tls"}]},
 {"ListenerArn": "arn:l/80", "LoadBalancerArn": "arn:lb/net/n/1", "Port": 80, "Protocol": "TCP", "DefaultActions": [{"Type": "forward", "TargetGroupArn": "arn:tg/web"}]}]}`
		f[FileTGs] = `{"TargetGroups": [
 {"TargetGroupArn": "arn:tg/dns", "TargetGroupName": "dns", "Protocol": "UDP", "Port": 5353, "TargetType": "ip"},
 {"TargetGroupArn": "arn:tg/tls", "TargetGroupName": "tls", "Protocol": "TCP", "Port": 8443, "TargetType": "ip"},
 {"TargetGroupArn": "arn:tg/web", "TargetGroupName": "web", "Protocol": "TCP", "Port": 30080, "TargetType": "instance"}]}`
		for _, n := range []string{"api", "canary", "dark"} {
			delete(f, DirTargetHealth+"/"+n+".json")
		}
		delete(f, DirRules+"/l80.json")
		delete(f, DirRules+"/l8080.json")
		f[DirTargetHealth+"/dns.json"] = `{"TargetHealthDescriptions": [{"Target": {"Id": "10.0.1.20", "Port": 5353}, "TargetHealth": {"State": "healthy"}}]}`
		f[DirTargetHealth+"/tls.json"] = `{"TargetHealthDescriptions": [{"Target": {"Id": "10.0.1.20", "Port": 8443}, "TargetHealth": {"State": "healthy"}}]}`
	})
	cases := []struct {
		pk   string
		port uint16
		want string // the source the target sees, and the target
	}{
		{"udp", 53, "198.51.100.7 -> 10.0.1.20:5353"},
		{"tcp", 443, "10.0.1.90 -> 10.0.1.20:8443"},
		{"tcp", 80, "198.51.100.7 -> 10.0.1.10:30080"},
	}
	for _, c := range cases {
		pk := tcp("198.51.100.7", "203.0.113.90", c.port)
		if c.pk == "udp" {
			pk = udp("198.51.100.7", "203.0.113.90", c.port)
		}
		es, ok := p.Inbound(pk)
		if !ok || len(es) != 1 || es[0].Node != "n1" {
			t.Fatalf("%s %d: %v %v", c.pk, c.port, ok, ways(es))
		}
		if got := es[0].Packet.Src.String() + " -> " + es[0].Packet.DstAP().String(); got != c.want {
			t.Errorf("%s %d: %s, want %s", c.pk, c.port, got, c.want)
		}
	}
}
