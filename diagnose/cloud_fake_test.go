package diagnose

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netsim/netsim/cloud"
	"github.com/netsim/netsim/model"
	"github.com/netsim/netsim/model/source"
	"github.com/netsim/netsim/rules/packet"
)

// fakeCloud is a provider whose only rules are the test's: it denies what deny matches at
// the receiving NIC, says unknown to the internet, and records every leg it judged.
type fakeCloud struct {
	deny func(p packet.Packet) bool
	// lost says which legs the network delivers nowhere (a pod address it does not hold).
	lost   func(l cloud.Leg) bool
	ranges []cloud.RoutedRange
	ident  map[string]string
	legs   []cloud.Leg
}

func (f *fakeCloud) Name() string { return "fake" }
func (f *fakeCloud) Egress(l cloud.Leg) []cloud.Decision {
	f.legs = append(f.legs, l)
	if l.Packet.Dst == netip.MustParseAddr(internetProbe) {
		return []cloud.Decision{{Verdict: cloud.Unknown, Step: "fake egress", Code: "cloud-missing-data", Message: "no nat.json"}}
	}
	return []cloud.Decision{{Step: "fake egress", Action: "allow"}}
}
func (f *fakeCloud) Route(l cloud.Leg) ([]cloud.Decision, cloud.Landing) {
	if f.lost != nil && f.lost(l) {
		return []cloud.Decision{{Verdict: cloud.NoRoute, Step: "fake route", Code: "fake-no-interface", Object: "vpc/v1 local route",
			Message: "no interface holds " + l.Packet.Dst.String()}}, cloud.Landing{}
	}
	return []cloud.Decision{{Step: "fake route", Action: "route"}}, cloud.Landing{Node: l.To, Beyond: "elsewhere"}
}
func (f *fakeCloud) Ingress(l cloud.Leg) []cloud.Decision {
	if f.deny != nil && f.deny(l.Packet) {
		return []cloud.Decision{{Verdict: cloud.Deny, Step: "fake ingress", Code: "fake-firewall", Object: "firewall/overlay rule 1",
			Pos: source.Pos{File: "cloud/fake/firewall.json", Line: 7}, Message: "firewall/overlay admits nothing on " + packet.ProtoName(l.Packet.Proto) + fmt.Sprint(" ", l.Packet.DPort),
			Fix: "allow it"}}
	}
	return []cloud.Decision{{Step: "fake ingress", Action: "allow"}}
}
func (f *fakeCloud) Inbound(p packet.Packet) ([]cloud.Entry, bool) { return nil, false }
func (f *fakeCloud) CloudIdentity(node string) (string, bool) {
	id, ok := f.ident[node]
	return id, ok
}

// rangedCloud adds CloudRanges to fakeCloud.
type rangedCloud struct{ *fakeCloud }

func (r rangedCloud) RoutedRanges() []cloud.RoutedRange { return r.ranges }

// plainCloud is fakeCloud without the optional interfaces.
type plainCloud struct{ f *fakeCloud }

func (p plainCloud) Name() string                                        { return p.f.Name() }
func (p plainCloud) Egress(l cloud.Leg) []cloud.Decision                 { return p.f.Egress(l) }
func (p plainCloud) Route(l cloud.Leg) ([]cloud.Decision, cloud.Landing) { return p.f.Route(l) }
func (p plainCloud) Ingress(l cloud.Leg) []cloud.Decision                { return p.f.Ingress(l) }
func (p plainCloud) Inbound(pk packet.Packet) ([]cloud.Entry, bool)      { return p.f.Inbound(pk) }

func withCloud(t *testing.T, p cloud.Provider) {
	cloudOpener = func(*model.Cluster) (cloud.Provider, []string, error) { return p, nil, nil }
	t.Cleanup(func() { cloudOpener = nil })
}

