package nft

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"testing"

	"github.com/netsim/netsim/model/source"
	"github.com/netsim/netsim/rules/packet"
)

// kubeProxyRuleset is what kube-proxy's nftables mode writes for n Services with three
// endpoints each, object for object as in the testbed's real dump (testdata/kube-proxy.json):
// a service-ips element and a cluster-ips element per Service, a service chain (masquerade
// rule, numgen vmap) and three endpoint chains (hairpin masquerade, DNAT), added to the real
// dump. The i-th Service is 10.96.0.0/16 + 1000 + i, tcp 80.
func kubeProxyRuleset(t testing.TB, n int) []byte {
	data, err := os.ReadFile("testdata/kube-proxy.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Nftables []map[string]map[string]any `json:"nftables"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var svcIPs, clusterIPs map[string]any
	for _, o := range doc.Nftables {
		for k, b := range o {
			if b["family"] != "ip" {
				continue
			}
			if k == "map" && b["name"] == "service-ips" {
				svcIPs = b
			}
			if k == "set" && b["name"] == "cluster-ips" {
				clusterIPs = b
			}
		}
	}
	handle := 10000
	next := func() int { handle++; return handle }
	obj := func(kind string, body map[string]any) map[string]map[string]any {
		body["family"], body["table"] = "ip", "kube-proxy"
		return map[string]map[string]any{kind: body}
	}
	match := func(op string, left, right any) map[string]any {
		return map[string]any{"match": map[string]any{"op": op, "left": left, "right": right}}
	}
	ip := func(field string) any {
		return map[string]any{"payload": map[string]any{"protocol": "ip", "field": field}}
	}
	jump := func(kind, target string) any { return map[string]any{kind: map[string]any{"target": target}} }
	svcElems, _ := svcIPs["elem"].([]any)
	cipElems, _ := clusterIPs["elem"].([]any)
	for i := 0; i < n; i++ {
		a := netip.AddrFrom4([4]byte{10, 96, byte((1000 + i) >> 8), byte(1000 + i)}).String()
		name := fmt.Sprintf("default/svc-%d/tcp/http", i)
		svc := fmt.Sprintf("service-%08X-%s", i, name)
		svcElems = append(svcElems, []any{map[string]any{"concat": []any{a, "tcp", 80}}, jump("goto", svc)})
		cipElems = append(cipElems, a)
		var branches []any
		var eps []string
		for e := 0; e < 3; e++ {
			ep := netip.AddrFrom4([4]byte{10, 244, byte(i >> 6), byte(4*(i&63) + e + 1)}).String()
			ch := fmt.Sprintf("endpoint-%08X-%s__%s/8080", 3*i+e, name, ep)
			eps = append(eps, ch)
			branches = append(branches, []any{e, jump("goto", ch)})
			doc.Nftables = append(doc.Nftables, obj("chain", map[string]any{"name": ch, "handle": next()}),
				obj("rule", map[string]any{"chain": ch, "handle": next(), "expr": []any{match("==", ip("saddr"), ep), jump("jump", "mark-for-masquerade")}}),
				obj("rule", map[string]any{"chain": ch, "handle": next(), "expr": []any{match("==", map[string]any{"meta": map[string]any{"key": "l4proto"}}, "tcp"),
					map[string]any{"dnat": map[string]any{"addr": ep, "port": 8080}}}}))
		}
		doc.Nftables = append(doc.Nftables, obj("chain", map[string]any{"name": svc, "handle": next()}),
			obj("rule", map[string]any{"chain": svc, "handle": next(), "expr": []any{match("==", ip("daddr"), a),
				match("!=", ip("saddr"), map[string]any{"prefix": map[string]any{"addr": "10.244.0.0", "len": 16}}), jump("jump", "mark-for-masquerade")}}),
			obj("rule", map[string]any{"chain": svc, "handle": next(), "expr": []any{map[string]any{"vmap": map[string]any{
				"key": map[string]any{"numgen": map[string]any{"mode": "random", "mod": 3, "offset": 0}}, "data": map[string]any{"set": branches}}}}}))
	}
	svcIPs["elem"], clusterIPs["elem"] = svcElems, cipElems
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var benchRulesets sync.Map // n -> []byte

func benchRuleset(b *testing.B, n int) []byte {
	if v, ok := benchRulesets.Load(n); ok {
		return v.([]byte)
	}
	data := kubeProxyRuleset(b, n)
	benchRulesets.Store(n, data)
	return data
}

// BenchmarkParseKubeProxyNFT parses kube-proxy's ruleset for 10,000 Services.
func BenchmarkParseKubeProxyNFT(b *testing.B) {
	data := benchRuleset(b, 10000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(source.NewFile("nft.json", data)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkKubeProxyNFTServices evaluates prerouting's nat chain for a ClusterIP (three
// paths out) with 1,000 and 10,000 Services.
func BenchmarkKubeProxyNFTServices(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			rs, err := Parse(source.NewFile("nft.json", benchRuleset(b, n)))
			if err != nil {
				b.Fatal(err)
			}
			c := chainOf(rs, "ip kube-proxy", "nat-prerouting")
			dst := netip.AddrFrom4([4]byte{10, 96, byte((1000 + n/2) >> 8), byte(1000 + n/2)})
			p := packet.Packet{Src: netip.MustParseAddr("10.244.1.3"), Dst: dst, Proto: packet.TCP, SPort: 40000, DPort: 80, CtState: packet.CtNew, InIface: "cni0"}
			if res := Run(kpEnv{}, c, "prerouting", p); len(res) != 3 {
				b.Fatalf("%d ways out, want 3", len(res))
			}
			b.ReportAllocs()
			for b.Loop() {
				Run(kpEnv{}, c, "prerouting", p)
			}
		})
	}
}

func TestKubeProxyGenerated(t *testing.T) {
	rs, err := Parse(source.NewFile("nft.json", kubeProxyRuleset(t, 50)))
	if err != nil {
		t.Fatal(err)
	}
	p := tcp("10.244.1.3", "10.96.4.17", 80) // Service 25: 1000+25 = 4*256+17
	res := Run(kpEnv{}, chainOf(rs, "ip kube-proxy", "nat-prerouting"), "prerouting", p)
	if len(res) != 3 {
		t.Fatalf("got %v", summary(res))
	}
	for _, r := range res {
		if r.Packet.DPort != 8080 || r.Packet.Dst.As4()[1] != 244 {
			t.Errorf("not DNATed to an endpoint: %v", r.Packet)
		}
	}
}
