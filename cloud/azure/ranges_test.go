package azure

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
	{Name: "node1", ProviderID: "azure:///subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/MC_netsim_aks_westeurope/providers/Microsoft.Compute/virtualMachines/aks-nodepool1-node1", Addrs: []netip.Addr{netip.MustParseAddr("10.200.0.11")}, PodCIDRs: []netip.Prefix{netip.MustParsePrefix("10.244.1.0/24")}},
	{Name: "node2", ProviderID: "azure:///subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/MC_netsim_aks_westeurope/providers/Microsoft.Compute/virtualMachines/aks-nodepool1-node2", Addrs: []netip.Addr{netip.MustParseAddr("10.200.0.12")}, PodCIDRs: []netip.Prefix{netip.MustParsePrefix("10.244.2.0/24")}},
}

// bundleProvider opens testdata/cloud/azure/NAME's exports over the testbed's nodes.
func bundleProvider(t *testing.T, name string) *Provider {
	t.Helper()
	return New(cloudtest.ParseBundle(t, "azure", name, Parse), testbedNodes, cloudtest.TestbedPodCIDRs)
}

// TestAzureRoutedRanges: the VNet's address space is Local; row 24's Connected peering
// to the legacy VNet (10.244.0.0/16, the pod CIDR) leads elsewhere; the kubenet routes to
// the nodes and row 21's default route to a firewall are not listed.
func TestAzureRoutedRanges(t *testing.T) {
	const vnet = "10.200.0.0/16 local @cloud/azure/vnet-list.json:2 virtualnetwork/aks-vnet address space 10.200.0.0/16"
	for name, want := range map[string][]string{
		"healthy":                    {vnet},
		"row21-egress-firewall-gone": {vnet},
		"row24-pod-cidr-overlaps-peer": {vnet,
			"10.244.0.0/16 -> the peered VNet through peering to-legacy @cloud/azure/vnet-list.json:44 virtualnetwork/aks-vnet peering to-legacy"},
	} {
		t.Run(name, func(t *testing.T) {
			got := cloudtest.RangeLines(bundleProvider(t, name).RoutedRanges())
			cloudtest.SameLines(t, got, want)
		})
	}
}

// TestAzureRoutedRangesUDR: user-defined routes of the nodes' subnet: a gateway route, an
// appliance outside the nodes and a specific internet route lead elsewhere; the pod
// routes to the nodes, a None route and the default route do not; a disconnected
// peering adds nothing.
func TestAzureRoutedRangesUDR(t *testing.T) {
	x := fixture()
	rt := x.RouteTables[normID(rtID)]
	rt.Routes = append(rt.Routes, udr("onprem", "172.16.0.0/12", HopGateway, ""), udr("hub", "192.168.0.0/16", HopAppliance, "10.9.0.4"),
		udr("drop", "10.99.0.0/16", HopNone, ""), udr("web", "203.0.113.0/24", HopInternet, ""), udr("default", "0.0.0.0/0", HopAppliance, "10.9.0.4"))
	x.VNets[0].Peerings = []*Peering{{Name: "off", State: "Disconnected", RemoteSpace: pfx("10.50.0.0/16")}}
	got := cloudtest.RangeLines(provider(x).RoutedRanges())
	want := []string{
		"10.0.0.0/16 local @cloud/azure/vnet-list.json:1 virtualnetwork/v address space 10.0.0.0/16",
		"172.16.0.0/12 -> the virtual network gateway (VPN or ExpressRoute) @cloud/azure/route-table-list.json:9 routetable/rt route onprem",
		"192.168.0.0/16 -> the virtual appliance 10.9.0.4 @cloud/azure/route-table-list.json:9 routetable/rt route hub",
		"203.0.113.0/24 -> the internet @cloud/azure/route-table-list.json:9 routetable/rt route web",
	}
	cloudtest.SameLines(t, got, want)
}

// TestAzureCloudIdentity: the testbed's nodes share subnet and groups, but node2 has a
// public IP; row 5 turns IP forwarding off on node1, row 18 gives the nodes other ASGs.
func TestAzureCloudIdentity(t *testing.T) {
	for _, bundle := range []string{"healthy", "row18-nsg-asg-not-shared"} {
		p := bundleProvider(t, bundle)
		a, okA := p.CloudIdentity("node1")
		b, okB := p.CloudIdentity("node2")
		if !okA || !okB || a == b || !strings.Contains(a, "/subnets/aks-subnet nsg=") {
			t.Errorf("%s: node1 %q, node2 %q", bundle, a, b)
		}
		if _, ok := p.CloudIdentity("node9"); ok {
			t.Errorf("%s: an unmapped node has an identity", bundle)
		}
	}
	h, _ := bundleProvider(t, "healthy").CloudIdentity("node1")
	f, _ := bundleProvider(t, "row05-ip-forwarding-off").CloudIdentity("node1")
	if h == f || !strings.Contains(f, "forwarding=false") {
		t.Errorf("IP forwarding is not part of the identity: %q %q", h, f)
	}
}
