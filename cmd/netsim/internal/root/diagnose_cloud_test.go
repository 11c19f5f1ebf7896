package root

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/netsim/netsim/internal/golden"
)

// TestDiagnoseCloud runs `netsim diagnose` on two cloud bundles (the testbed with AWS and
// GCP exports laid over it): the security group that admits neither the pod CIDR nor the
// node ports (row 17), and the firewall whose target tags the nodes do not share (row
// 18). Both exit 1 with the cloud's finding; text and JSON match the golden files.
func TestDiagnoseCloud(t *testing.T) {
	root := repoRoot(t)
	for _, c := range []struct{ provider, scenario, code string }{
		{"aws", "row17-sg-nodeports-podcidr", "aws-security-group"},
		{"gcp", "row18-firewall-tags-not-shared", "gcp-firewall-ingress"},
	} {
		t.Run(c.provider+"-"+c.scenario, func(t *testing.T) {
			b := composeProviderBundle(t, root, c.provider, c.scenario)
			jsonOut, errOut, code := run(t, "diagnose", "-b", b, "-o", "json")
			if code != 1 {
				t.Errorf("exit %d, want 1 (error findings)\n%s", code, errOut)
			}
			var doc struct {
				Findings []struct {
					Code, Severity string
				} `json:"findings"`
			}
			if err := json.Unmarshal([]byte(jsonOut), &doc); err != nil {
				t.Fatalf("%v\n%s", err, jsonOut)
			}
			found := false
			for _, f := range doc.Findings {
				found = found || (f.Code == c.code && f.Severity == "error")
			}
			if !found {
				t.Errorf("no %s error in %s", c.code, jsonOut)
			}
			text, _, _ := run(t, "diagnose", "-b", b)
			name := "diagnose-cloud-" + c.provider + "-" + c.scenario
			golden.Check(t, filepath.Join(root, "cmd/netsim/internal/root/testdata", name+".txt"), []byte(text))
			golden.Check(t, filepath.Join(root, "cmd/netsim/internal/root/testdata", name+".json"), []byte(jsonOut))
		})
	}
}
