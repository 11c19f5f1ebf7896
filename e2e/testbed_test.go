// Package e2e holds netsim's end-to-end tests: they build real dataplanes in network
// namespaces (real kube-apiserver, kube-proxy, CNI), and need root and the tools that
// e2e/tools/build.sh builds. Without them the tests skip and say why.
package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/netsim/netsim/bundle"
	"github.com/netsim/netsim/e2e/testbed"
	"github.com/netsim/netsim/model"
)

func toolsDir() string {
	if d := os.Getenv("NETSIM_TOOLS"); d != "" {
		return filepath.Join(d, "bin")
	}
	return "/var/cache/netsim-tools/bin"
}

// upTestbed brings up a two-node testbed with four pods (an echo server and a client on
// each node) and three Services, and registers its teardown.
func upTestbed(t *testing.T, mode string) *testbed.Testbed {
	t.Helper()
	return upTestbedWith(t, testbed.Config{ProxyMode: mode})
}

// upTestbedWith is upTestbed with the testbed's proxy mode and overlay chosen.
func upTestbedWith(t *testing.T, cfg testbed.Config) *testbed.Testbed {
	t.Helper()
	if os.Getenv("NETSIM_SKIP_E2E") != "" {
		t.Skip("skipping the real-dataplane test: NETSIM_SKIP_E2E is set")
	}
	if err := testbed.Preflight(toolsDir()); err != nil {
		t.Skipf("skipping the real-dataplane test: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	cfg.Tools, cfg.Nodes, cfg.Logf = toolsDir(), 2, t.Logf
	tb, err := testbed.Up(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tb.Down)
	echoPorts := []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}, {Name: "dns", ContainerPort: 5353, Protocol: corev1.ProtocolUDP}}
	for _, spec := range []struct {
		node   int
		name   string
		labels map[string]string
		serve  bool
	}{
		{0, "pod1a", map[string]string{"app": "echo"}, true},
		{0, "pod1b", map[string]string{"app": "client"}, false},
		{1, "pod2a", map[string]string{"app": "echo"}, true},
		{1, "pod2b", map[string]string{"app": "client"}, false},
	} {
		var ports []string
		var cports []corev1.ContainerPort
		if spec.serve {
			ports, cports = []string{"tcp:8080", "udp:5353"}, echoPorts
		}
		if _, err := tb.AddPod(ctx, tb.Nodes[spec.node], "default", spec.name, spec.labels, cports, ports...); err != nil {
			t.Fatal(err)
		}
	}
	svcs := []*corev1.Service{
		{ObjectMeta: metav1.ObjectMeta{Name: "echo", Namespace: "default"}, Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "echo"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP},
				{Name: "dns", Port: 53, TargetPort: intstr.FromInt32(5353), Protocol: corev1.ProtocolUDP}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "echo-np", Namespace: "default"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort,
			Selector: map[string]string{"app": "echo"}, Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080), NodePort: 30080}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "noep", Namespace: "default"}, Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "nothing"},
			Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}}},
	}
	for _, s := range svcs {
		created, err := tb.Client.CoreV1().Services("default").Create(ctx, s, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := tb.WaitProxyRules(ctx, created.Spec.ClusterIP); err != nil {
			t.Fatal(err)
		}
		s.Spec.ClusterIP = created.Spec.ClusterIP
	}
	// EndpointSlices come from the controller; kube-proxy then programs the endpoints.
	deadline := time.Now().Add(60 * time.Second)
	for {
		got := map[string]bool{}
		for i := 0; i < 20; i++ {
			if line, err := tb.Probe(tb.Pods[1].NetNS, "tcp", svcs[0].Spec.ClusterIP+":80", 2*time.Second); err == nil {
				got[strings.Fields(line)[0]] = true
			}
		}
		if got["pod1a"] && got["pod2a"] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod1b never reached both echo pods through the ClusterIP (got %v)\n%s", got, tb.Log("kube-proxy-node1"))
		}
		time.Sleep(500 * time.Millisecond)
	}
	return tb
}

