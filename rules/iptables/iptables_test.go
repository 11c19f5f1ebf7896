package iptables

import (
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/netsim/netsim/model/source"
	"github.com/netsim/netsim/rules/packet"
)

func mustParse(t testing.TB, name, text string, v6 bool) *Ruleset {
	t.Helper()
	rs, err := Parse(source.NewFile(name, []byte(text)), v6)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func loadFile(t testing.TB, path string) *Ruleset {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return mustParse(t, path, string(data), false)
}

func tcp(src, dst string, sport, dport uint16) packet.Packet {
	return packet.Packet{Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst), Proto: packet.TCP, SPort: sport, DPort: dport,
		TCPFlags: packet.SYN, CtState: packet.CtNew}
}

// The kube-proxy rules of the two-node testbed bundle: real iptables-save output.
const kubeProxyRules = "../../testdata/bundles/two-node-iptables/nodes/node1/iptables-save.txt"

func TestKubeProxyClusterIP(t *testing.T) {
	rs := loadFile(t, kubeProxyRules)
	// Find the echo Service's cluster IP from its comment.
	var vip string
	for _, r := range rs.Tables["nat"].Chains["KUBE-SERVICES"].Rules {
		if strings.Contains(r.Text, `"default/echo:http cluster IP"`) {
			vip = strings.TrimSuffix(r.Conds[0].Args[0], "/32")
		}
	}
	if vip == "" {
		t.Fatal("no echo service rule")
	}
	p := tcp("10.244.1.3", vip, 40000, 80)
	p.InIface = "cni0"
	res := rs.Hook(nil, "PREROUTING", p)
	if len(res) != 2 {
		t.Fatalf("%d results, want one per endpoint: %+v", len(res), res)
	}
	seen := map[string]bool{}
	for _, r := range res {
		if r.Verdict != Accept || !r.Packet.DNATed || r.Packet.DPort != 8080 {
			t.Errorf("result %+v", r)
		}
		seen[r.Packet.Dst.String()] = true
		last := r.Steps[len(r.Steps)-1]
		if last.Action != "dnat" || last.Rule == nil || !strings.HasPrefix(last.Rule.Chain, "KUBE-SEP-") || last.Rule.Pos.Line == 0 {
			t.Errorf("last step %+v", last)
		}
	}
	if len(seen) != 2 {
		t.Errorf("endpoints %v", seen)
	}
	// A packet from outside the pod CIDR is also marked for masquerade.
	p.Src = netip.MustParseAddr("10.200.0.12")
	for _, r := range rs.Hook(nil, "PREROUTING", p) {
		if r.Packet.Mark&0x4000 == 0 {
			t.Errorf("not marked for masquerade: %+v", r.Packet)
		}
	}
	// A reply (not a first packet) skips nat.
	q := tcp("10.244.1.3", vip, 40000, 80)
	q.CtState = packet.CtEstablished
	if res := rs.Hook(nil, "PREROUTING", q); len(res) != 1 || res[0].Packet.DNATed {
		t.Errorf("established packet went through nat: %+v", res)
	}
}

func TestKubeProxyNoEndpoints(t *testing.T) {
	rs := loadFile(t, kubeProxyRules)
	var vip string
	for _, r := range rs.Tables["filter"].Chains["KUBE-SERVICES"].Rules {
		if strings.Contains(r.Text, "has no endpoints") {
			vip = strings.TrimSuffix(r.Conds[0].Args[0], "/32")
		}
	}
	p := tcp("10.244.1.3", vip, 40000, 80)
	p.InIface, p.OutIface = "cni0", "eth0"
	res := rs.Hook(nil, "FORWARD", p)
	if len(res) != 1 || res[0].Verdict != Reject || res[0].RejectWith != "icmp-port-unreachable" {
		t.Fatalf("results %+v", res)
	}
}

