package diagnose

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/netsim/netsim/bundle"
	"github.com/netsim/netsim/model"
)

// nftSvc is one Service port in a constructed kube-proxy nftables table.
type nftSvc struct {
	ip, proto string
	port      int
	chain     string   // "service-…" / "local-…" / "external-…"; "" for no-endpoint-services
	eps       []string // "10.244.1.2:8080", each an endpoint chain with its dnat
}

// kubeProxyNFT renders `nft -j list ruleset` with an ip kube-proxy table as kube-proxy's
// nftables mode writes it (the shapes of rules/nft/testdata/kube-proxy.json).
// lookups is how many of the services chain's two rules (service-ips, then
// service-nodeports) are there: 0 is what `nft flush chain` leaves.
func kubeProxyNFT(lookups int, svcs []nftSvc) []byte {
	var out []any
	add := func(kind string, body map[string]any) {
		body["family"], body["table"] = "ip", "kube-proxy"
		out = append(out, map[string]any{kind: body})
	}
	out = append(out, map[string]any{"table": map[string]any{"family": "ip", "name": "kube-proxy", "handle": 1}})
	var svcEl, noepEl []any
	for _, s := range svcs {
		key := map[string]any{"concat": []any{s.ip, s.proto, s.port}}
		if s.chain == "" {
			noepEl = append(noepEl, []any{key, map[string]any{"goto": map[string]any{"target": "reject-chain"}}})
			continue
		}
		svcEl = append(svcEl, []any{key, map[string]any{"goto": map[string]any{"target": s.chain}}})
	}
	typ := []string{"ipv4_addr", "inet_proto", "inet_service"}
	add("map", map[string]any{"name": "service-ips", "type": typ, "map": "verdict", "elem": svcEl})
	add("map", map[string]any{"name": "no-endpoint-services", "type": typ, "map": "verdict", "elem": noepEl})
	add("set", map[string]any{"name": "nodeport-ips", "type": "ipv4_addr"})
	add("map", map[string]any{"name": "service-nodeports", "type": []string{"inet_proto", "inet_service"}, "map": "verdict"})
	add("chain", map[string]any{"name": "services"})
	add("chain", map[string]any{"name": "reject-chain"})
	chains := map[string]bool{}
	var rules []map[string]any
	for _, s := range svcs {
		if s.chain == "" || chains[s.chain] {
			continue
		}
		chains[s.chain] = true
		add("chain", map[string]any{"name": s.chain})
		port := s.chain[strings.Index(s.chain[strings.Index(s.chain, "-")+1:], "-")+strings.Index(s.chain, "-")+2:]
		var vm []any
		for i, ep := range s.eps {
			name := fmt.Sprintf("endpoint-%08d-%s__%s", i, port, strings.Replace(ep, ":", "/", 1))
			add("chain", map[string]any{"name": name})
			addr, p, _ := strings.Cut(ep, ":")
			rules = append(rules, map[string]any{"chain": name, "expr": []any{
				map[string]any{"match": map[string]any{"op": "==", "left": map[string]any{"meta": map[string]any{"key": "l4proto"}}, "right": s.proto}},
				map[string]any{"dnat": map[string]any{"addr": addr, "port": json.Number(p)}}}})
			vm = append(vm, []any{i, map[string]any{"goto": map[string]any{"target": name}}})
		}
		rules = append(rules, map[string]any{"chain": s.chain, "expr": []any{
			map[string]any{"vmap": map[string]any{"key": map[string]any{"numgen": map[string]any{"mode": "random", "mod": len(s.eps), "offset": 0}},
				"data": map[string]any{"set": vm}}}}})
	}
	if lookups > 0 {
		key := map[string]any{"concat": []any{
			map[string]any{"payload": map[string]any{"protocol": "ip", "field": "daddr"}},
			map[string]any{"meta": map[string]any{"key": "l4proto"}},
			map[string]any{"payload": map[string]any{"protocol": "th", "field": "dport"}}}}
		rules = append(rules, map[string]any{"chain": "services", "expr": []any{map[string]any{"vmap": map[string]any{"key": key, "data": "@service-ips"}}}})
	}
	if lookups > 1 {
		rules = append(rules, map[string]any{"chain": "services", "expr": []any{
			map[string]any{"match": map[string]any{"op": "==", "left": map[string]any{"payload": map[string]any{"protocol": "ip", "field": "daddr"}}, "right": "@nodeport-ips"}},
			map[string]any{"vmap": map[string]any{"key": map[string]any{"concat": []any{
				map[string]any{"meta": map[string]any{"key": "l4proto"}},
				map[string]any{"payload": map[string]any{"protocol": "th", "field": "dport"}}}}, "data": "@service-nodeports"}}}})
	}
	rules = append(rules, map[string]any{"chain": "reject-chain", "expr": []any{map[string]any{"reject": map[string]any{"type": "icmp", "expr": "port-unreachable"}}}})
	for i, ru := range rules {
		ru["handle"] = 100 + i
		add("rule", ru)
	}
	data, err := json.Marshal(map[string]any{"nftables": out})
	if err != nil {
		panic(err)
	}
	return data
}

