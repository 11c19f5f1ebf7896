package root

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCloudBundles traces the cloud field-guide rows (17-22, 24, and the cloud side of
// 5) over bundles that join the testbed's real dataplane (testdata/bundles/two-node-
// iptables: node1 10.200.0.11, node2 10.200.0.12, host-gw pod CIDRs 10.244.1.0/24 and
// 10.244.2.0/24) with hand-written AWS exports mapping the nodes to instances
// (testdata/cloud/aws/ROW/, laid over the testbed's files). The verdicts, exit codes,
// text and JSON must match testdata/cloud/aws/cases.json and the golden files.
//
// The GCP bundles (testdata/cloud/gcp/ROW/, cases in testdata/cloud/gcp/cases.json) are
// laid over the same testbed; their golden files are named gcp-ROW-N.
func TestCloudBundles(t *testing.T) {
	root := repoRoot(t)
	testCloudBundles(t, root, "aws", []string{"17", "18", "19", "20", "21", "22", "24"})
	testCloudBundles(t, root, "gcp", []string{"5", "17", "18", "19", "21", "22", "24"})
}

func testCloudBundles(t *testing.T, root, provider string, guideRows []string) {
	scenarios := readScenarios(t, root, filepath.Join("testdata/cloud", provider, "cases.json"))
	rows := map[string]bool{}
	for _, sc := range scenarios {
		rows[sc.Guide] = true
	}
	for _, r := range guideRows {
		if !rows[r] {
			t.Errorf("no %s cloud bundle for field-guide row %s", provider, r)
		}
	}
	prefix := ""
	if provider != "aws" {
		prefix = provider + "-"
	}
	replay(t, root, scenarios, func(t *testing.T, name string) string { return composeProviderBundle(t, root, provider, name) },
		"cmd/netsim/internal/root/testdata/cloud", prefix, true)
}

// composeCloudBundle lays testdata/cloud/aws/NAME over a copy of the testbed bundle.
func composeCloudBundle(t *testing.T, root, name string) string {
	return composeProviderBundle(t, root, "aws", name)
}

// composeProviderBundle lays testdata/cloud/PROVIDER/NAME over a copy of the testbed bundle.
func composeProviderBundle(t *testing.T, root, provider, name string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	if err := os.CopyFS(dir, os.DirFS(filepath.Join(root, "testdata/bundles/two-node-iptables"))); err != nil {
		t.Fatal(err)
	}
	overlay := filepath.Join(root, "testdata/cloud", provider, name)
	err := filepath.WalkDir(overlay, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(overlay, p)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, rel)), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestCloudErrors: a malformed export is a bundle error (exit 2) naming its file and
// line; a missing export makes the check unknown, never an allow.
func TestCloudErrors(t *testing.T) {
	root := repoRoot(t)
	b := composeCloudBundle(t, root, "healthy")
	bad := filepath.Join(b, "cloud/aws/describe-security-groups.json")
	if err := os.WriteFile(bad, []byte("{\n  \"SecurityGroups\": [\n    {\"GroupId\": \"sg-1\",\n     \"IpPermissions\": [{\"IpProtocol\": \"tcp\", \"FromPort\": \"x\"}]}\n  ]\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := run(t, "trace", "-b", b, "pod/default/pod1a", "pod/default/pod2a", "8080")
	if code != 2 || !contains(errOut, "cloud/aws/describe-security-groups.json:4") {
		t.Errorf("malformed export: exit %d, stderr %q; want 2 naming describe-security-groups.json:4", code, errOut)
	}
	if err := os.Remove(bad); err != nil {
		t.Fatal(err)
	}
	out, _, code := run(t, "trace", "-b", b, "pod/default/pod1a", "pod/default/pod2a", "8080")
	if code != 3 || !contains(out, "describe-security-groups.json, so this is not known") {
		t.Errorf("missing export: exit %d, want 3 (unknown) naming the missing file:\n%s", code, out)
	}
}

// TestCloudErrorsGCP: the same for cloud/gcp's gcloud exports.
func TestCloudErrorsGCP(t *testing.T) {
	root := repoRoot(t)
	b := composeProviderBundle(t, root, "gcp", "healthy")
	bad := filepath.Join(b, "cloud/gcp/firewall-rules.json")
	if err := os.WriteFile(bad, []byte("[\n  {\"name\": \"a\",\n   \"priority\": \"x\"}\n]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := run(t, "trace", "-b", b, "pod/default/pod1a", "pod/default/pod2a", "8080")
	if code != 2 || !contains(errOut, "cloud/gcp/firewall-rules.json:3") {
		t.Errorf("malformed export: exit %d, stderr %q; want 2 naming firewall-rules.json:3", code, errOut)
	}
	if err := os.Remove(bad); err != nil {
		t.Fatal(err)
	}
	out, _, code := run(t, "trace", "-b", b, "pod/default/pod1a", "pod/default/pod2a", "8080")
	if code != 3 || !contains(out, "firewall-rules.json, so this is not known") {
		t.Errorf("missing export: exit %d, want 3 (unknown) naming the missing file:\n%s", code, out)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
