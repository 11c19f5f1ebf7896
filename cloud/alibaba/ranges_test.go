package alibaba

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/netsim/netsim/cloud"
	"github.com/netsim/netsim/cloud/cloudtest"
)

// testbedNodes are the nodes of testdata/bundles/two-node-iptables, which the cloud test
// bundles are laid over.
var testbedNodes = []cloud.Node{
	{Name: "node1", ProviderID: "cn-hangzhou.i-bp1node1aaaaaaaaaa1", Addrs: []netip.Addr{netip.MustParseAddr("10.200.0.11")}, PodCIDRs: []netip.Prefix{netip.MustParsePrefix("10.244.1.0/24")}},
	{Name: "node2", ProviderID: "cn-hangzhou.i-bp1node2bbbbbbbbbb2", Addrs: []netip.Addr{netip.MustParseAddr("10.200.0.12")}, PodCIDRs: []netip.Prefix{netip.MustParsePrefix("10.244.2.0/24")}},
}

// bundleProvider opens testdata/cloud/alibaba/NAME's exports over the testbed's nodes.
func bundleProvider(t *testing.T, name string) *Provider {
	t.Helper()
	return New(cloudtest.ParseBundle(t, "alibaba", name, Parse), testbedNodes, cloudtest.TestbedPodCIDRs)
}

// TestAlibabaRoutedRanges: the vSwitches of the nodes' VPC are Local (row 24's legacy
// vSwitch over the pod CIDR among them), the VPN and router-interface routes lead
// elsewhere; the Flannel routes to the nodes and the default route are not listed.
func TestAlibabaRoutedRanges(t *testing.T) {
	const (
		nodes  = "10.200.0.0/24 local @cloud/alibaba/DescribeVSwitches.json:8 vswitch/vsw-bp1nodes000000001"
		public = "10.200.1.0/24 local @cloud/alibaba/DescribeVSwitches.json:17 vswitch/vsw-bp1public00000001"
		vpn    = "172.16.0.0/16 -> the on-premises network (VPN) through VpnGateway vpn-bp1idc0000000001 @cloud/alibaba/DescribeRouteEntryList/vtb-bp1system0000001.json:%d routetable/vtb-bp1system0000001 route 172.16.0.0/16"
	)
	for name, want := range map[string][]string{
		"healthy":                 {nodes, public, fmt.Sprintf(vpn, 52)},
		"row19-route-missing-idc": {nodes, public, "10.50.0.0/16 -> a peer VPC or a virtual border router (Express Connect) through RouterInterface ri-bp1peer00000000001 @cloud/alibaba/DescribeRouteEntryList/vtb-bp1system0000001.json:76 routetable/vtb-bp1system0000001 route 10.50.0.0/16"},
		"row24-pod-cidr-overlap": {nodes, "10.200.1.0/24 local @cloud/alibaba/DescribeVSwitches.json:20 vswitch/vsw-bp1public00000001",
			"10.244.0.0/17 local @cloud/alibaba/DescribeVSwitches.json:32 vswitch/vsw-bp1legacy00000001", fmt.Sprintf(vpn, 49)},
	} {
		t.Run(name, func(t *testing.T) {
			got := cloudtest.RangeLines(bundleProvider(t, name).RoutedRanges())
			cloudtest.SameLines(t, got, want)
		})
	}
}

// TestAlibabaCloudIdentity: the testbed's nodes share VPC, vSwitch and group, but node2
// has a public IP: two classes; row 18 gives node2 another group.
func TestAlibabaCloudIdentity(t *testing.T) {
	for _, c := range []struct {
		bundle string
		same   bool
	}{{"healthy", false}, {"row18-sg-no-shared-group", false}} {
		p := bundleProvider(t, c.bundle)
		a, okA := p.CloudIdentity("node1")
		b, okB := p.CloudIdentity("node2")
		if !okA || !okB || (a == b) != c.same || a != "vpc-bp1cluster00000001/vsw-bp1nodes000000001 sg-bp1nodes00000001 public=false" {
			t.Errorf("%s: node1 %q, node2 %q, want same=%v", c.bundle, a, b, c.same)
		}
		if _, ok := p.CloudIdentity("node9"); ok {
			t.Errorf("%s: an unmapped node has an identity", c.bundle)
		}
	}
}
