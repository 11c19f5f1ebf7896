package model

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/netsim/netsim/bundle"
)

// The two-node bundle was dumped from the e2e testbed: real kube-proxy, real CNI bridge.
const twoNode = "../testdata/bundles/two-node-iptables"

func loadTwoNode(t testing.TB) *Cluster {
	t.Helper()
	b, err := bundle.Open(twoNode)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	c, err := Load(b, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestIndexes(t *testing.T) {
	c := loadTwoNode(t)
	p := c.Pod("default", "pod1a")
	if p == nil || len(p.IPs) != 1 {
		t.Fatalf("pod default/pod1a: %+v", p)
	}
	if got := c.PodByIP(p.IPs[0]); got != p {
		t.Errorf("PodByIP(%s) = %v", p.IPs[0], got)
	}
	if got := c.PodByIP(netip.MustParseAddr("10.244.9.9")); got != nil {
		t.Errorf("PodByIP(unknown) = %v", got)
	}
	if n := len(c.PodsInNamespace("default")); n != 4 {
		t.Errorf("pods in default = %d", n)
	}
	if n := len(c.PodsOnNode("node2")); n != 2 {
		t.Errorf("pods on node2 = %d", n)
	}
	n1 := c.Node("node1")
	if n1 == nil || len(n1.PodCIDRs) != 1 || n1.PodCIDRs[0].String() != "10.244.1.0/24" {
		t.Fatalf("node1 = %+v", n1)
	}
	if got := c.NodeByAddr(netip.MustParseAddr("10.200.0.12")); got == nil || got.Name != "node2" {
		t.Errorf("NodeByAddr(10.200.0.12) = %v", got)
	}
	svc := c.Service("default", "echo")
	if svc == nil || len(svc.ClusterIPs) != 1 {
		t.Fatalf("service echo = %+v", svc)
	}
	sips := c.ServicesByIP(svc.ClusterIPs[0])
	if len(sips) != 1 || sips[0].Service != svc || sips[0].Kind != ClusterIP {
		t.Errorf("ServicesByIP(%s) = %+v", svc.ClusterIPs[0], sips)
	}
	np, ok := c.ServiceByNodePort(30080, corev1.ProtocolTCP)
	if !ok || np.Service.Name != "echo-np" || np.Port.Port != 80 {
		t.Errorf("ServiceByNodePort(30080) = %+v %v", np, ok)
	}
	if _, ok := c.ServiceByNodePort(30080, corev1.ProtocolUDP); ok {
		t.Error("node port 30080/UDP found")
	}
	eps, from := c.ServiceEndpoints(svc)
	if from != "endpointslices" || len(eps) != 2 {
		t.Fatalf("endpoints = %+v from %q", eps, from)
	}
	for _, e := range eps {
		if !e.Ready || e.Pod == "" || e.NodeName == "" || len(e.Ports) != 2 || !strings.HasPrefix(e.Pos.File, "cluster/endpointslices.yaml") {
			t.Errorf("endpoint %+v", e)
		}
	}
	if eps, _ := c.ServiceEndpoints(c.Service("default", "noep")); len(eps) != 0 {
		t.Errorf("noep has endpoints %v", eps)
	}
	if l, known := c.NamespaceLabels("default"); !known || l["kubernetes.io/metadata.name"] != "default" {
		t.Errorf("namespace labels %v %v", l, known)
	}
	if l, known := c.NamespaceLabels("ghost"); known || l["kubernetes.io/metadata.name"] != "ghost" {
		t.Errorf("missing namespace labels %v %v", l, known)
	}
}

func TestLazyNodeState(t *testing.T) {
	c := loadTwoNode(t)
	if got := c.LoadedNodes(); len(got) != 0 {
		t.Fatalf("nodes read at open: %v", got)
	}
	st, err := c.NodeState("node2")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.LoadedNodes(); len(got) != 1 || got[0] != "node2" {
		t.Errorf("after one node: %v", got)
	}
	if again, _ := c.NodeState("node2"); again != st {
		t.Error("node state read twice")
	}
	if st.Host.Link("cni0") == nil || len(st.Host.Routes) == 0 || len(st.Host.Rules) == 0 || st.Host.Sysctls["net.ipv4.ip_forward"].Value != "1" {
		t.Errorf("node2 host state incomplete: %d links %d routes %d rules", len(st.Host.Links), len(st.Host.Routes), len(st.Host.Rules))
	}
	if st.Host.RuleFiles[IPTablesV4] == nil || st.Host.RuleFiles[NFTables] == nil {
		t.Errorf("rule files: %v", st.Host.RuleFiles)
	}
	pod := st.Pods["default/pod2a"]
	if pod == nil || pod.Name != "pod/default/pod2a" || pod.Link("eth0") == nil {
		t.Fatalf("pod2a netns: %+v", pod)
	}
	if _, err := c.NodeState("node9"); !errors.Is(err, ErrNoNodeState) {
		t.Errorf("NodeState(node9) err = %v", err)
	}
}

// copyBundle copies the two-node bundle so a test can break a file in it.
func copyBundle(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	filepath.Walk(twoNode, func(p string, info os.FileInfo, err error) error {
		rel, _ := filepath.Rel(twoNode, p)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, _ := os.ReadFile(p)
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	return dst
}

func TestMalformedNodeFile(t *testing.T) {
	dir := copyBundle(t)
	os.WriteFile(filepath.Join(dir, "nodes/node1/route.json"), []byte("[{\"dst\":\"default\"},\n{\"dst\":\"10.0.0.0/99\"}]"), 0o644)
	b, _ := bundle.Open(dir)
	defer b.Close()
	c, err := Load(b, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.NodeState("node1"); err == nil || !strings.HasPrefix(err.Error(), "nodes/node1/route.json:2 (entry 2): route dst") {
		t.Errorf("err = %v", err)
	}
	if _, err := c.NodeState("node2"); err != nil {
		t.Errorf("node2 failed with node1's file: %v", err)
	}
}

func TestMalformedClusterFile(t *testing.T) {
	dir := copyBundle(t)
	os.WriteFile(filepath.Join(dir, "cluster/broken.yaml"), []byte("apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n  namespace: [\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "cluster/dup.yaml"), []byte("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: default\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "cluster/badip.yaml"), []byte("apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: default}\nspec:\n  clusterIP: 10.96.0.999\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "cluster/notes.txt"), []byte("hello"), 0o644)
	b, _ := bundle.Open(dir)
	defer b.Close()
	if _, err := Load(b, Options{}); err == nil || !strings.HasPrefix(err.Error(), "cluster/broken.yaml:5: malformed YAML") {
		t.Errorf("strict load err = %v", err)
	}
	c, err := Load(b, Options{Lenient: true})
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, p := range c.Problems {
		msgs = append(msgs, p.Error())
	}
	all := strings.Join(msgs, "\n")
	for _, want := range []string{"cluster/broken.yaml:5: malformed YAML", "cluster/namespaces.yaml", "namespace/default is also at cluster/dup.yaml:1", `cluster/badip.yaml:1: service default/s clusterIP "10.96.0.999" is not an IP address`} {
		if !strings.Contains(all, want) {
			t.Errorf("problems lack %q:\n%s", want, all)
		}
	}
	if len(c.Skipped) != 1 || c.Skipped[0] != "cluster/notes.txt" {
		t.Errorf("skipped = %v", c.Skipped)
	}
}

func TestDualStackIndexes(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "cluster"), 0o755)
	os.WriteFile(filepath.Join(dir, "manifest.yaml"), []byte("format: netsim-bundle/v1\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "cluster", "objs.yaml"), []byte(`apiVersion: v1
kind: Pod
metadata: {name: p, namespace: a}
spec: {nodeName: n1, containers: [{name: c, image: i}]}
status:
  phase: Running
  podIP: 10.244.1.5
  podIPs: [{ip: 10.244.1.5}, {ip: "fd00:244:1::5"}]
---
apiVersion: v1
kind: Node
metadata: {name: n1}
spec: {podCIDRs: [10.244.1.0/24, "fd00:244:1::/64"]}
status:
  addresses: [{type: InternalIP, address: 10.0.0.1}, {type: InternalIP, address: "fd00::1"}]
---
apiVersion: v1
kind: Service
metadata: {name: s, namespace: a}
spec:
  clusterIP: 10.96.0.10
  clusterIPs: [10.96.0.10, "fd00:96::10"]
  externalIPs: ["203.0.113.7"]
  ports: [{port: 53, protocol: UDP, nodePort: 31053}]
status:
  loadBalancer: {ingress: [{ip: "2001:db8::53"}]}
`), 0o644)
	b, err := bundle.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	c, err := Load(b, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p := c.PodByIP(netip.MustParseAddr("fd00:244:1::5")); p == nil || p.Name != "p" {
		t.Errorf("pod by IPv6: %v", p)
	}
	if n := c.NodeByAddr(netip.MustParseAddr("fd00::1")); n == nil || len(n.PodCIDRs) != 2 {
		t.Errorf("node by IPv6: %v", n)
	}
	for addr, kind := range map[string]ServiceIPKind{"fd00:96::10": ClusterIP, "10.96.0.10": ClusterIP, "203.0.113.7": ExternalIP, "2001:db8::53": LoadBalancerIP} {
		if s := c.ServicesByIP(netip.MustParseAddr(addr)); len(s) != 1 || s[0].Kind != kind {
			t.Errorf("service by %s: %+v", addr, s)
		}
	}
	if _, ok := c.ServiceByNodePort(31053, corev1.ProtocolUDP); !ok {
		t.Error("UDP node port missing")
	}
	// An IPv4-mapped IPv6 address finds the IPv4 pod.
	if p := c.PodByIP(netip.MustParseAddr("::ffff:10.244.1.5")); p == nil {
		t.Error("IPv4-mapped lookup failed")
	}
}
