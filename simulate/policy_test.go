package simulate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netsim/netsim/bundle"
	"github.com/netsim/netsim/model"
	"github.com/netsim/netsim/rules/packet"
)

const denyEchoFromClients = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: echo-from-nothing, namespace: default}
spec:
  podSelector: {matchLabels: {app: echo}}
  policyTypes: [Ingress]
  ingress:
  - from: [{podSelector: {matchLabels: {app: api}}}]
`

const ciliumDaemonSet = `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: cilium, namespace: kube-system, labels: {k8s-app: cilium}}
spec:
  selector: {matchLabels: {k8s-app: cilium}}
  template:
    metadata: {labels: {k8s-app: cilium}}
    spec: {containers: [{name: agent, image: cilium}]}
`

// twoNodeWith copies the testbed bundle, adds cluster objects, and opens it.
func twoNodeWith(t *testing.T, objects ...string) *Simulator {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "b")
	if err := os.CopyFS(dir, os.DirFS("../testdata/bundles/two-node-iptables")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cluster", "extra.yaml"), []byte(strings.Join(objects, "---\n")), 0o644); err != nil {
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
	return New(c)
}

// TestPolicyInTheWalk: the same denying policy is a warning when nothing enforces it (the
// testbed has no enforcer, and its kernel delivers), and a blocker, checked at the
// Service's endpoint after DNAT, when an eBPF enforcer runs.
func TestPolicyInTheWalk(t *testing.T) {
	for _, c := range []struct {
		name    string
		objs    []string
		verdict Verdict
		code    string
	}{
		{"no enforcer", []string{denyEchoFromClients}, VDelivered, "policy-not-enforced"},
		{"cilium", []string{denyEchoFromClients, ciliumDaemonSet}, VDenied, "networkpolicy-deny"},
		{"no policy", []string{ciliumDaemonSet}, VDelivered, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := twoNodeWith(t, c.objs...)
			r := trace(t, s, "pod/default/pod1b", "svc/default/echo", 80, packet.TCP)
			if r.Verdict != c.verdict || len(r.Paths) != 2 {
				t.Fatalf("verdict %s with %d paths, want %s", r.Verdict, len(r.Paths), c.verdict)
			}
			for _, p := range r.Paths {
				var codes []string
				var policyHops int
				for _, f := range p.Findings {
					codes = append(codes, f.Code)
				}
				for _, h := range p.Hops {
					if strings.HasPrefix(h.Step, "policy ") {
						policyHops++
						if h.Reply {
							t.Errorf("a reply was checked against policy: %+v", h)
						}
					}
				}
				if c.code == "" {
					if len(codes) != 0 {
						t.Errorf("path %s: findings %v", p.Endpoint, codes)
					}
					continue
				}
				if len(codes) == 0 || codes[0] != c.code {
					t.Fatalf("path %s: findings %v, want %s", p.Endpoint, codes, c.code)
				}
				msg := p.Findings[0].Message
				if !strings.Contains(msg, "pod default/pod"+map[bool]string{true: "1a", false: "2a"}[strings.HasPrefix(p.Endpoint, "10.244.1.")]+" is selected by networkpolicy default/echo-from-nothing (ingress)") ||
					!strings.Contains(msg, "admits pod default/pod1b on TCP 8080") {
					t.Errorf("path %s: message %q", p.Endpoint, msg)
				}
				if policyHops != 2 {
					t.Errorf("path %s: %d policy hops, want egress and ingress", p.Endpoint, policyHops)
				}
			}
		})
	}
}

// TestPolicyIntentAgainstEnforcerChains: with an enforcer whose chains are in the dump
// (Calico's cali-*), the dataplane decides, and a disagreement with the API objects is a
// finding either way.
func TestPolicyIntentAgainstEnforcerChains(t *testing.T) {
	withCalico := func(t *testing.T, drop bool, objs ...string) *Simulator {
		s := twoNodeWith(t, objs...)
		dir := s.C.Bundle.Path
		for _, n := range []string{"node1", "node2"} {
			f := filepath.Join(dir, "nodes", n, "iptables-save.txt")
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			text := strings.Replace(string(data), "*filter\n", "*filter\n:cali-FORWARD - [0:0]\n", 1)
			rule := "-A FORWARD -j cali-FORWARD\n"
			if drop {
				rule += "-A cali-FORWARD -d 10.244.2.2/32 -j DROP\n"
			}
			i := strings.Index(text, "-A FORWARD ")
			text = text[:i] + rule + text[i:]
			if err := os.WriteFile(f, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
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
		return New(c)
	}
	codes := func(p Path) string {
		var out []string
		for _, f := range p.Findings {
			out = append(out, f.Code)
		}
		return strings.Join(out, ",")
	}
	t.Run("objects deny, chains let through", func(t *testing.T) {
		r := trace(t, withCalico(t, false, denyEchoFromClients), "pod/default/pod1b", "pod/default/pod2a", 8080, packet.TCP)
		if r.Verdict != VDelivered || codes(r.Paths[0]) != "policy-intent,policy-disagreement" {
			t.Fatalf("verdict %s, findings %s", r.Verdict, codes(r.Paths[0]))
		}
	})
	t.Run("chains drop, objects allow", func(t *testing.T) {
		r := trace(t, withCalico(t, true), "pod/default/pod1b", "pod/default/pod2a", 8080, packet.TCP)
		if r.Verdict != VDenied || codes(r.Paths[0]) != "iptables-drop,iptables-drop,policy-disagreement" {
			t.Fatalf("verdict %s, findings %s", r.Verdict, codes(r.Paths[0]))
		}
	})
}