// TestCloudOverlayOuterPacket: on a VXLAN cluster (flannel, the vxlan-healthy testbed) the
// cloud sees only the encapsulated packet, node to node on UDP 8472, whatever the pods'
// ports: a firewall that drops it is one error naming the rule, and the pod ports are not
// probed natively.
func TestCloudOverlayOuterPacket(t *testing.T) {
	f := &fakeCloud{deny: func(p packet.Packet) bool { return p.Proto == packet.UDP && p.DPort == 8472 }}
	withCloud(t, plainCloud{f})
	rep, err := Run(loadBundle(t, "../testdata/faults/vxlan-healthy.tar.gz"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []Finding
	for _, fd := range rep.Findings {
		if fd.Code == "fake-firewall" {
			got = append(got, fd)
		}
	}
	if len(got) != 1 || got[0].Severity != Error || got[0].Evidence[0].Object != "firewall/overlay rule 1" ||
		got[0].Evidence[0].File != "cloud/fake/firewall.json" || got[0].Evidence[0].Line != 7 ||
		!strings.Contains(got[0].Message, "VXLAN (UDP 8472") {
		t.Fatalf("want one error citing firewall/overlay rule 1 for the VXLAN packet, got %+v", got)
	}
	for _, l := range f.legs {
		if l.To != "" && l.Packet.Dst.Is4() && l.Packet.Dst.As4()[0] == 10 && l.Packet.Dst.As4()[1] == 244 {
			t.Errorf("a pod address was put on the wire of a VXLAN cluster: %+v", l.Packet)
		}
	}
	// The internet probe is unknown: a warning, never an allow.
	unknown := false
	for _, fd := range rep.Findings {
		unknown = unknown || (fd.Code == "cloud-missing-data" && fd.Severity == Warning && strings.Contains(fd.Message, "to the internet"))
	}
	if !unknown {
		t.Errorf("the unknown internet route is not a warning: %v", rep.Codes())
	}
}

// TestCloudNativePodPorts: on the host-gw testbed the pod packet itself crosses the cloud,
// on every port a Service targets (8080 TCP, 5353 UDP): a rule denying UDP alone is found.
func TestCloudNativePodPorts(t *testing.T) {
	f := &fakeCloud{deny: func(p packet.Packet) bool { return p.Proto == packet.UDP && p.DPort == 5353 && p.Src.As4()[1] == 244 }}
	withCloud(t, plainCloud{f})
	rep, err := Run(loadBundle(t, "../testdata/faults/healthy.tar.gz"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, fd := range rep.Findings {
		if fd.Code == "fake-firewall" {
			n++
			if !strings.Contains(fd.Message, "UDP 5353") || !strings.Contains(fd.Message, "1 more probe") {
				t.Errorf("want both directions of pod UDP 5353 in one finding: %s", fd.Message)
			}
		}
	}
	if n != 1 {
		t.Errorf("want one finding for the UDP rule, got %d: %v", n, rep.Codes())
	}
}

// TestCloudClassesAndRanges: beyond exactClassLimit nodes a provider's identity groups
// nodes (one class: one pair of nodes probed), and its routed ranges are compared with the
// pod and Service CIDRs.
func TestCloudClassesAndRanges(t *testing.T) {
	defer func(n int) { exactClassLimit = n }(exactClassLimit)
	exactClassLimit = 1
	f := &fakeCloud{ident: map[string]string{"node1": "subnet-a/sg-1", "node2": "subnet-a/sg-1"},
		ranges: []cloud.RoutedRange{
			{Prefix: netip.MustParsePrefix("10.200.0.0/16"), Local: true, Where: "the VPC", Object: "vpc/v1", Pos: source.Pos{File: "cloud/fake/vpc.json", Line: 2}},
			{Prefix: netip.MustParsePrefix("10.244.128.0/17"), Where: "vpc-legacy through pcx-1", Object: "route 10.244.128.0/17", Pos: source.Pos{File: "cloud/fake/routes.json", Line: 9}},
			{Prefix: netip.MustParsePrefix("10.96.0.0/12"), Where: "on-premises through vgw-1", Object: "route 10.96.0.0/12", Pos: source.Pos{File: "cloud/fake/routes.json", Line: 14}},
		}}
	withCloud(t, rangedCloud{f})
	rep, err := Run(loadBundle(t, "../testdata/faults/healthy.tar.gz"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var pod, svc bool
	for _, fd := range rep.Findings {
		if fd.Code != "cloud-cidr-overlap" {
			continue
		}
		if fd.Severity != Error {
			t.Errorf("overlap is not an error: %+v", fd)
		}
		pod = pod || (strings.Contains(fd.Message, "pod CIDR 10.244.0.0/16") && fd.Evidence[0].Object == "route 10.244.128.0/17")
		svc = svc || (strings.Contains(fd.Message, "Service CIDR") && fd.Evidence[0].Object == "route 10.96.0.0/12")
		if strings.Contains(fd.Message, "10.200.0.0/16") {
			t.Errorf("the VPC's own range is not an overlap for the pod CIDR: %s", fd.Message)
		}
	}
	if !pod || !svc {
		t.Errorf("want pod and Service CIDR overlaps, got pod=%v svc=%v: %v", pod, svc, rep.Findings)
	}
	class := hasNote(rep, "2 node(s) judged as 1 class(es)")
	if !class {
		t.Errorf("the provider's identity did not make one class: %v", rep.Notes)
	}
	pairs := map[string]bool{}
	for _, l := range f.legs {
		if l.From != "" && l.To != "" && l.Packet.Src.Is4() && l.Packet.Src.As4()[1] == 244 {
			pairs[l.From+" -> "+l.To] = true
		}
	}
	if len(pairs) != 1 {
		t.Errorf("one class is one pair of nodes probed for pod traffic, got %v", pairs)
	}
}

// TestCloudLocalOverlap: a pod CIDR inside the network's own range is VPC-native when the
// network delivers a pod's address to its node (no finding), and an error otherwise
// (hosts of the range and pods collide); a Service CIDR inside the network's own range is
// an error, unless the range is one the network reserves for the cluster (Pods).
func TestCloudLocalOverlap(t *testing.T) {
	vpc := cloud.RoutedRange{Prefix: netip.MustParsePrefix("10.0.0.0/8"), Local: true, Where: "the VPC", Object: "vpc/v1", Pos: source.Pos{File: "cloud/fake/vpc.json", Line: 2}}
	svcRange := cloud.RoutedRange{Prefix: netip.MustParsePrefix("10.96.0.0/12"), Local: true, Pods: true, Where: "the services range", Object: "subnet/s services", Pos: source.Pos{File: "cloud/fake/subnets.json", Line: 4}}
	inPods := func(l cloud.Leg) bool { return netip.MustParsePrefix("10.244.0.0/16").Contains(l.Packet.Dst) }
	for _, c := range []struct {
		name   string
		ranges []cloud.RoutedRange
		lost   func(cloud.Leg) bool
		want   []string // "pod" and/or "svc": the overlaps reported
	}{
		{"VPC-native: the network delivers the pods' addresses", []cloud.RoutedRange{vpc, svcRange}, nil, nil},
		{"overlay inside the VPC's range: the network holds no pod address", []cloud.RoutedRange{vpc, svcRange}, inPods, []string{"pod"}},
		{"the Service CIDR in the VPC's own range", []cloud.RoutedRange{vpc}, nil, []string{"svc"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			withCloud(t, rangedCloud{&fakeCloud{ranges: c.ranges, lost: c.lost}})
			rep, err := Run(loadBundle(t, "../testdata/faults/healthy.tar.gz"), Options{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, fd := range rep.Findings {
				if fd.Code != "cloud-cidr-overlap" {
					continue
				}
				if fd.Severity != Error || fd.Evidence[0].Object != "vpc/v1" || fd.Evidence[0].File != "cloud/fake/vpc.json" {
					t.Errorf("want an error citing vpc/v1 at cloud/fake/vpc.json: %+v", fd)
				}
				switch {
				case strings.HasPrefix(fd.Message, "pod CIDR 10.244.0.0/16") && strings.Contains(fd.Message, "not VPC-native") && strings.Contains(fd.Message, "no interface holds 10.244."):
					got = append(got, "pod")
				case strings.HasPrefix(fd.Message, "Service CIDR 10.96.0.0/") && strings.Contains(fd.Message, "its own range"):
					got = append(got, "svc")
				default:
					t.Errorf("unexpected overlap: %s", fd.Message)
				}
			}
			if strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Errorf("overlaps %v, want %v", got, c.want)
			}
		})
	}
}

// TestCloudServiceCIDRFromAPIServer: without serviceCIDRs in the manifest or ServiceCIDR
// objects, kube-apiserver's --service-cluster-ip-range (its static pod in the bundle) is
// the Service CIDR compared, cited at the pod; with none of them it is a note, never a
// silent pass.
func TestCloudServiceCIDRFromAPIServer(t *testing.T) {
	onprem := cloud.RoutedRange{Prefix: netip.MustParsePrefix("10.96.0.0/12"), Where: "on-premises through vgw-1", Object: "route 10.96.0.0/12", Pos: source.Pos{File: "cloud/fake/routes.json", Line: 14}}
	for _, withPod := range []bool{true, false} {
		dir := composeCloud(t, "aws", "healthy")
		if err := os.RemoveAll(filepath.Join(dir, "cloud")); err != nil {
			t.Fatal(err)
		}
		m, err := os.ReadFile(filepath.Join(dir, "manifest.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		trimmed := strings.Replace(string(m), "serviceCIDRs: [10.96.0.0/16]\n", "", 1)
		if trimmed == string(m) {
			t.Fatal("manifest.yaml: serviceCIDRs not found")
		}
		if err := os.WriteFile(filepath.Join(dir, "manifest.yaml"), []byte(trimmed), 0o644); err != nil {
			t.Fatal(err)
		}
		if withPod {
			pod := `apiVersion: v1
kind: Pod
metadata: {name: kube-apiserver-node1, namespace: kube-system}
spec:
  hostNetwork: true
  nodeName: node1
  containers:
  - name: kube-apiserver
    image: registry.k8s.io/kube-apiserver:v1.34.4
    command:
    - kube-apiserver
    - --advertise-address=10.200.0.11
    - --service-cluster-ip-range=10.96.0.0/16
`
			if err := os.WriteFile(filepath.Join(dir, "cluster/apiserver.yaml"), []byte(pod), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		withCloud(t, rangedCloud{&fakeCloud{ranges: []cloud.RoutedRange{onprem}}})
		rep, err := Run(loadBundle(t, dir), Options{})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, fd := range rep.Findings {
			if fd.Code == "cloud-cidr-overlap" {
				found = true
				if !withPod || len(fd.Evidence) < 2 || fd.Evidence[1].Object != "pod/kube-system/kube-apiserver-node1" ||
					fd.Evidence[1].File != "cluster/apiserver.yaml" || !strings.Contains(fd.Evidence[1].Text, "--service-cluster-ip-range=10.96.0.0/16") {
					t.Errorf("withPod=%v: %+v", withPod, fd)
				}
			}
		}
		noted := hasNote(rep, "does not say the Service CIDR")
		if found != withPod || noted == withPod {
			t.Errorf("withPod=%v: overlap found %v, noted %v: %v", withPod, found, noted, rep.Notes)
		}
	}
}
