package e2e

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
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
	pod := func(name string) *testbed.Pod { return podNamed(t, tb, name) }
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
	// A load balancer's IP (as a cloud controller writes it into the status) with
	// loadBalancerSourceRanges: kube-proxy's firewall-ips map and firewall chain.
	lbSvc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "echo-lb", Namespace: "default"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer,
		Selector: map[string]string{"app": "echo"}, LoadBalancerSourceRanges: []string{"10.200.0.12/32"},
		Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080), NodePort: 30082}}}}
	lb, err := tb.Client.CoreV1().Services("default").Create(ctx, lbSvc, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	lb.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "10.200.0.60"}}
	if _, err := tb.Client.CoreV1().Services("default").UpdateStatus(ctx, lb, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The DNS Service of trace --dns: kube-system/kube-dns on UDP 53 to the echo pods' 5353.
	// Its endpoints are the echo pods, in a hand-made EndpointSlice (a Service without selector).
	dnsSvc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "kube-dns", Namespace: "kube-system"}, Spec: corev1.ServiceSpec{
		Ports: []corev1.ServicePort{{Name: "dns", Port: 53, TargetPort: intstr.FromInt32(5353), Protocol: corev1.ProtocolUDP}}}}
	if _, err := tb.Client.CoreV1().Services("kube-system").Create(ctx, dnsSvc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ready, udp, dnsName, p5353 := true, corev1.ProtocolUDP, "dns", int32(5353)
	slice := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "kube-dns-manual", Namespace: "kube-system", Labels: map[string]string{discoveryv1.LabelServiceName: "kube-dns"}},
		AddressType: discoveryv1.AddressTypeIPv4, Ports: []discoveryv1.EndpointPort{{Name: &dnsName, Port: &p5353, Protocol: &udp}}}
	for _, name := range []string{"pod1a", "pod2a"} {
		p := pod(name)
		node := p.Node
		slice.Endpoints = append(slice.Endpoints, discoveryv1.Endpoint{Addresses: []string{p.IP}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}, NodeName: &node})
	}
	if _, err := tb.Client.DiscoveryV1().EndpointSlices("kube-system").Create(ctx, slice, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitNFT(t, tb, "node1", "10.200.0.50 . tcp . 80", true)
	waitNFT(t, tb, "node2", "10.200.0.60 . tcp . 80", true)
	waitNFT(t, tb, "node1", "kube-system/kube-dns/udp/dns__"+pod("pod2a").IP, true)
	setReady := func(t *testing.T, name string, ready bool) { setPodReady(ctx, t, tb, name, ready) }
	// hostVeth is the node's end of a pod's eth0.
	hostVeth := func(p *testbed.Pod) string { return hostVethOf(t, tb, p) }
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
		{name: "lb-source-ranges", cases: []traceCase{
			{From: "node2", Src: "node/node2", Dst: "10.200.0.60", Port: 80, Proto: "tcp"},
			{From: "node1", Src: "node/node1", Dst: "10.200.0.60", Port: 80, Proto: "tcp"},
			{From: "pod2b", Src: "pod/default/pod2b", Dst: "10.200.0.60", Port: 80, Proto: "tcp"},
		}},
		{name: "dns", guide: "26", cases: []traceCase{
			{From: "pod1b", Src: "pod/default/pod1b", Dst: "kube-dns.kube-system.svc", Port: 53, Proto: "udp"},
		}},
		{name: "dns-udp-blocked", guide: "26",
			apply: func(t *testing.T, tb *testbed.Testbed) {
				nftExec(t, n2, "table inet fw {\n chain forward_drop { type filter hook forward priority filter; policy accept; udp dport 5353 drop; }\n}\n")
			},
			revert: func(t *testing.T, tb *testbed.Testbed) { mustExec(t, tb, n2, "nft", "delete", "table", "inet", "fw") },
			cases:  []traceCase{{From: "pod1b", Src: "pod/default/pod1b", Dst: "kube-dns.kube-system.svc", Port: 53, Proto: "udp"}}},
		{name: "not-ready", guide: "13",
			// kube-proxy drops the endpoint from the Service's numgen vmap at once and
			// deletes its chain later: wait for the vmap.
			apply: func(t *testing.T, tb *testbed.Testbed) {
				setReady(t, "pod2a", false)
				waitNFT(t, tb, "node1", "default/echo/tcp/http__"+pod("pod1a").IP+"/8080 }", true)
			},
			revert: func(t *testing.T, tb *testbed.Testbed) {
				setReady(t, "pod2a", true)
				waitNFT(t, tb, "node1", "default/echo/tcp/http__"+pod("pod1a").IP+"/8080 }", false)
			},
			cases: []traceCase{toEcho}},
		{name: "hairpin-off", guide: "15",
			apply: func(t *testing.T, tb *testbed.Testbed) {
				mustExec(t, tb, n1, "ip", "link", "set", hostVeth(pod("pod1a")), "type", "bridge_slave", "hairpin", "off")
			},
			revert: func(t *testing.T, tb *testbed.Testbed) {
				mustExec(t, tb, n1, "ip", "link", "set", hostVeth(pod("pod1a")), "type", "bridge_slave", "hairpin", "on")
			},
			cases: []traceCase{{From: "pod1a", Src: "pod/default/pod1a", Dst: "svc/default/echo", Port: 80, Proto: "tcp"}}},
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
		// The dataplane's own faults, with kube-proxy's nft chains on the way.
		{name: "listener-localhost", guide: "14", cases: []traceCase{
			{From: "pod2b", Src: "pod/default/pod2b", Dst: "node/node1", Port: 10249, Proto: "tcp"},
			{From: "pod1b", Src: "pod/default/pod1b", Dst: "pod/default/pod2b", Port: 8080, Proto: "tcp"},
		}},
		{name: "rp-filter-asymmetric", guide: "4",
			apply: func(t *testing.T, tb *testbed.Testbed) {
				if _, err := tb.Exec(tb.Underlay, "ip", "link", "add", "vx21", "type", "veth", "peer", "name", "eth1", "netns", n1); err != nil {
					t.Fatal(err)
				}
				mustExec(t, tb, tb.Underlay, "ip", "link", "set", "vx21", "master", "br0", "up")
				mustExec(t, tb, n1, "ip", "addr", "add", "10.200.0.21/24", "dev", "eth1")
				mustExec(t, tb, n1, "ip", "link", "set", "eth1", "up")
				mustExec(t, tb, n1, "sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=1", "net.ipv4.conf.eth1.rp_filter=1")
				mustExec(t, tb, n2, "ip", "route", "replace", "10.244.1.0/24", "via", "10.200.0.21")
			},
			revert: func(t *testing.T, tb *testbed.Testbed) {
				mustExec(t, tb, n2, "ip", "route", "replace", "10.244.1.0/24", "via", "10.200.0.11")
				mustExec(t, tb, tb.Underlay, "ip", "link", "del", "vx21")
				mustExec(t, tb, n1, "sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=0")
			},
			cases: []traceCase{toPod2a, toEcho}},
		{name: "route-missing", guide: "5",
			apply: func(t *testing.T, tb *testbed.Testbed) { mustExec(t, tb, n1, "ip", "route", "del", "10.244.2.0/24") },
			revert: func(t *testing.T, tb *testbed.Testbed) {
				mustExec(t, tb, n1, "ip", "route", "add", "10.244.2.0/24", "via", "10.200.0.12")
			},
			cases: []traceCase{toPod2a, toEcho}},
		{name: "blackhole-route", guide: "7",
			apply: func(t *testing.T, tb *testbed.Testbed) {
				mustExec(t, tb, n1, "ip", "route", "add", "blackhole", pod("pod2a").IP+"/32")
			},
			revert: func(t *testing.T, tb *testbed.Testbed) {
				mustExec(t, tb, n1, "ip", "route", "del", "blackhole", pod("pod2a").IP+"/32")
			},
			cases: []traceCase{toPod2a, toEcho}},
		{name: "wrong-neighbour", guide: "8",
			apply: func(t *testing.T, tb *testbed.Testbed) {
				mustExec(t, tb, n1, "ip", "neigh", "replace", "10.200.0.12", "lladdr", "02:00:00:00:00:99", "dev", "eth0", "nud", "permanent")
			},
			revert: func(t *testing.T, tb *testbed.Testbed) {
				mustExec(t, tb, n1, "ip", "neigh", "del", "10.200.0.12", "dev", "eth0")
			},
			cases: []traceCase{toPod2a, toEcho}},
		{name: "mtu", guide: "25",
			apply: func(t *testing.T, tb *testbed.Testbed) {
				mustExec(t, tb, n1, "ip", "link", "set", "eth0", "mtu", "1400")
			},
			revert: func(t *testing.T, tb *testbed.Testbed) {
				mustExec(t, tb, n1, "ip", "link", "set", "eth0", "mtu", "1500")
			},
			cases: []traceCase{
				{From: "pod1b", Src: "pod/default/pod1b", Dst: "pod/default/pod2a", Proto: "icmp", Size: 1450},
				{From: "pod1b", Src: "pod/default/pod1b", Dst: "pod/default/pod2a", Proto: "icmp", Size: 1400},
			}},
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

// The nftables-mode scenarios' faults for checkDiagnose (trace_test.go's table holds the
// first ones).
func init() {
	for name, codes := range map[string][]string{
		"nft-dns-udp-blocked": {"firewall-forward-drop"}, "nft-hairpin-off": {"hairpin-off"}, "nft-not-ready": {"endpoint-not-ready"},
		"nft-rp-filter-asymmetric": {"rp-filter-asymmetric"}, "nft-route-missing": {"route-missing"}, "nft-blackhole-route": {"route-blackhole"},
		"nft-wrong-neighbour": {"neighbour-wrong-mac"}, "nft-mtu": {"mtu-mismatch"},
	} {
		if _, ok := diagnoseWant[name]; !ok {
			diagnoseWant[name] = codes
		}
	}
	if _, ok := diagnoseUnfound["nft-listener-localhost"]; !ok {
		diagnoseUnfound["nft-listener-localhost"] = diagnoseUnfound["listener-localhost"]
	}
}
