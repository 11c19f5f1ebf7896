package nft

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/netsim/netsim/rules/packet"
)

// testdata/kube-proxy.json is node1's `nft -j list ruleset` from the testbed with
// kube-proxy in nftables mode (e2e TestTraceNFTAgainstKernel): Service echo
// (10.96.5.196, tcp 80 and udp 53, endpoints 10.244.1.2 and 10.244.2.2), echo-np (NodePort
// 30080), noep (10.96.22.246, no endpoints), echo-ext (external IP 10.200.0.50).

func chainOf(rs *Ruleset, table, name string) *Chain {
	for _, t := range rs.Tables {
		if t.Key() == table {
			return t.Chains[name]
		}
	}
	return nil
}

func TestKubeProxy(t *testing.T) {
	rs := load(t, "kube-proxy.json")
	pod := "10.244.1.3"
	mark := func(p packet.Packet, m uint32) packet.Packet { p.Mark = m; return p }
	for _, c := range []struct {
		name, chain, hook string
		p                 packet.Packet
		want              string
	}{
		{"ClusterIP: every endpoint a path", "nat-prerouting", "prerouting", tcp(pod, "10.96.5.196", 80),
			"accept 10.244.1.3:40000>10.244.1.2:8080 | accept 10.244.1.3:40000>10.244.2.2:8080"},
		{"ClusterIP on a port it does not serve: no DNAT", "nat-prerouting", "prerouting", tcp(pod, "10.96.5.196", 81),
			"accept 10.244.1.3:40000>10.96.5.196:81 (policy)"},
		{"NodePort", "nat-prerouting", "prerouting", tcp("10.200.0.12", "10.200.0.11", 30080),
			"accept 10.200.0.12:40000>10.244.1.2:8080 | accept 10.200.0.12:40000>10.244.2.2:8080"},
		{"external IP", "nat-prerouting", "prerouting", tcp(pod, "10.200.0.50", 80),
			"accept 10.244.1.3:40000>10.244.1.2:8080 | accept 10.244.1.3:40000>10.244.2.2:8080"},
		{"no endpoints: rejected", "filter-forward", "forward", tcp(pod, "10.96.22.246", 80), "reject/icmp-port-unreachable"},
		{"ClusterIP on a port it does not serve: rejected", "filter-forward", "forward", tcp(pod, "10.96.5.196", 81), "reject/icmp-port-unreachable"},
		{"unallocated ClusterIP: dropped", "filter-forward", "forward", tcp(pod, "10.96.200.1", 80), "drop 10.244.1.3:40000>10.96.200.1:80"},
		{"pod to pod: nothing to do", "filter-forward", "forward", tcp(pod, "10.244.2.2", 8080), "accept 10.244.1.3:40000>10.244.2.2:8080 (policy)"},
		{"masquerade marked traffic", "nat-postrouting", "postrouting", mark(tcp(pod, "10.244.2.2", 8080), 0x4000), "accept 10.1.1.1:40000>10.244.2.2:8080"},
		{"unmarked: no masquerade", "nat-postrouting", "postrouting", tcp(pod, "10.244.2.2", 8080), "accept 10.244.1.3:40000>10.244.2.2:8080 (policy)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ch := chainOf(rs, "ip kube-proxy", c.chain)
			res := Run(kpEnv{}, ch, c.hook, c.p)
			if got := strings.Join(summary(res), " | "); got != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
				for _, r := range res {
					for _, s := range r.Steps {
						t.Logf("  %s %s %s", s.Action, s.Note, s.Chain.Name)
					}
				}
			}
		})
	}
	// The NodePort path marks for masquerade; the mark is cleared when it is done.
	for _, r := range Run(kpEnv{}, chainOf(rs, "ip kube-proxy", "nat-prerouting"), "prerouting", tcp("10.200.0.12", "10.200.0.11", 30080)) {
		if r.Packet.Mark != 0x4000 {
			t.Errorf("NodePort path without the masquerade mark: %#x", r.Packet.Mark)
		}
		if len(r.Branches) != 1 || !strings.HasPrefix(r.Branches[0], "numgen random mod 2 = ") {
			t.Errorf("branches %q", r.Branches)
		}
	}
	for _, r := range Run(kpEnv{}, chainOf(rs, "ip kube-proxy", "nat-postrouting"), "postrouting", mark(tcp(pod, "10.244.2.2", 8080), 0x4000)) {
		if r.Packet.Mark != 0 || !r.Packet.SNATed {
			t.Errorf("after masquerading: mark %#x, snat %v", r.Packet.Mark, r.Packet.SNATed)
		}
	}
}

// kpEnv is node1: 10.200.0.11 on eth0, 10.244.1.1 on cni0.
type kpEnv struct{}

func (kpEnv) AddrType(a netip.Addr, iface string) string {
	switch a.String() {
	case "10.200.0.11", "10.244.1.1", "127.0.0.1":
		return "local"
	}
	return "unicast"
}
func (kpEnv) Route(q RouteQuery) (string, bool, bool) { return "eth0", true, true }
func (kpEnv) SourceFor(string, netip.Addr) (netip.Addr, bool) {
	return netip.MustParseAddr("10.1.1.1"), true
}
func (kpEnv) PrimaryAddr(string, bool) (netip.Addr, bool) {
	return netip.MustParseAddr("10.200.0.11"), true
}
