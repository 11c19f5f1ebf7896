package iptables

import (
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/netsim/netsim/model/source"
	"github.com/netsim/netsim/rules/packet"
)

// kubeProxyRuleset writes what kube-proxy's iptables mode writes for n Services with 3
// endpoints each (rule for rule as in the testbed's real dump: the cluster-IP rule, the
// masquerade rule, statistic branches, endpoint chains with hairpin masquerade and DNAT),
// around the real dump's fixed chains.
func kubeProxyRuleset(tb testing.TB, n int) []byte {
	real, err := os.ReadFile(kubeProxyRules)
	if err != nil {
		tb.Fatal(err)
	}
	var decl, rules strings.Builder
	for i := 0; i < n; i++ {
		vip := fmt.Sprintf("10.%d.%d.%d", 96+i/65536, i/256%256, i%256)
		svc := fmt.Sprintf("KUBE-SVC-%016X", i)
		fmt.Fprintf(&decl, ":%s - [0:0]\n", svc)
		name := fmt.Sprintf("ns%d/svc%d:http", i%50, i)
		fmt.Fprintf(&rules, "-A KUBE-SERVICES -d %s/32 -p tcp -m comment --comment \"%s cluster IP\" -m tcp --dport 80 -j %s\n", vip, name, svc)
		fmt.Fprintf(&rules, "-A %s ! -s 10.244.0.0/16 -d %s/32 -p tcp -m comment --comment \"%s cluster IP\" -m tcp --dport 80 -j KUBE-MARK-MASQ\n", svc, vip, name)
		for k := 0; k < 3; k++ {
			ep := fmt.Sprintf("10.%d.%d.%d", 128+(i*3+k)/65536, (i*3+k)/256%256, (i*3+k)%256)
			sep := fmt.Sprintf("KUBE-SEP-%014X%02d", i, k)
			fmt.Fprintf(&decl, ":%s - [0:0]\n", sep)
			stat := ""
			if k == 0 {
				stat = "-m statistic --mode random --probability 0.33333333349 "
			} else if k == 1 {
				stat = "-m statistic --mode random --probability 0.50000000000 "
			}
			fmt.Fprintf(&rules, "-A %s -m comment --comment \"%s -> %s:8080\" %s-j %s\n", svc, name, ep, stat, sep)
			fmt.Fprintf(&rules, "-A %s -s %s/32 -m comment --comment \"%s\" -j KUBE-MARK-MASQ\n", sep, ep, name)
			fmt.Fprintf(&rules, "-A %s -p tcp -m comment --comment \"%s\" -m tcp -j DNAT --to-destination %s:8080\n", sep, name, ep)
		}
	}
	// Put the generated chains and rules into the real dump's nat table, before the
	// KUBE-SERVICES rules it already has (its last rule, to KUBE-NODEPORTS, stays last).
	text := string(real)
	natStart := strings.Index(text, "*nat\n")
	firstRule := natStart + strings.Index(text[natStart:], "\n-A ") + 1
	text = text[:firstRule] + decl.String() + rules.String() + text[firstRule:]
	return []byte(text)
}

func BenchmarkParseKubeProxy10k(b *testing.B) {
	data := kubeProxyRuleset(b, 10000)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Parse(source.NewFile("iptables-save.txt", data), false); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEvalKubeServices evaluates one packet to a cluster IP through PREROUTING
// (raw, mangle, nat: KUBE-SERVICES, KUBE-SVC, three KUBE-SEP branches) for rulesets of
// 1,000 and 10,000 Services: the time must not grow with the number of Services.
func BenchmarkEvalKubeServices(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		rs, err := Parse(source.NewFile("iptables-save.txt", kubeProxyRuleset(b, n)), false)
		if err != nil {
			b.Fatal(err)
		}
		// A Service in the middle of the chain.
		i := n / 2
		vip := netip.AddrFrom4([4]byte{10, byte(96 + i/65536), byte(i / 256 % 256), byte(i % 256)})
		p := packet.Packet{Src: netip.MustParseAddr("10.244.1.3"), Dst: vip, Proto: packet.TCP, SPort: 40000, DPort: 80,
			TCPFlags: packet.SYN, CtState: packet.CtNew, InIface: "cni0"}
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			for k := 0; k < b.N; k++ {
				res := rs.Hook(nil, "PREROUTING", p)
				if len(res) != 3 || !res[0].Packet.DNATed {
					b.Fatalf("results %+v", res)
				}
			}
		})
	}
}
