package policy

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	anp "sigs.k8s.io/network-policy-api/apis/v1alpha1"
	"sigs.k8s.io/yaml"

	"github.com/netsim/netsim/bundle"
	"github.com/netsim/netsim/model"
)

// The upstream NetworkPolicy e2e suite's world (test/e2e/network/netpol): namespaces x, y, z
// labelled ns=NAME, each with pods a, b, c labelled pod=NAME, serving TCP, UDP and SCTP on
// 80 and 81 with container ports named serve-PORT-PROTO.
var (
	namespaces = []string{"x", "y", "z"}
	podNames   = []string{"a", "b", "c"}
	protocols  = []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP}
)

func podIP(ns, pod string) netip.Addr {
	return netip.AddrFrom4([4]byte{10, 244, byte(strings.Index("xyz", ns) + 1), byte(strings.Index("abc", pod) + 10)})
}

// world writes the upstream world plus the given policies as a bundle and loads it.
func world(t testing.TB, objs ...any) *model.Cluster {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "manifest.yaml"), []byte("format: netsim-bundle/v1\ncluster: netpol\n"), 0o644)
	os.MkdirAll(filepath.Join(dir, "cluster"), 0o755)
	var docs []string
	add := func(o any) {
		b, err := yaml.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, string(b))
	}
	for _, ns := range namespaces {
		add(&corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
			ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{"ns": ns, "kubernetes.io/metadata.name": ns}}})
		for _, p := range podNames {
			var ports []corev1.ContainerPort
			for _, proto := range protocols {
				for _, port := range []int32{80, 81} {
					ports = append(ports, corev1.ContainerPort{Name: fmt.Sprintf("serve-%d-%s", port, strings.ToLower(string(proto))), ContainerPort: port, Protocol: proto})
				}
			}
			ip := podIP(ns, p).String()
			add(&corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
				ObjectMeta: metav1.ObjectMeta{Name: p, Namespace: ns, Labels: map[string]string{"pod": p}},
				Spec:       corev1.PodSpec{NodeName: "node1", Containers: []corev1.Container{{Name: "c", Image: "agnhost", Ports: ports}}},
				Status:     corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}}})
		}
	}
	for _, o := range objs {
		add(o)
	}
	if err := os.WriteFile(filepath.Join(dir, "cluster", "objects.yaml"), []byte(strings.Join(docs, "---\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := bundle.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	c, err := model.Load(b, model.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func npObj(ns, name string, spec networkingv1.NetworkPolicySpec) *networkingv1.NetworkPolicy {
	return &networkingv1.NetworkPolicy{TypeMeta: metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: spec}
}

func sel(kv ...string) *metav1.LabelSelector {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return &metav1.LabelSelector{MatchLabels: m}
}

func proto(p corev1.Protocol) *corev1.Protocol { return &p }

func port(n int) *intstr.IntOrString { v := intstr.FromInt32(int32(n)); return &v }

// reach is a truth table: expected[from][to], for one port and protocol. Pods are "x/a".
type reach struct {
	port  uint16
	proto corev1.Protocol
	// deny says which (from, to) pairs are denied; every other pair is allowed.
	deny func(from, to string) bool
}

func allPods() []string {
	var out []string
	for _, ns := range namespaces {
		for _, p := range podNames {
			out = append(out, ns+"/"+p)
		}
	}
	return out
}

// connected is a connection as the walk checks it: egress at the client, then ingress at
// the server.
func connected(e *Engine, c *model.Cluster, from, to string, port uint16, proto corev1.Protocol) (bool, string) {
	fns, fname, _ := strings.Cut(from, "/")
	tns, tname, _ := strings.Cut(to, "/")
	src, dst := c.Pod(fns, fname), c.Pod(tns, tname)
	eg := e.Check(Egress, src, Peer{Addr: dst.IPs[0], Pod: dst}, port, proto)
	if !eg.Allowed {
		return false, eg.Why
	}
	in := e.Check(Ingress, dst, Peer{Addr: src.IPs[0], Pod: src}, port, proto)
	return in.Allowed, in.Why
}

func checkTable(t *testing.T, c *model.Cluster, tables ...reach) {
	t.Helper()
	e := New(c)
	if len(e.Problems) > 0 {
		t.Fatal(e.Problems)
	}
	for _, tb := range tables {
		for _, from := range allPods() {
			for _, to := range allPods() {
				want := !tb.deny(from, to)
				got, why := connected(e, c, from, to, tb.port, tb.proto)
				if got != want {
					t.Errorf("%s -> %s %s/%d: allowed=%v, want %v (%s)", from, to, tb.proto, tb.port, got, want, why)
				}
			}
		}
	}
}

func ns(p string) string { n, _, _ := strings.Cut(p, "/"); return n }

// TestUpstreamNetpol encodes cases of the upstream suite (test/e2e/network/netpol/
// network_policy.go), each from its facts: the policies it creates and the reachability
// it expects.
func TestUpstreamNetpol(t *testing.T) {
	ingress := []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
	egress := []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
	both := []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}
	tcp80 := func(deny func(from, to string) bool) reach { return reach{80, corev1.ProtocolTCP, deny} }
	cases := []struct {
		name   string
		objs   []any
		tables []reach
	}{
		{"should support a 'default-deny-ingress' policy",
			[]any{npObj("x", "deny-ingress", networkingv1.NetworkPolicySpec{PolicyTypes: ingress})},
			[]reach{tcp80(func(f, to string) bool { return ns(to) == "x" })}},
		{"should support a 'default-deny-all' policy",
			[]any{npObj("x", "deny-all", networkingv1.NetworkPolicySpec{PolicyTypes: both})},
			[]reach{tcp80(func(f, to string) bool { return ns(to) == "x" || ns(f) == "x" })}},
		{"should enforce policy to allow traffic from pods within server namespace based on PodSelector",
			[]any{npObj("x", "x-a-allows-x-b", networkingv1.NetworkPolicySpec{PodSelector: *sel("pod", "a"), PolicyTypes: ingress,
				Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: sel("pod", "b")}}}}})},
			[]reach{tcp80(func(f, to string) bool { return to == "x/a" && f != "x/b" })}},
		{"should enforce policy to allow ingress traffic for a target",
			[]any{npObj("x", "allow-all-to-x-a", networkingv1.NetworkPolicySpec{PodSelector: *sel("pod", "a"), PolicyTypes: ingress,
				Ingress: []networkingv1.NetworkPolicyIngressRule{{}}}), npObj("x", "deny-all-x", networkingv1.NetworkPolicySpec{PolicyTypes: ingress})},
			[]reach{tcp80(func(f, to string) bool { return ns(to) == "x" && to != "x/a" })}},
		{"should enforce policy based on NamespaceSelector with MatchExpressions",
			[]any{npObj("x", "allow-from-y", networkingv1.NetworkPolicySpec{PodSelector: *sel("pod", "a"), PolicyTypes: ingress,
				Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{
					MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "ns", Operator: metav1.LabelSelectorOpIn, Values: []string{"y"}}}}}}}}})},
			[]reach{tcp80(func(f, to string) bool { return to == "x/a" && ns(f) != "y" })}},
		{"should enforce policy based on PodSelector or NamespaceSelector",
			[]any{npObj("x", "b-or-not-x", networkingv1.NetworkPolicySpec{PodSelector: *sel("pod", "a"), PolicyTypes: ingress,
				Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{
					{NamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "ns", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"x"}}}}},
					{PodSelector: sel("pod", "b")}}}}})},
			[]reach{tcp80(func(f, to string) bool { return to == "x/a" && (f == "x/a" || f == "x/c") })}},
		{"should enforce policy based on PodSelector and NamespaceSelector",
			[]any{npObj("x", "y-b-only", networkingv1.NetworkPolicySpec{PodSelector: *sel("pod", "a"), PolicyTypes: ingress,
				Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{
					{NamespaceSelector: sel("ns", "y"), PodSelector: sel("pod", "b")}}}}})},
			[]reach{tcp80(func(f, to string) bool { return to == "x/a" && f != "y/b" })}},
		{"should enforce policy based on Ports",
			[]any{npObj("x", "allow-81", networkingv1.NetworkPolicySpec{PodSelector: *sel("pod", "a"), PolicyTypes: ingress,
				Ingress: []networkingv1.NetworkPolicyIngressRule{{Ports: []networkingv1.NetworkPolicyPort{{Port: port(81), Protocol: proto(corev1.ProtocolTCP)}}}}})},
			[]reach{tcp80(func(f, to string) bool { return to == "x/a" }), {81, corev1.ProtocolTCP, func(f, to string) bool { return false }}}},
		{"should allow ingress access on one named port",
			[]any{npObj("x", "allow-named", networkingv1.NetworkPolicySpec{PolicyTypes: ingress,
				Ingress: []networkingv1.NetworkPolicyIngressRule{{Ports: []networkingv1.NetworkPolicyPort{{Port: &intstr.IntOrString{Type: intstr.String, StrVal: "serve-81-tcp"}}}}}})},
			[]reach{{81, corev1.ProtocolTCP, func(f, to string) bool { return false }}, tcp80(func(f, to string) bool { return ns(to) == "x" }),
				{81, corev1.ProtocolUDP, func(f, to string) bool { return ns(to) == "x" }}}},
		{"should enforce ingress policy allowing any port traffic to a server on a specific protocol",
			[]any{npObj("x", "udp-only", networkingv1.NetworkPolicySpec{PolicyTypes: ingress,
				Ingress: []networkingv1.NetworkPolicyIngressRule{{Ports: []networkingv1.NetworkPolicyPort{{Protocol: proto(corev1.ProtocolUDP)}}}}})},
			[]reach{tcp80(func(f, to string) bool { return ns(to) == "x" }), {81, corev1.ProtocolUDP, func(f, to string) bool { return false }},
				{80, corev1.ProtocolSCTP, func(f, to string) bool { return ns(to) == "x" }}}},
		{"should support a port range (endPort)",
			[]any{npObj("x", "range", networkingv1.NetworkPolicySpec{PolicyTypes: ingress,
				Ingress: []networkingv1.NetworkPolicyIngressRule{{Ports: []networkingv1.NetworkPolicyPort{{Port: port(81), EndPort: func() *int32 { v := int32(82); return &v }()}}}}})},
			[]reach{tcp80(func(f, to string) bool { return ns(to) == "x" }), {81, corev1.ProtocolTCP, func(f, to string) bool { return false }}}},
		{"should enforce multiple, stacked policies with overlapping podSelectors",
			[]any{npObj("x", "allow-80", networkingv1.NetworkPolicySpec{PolicyTypes: ingress,
				Ingress: []networkingv1.NetworkPolicyIngressRule{{Ports: []networkingv1.NetworkPolicyPort{{Port: port(80)}}}}}),
				npObj("x", "allow-81", networkingv1.NetworkPolicySpec{PodSelector: *sel("pod", "a"), PolicyTypes: ingress,
					Ingress: []networkingv1.NetworkPolicyIngressRule{{Ports: []networkingv1.NetworkPolicyPort{{Port: port(81)}}}}})},
			[]reach{tcp80(func(f, to string) bool { return false }), {81, corev1.ProtocolTCP, func(f, to string) bool { return ns(to) == "x" && to != "x/a" }}}},
		{"should enforce egress policy allowing traffic to a server in a different namespace based on PodSelector and NamespaceSelector",
			[]any{npObj("x", "a-to-y-b", networkingv1.NetworkPolicySpec{PodSelector: *sel("pod", "a"), PolicyTypes: egress,
				Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: sel("ns", "y"), PodSelector: sel("pod", "b")}}}}})},
			[]reach{tcp80(func(f, to string) bool { return f == "x/a" && to != "y/b" })}},
		{"should allow egress access to server in CIDR block, with except",
			[]any{npObj("x", "cidr", networkingv1.NetworkPolicySpec{PodSelector: *sel("pod", "a"), PolicyTypes: egress,
				Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.244.2.0/24", Except: []string{podIP("y", "c").String() + "/32"}}}}}}})},
			[]reach{tcp80(func(f, to string) bool { return f == "x/a" && (ns(to) != "y" || to == "y/c") })}},
		{"should support allow-all policy",
			[]any{npObj("x", "allow-all", networkingv1.NetworkPolicySpec{PolicyTypes: ingress, Ingress: []networkingv1.NetworkPolicyIngressRule{{}}})},
			[]reach{tcp80(func(f, to string) bool { return false })}},
		{"should deny ingress from pods on other namespaces",
			[]any{npObj("x", "deny-other-ns", networkingv1.NetworkPolicySpec{PolicyTypes: ingress,
				Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{}}}}}})},
			[]reach{tcp80(func(f, to string) bool { return ns(to) == "x" && ns(f) != "x" })}},
		{"should allow ingress access from namespace on one named port",
			[]any{npObj("x", "ns-y-named", networkingv1.NetworkPolicySpec{PolicyTypes: ingress,
				Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: sel("ns", "y")}},
					Ports: []networkingv1.NetworkPolicyPort{{Port: &intstr.IntOrString{Type: intstr.String, StrVal: "serve-80-tcp"}}}}}})},
			[]reach{tcp80(func(f, to string) bool { return ns(to) == "x" && ns(f) != "y" }), {81, corev1.ProtocolTCP, func(f, to string) bool { return ns(to) == "x" }}}},
		{"should allow egress access on one named port",
			[]any{npObj("x", "egress-named", networkingv1.NetworkPolicySpec{PolicyTypes: egress,
				Egress: []networkingv1.NetworkPolicyEgressRule{{Ports: []networkingv1.NetworkPolicyPort{{Port: &intstr.IntOrString{Type: intstr.String, StrVal: "serve-80-tcp"}}}}}})},
			[]reach{tcp80(func(f, to string) bool { return false }), {81, corev1.ProtocolTCP, func(f, to string) bool { return ns(f) == "x" }}}},
		{"should deny egress from all pods in a namespace",
			[]any{npObj("x", "deny-egress", networkingv1.NetworkPolicySpec{PolicyTypes: egress})},
			[]reach{tcp80(func(f, to string) bool { return ns(f) == "x" })}},
		{"should work with Ingress, Egress specified together",
			[]any{npObj("x", "both", networkingv1.NetworkPolicySpec{PodSelector: *sel("pod", "a"), PolicyTypes: both,
				Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: sel("pod", "b")}}}},
				Egress:  []networkingv1.NetworkPolicyEgressRule{{Ports: []networkingv1.NetworkPolicyPort{{Port: port(80)}}}}})},
			[]reach{tcp80(func(f, to string) bool { return to == "x/a" && f != "x/b" }),
				{81, corev1.ProtocolTCP, func(f, to string) bool { return f == "x/a" || (to == "x/a" && f != "x/b") }}}},
		{"should support denying of egress traffic on the client side (even if the server explicitly allows this traffic)",
			[]any{npObj("x", "a-deny-egress-to-y", networkingv1.NetworkPolicySpec{PodSelector: *sel("pod", "a"), PolicyTypes: egress,
				Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: sel("ns", "z")}}}}}),
				npObj("y", "allow-from-x-a", networkingv1.NetworkPolicySpec{PolicyTypes: ingress,
					Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: sel("ns", "x"), PodSelector: sel("pod", "a")}}}}})},
			[]reach{tcp80(func(f, to string) bool { return (f == "x/a" && ns(to) != "z") || (ns(to) == "y" && f != "x/a") })}},
		{"should properly isolate pods that are selected by a policy allowing SCTP",
			[]any{npObj("x", "sctp-81", networkingv1.NetworkPolicySpec{PodSelector: *sel("pod", "a"), PolicyTypes: ingress,
				Ingress: []networkingv1.NetworkPolicyIngressRule{{Ports: []networkingv1.NetworkPolicyPort{{Port: port(81), Protocol: proto(corev1.ProtocolSCTP)}}}}})},
			[]reach{tcp80(func(f, to string) bool { return to == "x/a" }), {81, corev1.ProtocolSCTP, func(f, to string) bool { return false }},
				{81, corev1.ProtocolTCP, func(f, to string) bool { return to == "x/a" }}}},
		{"should enforce policy to allow traffic only from a different namespace, based on NamespaceSelector",
			[]any{npObj("x", "from-not-x", networkingv1.NetworkPolicySpec{PodSelector: *sel("pod", "a"), PolicyTypes: ingress,
				Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{
					MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "ns", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"x"}}}}}}}}})},
			[]reach{tcp80(func(f, to string) bool { return to == "x/a" && ns(f) == "x" })}},
		{"egress rules only (policyTypes defaulted): Ingress is isolated too",
			[]any{npObj("x", "egress-rules-no-types", networkingv1.NetworkPolicySpec{PodSelector: *sel("pod", "a"),
				Egress: []networkingv1.NetworkPolicyEgressRule{{}}})},
			[]reach{tcp80(func(f, to string) bool { return to == "x/a" })}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkTable(t, world(t, c.objs...), c.tables...) })
	}
}

