package diagnose

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netsim/netsim/cloud"
)

// oddCluster adds to the testbed what real bundles hold now and then: a node without
// addresses or pod CIDR, an IPv6-only node, Services without ports, an IPv6 load balancer
// whose source ranges are IPv6 only, and an IPv6 endpoint outside the cluster.
const oddCluster = `---
apiVersion: v1
kind: Node
metadata: {name: node3}
spec: {}
---
apiVersion: v1
kind: Node
metadata: {name: node6}
spec: {podCIDR: "fd00:244:6::/64", podCIDRs: ["fd00:244:6::/64"]}
status:
  addresses: [{address: "fd00:200::16", type: InternalIP}]
---
apiVersion: v1
kind: Service
metadata: {name: lb-noports, namespace: default}
spec: {type: LoadBalancer}
status: {loadBalancer: {ingress: [{ip: 203.0.113.50}]}}
---
apiVersion: v1
kind: Service
metadata: {name: np-noports, namespace: default}
spec: {type: NodePort, externalTrafficPolicy: Local}
---
apiVersion: v1
kind: Service
metadata: {name: lb6, namespace: default}
spec:
  type: LoadBalancer
  loadBalancerSourceRanges: ["2001:db8:1::/48"]
  ports: [{port: 443, protocol: TCP, nodePort: 30443}]
status: {loadBalancer: {ingress: [{ip: "2001:db8:ffff::5"}]}}
---
apiVersion: v1
kind: Service
metadata: {name: db6, namespace: default}
spec:
  clusterIP: None
  ports: [{name: db, port: 5432, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: db6-1
  namespace: default
  labels: {kubernetes.io/service-name: db6}
addressType: IPv6
endpoints:
- addresses: ["2001:db8:50::20"]
  conditions: {ready: true}
ports: [{name: db, port: 5432, protocol: TCP}]
`

