package root

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCloudBundlesAzure traces the field-guide rows over the testbed (testdata/bundles/
// two-node-iptables, kubenet-like: host-gw pod CIDRs routed to the nodes) with
// hand-written `az network ... list -o json` exports (testdata/cloud/azure/ROW/); the
// verdicts must match testdata/cloud/azure/cases.json and the golden files azure-ROW-N.
func TestCloudBundlesAzure(t *testing.T) {
	root := repoRoot(t)
	testCloudBundles(t, root, "azure", []string{"5", "17", "18", "19", "21", "22", "24"})
}

// TestCloudErrorsAzure: a malformed export is a bundle error (exit 2) naming its file
// and line; a missing export makes the check unknown, naming the file.
func TestCloudErrorsAzure(t *testing.T) {
	root := repoRoot(t)
	b := composeProviderBundle(t, root, "azure", "healthy")
	bad := filepath.Join(b, "cloud/azure/nsg-list.json")
	if err := os.WriteFile(bad, []byte("[\n  {\"name\": \"nsg\",\n   \"securityRules\": [\n     {\"name\": \"r\", \"priority\": \"high\"}]}\n]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := run(t, "trace", "-b", b, "pod/default/pod1a", "pod/default/pod2a", "8080")
	if code != 2 || !contains(errOut, "cloud/azure/nsg-list.json:4") {
		t.Errorf("malformed export: exit %d, stderr %q; want 2 naming nsg-list.json:4", code, errOut)
	}
	if err := os.Remove(bad); err != nil {
		t.Fatal(err)
	}
	out, _, code := run(t, "trace", "-b", b, "pod/default/pod1a", "pod/default/pod2a", "8080")
	if code != 3 || !contains(out, "nsg-list.json, so this is not known") {
		t.Errorf("missing export: exit %d, want 3 (unknown) naming the missing file:\n%s", code, out)
	}
}
