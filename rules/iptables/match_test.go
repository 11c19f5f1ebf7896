package iptables_test

import (
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/netsim/netsim/bundle"
	"github.com/netsim/netsim/model"
	"github.com/netsim/netsim/model/source"
	"github.com/netsim/netsim/rules/ipset"
	"github.com/netsim/netsim/rules/iptables"
	"github.com/netsim/netsim/rules/packet"
	"github.com/netsim/netsim/simulate"
)

// realEnv is the environment of a real namespace: node1 of the testbed bundle (its
// addresses and routes), with the ipsets of rules/ipset/testdata/ipset-save.txt.
func realEnv(t *testing.T) iptables.Env {
	t.Helper()
	b, err := bundle.Open("../../testdata/bundles/two-node-iptables")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	c, err := model.Load(b, model.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.NodeState("node1")
	if err != nil {
		t.Fatal(err)
	}
	ns, err := simulate.NewNetNS(st.Host)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile("../ipset/testdata/ipset-save.txt")
	if ns.Sets, err = ipset.Parse(source.NewFile("ipset.txt", data)); err != nil {
		t.Fatal(err)
	}
	return ns.Env()
}

func pkt(proto uint8, src, dst string, sport, dport uint16) packet.Packet {
	return packet.Packet{Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst), Proto: proto, SPort: sport, DPort: dport, CtState: packet.CtNew, TCPFlags: packet.SYN, InIface: "eth0", OutIface: "cni0"}
}