func anpObj(name string, priority int32, spec anp.AdminNetworkPolicySpec) *anp.AdminNetworkPolicy {
	spec.Priority = priority
	return &anp.AdminNetworkPolicy{TypeMeta: metav1.TypeMeta{APIVersion: "policy.networking.k8s.io/v1alpha1", Kind: "AdminNetworkPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}
}

// TestAdminNetworkPolicy encodes cases of the network-policy-api conformance suite
// (conformance/tests): priority order, Allow and Deny over NetworkPolicy, Pass to
// NetworkPolicy, and the baseline when no NetworkPolicy selects the pod.
func TestAdminNetworkPolicy(t *testing.T) {
	subjX := anp.AdminNetworkPolicySubject{Namespaces: sel("ns", "x")}
	fromY := []anp.AdminNetworkPolicyIngressPeer{{Namespaces: sel("ns", "y")}}
	fromAll := []anp.AdminNetworkPolicyIngressPeer{{Namespaces: &metav1.LabelSelector{}}}
	tcp80 := func(deny func(from, to string) bool) reach { return reach{80, corev1.ProtocolTCP, deny} }
	denyAllToX := npObj("x", "deny-all", networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}})
	cases := []struct {
		name   string
		objs   []any
		tables []reach
	}{
		{"ANP Deny from y into x",
			[]any{anpObj("deny-y", 10, anp.AdminNetworkPolicySpec{Subject: subjX, Ingress: []anp.AdminNetworkPolicyIngressRule{{Name: "deny-y", Action: "Deny", From: fromY}}})},
			[]reach{tcp80(func(f, to string) bool { return ns(to) == "x" && ns(f) == "y" })}},
		{"ANP Allow overrides a NetworkPolicy default deny",
			[]any{denyAllToX, anpObj("allow-y", 10, anp.AdminNetworkPolicySpec{Subject: subjX, Ingress: []anp.AdminNetworkPolicyIngressRule{{Action: "Allow", From: fromY}}})},
			[]reach{tcp80(func(f, to string) bool { return ns(to) == "x" && ns(f) != "y" })}},
		{"lower priority number wins: Allow at 5 over Deny at 10",
			[]any{anpObj("deny-all", 10, anp.AdminNetworkPolicySpec{Subject: subjX, Ingress: []anp.AdminNetworkPolicyIngressRule{{Action: "Deny", From: fromAll}}}),
				anpObj("allow-y", 5, anp.AdminNetworkPolicySpec{Subject: subjX, Ingress: []anp.AdminNetworkPolicyIngressRule{{Action: "Allow", From: fromY}}})},
			[]reach{tcp80(func(f, to string) bool { return ns(to) == "x" && ns(f) != "y" })}},
		{"Pass hands over to NetworkPolicy",
			[]any{denyAllToX, anpObj("pass-y", 5, anp.AdminNetworkPolicySpec{Subject: subjX, Ingress: []anp.AdminNetworkPolicyIngressRule{{Action: "Pass", From: fromY}}}),
				anpObj("allow-all", 10, anp.AdminNetworkPolicySpec{Subject: subjX, Ingress: []anp.AdminNetworkPolicyIngressRule{{Action: "Allow", From: fromAll}}})},
			[]reach{tcp80(func(f, to string) bool { return ns(to) == "x" && ns(f) == "y" })}},
		{"ports: Deny on port 80 only",
			[]any{anpObj("deny-80", 10, anp.AdminNetworkPolicySpec{Subject: subjX, Ingress: []anp.AdminNetworkPolicyIngressRule{{Action: "Deny", From: fromAll,
				Ports: &[]anp.AdminNetworkPolicyPort{{PortNumber: &anp.Port{Protocol: corev1.ProtocolTCP, Port: 80}}}}}})},
			[]reach{tcp80(func(f, to string) bool { return ns(to) == "x" }), {81, corev1.ProtocolTCP, func(f, to string) bool { return false }}}},
		{"BANP denies where no NetworkPolicy selects; a NetworkPolicy takes precedence",
			[]any{&anp.BaselineAdminNetworkPolicy{TypeMeta: metav1.TypeMeta{APIVersion: "policy.networking.k8s.io/v1alpha1", Kind: "BaselineAdminNetworkPolicy"},
				ObjectMeta: metav1.ObjectMeta{Name: "default"}, Spec: anp.BaselineAdminNetworkPolicySpec{Subject: anp.AdminNetworkPolicySubject{Namespaces: &metav1.LabelSelector{}},
					Ingress: []anp.BaselineAdminNetworkPolicyIngressRule{{Action: "Deny", From: fromY}}}},
				npObj("z", "allow-all-z", networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}, Ingress: []networkingv1.NetworkPolicyIngressRule{{}}})},
			[]reach{tcp80(func(f, to string) bool { return ns(f) == "y" && ns(to) != "z" })}},
		{"egress to networks",
			[]any{anpObj("deny-net", 10, anp.AdminNetworkPolicySpec{Subject: subjX, Egress: []anp.AdminNetworkPolicyEgressRule{{Action: "Deny",
				To: []anp.AdminNetworkPolicyEgressPeer{{Networks: []anp.CIDR{"10.244.3.0/24"}}}}}})},
			[]reach{tcp80(func(f, to string) bool { return ns(f) == "x" && ns(to) == "z" })}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkTable(t, world(t, c.objs...), c.tables...) })
	}
}

