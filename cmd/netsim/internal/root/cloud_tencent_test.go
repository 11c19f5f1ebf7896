package root

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCloudBundlesTencent traces the cloud field-guide rows over the testbed (two nodes,
// host-gw pod CIDRs as TKE's GlobalRouter network routes them) with hand-written
// Tencent Cloud exports (testdata/cloud/tencent/ROW/cloud/tencent/, cases in
// testdata/cloud/tencent/cases.json); the golden files are named tencent-ROW-N.
func TestCloudBundlesTencent(t *testing.T) {
	root := repoRoot(t)
	testCloudBundles(t, root, "tencent", []string{"5", "17", "18", "19", "21", "22", "24"})
}

// TestCloudErrorsTencent: a malformed export is a bundle error (exit 2) naming its file
// and line; a missing export makes the check unknown, never an allow.
func TestCloudErrorsTencent(t *testing.T) {
	root := repoRoot(t)
	b := composeProviderBundle(t, root, "tencent", "healthy")
	bad := filepath.Join(b, "cloud/tencent/DescribeSecurityGroupPolicies/sg-nodes001.json")
	if err := os.WriteFile(bad, []byte("{\"SecurityGroupPolicySet\": {\n  \"Ingress\": [\n    {\"PolicyIndex\": 0, \"Protocol\": \"TCP\", \"Port\": \"80-x\", \"CidrBlock\": \"0.0.0.0/0\", \"Action\": \"ACCEPT\"}\n  ]}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := run(t, "trace", "-b", b, "pod/default/pod1a", "pod/default/pod2a", "8080")
	if code != 2 || !contains(errOut, "cloud/tencent/DescribeSecurityGroupPolicies/sg-nodes001.json:3") {
		t.Errorf("malformed export: exit %d, stderr %q; want 2 naming sg-nodes001.json:3", code, errOut)
	}
	if err := os.Remove(bad); err != nil {
		t.Fatal(err)
	}
	out, _, code := run(t, "trace", "-b", b, "pod/default/pod1a", "pod/default/pod2a", "8080")
	if code != 3 || !contains(out, "DescribeSecurityGroupPolicies/sg-nodes001.json") {
		t.Errorf("missing export: exit %d, want 3 (unknown) naming the missing file:\n%s", code, out)
	}
	good, err := os.ReadFile(filepath.Join(root, "testdata/cloud/tencent/healthy/cloud/tencent/DescribeSecurityGroupPolicies/sg-nodes001.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, good, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(b, "cloud/tencent/DescribeRouteTables.json")); err != nil {
		t.Fatal(err)
	}
	out, _, code = run(t, "trace", "-b", b, "node/node1", "node/node2", "10256")
	if code != 3 || !contains(out, "DescribeRouteTables.json, so this is not known") {
		t.Errorf("missing route tables: exit %d, want 3 naming DescribeRouteTables.json:\n%s", code, out)
	}
}
