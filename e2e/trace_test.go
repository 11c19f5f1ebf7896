package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/netsim/netsim/bundle"
	"github.com/netsim/netsim/diagnose"
	"github.com/netsim/netsim/e2e/testbed"
	"github.com/netsim/netsim/model"
	"github.com/netsim/netsim/rules/packet"
	"github.com/netsim/netsim/simulate"
)

// traceCase is one question asked of both the kernel and netsim.
type traceCase struct {
	From  string // a pod or node name of the testbed: where the probe runs
	Src   string // netsim's SRC
	Dst   string // netsim's DST
	Port  uint16
	Proto string // tcp, udp, icmp
	Size  int    // icmp only: the IP packet size, sent with DF
}

func (c traceCase) String() string {
	return fmt.Sprintf("%s -> %s %d/%s", c.Src, c.Dst, c.Port, c.Proto)
}

// scenario is the healthy testbed or one injected fault (a field-guide entry).
type scenario struct {
	name   string
	guide  string // the FIELD-GUIDE.md entry it reproduces
	apply  func(t *testing.T, tb *testbed.Testbed)
	revert func(t *testing.T, tb *testbed.Testbed) // nil: the last scenario, not undone
	cases  []traceCase
}

// TestTraceAgainstKernel brings up the real dataplane, and for the healthy cluster and
// each injected fault dumps a bundle, sends real probes, and checks that netsim's paths
// predict exactly what the kernel did: the same outcomes (answer, refused, unreachable,
// timeout) and the same set of endpoints answering. With NETSIM_FAULTS_OUT=DIR each
// scenario's bundle is frozen there (as NAME.tar.gz, with its cases and the verdicts the
// kernel confirmed) for the golden tests that run without root.
func TestTraceAgainstKernel(t *testing.T) {
	tb := upTestbed(t, "iptables")
	ctx := context.Background()
	for _, n := range tb.Nodes {
		// ICMP errors are rate-limited per destination; the probes below send many.
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
	waitRules(t, tb, "node1", "10.244.1.2:9090", true)
	// A cluster DNS Service for trace --dns: kube-system/kube-dns, its endpoints the echo
	// pods (a hand-made EndpointSlice, as for a Service without selector), UDP and TCP 53.
	dnsSvc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "kube-dns", Namespace: "kube-system", Labels: map[string]string{"k8s-app": "kube-dns"}},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "dns", Port: 53, TargetPort: intstr.FromInt32(5353), Protocol: corev1.ProtocolUDP},
			{Name: "dns-tcp", Port: 53, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP}}}}
	if _, err := tb.Client.CoreV1().Services("kube-system").Create(ctx, dnsSvc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ready := true
	udp, tcp := corev1.ProtocolUDP, corev1.ProtocolTCP
	dnsName, tcpName := "dns", "dns-tcp"
	p5353, p8080 := int32(5353), int32(8080)
	slice := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "kube-dns-manual", Namespace: "kube-system", Labels: map[string]string{discoveryv1.LabelServiceName: "kube-dns"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: &dnsName, Port: &p5353, Protocol: &udp}, {Name: &tcpName, Port: &p8080, Protocol: &tcp}}}
	for _, name := range []string{"pod1a", "pod2a"} {
		p := pod(name)
		node := p.Node
		slice.Endpoints = append(slice.Endpoints, discoveryv1.Endpoint{Addresses: []string{p.IP}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}, NodeName: &node})
	}
	if _, err := tb.Client.DiscoveryV1().EndpointSlices("kube-system").Create(ctx, slice, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitRules(t, tb, "node1", "kube-system/kube-dns:dns-tcp ->", true)
	// Traffic policies: a NodePort Service with externalTrafficPolicy Local, and a
	// ClusterIP Service with internalTrafficPolicy Local.
	local := corev1.ServiceInternalTrafficPolicyLocal
	for _, s := range []*corev1.Service{
		{ObjectMeta: metav1.ObjectMeta{Name: "echo-etp-local", Namespace: "default"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort,
			ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal, Selector: map[string]string{"app": "echo"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080), NodePort: 30081}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "echo-itp-local", Namespace: "default"}, Spec: corev1.ServiceSpec{InternalTrafficPolicy: &local,
			Selector: map[string]string{"app": "echo"}, Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}}}},
	} {
		if _, err := tb.Client.CoreV1().Services("default").Create(ctx, s, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// Addresses from outside the Service CIDR: an external IP, and a load balancer's IP as a
	// cloud controller would write it into the Service's status.
	extSvc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "echo-ext", Namespace: "default"}, Spec: corev1.ServiceSpec{
		Selector: map[string]string{"app": "echo"}, ExternalIPs: []string{"10.200.0.50"},
		Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}}}}
	if _, err := tb.Client.CoreV1().Services("default").Create(ctx, extSvc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	lbSvc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "echo-lb", Namespace: "default"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer,
		Selector: map[string]string{"app": "echo"}, Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080), NodePort: 30082}}}}
	lb, err := tb.Client.CoreV1().Services("default").Create(ctx, lbSvc, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	lb.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "10.200.0.60"}}
	if _, err := tb.Client.CoreV1().Services("default").UpdateStatus(ctx, lb, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitRules(t, tb, "node1", "10.200.0.50/32", true)
	waitRules(t, tb, "node1", "10.200.0.60/32", true)
	waitRules(t, tb, "node1", "default/echo-etp-local:http -> 10.244.1.2:8080", true)
	waitRules(t, tb, "node2", "default/echo-itp-local:http -> 10.244.2.2:8080", true)
	waitRules(t, tb, "node2", "kube-system/kube-dns:dns ->", true)
	hostVeth := func(p *testbed.Pod) string { return hostVethOf(t, tb, p) }
	n1, n2 := tb.Nodes[0].NetNS, tb.Nodes[1].NetNS
	setReady := func(t *testing.T, name string, ready bool) { setPodReady(ctx, t, tb, name, ready) }
	toEcho := traceCase{From: "pod1b", Src: "pod/default/pod1b", Dst: "svc/default/echo", Port: 80, Proto: "tcp"}
	toPod2a := traceCase{From: "pod1b", Src: "pod/default/pod1b", Dst: "pod/default/pod2a", Port: 8080, Proto: "tcp"}
	scenarios := []scenario{
		{name: "healthy", cases: []traceCase{
			toPod2a, toEcho,
			{From: "pod1b", Src: "pod/default/pod1b", Dst: "echo.default.svc.cluster.local", Port: 53, Proto: "udp"},
			{From: "pod1b", Src: "pod/default/pod1b", Dst: "pod/default/pod1a", Port: 8080, Proto: "tcp"},
			{From: "node1", Src: "node/node1", Dst: "pod/default/pod2a", Port: 8080, Proto: "tcp"},
			{From: "pod2b", Src: "pod/default/pod2b", Dst: "node/node2", Port: 10256, Proto: "tcp"},
			{From: "pod1b", Src: "pod/default/pod1b", Dst: "node/node2", Port: 30080, Proto: "tcp"},
			{From: "node2", Src: "node/node2", Dst: "svc/default/echo", Port: 80, Proto: "tcp"},
			{From: "pod1a", Src: "pod/default/pod1a", Dst: "svc/default/echo", Port: 80, Proto: "tcp"},
			{From: "pod1b", Src: "pod/default/pod1b", Dst: "pod/default/pod2a", Proto: "icmp"},
			{From: "node1", Src: "node/node1", Dst: "node/node2", Port: 10256, Proto: "tcp"},
			{From: "pod1b", Src: "pod/default/pod1b", Dst: "10.200.0.50", Port: 80, Proto: "tcp"},
			{From: "pod2b", Src: "pod/default/pod2b", Dst: "10.200.0.60", Port: 80, Proto: "tcp"},
			{From: "node1", Src: "node/node1", Dst: "10.200.0.60", Port: 80, Proto: "tcp"},
		}},
		{name: "dns", guide: "26", cases: []traceCase{
			{From: "pod1b", Src: "pod/default/pod1b", Dst: "kube-dns.kube-system.svc", Port: 53, Proto: "udp"},
			{From: "pod1b", Src: "pod/default/pod1b", Dst: "svc/kube-system/kube-dns", Port: 53, Proto: "tcp"},
		}},
		{name: "dns-udp-blocked", guide: "26",
			apply: func(t *testing.T, tb *testbed.Testbed) {
				mustExec(t, tb, n2, "iptables", "-I", "FORWARD", "1", "-p", "udp", "--dport", "5353", "-j", "DROP")
			},
			revert: func(t *testing.T, tb *testbed.Testbed) {
				mustExec(t, tb, n2, "iptables", "-D", "FORWARD", "-p", "udp", "--dport", "5353", "-j", "DROP")
			},
			cases: []traceCase{
				{From: "pod1b", Src: "pod/default/pod1b", Dst: "kube-dns.kube-system.svc", Port: 53, Proto: "udp"},
				{From: "pod1b", Src: "pod/default/pod1b", Dst: "svc/kube-system/kube-dns", Port: 53, Proto: "tcp"},
			}},
		{name: "traffic-policy-local", cases: []traceCase{
			{From: "node2", Src: "node/node2", Dst: "node/node1", Port: 30081, Proto: "tcp"},
			{From: "pod1b", Src: "pod/default/pod1b", Dst: "svc/default/echo-itp-local", Port: 80, Proto: "tcp"},
			{From: "pod2b", Src: "pod/default/pod2b", Dst: "svc/default/echo-itp-local", Port: 80, Proto: "tcp"},
		}},
		{name: "duplicate-address", guide: "9",
			apply: func(t *testing.T, tb *testbed.Testbed) {
				mustExec(t, tb, n2, "ip", "addr", "add", pod("pod1b").IP+"/32", "dev", "cni0")
			},
			revert: func(t *testing.T, tb *testbed.Testbed) {
				mustExec(t, tb, n2, "ip", "addr", "del", pod("pod1b").IP+"/32", "dev", "cni0")
			},
			cases: []traceCase{toPod2a}},
		{name: "rp-filter-asymmetric", guide: "4",
			apply: func(t *testing.T, tb *testbed.Testbed) {
				// node1 gets a second link into the underlay (eth1, 10.200.0.21), answering
				// ARP only for its own address, with strict rp_filter; node2 routes node1's
				// pod CIDR to that address. Requests leave node1 by eth0, replies come back
				// on eth1, where the route back to their source is not.
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
			cases: []traceCase{toPod2a}},
		{name: "networkpolicy-not-enforced", guide: "16",
			apply: func(t *testing.T, tb *testbed.Testbed) {
				np := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "default-deny", Namespace: "default"},
					Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}}}
				if _, err := tb.Client.NetworkingV1().NetworkPolicies("default").Create(context.Background(), np, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			},
			revert: func(t *testing.T, tb *testbed.Testbed) {
				if err := tb.Client.NetworkingV1().NetworkPolicies("default").Delete(context.Background(), "default-deny", metav1.DeleteOptions{}); err != nil {
					t.Fatal(err)
				}
			},
			// The testbed runs no enforcer: the kernel delivers, and netsim says so, with the
			// would-be denial as a finding.
			cases: []traceCase{toEcho}},
		{name: "listener-localhost", guide: "14", cases: []traceCase{
			{From: "pod2b", Src: "pod/default/pod2b", Dst: "node/node1", Port: 10249, Proto: "tcp"},
			{From: "pod1b", Src: "pod/default/pod1b", Dst: "pod/default/pod2b", Port: 8080, Proto: "tcp"},
		}},
		{name: "no-endpoints", guide: "11", cases: []traceCase{
			{From: "pod1b", Src: "pod/default/pod1b", Dst: "svc/default/noep", Port: 80, Proto: "tcp"},
		}},
		{name: "wrong-targetport", guide: "12", cases: []traceCase{
			{From: "pod1b", Src: "pod/default/pod1b", Dst: "svc/default/wrongport", Port: 80, Proto: "tcp"},
		}},
		{name: "forward-drop", guide: "1",
			apply: func(t *testing.T, tb *testbed.Testbed) {
				mustExec(t, tb, n2, "iptables", "-I", "FORWARD", "1", "-p", "tcp", "--dport", "8080", "-j", "DROP")
			},
			revert: func(t *testing.T, tb *testbed.Testbed) {
				mustExec(t, tb, n2, "iptables", "-D", "FORWARD", "-p", "tcp", "--dport", "8080", "-j", "DROP")
			},
			cases: []traceCase{toEcho, toPod2a}},
		{name: "input-reject", guide: "1",
			apply: func(t *testing.T, tb *testbed.Testbed) {
				mustExec(t, tb, n2, "iptables", "-I", "INPUT", "1", "-p", "tcp", "--dport", "10256", "-j", "REJECT", "--reject-with", "tcp-reset")
			},
			revert: func(t *testing.T, tb *testbed.Testbed) {
				mustExec(t, tb, n2, "iptables", "-D", "INPUT", "-p", "tcp", "--dport", "10256", "-j", "REJECT", "--reject-with", "tcp-reset")
			},
			cases: []traceCase{{From: "pod2b", Src: "pod/default/pod2b", Dst: "node/node2", Port: 10256, Proto: "tcp"}}},
		{name: "ip-forward-off", guide: "2",
			apply:  func(t *testing.T, tb *testbed.Testbed) { mustExec(t, tb, n2, "sysctl", "-qw", "net.ipv4.ip_forward=0") },
			revert: func(t *testing.T, tb *testbed.Testbed) { mustExec(t, tb, n2, "sysctl", "-qw", "net.ipv4.ip_forward=1") },
			cases:  []traceCase{toPod2a, toEcho}},
		{name: "bridge-nf-off", guide: "3",
			apply: func(t *testing.T, tb *testbed.Testbed) {
				mustExec(t, tb, n1, "sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=0")
			},
			revert: func(t *testing.T, tb *testbed.Testbed) {
				mustExec(t, tb, n1, "sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=1")
			},
			cases: []traceCase{toEcho}},
		{name: "route-missing", guide: "5",
			apply: func(t *testing.T, tb *testbed.Testbed) { mustExec(t, tb, n1, "ip", "route", "del", "10.244.2.0/24") },
			revert: func(t *testing.T, tb *testbed.Testbed) {
				mustExec(t, tb, n1, "ip", "route", "add", "10.244.2.0/24", "via", "10.200.0.12")
			},
			cases: []traceCase{toPod2a}},
		{name: "pod-no-default-route", guide: "6",
			apply: func(t *testing.T, tb *testbed.Testbed) {
				mustExec(t, tb, pod("pod1b").NetNS, "ip", "route", "del", "default")
			},
			revert: func(t *testing.T, tb *testbed.Testbed) {
				mustExec(t, tb, pod("pod1b").NetNS, "ip", "route", "add", "default", "via", "10.244.1.1")
			},
			cases: []traceCase{toPod2a, toEcho}},
		{name: "blackhole-route", guide: "7",
			apply: func(t *testing.T, tb *testbed.Testbed) {
				mustExec(t, tb, n1, "ip", "route", "add", "blackhole", "10.244.2.2/32")
			},
			revert: func(t *testing.T, tb *testbed.Testbed) {
				mustExec(t, tb, n1, "ip", "route", "del", "blackhole", "10.244.2.2/32")
			},
			cases: []traceCase{toPod2a, toEcho}},
		{name: "wrong-neighbour", guide: "8",
			apply: func(t *testing.T, tb *testbed.Testbed) {
				mustExec(t, tb, n1, "ip", "neigh", "replace", "10.200.0.12", "lladdr", "02:00:00:00:00:99", "dev", "eth0", "nud", "permanent")
			},
			revert: func(t *testing.T, tb *testbed.Testbed) {
				mustExec(t, tb, n1, "ip", "neigh", "del", "10.200.0.12", "dev", "eth0")
			},
			cases: []traceCase{toPod2a}},
		{name: "not-ready", guide: "13",
			apply: func(t *testing.T, tb *testbed.Testbed) {
				setReady(t, "pod2a", false)
				waitRules(t, tb, "node1", "default/echo:http -> "+pod("pod2a").IP+":8080", false)
			},
			revert: func(t *testing.T, tb *testbed.Testbed) {
				setReady(t, "pod2a", true)
				waitRules(t, tb, "node1", "default/echo:http -> "+pod("pod2a").IP+":8080", true)
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
				mustExec(t, tb, n1, "iptables", "-t", "nat", "-F", "KUBE-SERVICES")
			},
			cases: []traceCase{toEcho}},
	}
	runScenarios(t, tb, "", scenarios)
}

