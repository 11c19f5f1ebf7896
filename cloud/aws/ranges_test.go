package aws

import (
	"net/netip"
	"testing"

	"github.com/netsim/netsim/cloud"
	"github.com/netsim/netsim/cloud/cloudtest"
)

// testbedNodes are the nodes of testdata/bundles/two-node-iptables, which the cloud test
// bundles are laid over.
var testbedNodes = []cloud.Node{
	{Name: "node1", ProviderID: "aws:///us-east-1a/i-0node1aaaaaaaaaa1", Addrs: []netip.Addr{netip.MustParseAddr("10.200.0.11")}, PodCIDRs: []netip.Prefix{netip.MustParsePrefix("10.244.1.0/24")}},
	{Name: "node2", ProviderID: "aws:///us-east-1b/i-0node2bbbbbbbbbb2", Addrs: []netip.Addr{netip.MustParseAddr("10.200.0.12")}, PodCIDRs: []netip.Prefix{netip.MustParsePrefix("10.244.2.0/24")}},
}

// bundleProvider opens testdata/cloud/aws/NAME's exports over the testbed's nodes.
func bundleProvider(t *testing.T, name string) *Provider {
	t.Helper()
	return New(cloudtest.ParseBundle(t, "aws", name, Parse), testbedNodes, cloudtest.TestbedPodCIDRs)
}

// TestAWSRoutedRanges: the ranges of the nodes' VPC from the test bundles' route tables:
// its local route, and the peering and VPN routes (row 19's database VPC and office,
// row 24's legacy VPC whose 10.244.0.0/16 is the pod CIDR); never the default routes, the
// peer VPC's own table, or the host-gw routes to the nodes' interfaces (10.244.1.0/24).
func TestAWSRoutedRanges(t *testing.T) {
	const local = "10.200.0.0/16 local @cloud/aws/describe-route-tables.json:17 routetable/rtb-0main00000000001 route 10.200.0.0/16"
	for name, want := range map[string][]string{
		"healthy": {local},
		"row19-route-missing-idc-peer": {
			local,
			"10.50.0.0/16 -> vpc-0database0000001 through VPC peering pcx-0database000001 @cloud/aws/describe-route-tables.json:45 routetable/rtb-0main00000000001 route 10.50.0.0/16",
			"192.168.0.0/16 -> virtual private gateway vgw-0onprem00000001 @cloud/aws/describe-route-tables.json:39 routetable/rtb-0main00000000001 route 192.168.0.0/16",
		},
		"row24-pod-cidr-overlap": {
			local,
			"10.244.0.0/16 -> vpc-0legacy00000001 through VPC peering pcx-0legacy00000001 @cloud/aws/describe-route-tables.json:23 routetable/rtb-0main00000000001 route 10.244.0.0/16",
		},
	} {
		t.Run(name, func(t *testing.T) {
			got := cloudtest.RangeLines(bundleProvider(t, name).RoutedRanges())
			cloudtest.SameLines(t, got, want)
		})
	}
}

// TestAWSCloudIdentity: the testbed's two nodes sit in one subnet with the same groups;
// row 18 gives node2 other groups, and row 5 turns node1's source/destination check on:
// each difference splits the class.
func TestAWSCloudIdentity(t *testing.T) {
	for _, c := range []struct {
		bundle string
		same   bool
	}{{"healthy", true}, {"row18-sg-no-shared-group", false}, {"row05-source-dest-check", false}} {
		p := bundleProvider(t, c.bundle)
		a, okA := p.CloudIdentity("node1")
		b, okB := p.CloudIdentity("node2")
		if !okA || !okB || (a == b) != c.same {
			t.Errorf("%s: node1 %q, node2 %q, want same=%v", c.bundle, a, b, c.same)
		}
		if _, ok := p.CloudIdentity("node9"); ok {
			t.Errorf("%s: an unmapped node has an identity", c.bundle)
		}
	}
}
