package nft

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/netsim/netsim/rules/packet"
)

// TestStatements covers the rest of the expressions and statements on
// testdata/statements.json (see statements.nft for how it was made).
func TestStatements(t *testing.T) {
	rs := load(t, "statements.json")
	with := func(p packet.Packet, f func(*packet.Packet)) packet.Packet { f(&p); return p }
	base := tcp("10.1.0.5", "10.2.0.1", 80)
	udp := with(base, func(p *packet.Packet) { p.Proto = packet.UDP })
	const pol = "drop 10.1.0.5:40000>10.2.0.1:80 (policy)"
	for _, c := range []struct {
		name   string
		table  string
		handle int
		p      packet.Packet
		want   string
		check  func(t *testing.T, r Result)
	}{
		{"ct mark set meta mark", "inet s", 6, with(base, func(p *packet.Packet) { p.Mark = 7 }), pol,
			func(t *testing.T, r Result) {
				if r.Packet.CtMark != 7 {
					t.Errorf("ct mark %#x", r.Packet.CtMark)
				}
			}},
		{"meta mark set ct mark", "inet s", 7, with(base, func(p *packet.Packet) { p.CtMark = 9 }), pol,
			func(t *testing.T, r Result) {
				if r.Packet.Mark != 9 {
					t.Errorf("mark %#x", r.Packet.Mark)
				}
			}},
		{"mark from an interval map", "inet s", 8, base, pol,
			func(t *testing.T, r Result) {
				if r.Packet.Mark != 1 {
					t.Errorf("mark %#x", r.Packet.Mark)
				}
			}},
		{"mark map miss: the rule breaks", "inet s", 8, with(base, func(p *packet.Packet) { p.Src = netip.MustParseAddr("172.16.0.1") }), "drop 172.16.0.1:40000>10.2.0.1:80 (policy)", nil},
		{"interval concatenation", "inet s", 9, with(base, func(p *packet.Packet) { p.Src, p.DPort = netip.MustParseAddr("10.0.0.9"), 85 }), "accept 10.0.0.9:40000>10.2.0.1:85", nil},
		{"interval concatenation: port outside", "inet s", 9, with(base, func(p *packet.Packet) { p.Src, p.DPort = netip.MustParseAddr("10.0.0.9"), 91 }), "drop 10.0.0.9:40000>10.2.0.1:91 (policy)", nil},
		{"ct original ip daddr after DNAT", "inet s", 10, with(base, func(p *packet.Packet) {
			p.Dst, p.DNATed, p.OrigSrc, p.OrigDst = netip.MustParseAddr("10.244.0.5"), true, p.SrcAP(), netip.MustParseAddrPort("10.96.0.1:80")
		}), "accept 10.1.0.5:40000>10.244.0.5:80", nil},
		{"ct original ip daddr without NAT", "inet s", 10, base, pol, nil},
		{"ct mark", "inet s", 11, with(base, func(p *packet.Packet) { p.CtMark = 0x10 }), "accept 10.1.0.5:40000>10.2.0.1:80", nil},
		{"prefix from a mask", "inet s", 12, base, "drop 10.1.0.5:40000>10.2.0.1:80", nil},
		{">= and <", "inet s", 13, with(base, func(p *packet.Packet) { p.DPort = 1500 }), "drop 10.1.0.5:40000>10.2.0.1:1500", nil},
		{">= and <: above", "inet s", 13, with(base, func(p *packet.Packet) { p.DPort = 2000 }), "drop 10.1.0.5:40000>10.2.0.1:2000 (policy)", nil},
		{"udp dport != set, reject icmpx admin-prohibited", "inet s", 15, udp, "reject/icmp-admin-prohibited", nil},
		{"reject icmpx no-route", "inet s", 16, packet.Packet{Src: base.Src, Dst: base.Dst, Proto: packet.ICMP, ICMPType: 8, CtState: packet.CtNew}, "reject/icmp-net-unreachable", nil},
		{"reject icmpv6", "inet s", 17, packet.Packet{Src: netip.MustParseAddr("::2"), Dst: netip.MustParseAddr("::1"), Proto: packet.UDP, SPort: 1, DPort: 2, CtState: packet.CtNew}, "reject/icmp6-addr-unreachable", nil},
		{"ct state untracked", "inet s", 18, with(base, func(p *packet.Packet) { p.Untracked = true }), "accept 10.1.0.5:40000>10.2.0.1:80", nil},
		{"nftrace set: goes on", "inet s", 19, base, pol, nil},
		{"dscp set: goes on", "inet s", 20, base, pol, nil},
		// Under a drop policy a may-match drop decides nothing either way (see below for accept).
		{"quota may match: the same either way", "inet s", 21, base, "drop 10.1.0.5:40000>10.2.0.1:80", nil},
		{"pkttype: the same either way", "inet s", 22, base, "drop 10.1.0.5:40000>10.2.0.1:80", nil},
		{"meta length", "inet s", 23, with(base, func(p *packet.Packet) { p.Len = 1400 }), "drop 10.1.0.5:40000>10.2.0.1:80", nil},
		{"meta length unknown: the same either way", "inet s", 23, base, "drop 10.1.0.5:40000>10.2.0.1:80", nil},
		{"symhash vmap: every branch", "inet s", 25, base, "accept 10.1.0.5:40000>10.2.0.1:80 | drop 10.1.0.5:40000>10.2.0.1:80", nil},
		{"snat to a range: each address a path", "inet s", 27, tcp("10.0.0.5", "172.16.0.1", 80), "accept 1.1.1.1:40000>172.16.0.1:80 | accept 1.1.1.2:40000>172.16.0.1:80", nil},
		{"snat ip in inet: not for IPv6", "inet s", 27, packet.Packet{Src: netip.MustParseAddr("::2"), Dst: netip.MustParseAddr("::1"), Proto: packet.UDP, SPort: 1, DPort: 2, CtState: packet.CtNew}, "drop [::2]:1>[::1]:2 (policy)", nil},
		{"dnat to a prefix", "inet s", 28, tcp("10.0.0.5", "10.2.3.4", 80), "accept 10.0.0.5:40000>10.3.0.0:80 | accept 10.0.0.5:40000>10.3.0.1:80", nil},
		{"xt (iptables-nft): unknown", "ip filter", 2, base, "unknown", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := findRule(rs, c.table, c.handle)
			if r == nil {
				t.Fatalf("no rule %d in %s", c.handle, c.table)
			}
			res := alone(r, c.p)
			if got := strings.Join(summary(res), " | "); got != c.want {
				t.Errorf("rule %s\n got %s\nwant %s", r.Text(), got, c.want)
			}
			if c.check != nil && len(res) == 1 {
				c.check(t, res[0])
			}
		})
	}
	// Under an accept policy the way a may-match rule goes decides: unknown, citing it.
	for _, handle := range []int{21, 22, 23} {
		r := findRule(rs, "inet s", handle)
		res := Run(testEnv{}, &Chain{Table: r.Chain.Table, Name: "test", Hook: "forward", Policy: "accept", Rules: []*Rule{r}}, "forward", base)
		if len(res) != 1 || res[0].Outcome != Unknown || res[0].UnknownRule != r {
			t.Errorf("rule %s under accept: %v", r.Text(), summary(res))
		}
	}
	if !hasXT(rs, "ip filter") || hasXT(rs, "inet s") {
		t.Errorf("only the table iptables-nft wrote has xt expressions")
	}
	xt := findRule(rs, "ip filter", 2)
	if res := alone(xt, base); !strings.Contains(res[0].Why, "read from iptables-save") && !strings.Contains(res[0].Why, "reads from iptables-save") {
		t.Errorf("xt: %q", res[0].Why)
	}
	for handle, want := range map[int]string{
		6:  "ct mark set meta mark # handle 6",
		9:  "ip saddr . tcp dport @pairs accept # handle 9",
		10: "ct original ip daddr 10.96.0.1 accept # handle 10",
		15: "udp dport != { 53, 5353 } meta l4proto udp reject with icmpx admin-prohibited # handle 15",
		28: "ip daddr 10.2.0.0/16 dnat to 10.3.0.0/31 # handle 28",
	} {
		if got := findRule(rs, "inet s", handle).Text(); got != want {
			t.Errorf("rule %d renders %q, want %q", handle, got, want)
		}
	}
}

func hasXT(rs *Ruleset, key string) bool {
	for _, t := range rs.Tables {
		if t.Key() == key {
			return t.XT
		}
	}
	return false
}
