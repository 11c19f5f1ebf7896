package e2e

import (
	"fmt"
	"math/rand"
	"strings"
)

// nftCase is a kernel-differential case whose router runs native nftables (with, now
// and then, iptables rules at the same hooks).
type nftCase struct {
	diffCase
	nft string
}

// genNFTCase builds a random nftables router from a seed: kube-proxy-shaped Services
// (a concatenated verdict map, numgen branches to endpoint chains, DNAT), a DNAT map of
// address and port, interval and concatenated sets, marks with masks, ct state and status,
// fib, jumps, gotos and returns, every reject type, masquerade and SNAT, redirect, a
// second table whose base chain sits at another priority of the same hook, and sometimes
// an iptables rule between them.
func genNFTCase(seed int64) *nftCase {
	r := rand.New(rand.NewSource(seed))
	c := &nftCase{}
	pick := func(xs ...string) string { return xs[r.Intn(len(xs))] }
	maybe := func(p float64) bool { return r.Float64() < p }
	ne := func() string {
		if maybe(0.25) {
			return "!= "
		}
		return ""
	}
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("table ip t {")
	w("  set clients { type ipv4_addr; flags interval; elements = { %s } }", pick("10.0.0.2", "10.0.0.2, 10.0.0.3", "10.0.0.0/31", "10.0.0.3-10.0.0.4"))
	w("  set svcports { type ipv4_addr . inet_proto . inet_service; elements = { 10.1.0.11 . tcp . 80, 10.1.0.12 . udp . 53, 10.1.0.13 . tcp . 8080 } }")
	backends := []string{"10.1.0.11", "10.1.0.12", "10.1.0.13"}
	var svcElems []string
	svc := func(name, vip, proto string, port int, targets []int, eps int) {
		svcElems = append(svcElems, fmt.Sprintf("%s . %s . %d : goto svc-%s", vip, proto, port, name))
		perm := r.Perm(3)
		var branches []string
		for i := 0; i < eps; i++ {
			ep := fmt.Sprintf("ep-%s-%d", name, i)
			branches = append(branches, fmt.Sprintf("%d : goto %s", i, ep))
			w("  chain %s {", ep)
			if maybe(0.3) {
				w("    ip saddr %s meta mark set meta mark | 0x4000", backends[perm[i]])
			}
			w("    meta l4proto %s dnat to %s:%d", proto, backends[perm[i]], targets[r.Intn(len(targets))])
			w("  }")
		}
		w("  chain svc-%s {", name)
		if eps == 1 {
			w("    goto ep-%s-0", name)
		} else {
			w("    numgen random mod %d vmap { %s }", eps, strings.Join(branches, ", "))
		}
		w("  }")
	}
	svc("web", "10.2.0.1", "tcp", 80, []int{80, 8080, 80, 9999}, 1+r.Intn(3))
	svc("dns", "10.2.0.2", "udp", 53, []int{53, 5353, 9999}, 1+r.Intn(2))
	w("  map svc { type ipv4_addr . inet_proto . inet_service : verdict; elements = { %s } }", strings.Join(svcElems, ", "))
	w("  map dmap { type inet_service : ipv4_addr . inet_service; elements = { 80 : %s . %s, 8080 : 10.1.0.12 . 8080 } }", pick(backends...), pick("80", "8080", "9999"))

	prio := func(base string) string {
		switch d := r.Intn(41) - 20; {
		case d > 0:
			return fmt.Sprintf("%s + %d", base, d)
		case d < 0:
			return fmt.Sprintf("%s - %d", base, -d)
		}
		return base
	}
	// Marks for the filter rules and for policy routing.
	w("  chain mangle-pre { type filter hook prerouting priority %s; policy accept;", prio("mangle"))
	if maybe(0.5) {
		w("    ip saddr %s%s iifname \"r0\" meta mark set meta mark | 0x1", ne(), pick("10.0.0.2", "10.0.0.3", "10.0.0.4"))
	}
	if maybe(0.4) {
		w("    meta l4proto %s iifname \"r0\" meta mark set meta mark | 0x10", pick("tcp", "udp"))
	}
	if maybe(0.2) {
		w("    meta mark & 0x1 == 0x1 meta mark set meta mark & 0xfffffffe")
	}
	w("  }")
	w("  chain nat-pre { type nat hook prerouting priority %s; policy accept;", prio("dstnat"))
	if maybe(0.2) {
		w("    ip saddr %s return", pick("10.0.0.2", "10.0.0.4"))
	}
	w("    ip daddr . meta l4proto . th dport vmap @svc")
	if maybe(0.6) {
		w("    ip daddr 10.2.0.2 tcp dport 81 redirect to :7000")
	}
	if maybe(0.5) {
		w("    ip daddr 10.2.0.3 dnat ip addr . port to tcp dport map @dmap")
	}
	w("  }")
	switch r.Intn(4) {
	case 0:
		w("  chain nat-post { type nat hook postrouting priority %s; policy accept; oifname \"br1\" ip saddr %s%s masquerade; }", prio("srcnat"), ne(), pick("10.0.0.2", "10.0.0.3"))
	case 1:
		w("  chain nat-post { type nat hook postrouting priority %s; policy accept; oifname \"br1\" meta mark & 0x10 == 0x10 snat to 10.1.0.1; }", prio("srcnat"))
	case 2:
		w("  chain nat-post { type nat hook postrouting priority %s; policy accept; meta mark & 0x4000 == 0x4000 masquerade; }", prio("srcnat"))
	}

	policy := func() string { return pick("accept", "accept", "drop") }
	fwPolicy, inPolicy := policy(), policy()
	cond := func() (string, string) {
		switch r.Intn(12) {
		case 0:
			return fmt.Sprintf("ip saddr %s%s", ne(), pick("10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.0/30", "10.0.0.2/31", "@clients")), ""
		case 1:
			return fmt.Sprintf("ip daddr %s%s", ne(), pick("10.1.0.11", "10.1.0.12", "10.1.0.0/24", "{ 10.1.0.13, 10.1.0.11 }")), ""
		case 2:
			p := pick("tcp", "udp")
			return fmt.Sprintf("%s dport %s%s", p, ne(), pick("80", "8080", "53", "5353", "80-100", "5000-9000", "{ 80, 8080 }", "{ 53, 5353 }")), p
		case 3:
			return fmt.Sprintf("meta l4proto %s th dport %s", pick("tcp", "udp", "{ tcp, udp }"), pick("{ 53, 80, 7000 }", "80", "5353")), ""
		case 4:
			return fmt.Sprintf("meta mark & %s", pick("0x1 == 0x1", "0x10 == 0x10", "0x1 == 0x0", "0x1 != 0x1")), ""
		case 5:
			return "ip daddr . meta l4proto . th dport @svcports", ""
		case 6:
			return fmt.Sprintf("ct state %s", pick("new", "established,related", "{ new, established }")), ""
		case 7:
			return fmt.Sprintf("ct status %sdnat", pick("", "!= ")), ""
		case 8:
			return fmt.Sprintf("iifname %s%s", ne(), pick(`"r0"`, `"br1"`, `"r*"`)), ""
		case 9:
			return fmt.Sprintf("fib daddr type %s%s", ne(), pick("local", "unicast")), ""
		case 10:
			return fmt.Sprintf("ip saddr . ip daddr { %s . 10.1.0.11, 10.0.0.3 . 10.1.0.0/24 }", pick("10.0.0.2", "10.0.0.4")), ""
		}
		return "counter", ""
	}
	chains := []string{"fw1", "fw2", "fw3"}
	target := func(i int, proto string) string {
		opts := []string{"accept", "drop", "reject", "continue", "log prefix \"fw \"", "return",
			"reject with icmp type " + pick("port-unreachable", "host-unreachable", "net-unreachable", "admin-prohibited", "host-prohibited", "net-prohibited")}
		if proto == "tcp" {
			opts = append(opts, "reject with tcp reset")
		}
		if i+1 < len(chains) {
			opts = append(opts, "jump "+chains[i+1+r.Intn(len(chains)-i-1)], "goto "+chains[i+1+r.Intn(len(chains)-i-1)])
		}
		return opts[r.Intn(len(opts))]
	}
	for i, ch := range chains {
		w("  chain %s {", ch)
		for k := 0; k < 1+r.Intn(4); k++ {
			cnd, proto := cond()
			w("    %s %s", cnd, target(i, proto))
		}
		w("  }")
	}
	w("  chain fw { type filter hook forward priority %s; policy %s;", prio("filter"), fwPolicy)
	if fwPolicy == "accept" || maybe(0.8) {
		w("    ct state established,related accept")
	}
	w("    jump fw1")
	w("  }")
	w("  chain in { type filter hook input priority %s; policy %s;", prio("filter"), inPolicy)
	if maybe(0.7) {
		w("    ct state established,related accept")
	}
	if maybe(0.5) {
		w("    %s dport 7000 ip saddr %s%s %s", pick("tcp", "udp"), ne(), pick("10.0.0.2", "10.0.0.3"), pick("drop", "reject"))
	}
	w("  }")
	if maybe(0.1) {
		w("  chain out { type filter hook output priority filter; policy accept; icmp type destination-unreachable drop; }")
	}
	w("}")
	// A second table at the same hooks: accept there goes on to the other base chain.
	if maybe(0.5) {
		w("table inet t2 {")
		w("  chain fw { type filter hook forward priority %d; policy %s;", r.Intn(101)-50, pick("accept", "accept", "accept", "drop"))
		w("    ct state established,related accept")
		for k := 0; k < 1+r.Intn(3); k++ {
			cnd, proto := cond()
			// The named sets are table t's.
			cnd = strings.NewReplacer("@svcports", "{ 10.1.0.11 . tcp . 80, 10.1.0.13 . tcp . 8080 }", "@clients", "{ 10.0.0.2, 10.0.0.4 }").Replace(cnd)
			t := pick("accept", "drop", "reject with icmpx type admin-prohibited", "counter")
			if proto == "tcp" && maybe(0.3) {
				t = "reject with tcp reset"
			}
			w("    %s %s", cnd, t)
		}
		w("  }")
		w("}")
	}
	c.nft = b.String()
	if maybe(0.3) {
		c.iptables = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n" +
			pick("-A FORWARD -p tcp -m tcp --dport 8080 -j DROP\n", "-A FORWARD -s 10.0.0.3/32 -j REJECT --reject-with icmp-host-prohibited\n", "-A FORWARD -p udp -j ACCEPT\n") + "COMMIT\n"
	}

	// Routing as in the iptables cases: policy routing by mark, typed routes.
	if maybe(0.4) {
		c.routing = append(c.routing, []string{"rule", "add", "fwmark", "0x1/0x1", "lookup", "100", "prio", "100"})
		switch r.Intn(3) {
		case 0:
			c.routing = append(c.routing, []string{"route", "add", "blackhole", "10.1.0.0/24", "table", "100"})
		case 1:
			c.routing = append(c.routing, []string{"route", "add", "prohibit", "10.1.0.13/32", "table", "100"},
				[]string{"route", "add", "10.1.0.0/24", "dev", "br1", "table", "100"})
		case 2:
			c.routing = append(c.routing, []string{"route", "add", "10.1.0.0/24", "dev", "br1", "table", "100"})
		}
	}
	switch r.Intn(3) {
	case 0:
		c.routing = append(c.routing, []string{"route", "add", "unreachable", "10.2.0.3/32"})
	case 1:
		c.routing = append(c.routing, []string{"route", "add", "blackhole", "10.2.0.3/32"})
	}
	c.sysctls = []string{"net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.r0.rp_filter=0", "net.ipv4.conf.r0.forwarding=1"}

	dsts := []struct {
		dst, proto string
		port       uint16
	}{
		{"10.2.0.1", "tcp", 80}, {"10.2.0.1", "tcp", 80}, {"10.2.0.2", "udp", 53}, {"10.2.0.2", "tcp", 81},
		{"10.2.0.3", "tcp", 80}, {"10.2.0.3", "tcp", 8080}, {"10.1.0.11", "tcp", 80}, {"10.1.0.12", "tcp", 8080},
		{"10.1.0.13", "udp", 5353}, {"10.1.0.12", "udp", 53}, {"10.1.0.11", "tcp", 9999}, {"10.1.0.13", "udp", 9999},
		{"10.0.0.1", "tcp", 7000}, {"10.0.0.1", "udp", 7000}, {"10.1.0.1", "tcp", 7000}, {"10.0.0.1", "tcp", 9999},
	}
	used := map[uint16]bool{}
	for i := 0; i < 8; i++ {
		d := dsts[r.Intn(len(dsts))]
		sport := uint16(20000 + r.Intn(40000))
		for used[sport] {
			sport++
		}
		used[sport] = true
		c.probes = append(c.probes, probe{src: pick("10.0.0.2", "10.0.0.3", "10.0.0.4"), dst: d.dst, proto: d.proto, port: d.port, sport: sport})
	}
	return c
}
