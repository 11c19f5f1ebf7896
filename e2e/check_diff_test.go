package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/netsim/netsim/bundle"
	"github.com/netsim/netsim/check"
	"github.com/netsim/netsim/diff"
	"github.com/netsim/netsim/e2e/testbed"
	"github.com/netsim/netsim/model"
	"github.com/netsim/netsim/model/source"
)

// checkExpect is what the testbed's team would declare: clients reach the echo Service
// and the echo pods.
const checkExpect = `- name: client1-to-echo
  from: pod/default/pod1b
  to: svc/default/echo
  port: 80
  expect: allow
- name: client2-to-echo
  from: pod/default/pod2b
  to: svc/default/echo
  port: 80
  expect: allow
- name: clients-to-echo-pods
  from: default/app=client
  to: default/app=echo
  port: 8080
  expect: allow
`

// TestCheckAndDiffAcrossChanges runs `check` and `diff` on bundles dumped from the real
// testbed before and after three changes — a NetworkPolicy added (kube-router enforcing it),
// the echo Service's selector broken, and a node's kube-proxy stopped before the selector is
// repaired — and checks every flow diff reports as changed against the kernel.
func TestCheckAndDiffAcrossChanges(t *testing.T) {
	if err := testbed.Preflight(toolsDir()); err == nil {
		if _, err := os.Stat(filepath.Join(toolsDir(), "kube-router")); err != nil {
			t.Skipf("skipping: kube-router missing in %s (run make tools)", toolsDir())
		}
	}
	tb := upTestbed(t, "iptables")
	ctx := context.Background()
	for _, n := range tb.Nodes {
		if err := tb.StartOnNode(n, "kube-router-"+n.Name, "kube-router", "--run-firewall=true", "--run-router=false",
			"--run-service-proxy=false", "--enable-cni=false", "--kubeconfig", tb.NodeKubeconfig, "--hostname-override", n.Name,
			"--service-cluster-ip-range", "10.96.0.0/16", "--metrics-port", "0", "--health-port", "0"); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range tb.Nodes {
		waitRules(t, tb, n.Name, "KUBE-ROUTER-FORWARD", true)
	}
	as, err := check.Parse(source.NewFile("expect.yaml", []byte(checkExpect)))
	if err != nil {
		t.Fatal(err)
	}
	dump := func(name string) string {
		dir := filepath.Join(t.TempDir(), name)
		if err := tb.DumpBundle(ctx, dir); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	holds := func(dir string) map[string]bool {
		b, err := bundle.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		c, err := model.Load(b, model.Options{})
		if err != nil {
			t.Fatal(err)
		}
		rs, err := check.Run(c, as)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for _, r := range rs {
			out[r.Assertion.Name] = r.Holds
			for _, f := range r.Flows {
				if !f.Holds && f.Blocker == nil {
					t.Errorf("%s: %s -> %s is %s with no blocker named", r.Assertion.Name, f.Src, f.Dst, f.Verdict)
				}
			}
		}
		return out
	}
	// diffed diffs two dumps and checks each changed flow's new verdict against the kernel
	// (the testbed is still in the new state).
	diffed := func(oldDir, newDir string) *diff.Result {
		t.Helper()
		ob, err := bundle.Open(oldDir)
		if err != nil {
			t.Fatal(err)
		}
		defer ob.Close()
		nb, err := bundle.Open(newDir)
		if err != nil {
			t.Fatal(err)
		}
		defer nb.Close()
		oc, err := model.Load(ob, model.Options{})
		if err != nil {
			t.Fatal(err)
		}
		nc, err := model.Load(nb, model.Options{})
		if err != nil {
			t.Fatal(err)
		}
		r, err := diff.Compute(oc, nc, ob.FS(), nb.FS())
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range r.Changes {
			from := strings.TrimPrefix(c.FromPod, "pod/default/")
			if strings.Count(from, "/") > 0 {
				continue // the kernel check probes from the testbed's default pods
			}
			v := checkCase(t, tb, newDir, traceCase{From: from, Src: c.FromPod, Dst: c.ToPod, Port: c.Port, Proto: c.Protocol})
			if string(v) != c.New {
				t.Errorf("diff says %s -> %s %d/%s is now %s; the walk the kernel agreed with says %s", c.FromPod, c.ToPod, c.Port, c.Protocol, c.New, v)
			}
		}
		t.Logf("diff: inputs %v; %d flows change (%d traced, %d decisions)", r.Inputs, len(r.Changes), r.Traced, r.Decided)
		return r
	}
	// has finds a change; "!delivered" stands for any verdict but delivered (a Service
	// without endpoints is refused or, once its rules are gone, times out).
	is := func(want, got string) bool { return want == got || (want == "!delivered" && got != "delivered") }
	has := func(r *diff.Result, from, to string, port uint16, old, new string) {
		t.Helper()
		for _, c := range r.Changes {
			if strings.HasPrefix(c.From, from) && c.To == to && c.Port == port && is(old, c.Old) && is(new, c.New) {
				return
			}
		}
		t.Errorf("diff does not report %s -> %s %d: %s -> %s; it reports %+v", from, to, port, old, new, r.Changes)
	}

	s0 := dump("s0-healthy")
	if h := holds(s0); !h["client1-to-echo"] || !h["client2-to-echo"] || !h["clients-to-echo-pods"] {
		t.Fatalf("healthy testbed: assertions %v, want all to hold", h)
	}

	// 1. A policy admitting only pod2b to the echo pods, enforced by kube-router.
	np := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "echo-from-pod2b"},
		Spec: networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "echo"}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{
				PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "client"}}}}}}}}
	np.Spec.Ingress[0].From[0].PodSelector = nil
	np.Spec.Ingress[0].From[0].IPBlock = &networkingv1.IPBlock{CIDR: podIP(tb, "pod2b") + "/32"}
	if _, err := tb.Client.NetworkingV1().NetworkPolicies("default").Create(ctx, np, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitPolicyRules(t, tb, np, true)
	s1 := dump("s1-policy")
	if h := holds(s1); h["client1-to-echo"] || !h["client2-to-echo"] || h["clients-to-echo-pods"] {
		t.Errorf("policy added: assertions %v, want client1 denied, client2 allowed", h)
	}
	r := diffed(s0, s1)
	has(r, "default/app=client on node1", "svc/default/echo", 80, "delivered", "rejected")
	if len(r.Inputs) == 0 || !strings.Contains(strings.Join(r.Inputs, " "), "networkpolicy/default/echo-from-pod2b") {
		t.Errorf("inputs %v must name the policy", r.Inputs)
	}

	// 2. The policy removed, the echo Service's selector broken: no endpoints.
	if err := tb.Client.NetworkingV1().NetworkPolicies("default").Delete(ctx, np.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitPolicyRules(t, tb, np, false)
	s1b := dump("s1b-policy-removed")
	setSelector(t, tb, "echo", "nothing")
	for _, n := range tb.Nodes {
		waitRules(t, tb, n.Name, `"default/echo:http has no endpoints"`, true)
	}
	s2 := dump("s2-selector-broken")
	if h := holds(s2); h["client1-to-echo"] || h["client2-to-echo"] || !h["clients-to-echo-pods"] {
		t.Errorf("selector broken: assertions %v, want the Service assertions to fail, the pod one to hold", h)
	}
	r = diffed(s1b, s2)
	has(r, "default/app=client on node1", "svc/default/echo", 80, "delivered", "!delivered")
	has(r, "default/app=client on node2", "svc/default/echo", 80, "delivered", "!delivered")

	// 3. kube-proxy stopped on node2, then the selector repaired: node1 programs the
	// endpoints again, node2's rules still say there are none.
	if err := tb.Stop("kube-proxy-node2"); err != nil {
		t.Fatal(err)
	}
	setSelector(t, tb, "echo", "echo")
	waitRules(t, tb, "node1", `"default/echo:http has no endpoints"`, false)
	time.Sleep(time.Second)
	s3 := dump("s3-node2-stale")
	if h := holds(s3); !h["client1-to-echo"] || h["client2-to-echo"] {
		t.Errorf("node2's kube-proxy stopped: assertions %v, want client1 to reach echo and client2 not", h)
	}
	r = diffed(s2, s3)
	has(r, "default/app=client on node1", "svc/default/echo", 80, "!delivered", "delivered")
	for _, c := range r.Changes {
		if strings.HasPrefix(c.From, "default/app=client on node2") && c.To == "svc/default/echo" {
			t.Errorf("node2's rules did not change, yet diff reports %+v", c)
		}
	}
}

// setSelector points a default-namespace Service at pods with app=value.
func setSelector(t *testing.T, tb *testbed.Testbed, name, value string) {
	t.Helper()
	ctx := context.Background()
	svc, err := tb.Client.CoreV1().Services("default").Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svc.Spec.Selector = map[string]string{"app": value}
	if _, err := tb.Client.CoreV1().Services("default").Update(ctx, svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}
