package gcp

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/netsim/netsim/cloud"
)

// Row 24: a node's pod CIDR overlapping a range the network reaches elsewhere.
func TestPodCIDROverlap(t *testing.T) {
	const insts = `[
 {"name": "a", "canIpForward": true, "networkInterfaces": [{"network": "n/vpc", "subnetwork": "r/subnetworks/nodes", "networkIP": "10.0.0.2"}]},
 {"name": "b", "canIpForward": true, "networkInterfaces": [{"network": "n/vpc", "subnetwork": "r/subnetworks/nodes", "networkIP": "10.0.0.3"}]}
]`
	nodes := []cloud.Node{
		{Name: "na", Addrs: []netip.Addr{netipAddr("10.0.0.2")}, PodCIDRs: []netip.Prefix{netip.MustParsePrefix("10.244.1.0/24")}},
		{Name: "nb", Addrs: []netip.Addr{netipAddr("10.0.0.3")}, PodCIDRs: []netip.Prefix{netip.MustParsePrefix("10.244.2.0/24")}},
	}
	cases := []struct {
		name, routes, subnets, dst string
		code                       string
		verdict                    cloud.Verdict
	}{
		{"a peering route over the pod range takes node b's pods away", `[
 {"name": "pods-a", "network": "n/vpc", "destRange": "10.244.1.0/24", "nextHopInstance": "z/instances/a"},
 {"name": "peer", "network": "n/vpc", "destRange": "10.244.0.0/16", "nextHopPeering": "legacy"}]`, "", "10.244.2.5", "gcp-cidr-overlap", cloud.Misroute},
		{"a VPN route: the same", `[{"name": "onprem", "network": "n/vpc", "destRange": "10.0.0.0/8", "nextHopVpnTunnel": "t/tun"},
 {"name": "subnet", "network": "n/vpc", "destRange": "10.0.0.0/24", "nextHopNetwork": "n/vpc"}]`, "", "10.244.2.5", "gcp-cidr-overlap", cloud.Misroute},
		{"not a pod address: a plain misroute", `[{"name": "peer", "network": "n/vpc", "destRange": "10.9.0.0/16", "nextHopPeering": "legacy"}]`, "", "10.9.0.5", "gcp-misroute", cloud.Misroute},
		{"the pod CIDR inside a subnet's secondary range no VM holds", `[]`,
			`[{"name": "nodes", "network": "n/vpc", "ipCidrRange": "10.0.0.0/24", "secondaryIpRanges": [{"rangeName": "legacy", "ipCidrRange": "10.244.0.0/16"}]}]`, "10.244.2.5", "gcp-cidr-overlap", cloud.NoRoute},
		{"the more specific route to node b wins: no overlap", `[
 {"name": "pods-b", "network": "n/vpc", "destRange": "10.244.2.0/24", "nextHopInstance": "z/instances/b"},
 {"name": "peer", "network": "n/vpc", "destRange": "10.244.0.0/16", "nextHopPeering": "legacy"}]`, "", "10.244.2.5", "", cloud.Allow},
	}
	for _, c := range cases {
		files := map[string]string{FileInstances: insts, FileRoutes: c.routes}
		if c.subnets != "" {
			files[FileSubnets] = c.subnets
		}
		p := New(parse(t, files), nodes, nil)
		ds, land := p.Route(cloud.Leg{From: "na", To: "nb", Packet: tcp("10.244.1.2", c.dst, 80)})
		d := ds[len(ds)-1]
		if d.Verdict != c.verdict || d.Code != c.code {
			t.Errorf("%s: %v %s, want %v %s (%s)", c.name, d.Verdict, d.Code, c.verdict, c.code, d.Message)
		}
		if c.verdict == cloud.Allow && land.Node != "nb" {
			t.Errorf("%s: lands %+v", c.name, land)
		}
		if c.code == "gcp-cidr-overlap" && (!strings.Contains(d.Message, "node nb's pod CIDR 10.244.2.0/24 overlaps") || d.Fix == "" || d.Pos.IsZero()) {
			t.Errorf("%s: %q fix %q at %v", c.name, d.Message, d.Fix, d.Pos)
		}
	}
}
