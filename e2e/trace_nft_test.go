package e2e

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/netsim/netsim/e2e/testbed"
)

// TestTraceNFTAgainstKernel is TestTraceAgainstKernel with kube-proxy in nftables mode:
// the core Service scenarios, traced through kube-proxy's nft tables (service-ips and
// service-nodeports verdict maps, numgen endpoint choice, no-endpoint and firewall maps,
// masquerading), and faults injected as native nft tables that share the hooks with it.
func TestTraceNFTAgainstKernel(t *testing.T) {
	tb := upTestbed(t, "nftables")
	ctx := context.Background()
	for _, n := range tb.Nodes {
		mustExec(t, tb, n.NetNS, "sysctl", "-qw", "net.ipv4.icmp_ratelimit=0")
	}
	pod := func(name string) *testbed.Pod {
		for _, p := range tb.Pods {
			if p.Name == name {
				return p
			}
		}
		t.Fatalf("no pod %s", name)
		return nil
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "wrongport", Namespace: "default"}, Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "echo"},
		Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(9090)}}}}
	created, err := tb.Client.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := tb.WaitProxyRules(ctx, created.Spec.ClusterIP); err != nil {
		t.Fatal(err)
	}
	waitNFT(t, tb, "node1", ":9090", true)
	local := corev1.ServiceInternalTrafficPolicyLocal
	for _, s := range []*corev1.Service{
		{ObjectMeta: metav1.ObjectMeta{Name: "echo-etp-local", Namespace: "default"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort,
			ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal, Selector: map[string]string{"app": "echo"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080), NodePort: 30081}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "echo-itp-local", Namespace: "default"}, Spec: corev1.ServiceSpec{InternalTrafficPolicy: &local,
			Selector: map[string]string{"app": "echo"}, Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "echo-ext", Namespace: "default"}, Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "echo"}, ExternalIPs: []string{"10.200.0.50"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}}}},
	} {
		if _, err := tb.Client.CoreV1().Services("default").Create(ctx, s, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitNFT(t, tb, "node1", "10.200.0.50 . tcp . 80", true)
	waitNFT(t, tb, "node1", "30081", true)
	n1, n2 := tb.Nodes[0].NetNS, tb.Nodes[1].NetNS
	nftExec := func(t *testing.T, netns, ruleset string) {
		t.Helper()
		if out, err := runIn(netns, ruleset, "nft", "-f", "-"); err != nil {
			t.Fatalf("nft -f: %v: %s", err, out)
		}
	}
	toEcho := traceCase{From: "pod1b", Src: "pod/default/pod1b", Dst: "svc/default/echo", Port: 80, Proto: "tcp"}
	toPod2a := traceCase{From: "pod1b", Src: "pod/default/pod1b", Dst: "pod/default/pod2a", Port: 8080, Proto: "tcp"}
	scenarios := []scenario{
		{name: "healthy", cases: []traceCase{
			toPod2a, toEcho,
			{From: "pod1b", Src: "pod/default/pod1b", Dst: "echo.default.svc.cluster.local", Port: 53, Proto: "udp"},
			{From: "pod1b", Src: "pod/default/pod1b", Dst: "pod/default/pod1a", Port: 8080, Proto: "tcp"},
			{From: "node1", Src: "node/node1", Dst: "pod/default/pod2a", Port: 8080, Proto: "tcp"},
			{From: "pod1b", Src: "pod/default/pod1b", Dst: "node/node2", Port: 30080, Proto: "tcp"},
			{From: "node2", Src: "node/node2", Dst: "svc/default/echo", Port: 80, Proto: "tcp"},
			{From: "pod1a", Src: "pod/default/pod1a", Dst: "svc/default/echo", Port: 80, Proto: "tcp"},
			{From: "pod1b", Src: "pod/default/pod1b", Dst: "pod/default/pod2a", Proto: "icmp"},
			{From: "pod1b", Src: "pod/default/pod1b", Dst: "10.200.0.50", Port: 80, Proto: "tcp"},
			{From: "pod1b", Src: "pod/default/pod1b", Dst: "svc/default/echo", Proto: "icmp"},
		}},
		{name: "traffic-policy-local", cases: []traceCase{
			{From: "node2", Src: "node/node2", Dst: "node/node1", Port: 30081, Proto: "tcp"},
			{From: "pod1b", Src: "pod/default/pod1b", Dst: "svc/default/echo-itp-local", Port: 80, Proto: "tcp"},
			{From: "pod2b", Src: "pod/default/pod2b", Dst: "svc/default/echo-itp-local", Port: 80, Proto: "tcp"},
		}},
		{name: "no-endpoints", guide: "11", cases: []traceCase{
			{From: "pod1b", Src: "pod/default/pod1b", Dst: "svc/default/noep", Port: 80, Proto: "tcp"},
		}},
		{name: "wrong-targetport", guide: "12", cases: []traceCase{
			{From: "pod1b", Src: "pod/default/pod1b", Dst: "svc/default/wrongport", Port: 80, Proto: "tcp"},
		}},
		{name: "nft-forward-drop", guide: "1",
			apply: func(t *testing.T, tb *testbed.Testbed) {
				nftExec(t, n2, "table inet fw {\n chain forward_drop { type filter hook forward priority filter; policy accept; tcp dport 8080 drop; }\n}\n")
			},
			revert: func(t *testing.T, tb *testbed.Testbed) { mustExec(t, tb, n2, "nft", "delete", "table", "inet", "fw") },
			cases:  []traceCase{toEcho, toPod2a}},
		{name: "nft-input-reject", guide: "1",
			apply: func(t *testing.T, tb *testbed.Testbed) {
				nftExec(t, n2, "table ip fw {\n chain in { type filter hook input priority filter - 5; policy accept; tcp dport 10256 reject with tcp reset; }\n}\n")
			},
			revert: func(t *testing.T, tb *testbed.Testbed) { mustExec(t, tb, n2, "nft", "delete", "table", "ip", "fw") },
			cases:  []traceCase{{From: "pod2b", Src: "pod/default/pod2b", Dst: "node/node2", Port: 10256, Proto: "tcp"}}},
		{name: "iptables-forward-drop", guide: "1",
			apply: func(t *testing.T, tb *testbed.Testbed) {
				mustExec(t, tb, n2, "iptables", "-I", "FORWARD", "1", "-p", "tcp", "--dport", "8080", "-j", "DROP")
			},
			revert: func(t *testing.T, tb *testbed.Testbed) {
				mustExec(t, tb, n2, "iptables", "-D", "FORWARD", "-p", "tcp", "--dport", "8080", "-j", "DROP")
			},
			cases: []traceCase{toEcho, toPod2a}},
		{name: "nft-prerouting-accept-then-drop", guide: "1",
			// Accept in one base chain does not end the hook: kube-proxy's chains and a
			// later chain still see the packet.
			apply: func(t *testing.T, tb *testbed.Testbed) {
				nftExec(t, n1, "table ip early {\n chain pre { type filter hook prerouting priority raw; policy accept; accept; }\n}\ntable ip late {\n chain forward_drop { type filter hook forward priority 10; policy accept; ip daddr "+pod("pod2a").IP+" tcp dport 8080 drop; }\n}\n")
			},
			revert: func(t *testing.T, tb *testbed.Testbed) {
				mustExec(t, tb, n1, "nft", "delete", "table", "ip", "early")
				mustExec(t, tb, n1, "nft", "delete", "table", "ip", "late")
			},
			cases: []traceCase{toEcho}},
		{name: "bridge-nf-off", guide: "3",
			apply: func(t *testing.T, tb *testbed.Testbed) {
				mustExec(t, tb, n1, "sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=0")
			},
			revert: func(t *testing.T, tb *testbed.Testbed) {
				mustExec(t, tb, n1, "sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=1")
			},
			cases: []traceCase{toEcho}},
		{name: "ip-forward-off", guide: "2",
			apply:  func(t *testing.T, tb *testbed.Testbed) { mustExec(t, tb, n2, "sysctl", "-qw", "net.ipv4.ip_forward=0") },
			revert: func(t *testing.T, tb *testbed.Testbed) { mustExec(t, tb, n2, "sysctl", "-qw", "net.ipv4.ip_forward=1") },
			cases:  []traceCase{toPod2a, toEcho}},
		// Last: kube-proxy is not started again.
		{name: "kube-proxy-gone", guide: "10",
			apply: func(t *testing.T, tb *testbed.Testbed) {
				if err := tb.Stop("kube-proxy-node1"); err != nil {
					t.Fatal(err)
				}
				mustExec(t, tb, n1, "nft", "flush", "chain", "ip", "kube-proxy", "services")
			},
			cases: []traceCase{toEcho}},
	}
	runScenarios(t, tb, "nft-", scenarios)
}

// waitNFT waits until a node's nft ruleset does (or does not) mention a string.
func waitNFT(t *testing.T, tb *testbed.Testbed, node, s string, present bool) {
	t.Helper()
	var ns string
	for _, n := range tb.Nodes {
		if n.Name == node {
			ns = n.NetNS
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, _ := tb.Exec(ns, "nft", "list", "ruleset")
		if strings.Contains(string(out), s) == present {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: nft list ruleset never %s %s:\n%s", node, map[bool]string{true: "showed", false: "dropped"}[present], s, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// runIn runs a command in a namespace with input on stdin.
func runIn(netns, input string, name string, args ...string) ([]byte, error) {
	cmd := exec.Command("ip", append([]string{"netns", "exec", netns, name}, args...)...)
	cmd.Stdin = strings.NewReader(input)
	return cmd.CombinedOutput()
}
