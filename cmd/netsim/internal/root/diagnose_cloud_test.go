package root

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/netsim/netsim/internal/golden"
)

// TestDiagnoseCloud runs `netsim diagnose` on cloud bundles (the testbed with a
// provider's exports laid over it): the security group that admits neither the pod CIDR
// nor the node ports (row 17), the firewall whose target tags the nodes do not share (row
// 18), and for every provider row 24 from its routed ranges: the pod CIDR overlapping a
// peered, CCN or own range, and the Service CIDR inside an on-premises range. Each exits
// 1 with the finding (cloud-cidr-overlap citing the route, object); text and JSON match
// the golden files where golden is set.
func TestDiagnoseCloud(t *testing.T) {
	root := repoRoot(t)
	for _, c := range []struct {
		provider, scenario, code, object string
		golden                           bool
	}{
		{"aws", "row17-sg-nodeports-podcidr", "aws-security-group", "", true},
		{"gcp", "row18-firewall-tags-not-shared", "gcp-firewall-ingress", "", true},
		{"aws", "row24-pod-cidr-overlap", "cloud-cidr-overlap", "routetable/rtb-0main00000000001 route 10.244.0.0/16", false},
		{"gcp", "row24-pod-cidr-peering", "cloud-cidr-overlap", "route/peering-route-legacy-10-244", false},
		{"alibaba", "row17-network-acl-nodeports", "alibaba-network-acl", "networkacl/nacl-bp1nodes00000001 ingress entry 2 (nae-bp1nodeport0001)", false},
		{"alibaba", "row24-pod-cidr-overlap", "cloud-cidr-overlap", "vswitch/vsw-bp1legacy00000001", false},
		{"tencent", "row17-network-acl-nodeports", "tencent-network-acl", "networkacl/acl-nodes001 ingress default rule", false},
		{"tencent", "row24-pod-cidr-overlap-ccn", "cloud-cidr-overlap", "routetable/rtb-main0001 route 10.244.0.0/16", false},
		{"azure", "row24-pod-cidr-overlaps-peer", "cloud-cidr-overlap", "virtualnetwork/aks-vnet peering to-legacy", false},
		{"aws", "row24-service-cidr-onprem", "cloud-cidr-overlap", "routetable/rtb-0main00000000001 route 10.96.0.0/12", true},
		{"gcp", "row24-service-cidr-vpn", "cloud-cidr-overlap", "route/onprem-vpn-10-96", false},
		{"alibaba", "row24-service-cidr-vbr", "cloud-cidr-overlap", "routetable/vtb-bp1system0000001 route 10.96.0.0/12", false},
		{"tencent", "row24-service-cidr-ccn", "cloud-cidr-overlap", "routetable/rtb-main0001 route 10.96.0.0/12", false},
		{"azure", "row24-service-cidr-hub-firewall", "cloud-cidr-overlap", "routetable/aks-agentpool-routetable route onprem-via-hub", false},
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
					Evidence       []struct {
						Object string `json:"object"`
					} `json:"evidence"`
				} `json:"findings"`
			}
			if err := json.Unmarshal([]byte(jsonOut), &doc); err != nil {
				t.Fatalf("%v\n%s", err, jsonOut)
			}
			found := false
			for _, f := range doc.Findings {
				found = found || (f.Code == c.code && f.Severity == "error" && (c.object == "" || len(f.Evidence) > 0 && f.Evidence[0].Object == c.object))
			}
			if !found {
				t.Errorf("no %s error citing %q in %s", c.code, c.object, jsonOut)
			}
			if !c.golden {
				return
			}
			text, _, _ := run(t, "diagnose", "-b", b)
			name := "diagnose-cloud-" + c.provider + "-" + c.scenario
			golden.Check(t, filepath.Join(root, "cmd/netsim/internal/root/testdata", name+".txt"), []byte(text))
			golden.Check(t, filepath.Join(root, "cmd/netsim/internal/root/testdata", name+".json"), []byte(jsonOut))
		})
	}
}
