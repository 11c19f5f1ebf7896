package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/netsim/netsim/bundle"
	"github.com/netsim/netsim/e2e/testbed"
	"github.com/netsim/netsim/model"
	"github.com/netsim/netsim/rules/packet"
	"github.com/netsim/netsim/simulate"
)

// TestPolicyAgainstKubeRouter checks netsim's NetworkPolicy verdicts against a real
// enforcer: kube-router's firewall (its iptables chains and ipsets, built from the same
// module kube-router ships) runs on every node of the testbed. For each set of policies,
// every pod-to-pod flow of a 2-namespace x 2-pod matrix on two ports is probed for real
// and traced; the walk (which evaluates kube-router's own chains) must predict what the
// kernel did, and the API objects' intent must agree with both: a `policy-disagreement`
// finding on any path fails the test.
func TestPolicyAgainstKubeRouter(t *testing.T) {
	if err := testbed.Preflight(toolsDir()); err == nil {
		if _, err := os.Stat(filepath.Join(toolsDir(), "kube-router")); err != nil {
			t.Skipf("skipping the enforcer test: kube-router missing in %s (run make tools)", toolsDir())
		}
	}
	tb := upTestbed(t, "iptables")
	ctx := context.Background()
	for _, ns := range []string{"x", "y"} {
		obj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{"ns": ns}}}
		if _, err := tb.Client.CoreV1().Namespaces().Create(ctx, obj, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	ports := []corev1.ContainerPort{{Name: "serve-80-tcp", ContainerPort: 80, Protocol: corev1.ProtocolTCP}, {Name: "serve-81-tcp", ContainerPort: 81, Protocol: corev1.ProtocolTCP}}
	pods := []struct {
		ns, name, label string
		node            int
	}{{"x", "xa", "a", 0}, {"x", "xb", "b", 1}, {"y", "ya", "a", 0}, {"y", "yb", "b", 1}}
	for _, p := range pods {
		if _, err := tb.AddPod(ctx, tb.Nodes[p.node], p.ns, p.name, map[string]string{"pod": p.label}, ports, "tcp:80", "tcp:81"); err != nil {
			t.Fatal(err)
		}
	}
	// kube-router as its firewall only: kube-proxy stays the service proxy, the CNI bridge
	// the pod network. It keeps its chains in sync with the API objects through watches.
	for _, n := range tb.Nodes {
		if err := tb.StartOnNode(n, "kube-router-"+n.Name, "kube-router", "--run-firewall=true", "--run-router=false",
			"--run-service-proxy=false", "--enable-cni=false", "--kubeconfig", tb.NodeKubeconfig, "--hostname-override", n.Name,
			"--service-cluster-ip-range", "10.96.0.0/16", "--metrics-port", "0", "--health-port", "0", "-v", "1"); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range tb.Nodes {
		waitRules(t, tb, n.Name, "KUBE-ROUTER-FORWARD", true)
	}

	var cases []traceCase
	for _, src := range pods {
		for _, dst := range pods {
			if src.name == dst.name {
				continue
			}
			for _, port := range []uint16{80, 81} {
				cases = append(cases, traceCase{From: src.name, Src: "pod/" + src.ns + "/" + src.name, Dst: "pod/" + dst.ns + "/" + dst.name, Port: port, Proto: "tcp"})
			}
		}
	}
	viaService := []traceCase{{From: "pod1b", Src: "pod/default/pod1b", Dst: "svc/default/echo", Port: 80, Proto: "tcp"},
		{From: "pod2b", Src: "pod/default/pod2b", Dst: "svc/default/echo", Port: 80, Proto: "tcp"}}

	tcp := corev1.ProtocolTCP
	port := func(p intstr.IntOrString) []networkingv1.NetworkPolicyPort {
		return []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: &p}}
	}
	sel := func(kv ...string) *metav1.LabelSelector {
		s := &metav1.LabelSelector{MatchLabels: map[string]string{}}
		for i := 0; i+1 < len(kv); i += 2 {
			s.MatchLabels[kv[i]] = kv[i+1]
		}
		return s
	}
	np := func(ns, name string, spec networkingv1.NetworkPolicySpec) *networkingv1.NetworkPolicy {
		return &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: spec}
	}
	ingress := []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
	egress := []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
	node1CIDR := tb.Nodes[0].PodCIDR
	// freeze names the cases of a step frozen for the no-root golden tests
	// (NETSIM_FAULTS_OUT), as src>dst:port.
	steps := []struct {
		name     string
		policies []*networkingv1.NetworkPolicy
		cases    []traceCase
		freeze   []string
	}{
		{"no-policies", nil, append(cases, viaService...), nil},
		{"deny-all-ingress-in-x", []*networkingv1.NetworkPolicy{np("x", "deny-all", networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{}, PolicyTypes: ingress})}, cases, nil},
		{"allow-ns-y-to-x-a-named-port-80", []*networkingv1.NetworkPolicy{
			np("x", "deny-all", networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{}, PolicyTypes: ingress}),
			np("x", "allow-y", networkingv1.NetworkPolicySpec{PodSelector: *sel("pod", "a"), PolicyTypes: ingress,
				Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: sel("ns", "y")}}, Ports: port(intstr.FromString("serve-80-tcp"))}}}),
		}, cases, []string{"ya>xa:80", "ya>xa:81", "xb>xa:80", "yb>xb:80"}},
		{"egress-y-a-only-to-x-b-81", []*networkingv1.NetworkPolicy{
			np("y", "egress-a", networkingv1.NetworkPolicySpec{PodSelector: *sel("pod", "a"), PolicyTypes: egress,
				Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: sel("ns", "x"), PodSelector: sel("pod", "b")}}, Ports: port(intstr.FromInt32(81))}}}),
		}, cases, nil},
		{"ipblock-except-node1-pods-to-x-b", []*networkingv1.NetworkPolicy{
			np("x", "ipblock", networkingv1.NetworkPolicySpec{PodSelector: *sel("pod", "b"), PolicyTypes: ingress,
				Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.244.0.0/16", Except: []string{node1CIDR}}}}}}}),
		}, cases, nil},
		// The endpoint behind the Service is what ingress policy sees: checked after DNAT.
		{"service-endpoints-admit-pod2b-only", []*networkingv1.NetworkPolicy{
			np("default", "echo-from-pod2b", networkingv1.NetworkPolicySpec{PodSelector: *sel("app", "echo"), PolicyTypes: ingress,
				Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: podIP(tb, "pod2b") + "/32"}}}}}}),
		}, viaService, []string{"pod1b>echo:80", "pod2b>echo:80"}},
	}
	var applied []*networkingv1.NetworkPolicy
	agreed, deniedSeen := 0, 0
	freeze := os.Getenv("NETSIM_FAULTS_OUT")
	var frozen []frozenScenario
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			for _, p := range applied {
				if err := tb.Client.NetworkingV1().NetworkPolicies(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			for _, p := range applied {
				waitPolicyRules(t, tb, p, false)
			}
			applied = nil
			for _, p := range st.policies {
				if _, err := tb.Client.NetworkingV1().NetworkPolicies(p.Namespace).Create(ctx, p, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
				applied = append(applied, p)
			}
			for _, p := range st.policies {
				waitPolicyRules(t, tb, p, true)
			}
			dir := t.TempDir()
			if err := tb.DumpBundle(ctx, dir); err != nil {
				t.Fatal(err)
			}
			fs := frozenScenario{Name: "kube-router-" + st.name, Guide: "16"}
			for _, c := range st.cases {
				v := checkCase(t, tb, dir, c)
				if v != simulate.VDelivered {
					deniedSeen++
				}
				key := fmt.Sprintf("%s>%s:%d", c.From, c.Dst[strings.LastIndex(c.Dst, "/")+1:], c.Port)
				if slices.Contains(st.freeze, key) {
					fs.Cases = append(fs.Cases, frozenCase{Args: c.args(), Verdict: string(v)})
				}
				if d := policyDisagreements(t, dir, c); d != "" {
					t.Errorf("%s: the API objects' intent and kube-router's rules disagree: %s", c, d)
				} else {
					agreed++
				}
			}
			if freeze != "" && len(fs.Cases) > 0 && !t.Failed() {
				freezeBundle(t, dir, filepath.Join(freeze, fs.Name+".tar.gz"))
				frozen = append(frozen, fs)
			}
		})
	}
	if freeze != "" && !t.Failed() {
		freezeCases(t, freeze, frozen)
	}
	t.Logf("kube-router: %d flows where kernel, walk and API intent agree (%d not delivered)", agreed, deniedSeen)
	if deniedSeen == 0 {
		t.Error("no flow was denied: the enforcer did not enforce anything")
	}
}

