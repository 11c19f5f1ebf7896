package root

import (
	"testing"
)

// TestIPVSBundles replays the kube-proxy ipvs-mode bundles (testdata/ipvs, frozen from
// kube-proxy v1.34.4's own ipvs proxier by e2e/tools/ipvsgen) without root: each case's
// verdict is the one the kernel's IPVS gives that state (testdata/ipvs/cases.json says
// why), the exit code follows it, and the text (every case) and JSON (each bundle's
// first case) outputs match their golden files.
func TestIPVSBundles(t *testing.T) {
	root := repoRoot(t)
	bundles := readScenarios(t, root, "testdata/ipvs/cases.json")
	if len(bundles) < 4 {
		t.Fatalf("%d ipvs bundles in cases.json, want the 4 of testdata/ipvs", len(bundles))
	}
	replay(t, root, bundles, func(_ *testing.T, name string) string { return "testdata/ipvs/" + name },
		"cmd/netsim/internal/root/testdata/ipvs", "", false)
}
