package e2e

import (
	"fmt"
	"math/rand"
	"strings"
)

// genCase builds one random router configuration and its probes from a seed.
func genCase(seed int64) *diffCase {
	r := rand.New(rand.NewSource(seed))
	c := &diffCase{}
	pick := func(xs ...string) string { return xs[r.Intn(len(xs))] }
	maybe := func(p float64) bool { return r.Float64() < p }
	neg := func() string {
		if maybe(0.25) {
			return "! "
		}
		return ""
	}

	// ipsets
	c.ipset = "create cl hash:ip family inet hashsize 1024 maxelem 65536\n" +
		"add cl " + pick("10.0.0.2", "10.0.0.3") + "\n" +
		"create nets hash:net family inet hashsize 1024 maxelem 65536\n" +
		"add nets 10.0.0.0/29\n" + "add nets " + pick("10.0.0.4", "10.0.0.3", "10.0.0.2") + " nomatch\n" +
		"create svc hash:ip,port family inet hashsize 1024 maxelem 65536\n" +
		"add svc 10.1.0.11,tcp:80\nadd svc 10.1.0.12,udp:53\nadd svc 10.1.0.13,tcp:8080\n"

	// mangle: marks that policy routing and the filter rules look at.
	var mangle []string
	if maybe(0.5) {
		mangle = append(mangle, fmt.Sprintf("-A PREROUTING %s-s %s/32 -i r0 -j MARK --set-xmark 0x1/0x1", neg(), pick("10.0.0.2", "10.0.0.3", "10.0.0.4")))
	}
	if maybe(0.4) {
		mangle = append(mangle, fmt.Sprintf("-A PREROUTING -p %s -i r0 -j MARK --set-xmark 0x10/0x10", pick("tcp", "udp")))
	}
	if maybe(0.2) {
		mangle = append(mangle, "-A PREROUTING -i r0 -m mark --mark 0x1/0x1 -j MARK --set-xmark 0x0/0x1")
	}

	// nat: kube-proxy-shaped services behind VIPs, REDIRECT to the router, SNAT/MASQUERADE.
	natChains := []string{}
	var nat []string
	backends := []string{"10.1.0.11", "10.1.0.12", "10.1.0.13"}
	svc := func(name, vip, proto string, port int, targetPorts []int, eps int) {
		chain := "SVC-" + name
		natChains = append(natChains, chain)
		nat = append(nat, fmt.Sprintf("-A PREROUTING -d %s/32 -p %s -m %s --dport %d -m comment --comment \"svc %s\" -j %s", vip, proto, proto, port, name, chain))
		perm := r.Perm(3)
		for i := 0; i < eps; i++ {
			sep := fmt.Sprintf("SEP-%s-%d", name, i)
			natChains = append(natChains, sep)
			rule := "-A " + chain
			if i < eps-1 {
				rule += fmt.Sprintf(" -m statistic --mode random --probability %.11f", 1/float64(eps-i))
			}
			nat = append(nat, rule+" -j "+sep)
			if maybe(0.3) {
				nat = append(nat, fmt.Sprintf("-A %s -s %s/32 -j MARK --set-xmark 0x4000/0x4000", sep, backends[perm[i]]))
			}
			nat = append(nat, fmt.Sprintf("-A %s -p %s -m %s -j DNAT --to-destination %s:%d", sep, proto, proto, backends[perm[i]], targetPorts[r.Intn(len(targetPorts))]))
		}
	}
	svc("web", "10.2.0.1", "tcp", 80, []int{80, 8080, 80, 9999}, 1+r.Intn(3))
	svc("dns", "10.2.0.2", "udp", 53, []int{53, 5353, 9999}, 1+r.Intn(2))
	if maybe(0.6) {
		nat = append(nat, "-A PREROUTING -d 10.2.0.2/32 -p tcp -m tcp --dport 81 -j REDIRECT --to-ports 7000")
	}
	switch r.Intn(4) {
	case 0:
		nat = append(nat, fmt.Sprintf("-A POSTROUTING -o br1 %s-s %s/32 -j MASQUERADE", neg(), pick("10.0.0.2", "10.0.0.3")))
	case 1:
		nat = append(nat, "-A POSTROUTING -o br1 -m mark --mark 0x10/0x10 -j SNAT --to-source 10.1.0.1")
	case 2:
		nat = append(nat, "-A POSTROUTING -m mark --mark 0x4000/0x4000 -j MASQUERADE")
	}

	// filter: a host firewall of user chains with jumps, gotos and returns.
	policy := func() string { return pick("ACCEPT", "ACCEPT", "DROP") }
	fwPolicy, inPolicy := policy(), policy()
	chains := []string{"FW1", "FW2", "FW3"}
	var filter []string
	if fwPolicy == "ACCEPT" || maybe(0.8) {
		filter = append(filter, "-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
	}
	filter = append(filter, "-A FORWARD -j FW1")
	if maybe(0.7) {
		filter = append(filter, "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
	}
	cond := func(proto string) string {
		var parts []string
		switch r.Intn(9) {
		case 0:
			parts = append(parts, fmt.Sprintf("%s-s %s", neg(), pick("10.0.0.2/32", "10.0.0.3/32", "10.0.0.4/32", "10.0.0.0/30", "10.0.0.2/31")))
		case 1:
			parts = append(parts, fmt.Sprintf("%s-d %s", neg(), pick("10.1.0.11/32", "10.1.0.12/32", "10.1.0.0/24", "10.1.0.13/32")))
		case 2:
			if proto == "" {
				proto = pick("tcp", "udp")
			}
			parts = append(parts, fmt.Sprintf("-p %s -m %s %s--dport %s", proto, proto, neg(), pick("80", "8080", "53", "5353", "80:100", "5000:9000")))
		case 3:
			if proto == "" {
				proto = pick("tcp", "udp")
			}
			parts = append(parts, fmt.Sprintf("-p %s -m multiport %s--dports %s", proto, neg(), pick("80,8080", "53,5353", "53,80,7000")))
		case 4:
			parts = append(parts, fmt.Sprintf("-m mark %s--mark %s", neg(), pick("0x1/0x1", "0x10/0x10", "0x0/0x1")))
		case 5:
			parts = append(parts, fmt.Sprintf("-m set %s--match-set %s", neg(), pick("cl src", "nets src", "svc dst,dst")))
		case 6:
			parts = append(parts, fmt.Sprintf("-m conntrack %s--ctstate %s", neg(), pick("NEW", "DNAT", "RELATED,ESTABLISHED")))
		case 7:
			parts = append(parts, fmt.Sprintf("%s-i %s", neg(), pick("r0", "br1", "r+")))
		case 8:
			parts = append(parts, fmt.Sprintf("-m addrtype %s--dst-type %s", neg(), pick("LOCAL", "UNICAST")))
		}
		if maybe(0.2) {
			parts = append(parts, `-m comment --comment "rule with spaces"`)
		}
		return strings.Join(parts, " ")
	}
	target := func(i int, c string) string {
		isTCP := strings.Contains(c, "-p tcp")
		options := []string{"ACCEPT", "DROP", "REJECT --reject-with " + pick("icmp-port-unreachable", "icmp-host-unreachable", "icmp-net-unreachable", "icmp-admin-prohibited", "icmp-host-prohibited", "icmp-net-prohibited"), "LOG --log-prefix \"fw \"", "RETURN"}
		if isTCP {
			options = append(options, "REJECT --reject-with tcp-reset")
		}
		if i+1 < len(chains) {
			options = append(options, "-j "+chains[i+1+r.Intn(len(chains)-i-1)], "-g "+chains[i+1+r.Intn(len(chains)-i-1)])
		}
		t := options[r.Intn(len(options))]
		if strings.HasPrefix(t, "-") {
			return t
		}
		return "-j " + t
	}
	for i, ch := range chains {
		for k := 0; k < 1+r.Intn(4); k++ {
			proto := ""
			if maybe(0.3) {
				proto = pick("tcp", "udp")
			}
			cnd := cond(proto)
			filter = append(filter, strings.TrimSpace(fmt.Sprintf("-A %s %s %s", ch, cnd, target(i, cnd))))
		}
	}
	if maybe(0.5) {
		filter = append(filter, fmt.Sprintf("-A INPUT -p %s -m %s --dport 7000 %s-s %s -j %s", pick("tcp", "udp"), pick("tcp", "udp"), neg(), pick("10.0.0.2/32", "10.0.0.3/32"), pick("DROP", "REJECT")))
	}
	if maybe(0.1) {
		filter = append(filter, "-A OUTPUT -p icmp -m icmp --icmp-type 3 -j DROP")
	}
	if maybe(0.1) {
		filter = append(filter, "-A OUTPUT -p tcp -m tcp --tcp-flags RST RST -j DROP")
	}
	// A -p tcp -m udp would not load: keep the protocol of -m tcp/udp consistent.
	for i, l := range filter {
		filter[i] = fixProto(l)
	}
	for i, l := range nat {
		nat[i] = fixProto(l)
	}

	var b strings.Builder
	b.WriteString("*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n")
	for _, l := range mangle {
		b.WriteString(l + "\n")
	}
	b.WriteString("COMMIT\n*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n")
	for _, ch := range natChains {
		b.WriteString(":" + ch + " - [0:0]\n")
	}
	for _, l := range nat {
		b.WriteString(l + "\n")
	}
	fmt.Fprintf(&b, "COMMIT\n*filter\n:INPUT %s [0:0]\n:FORWARD %s [0:0]\n:OUTPUT ACCEPT [0:0]\n", inPolicy, fwPolicy)
	for _, ch := range chains {
		b.WriteString(":" + ch + " - [0:0]\n")
	}
	for _, l := range filter {
		b.WriteString(l + "\n")
	}
	b.WriteString("COMMIT\n")
	c.iptables = b.String()

	// routing: policy rules, typed routes, an asymmetric return path.
	if maybe(0.5) {
		c.routing = append(c.routing, []string{"rule", "add", "fwmark", "0x1/0x1", "lookup", "100", "prio", "100"})
		switch r.Intn(4) {
		case 0:
			c.routing = append(c.routing, []string{"route", "add", "blackhole", "10.1.0.0/24", "table", "100"})
		case 1:
			c.routing = append(c.routing, []string{"route", "add", "unreachable", "10.1.0.12/32", "table", "100"},
				[]string{"route", "add", "10.1.0.0/24", "dev", "br1", "table", "100"})
		case 2:
			c.routing = append(c.routing, []string{"route", "add", "prohibit", "10.1.0.13/32", "table", "100"},
				[]string{"route", "add", "10.1.0.0/24", "dev", "br1", "table", "100"})
		case 3:
			c.routing = append(c.routing, []string{"route", "add", "10.1.0.0/24", "dev", "br1", "table", "100"})
		}
		if maybe(0.3) {
			c.routing = append(c.routing, []string{"rule", "add", "from", "10.0.0.4", "lookup", "100", "prio", "110"})
		}
	}
	switch r.Intn(4) {
	case 0:
		c.routing = append(c.routing, []string{"route", "add", "unreachable", "10.2.0.3/32"})
	case 1:
		c.routing = append(c.routing, []string{"route", "add", "prohibit", "10.2.0.3/32"})
	case 2:
		c.routing = append(c.routing, []string{"route", "add", "blackhole", "10.2.0.3/32"})
	}
	if maybe(0.3) {
		// The return path to 10.0.0.4 leaves through br1: strict rp_filter drops its packets.
		c.routing = append(c.routing, []string{"route", "add", "10.0.0.4/32", "dev", "br1"})
	}
	c.sysctls = []string{
		"net.ipv4.conf.all.rp_filter=0",
		"net.ipv4.conf.r0.rp_filter=" + pick("0", "1", "2"),
		"net.ipv4.conf.r0.forwarding=" + pick("1", "1", "1", "1", "0"),
	}

	// probes
	dsts := []struct {
		dst, proto string
		port       uint16
	}{
		{"10.2.0.1", "tcp", 80}, {"10.2.0.1", "tcp", 80}, {"10.2.0.2", "udp", 53}, {"10.2.0.2", "tcp", 81},
		{"10.2.0.3", "tcp", 80}, {"10.2.0.3", "udp", 53}, {"10.1.0.11", "tcp", 80}, {"10.1.0.12", "tcp", 8080},
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

// fixProto makes "-p tcp -m udp --dport" consistent ("-p X -m Y" with Y the other one).
func fixProto(l string) string {
	for _, pr := range [][2]string{{"-p tcp -m udp", "-p tcp -m tcp"}, {"-p udp -m tcp", "-p udp -m udp"}} {
		l = strings.ReplaceAll(l, pr[0], pr[1])
	}
	return l
}
