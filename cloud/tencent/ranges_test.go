package tencent

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
	{Name: "node1", ProviderID: "qcloud:///800002/ins-node1aaa", Addrs: []netip.Addr{netip.MustParseAddr("10.200.0.11")}, PodCIDRs: []netip.Prefix{netip.MustParsePrefix("10.244.1.0/24")}},
	{Name: "node2", ProviderID: "qcloud:///800002/ins-node2bbb", Addrs: []netip.Addr{netip.MustParseAddr("10.200.0.12")}, PodCIDRs: []netip.Prefix{netip.MustParsePrefix("10.244.2.0/24")}},
}

// bundleProvider opens testdata/cloud/tencent/NAME's exports over the testbed's nodes.
func bundleProvider(t *testing.T, name string) *Provider {
	t.Helper()
	return New(cloudtest.ParseBundle(t, "tencent", name, Parse), testbedNodes, cloudtest.TestbedPodCIDRs)
}

// TestTencentRoutedRanges: the subnets of the nodes' VPC are Local; the Direct Connect
// route leads elsewhere, and so does row 24's CCN route over the pod CIDR; the
// GlobalRouter routes to the nodes (NORMAL_CVM), row 19's disabled route and the default
// route are not listed.
func TestTencentRoutedRanges(t *testing.T) {
	const (
		nodes = "10.200.0.0/24 local @cloud/tencent/DescribeSubnets.json:5 subnet/subnet-nodes01"
		db    = "10.200.8.0/24 local @cloud/tencent/DescribeSubnets.json:6 subnet/subnet-db00001"
		dc    = "172.16.0.0/16 -> the on-premises network (Direct Connect gateway) through DIRECTCONNECT dcg-idc00001 @cloud/tencent/DescribeRouteTables.json:%d routetable/rtb-main0001 route 172.16.0.0/16"
	)
	for name, want := range map[string][]string{
		"healthy":                  {nodes, db, fmt.Sprintf(dc, 16)},
		"row19-idc-route-disabled": {nodes, db},
		"row24-pod-cidr-overlap-ccn": {nodes, db, fmt.Sprintf(dc, 15),
			"10.244.0.0/16 -> a network of the Cloud Connect Network through CCN ccn-shared01 @cloud/tencent/DescribeRouteTables.json:14 routetable/rtb-main0001 route 10.244.0.0/16"},
	} {
		t.Run(name, func(t *testing.T) {
			got := cloudtest.RangeLines(bundleProvider(t, name).RoutedRanges())
			cloudtest.SameLines(t, got, want)
		})
	}
}
