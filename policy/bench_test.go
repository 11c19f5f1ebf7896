package policy

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/netsim/netsim/bundle"
	"github.com/netsim/netsim/internal/gen"
	"github.com/netsim/netsim/model"
)

var (
	benchOnce sync.Once
	benchDir  string
	benchErr  error
	benchSize = gen.Size{Nodes: 1000, Pods: 30000, Services: 5000, Namespaces: 500}
)

// policyBundle generates (once, cached in the temp dir) 30,000 pods in 500 namespaces and
// 5,000 NetworkPolicies: ten per namespace, each selecting one app, admitting ingress from
// two apps of its namespace and from one other namespace on port 8080, and egress to its
// namespace and to DNS.
func policyBundle(b *testing.B) string {
	benchOnce.Do(func() {
		benchDir = filepath.Join(os.TempDir(), "netsim-bench-policy-30000p-5000np")
		if _, err := os.Stat(filepath.Join(benchDir, "cluster", "networkpolicies.yaml")); err == nil {
			return
		}
		os.RemoveAll(benchDir)
		if benchErr = gen.Write(benchDir, benchSize); benchErr != nil {
			return
		}
		var sb strings.Builder
		apps := benchSize.Services/benchSize.Namespaces + 1
		for ns := 0; ns < benchSize.Namespaces; ns++ {
			for k := 0; k < 10; k++ {
				fmt.Fprintf(&sb, `---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: np-%d, namespace: ns-%04d}
spec:
  podSelector: {matchLabels: {app: app-%d}}
  policyTypes: [Ingress, Egress]
  ingress:
  - from:
    - podSelector: {matchExpressions: [{key: app, operator: In, values: [app-%d, app-%d]}]}
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ns-%04d}}
    ports: [{port: 8080}]
  egress:
  - to: [{podSelector: {}}]
  - to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}}]
    ports: [{port: 53, protocol: UDP}]
`, k, ns, k%apps, (k+1)%apps, (k+2)%apps, (ns+1)%benchSize.Namespaces)
			}
		}
		benchErr = os.WriteFile(filepath.Join(benchDir, "cluster", "networkpolicies.yaml"), []byte(sb.String()), 0o644)
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchDir
}

// BenchmarkDecision is one connection's policy decision (egress at the client, ingress at
// the server) among 5,000 policies and 30,000 pods.
func BenchmarkDecision(b *testing.B) {
	dir := policyBundle(b)
	bd, err := bundle.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer bd.Close()
	c, err := model.Load(bd, model.Options{})
	if err != nil {
		b.Fatal(err)
	}
	if len(c.NetworkPolicies) != 5000 {
		b.Fatalf("%d policies", len(c.NetworkPolicies))
	}
	e := New(c)
	src, dst := c.Pods[1], c.Pods[len(c.Pods)/2]
	srcPeer, dstPeer := Peer{Addr: src.IPs[0], Pod: src}, Peer{Addr: dst.IPs[0], Pod: dst}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.Check(Egress, src, dstPeer, 8080, corev1.ProtocolTCP)
		e.Check(Ingress, dst, srcPeer, 8080, corev1.ProtocolTCP)
	}
}
