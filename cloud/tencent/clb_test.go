package tencent

import (
	"sort"
	"testing"

	"github.com/netsim/netsim/cloud"
)

func branches(es []cloud.Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Branch)
	}
	sort.Strings(out)
	return out
}

func entryVerdict(e cloud.Entry) cloud.Verdict {
	for _, d := range e.Decisions {
		if d.Blocks() {
			return d.Verdict
		}
	}
	return cloud.Allow
}

// CLB: the listener on the port and protocol, then each healthy target; a rule whose
// targets are all unhealthy fails open with a warning; layer 7 per rule.
func TestTencentCLB(t *testing.T) {
	p := provider(t, fixture())
	// Layer 4: ins-b is unhealthy, so only ins-a gets the packet.
	es, ok := p.Inbound(tcp("198.51.100.7", "203.0.113.10", 80))
	if !ok || len(es) != 1 || es[0].Node != "a" || es[0].Packet.DPort != 30080 || es[0].Packet.Src.String() != "198.51.100.7" {
		t.Fatalf("listener 80: %+v", es)
	}
	if v := entryVerdict(es[0]); v != cloud.Allow {
		t.Errorf("listener 80 target: %v %+v", v, es[0].Decisions)
	}
	if th := es[0].Decisions[len(es[0].Decisions)-2]; !has(th.Note, "not chosen: ins-b:30080 Dead") {
		t.Errorf("target hop %+v", th)
	}
	back, bd := es[0].Back(tcp("10.0.1.11", "198.51.100.7", 40000))
	if back.Src.String() != "203.0.113.10" || back.SPort != 80 || len(bd) != 1 {
		t.Errorf("reply %v %+v", back, bd)
	}
	// No listener on 81.
	es, _ = p.Inbound(tcp("198.51.100.7", "203.0.113.10", 81))
	if len(es) != 1 || entryVerdict(es[0]) != cloud.Deny || !has(es[0].Decisions[0].Message, "80/TCP, 8000/HTTP") {
		t.Errorf("no listener: %+v", es)
	}
	// UDP on a TCP listener's port is no listener either.
	if es, _ = p.Inbound(udp("198.51.100.7", "203.0.113.10", 80)); entryVerdict(es[0]) != cloud.Deny {
		t.Errorf("udp 80: %+v", es)
	}
	// Layer 7: rule a fails open (both targets Dead), rule b goes to the VPC-CNI pod's ENI IP.
	es, _ = p.Inbound(tcp("198.51.100.7", "203.0.113.10", 8000))
	want := []string{
		"CLB lb-1 8000/HTTP rule a.example.com / target ins-a (node a)",
		"CLB lb-1 8000/HTTP rule a.example.com / target ins-b (node b)",
		"CLB lb-1 8000/HTTP rule b.example.com /api target 10.0.1.50 (node b)",
	}
	if got := branches(es); len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("branches %q", got)
	}
	warned := false
	for _, d := range es[0].Decisions {
		warned = warned || (d.Warning && d.Code == "tencent-clb-fail-open")
	}
	if !warned {
		t.Errorf("no fail-open warning: %+v", es[0].Decisions)
	}
	for _, e := range es {
		if has(e.Branch, "10.0.1.50") && (e.Packet.Dst.String() != "10.0.1.50" || entryVerdict(e) != cloud.Unknown) {
			// sg-pod's address template is not exported.
			t.Errorf("pod target: %+v", e)
		}
	}
}

func TestTencentCLBStates(t *testing.T) {
	// INTERNAL: not from the internet; from inside the VPC, and PassToTarget skips the targets' groups.
	p := provider(t, fixture())
	es, _ := p.Inbound(udp("198.51.100.7", "10.0.1.200", 53))
	if entryVerdict(es[0]) != cloud.Deny || es[0].Decisions[0].Code != "tencent-clb-internal" {
		t.Errorf("internal from outside: %+v", es)
	}
	es, _ = p.Inbound(udp("10.0.2.20", "10.0.1.200", 53))
	if len(es) != 1 || entryVerdict(es[0]) != cloud.Allow || es[0].Node != "b" || !has(last(t, es[0].Decisions).Note, "do not judge") {
		t.Errorf("internal from the VPC: %+v", es)
	}
	// Status 0 (creating), no targets, missing exports.
	files := fixture()
	files[FileLBs] = `{"LoadBalancerSet": [{"LoadBalancerId": "lb-1", "LoadBalancerType": "OPEN", "Status": 0, "LoadBalancerVips": ["203.0.113.10"]}]}`
	p = provider(t, files)
	if es, _ := p.Inbound(tcp("198.51.100.7", "203.0.113.10", 80)); es[0].Decisions[0].Code != "tencent-clb-status" {
		t.Errorf("status 0: %+v", es)
	}
	files = fixture()
	files[FileTargetHealth] = `{"LoadBalancers": [{"LoadBalancerId": "lb-1", "Listeners": []}]}`
	p = provider(t, files)
	if es, _ := p.Inbound(tcp("198.51.100.7", "203.0.113.10", 80)); last(t, es[0].Decisions).Code != "tencent-clb-no-targets" {
		t.Errorf("no targets: %+v", es)
	}
	for _, c := range []struct{ drop, want string }{
		{DirListeners + "/lb-1.json", "DescribeListeners/lb-1.json"},
		{FileTargetHealth, "DescribeTargetHealth.json"},
	} {
		files := fixture()
		delete(files, c.drop)
		p := provider(t, files)
		es, _ := p.Inbound(tcp("198.51.100.7", "203.0.113.10", 80))
		if d := last(t, es[0].Decisions); d.Verdict != cloud.Unknown || !has(d.Message, c.want) {
			t.Errorf("without %s: %+v", c.drop, d)
		}
	}
}

