package nft

import (
	"net/netip"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/netsim/netsim/model/source"
	"github.com/netsim/netsim/rules/packet"
)

// testEnv is a namespace with 10.0.0.1 and 192.168.0.1 local, routes to 10.0.0.0/8 via
// eth0 and nothing else.
type testEnv struct{}

func (testEnv) AddrType(a netip.Addr, iface string) string {
	if a == netip.MustParseAddr("10.0.0.1") || a == netip.MustParseAddr("192.168.0.1") {
		return "local"
	}
	return "unicast"
}

func (testEnv) Route(q RouteQuery) (string, bool, bool) {
	if netip.MustParsePrefix("10.0.0.0/8").Contains(q.Dst) {
		return "eth0", true, true
	}
	return "", false, true
}

func (testEnv) SourceFor(oif string, dst netip.Addr) (netip.Addr, bool) {
	return netip.MustParseAddr("192.168.0.1"), true
}

func (testEnv) PrimaryAddr(iface string, ipv6 bool) (netip.Addr, bool) {
	return netip.MustParseAddr("10.0.0.1"), true
}

func load(t testing.TB, name string) *Ruleset {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := Parse(source.NewFile("nodes/n1/"+name, data))
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func findRule(rs *Ruleset, table string, handle int) *Rule {
	for _, t := range rs.Tables {
		if t.Key() != table {
			continue
		}
		for _, c := range t.Order {
			for _, r := range c.Rules {
				if r.Handle == handle {
					return r
				}
			}
		}
	}
	return nil
}

// alone evaluates one rule as the only rule of a base chain whose policy is drop: a rule
// that does not match shows as "policy drop".
func alone(r *Rule, p packet.Packet) []Result {
	base := &Chain{Table: r.Chain.Table, Name: "test", Hook: "prerouting", Policy: "drop", Rules: []*Rule{r}}
	return Run(testEnv{}, base, "prerouting", p)
}

// summary renders results as sorted "outcome[/reject] dst:port" strings, with
// "(policy)" when the rule did not decide.
func summary(res []Result) []string {
	var out []string
	for _, r := range res {
		s := r.Outcome.String()
		if r.RejectWith != "" {
			s += "/" + r.RejectWith
		}
		if r.Outcome == Accept || r.Outcome == Drop {
			if r.Packet.HasPorts() {
				s += " " + r.Packet.SrcAP().String() + ">" + r.Packet.DstAP().String()
			}
		}
		if r.Outcome != Unknown && len(r.Steps) > 0 && r.Steps[len(r.Steps)-1].Rule == nil {
			s += " (policy)"
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

func tcp(src, dst string, dport uint16) packet.Packet {
	return packet.Packet{Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst), Proto: packet.TCP, SPort: 40000, DPort: dport,
		TCPFlags: packet.SYN, CtState: packet.CtNew, InIface: "eth0"}
}

func TestExpressions(t *testing.T) {
	rs := load(t, "expressions.json")
	with := func(p packet.Packet, f func(*packet.Packet)) packet.Packet { f(&p); return p }
	udp := with(tcp("10.1.0.5", "10.96.0.1", 443), func(p *packet.Packet) { p.Proto, p.TCPFlags = packet.UDP, 0 })
	est := with(tcp("10.1.0.5", "10.2.0.1", 80), func(p *packet.Packet) { p.CtState = packet.CtEstablished })
	icmp := packet.Packet{Src: netip.MustParseAddr("10.1.0.5"), Dst: netip.MustParseAddr("10.2.0.1"), Proto: packet.ICMP, ICMPType: 8, CtState: packet.CtNew, InIface: "eth0"}
	const pol = "drop 10.1.0.5:40000>10.2.0.1:80 (policy)"
	for _, c := range []struct {
		name   string
		handle int
		p      packet.Packet
		want   string // summaries joined by " | "
	}{
		{"numgen vmap: every branch a path", 13, tcp("10.1.0.5", "10.2.0.1", 80), "accept 10.1.0.5:40000>10.1.0.11:8080 | accept 10.1.0.5:40000>10.1.0.12:8080"},
		{"concat vmap hit", 18, tcp("10.1.0.5", "10.96.0.1", 443), "accept 10.1.0.5:40000>10.1.0.11:8080 | accept 10.1.0.5:40000>10.1.0.12:8080"},
		{"concat vmap miss: port", 18, tcp("10.1.0.5", "10.96.0.1", 80), "drop 10.1.0.5:40000>10.96.0.1:80 (policy)"},
		{"concat vmap miss: protocol", 18, udp, "drop 10.1.0.5:40000>10.96.0.1:443 (policy)"},
		{"concat vmap: icmp cannot match tcp entries", 18, icmp, "drop (policy)"},
		{"ct state flags: established", 19, est, "accept 10.1.0.5:40000>10.2.0.1:80"},
		{"ct state flags: new", 19, tcp("10.1.0.5", "10.2.0.1", 80), pol},
		{"ct state set", 21, est, "accept 10.1.0.5:40000>10.2.0.1:80"},
		{"ct state invalid,new", 22, tcp("10.1.0.5", "10.2.0.1", 80), "drop 10.1.0.5:40000>10.2.0.1:80"},
		{"ct status dnat: not translated", 23, tcp("10.1.0.5", "10.2.0.1", 80), pol},
		{"ct status dnat: translated", 23, with(tcp("10.1.0.5", "10.2.0.1", 80), func(p *packet.Packet) { p.DNATed = true }), "accept 10.1.0.5:40000>10.2.0.1:80"},
		{"fib daddr type local: local", 24, tcp("10.1.0.5", "10.0.0.1", 80), "accept 10.1.0.5:40000>10.1.0.11:8080 | accept 10.1.0.5:40000>10.1.0.12:8080"},
		{"fib daddr type local: not", 24, tcp("10.1.0.5", "10.2.0.1", 80), pol},
		{"anonymous set with a range", 26, tcp("10.1.0.5", "10.2.0.1", 85), "accept 10.1.0.5:40000>10.2.0.1:85"},
		{"anonymous set: outside", 26, tcp("10.1.0.5", "10.2.0.1", 91), "drop 10.1.0.5:40000>10.2.0.1:91 (policy)"},
		{"tcp dport on udp: absent", 26, with(tcp("10.1.0.5", "10.2.0.1", 22), func(p *packet.Packet) { p.Proto = packet.UDP }), "drop 10.1.0.5:40000>10.2.0.1:22 (policy)"},
		{"interval set: prefix", 27, tcp("10.200.0.5", "10.2.0.1", 80), "drop 10.200.0.5:40000>10.2.0.1:80"},
		{"interval set: range", 27, tcp("192.168.1.5", "10.2.0.1", 80), "drop 192.168.1.5:40000>10.2.0.1:80"},
		{"interval set: past the range", 27, tcp("192.168.1.10", "10.2.0.1", 80), "drop 192.168.1.10:40000>10.2.0.1:80 (policy)"},
		{"interval set: single", 27, tcp("1.2.3.4", "10.2.0.1", 80), "drop 1.2.3.4:40000>10.2.0.1:80"},
		{"concat set + reject icmp type", 28, tcp("10.1.0.5", "10.96.0.1", 443), "reject/icmp-host-prohibited"},
		{"reject with tcp reset", 29, tcp("10.1.0.5", "10.2.0.1", 80), "reject/tcp-reset"},
		{"reject with tcp reset: udp does not match", 29, udp, "drop 10.1.0.5:40000>10.96.0.1:443 (policy)"},
		{"reject", 30, udp, "reject/icmp-port-unreachable"},
		{"mark & mask == 0: return", 31, tcp("10.1.0.5", "10.2.0.1", 80), pol},
		{"mark & mask == 0: mark set", 31, with(tcp("10.1.0.5", "10.2.0.1", 80), func(p *packet.Packet) { p.Mark = 0x4000 }), pol},
		{"iifname wildcard, oifname absent", 33, tcp("10.1.0.5", "10.2.0.1", 80), pol},
		{"iifname wildcard, oifname", 33, with(tcp("10.1.0.5", "10.2.0.1", 80), func(p *packet.Packet) { p.OutIface = "eth1" }), "accept 10.1.0.5:40000>10.2.0.1:80"},
		{"iifname wildcard: other device", 33, with(tcp("10.1.0.5", "10.2.0.1", 80), func(p *packet.Packet) { p.InIface, p.OutIface = "veth1", "eth1" }), pol},
		{"ct mark set", 34, tcp("10.1.0.5", "10.2.0.1", 80), "accept 10.1.0.5:40000>10.2.0.1:80"},
		{"jhash vmap: every branch", 36, tcp("10.1.0.5", "10.2.0.1", 80), "accept 10.1.0.5:40000>10.1.0.11:8080 | accept 10.1.0.5:40000>10.1.0.12:8080"},
		{"dnat to an anonymous map", 38, tcp("10.1.0.5", "10.2.0.1", 80), "accept 10.1.0.5:40000>10.1.0.11:80"},
		{"dnat map miss: the rule breaks", 38, tcp("10.1.0.5", "10.2.0.1", 81), "drop 10.1.0.5:40000>10.2.0.1:81 (policy)"},
		{"dnat addr . port map", 39, tcp("10.1.0.5", "10.2.0.1", 80), "accept 10.1.0.5:40000>10.1.0.11:8080"},
		{"redirect", 40, tcp("10.1.0.5", "10.2.0.1", 80), "accept 10.1.0.5:40000>10.0.0.1:8080"},
		{"notrack goes on", 41, tcp("10.1.0.5", "10.2.0.1", 80), pol},
		{"limit may match: outcome differs", 42, tcp("10.1.0.5", "10.2.0.1", 80), "unknown"},
		{"icmp type", 43, icmp, "accept"},
		{"icmp type on tcp: absent", 43, tcp("10.1.0.5", "10.2.0.1", 80), pol},
		{"tcp flags & (syn|ack) == syn", 44, tcp("10.1.0.5", "10.2.0.1", 80), "accept 10.1.0.5:40000>10.2.0.1:80"},
		{"tcp flags: syn-ack", 44, with(tcp("10.1.0.5", "10.2.0.1", 80), func(p *packet.Packet) { p.TCPFlags = packet.SYN | packet.ACK }), pol},
		{"continue", 45, with(tcp("10.0.0.5", "10.0.0.2", 80), func(p *packet.Packet) { p.Proto = packet.UDP }), "drop 10.0.0.5:40000>10.0.0.2:80 (policy)"},
		{"ct original saddr on a reply", 46, with(est, func(p *packet.Packet) {
			p.Reply, p.OrigSrc, p.OrigDst = true, netip.MustParseAddrPort("1.2.3.4:80"), netip.MustParseAddrPort("10.1.0.5:40000")
		}), "accept 10.1.0.5:40000>10.2.0.1:80"},
		{"fib oif missing", 47, tcp("10.1.0.5", "172.16.0.1", 80), "drop 10.1.0.5:40000>172.16.0.1:80"},
		{"fib oif exists", 47, tcp("10.1.0.5", "10.2.0.1", 80), pol},
		{"th dport range goto", 48, tcp("10.1.0.5", "10.2.0.1", 8500), "accept 10.1.0.5:40000>10.1.0.12:8080"},
		{"masquerade", 49, tcp("10.1.0.5", "172.16.0.1", 80), "accept 192.168.0.1:40000>172.16.0.1:80"},
		{"masquerade to a port range", 50, tcp("10.1.0.5", "172.16.0.1", 80), "accept 192.168.0.1:1024>172.16.0.1:80"},
		{"snat", 51, tcp("10.1.0.5", "172.16.0.1", 80), "accept 1.1.1.1:40000>172.16.0.1:80"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := findRule(rs, "ip t", c.handle)
			if r == nil {
				t.Fatalf("no rule %d", c.handle)
			}
			got := strings.Join(summary(alone(r, c.p)), " | ")
			if got != c.want {
				t.Errorf("rule %s\n got %s\nwant %s", r.Text(), got, c.want)
			}
		})
	}
}

func TestInetFamily(t *testing.T) {
	rs := load(t, "expressions.json")
	v6 := packet.Packet{Src: netip.MustParseAddr("::2"), Dst: netip.MustParseAddr("::1"), Proto: packet.UDP, SPort: 1, DPort: 53, CtState: packet.CtNew}
	v4 := tcp("10.1.0.5", "127.0.0.1", 80)
	for _, c := range []struct {
		handle int
		p      packet.Packet
		want   string
	}{
		{2, v6, "accept [::2]:1>[::1]:53"},
		{2, v4, "drop 10.1.0.5:40000>127.0.0.1:80 (policy)"},
		{3, v4, "accept 10.1.0.5:40000>127.0.0.1:80"},
		{3, v6, "drop [::2]:1>[::1]:53 (policy)"},
		{4, v4, "accept 10.1.0.5:40000>127.0.0.1:80"},
		{4, v6, "drop [::2]:1>[::1]:53 (policy)"},
		{6, v6, "accept [::2]:1>[::1]:53"},
	} {
		r := findRule(rs, "inet x", c.handle)
		if got := strings.Join(summary(alone(r, c.p)), " | "); got != c.want {
			t.Errorf("rule %s on %v: got %s, want %s", r.Text(), c.p, got, c.want)
		}
	}
}

func TestRender(t *testing.T) {
	rs := load(t, "expressions.json")
	for handle, want := range map[int]string{
		18: "ip daddr . meta l4proto . th dport vmap @m1 # handle 18",
		13: "numgen random mod 2 vmap { 0 : goto ep1, 1 : goto ep2 } # handle 13",
		31: "meta mark & 0x00004000 == 0x00000000 return # handle 31",
		44: "tcp flags & (ack | syn) == syn accept # handle 44",
		47: "fib daddr . iif oif missing drop # handle 47",
		39: "dnat ip addr . port to tcp dport map @m2 # handle 39",
		38: "dnat to tcp dport map { 80 : 10.1.0.11 } # handle 38",
		27: `ip saddr @s1 log prefix "x" drop # handle 27`,
	} {
		if got := findRule(rs, "ip t", handle).Text(); got != want {
			t.Errorf("rule %d: got %q, want %q", handle, got, want)
		}
	}
	if got := findRule(rs, "ip t", 18).Pos.String(); got != "nodes/n1/expressions.json:1 (entry 19)" {
		t.Errorf("position %q", got)
	}
	pre := rs.Tables[0].Chains["pre"]
	if want := "chain pre { type nat hook prerouting priority dstnat; policy accept; } # handle 5"; pre.Text() != want {
		t.Errorf("chain: %q", pre.Text())
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`[]`, "want an object"},
		{`{"x": 1}`, `no "nftables" array`},
		{`{"nftables": [{"chain": {"family": "ip", "table": "t", "name": "c"}}]}`, "nft.json:1 (entry 1): chain refers to table ip t"},
		{`{"nftables": [{"table": {"family": "ip", "name": "t"}}, {"chain": {"family": "ip", "table": "t", "name": "c"}},
{"rule": {"family": "ip", "table": "t", "chain": "c", "handle": 4, "expr": [{"jump": {"target": "nope"}}]}}]}`, "nft.json:2 (entry 3): rule 4 in ip t/c: jump nope to a chain"},
		{`{"nftables": [{"table": {"family": "ip", "name": "t"}}, {"chain": {"family": "ip", "table": "t", "name": "c"}},
{"rule": {"family": "ip", "table": "t", "chain": "c", "handle": 4, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": "@s"}}]}}]}`, "set @s is not in table ip t"},
		{`{"nftables": [{"table": {"family": "ip", "name": "t"}}, {"set": {"family": "ip", "table": "t", "name": "s", "type": "ipv4_addr", "elem": ["x"]}}]}`, `set s in ip t: element: "x" is not an address`},
	} {
		_, err := Parse(source.NewFile("nft.json", []byte(c.in)))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.in, err, c.want)
		}
	}
}

