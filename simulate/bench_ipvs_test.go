package simulate

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/netsim/netsim/bundle"
	"github.com/netsim/netsim/internal/gctune"
	"github.com/netsim/netsim/model"
	"github.com/netsim/netsim/rules/packet"
)

// ipvsBenchBundle writes the frozen two-node ipvs bundle (testdata/ipvs/two-node-ipvs)
// with n more ClusterIP Services, generated as kube-proxy's ipvs mode would hold
// them on both nodes: a virtual service 10.97.X.Y:80 with three masqueraded real servers
// (pod1a, pod2a and pod2b on 8080) in ipvs.txt, the address on kube-ipvs0 (addr.json) with
// its local route (route.json), its entries in KUBE-CLUSTER-IP and KUBE-IPVS-IPS
// (ipset.txt), and the Service and its EndpointSlice in cluster/. pod2b gets a listener on
// 8080 so that every path delivers.
func ipvsBenchBundle(b *testing.B, n int) string {
	dir := filepath.Join(b.TempDir(), fmt.Sprintf("ipvs-%d", n))
	if err := os.CopyFS(dir, os.DirFS("../testdata/ipvs/two-node-ipvs")); err != nil {
		b.Fatal(err)
	}
	vip := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 97, byte(i / 256), byte(i % 256)}) }
	reals := []string{"10.244.1.2", "10.244.2.2", "10.244.2.3"}
	var ipvsTxt, sets strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&ipvsTxt, "-A -t %s:80 -s rr\n", vip(i))
		for _, r := range reals {
			fmt.Fprintf(&ipvsTxt, "-a -t %s:80 -r %s:8080 -m -w 1\n", vip(i), r)
		}
		fmt.Fprintf(&sets, "add KUBE-CLUSTER-IP %s,tcp:80\nadd KUBE-IPVS-IPS %s\n", vip(i), vip(i))
	}
	for _, node := range []string{"node1", "node2"} {
		nd := filepath.Join(dir, "nodes", node)
		appendFile(b, filepath.Join(nd, "ipvs.txt"), ipvsTxt.String())
		appendFile(b, filepath.Join(nd, "ipset.txt"), sets.String())
		editJSON(b, filepath.Join(nd, "addr.json"), func(links []map[string]any) []map[string]any {
			for _, l := range links {
				if l["ifname"] != "kube-ipvs0" {
					continue
				}
				infos, _ := l["addr_info"].([]any)
				for i := 0; i < n; i++ {
					infos = append(infos, map[string]any{"family": "inet", "local": vip(i).String(), "prefixlen": 32, "scope": "global", "label": "kube-ipvs0"})
				}
				l["addr_info"] = infos
			}
			return links
		})
		editJSON(b, filepath.Join(nd, "route.json"), func(routes []map[string]any) []map[string]any {
			for i := 0; i < n; i++ {
				routes = append(routes, map[string]any{"type": "local", "dst": vip(i).String(), "dev": "kube-ipvs0", "table": "local", "protocol": "kernel", "scope": "host", "prefsrc": vip(i).String(), "flags": []any{}})
			}
			return routes
		})
	}
	appendFile(b, filepath.Join(dir, "nodes/node2/pods/default_pod2b/sockets.txt"), "tcp LISTEN 0      4096             *:8080          *:*    users:((\"echo\",pid=1,fd=3))\n")
	var items []any
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("svc-%05d", i)
		items = append(items, map[string]any{"apiVersion": "v1", "kind": "Service",
			"metadata": map[string]any{"name": name, "namespace": "bench"},
			"spec": map[string]any{"type": "ClusterIP", "clusterIP": vip(i).String(), "clusterIPs": []string{vip(i).String()}, "selector": map[string]string{"app": name},
				"ports": []any{map[string]any{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}}}})
		var eps []any
		for k, r := range reals {
			eps = append(eps, map[string]any{"addresses": []string{r}, "conditions": map[string]bool{"ready": true, "serving": true, "terminating": false},
				"nodeName": []string{"node1", "node2", "node2"}[k]})
		}
		items = append(items, map[string]any{"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
			"metadata":  map[string]any{"name": name + "-x", "namespace": "bench", "labels": map[string]string{"kubernetes.io/service-name": name}},
			"endpoints": eps, "ports": []any{map[string]any{"name": "http", "port": 8080, "protocol": "TCP"}}})
	}
	data, err := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "List", "items": items})
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cluster", "bench-services.json"), data, 0o644); err != nil {
		b.Fatal(err)
	}
	return dir
}

func appendFile(b *testing.B, path, text string) {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		b.Fatal(err)
	}
}