// TestExplanation checks the sentence a denial carries.
func TestExplanation(t *testing.T) {
	c := world(t, npObj("x", "default-deny", networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}}),
		npObj("x", "allow-api", networkingv1.NetworkPolicySpec{PodSelector: *sel("pod", "a"),
			Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: sel("app", "api")}},
				Ports: []networkingv1.NetworkPolicyPort{{Port: port(5432)}}}}}))
	e := New(c)
	_, why := connected(e, c, "y/b", "x/a", 5432, corev1.ProtocolTCP)
	for _, want := range []string{"pod x/a is selected by networkpolicy x/", "(ingress)", "none of the 2 policies selecting it admits pod y/b on TCP 5432",
		"x/default-deny has no ingress rules (default deny)", "x/allow-api rule 0 admits pods with app=api in its namespace on TCP 5432"} {
		if !strings.Contains(why, want) {
			t.Errorf("explanation %q lacks %q", why, want)
		}
	}
}

// TestHostNetworkAndNodes: host-network pods are not selected, and as peers only ipBlock
// sees them.
func TestHostNetworkAndNodes(t *testing.T) {
	c := world(t, npObj("x", "from-y-pods-or-nodes-net", networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
		Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: sel("ns", "y")}, {IPBlock: &networkingv1.IPBlock{CIDR: "192.168.0.0/16"}}}}}}))
	e := New(c)
	a := c.Pod("x", "a")
	if d := e.Check(Ingress, a, Peer{Addr: netip.MustParseAddr("192.168.1.5")}, 80, corev1.ProtocolTCP); !d.Allowed {
		t.Errorf("node address in the ipBlock denied: %s", d.Why)
	}
	if d := e.Check(Ingress, a, Peer{Addr: netip.MustParseAddr("172.16.0.5")}, 80, corev1.ProtocolTCP); d.Allowed {
		t.Errorf("outside address allowed: %s", d.Why)
	}
}

