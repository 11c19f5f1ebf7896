package tencent

import (
	"testing"

	"github.com/netsim/netsim/cloud"
	"github.com/netsim/netsim/rules/packet"
)

// Each row is a packet against a group sequence: the first policy that matches, in
// binding order and PolicyIndex order, decides.
func TestTencentEvalGroups(t *testing.T) {
	files := fixture()
	files[FileAddrTemplates] = `{"AddressTemplateSet": [{"AddressTemplateId": "ipm-web", "AddressSet": ["10.0.9.1", "10.0.8.0/24", "10.0.7.10-10.0.7.20"]}]}`
	x := parse(t, files)
	cases := []struct {
		name    string
		groups  []string
		ingress bool
		pk      packet.Packet
		want    string // "group/index" of the deciding policy, "deny" for none, "unknown"
		accept  bool
	}{
		{"drop before a later accept in one group", []string{"sg-node", "sg-base"}, true, tcp("10.0.1.12", "10.0.1.11", 22), "sg-node/0", false},
		{"group reference admits a member", []string{"sg-node", "sg-base"}, true, tcp("10.0.1.12", "10.0.1.11", 8080), "sg-node/1", true},
		{"group reference: a non-member falls through to the next group", []string{"sg-node", "sg-base"}, true, tcp("10.0.2.20", "10.0.1.11", 30080), "sg-base/2", true},
		{"port list", []string{"sg-node", "sg-base"}, true, tcp("198.51.100.1", "10.0.1.11", 443), "sg-node/2", true},
		{"port range inside", []string{"sg-node", "sg-base"}, true, udp("10.5.0.1", "10.0.1.11", 20000), "sg-node/3", true},
		{"port range outside, protocol differs", []string{"sg-node", "sg-base"}, true, tcp("10.5.0.1", "10.0.1.11", 20000), "deny", false},
		{"binding order: the first group's drop wins over the second's accept", []string{"sg-node", "sg-base"}, true, tcp("10.0.0.5", "10.0.1.11", 22), "sg-node/0", false},
		{"binding order reversed: the accept comes first", []string{"sg-base", "sg-node"}, true, tcp("10.0.0.5", "10.0.1.11", 22), "sg-base/0", true},
		{"ICMP", []string{"sg-node", "sg-base"}, true, proto("198.51.100.1", "10.0.1.11", packet.ICMP), "sg-base/1", true},
		{"GRE", []string{"sg-base"}, true, proto("10.0.0.9", "10.0.1.11", 47), "sg-base/3", true},
		{"no match is a deny", []string{"sg-base"}, true, tcp("198.51.100.1", "10.0.1.11", 8443), "deny", false},
		{"egress: the first group accepts", []string{"sg-node", "sg-base"}, false, tcp("10.0.1.11", "93.184.216.34", 443), "sg-node/0", true},
		{"egress: the drop group first", []string{"sg-base", "sg-node"}, false, tcp("10.0.1.11", "93.184.216.34", 443), "sg-base/0", false},
		{"address template inside a range", []string{"sg-pod"}, true, tcp("10.0.7.15", "10.0.1.50", 8080), "sg-pod/0", true},
		{"address template outside", []string{"sg-pod"}, true, tcp("10.0.7.21", "10.0.1.50", 8080), "deny", false},
		{"a group without its export", []string{"sg-gone", "sg-node"}, true, tcp("10.0.1.12", "10.0.1.11", 8080), "unknown", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			peer := c.pk.Src
			if !c.ingress {
				peer = c.pk.Dst
			}
			ev := x.EvalGroups(c.groups, c.ingress, c.pk, peer)
			got := "deny"
			switch {
			case ev.Unknown != "":
				got = "unknown"
			case ev.Policy != nil:
				got = ev.Policy.Group + "/" + itoa(ev.Policy.Index)
				if ev.Policy.Accept != c.accept {
					t.Errorf("%s: accept %v, want %v", got, ev.Policy.Accept, c.accept)
				}
			}
			if got != c.want {
				t.Errorf("decided by %s (%s), want %s", got, ev.Unknown, c.want)
			}
		})
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	s := ""
	for ; i > 0; i /= 10 {
		s = string(rune('0'+i%10)) + s
	}
	return s
}