func TestSemantics(t *testing.T) {
	rules := `*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:A - [0:0]
:B - [0:0]
:C - [0:0]
-A FORWARD -j A
-A FORWARD -s 10.9.0.0/16 -j ACCEPT
-A A -p tcp -m tcp --dport 22 -j B
-A A -p tcp -m tcp --dport 23 -g C
-A A ! -s 10.0.0.0/8 -j DROP
-A A -p udp -j RETURN
-A A -m mark --mark 0x1/0x1 -j ACCEPT
-A B -s 10.1.0.0/16 -j RETURN
-A B -j REJECT --reject-with tcp-reset
-A C -s 10.2.0.0/16 -j RETURN
-A C -j ACCEPT
COMMIT
`
	rs := mustParse(t, "t", rules, false)
	cases := []struct {
		name string
		p    packet.Packet
		want Verdict
		with string
	}{
		{"jump then reject", tcp("10.3.0.1", "10.5.0.1", 1, 22), Reject, "tcp-reset"},
		// RETURN from B resumes in A after the jump: not 10.0.0.0/8? no; udp? no; mark? no;
		// end of A returns to FORWARD; 10.1.x is not 10.9: policy DROP.
		{"return resumes in caller", tcp("10.1.0.1", "10.5.0.1", 1, 22), Drop, ""},
		// goto C, RETURN from C goes back to FORWARD (not to A), next rule: 10.2 not 10.9: DROP.
		{"goto returns to the caller's caller", tcp("10.2.0.1", "10.5.0.1", 1, 23), Drop, ""},
		{"goto then accept", tcp("10.3.0.1", "10.5.0.1", 1, 23), Accept, ""},
		{"negation", tcp("192.168.0.1", "10.5.0.1", 1, 80), Drop, ""},
		{"forward rule after return", tcp("10.9.0.1", "10.5.0.1", 1, 80), Accept, ""},
	}
	for _, c := range cases {
		res := rs.Chain(nil, "filter", "FORWARD", c.p)
		if len(res) != 1 || res[0].Verdict != c.want || res[0].RejectWith != c.with {
			t.Errorf("%s: %+v", c.name, res)
		}
	}
	p := tcp("10.3.0.1", "10.5.0.1", 1, 80)
	p.Mark = 0x3
	if res := rs.Chain(nil, "filter", "FORWARD", p); res[0].Verdict != Accept {
		t.Errorf("mark match: %+v", res)
	}
}

func TestMarkTargets(t *testing.T) {
	rules := `*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -j MARK --set-xmark 0x4000/0x4000
-A PREROUTING -j MARK --set-mark 0x10/0xf0
-A PREROUTING -j MARK --or-mark 0x1
-A PREROUTING -j MARK --and-mark 0xffff
-A PREROUTING -j MARK --xor-mark 0x3
-A PREROUTING -j CONNMARK --save-mark --nfmask 0xff --ctmask 0xff
COMMIT
`
	rs := mustParse(t, "m", rules, false)
	p := tcp("10.0.0.1", "10.0.0.2", 1, 2)
	p.Mark = 0xabcd00e0
	res := rs.Chain(nil, "mangle", "PREROUTING", p)
	// 0xabcd00e0 |= 0x4000 -> 0xabcd40e0; set 0x10/0xf0 -> 0xabcd4010; |1 -> 0xabcd4011;
	// &0xffff -> 0x4011; ^3 -> 0x4012; ctmark = (0 &^ 0xff) ^ (0x4012 & 0xff) = 0x12.
	if got := res[0].Packet; got.Mark != 0x4012 || got.CtMark != 0x12 {
		t.Errorf("mark %#x ctmark %#x", got.Mark, got.CtMark)
	}
}

func TestMaybeAndUnknown(t *testing.T) {
	rules := `*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -m recent --rcheck --name x -j ACCEPT
-A INPUT -m limit --limit 1/sec -j DROP
-A FORWARD -m string --string "x" --algo bm -j LOG
-A FORWARD -m string --string "y" --algo bm -j NFQUEUE --queue-num 1
COMMIT
`
	rs := mustParse(t, "u", rules, false)
	res := rs.Chain(nil, "filter", "INPUT", tcp("10.0.0.1", "10.0.0.2", 1, 2))
	// recent may ACCEPT; if not, limit may DROP: the first rule whose outcomes differ is cited.
	if len(res) != 1 || res[0].Verdict != Unknown || res[0].UnknownRule == nil || res[0].UnknownRule.Num != 1 {
		t.Errorf("recent/limit must be unknown at rule 1: %+v", res)
	}
	res = rs.Chain(nil, "filter", "FORWARD", tcp("10.0.0.1", "10.0.0.2", 1, 2))
	// rule 1 (LOG) does not change the outcome either way; rule 2 (NFQUEUE) may: unknown.
	if len(res) != 1 || res[0].Verdict != Unknown || res[0].UnknownRule.Num != 2 {
		t.Errorf("NFQUEUE must be unknown, never accept: %+v", res)
	}
}