// apiService is a Service with one port and its ready endpoints.
type apiService struct {
	name, ip, typ string
	port          int
	proto         string
	itpLocal      bool
	eps           map[string]string // address -> node
	target        int
}

func writeAPI(t testing.TB, dir string, svcs []apiService) {
	var sy, ey strings.Builder
	sy.WriteString("apiVersion: v1\nitems:\n")
	ey.WriteString("apiVersion: v1\nitems:\n")
	for _, s := range svcs {
		typ := s.typ
		if typ == "" {
			typ = "ClusterIP"
		}
		itp := "Cluster"
		if s.itpLocal {
			itp = "Local"
		}
		np := ""
		if typ == "NodePort" {
			np = "\n      nodePort: 30080"
		}
		fmt.Fprintf(&sy, `- apiVersion: v1
  kind: Service
  metadata: {name: %s, namespace: default}
  spec:
    clusterIP: %s
    clusterIPs: [%s]
    internalTrafficPolicy: %s
    ipFamilies: [IPv4]
    ports:
    - name: p
      port: %d
      protocol: %s
      targetPort: %d%s
    selector: {app: %s}
    type: %s
`, s.name, s.ip, s.ip, itp, s.port, strings.ToUpper(s.proto), s.target, np, s.name, typ)
		if len(s.eps) == 0 {
			continue
		}
		fmt.Fprintf(&ey, `- addressType: IPv4
  apiVersion: discovery.k8s.io/v1
  kind: EndpointSlice
  metadata:
    name: %s-x
    namespace: default
    labels: {kubernetes.io/service-name: %s}
  ports:
  - {name: p, port: %d, protocol: %s}
  endpoints:
`, s.name, s.name, s.target, strings.ToUpper(s.proto))
		addrs := make([]string, 0, len(s.eps))
		for a := range s.eps {
			addrs = append(addrs, a)
		}
		sort.Strings(addrs)
		for _, a := range addrs {
			fmt.Fprintf(&ey, "  - addresses: [%s]\n    conditions: {ready: true, serving: true, terminating: false}\n    nodeName: %s\n", a, s.eps[a])
		}
	}
	files := map[string]string{
		"manifest.yaml":                 "format: netsim-bundle/v1\ncluster: unit\npodCIDRs: [10.244.0.0/16]\nserviceCIDRs: [10.96.0.0/16]\n",
		"cluster/services.yaml":         sy.String(),
		"cluster/endpointslices.yaml":   ey.String(),
		"cluster/nodes.yaml":            "apiVersion: v1\nitems:\n- apiVersion: v1\n  kind: Node\n  metadata: {name: node1}\n  spec: {podCIDR: 10.244.1.0/24, podCIDRs: [10.244.1.0/24]}\n- apiVersion: v1\n  kind: Node\n  metadata: {name: node2}\n  spec: {podCIDR: 10.244.2.0/24, podCIDRs: [10.244.2.0/24]}\n",
		"cluster/pods.yaml":             "apiVersion: v1\nitems: []\n",
		"cluster/namespaces.yaml":       "apiVersion: v1\nitems: []\n",
		"cluster/networkpolicies.yaml":  "apiVersion: v1\nitems: []\n",
		"nodes/node1/sysctl.txt":        "net.ipv4.ip_forward = 1\n",
		"nodes/node1/route.json":        "[]\n",
		"nodes/node1/addr.json":         "[]\n",
		"nodes/node1/iptables-save.txt": "",
		"nodes/node1/sockets.txt":       "",
		"nodes/node1/neigh.json":        "[]\n",
		"nodes/node1/rule.json":         "[]\n",
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestKubeProxyNFT pins the comparison of kube-proxy's nftables-mode table with the API
// objects on a constructed node1.
func TestKubeProxyNFT(t *testing.T) {
	two := map[string]string{"10.244.1.2": "node1", "10.244.2.2": "node2"}
	echo := apiService{name: "echo", ip: "10.96.0.10", port: 80, proto: "tcp", target: 8080, eps: two}
	echoNFT := nftSvc{ip: "10.96.0.10", proto: "tcp", port: 80, chain: "service-AAAAAAAA-default/echo/tcp/p", eps: []string{"10.244.1.2:8080", "10.244.2.2:8080"}}
	noep := apiService{name: "noep", ip: "10.96.0.11", port: 80, proto: "tcp", target: 8080}
	noepNFT := nftSvc{ip: "10.96.0.11", proto: "tcp", port: 80}
	itp := apiService{name: "itp", ip: "10.96.0.12", port: 53, proto: "udp", target: 5353, itpLocal: true, eps: map[string]string{"10.244.2.2": "node2"}}
	itpNFT := nftSvc{ip: "10.96.0.12", proto: "udp", port: 53} // no local endpoint on node1: dropped
	np := apiService{name: "np", ip: "10.96.0.13", port: 80, proto: "tcp", target: 8080, typ: "NodePort", eps: two}
	npNFT := nftSvc{ip: "10.96.0.13", proto: "tcp", port: 80, chain: "service-BBBBBBBB-default/np/tcp/p", eps: []string{"10.244.1.2:8080", "10.244.2.2:8080"}}
	many := map[string]string{}
	var manyEps []string
	for i := 1; i <= 12; i++ {
		a := fmt.Sprintf("10.244.2.%d", i+10)
		many[a] = "node2"
		manyEps = append(manyEps, a+":8080")
	}
	big := apiService{name: "big", ip: "10.96.0.14", port: 80, proto: "tcp", target: 8080, eps: many}
	bigNFT := nftSvc{ip: "10.96.0.14", proto: "tcp", port: 80, chain: "service-CCCCCCCC-default/big/tcp/p", eps: manyEps}

	cases := []struct {
		name     string
		lookups  int // the services chain's lookups: 2 both, 1 service-ips only, 0 flushed
		nft      []nftSvc
		api      []apiService
		want     []string // codes from the kube-proxy checks, sorted
		evidence string   // a cited text that must appear
	}{
		{"in sync", 2, []nftSvc{echoNFT, noepNFT, itpNFT}, []apiService{echo, noep, itp}, nil, ""},
		{"in sync, a numgen map longer than its rendering", 2, []nftSvc{bigNFT}, []apiService{big}, nil, ""},
		{"services chain flushed", 0, []nftSvc{echoNFT}, []apiService{echo}, []string{"kube-proxy-stale"}, "chain services"},
		{"NodePort lookup missing", 1, []nftSvc{npNFT}, []apiService{np}, []string{"kube-proxy-stale"}, "chain services"},
		{"no NodePort, no NodePort lookup needed", 1, []nftSvc{echoNFT}, []apiService{echo}, nil, ""},
		{"Service port not in service-ips", 2, []nftSvc{noepNFT}, []apiService{echo, noep}, []string{"kube-proxy-stale"}, "map ip kube-proxy service-ips"},
		{"no-endpoint Service in neither map", 2, []nftSvc{echoNFT}, []apiService{echo, noep}, []string{"kube-proxy-stale"}, ""},
		{"endpoint the slices no longer list", 2,
			[]nftSvc{{ip: "10.96.0.10", proto: "tcp", port: 80, chain: echoNFT.chain, eps: []string{"10.244.1.2:8080", "10.244.2.2:8080", "10.244.1.9:8080"}}},
			[]apiService{echo}, []string{"kube-proxy-stale-endpoints"}, "dnat to 10.244.1.9:8080"},
		{"stale endpoint past the rendered eight", 2,
			[]nftSvc{{ip: "10.96.0.14", proto: "tcp", port: 80, chain: bigNFT.chain, eps: append(append([]string{}, manyEps...), "10.244.1.99:8080")}},
			[]apiService{big}, []string{"kube-proxy-stale-endpoints"}, "dnat to 10.244.1.99:8080"},
		{"ready endpoint missing", 2,
			[]nftSvc{{ip: "10.96.0.10", proto: "tcp", port: 80, chain: echoNFT.chain, eps: []string{"10.244.1.2:8080"}}},
			[]apiService{echo}, []string{"kube-proxy-missing-endpoints"}, "chain " + echoNFT.chain},
		{"local chain needs only local endpoints", 2,
			[]nftSvc{{ip: "10.96.0.12", proto: "udp", port: 53, chain: "local-DDDDDDDD-default/itp/udp/p", eps: []string{"10.244.1.2:5353"}}},
			[]apiService{{name: "itp", ip: "10.96.0.12", port: 53, proto: "udp", target: 5353, itpLocal: true, eps: two}}, nil, ""},
		{"deleted Service still in the maps", 2, []nftSvc{echoNFT, {ip: "10.96.0.99", proto: "tcp", port: 80, chain: "service-EEEEEEEE-default/gone/tcp/p", eps: []string{"10.244.1.2:8080"}}, {ip: "10.96.0.98", proto: "udp", port: 53}},
			[]apiService{echo}, []string{"kube-proxy-orphan-rules"}, "@service-ips element 10.96.0.99 . tcp . 80"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeAPI(t, dir, tc.api)
			if err := os.WriteFile(filepath.Join(dir, "nodes/node1/nft.json"), kubeProxyNFT(tc.lookups, tc.nft), 0o644); err != nil {
				t.Fatal(err)
			}
			b, err := bundle.Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			c, err := model.Load(b, model.Options{})
			if err != nil {
				t.Fatal(err)
			}
			rep, err := Run(c, Options{Workers: 1})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			texts := ""
			for _, f := range rep.Findings {
				if !strings.HasPrefix(f.Code, "kube-proxy") {
					continue
				}
				got = append(got, f.Code)
				for _, e := range f.Evidence {
					if e.File != "" && (e.File != "nodes/node1/nft.json" || e.Line != 1 || e.Entry == 0) && e.Object == "" {
						t.Errorf("%s cites %+v, want nodes/node1/nft.json line 1 with an entry", f.Code, e)
					}
					texts += e.Text + "\n"
				}
				t.Logf("%s: %s %v", f.Code, f.Message, f.Evidence)
			}
			sort.Strings(got)
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("codes %v, want %v", got, tc.want)
			}
			if tc.evidence != "" && !strings.Contains(texts, tc.evidence) {
				t.Errorf("no evidence cites %q; cited:\n%s", tc.evidence, texts)
			}
		})
	}
}

