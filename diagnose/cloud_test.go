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
// the traffic a bundle's cases trace (dsts: their destinations): echo-np becomes the
// LoadBalancer Service that the exports' load balancer fronts (its target group or
// backend is node port 30080), as the overlays that bring their own services.yaml do; and
// selector-less Services make the on-premises database (172.16.5.10:443) and the peered
// VPC's (10.50.1.20:5432) endpoints of the cluster.
func cloudExtras(t testing.TB, dir, provider string, dsts []string) {
	t.Helper()
	targets := map[string]bool{}
	for _, d := range dsts {
		targets[d] = true
	}
	lb := ""
	for _, a := range map[string][]string{"aws": {"203.0.113.10", "203.0.113.20"}, "azure": {"203.0.113.10"}, "tencent": {"203.0.113.10"}, "alibaba": {"47.96.10.30"}}[provider] {
		if targets[a] {
			lb = a
		}
	}
	if lb != "" {
		path := filepath.Join(dir, "cluster/services.yaml")
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		s := strings.Replace(string(data), "    type: NodePort\n  status:\n    loadBalancer: {}\n",
			"    type: LoadBalancer\n  status:\n    loadBalancer:\n      ingress:\n      - ip: "+lb+"\n", 1)
		if s == string(data) {
			t.Fatal("services.yaml: echo-np's type and status not found")
		}
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var extra string
	if targets["172.16.5.10"] {
		extra += externalService("idc-db", "172.16.5.10", 443)
	}
	if targets["10.50.1.20"] {
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
// severity. healthy bundles must have no error finding from the cloud. overlaps are the
// objects of every cloud-cidr-overlap finding (row 24, from the provider's RoutedRanges)
// the bundle must have, and no other: a bundle without them must have none (the
// VPC-native pod range of GCP's bundles, the nodes' own pod-CIDR routes, are not one).
var cloudTable = map[string]struct {
	code, object string
	sev          Severity
	healthy      bool
	msg          string   // a part of the finding's message, where it proves a point
	overlaps     []string // the cloud-cidr-overlap findings' objects, in report order
}{
	"aws/healthy":                           {healthy: true},
	"aws/row05-source-dest-check":           {code: "aws-source-dest-check", object: "networkinterface/eni-0node1aaaaaaaaa1", sev: Error},
	"aws/row17-sg-nodeports-podcidr":        {code: "aws-security-group", object: "securitygroup/sg-0nodes000000001", sev: Error},
	"aws/row18-sg-no-shared-group":          {code: "aws-security-group", object: "securitygroup/sg-0workersb0000001", sev: Error},
	"aws/row19-route-missing-idc-peer":      {code: "aws-no-route", object: "routetable/rtb-0main00000000001 route 0.0.0.0/0", sev: Error},
	"aws/row20-masquerade-to-peer":          {code: "aws-security-group", object: "securitygroup/sg-0database0000001", sev: Error},
	"aws/row21-no-nat-route":                {code: "aws-no-route", object: "routetable/rtb-0main00000000001", sev: Warning},
	"aws/row22-lb-listener-health":          {code: "aws-lb-no-listener", object: "loadbalancer/k8s-default-echonp", sev: Error},
	"aws/row24-pod-cidr-overlap":            {code: "aws-cidr-overlap", object: "route 10.244.0.0/16", sev: Error, overlaps: []string{"routetable/rtb-0main00000000001 route 10.244.0.0/16"}},
	"gcp/healthy":                           {healthy: true},
	"gcp/row05-can-ip-forward":              {code: "gcp-can-ip-forward", object: "instance/gke-netsim-pool-node1", sev: Error},
	"gcp/row17-firewall-nodeports-podrange": {code: "gcp-firewall-ingress", object: "implied ingress rule", sev: Error},
	"gcp/row18-firewall-tags-not-shared":    {code: "gcp-firewall-ingress", object: "implied ingress rule", sev: Error},
	"gcp/row19-route-missing-onprem":        {code: "gcp-no-route", object: "route/default-route-internet", sev: Error},
	"gcp/row21-no-default-route":            {code: "gcp-no-route", object: "network/netsim-vpc", sev: Warning},
	// The Service admits every client (no loadBalancerSourceRanges); the ALB's default
	// rule answers a client outside its conditions itself.
	"aws/row22-alb-rules-two-target-groups": {code: "aws-lb-fixed-response", object: "listener/k8s-default-echo:80 default rule", sev: Error},
	// The pods are not masqueraded (the overlay's node rules), and Cloud NAT serves only the
	// nodes' primary range.
	"gcp/row21-cloud-nat-pod-range": {code: "gcp-cloud-nat", object: "network/netsim-vpc", sev: Warning},
	// The Service admits every client; the firewall only 198.51.100.0/24.
	"gcp/row22-lb-listener-health-source": {code: "gcp-firewall-ingress", object: "implied ingress rule", sev: Error},
	"gcp/row22-lb-backends-unhealthy":     {code: "gcp-lb-fail-open", object: "backendservice/k8s2-a1b2c3d4-default-echo-np-x1y2z3", sev: Warning},
	"gcp/row24-pod-cidr-peering":          {code: "gcp-cidr-overlap", object: "route/peering-route-legacy-10-244", sev: Error, overlaps: []string{"route/peering-route-legacy-10-244"}},
	// Alibaba Cloud, Tencent Cloud and Azure: the same probes through their providers.
	"alibaba/healthy":                      {healthy: true},
	"alibaba/row05-pod-cidr-route-missing": {code: "alibaba-route-misdirected", object: "routetable/vtb-bp1system0000001 route 0.0.0.0/0", sev: Error},
	"alibaba/row17-sg-nodeports-podcidr":   {code: "alibaba-security-group", object: "securitygroup/sg-bp1nodes00000001", sev: Error},
	"alibaba/row18-sg-no-shared-group":     {code: "alibaba-security-group", object: "securitygroup/sg-bp1node2000000001", sev: Error},
	"alibaba/row17-network-acl-nodeports":  {code: "alibaba-network-acl", object: "networkacl/nacl-bp1nodes00000001 ingress entry 2 (nae-bp1nodeport0001)", sev: Error},
	"alibaba/row19-route-missing-idc":      {code: "alibaba-no-route", object: "routetable/vtb-bp1system0000001 route 0.0.0.0/0 (rte-bp1default000001)", sev: Error},
	"alibaba/row21-no-snat-entry":          {code: "alibaba-no-snat-entry", object: "natgateway/ngw-bp1egress0000001", sev: Warning},
	"alibaba/row22-slb-listener-health":    {code: "alibaba-slb-listener-stopped", object: "listener/lb-bp1echonp000000001:80", sev: Error},
	// The legacy vSwitch is the VPC's own range: the pods are not VPC-native there (the
	// VPC delivers their addresses to no interface), so the overlap is an error too.
	"alibaba/row24-pod-cidr-overlap":           {code: "alibaba-cidr-overlap", object: "routetable/vtb-bp1system0000001 route 10.244.0.0/17", sev: Error, overlaps: []string{"vswitch/vsw-bp1legacy00000001"}},
	"tencent/healthy":                          {healthy: true},
	"tencent/row05-globalrouter-route-missing": {code: "tencent-no-route", object: "routetable/rtb-main0001 route 0.0.0.0/0", sev: Error},
	"tencent/row17-sg-nodeports-podcidr":       {code: "tencent-security-group", object: "securitygroup/sg-base0001 ingress policy 2", sev: Error},
	"tencent/row17-network-acl-nodeports":      {code: "tencent-network-acl", object: "networkacl/acl-nodes001 ingress default rule", sev: Error},
	"tencent/row18-sg-no-shared-group":         {code: "tencent-security-group", object: "securitygroup/sg-poolb001", sev: Error},
	"tencent/row19-idc-route-disabled":         {code: "tencent-no-route", object: "routetable/rtb-main0001 route 0.0.0.0/0", sev: Error},
	"tencent/row21-nat-no-snat-for-pods": {code: "tencent-nat-no-snat", object: "natgateway/nat-egress01", sev: Warning,
		msg: "sent as pod/default/pod1a's own address 10.244.1.2"},
	"tencent/row22-clb-listener-health":     {code: "tencent-clb-no-listener", object: "loadbalancer/lb-echonp01", sev: Error},
	"tencent/row24-pod-cidr-overlap-ccn":    {code: "tencent-cidr-overlap", object: "routetable/rtb-main0001 route 10.244.0.0/16", sev: Error, overlaps: []string{"routetable/rtb-main0001 route 10.244.0.0/16"}},
	"azure/healthy":                         {healthy: true},
	"azure/row05-ip-forwarding-off":         {code: "azure-ip-forwarding", object: "networkinterface/aks-nodepool1-node1-nic", sev: Error},
	"azure/row17-nsg-nodeports-podcidr":     {code: "azure-nsg", object: "networksecuritygroup/aks-agentpool-nsg rule deny-vnet-inbound", sev: Error},
	"azure/row18-nsg-asg-not-shared":        {code: "azure-nsg", object: "networksecuritygroup/aks-agentpool-nsg rule deny-vnet-inbound", sev: Error},
	"azure/row19-route-onprem-bgp-disabled": {code: "azure-route-none", object: "virtualnetwork/aks-vnet system route 172.16.0.0/12", sev: Error},
	"azure/row21-egress-firewall-gone":      {code: "azure-appliance-missing", object: "route default-to-firewall", sev: Warning},
	"azure/row22-lb-rule-health":            {code: "azure-lb-no-rule", object: "loadbalancer/kubernetes frontend a1b2c3", sev: Error},
	"azure/row24-pod-cidr-overlaps-peer":    {code: "azure-cidr-overlap", object: "route peering to-legacy", sev: Error, overlaps: []string{"virtualnetwork/aks-vnet peering to-legacy"}},
	// The Service CIDR (10.96.0.0/16) inside a range the network sends elsewhere: an
	// on-premises range through a VPN or Direct Connect, the CCN, a hub firewall.
	"aws/row24-service-cidr-onprem": {code: "cloud-cidr-overlap", object: "routetable/rtb-0main00000000001 route 10.96.0.0/12", sev: Error, msg: "Service CIDR 10.96.0.0/16",
		overlaps: []string{"routetable/rtb-0main00000000001 route 10.96.0.0/12"}},
	"gcp/row24-service-cidr-vpn": {code: "cloud-cidr-overlap", object: "route/onprem-vpn-10-96", sev: Error, msg: "VPN tunnel onprem-tunnel",
		overlaps: []string{"route/onprem-vpn-10-96"}},
	"alibaba/row24-service-cidr-vbr": {code: "cloud-cidr-overlap", object: "routetable/vtb-bp1system0000001 route 10.96.0.0/12", sev: Error, msg: "RouterInterface ri-bp1vbr000000000001",
		overlaps: []string{"routetable/vtb-bp1system0000001 route 10.96.0.0/12"}},
	"tencent/row24-service-cidr-ccn": {code: "cloud-cidr-overlap", object: "routetable/rtb-main0001 route 10.96.0.0/12", sev: Error, msg: "CCN ccn-corp0001",
		overlaps: []string{"routetable/rtb-main0001 route 10.96.0.0/12"}},
	"azure/row24-service-cidr-hub-firewall": {code: "cloud-cidr-overlap", object: "routetable/aks-agentpool-routetable route onprem-via-hub", sev: Error, msg: "the virtual appliance 10.10.0.4",
		overlaps: []string{"routetable/aks-agentpool-routetable route onprem-via-hub"}},
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
		if err != nil {
			t.Fatal(err)
		}
		var scenarios []struct {
			Name  string `json:"name"`
			Guide string `json:"fieldGuide"`
			Cases []struct {
				Args []string `json:"args"`
			} `json:"cases"`
		}
		if err := json.Unmarshal(data, &scenarios); err != nil {
			t.Fatal(err)
		}
		for _, sc := range scenarios {
			name := provider + "/" + sc.Name
			t.Run(name, func(t *testing.T) {
				want, ok := cloudTable[name]
				if !ok {
					t.Errorf("%s (field guide %s) is not in the table", name, sc.Guide)
				}
				dir := composeCloud(t, provider, sc.Name)
				var dsts []string
				for _, c := range sc.Cases {
					if len(c.Args) > 1 {
						dsts = append(dsts, c.Args[1])
					}
				}
				cloudExtras(t, dir, provider, dsts)
				rep, err := Run(loadBundle(t, dir), Options{})
				if err != nil {
					t.Fatal(err)
				}
				found := false
				var overlaps []string
				for _, f := range cloudFindings(rep) {
					if len(f.Evidence) == 0 || f.Fix == "" || f.Message == "" {
						t.Errorf("finding %s lacks evidence, message or fix: %+v", f.Code, f)
						continue
					}
					if f.Code == "cloud-cidr-overlap" {
						overlaps = append(overlaps, f.Evidence[0].Object)
						if f.Severity != Error {
							t.Errorf("overlap is not an error: %+v", f)
						}
					}
					if want.healthy && f.Severity == Error {
						t.Errorf("healthy bundle has a cloud error: %s %s", f.Code, f.Message)
					}
					if f.Code == want.code && f.Evidence[0].Object == want.object && f.Severity == want.sev && strings.Contains(f.Message, want.msg) {
						found = true
					}
				}
				if !want.healthy && !found || !ok || testing.Verbose() {
					if ok && !want.healthy && !found {
						t.Errorf("no %s %s finding citing %s; got:", want.sev, want.code, want.object)
					}
					for _, f := range cloudFindings(rep) {
						t.Logf("  %s %s %+v: %s", f.Severity, f.Code, f.Evidence, f.Message)
					}
				}
				if strings.Join(overlaps, "\n") != strings.Join(want.overlaps, "\n") {
					t.Errorf("cloud-cidr-overlap findings cite %q, want %q", overlaps, want.overlaps)
				}
				noted := hasNote(rep, "class(es)")
				if !noted {
					t.Errorf("no note on the node classes: %v", rep.Notes)
				}
			})
		}
	}
}

// TestCloudBadExports: a malformed export stops the diagnosis with an error naming its file
// and line (as a trace does); exports of a provider netsim does not read are a note, never
// taken as allowed.
func TestCloudBadExports(t *testing.T) {
	dir := composeCloud(t, "aws", "healthy")
	bad := filepath.Join(dir, "cloud/aws/describe-security-groups.json")
	if err := os.WriteFile(bad, []byte("{\n  \"SecurityGroups\": [\n    {\"GroupId\": \"sg-1\",\n     \"IpPermissions\": [{\"IpProtocol\": \"tcp\", \"FromPort\": \"x\"}]}\n  ]\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(loadBundle(t, dir), Options{}); err == nil || !strings.Contains(err.Error(), "cloud/aws/describe-security-groups.json:4") {
		t.Errorf("malformed export: %v, want an error naming describe-security-groups.json:4", err)
	}

	dir = composeCloud(t, "aws", "healthy")
	if err := os.RemoveAll(filepath.Join(dir, "cloud/aws")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "cloud/othercloud"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cloud/othercloud/vpcs.json"), []byte("[]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := Run(loadBundle(t, dir), Options{})
	if err != nil {
		t.Fatal(err)
	}
	noted := hasNote(rep, "cloud/othercloud exports, which netsim does not read yet")
	if !noted {
		t.Errorf("unread provider not noted: %v", rep.Notes)
	}
}

// TestCloudProviderClasses: beyond the exact limit, the real providers' CloudIdentity
// groups the testbed's nodes: on AWS both nodes share subnet, groups and checks (one
// class, still judged node to node within it), and row 18's node with other groups is a
// class of its own whose security group finding is still made; on Azure node2's public
// IP splits them.
func TestCloudProviderClasses(t *testing.T) {
	defer func(n int) { exactClassLimit = n }(exactClassLimit)
	exactClassLimit = 1
	for _, c := range []struct {
		provider, name string
		classes        int
		code           string
	}{
		{"aws", "healthy", 1, ""},
		{"aws", "row18-sg-no-shared-group", 2, "aws-security-group"},
		{"azure", "healthy", 2, ""},
		{"alibaba", "row18-sg-no-shared-group", 2, "alibaba-security-group"},
	} {
		t.Run(c.provider+"/"+c.name, func(t *testing.T) {
			rep, err := Run(loadBundle(t, composeCloud(t, c.provider, c.name)), Options{})
			if err != nil {
				t.Fatal(err)
			}
			want := fmt.Sprintf("2 node(s) judged as %d class(es): nodes are grouped by the identity %s gives them", c.classes, c.provider)
			noted := hasNote(rep, want)
			if !noted {
				t.Errorf("no note %q: %v", want, rep.Notes)
			}
			found := c.code == ""
			for _, f := range cloudFindings(rep) {
				found = found || (f.Code == c.code && f.Severity == Error)
				if c.code == "" && f.Severity == Error {
					t.Errorf("healthy bundle has an error: %s %s", f.Code, f.Message)
				}
			}
			if !found {
				t.Errorf("no %s error when grouped: %v", c.code, rep.Codes())
			}
		})
	}
}

// TestCloudVPCNative: with the real AWS provider, the pod CIDR (10.244.0.0/16) made a
// secondary CIDR block of the VPC (its own local route, as EKS custom networking does):
// when the nodes' interfaces hold the pods' addresses (the VPC CNI's secondary IPs) the
// pods are VPC-native and nothing overlaps; when no interface holds them, the pod CIDR
// overlapping the VPC's own range is an error citing the local route.
func TestCloudVPCNative(t *testing.T) {
	for _, native := range []bool{true, false} {
		dir := composeCloud(t, "aws", "healthy")
		edit := func(name string, f func(doc map[string]any)) {
			path := filepath.Join(dir, "cloud/aws", name)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var doc map[string]any
			if err := json.Unmarshal(data, &doc); err != nil {
				t.Fatal(err)
			}
			f(doc)
			if data, err = json.MarshalIndent(doc, "", "  "); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		edit("describe-route-tables.json", func(doc map[string]any) {
			for _, rt := range doc["RouteTables"].([]any) {
				rt := rt.(map[string]any)
				routes := []any{map[string]any{"DestinationCidrBlock": "10.244.0.0/16", "GatewayId": "local", "State": "active"}}
				for _, r := range rt["Routes"].([]any) {
					if _, toNode := r.(map[string]any)["InstanceId"]; !toNode {
						routes = append(routes, r)
					}
				}
				rt["Routes"] = routes
			}
		})
		if native {
			edit("describe-network-interfaces.json", func(doc map[string]any) {
				for _, e := range doc["NetworkInterfaces"].([]any) {
					e := e.(map[string]any)
					pod := map[string]string{"10.200.0.11": "10.244.1.2", "10.200.0.12": "10.244.2.2"}[e["PrivateIpAddress"].(string)]
					if pod != "" {
						e["PrivateIpAddresses"] = append(e["PrivateIpAddresses"].([]any), map[string]any{"Primary": false, "PrivateIpAddress": pod})
					}
				}
			})
		}
		rep, err := Run(loadBundle(t, dir), Options{})
		if err != nil {
			t.Fatal(err)
		}
		var got []Finding
		for _, f := range rep.Findings {
			if f.Code == "cloud-cidr-overlap" {
				got = append(got, f)
			}
		}
		switch {
		case native && len(got) != 0:
			t.Errorf("VPC-native pods flagged as an overlap: %+v", got)
		case !native && (len(got) != 1 || got[0].Severity != Error || got[0].Evidence[0].Object != "routetable/rtb-0main00000000001 route 10.244.0.0/16" ||
			!strings.Contains(got[0].Message, "not VPC-native") || !strings.Contains(got[0].Message, "overlaps the VPC's own range")):
			t.Errorf("want one error citing the local route 10.244.0.0/16, got %+v", got)
		}
	}
}
