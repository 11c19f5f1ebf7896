package diff

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netsim/netsim/bundle"
	"github.com/netsim/netsim/internal/gen"
	"github.com/netsim/netsim/model"
)

// diffBundles generates (once, cached in the temp dir) two 30,000-pod bundles with 2,000
// NetworkPolicies (four per namespace, each selecting one app and admitting two apps of
// its namespace and one other namespace on 8080): OLD, and NEW with a default-deny
// policy added in one namespace and one Service's selector broken.
func diffBundles(b *testing.B) (string, string) {
	b.Helper()
	size := gen.Size{Nodes: 1000, Pods: 30000, Services: 5000, Namespaces: 500}
	base := filepath.Join(os.TempDir(), "netsim-bench-diff-30000p-2000np")
	oldDir, newDir := base+"-old", base+"-new"
	if _, err := os.Stat(filepath.Join(newDir, "cluster", "zz-change.yaml")); err == nil {
		return oldDir, newDir
	}
	os.RemoveAll(oldDir)
	os.RemoveAll(newDir)
	if err := gen.Write(oldDir, size); err != nil {
		b.Fatal(err)
	}
	var sb strings.Builder
	apps := size.Services/size.Namespaces + 1
	for ns := 0; ns < size.Namespaces; ns++ {
		for k := 0; k < 4; k++ {
			fmt.Fprintf(&sb, `---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: np-%d, namespace: ns-%04d}
spec:
  podSelector: {matchLabels: {app: app-%d}}
  policyTypes: [Ingress]
  ingress:
  - from:
    - podSelector: {matchExpressions: [{key: app, operator: In, values: [app-%d, app-%d]}]}
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ns-%04d}}
    ports: [{port: 8080}]
`, k, ns, k%apps, (k+1)%apps, (k+2)%apps, (ns+1)%size.Namespaces)
		}
	}
	if err := os.WriteFile(filepath.Join(oldDir, "cluster", "networkpolicies.yaml"), []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	// Cilium enforces the policies (its rules are eBPF: the API objects decide).
	ds := "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: cilium, namespace: kube-system, labels: {k8s-app: cilium}}\nspec: {}\n"
	if err := os.WriteFile(filepath.Join(oldDir, "cluster", "cilium.yaml"), []byte(ds), 0o644); err != nil {
		b.Fatal(err)
	}
	if out, err := exec.Command("cp", "-a", oldDir, newDir).CombinedOutput(); err != nil {
		b.Fatalf("%v: %s", err, out)
	}
	change := `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: ns-0007}
spec:
  podSelector: {}
  policyTypes: [Ingress]
`
	if err := os.WriteFile(filepath.Join(newDir, "cluster", "zz-change.yaml"), []byte(change), 0o644); err != nil {
		b.Fatal(err)
	}
	return oldDir, newDir
}

// BenchmarkDiff30000Pods diffs two generated 30,000-pod, 1,000-node bundles with 2,000
// policies, a policy added between them (target: under 30 s).
func BenchmarkDiff30000Pods(b *testing.B) {
	oldDir, newDir := diffBundles(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ob, err := bundle.Open(oldDir)
		if err != nil {
			b.Fatal(err)
		}
		nb, err := bundle.Open(newDir)
		if err != nil {
			b.Fatal(err)
		}
		oc, err := model.Load(ob, model.Options{})
		if err != nil {
			b.Fatal(err)
		}
		nc, err := model.Load(nb, model.Options{})
		if err != nil {
			b.Fatal(err)
		}
		r, err := Compute(oc, nc, ob.FS(), nb.FS())
		if err != nil {
			b.Fatal(err)
		}
		if len(r.Inputs) == 0 || len(r.Changes) == 0 {
			b.Fatalf("the added default deny must change flows: %+v", r.Inputs)
		}
		b.ReportMetric(float64(r.Traced), "traced")
		b.ReportMetric(float64(r.Decided), "decided")
		b.ReportMetric(float64(r.Classes), "classes")
		ob.Close()
		nb.Close()
	}
}