// BenchmarkKubeProxyNFT diagnoses one node whose kube-proxy nftables table holds n
// Services of 3 endpoints each: the time per Service must stay flat as n grows.
func BenchmarkKubeProxyNFT(b *testing.B) {
	for _, n := range []int{500, 5000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			var api []apiService
			var nfts []nftSvc
			for i := 0; i < n; i++ {
				ip := fmt.Sprintf("10.96.%d.%d", i/250, i%250+1)
				eps := map[string]string{}
				var addrs []string
				for j := 0; j < 3; j++ {
					a := fmt.Sprintf("10.244.%d.%d", j+1, i%250+2)
					eps[a] = fmt.Sprintf("node%d", j%2+1)
					addrs = append(addrs, a+":8080")
				}
				name := fmt.Sprintf("s%d", i)
				api = append(api, apiService{name: name, ip: ip, port: 80, proto: "tcp", target: 8080, eps: eps})
				nfts = append(nfts, nftSvc{ip: ip, proto: "tcp", port: 80, chain: fmt.Sprintf("service-%08d-default/%s/tcp/p", i, name), eps: addrs})
			}
			dir := b.TempDir()
			writeAPI(b, dir, api)
			if err := os.WriteFile(filepath.Join(dir, "nodes/node1/nft.json"), kubeProxyNFT(2, nfts), 0o644); err != nil {
				b.Fatal(err)
			}
			bd, err := bundle.Open(dir)
			if err != nil {
				b.Fatal(err)
			}
			defer bd.Close()
			c, err := model.Load(bd, model.Options{})
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				rep, err := Run(c, Options{Workers: 1})
				if err != nil {
					b.Fatal(err)
				}
				for _, f := range rep.Findings {
					if strings.HasPrefix(f.Code, "kube-proxy") {
						b.Fatalf("%s: %s", f.Code, f.Message)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/service")
		})
	}
}