// runScenarios applies each scenario in turn, checks its cases against the kernel, and
// undoes it; with NETSIM_FAULTS_OUT it freezes each scenario's bundle there as
// PREFIX+NAME.tar.gz and adds the scenarios to cases.json.
func runScenarios(t *testing.T, tb *testbed.Testbed, prefix string, scenarios []scenario) {
	ctx := context.Background()
	freeze := os.Getenv("NETSIM_FAULTS_OUT")
	var frozen []frozenScenario
	for _, sc := range scenarios {
		sc.name = prefix + sc.name
		ok := t.Run(sc.name, func(t *testing.T) {
			if sc.apply != nil {
				sc.apply(t, tb)
			}
			if sc.revert != nil {
				defer sc.revert(t, tb)
			}
			dir := t.TempDir()
			if err := tb.DumpBundle(ctx, dir); err != nil {
				t.Fatal(err)
			}
			fs := frozenScenario{Name: sc.name, Guide: sc.guide}
			var verdicts []simulate.Verdict
			for _, c := range sc.cases {
				v := checkCase(t, tb, dir, c)
				verdicts = append(verdicts, v)
				fs.Cases = append(fs.Cases, frozenCase{Args: c.args(), Verdict: string(v)})
			}
			checkDiagnose(t, sc.name, dir)
			// The same scenario through `netsim collect` (client-go for the API, the node
			// part in each node's namespace): the collected bundle must give the verdicts
			// the kernel agrees with, the same as the plain-tools dump.
			if collectedScenarios[sc.name] {
				cdir := collectTestbed(t, tb)
				for i, c := range sc.cases {
					if v := checkCase(t, tb, cdir, c); v != verdicts[i] {
						t.Errorf("%s: the collected bundle says %s, the dumped one %s", c, v, verdicts[i])
					}
				}
			}
			if freeze != "" && !t.Failed() {
				freezeBundle(t, dir, filepath.Join(freeze, sc.name+".tar.gz"))
				frozen = append(frozen, fs)
			}
		})
		if !ok && sc.revert == nil {
			break
		}
	}
	if freeze != "" && !t.Failed() {
		freezeCases(t, freeze, frozen)
	}
}