// TestMatches is a table of every match, each against packets it must and must not match.
func TestMatches(t *testing.T) {
	env := realEnv(t)
	base := pkt(packet.TCP, "10.0.0.2", "10.244.1.5", 40000, 80)
	with := func(f func(*packet.Packet)) packet.Packet { p := base; f(&p); return p }
	// A request IPVS scheduled from 10.96.0.10:80 and sent (masq) to 10.244.1.5:80.
	ipvsPkt := with(func(p *packet.Packet) {
		p.IPVS, p.IPVSVAddr, p.IPVSMethod = true, netip.MustParseAddrPort("10.96.0.10:80"), packet.IPVSMasq
	})
	cases := []struct {
		match string
		yes   []packet.Packet
		no    []packet.Packet
	}{
		{"-s 10.0.0.0/24", []packet.Packet{base}, []packet.Packet{with(func(p *packet.Packet) { p.Src = netip.MustParseAddr("10.1.0.2") })}},
		{"! -s 10.0.0.0/24", []packet.Packet{with(func(p *packet.Packet) { p.Src = netip.MustParseAddr("10.1.0.2") })}, []packet.Packet{base}},
		{"-d 10.244.1.5/32", []packet.Packet{base}, []packet.Packet{with(func(p *packet.Packet) { p.Dst = netip.MustParseAddr("10.244.1.6") })}},
		{"-s 10.0.0.0/255.255.255.0", []packet.Packet{base}, nil},
		{"-i eth+", []packet.Packet{base}, []packet.Packet{with(func(p *packet.Packet) { p.InIface = "cni0" })}},
		{"! -o cni0", []packet.Packet{with(func(p *packet.Packet) { p.OutIface = "eth0" })}, []packet.Packet{base}},
		{"-p tcp", []packet.Packet{base}, []packet.Packet{pkt(packet.UDP, "10.0.0.2", "10.244.1.5", 1, 80)}},
		{"-p 6", []packet.Packet{base}, nil},
		{"-p all", []packet.Packet{base, pkt(packet.UDP, "1.1.1.1", "2.2.2.2", 1, 2)}, nil},
		{"-f", nil, []packet.Packet{base}},
		{"-p tcp -m tcp --dport 80", []packet.Packet{base}, []packet.Packet{with(func(p *packet.Packet) { p.DPort = 81 })}},
		{"-p tcp -m tcp --dport 70:90", []packet.Packet{base}, []packet.Packet{with(func(p *packet.Packet) { p.DPort = 91 })}},
		{"-p tcp -m tcp --dport :80", []packet.Packet{base}, []packet.Packet{with(func(p *packet.Packet) { p.DPort = 81 })}},
		{"-p tcp -m tcp --sport 40000:", []packet.Packet{base}, []packet.Packet{with(func(p *packet.Packet) { p.SPort = 1024 })}},
		{"-p tcp -m tcp ! --dport 80", []packet.Packet{with(func(p *packet.Packet) { p.DPort = 443 })}, []packet.Packet{base}},
		{"-p tcp -m tcp --syn", []packet.Packet{base}, []packet.Packet{with(func(p *packet.Packet) { p.TCPFlags = packet.ACK })}},
		{"-p tcp -m tcp --tcp-flags SYN,ACK SYN,ACK", []packet.Packet{with(func(p *packet.Packet) { p.TCPFlags = packet.SYN | packet.ACK })}, []packet.Packet{base}},
		{"-p tcp -m tcp --tcp-flags RST RST", []packet.Packet{with(func(p *packet.Packet) { p.TCPFlags = packet.RST })}, []packet.Packet{base}},
		{"-p udp -m udp --dport 53", []packet.Packet{pkt(packet.UDP, "10.0.0.2", "10.96.0.10", 5000, 53)}, []packet.Packet{base}},
		{"-p sctp -m sctp --dport 38412", []packet.Packet{pkt(packet.SCTP, "10.0.0.2", "10.0.0.3", 1, 38412)}, []packet.Packet{base}},
		{"-p tcp -m multiport --dports 22,80,443", []packet.Packet{base}, []packet.Packet{with(func(p *packet.Packet) { p.DPort = 8080 })}},
		{"-p tcp -m multiport --dports 8000:9000,80", []packet.Packet{base, with(func(p *packet.Packet) { p.DPort = 8443 })}, []packet.Packet{with(func(p *packet.Packet) { p.DPort = 7000 })}},
		{"-p tcp -m multiport --sports 40000", []packet.Packet{base}, []packet.Packet{with(func(p *packet.Packet) { p.SPort = 1 })}},
		{"-p tcp -m multiport --ports 80", []packet.Packet{base, with(func(p *packet.Packet) { p.DPort, p.SPort = 1, 80 })}, []packet.Packet{with(func(p *packet.Packet) { p.DPort = 1 })}},
		{"-p icmp -m icmp --icmp-type 8", []packet.Packet{{Proto: packet.ICMP, ICMPType: 8, Src: base.Src, Dst: base.Dst}}, []packet.Packet{{Proto: packet.ICMP, ICMPType: 0, Src: base.Src, Dst: base.Dst}}},
		{"-p icmp -m icmp --icmp-type port-unreachable", []packet.Packet{{Proto: packet.ICMP, ICMPType: 3, ICMPCode: 3, Src: base.Src, Dst: base.Dst}}, []packet.Packet{{Proto: packet.ICMP, ICMPType: 3, ICMPCode: 1, Src: base.Src, Dst: base.Dst}}},
		{"-p icmp -m icmp --icmp-type 3/1", []packet.Packet{{Proto: packet.ICMP, ICMPType: 3, ICMPCode: 1, Src: base.Src, Dst: base.Dst}}, []packet.Packet{base}},
		{"-m comment --comment \"anything at all\"", []packet.Packet{base}, nil},
		{"-m nfacct --nfacct-name counter", []packet.Packet{base}, nil},
		{"-m mark --mark 0x4000/0x4000", []packet.Packet{with(func(p *packet.Packet) { p.Mark = 0xc000 })}, []packet.Packet{base}},
		{"-m mark ! --mark 0x1", []packet.Packet{base}, []packet.Packet{with(func(p *packet.Packet) { p.Mark = 1 })}},
		{"-m connmark --mark 0x2/0x2", []packet.Packet{with(func(p *packet.Packet) { p.CtMark = 3 })}, []packet.Packet{base}},
		{"-m conntrack --ctstate NEW", []packet.Packet{base}, []packet.Packet{with(func(p *packet.Packet) { p.CtState = packet.CtEstablished })}},
		{"-m conntrack --ctstate RELATED,ESTABLISHED", []packet.Packet{with(func(p *packet.Packet) { p.CtState = packet.CtRelated })}, []packet.Packet{base}},
		{"-m conntrack --ctstate DNAT", []packet.Packet{with(func(p *packet.Packet) { p.DNATed = true })}, []packet.Packet{base}},
		{"-m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT", []packet.Packet{base}, []packet.Packet{with(func(p *packet.Packet) { p.DNATed = true })}},
		{"-m conntrack --ctstate INVALID", nil, []packet.Packet{base}},
		{"-m state --state NEW", []packet.Packet{base}, nil},
		{"-m conntrack --ctstate UNTRACKED", []packet.Packet{with(func(p *packet.Packet) { p.Untracked = true })}, []packet.Packet{base}},
		{"-m conntrack --ctdir REPLY", []packet.Packet{with(func(p *packet.Packet) { p.Reply = true })}, []packet.Packet{base}},
		{"-m conntrack --ctorigdst 10.96.0.0/16", []packet.Packet{with(func(p *packet.Packet) { p.OrigDst = netip.MustParseAddrPort("10.96.0.10:53") })}, []packet.Packet{base}},
		// node1's addresses: 10.200.0.11 on eth0, 10.244.1.1 on cni0.
		{"-m addrtype --dst-type LOCAL", []packet.Packet{with(func(p *packet.Packet) { p.Dst = netip.MustParseAddr("10.200.0.11") })}, []packet.Packet{base}},
		{"-m addrtype ! --dst-type LOCAL", []packet.Packet{base}, []packet.Packet{with(func(p *packet.Packet) { p.Dst = netip.MustParseAddr("10.244.1.1") })}},
		{"-m addrtype --dst-type LOCAL --limit-iface-in", []packet.Packet{with(func(p *packet.Packet) { p.Dst = netip.MustParseAddr("10.200.0.11") })},
			[]packet.Packet{with(func(p *packet.Packet) { p.Dst = netip.MustParseAddr("10.244.1.1") })}},
		{"-m addrtype --src-type LOCAL", []packet.Packet{with(func(p *packet.Packet) { p.Src = netip.MustParseAddr("127.0.0.1") })}, []packet.Packet{base}},
		{"-m set --match-set ips src", []packet.Packet{base}, []packet.Packet{with(func(p *packet.Packet) { p.Src = netip.MustParseAddr("10.0.0.9") })}},
		{"-m set ! --match-set nets src", []packet.Packet{with(func(p *packet.Packet) { p.Src = netip.MustParseAddr("10.2.0.5") })}, []packet.Packet{base}},
		{"-m set --match-set nets src --return-nomatch", []packet.Packet{with(func(p *packet.Packet) { p.Src = netip.MustParseAddr("10.2.0.5") })}, []packet.Packet{base}},
		{"-m set --match-set ipport dst,dst", []packet.Packet{with(func(p *packet.Packet) { p.Dst, p.DPort = netip.MustParseAddr("10.96.0.1"), 443 })}, []packet.Packet{base}},
		{"-m physdev --physdev-in veth1", []packet.Packet{with(func(p *packet.Packet) { p.Bridged, p.PhysIn = true, "veth1" })}, []packet.Packet{base}},
		{"-m physdev --physdev-is-bridged", []packet.Packet{with(func(p *packet.Packet) { p.Bridged = true })}, []packet.Packet{base}},
		{"-m ipvs --ipvs", []packet.Packet{with(func(p *packet.Packet) { p.IPVS = true })}, []packet.Packet{base}},
		{"-m ipvs ! --ipvs", []packet.Packet{base}, []packet.Packet{with(func(p *packet.Packet) { p.IPVS = true })}},
		// The connection's options (xt_ipvs.c): the packet as IPVS sent it to its real
		// server carries the virtual service it was scheduled from.
		{"-m ipvs --vaddr 10.96.0.0/16 --vport 80", []packet.Packet{ipvsPkt}, []packet.Packet{base, // not IPVS's
			with(func(p *packet.Packet) { *p = ipvsPkt; p.IPVSVAddr = netip.MustParseAddrPort("10.96.0.10:53") }),
			with(func(p *packet.Packet) { *p = ipvsPkt; p.IPVSVAddr = netip.AddrPort{} })}}, // no connection (an un-NATed reply)
		// A negated option never matches a packet without the ipvs property.
		{"-m ipvs ! --vaddr 10.96.0.0/16", []packet.Packet{with(func(p *packet.Packet) { *p = ipvsPkt; p.IPVSVAddr = netip.MustParseAddrPort("192.0.2.10:80") })},
			[]packet.Packet{base, ipvsPkt}},
		{"-m ipvs ! --vport 80", nil, []packet.Packet{base, ipvsPkt}},
		{"-m ipvs --vproto 6", []packet.Packet{ipvsPkt}, []packet.Packet{base, with(func(p *packet.Packet) { *p = ipvsPkt; p.Proto = packet.UDP })}},
		{"-m ipvs --vproto tcp ! --vport 443", []packet.Packet{ipvsPkt}, []packet.Packet{base}},
		{"-m ipvs --vdir ORIGINAL", []packet.Packet{ipvsPkt}, []packet.Packet{base, with(func(p *packet.Packet) { *p = ipvsPkt; p.Untracked = true })}},
		{"-m ipvs --vdir REPLY", nil, []packet.Packet{ipvsPkt}},
		{"-m ipvs --vmethod MASQ", []packet.Packet{ipvsPkt}, []packet.Packet{base, with(func(p *packet.Packet) { *p = ipvsPkt; p.IPVSMethod = packet.IPVSGate })}},
		{"-m ipvs ! --vmethod GATE", []packet.Packet{ipvsPkt}, []packet.Packet{base}},
		{"-m iprange --src-range 10.0.0.1-10.0.0.9", []packet.Packet{base}, []packet.Packet{with(func(p *packet.Packet) { p.Src = netip.MustParseAddr("10.0.0.10") })}},
		{"-m iprange ! --dst-range 10.244.1.1-10.244.1.4", []packet.Packet{base}, []packet.Packet{with(func(p *packet.Packet) { p.Dst = netip.MustParseAddr("10.244.1.3") })}},
		{"-m pkttype --pkt-type unicast", []packet.Packet{base}, []packet.Packet{with(func(p *packet.Packet) { p.Dst = netip.MustParseAddr("224.0.0.1") })}},
		{"-m length --length 0:100", []packet.Packet{with(func(p *packet.Packet) { p.Len = 60 })}, []packet.Packet{with(func(p *packet.Packet) { p.Len = 1500 })}},
		// rpfilter: node1 routes 10.244.2.0/24 via eth0; a packet from there on eth0 passes.
		{"-m rpfilter", []packet.Packet{with(func(p *packet.Packet) { p.Src = netip.MustParseAddr("10.244.2.7") })}, []packet.Packet{with(func(p *packet.Packet) { p.Src = netip.MustParseAddr("10.244.1.7") })}},
		{"-p udp -m udp", []packet.Packet{pkt(packet.UDP, "1.1.1.1", "2.2.2.2", 1, 2)}, []packet.Packet{base}},
		// u32: the classic "TCP to port 80" and "IP protocol 6" tests, on known header fields.
		{"-m u32 --u32 \"0>>22&0x3C@0>>16=80\"", nil, []packet.Packet{base}},
		{"-m u32 --u32 \"0>>22&0x3C@0&0xFFFF=80\"", []packet.Packet{base}, []packet.Packet{with(func(p *packet.Packet) { p.DPort = 81 })}},
		{"-m u32 --u32 \"6&0xFF=6 && 0>>22&0x3C@0&0xFFFF=1:1024\"", []packet.Packet{base}, []packet.Packet{pkt(packet.UDP, "10.0.0.2", "10.244.1.5", 1, 80)}},
		{"-m u32 --u32 \"12=0x0A000002\"", []packet.Packet{base}, []packet.Packet{with(func(p *packet.Packet) { p.Src = netip.MustParseAddr("10.0.0.3") })}},
		// socket: node1's sockets.txt has kube-proxy listening on 127.0.0.1:10249 and *:10256.
		{"-m socket", []packet.Packet{pkt(packet.TCP, "127.0.0.1", "127.0.0.1", 5, 10249)}, []packet.Packet{pkt(packet.TCP, "10.0.0.2", "10.200.0.11", 5, 10256)}},
		{"-m socket --nowildcard", []packet.Packet{pkt(packet.TCP, "10.0.0.2", "10.200.0.11", 5, 10256)}, []packet.Packet{base}},
		{"-m rpfilter --invert", []packet.Packet{with(func(p *packet.Packet) { p.Src = netip.MustParseAddr("10.244.1.7") })}, []packet.Packet{with(func(p *packet.Packet) { p.Src = netip.MustParseAddr("10.244.2.7") })}},
	}
	for _, c := range cases {
		rs, err := iptables.Parse(source.NewFile("t", []byte("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n-A FORWARD "+c.match+" -j ACCEPT\nCOMMIT\n")), false)
		if err != nil {
			t.Errorf("%s: %v", c.match, err)
			continue
		}
		for _, p := range c.yes {
			if res := rs.Chain(env, "filter", "FORWARD", p); len(res) != 1 || res[0].Verdict != iptables.Accept {
				t.Errorf("%s: %v should match: %+v", c.match, p, res)
			}
		}
		for _, p := range c.no {
			if res := rs.Chain(env, "filter", "FORWARD", p); len(res) != 1 || res[0].Verdict != iptables.Drop {
				t.Errorf("%s: %v should not match: %+v", c.match, p, res)
			}
		}
	}
}