// TestTestbedBundle brings up the real dataplane, checks that real packets flow through
// kube-proxy's rules, dumps a bundle and loads it with the model. With
// NETSIM_TESTBED_OUT=DIR the bundle is also written there (make testdata-bundle).
func TestTestbedBundle(t *testing.T) {
	tb := upTestbed(t, "iptables")
	ctx := context.Background()
	dir := t.TempDir()
	if out := os.Getenv("NETSIM_TESTBED_OUT"); out != "" {
		dir = out
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
	}
	if err := tb.DumpBundle(ctx, dir); err != nil {
		t.Fatal(err)
	}
	if out := os.Getenv("NETSIM_KUBECTL_FIXTURES"); out != "" {
		writeKubectlFixtures(t, tb, out)
	}
	if out := os.Getenv("NETSIM_TICKET_OUT"); out != "" {
		writeTicket(t, tb, out)
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
	if len(c.Nodes) != 2 || len(c.Pods) != 4 {
		t.Fatalf("bundle has %d nodes and %d pods, want 2 and 4", len(c.Nodes), len(c.Pods))
	}
	svc := c.Service("default", "echo")
	if svc == nil {
		t.Fatal("service default/echo missing")
	}
	eps, from := c.ServiceEndpoints(svc)
	if len(eps) != 2 || from != "endpointslices" {
		t.Fatalf("echo endpoints = %v from %q, want 2 from endpointslices", eps, from)
	}
	for _, n := range tb.Nodes {
		st, err := c.NodeState(n.Name)
		if err != nil {
			t.Fatal(err)
		}
		ipt := st.Host.RuleFiles[model.IPTablesV4]
		if ipt == nil || !strings.Contains(string(ipt.Data), "KUBE-SVC-") || !strings.Contains(string(ipt.Data), svc.Spec.ClusterIP) {
			t.Errorf("%s: iptables-save lacks kube-proxy's rules for %s", n.Name, svc.Spec.ClusterIP)
		}
		if st.Host.Link("cni0") == nil || st.Host.Link("eth0") == nil {
			t.Errorf("%s: links cni0/eth0 missing: %v", n.Name, st.Host.Links)
		}
		if len(st.Host.Missing) > 0 {
			t.Errorf("%s: missing state files %v", n.Name, st.Host.Missing)
		}
		if len(st.Pods) != 2 {
			t.Errorf("%s: %d pod namespaces, want 2", n.Name, len(st.Pods))
		}
	}
	p := c.Pod("default", "pod1a")
	st, _ := c.NodeState("node1")
	pn := st.Pods["default/pod1a"]
	listening := false
	for i := range pn.Sockets {
		if pn.Sockets[i].Accepts("tcp", netipAddrPort(p.IPs[0].String(), 8080), "eth0") {
			listening = true
		}
	}
	if !listening {
		t.Errorf("pod1a's sockets show no listener on %s:8080: %v", p.IPs[0], pn.Sockets)
	}
}

// writeKubectlFixtures saves real kubectl output from the testbed for the decoder's tests.
func writeKubectlFixtures(t *testing.T, tb *testbed.Testbed, dir string) {
	kubectl := func(args ...string) []byte {
		out, err := tb.Exec(tb.Underlay, "kubectl", append([]string{"--kubeconfig", tb.LocalKubeconfig}, args...)...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	os.MkdirAll(dir, 0o755)
	files := map[string][]string{
		"get-all.yaml":          {"get", "pods,services,endpointslices,nodes,namespaces", "-A", "-o", "yaml"},
		"get-pods.json":         {"get", "pods", "-A", "-o", "json"},
		"get-svc-echo.yaml":     {"get", "service", "echo", "-o", "yaml"},
		"cluster-info-dump.txt": {"cluster-info", "dump", "--all-namespaces"},
	}
	for name, args := range files {
		if err := os.WriteFile(filepath.Join(dir, name), kubectl(args...), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	kubectl("cluster-info", "dump", "--all-namespaces", "--output-directory", filepath.Join(dir, "cluster-info-dump"))
}

// writeTicket saves what a support ticket typically carries, in the plain forms people
// paste: kubectl output, and per node the text forms of ip, iptables -S/-L, nft, ss,
// sysctl, in folders named by the person (not by netsim's layout).
func writeTicket(t *testing.T, tb *testbed.Testbed, dir string) {
	os.RemoveAll(dir)
	write := func(rel string, data []byte) {
		p := filepath.Join(dir, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(netns string, args ...string) []byte {
		out, err := tb.Exec(netns, args[0], args[1:]...)
		if err != nil && args[0] != "sysctl" {
			t.Fatal(err)
		}
		return out
	}
	kubectl := append([]string{"kubectl", "--kubeconfig", tb.LocalKubeconfig}, "get", "pods,services,endpointslices,nodes,namespaces", "-A", "-o", "yaml")
	write("kubectl-get-all.yaml", run(tb.Underlay, kubectl...))
	for i, n := range tb.Nodes {
		// node1's files sit in a folder named after it; node2's in one named by its address.
		folder := n.Name
		if i == 1 {
			folder = "worker-b"
		}
		write(folder+"/ip-addr.txt", run(n.NetNS, "ip", "addr"))
		write(folder+"/ip-route.txt", run(n.NetNS, "ip", "route", "show", "table", "all"))
		write(folder+"/ip-rule.txt", run(n.NetNS, "ip", "rule"))
		write(folder+"/ip-neigh.txt", run(n.NetNS, "ip", "neigh"))
		write(folder+"/sysctl-a.txt", run(n.NetNS, "sysctl", "-a"))
		write(folder+"/ss.txt", run(n.NetNS, "ss", "-tuanp"))
		filter := run(n.NetNS, "iptables", "-S")
		nat := run(n.NetNS, "iptables", "-t", "nat", "-S")
		write(folder+"/iptables-S.txt", append(filter, nat...))
		write(folder+"/iptables-L.txt", run(n.NetNS, "iptables", "-L", "-n", "-v"))
		write(folder+"/nft-ruleset.txt", run(n.NetNS, "nft", "list", "ruleset"))
		write(folder+"/ipset.txt", run(n.NetNS, "ipset", "save"))
	}
	// One pod's namespace, in a folder named by neither pod nor node: its address places it.
	for _, p := range tb.Pods {
		if p.Name == "pod1a" {
			write("from-the-pod/ip-a.txt", run(p.NetNS, "ip", "addr"))
			write("from-the-pod/ip-r.txt", run(p.NetNS, "ip", "route"))
			write("from-the-pod/ss-lnt.txt", run(p.NetNS, "ss", "-lnt"))
		}
	}
	write("notes.md", []byte("# ticket 4711\npod1b cannot reach echo\n"))
}