// diagnoseWant is what `netsim diagnose` must find, with no flow given, in each live
// scenario's bundle (the injected fault's codes); a scenario not listed is healthy and must
// have no error finding. (diagnose/faults_test.go holds the same table for the frozen
// bundles, with why the few faults that show only for a flow do.)
var diagnoseWant = map[string][]string{
	"forward-drop": {"firewall-forward-drop"}, "input-reject": {"firewall-input-drop"}, "dns-udp-blocked": {"firewall-forward-drop"},
	"ip-forward-off": {"ip-forward-off"}, "bridge-nf-off": {"bridge-nf-call-iptables-off"}, "rp-filter-asymmetric": {"rp-filter-asymmetric"},
	"route-missing": {"route-missing"}, "pod-no-default-route": {"pod-no-default-route"}, "blackhole-route": {"route-blackhole"},
	"wrong-neighbour": {"neighbour-wrong-mac"}, "duplicate-address": {"duplicate-address"}, "kube-proxy-gone": {"kube-proxy-stale"},
	"no-endpoints": {"service-no-endpoints"}, "wrong-targetport": {"service-targetport-mismatch"}, "not-ready": {"endpoint-not-ready"},
	"hairpin-off": {"hairpin-off"}, "networkpolicy-not-enforced": {"policy-not-enforced"}, "mtu": {"mtu-mismatch"},
	"vxlan-mtu": {"mtu-mismatch"}, "vxlan-fdb-missing": {"vxlan-fdb-missing"}, "vxlan-vtep-wrong-dst": {"vxlan-fdb-wrong-dst"},
	"nft-bridge-nf-off": {"bridge-nf-call-iptables-off"}, "nft-ip-forward-off": {"ip-forward-off"},
	"nft-iptables-forward-drop": {"firewall-forward-drop"}, "nft-nft-forward-drop": {"firewall-forward-drop"},
	"nft-nft-input-reject": {"firewall-input-drop"}, "nft-nft-prerouting-accept-then-drop": {"firewall-forward-drop"},
	"nft-no-endpoints": {"service-no-endpoints"}, "nft-wrong-targetport": {"service-targetport-mismatch"},
	"nft-dns-udp-blocked": {"firewall-forward-drop"}, "nft-hairpin-off": {"hairpin-off"}, "nft-not-ready": {"endpoint-not-ready"},
	"nft-kube-proxy-gone": {"kube-proxy-stale"},
}