// TestDomainNamesUnknown: an AdminNetworkPolicy egress rule by domain name cannot be
// decided for an outside address from a bundle; it is unknown, never an allow or a deny.
func TestDomainNamesUnknown(t *testing.T) {
	c := world(t, anpObj("allow-example", 10, anp.AdminNetworkPolicySpec{Subject: anp.AdminNetworkPolicySubject{Namespaces: sel("ns", "x")},
		Egress: []anp.AdminNetworkPolicyEgressRule{{Action: "Allow", To: []anp.AdminNetworkPolicyEgressPeer{{DomainNames: []anp.DomainName{"*.example.com"}}}}}}))
	e := New(c)
	d := e.Check(Egress, c.Pod("x", "a"), Peer{Addr: netip.MustParseAddr("93.184.215.14")}, 443, corev1.ProtocolTCP)
	if !d.Unknown || !strings.Contains(d.Why, "names domains") {
		t.Errorf("decision %+v, want unknown", d)
	}
	if d := e.Check(Egress, c.Pod("x", "a"), Peer{Addr: podIP("y", "a"), Pod: c.Pod("y", "a")}, 80, corev1.ProtocolTCP); d.Unknown || !d.Allowed {
		t.Errorf("to a pod: %+v, want allowed (domain rules do not match pods)", d)
	}
}
