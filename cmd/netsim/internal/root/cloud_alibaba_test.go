package root

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCloudBundlesAlibaba traces the cloud field-guide rows (5, 17, 18, 19, 21, 22, 24)
// over bundles that lay hand-written Alibaba Cloud exports (testdata/cloud/alibaba/ROW/
// cloud/alibaba: ECS instances, ENIs, security groups, the VPC's route table, a NAT
// gateway with its SNAT table, a CLB with its listeners and backend health) over the
// testbed's real dataplane (node1 10.200.0.11 = i-bp1node1aaaaaaaaaa1, node2 10.200.0.12
// = i-bp1node2bbbbbbbbbb2, host-gw pod CIDRs routed by custom route entries to the
// instances, as Flannel's alloc mode on ACK does). Verdicts, exit codes, text and JSON
// must match testdata/cloud/alibaba/cases.json and the golden files alibaba-ROW-N.
func TestCloudBundlesAlibaba(t *testing.T) {
	testCloudBundles(t, repoRoot(t), "alibaba", []string{"5", "17", "18", "19", "21", "22", "24"})
}

// TestCloudErrorsAlibaba: a malformed export is a bundle error (exit 2) naming its file
// and line; a missing export makes the check unknown, naming the file, never an allow.
func TestCloudErrorsAlibaba(t *testing.T) {
	root := repoRoot(t)
	b := composeProviderBundle(t, root, "alibaba", "healthy")
	bad := filepath.Join(b, "cloud/alibaba/DescribeSecurityGroupAttribute/sg-bp1nodes00000001.json")
	if err := os.WriteFile(bad, []byte("{\"SecurityGroupId\": \"sg-bp1nodes00000001\",\n \"Permissions\": {\"Permission\": [\n  {\"Direction\": \"ingress\", \"IpProtocol\": \"TCP\", \"PortRange\": \"22\"}\n ]}\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := run(t, "trace", "-b", b, "pod/default/pod1a", "pod/default/pod2a", "8080")
	if code != 2 || !contains(errOut, "cloud/alibaba/DescribeSecurityGroupAttribute/sg-bp1nodes00000001.json:3") || !contains(errOut, `PortRange "22"`) {
		t.Errorf("malformed export: exit %d, stderr %q; want 2 naming sg-bp1nodes00000001.json:3", code, errOut)
	}
	if err := os.Remove(bad); err != nil {
		t.Fatal(err)
	}
	out, _, code := run(t, "trace", "-b", b, "pod/default/pod1a", "pod/default/pod2a", "8080")
	if code != 3 || !contains(out, "DescribeSecurityGroupAttribute/sg-bp1nodes00000001.json, so this is not known") {
		t.Errorf("missing export: exit %d, want 3 (unknown) naming the missing file:\n%s", code, out)
	}
	if err := os.Remove(filepath.Join(b, "cloud/alibaba/DescribeRouteEntryList/vtb-bp1system0000001.json")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(b, "cloud/alibaba/DescribeSecurityGroupAttribute"), 0o755); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(filepath.Join(root, "testdata/cloud/alibaba/healthy/cloud/alibaba/DescribeSecurityGroupAttribute/sg-bp1nodes00000001.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, good, 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, code = run(t, "trace", "-b", b, "node/node1", "node/node2", "10256")
	if code != 3 || !contains(out, "DescribeRouteEntryList/vtb-bp1system0000001.json, so this is not known") {
		t.Errorf("missing route entries: exit %d, want 3 (unknown) naming the missing file:\n%s", code, out)
	}
}