// diagnoseUnfound are faults diagnose does not find without a flow yet, and why.
var diagnoseUnfound = map[string]string{
	"listener-localhost": "the listener's port is neither a Service endpoint nor a declared container port: only a flow shows it",
}

// checkDiagnose runs diagnose on a live scenario's bundle: the injected fault's codes must
// be reported; a healthy scenario must have no error finding.
func checkDiagnose(t *testing.T, name, dir string) {
	t.Helper()
	b, err := bundle.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	c, err := model.Load(b, model.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := diagnose.Run(c, diagnose.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	var errs []string
	for _, f := range rep.Findings {
		got[f.Code] = true
		if f.Severity == "error" {
			errs = append(errs, f.Code+": "+f.Message)
		}
	}
	want, fault := diagnoseWant[name]
	if why, ok := diagnoseUnfound[name]; ok {
		t.Logf("diagnose: %s is not expected to be found without a flow: %s", name, why)
		return
	}
	if !fault {
		if len(errs) > 0 {
			t.Errorf("diagnose on a healthy scenario reports errors: %v", errs)
		}
		return
	}
	for _, w := range want {
		if !got[w] {
			t.Errorf("diagnose does not find %s (finds %v)", w, keys(got))
		}
	}
}

// collectedScenarios are also traced from a bundle made by `netsim collect`.
var collectedScenarios = map[string]bool{"healthy": true, "forward-drop": true, "route-missing": true, "kube-proxy-gone": true, "nft-healthy": true}

// nodePartScript writes the --node-command script that runs `netsim collect node` inside
// the testbed node's namespace named by its first argument, with that node's pod namespaces.
func nodePartScript(t *testing.T, tb *testbed.Testbed, bin string) string {
	t.Helper()
	script := filepath.Join(t.TempDir(), "node-part.sh")
	var sb strings.Builder
	sb.WriteString("#!/bin/sh\nset -e\ncase \"$1\" in\n")
	for _, n := range tb.Nodes {
		var pods []string
		for _, p := range tb.Pods {
			if p.Node == n.Name {
				pods = append(pods, p.Namespace+"_"+p.Name+"="+p.NetNS)
			}
		}
		fmt.Fprintf(&sb, "%s) exec ip netns exec %s %s collect node --quiet --pod-netns %s -o - ;;\n", n.Name, n.NetNS, bin, strings.Join(pods, ","))
	}
	sb.WriteString("*) echo \"unknown node $1\" >&2; exit 1 ;;\nesac\n")
	if err := os.WriteFile(script, []byte(sb.String()), 0o755); err != nil {
		t.Fatal(err)
	}
	return script
}

// collectTestbed collects the testbed with `netsim collect`: the cluster part through
// client-go from inside the underlay namespace (where the API server listens), the node part
// run by --node-command as `netsim collect node` inside each node's namespace, with the
// node's pod namespaces named.
func collectTestbed(t *testing.T, tb *testbed.Testbed) string {
	t.Helper()
	netsimBin := buildNetsim(t)
	script := nodePartScript(t, tb, netsimBin)
	dir := filepath.Join(t.TempDir(), "collected")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", "netns", "exec", tb.Underlay, netsimBin, "collect", "--kubeconfig", tb.LocalKubeconfig,
		"--nodes", "all", "--node-command", script+" {node}", "-o", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("netsim collect: %v\n%s", err, out)
	}
	return dir
}

// freezeBundle writes a scenario's bundle as a .tar.gz for the tests that run without root.
func freezeBundle(t *testing.T, dir, archive string) {
	t.Helper()
	if out, err := exec.Command("tar", "-C", dir, "-czf", archive, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v: %s", err, out)
	}
}

// freezeCases records frozen scenarios and their kernel-confirmed verdicts in
// freeze/cases.json.
func freezeCases(t *testing.T, freeze string, frozen []frozenScenario) {
	t.Helper()
	// Scenarios of other runs (another overlay) stay; this run's replace theirs.
	var all []frozenScenario
	if data, err := os.ReadFile(filepath.Join(freeze, "cases.json")); err == nil {
		json.Unmarshal(data, &all)
	}
	mine := map[string]bool{}
	for _, f := range frozen {
		mine[f.Name] = true
	}
	kept := all[:0]
	for _, f := range all {
		if !mine[f.Name] {
			kept = append(kept, f)
		}
	}
	all = append(kept, frozen...)
	sort.SliceStable(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	b, _ := json.MarshalIndent(all, "", "  ")
	if err := os.WriteFile(filepath.Join(freeze, "cases.json"), append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestTraceVXLAN is TestTraceAgainstKernel on nodes joined by flannel-style VXLAN: the
// walk must encapsulate at flannel.1 (neighbour entry for the remote VTEP's MAC, fdb entry
// for its node), carry the outer UDP packet through both nodes' netfilter and the underlay,
// and decapsulate at the other end; with faults in the overlay's own state.
func TestTraceVXLAN(t *testing.T) {
	tb := upTestbedWith(t, testbed.Config{ProxyMode: "iptables", Overlay: "vxlan"})
	for _, n := range tb.Nodes {
		mustExec(t, tb, n.NetNS, "sysctl", "-qw", "net.ipv4.icmp_ratelimit=0")
	}
	n1 := tb.Nodes[0].NetNS
	toEcho := traceCase{From: "pod1b", Src: "pod/default/pod1b", Dst: "svc/default/echo", Port: 80, Proto: "tcp"}
	toPod2a := traceCase{From: "pod1b", Src: "pod/default/pod1b", Dst: "pod/default/pod2a", Port: 8080, Proto: "tcp"}
	runScenarios(t, tb, "vxlan-", []scenario{
		{name: "healthy", cases: []traceCase{toPod2a, toEcho,
			{From: "node1", Src: "node/node1", Dst: "pod/default/pod2a", Port: 8080, Proto: "tcp"},
			{From: "pod1b", Src: "pod/default/pod1b", Dst: "node/node2", Port: 30080, Proto: "tcp"},
			{From: "pod1b", Src: "pod/default/pod1b", Dst: "echo.default.svc", Port: 53, Proto: "udp"},
		}},
		{name: "mtu", guide: "25", cases: []traceCase{
			{From: "pod1b", Src: "pod/default/pod1b", Dst: "pod/default/pod2a", Proto: "icmp", Size: 1460},
			{From: "pod1b", Src: "pod/default/pod1b", Dst: "pod/default/pod2a", Proto: "icmp", Size: 1450},
		}},
		{name: "fdb-missing", guide: "8",
			apply: func(t *testing.T, tb *testbed.Testbed) {
				mustExec(t, tb, n1, "bridge", "fdb", "del", "0a:58:0a:f4:02:00", "dev", "flannel.1", "dst", "10.200.0.12")
			},
			revert: func(t *testing.T, tb *testbed.Testbed) {
				mustExec(t, tb, n1, "bridge", "fdb", "append", "0a:58:0a:f4:02:00", "dev", "flannel.1", "dst", "10.200.0.12", "self", "permanent")
			},
			cases: []traceCase{toPod2a, toEcho}},
		{name: "vtep-wrong-dst", guide: "9",
			apply: func(t *testing.T, tb *testbed.Testbed) {
				mustExec(t, tb, n1, "bridge", "fdb", "replace", "0a:58:0a:f4:02:00", "dev", "flannel.1", "dst", "10.200.0.99", "self", "permanent")
			},
			revert: func(t *testing.T, tb *testbed.Testbed) {
				mustExec(t, tb, n1, "bridge", "fdb", "replace", "0a:58:0a:f4:02:00", "dev", "flannel.1", "dst", "10.200.0.12", "self", "permanent")
			},
			cases: []traceCase{toPod2a}},
	})
}

// frozenScenario is what the golden tests replay without root (testdata/faults/cases.json).
type frozenScenario struct {
	Name  string       `json:"name"`
	Guide string       `json:"fieldGuide,omitempty"`
	Cases []frozenCase `json:"cases"`
}

type frozenCase struct {
	Args    []string `json:"args"`
	Verdict string   `json:"verdict"` // as netsim said it, and the kernel confirmed it
}

func (c traceCase) args() []string {
	a := []string{c.Src, c.Dst}
	if c.Port != 0 {
		a = append(a, fmt.Sprint(c.Port))
	}
	a = append(a, c.Proto)
	if c.Size != 0 {
		a = append(a, "--size", fmt.Sprint(c.Size))
	}
	return a
}

func mustExec(t *testing.T, tb *testbed.Testbed, netns, name string, args ...string) []byte {
	t.Helper()
	out, err := tb.Exec(netns, name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// waitRules waits until a node's iptables-save does (or does not) mention a string.
func waitRules(t *testing.T, tb *testbed.Testbed, node, s string, present bool) {
	t.Helper()
	var ns string
	for _, n := range tb.Nodes {
		if n.Name == node {
			ns = n.NetNS
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, _ := tb.Exec(ns, "iptables-save")
		if strings.Contains(string(out), s) == present {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: iptables-save never %s %s", node, map[bool]string{true: "showed", false: "dropped"}[present], s)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// outcome is what one probe saw: ok (with the answering pod's name), refused, unreachable
// or timeout.
type outcome struct{ class, who string }

func (o outcome) String() string {
	if o.who != "" {
		return o.class + ":" + o.who
	}
	return o.class
}

// checkCase traces a case on the bundle and probes the kernel, and compares.
func checkCase(t *testing.T, tb *testbed.Testbed, dir string, c traceCase) simulate.Verdict {
	t.Helper()
	b, err := bundle.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cl, err := model.Load(b, model.Options{})
	if err != nil {
		t.Fatal(err)
	}
	src, err := simulate.Resolve(cl, c.Src)
	if err != nil {
		t.Fatal(err)
	}
	dst, err := simulate.Resolve(cl, c.Dst)
	if err != nil {
		t.Fatal(err)
	}
	proto := map[string]uint8{"tcp": packet.TCP, "udp": packet.UDP, "icmp": packet.ICMP}[c.Proto]
	res, err := simulate.New(cl).Trace(simulate.Query{Src: src, Dst: dst, Port: c.Port, Proto: proto, Size: c.Size})
	if err != nil {
		t.Fatal(err)
	}
	podByIP := map[string]string{}
	for _, p := range tb.Pods {
		podByIP[p.IP] = p.Name
	}
	// What netsim says each path looks like to the client.
	type want struct {
		allowed map[string]bool
		// tolerated outcomes do not contradict the path but do not show it either.
		tolerated map[string]bool
		path      simulate.Path
	}
	var wants []want
	for _, p := range res.Paths {
		w := want{allowed: map[string]bool{}, path: p}
		switch p.Verdict {
		case simulate.VDelivered:
			host, _, _ := strings.Cut(p.Endpoint, ":")
			w.allowed[outcome{"ok", podByIP[host]}.String()] = true
		case simulate.VNoListener:
			w.allowed["refused"] = true
		case simulate.VRejected:
			w.allowed["refused"], w.allowed["unreachable"] = true, true
			// The kernel rate-limits the ICMP errors a REJECT sends to one host
			// (net.ipv4.icmp_ratelimit: a burst of 6, then one a second), so of many
			// probes in a row some time out; at least one must still be refused.
			w.tolerated = map[string]bool{"timeout": true}
		case simulate.VDenied:
			w.allowed["timeout"] = true
		case simulate.VNoRoute:
			// A router that cannot resolve its next hop answers only after ARP gives up
			// (3 s), past the probe's timeout.
			w.allowed["unreachable"], w.allowed["timeout"] = true, true
		default:
			t.Errorf("%s: netsim path to %s is %s: %v", c, p.Endpoint, p.Verdict, p.Findings)
		}
		if c.Proto == "icmp" {
			if p.Verdict == simulate.VDelivered {
				w.allowed = map[string]bool{"ok": true}
			} else {
				w.allowed = map[string]bool{"fail": true}
			}
		}
		wants = append(wants, w)
	}
	tries := 2
	if dst.Kind == simulate.ServiceEndpoint || len(res.Paths) > 1 {
		tries = 16
	}
	var from string
	for _, p := range tb.Pods {
		if p.Name == c.From {
			from = p.NetNS
		}
	}
	for _, n := range tb.Nodes {
		if n.Name == c.From {
			from = n.NetNS
		}
	}
	// Every kernel outcome must be one some path predicts, and every path must be seen. A
	// disagreement is probed once more after a pause (kube-proxy may still have been
	// applying a change, conntrack may have held an old entry), and is logged either way.
	var problems []string
	var seen map[string]bool
	for attempt := 0; attempt < 2; attempt++ {
		if attempt > 0 {
			t.Logf("%s: probing again after: %s", c, strings.Join(problems, "; "))
			time.Sleep(2 * time.Second)
		}
		seen = probeKernel(tb, from, c, dst.Addr.String(), tries)
		problems = nil
		matched := make([]bool, len(wants))
		for o := range seen {
			hit := false
			for i, w := range wants {
				if w.allowed[o] {
					matched[i], hit = true, true
				}
				if w.tolerated[o] {
					hit = true
				}
			}
			if !hit {
				problems = append(problems, fmt.Sprintf("the kernel saw %s, which no netsim path predicts (netsim: %s)", o, describe(res)))
			}
		}
		for i, m := range matched {
			if !m {
				problems = append(problems, fmt.Sprintf("netsim predicts a path %s to %s, which the kernel never showed in %d probes (kernel: %v)", wants[i].path.Verdict, wants[i].path.Endpoint, tries, outcomeKeys(seen)))
			}
		}
		if len(problems) == 0 {
			break
		}
	}
	for _, p := range problems {
		t.Errorf("%s: %s", c, p)
	}
	if t.Failed() && os.Getenv("NETSIM_DIFF_VERBOSE") != "" {
		for _, p := range res.Paths {
			t.Logf("path %s %s findings %v", p.Verdict, p.Endpoint, p.Findings)
		}
	}
	t.Logf("%s: netsim %s; kernel %v", c, describe(res), outcomeKeys(seen))
	return res.Verdict
}

func describe(r *simulate.Result) string {
	var parts []string
	for _, p := range r.Paths {
		s := string(p.Verdict) + " " + p.Endpoint
		if len(p.Findings) > 0 {
			s += " [" + p.Findings[0].Code + "]"
		}
		parts = append(parts, s)
	}
	return string(r.Verdict) + ": " + strings.Join(parts, ", ")
}

func outcomeKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// probeKernel sends tries probes in parallel (each bounded to 2 s) and collects the outcomes.
func probeKernel(tb *testbed.Testbed, netns string, c traceCase, addr string, tries int) map[string]bool {
	seen := map[string]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i < tries; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var o outcome
			if c.Proto == "icmp" {
				o = ping(tb, netns, addr, c.Size)
			} else {
				o = probeOnce(netns, c.Proto, net.JoinHostPort(addr, fmt.Sprint(c.Port)))
			}
			mu.Lock()
			seen[o.String()] = true
			mu.Unlock()
		}()
	}
	wg.Wait()
	return seen
}

// probeOnce connects (tcp) or sends a datagram (udp) and reads the first line. A TCP
// connection that is accepted counts as an answer even if the server says nothing first
// (kube-proxy's healthz waits for a request).
func probeOnce(netns, network, addr string) outcome {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := testbed.DialIn("/var/run/netns/"+netns, net.Dialer{})(ctx, network, addr)
	if err != nil {
		return classify("", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if network == "udp" {
		if _, err := c.Write([]byte("probe\n")); err != nil {
			return classify("", err)
		}
	}
	buf := make([]byte, 256)
	n, err := c.Read(buf)
	if err != nil && network == "tcp" && !errors.Is(err, syscall.ECONNRESET) {
		return outcome{class: "ok"}
	}
	return classify(strings.TrimSpace(string(buf[:n])), err)
}

func ping(tb *testbed.Testbed, netns, addr string, size int) outcome {
	args := []string{"-n", "-c", "1", "-W", "2"}
	if size > 0 {
		args = append(args, "-M", "do", "-s", fmt.Sprint(size-28))
	}
	if _, err := tb.Exec(netns, "ping", append(args, addr)...); err != nil {
		return outcome{class: "fail"}
	}
	return outcome{class: "ok"}
}

func classify(line string, err error) outcome {
	switch {
	case err == nil:
		f := strings.Fields(line)
		if len(f) == 0 {
			return outcome{class: "ok"}
		}
		return outcome{"ok", f[0]}
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET):
		return outcome{class: "refused"}
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return outcome{class: "unreachable"}
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return outcome{class: "timeout"}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return outcome{class: "timeout"}
	}
	return outcome{class: "error " + err.Error()}
}