// TestLaterObjects: a rule may name a set (or a chain) the dump lists after it; it keeps
// its place in its chain.
func TestLaterObjects(t *testing.T) {
	doc := `{"nftables": [{"table": {"family": "ip", "name": "t", "handle": 1}},
{"chain": {"family": "ip", "table": "t", "name": "c", "handle": 1, "type": "filter", "hook": "forward", "prio": 0, "policy": "accept"}},
{"rule": {"family": "ip", "table": "t", "chain": "c", "handle": 2, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": "@late"}}, {"jump": {"target": "d"}}]}},
{"rule": {"family": "ip", "table": "t", "chain": "c", "handle": 3, "expr": [{"accept": null}]}},
{"set": {"family": "ip", "table": "t", "name": "late", "type": "ipv4_addr", "elem": ["10.1.0.5"]}},
{"chain": {"family": "ip", "table": "t", "name": "d", "handle": 4}},
{"rule": {"family": "ip", "table": "t", "chain": "d", "handle": 5, "expr": [{"drop": null}]}}]}`
	rs, err := Parse(source.NewFile("nft.json", []byte(doc)))
	if err != nil {
		t.Fatal(err)
	}
	c := rs.Tables[0].Chains["c"]
	if len(c.Rules) != 2 || c.Rules[0].Handle != 2 || c.Rules[1].Handle != 3 {
		t.Fatalf("rules out of place: %v", c.Rules)
	}
	if got := strings.Join(summary(Run(testEnv{}, c, "forward", tcp("10.1.0.5", "10.2.0.1", 80))), ""); got != "drop 10.1.0.5:40000>10.2.0.1:80" {
		t.Errorf("got %s", got)
	}
}