// A node's public IP: translated to its private IP, judged by its groups.
func TestTencentPublicIPInbound(t *testing.T) {
	p := provider(t, fixture())
	es, ok := p.Inbound(tcp("198.51.100.7", "203.0.113.11", 30080))
	if !ok || len(es) != 1 || es[0].Node != "a" || es[0].Packet.Dst.String() != "10.0.1.11" || entryVerdict(es[0]) != cloud.Allow {
		t.Fatalf("%+v", es)
	}
	es, _ = p.Inbound(tcp("198.51.100.7", "203.0.113.11", 22))
	if entryVerdict(es[0]) != cloud.Deny || es[0].Node != "" {
		t.Errorf("ssh: %+v", es)
	}
	if _, ok := p.Inbound(tcp("198.51.100.7", "203.0.113.250", 80)); ok {
		t.Error("an unknown address is not the provider's")
	}
	if es, ok := p.Inbound(tcp("198.51.100.7", "203.0.113.100", 80)); !ok || entryVerdict(es[0]) != cloud.Unknown {
		t.Errorf("NAT gateway's IP: %+v", es)
	}
}

// The CLB's own security groups (fed by the Service's loadBalancerSourceRanges) judge
// the client before any target.
func TestTencentCLBGroups(t *testing.T) {
	files := fixture()
	files[FileLBs] = `{"LoadBalancerSet": [{"LoadBalancerId": "lb-1", "LoadBalancerType": "OPEN", "Status": 1, "LoadBalancerVips": ["203.0.113.10"], "SecureGroups": ["sg-clb"]}]}`
	files[DirPolicies+"/sg-clb.json"] = `{"SecurityGroupPolicySet": {"Ingress": [{"PolicyIndex": 0, "Protocol": "TCP", "Port": "80", "CidrBlock": "192.0.2.0/24", "Action": "ACCEPT"}]}}`
	p := provider(t, files)
	es, _ := p.Inbound(tcp("192.0.2.9", "203.0.113.10", 80))
	if len(es) != 1 || entryVerdict(es[0]) != cloud.Allow || es[0].Decisions[2].Object != "securitygroup/sg-clb ingress policy 0" {
		t.Errorf("allowed range: %+v", es)
	}
	es, _ = p.Inbound(tcp("198.51.100.7", "203.0.113.10", 80))
	if d := last(t, es[0].Decisions); len(es) != 1 || d.Verdict != cloud.Deny || !has(d.Message, "CLB lb-1") || !has(d.Fix, "--SecurityGroupId sg-clb") {
		t.Errorf("outside the range: %+v", es)
	}
}

// A port range listener (Port-EndPort) takes the ports of its range: not "no listener",
// and, as netsim does not follow it to a target port, unknown.
func TestTencentCLBPortRange(t *testing.T) {
	files := fixture()
	files[DirListeners+"/lb-1.json"] = `{"Listeners": [{"ListenerId": "lbl-r", "Protocol": "TCP", "Port": 9000, "EndPort": 9100}]}`
	p := provider(t, files)
	es, _ := p.Inbound(tcp("198.51.100.7", "203.0.113.10", 9050))
	if len(es) != 1 {
		t.Fatalf("%+v", es)
	}
	d := es[0].Decisions[len(es[0].Decisions)-1]
	if d.Verdict != cloud.Unknown || !has(d.Message, "port range 9000-9100") || d.Pos.IsZero() {
		t.Errorf("port 9050 of listener 9000-9100: %+v", d)
	}
	if es, _ = p.Inbound(tcp("198.51.100.7", "203.0.113.10", 9101)); entryVerdict(es[0]) != cloud.Deny {
		t.Errorf("port 9101 is outside the range: %+v", es)
	}
}