// TestMayMatch: state a snapshot lacks makes a match explored both ways.
func TestMayMatch(t *testing.T) {
	for _, m := range []string{"-m recent --rcheck --seconds 60 --name x", "-m limit --limit 5/sec", "-m connlimit --connlimit-above 10",
		"-m hashlimit --hashlimit-above 10/sec --hashlimit-name h", "-m string --string x --algo bm",
		"-m owner --uid-owner 0", "-m statistic --mode nth --every 3 --packet 0",
		"-m u32 --u32 \"0>>22&0x3C@4=0x29\""} { // TCP sequence numbers are not known
		rs, err := iptables.Parse(source.NewFile("t", []byte("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A FORWARD "+m+" -j DROP\nCOMMIT\n")), false)
		if err != nil {
			t.Errorf("%s: %v", m, err)
			continue
		}
		res := rs.Chain(nil, "filter", "FORWARD", pkt(packet.TCP, "10.0.0.2", "10.0.0.3", 1, 80))
		isNth := strings.Contains(m, "nth")
		switch {
		case isNth && len(res) != 2:
			t.Errorf("%s: a statistic match splits into 2 paths, got %+v", m, res)
		case !isNth && (len(res) != 1 || res[0].Verdict != iptables.Unknown || res[0].UnknownRule == nil):
			t.Errorf("%s: want unknown citing the rule, got %+v", m, res)
		}
	}
}