func TestParseErrors(t *testing.T) {
	cases := map[string]string{
		"*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j NOWHERE\nCOMMIT\n":                    "f:3: jump to chain \"NOWHERE\"",
		"*filter\n-A INPUT -s 10.0.0.300 -j DROP\nCOMMIT\n":                              "f:2: -s 10.0.0.300",
		"*filter\n-A INPUT -p tcp -m tcp --dport 70000 -j DROP\nCOMMIT\n":                "f:2: --dport 70000",
		"*filter\n-A INPUT -m comment --comment \"open\n":                                "f:2: unterminated quote",
		"*filter\n-A INPUT -j ACCEPT\n":                                                  "f:2: table filter has no COMMIT",
		"-A INPUT -j ACCEPT\n":                                                           "f:1: \"-A INPUT -j ACCEPT\" outside a table",
		"*bogus\nCOMMIT\n":                                                               "f:1: unknown table",
		"*filter\n:INPUT MAYBE [0:0]\nCOMMIT\n":                                          "f:2: chain INPUT: policy",
		"*filter\n-A NOPE -j ACCEPT\nCOMMIT\n":                                           "f:2: chain NOPE is not declared",
		"*filter\n-A INPUT -j MARK\nCOMMIT\n":                                            "f:2: MARK without a mark operation",
		"*nat\n-A PREROUTING -j DNAT\nCOMMIT\n":                                          "f:2: DNAT without --to-destination",
		"*filter\n-A INPUT -j ACCEPT !\nCOMMIT\n":                                        "f:2: ! at the end",
		"*filter\n-A INPUT -m statistic --mode random --probability 2 -j DROP\nCOMMIT\n": "f:2: -m statistic --probability",
	}
	for in, want := range cases {
		_, err := Parse(source.NewFile("f", []byte(in)), false)
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: err = %v, want prefix %q", in, err, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, p := range []string{kubeProxyRules, "../../testdata/bundles/two-node-iptables/nodes/node1/ip6tables-save.txt"} {
		d, _ := os.ReadFile(p)
		f.Add(d)
	}
	f.Add([]byte("*filter\n:INPUT ACCEPT [0:0]\n:A - [0:0]\n-A INPUT ! -s 10.0.0.0/8 -p tcp -m tcp --dport 1:2 -j A\n-A A -m mark --mark 0x1/0x1 -g A\n-A A -j RETURN\nCOMMIT\n"))
	f.Add([]byte("*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -m statistic --mode random --probability 0.5 -j DNAT --to-destination 10.0.0.1-10.0.0.3:80-90\n-A PREROUTING -m addrtype --dst-type LOCAL --limit-iface-in -j REDIRECT --to-ports 7\nCOMMIT\n"))
	f.Fuzz(func(t *testing.T, d []byte) {
		rs, err := Parse(source.NewFile("f", d), false)
		if err != nil {
			return
		}
		// Whatever parses must evaluate without panicking.
		for _, hook := range []string{"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"} {
			rs.Hook(nil, hook, tcp("10.0.0.1", "10.0.0.2", 1000, 80))
		}
	})
}

func TestTokenize(t *testing.T) {
	cases := map[string][]string{
		`-A X -m comment --comment "a b" -j ACCEPT`:         {"-A", "X", "-m", "comment", "--comment", "a b", "-j", "ACCEPT"},
		`-A X -m comment --comment "say \"hi\" \\ ok" -j Y`: {"-A", "X", "-m", "comment", "--comment", `say "hi" \ ok`, "-j", "Y"},
		"-A\tX  -j   ACCEPT ":                               {"-A", "X", "-j", "ACCEPT"},
		`-A X --comment pre"fix mid"post`:                   {"-A", "X", "--comment", "prefix midpost"},
		`-A X --comment ""`:                                 {"-A", "X", "--comment", ""},
	}
	for in, want := range cases {
		got, err := tokenize(in)
		if err != nil || strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("%q: %q %v, want %q", in, got, err, want)
		}
	}
}

// A rule that may or may not match but changes nothing either way (kube-router's rate-limited
// NFLOG before its REJECT) leaves a step where it stands, not after the verdict: the verdict's
// rule stays the last step, which is what a blocker cites, and no branch is reported.
func TestMaybeThatDoesNotMatterKeepsItsPlace(t *testing.T) {
	rules := `*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -m limit --limit 10/min --limit-burst 10 -j NFLOG --nflog-group 100
-A FORWARD -j REJECT --reject-with icmp-port-unreachable
COMMIT
`
	rs := mustParse(t, "u", rules, false)
	res := rs.Chain(nil, "filter", "FORWARD", tcp("10.0.0.1", "10.0.0.2", 1, 2))
	if len(res) != 1 || res[0].Verdict != Reject {
		t.Fatalf("want one REJECT: %+v", res)
	}
	steps := res[0].Steps
	if len(steps) != 2 || steps[0].Action != "may match" || steps[0].Rule.Num != 1 || steps[1].Rule == nil || steps[1].Rule.Num != 2 {
		t.Errorf("steps: want the NFLOG's may-match then the REJECT: %+v", steps)
	}
	if len(res[0].Branches) != 0 {
		t.Errorf("a rule that did not matter is not a branch: %v", res[0].Branches)
	}
}
