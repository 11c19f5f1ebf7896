package diagnose

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// composeCloud lays testdata/cloud/PROVIDER/NAME over a copy of the testbed bundle
// (testdata/bundles/two-node-iptables), as cmd/netsim/internal/root's cloud test does.
func composeCloud(t testing.TB, provider, name string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	if err := os.CopyFS(dir, os.DirFS("../testdata/bundles/two-node-iptables")); err != nil {
		t.Fatal(err)
	}
	overlay := filepath.Join("../testdata/cloud", provider, name)
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

// cloudExtras are the objects the tests add to the testbed's cluster so that it asks for
// the traffic each row is about: for AWS, echo-np becomes the LoadBalancer Service the
// exports' load balancer (203.0.113.10, target group on node port 30080) fronts; in the
// row 19 and 20 bundles, whose exports hold an on-premises range and a peered VPC,
// selector-less Services whose endpoints are the on-premises database (172.16.5.10) and
// the peered VPC's (10.50.1.20).
func cloudExtras(t testing.TB, dir, provider, scenario string) {
	t.Helper()
	if provider == "aws" {
		path := filepath.Join(dir, "cluster/services.yaml")
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		s := strings.Replace(string(data), "    type: NodePort\n  status:\n    loadBalancer: {}\n",
			"    type: LoadBalancer\n  status:\n    loadBalancer:\n      ingress:\n      - ip: 203.0.113.10\n", 1)
		if s == string(data) {
			t.Fatal("services.yaml: echo-np's type and status not found")
		}
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var extra string
	if strings.HasPrefix(scenario, "row19") {
		extra += externalService("idc-db", "172.16.5.10", 443)
	}
	if provider == "aws" && (strings.HasPrefix(scenario, "row19") || strings.HasPrefix(scenario, "row20")) {
		extra += externalService("peer-db", "10.50.1.20", 5432)
	}
	if extra == "" {
		return
	}
	if err := os.WriteFile(filepath.Join(dir, "cluster/cloud-external.yaml"), []byte(extra), 0o644); err != nil {
		t.Fatal(err)
	}
}

// externalService is a selector-less Service and its EndpointSlice to an outside address.
func externalService(name, addr string, port int) string {
	return fmt.Sprintf(`---
apiVersion: v1
kind: Service
metadata: {name: %[1]s, namespace: default}
spec:
  clusterIP: None
  ports: [{name: db, port: %[3]d, protocol: TCP, targetPort: %[3]d}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: %[1]s-1
  namespace: default
  labels: {kubernetes.io/service-name: %[1]s}
addressType: IPv4
endpoints:
- addresses: [%[2]s]
  conditions: {ready: true}
ports: [{name: db, port: %[3]d, protocol: TCP}]
`, name, addr, port)
}

// cloudTable is, for every cloud test bundle, the finding diagnose must report with no
// flow given: its code, the object that decided (the evidence's first object) and the
// severity. healthy bundles must have no error finding from the cloud.
var cloudTable = map[string]struct {
	code, object string
	sev          Severity
	healthy      bool
}{
	"aws/healthy":                           {healthy: true},
	"aws/row05-source-dest-check":           {code: "aws-source-dest-check", object: "networkinterface/eni-0node1aaaaaaaaa1", sev: Error},
	"aws/row17-sg-nodeports-podcidr":        {code: "aws-security-group", object: "securitygroup/sg-0nodes000000001", sev: Error},
	"aws/row18-sg-no-shared-group":          {code: "aws-security-group", object: "securitygroup/sg-0workersb0000001", sev: Error},
	"aws/row19-route-missing-idc-peer":      {code: "aws-no-route", object: "routetable/rtb-0main00000000001 route 0.0.0.0/0", sev: Error},
	"aws/row20-masquerade-to-peer":          {code: "aws-security-group", object: "securitygroup/sg-0database0000001", sev: Error},
	"aws/row21-no-nat-route":                {code: "aws-no-route", object: "routetable/rtb-0main00000000001", sev: Warning},
	"aws/row22-lb-listener-health":          {code: "aws-lb-no-listener", object: "loadbalancer/k8s-default-echonp", sev: Error},
	"aws/row24-pod-cidr-overlap":            {code: "aws-cidr-overlap", object: "route 10.244.0.0/16", sev: Error},
	"gcp/healthy":                           {healthy: true},
	"gcp/row05-can-ip-forward":              {code: "gcp-can-ip-forward", object: "instance/gke-netsim-pool-node1", sev: Error},
	"gcp/row17-firewall-nodeports-podrange": {code: "gcp-firewall-ingress", object: "implied ingress rule", sev: Error},
	"gcp/row18-firewall-tags-not-shared":    {code: "gcp-firewall-ingress", object: "implied ingress rule", sev: Error},
	"gcp/row19-route-missing-onprem":        {code: "gcp-no-route", object: "route/default-route-internet", sev: Error},
	"gcp/row21-no-default-route":            {code: "gcp-no-route", object: "network/netsim-vpc", sev: Warning},
}

// cloudFindings are the findings the cloud analysis added (the testbed's own warnings,
// a missing DNS Service and a Service without endpoints, are left out).
func cloudFindings(rep *Report) []Finding {
	var out []Finding
	for _, f := range rep.Findings {
		if f.Code != "dns-service-missing" && f.Code != "service-no-endpoints" {
			out = append(out, f)
		}
	}
	return out
}

// TestCloudBundles diagnoses every cloud test bundle (testdata/cloud/PROVIDER/cases.json,
// laid over the testbed) with no flow given: each row's fault must be reported, citing the
// object that decided, and the healthy bundles must have no cloud error.
func TestCloudBundles(t *testing.T) {
	for _, provider := range []string{"aws", "gcp", "alibaba", "tencent", "azure"} {
		data, err := os.ReadFile(filepath.Join("../testdata/cloud", provider, "cases.json"))
		if os.IsNotExist(err) && provider != "aws" && provider != "gcp" {
			continue // not landed yet
		}
		if err != nil {
			t.Fatal(err)
		}
		var scenarios []struct {
			Name  string `json:"name"`
			Guide string `json:"fieldGuide"`
		}
		if err := json.Unmarshal(data, &scenarios); err != nil {
			t.Fatal(err)
		}
		for _, sc := range scenarios {
			name := provider + "/" + sc.Name
			t.Run(name, func(t *testing.T) {
				want, ok := cloudTable[name]
				if !ok && provider != "aws" && provider != "gcp" {
					t.Skipf("%s: a provider still being added; not in the table yet", name)
				}
				if !ok {
					t.Fatalf("%s (field guide %s) is not in the table", name, sc.Guide)
				}
				dir := composeCloud(t, provider, sc.Name)
				cloudExtras(t, dir, provider, sc.Name)
				rep, err := Run(loadBundle(t, dir), Options{})
				if err != nil {
					t.Fatal(err)
				}
				found := false
				for _, f := range cloudFindings(rep) {
					if len(f.Evidence) == 0 || f.Fix == "" || f.Message == "" {
						t.Errorf("finding %s lacks evidence, message or fix: %+v", f.Code, f)
					}
					if want.healthy && f.Severity == Error {
						t.Errorf("healthy bundle has a cloud error: %s %s", f.Code, f.Message)
					}
					if f.Code == want.code && f.Evidence[0].Object == want.object && f.Severity == want.sev {
						found = true
					}
				}
				if !want.healthy && !found {
					t.Errorf("no %s %s finding citing %s; got:", want.sev, want.code, want.object)
					for _, f := range cloudFindings(rep) {
						t.Logf("  %s %s %v: %s", f.Severity, f.Code, f.Evidence, f.Message)
					}
				}
				noted := false
				for _, n := range rep.Notes {
					noted = noted || strings.Contains(n, "class(es)")
				}
				if !noted {
					t.Errorf("no note on the node classes: %v", rep.Notes)
				}
			})
		}
	}
}