// TestIPVSMayMatch: the options a snapshot cannot answer for a packet IPVS handled stay
// unknown (never accept); for a packet IPVS did not handle, xt_ipvs fails at once.
func TestIPVSMayMatch(t *testing.T) {
	p := pkt(packet.TCP, "10.0.0.2", "10.244.1.5", 40000, 80)
	p.IPVS, p.IPVSVAddr = true, netip.MustParseAddrPort("10.96.0.10:80")
	for _, m := range []string{"-m ipvs --vportctl 21", "-m ipvs --vaddr 10.96.0.0/16 --vmethod MASQ", "-m ipvs ! --vmethod MASQ"} {
		rs, err := iptables.Parse(source.NewFile("t", []byte("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A FORWARD "+m+" -j DROP\nCOMMIT\n")), false)
		if err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		if res := rs.Chain(nil, "filter", "FORWARD", p); len(res) != 1 || res[0].Verdict != iptables.Unknown || res[0].UnknownRule == nil {
			t.Errorf("%s: want unknown citing the rule, got %+v", m, res)
		}
		q := p
		q.IPVS = false
		if res := rs.Chain(nil, "filter", "FORWARD", q); len(res) != 1 || res[0].Verdict != iptables.Accept {
			t.Errorf("%s: a packet without the ipvs property never matches, got %+v", m, res)
		}
	}
	for _, m := range []string{"-m ipvs --vdir SIDEWAYS", "-m ipvs --vmethod NAT", "-m ipvs --vport x"} {
		if _, err := iptables.Parse(source.NewFile("t", []byte("*filter\n:FORWARD ACCEPT [0:0]\n-A FORWARD "+m+" -j DROP\nCOMMIT\n")), false); err == nil {
			t.Errorf("%s: want a parse error", m)
		}
	}
}