// waitPolicyRules waits until kube-router has (or no longer has) a policy's chain on some
// node: its rules carry the comment "run through nw policy NAME".
func waitPolicyRules(t *testing.T, tb *testbed.Testbed, p *networkingv1.NetworkPolicy, present bool) {
	t.Helper()
	mark := "run through nw policy " + p.Name
	deadline := time.Now().Add(60 * time.Second)
	for {
		found := false
		for _, n := range tb.Nodes {
			out, _ := tb.Exec(n.NetNS, "iptables-save")
			found = found || strings.Contains(string(out), mark)
		}
		if found == present {
			// Both nodes sync from the same watch event; give the slower one a moment.
			time.Sleep(time.Second)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("kube-router never %s the rules of networkpolicy %s/%s\n%s", map[bool]string{true: "wrote", false: "removed"}[present], p.Namespace, p.Name, tb.Log("kube-router-node1"))
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// policyDisagreements traces a case and returns the messages of its policy-disagreement
// findings, if any.
func policyDisagreements(t *testing.T, dir string, c traceCase) string {
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
	res, err := simulate.New(cl).Trace(simulate.Query{Src: src, Dst: dst, Port: c.Port, Proto: packet.TCP})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range res.Paths {
		for _, f := range p.Findings {
			if f.Code == "policy-disagreement" {
				out = append(out, fmt.Sprintf("path to %s: %s", p.Endpoint, f.Message))
			}
		}
	}
	return strings.Join(out, "; ")
}

func podIP(tb *testbed.Testbed, name string) string {
	for _, p := range tb.Pods {
		if p.Name == name {
			return p.IP
		}
	}
	return ""
}