// TestCloudOddBundles: nothing panics on odd objects, an empty cloud/ directory is a note,
// and every probe the analysis cannot make is said in the notes.
func TestCloudOddBundles(t *testing.T) {
	dir := composeCloud(t, "aws", "healthy")
	if err := os.WriteFile(filepath.Join(dir, "cluster/odd.yaml"), []byte(oddCluster), 0o644); err != nil {
		t.Fatal(err)
	}
	f := &fakeCloud{}
	withCloud(t, rangedCloud{f})
	rep, err := Run(loadBundle(t, dir), Options{})
	if err != nil {
		t.Fatal(err)
	}
	lb6 := false
	for _, l := range f.legs {
		if l.Packet.Src.IsValid() && l.Packet.Dst.IsValid() && l.Packet.Src.Is4() != l.Packet.Dst.Is4() {
			t.Errorf("a probe mixes address families: %+v", l.Packet)
		}
	}
	for _, fd := range rep.Findings {
		if fd.Code == "cloud-lb-unknown" && strings.Contains(fd.Message, "service/default/lb6") {
			lb6 = true
			// The Service admits 2001:db8:1::/48 only: the probe's client is in it.
			if !strings.HasPrefix(fd.Message, "client 2001:db8:1::1 to service/default/lb6's load balancer [2001:db8:ffff::5]:443") || strings.Contains(fd.Message, "198.51.100.7") {
				t.Errorf("lb6 probed from a client its source ranges do not admit: %s", fd.Message)
			}
		}
	}
	if !lb6 {
		t.Errorf("the IPv6 load balancer the exports do not know is not a warning: %v", rep.Codes())
	}
	for _, want := range []string{
		"service/default/lb-noports has no ports",
		"service/default/np-noports is of type NodePort but lists no node port",
		"node node3 has no address: its pods' traffic to the internet was not checked",
		"node node1 has no address of 2001:db8:50::20's family",
		"pod traffic between 10 pair(s) of nodes was not checked",
	} {
		found := hasNote(rep, want)
		if !found {
			t.Errorf("no note %q: %v", want, rep.Notes)
		}
	}

	// An empty cloud/ directory: a note, not a silent pass.
	dir = composeCloud(t, "aws", "healthy")
	if err := os.RemoveAll(filepath.Join(dir, "cloud/aws")); err != nil {
		t.Fatal(err)
	}
	cloudOpener = nil
	rep, err = Run(loadBundle(t, dir), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !hasNote(rep, "cloud/ holds no export netsim reads") {
		t.Errorf("an empty cloud/ is not noted: %v", rep.Notes)
	}
}

// TestCloudTwoProviders: with exports of two providers, the cloud is judged with the first
// (aws) and the other is said, never silently dropped.
func TestCloudTwoProviders(t *testing.T) {
	dir := composeCloud(t, "aws", "healthy")
	if err := os.CopyFS(filepath.Join(dir, "cloud/gcp"), os.DirFS("../testdata/cloud/gcp/healthy/cloud/gcp")); err != nil {
		t.Fatal(err)
	}
	rep, err := Run(loadBundle(t, dir), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !hasNote(rep, "cloud/gcp was not read: the cloud was judged with cloud/aws's exports only") {
		t.Errorf("the second provider is not noted: %v", rep.Notes)
	}
}

// TestCloudUnmappedNodes: beyond the exact limit, a node the provider's exports do not map
// is grouped by its labels (not a class of its own) and said in the notes.
func TestCloudUnmappedNodes(t *testing.T) {
	defer func(n int) { exactClassLimit = n }(exactClassLimit)
	exactClassLimit = 1
	withCloud(t, &fakeCloud{ident: map[string]string{"node1": "subnet-a"}})
	rep, err := Run(loadBundle(t, "../testdata/faults/healthy.tar.gz"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"2 node(s) judged as 2 class(es)", "1 node(s) are not in the exports and were grouped by their zone, node-pool and role labels instead: node2"} {
		if !hasNote(rep, want) {
			t.Errorf("no note %q: %v", want, rep.Notes)
		}
	}
}

// hasNote reports whether one of the report's notes holds s.
func hasNote(rep *Report, s string) bool {
	for _, n := range rep.Notes {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

// unknownRoute is fakeCloud whose routes to pod addresses are unknown (a route-table export
// missing).
type unknownRoute struct{ rangedCloud }

func (u unknownRoute) Route(l cloud.Leg) ([]cloud.Decision, cloud.Landing) {
	if netip.MustParsePrefix("10.244.0.0/16").Contains(l.Packet.Dst) {
		return []cloud.Decision{{Verdict: cloud.Unknown, Step: "fake route", Code: "cloud-missing-data", Message: "the bundle has no cloud/fake/routes.json", Fix: "add routes.json"}}, cloud.Landing{}
	}
	return u.rangedCloud.Route(l)
}

// TestCloudLocalOverlapUnknown: when the provider cannot say where a pod address inside
// the network's own range goes, the overlap is a warning naming the missing export, not an
// error and not VPC-native.
func TestCloudLocalOverlapUnknown(t *testing.T) {
	vpc := cloud.RoutedRange{Prefix: netip.MustParsePrefix("10.0.0.0/8"), Local: true, Where: "the VPC", Object: "vpc/v1"}
	withCloud(t, unknownRoute{rangedCloud{&fakeCloud{ranges: []cloud.RoutedRange{vpc}}}})
	rep, err := Run(loadBundle(t, "../testdata/faults/healthy.tar.gz"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, fd := range rep.Findings {
		if strings.HasPrefix(fd.Message, "pod CIDR 10.244.0.0/16 overlaps 10.0.0.0/8") {
			n++
			if fd.Severity != Warning || fd.Code != "cloud-missing-data" || !strings.Contains(fd.Message, "routes.json") || fd.Fix != "add routes.json" {
				t.Errorf("want a warning naming the missing export: %+v", fd)
			}
		}
		if fd.Code == "cloud-cidr-overlap" && strings.Contains(fd.Message, "pod CIDR") {
			t.Errorf("an unknown route made an overlap error: %s", fd.Message)
		}
	}
	if n != 1 {
		t.Errorf("want one gap for the pod CIDR, got %d: %v", n, rep.Codes())
	}
}

// TestCloudNoPodPorts: without a Service targeting pods, the native pod traffic has no port
// to probe: a note says so instead of nothing.
func TestCloudNoPodPorts(t *testing.T) {
	dir := composeCloud(t, "aws", "healthy")
	for _, f := range []string{"cluster/services.yaml", "cluster/endpointslices.yaml"} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	withCloud(t, &fakeCloud{})
	rep, err := Run(loadBundle(t, dir), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !hasNote(rep, "no Service targets a port on pods") {
		t.Errorf("no note on the unprobed pod traffic: %v", rep.Notes)
	}
}

// TestCloudPodCIDRAcrossReservedRange: a pod CIDR that spills over a range the network
// reserves for the cluster (GKE's services secondary range inside it) is not waved through
// as reserved: where the network holds no pod address it is an overlap error citing the
// reserved range.
func TestCloudPodCIDRAcrossReservedRange(t *testing.T) {
	svcs := cloud.RoutedRange{Prefix: netip.MustParsePrefix("10.244.128.0/17"), Local: true, Pods: true, Where: "subnetwork s", Object: "subnetwork/s secondary range services"}
	inPods := func(l cloud.Leg) bool { return netip.MustParsePrefix("10.244.0.0/16").Contains(l.Packet.Dst) }
	withCloud(t, rangedCloud{&fakeCloud{ranges: []cloud.RoutedRange{svcs}, lost: inPods}})
	rep, err := Run(loadBundle(t, "../testdata/faults/healthy.tar.gz"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, fd := range rep.Findings {
		if fd.Code == "cloud-cidr-overlap" && fd.Evidence[0].Object == svcs.Object && strings.HasPrefix(fd.Message, "pod CIDR 10.244.0.0/16") && fd.Severity == Error {
			found = true
		}
	}
	if !found {
		t.Errorf("no overlap error citing %s: %v", svcs.Object, rep.Findings)
	}
}