// TestTargets covers each target's effect.
func TestTargets(t *testing.T) {
	env := realEnv(t)
	run := func(table, chain, rule string, p packet.Packet) []iptables.Result {
		t.Helper()
		hdr := map[string]string{
			"nat":    "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n",
			"filter": "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n",
			"raw":    "*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n",
			"mangle": "*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n",
		}[table]
		rs, err := iptables.Parse(source.NewFile("t", []byte(hdr+"-A "+chain+" "+rule+"\nCOMMIT\n")), false)
		if err != nil {
			t.Fatalf("%s: %v", rule, err)
		}
		return rs.Chain(env, table, chain, p)
	}
	p := pkt(packet.TCP, "10.244.1.5", "10.96.0.10", 40000, 53)
	if r := run("nat", "PREROUTING", "-p tcp -j DNAT --to-destination 10.244.2.9:5353", p); r[0].Packet.Dst.String() != "10.244.2.9" || r[0].Packet.DPort != 5353 || !r[0].Packet.DNATed {
		t.Errorf("DNAT: %+v", r[0].Packet)
	}
	if r := run("nat", "PREROUTING", "-j DNAT --to-destination 10.244.2.9", p); r[0].Packet.DPort != 53 {
		t.Errorf("DNAT without a port keeps it: %+v", r[0].Packet)
	}
	if r := run("nat", "PREROUTING", "-j DNAT --to-destination 10.0.0.1-10.0.0.3", p); len(r) != 3 || r[2].Packet.Dst.String() != "10.0.0.3" {
		t.Errorf("DNAT range: every address a path: %+v", r)
	}
	q := p
	q.OutIface = "eth0"
	if r := run("nat", "POSTROUTING", "-j MASQUERADE", q); r[0].Packet.Src.String() != "10.200.0.11" || !r[0].Packet.SNATed {
		t.Errorf("MASQUERADE takes eth0's address: %+v", r[0].Packet)
	}
	if r := run("nat", "POSTROUTING", "-j SNAT --to-source 192.0.2.1:1000-2000", q); r[0].Packet.Src.String() != "192.0.2.1" || r[0].Packet.SPort != 1000 {
		t.Errorf("SNAT with ports: %+v", r[0].Packet)
	}
	q.InIface = "cni0"
	if r := run("nat", "PREROUTING", "-p tcp -j REDIRECT --to-ports 15001", q); r[0].Packet.Dst.String() != "10.244.1.1" || r[0].Packet.DPort != 15001 {
		t.Errorf("REDIRECT to the incoming device's address: %+v", r[0].Packet)
	}
	if r := run("filter", "FORWARD", "-j REJECT", p); r[0].Verdict != iptables.Reject || r[0].RejectWith != "icmp-port-unreachable" {
		t.Errorf("REJECT default: %+v", r[0])
	}
	for _, with := range []string{"icmp-net-unreachable", "icmp-host-unreachable", "icmp-port-unreachable", "icmp-proto-unreachable", "icmp-net-prohibited", "icmp-host-prohibited", "icmp-admin-prohibited", "tcp-reset"} {
		if r := run("filter", "FORWARD", "-p tcp -j REJECT --reject-with "+with, p); r[0].RejectWith != with {
			t.Errorf("REJECT --reject-with %s: %+v", with, r[0])
		}
	}
	if r := run("raw", "PREROUTING", "-j NOTRACK", p); !r[0].Packet.Untracked || r[0].Verdict != iptables.Accept {
		t.Errorf("NOTRACK: %+v", r[0])
	}
	if r := run("raw", "PREROUTING", "-j CT --notrack", p); !r[0].Packet.Untracked {
		t.Errorf("CT --notrack: %+v", r[0])
	}
	if r := run("mangle", "PREROUTING", "-p tcp -j TPROXY --on-port 15006 --on-ip 127.0.0.1 --tproxy-mark 0x1/0x1", p); r[0].TProxy.Port() != 15006 || r[0].Packet.Mark != 1 {
		t.Errorf("TPROXY: %+v", r[0])
	}
	for _, cont := range []string{"-j LOG --log-prefix x", "-j NFLOG --nflog-group 1", "-p tcp -j TCPMSS --clamp-mss-to-pmtu", "-j CHECKSUM --checksum-fill"} {
		if r := run("mangle", "FORWARD", cont, p); r[0].Verdict != iptables.Accept || len(r[0].Steps) != 2 {
			t.Errorf("%s continues: %+v", cont, r[0])
		}
	}
	if r := run("mangle", "PREROUTING", "-j CONNMARK --restore-mark --nfmask 0xff --ctmask 0xff", func() packet.Packet { x := p; x.CtMark = 0x1234; return x }()); r[0].Packet.Mark != 0x34 {
		t.Errorf("CONNMARK --restore-mark: %#x", r[0].Packet.Mark)
	}
	if r := run("mangle", "PREROUTING", "-j CONNMARK --set-xmark 0x5/0xf", p); r[0].Packet.CtMark != 5 {
		t.Errorf("CONNMARK --set-xmark: %#x", r[0].Packet.CtMark)
	}
	if r := run("filter", "FORWARD", "-j NFQUEUE --queue-num 3", p); r[0].Verdict != iptables.Unknown {
		t.Errorf("NFQUEUE must be unknown: %+v", r[0])
	}
}