// TestQueueIsUnknown: this kernel has no nft_queue, so the rule is written by hand in the
// schema nft prints (libnftables-json(5): {"queue": {"num": N}}).
func TestQueueIsUnknown(t *testing.T) {
	doc := `{"nftables": [{"table": {"family": "inet", "name": "q", "handle": 1}},
{"chain": {"family": "inet", "table": "q", "name": "c", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "accept"}},
{"rule": {"family": "inet", "table": "q", "chain": "c", "handle": 2, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 80}}, {"queue": {"num": 3, "flags": "bypass"}}]}}]}`
	rs, err := Parse(source.NewFile("nft.json", []byte(doc)))
	if err != nil {
		t.Fatal(err)
	}
	res := Run(testEnv{}, rs.Tables[0].Chains["c"], "input", tcp("10.1.0.5", "10.0.0.1", 80))
	if len(res) != 1 || res[0].Outcome != Unknown || !strings.Contains(res[0].Why, "queue") || res[0].UnknownRule == nil {
		t.Errorf("queue: %+v", res)
	}
	if res := Run(testEnv{}, rs.Tables[0].Chains["c"], "input", tcp("10.1.0.5", "10.0.0.1", 81)); res[0].Outcome != Accept {
		t.Errorf("no match: %+v", res)
	}
}