func editJSON(b *testing.B, path string, edit func([]map[string]any) []map[string]any) {
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	var v []map[string]any
	if err := json.Unmarshal(data, &v); err != nil {
		b.Fatal(err)
	}
	if data, err = json.MarshalIndent(edit(v), "", "  "); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
	}
}

func ipvsBenchQuery(b *testing.B, c *model.Cluster, n int) Query {
	src, err := Resolve(c, "pod/default/pod1b")
	if err != nil {
		b.Fatal(err)
	}
	dst, err := Resolve(c, fmt.Sprintf("svc/bench/svc-%05d", n/2))
	if err != nil {
		b.Fatal(err)
	}
	return Query{Src: src, Dst: dst, Port: 80, Proto: packet.TCP}
}

// BenchmarkTraceIPVSOpen opens the bundle with 10,000 virtual services and traces a pod to
// one of them (three real servers, replies included): what a user waits for.
func BenchmarkTraceIPVSOpen(b *testing.B) {
	const n = 10000
	dir := ipvsBenchBundle(b, n)
	defer debug.SetGCPercent(debug.SetGCPercent(gctune.Percent))
	var openT, traceT time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		bd, err := bundle.Open(dir)
		if err != nil {
			b.Fatal(err)
		}
		c, err := model.Load(bd, model.Options{})
		if err != nil {
			b.Fatal(err)
		}
		mid := time.Now()
		res, err := New(c).Trace(ipvsBenchQuery(b, c, n))
		if err != nil {
			b.Fatal(err)
		}
		openT += mid.Sub(start)
		traceT += time.Since(mid)
		if res.Verdict != VDelivered || len(res.Paths) != 3 {
			b.Fatalf("verdict %s with %d paths, want delivered on 3: %+v", res.Verdict, len(res.Paths), res.Paths)
		}
		for _, p := range res.Paths {
			for _, f := range p.Findings {
				b.Fatalf("%s: unexpected finding %s: %s", p.Endpoint, f.Code, f.Message)
			}
		}
		bd.Close()
	}
	b.ReportMetric(float64(openT.Milliseconds())/float64(b.N), "open-ms")
	b.ReportMetric(float64(traceT.Milliseconds())/float64(b.N), "first-trace-ms")
}

// BenchmarkTraceIPVSWarm traces the same query again once the nodes are parsed: the walk
// through IPVS itself, per path.
func BenchmarkTraceIPVSWarm(b *testing.B) {
	const n = 10000
	dir := ipvsBenchBundle(b, n)
	bd, err := bundle.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer bd.Close()
	c, err := model.Load(bd, model.Options{})
	if err != nil {
		b.Fatal(err)
	}
	s := New(c)
	q := ipvsBenchQuery(b, c, n)
	if _, err := s.Trace(q); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	paths := 0
	for i := 0; i < b.N; i++ {
		res, err := s.Trace(q)
		if err != nil {
			b.Fatal(err)
		}
		paths = len(res.Paths)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(paths)/1e6, "ms/path")
}

// BenchmarkIPVSNodeArrive: one evaluation in the director's namespace with 10,000 virtual
// services — a pod's packet to a ClusterIP arriving on cni0: PREROUTING, routing to
// kube-ipvs0's address, INPUT, IPVS's schedule to each of three real servers, routing to
// each and LOCAL_OUT, POSTROUTING (3 outcomes). The counterpart of the iptables engine's
// PREROUTING benchmark, which must stay under 50 µs, flat.
func BenchmarkIPVSNodeArrive(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) { benchNodeArrive(b, n) })
	}
}

func benchNodeArrive(b *testing.B, n int) {
	dir := ipvsBenchBundle(b, n)
	bd, err := bundle.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer bd.Close()
	c, err := model.Load(bd, model.Options{})
	if err != nil {
		b.Fatal(err)
	}
	s := New(c)
	if err := s.G.LoadNode("node1"); err != nil {
		b.Fatal(err)
	}
	eng, err := s.G.Space("node1", "host").Engine()
	if err != nil {
		b.Fatal(err)
	}
	q := ipvsBenchQuery(b, c, n)
	p := packet.Packet{Src: q.Src.Addr, Dst: q.Dst.Addr, Proto: packet.TCP, SPort: 40000, DPort: 80, TCPFlags: packet.SYN, CtState: packet.CtNew}
	if outs := eng.ArriveBridge(p, "cni0", "veth7d58ce9e"); len(outs) != 3 {
		b.Fatalf("%d outcomes, want 3 (one per real server)", len(outs))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		eng.ArriveBridge(p, "cni0", "veth7d58ce9e")
	}
}
