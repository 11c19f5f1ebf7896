package gcp

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/netsim/netsim/cloud"
	"github.com/netsim/netsim/cloud/cloudtest"
)

// testbedNodes are the nodes of testdata/bundles/two-node-iptables, which the cloud test
// bundles are laid over.
var testbedNodes = []cloud.Node{
	{Name: "node1", ProviderID: "gce://netsim/us-central1-a/gke-netsim-pool-node1", Addrs: []netip.Addr{netip.MustParseAddr("10.200.0.11")}, PodCIDRs: []netip.Prefix{netip.MustParsePrefix("10.244.1.0/24")}},
	{Name: "node2", ProviderID: "gce://netsim/us-central1-a/gke-netsim-pool-node2", Addrs: []netip.Addr{netip.MustParseAddr("10.200.0.12")}, PodCIDRs: []netip.Prefix{netip.MustParsePrefix("10.244.2.0/24")}},
}

// bundleProvider opens testdata/cloud/gcp/NAME's exports over the testbed's nodes.
func bundleProvider(t *testing.T, name string) *Provider {
	t.Helper()
	return New(cloudtest.ParseBundle(t, "gcp", name, Parse), testbedNodes, cloudtest.TestbedPodCIDRs)
}

// TestGCPRoutedRanges: the test bundles' subnet routes are Local, the VPC-native pod range
// (it holds the nodes' alias ranges) marked Pods; row 24's peering route over the pod
// CIDR leads elsewhere, and its routes-based pod route to node1 is the cluster's own.
func TestGCPRoutedRanges(t *testing.T) {
	const nodes = "10.200.0.0/24 local @cloud/gcp/routes.json:9 route/default-route-subnet-nodes"
	const pods = "10.244.0.0/16 local pods @cloud/gcp/routes.json:16 route/default-route-subnet-nodes-pods"
	for name, want := range map[string][]string{
		"healthy":                    {nodes, pods},
		"row19-route-missing-onprem": {nodes, pods},
		"row24-pod-cidr-peering": {
			"10.200.0.0/24 local @cloud/gcp/routes.json:3 route/default-route-subnet-nodes",
			"10.244.0.0/16 -> the peered network through peering legacy-vpc-peering @cloud/gcp/routes.json:5 route/peering-route-legacy-10-244",
		},
	} {
		t.Run(name, func(t *testing.T) {
			got := cloudtest.RangeLines(bundleProvider(t, name).RoutedRanges())
			cloudtest.SameLines(t, got, want)
		})
	}
}

// TestGCPRoutedRangesSubnets: with subnets.json, the ranges are cited there (secondary
// ranges marked Pods, a subnet route of the same range not repeated); a VPN, an
// appliance, a peered network's subnet route lead elsewhere; another network's routes
// and the default route are not the nodes' network's.
func TestGCPRoutedRangesSubnets(t *testing.T) {
	x := parse(t, map[string]string{FileInstances: instances,
		FileSubnets: `[{"name": "s", "network": "x/networks/vpc", "ipCidrRange": "10.0.0.0/24",
 "secondaryIpRanges": [{"rangeName": "pods", "ipCidrRange": "10.4.0.0/16"}, {"rangeName": "services", "ipCidrRange": "10.8.0.0/20"}]}]`,
		FileRoutes: `[
 {"name": "sub", "network": "x/networks/vpc", "destRange": "10.0.0.0/24", "nextHopNetwork": "x/networks/vpc"},
 {"name": "peer-sub", "network": "x/networks/vpc", "destRange": "10.50.0.0/16", "nextHopNetwork": "x/networks/peer"},
 {"name": "onprem", "network": "x/networks/vpc", "destRange": "172.16.0.0/12", "nextHopVpnTunnel": "r/vpnTunnels/t1"},
 {"name": "fw", "network": "x/networks/vpc", "destRange": "192.168.0.0/16", "nextHopInstance": "z/instances/c"},
 {"name": "to-a", "network": "x/networks/vpc", "destRange": "10.9.9.0/24", "nextHopInstance": "z/instances/a"},
 {"name": "other", "network": "x/networks/other", "destRange": "10.60.0.0/16", "nextHopPeering": "p"},
 {"name": "default", "network": "x/networks/vpc", "destRange": "0.0.0.0/0", "nextHopGateway": "g/default-internet-gateway"}]`})
	got := cloudtest.RangeLines(New(x, nodes(), nil).RoutedRanges())
	want := []string{
		"10.0.0.0/24 local @cloud/gcp/subnets.json:1 subnetwork/s",
		"10.4.0.0/16 local pods @cloud/gcp/subnets.json:1 subnetwork/s secondary range pods",
		"10.8.0.0/20 local pods @cloud/gcp/subnets.json:1 subnetwork/s secondary range services",
		"10.50.0.0/16 -> network peer @cloud/gcp/routes.json:3 route/peer-sub",
		"172.16.0.0/12 -> VPN tunnel t1 @cloud/gcp/routes.json:4 route/onprem",
		"192.168.0.0/16 -> instance c @cloud/gcp/routes.json:5 route/fw",
	}
	cloudtest.SameLines(t, got, want)
}

// TestGCPCloudIdentity: the testbed's nodes share network, tags and service account, but
// node2 has an external IP (its own way to the internet): two classes; row 18 gives them
// different tags.
func TestGCPCloudIdentity(t *testing.T) {
	for _, c := range []struct {
		bundle string
		same   bool
	}{{"healthy", false}, {"row18-firewall-tags-not-shared", false}} {
		p := bundleProvider(t, c.bundle)
		a, okA := p.CloudIdentity("node1")
		b, okB := p.CloudIdentity("node2")
		if !okA || !okB || (a == b) != c.same || !strings.Contains(a, "netsim-vpc/nodes tags=") {
			t.Errorf("%s: node1 %q, node2 %q, want same=%v", c.bundle, a, b, c.same)
		}
		if _, ok := p.CloudIdentity("node9"); ok {
			t.Errorf("%s: an unmapped node has an identity", c.bundle)
		}
	}
	p := New(parse(t, map[string]string{FileInstances: instances}), []cloud.Node{
		{Name: "x", Addrs: []netip.Addr{netip.MustParseAddr("10.0.0.2")}}, {Name: "y", ProviderID: "gce://p/z/a"}}, nil)
	if a, _ := p.CloudIdentity("x"); a == "" {
		t.Error("node x is not mapped")
	} else if b, _ := p.CloudIdentity("y"); a != b {
		t.Errorf("one instance, two identities: %q %q", a, b)
	}
}