// A policy that cannot be evaluated before any that decides makes the outcome unknown,
// naming the file; one after the deciding policy does not matter.
func TestTencentEvalUnknownTemplates(t *testing.T) {
	x := parse(t, fixture()) // no DescribeAddressTemplates.json
	ev := x.EvalGroups([]string{"sg-pod"}, true, tcp("10.0.7.15", "10.0.1.50", 8080), netipAddr("10.0.7.15"))
	if ev.Unknown == "" || !has(ev.Unknown, "DescribeAddressTemplates.json") || !has(ev.Unknown, "ipm-web") {
		t.Errorf("unknown %q, want it to name ipm-web and DescribeAddressTemplates.json", ev.Unknown)
	}
	// The template's port does not cover 9090: the policy cannot match, whatever the template holds.
	if ev := x.EvalGroups([]string{"sg-pod"}, true, tcp("10.0.7.15", "10.0.1.50", 9090), netipAddr("10.0.7.15")); ev.Unknown != "" || ev.Policy != nil {
		t.Errorf("port 9090: %+v, want a plain deny", ev)
	}
	files := fixture()
	files[DirPolicies+"/sg-svc.json"] = `{"SecurityGroupPolicySet": {"Ingress": [{"PolicyIndex": 0, "ServiceTemplate": {"ServiceId": "ppm-1"}, "CidrBlock": "0.0.0.0/0", "Action": "ACCEPT"}]}}`
	x = parse(t, files)
	if ev := x.EvalGroups([]string{"sg-svc"}, true, tcp("1.2.3.4", "10.0.1.11", 80), netipAddr("1.2.3.4")); !has(ev.Unknown, "service template ppm-1") {
		t.Errorf("service template: %+v", ev)
	}
	// A group reference without the interfaces exported: membership is not known.
	files = fixture()
	delete(files, FileENIs)
	x = parse(t, files)
	if ev := x.EvalGroups([]string{"sg-db"}, true, tcp("10.0.1.99", "10.0.2.20", 5432), netipAddr("10.0.1.99")); !has(ev.Unknown, "DescribeNetworkInterfaces.json") {
		t.Errorf("reference without ENIs: %+v", ev)
	}
	// An instance's own address is known from DescribeInstances.
	if ev := x.EvalGroups([]string{"sg-db"}, true, tcp("10.0.1.11", "10.0.2.20", 5432), netipAddr("10.0.1.11")); ev.Policy == nil || !ev.Policy.Accept {
		t.Errorf("member instance: %+v", ev)
	}
}

// Security groups are stateful: a reply passes both ways without a policy.
func TestTencentStatefulReplies(t *testing.T) {
	p := provider(t, fixture())
	// Egress of sg-base alone would drop it; node b's groups start with sg-node, which accepts all egress.
	back := tcp("10.0.1.11", "198.51.100.1", 40000)
	back.Reply = true
	l := cloud.Leg{From: "a", Packet: back, Reply: true}
	if d := last(t, p.Egress(l)); d.Verdict != cloud.Allow || !has(d.Note, "stateful") {
		t.Errorf("reply egress: %+v", d)
	}
	in := tcp("198.51.100.1", "10.0.1.11", 8443) // no ingress policy admits it as a request
	if d := last(t, p.Ingress(cloud.Leg{To: "a", Packet: in})); d.Verdict != cloud.Deny {
		t.Errorf("request: %+v", d)
	}
	in.Reply = true
	if d := last(t, p.Ingress(cloud.Leg{To: "a", Packet: in, Reply: true})); d.Verdict != cloud.Allow {
		t.Errorf("reply ingress: %+v", d)
	}
}

// The deny names the policy and proposes one with tccli, before the policy that dropped.
func TestTencentDenyMessages(t *testing.T) {
	p := provider(t, fixture())
	d := last(t, p.Ingress(cloud.Leg{From: "b", To: "a", Packet: tcp("10.0.1.12", "10.0.1.11", 22)}))
	if d.Verdict != cloud.Deny || d.Object != "securitygroup/sg-node ingress policy 0" || d.Pos.Line != 4 {
		t.Fatalf("%+v", d)
	}
	if !has(d.Fix, `--SecurityGroupId sg-node`) || !has(d.Fix, `"PolicyIndex":0`) || !has(d.Fix, `"SecurityGroupId":"sg-node"`) {
		t.Errorf("fix %q", d.Fix)
	}
	// A node port from the internet: the proposal is the whole node port range.
	d = last(t, p.Ingress(cloud.Leg{To: "a", Packet: tcp("198.51.100.1", "10.0.1.11", 8443)}))
	if d.Verdict != cloud.Deny || !has(d.Message, "no ingress policy of sg-node, sg-base") {
		t.Errorf("%+v", d)
	}
	d = last(t, p.Ingress(cloud.Leg{To: "a", Packet: udp("198.51.100.1", "10.0.1.11", 31000)}))
	if !has(d.Fix, "ingress UDP 30000-32767 from 0.0.0.0/0 on sg-node") {
		t.Errorf("fix %q", d.Fix)
	}
}
