package tencent

import (
	"testing"

	"github.com/netsim/netsim/cloud"
	"github.com/netsim/netsim/rules/packet"
)

// Route: the longest enabled prefix of the subnet's table (with the VPC's Local routes)
// decides, by its GatewayType.
func TestTencentRoute(t *testing.T) {
	p := provider(t, fixture())
	cases := []struct {
		name      string
		from, to  string
		pk        packet.Packet
		verdict   cloud.Verdict
		node      string // landing node
		beyond    string // part of the landing beyond
		object    string // part of the deciding decision's object
		msg       string // part of its message
		translate string // the source after the decisions
	}{
		{"local route to a node", "a", "b", tcp("10.0.1.11", "10.0.1.12", 10250), cloud.Allow, "b", "", "route 10.0.1.0/24", "", ""},
		{"local route to an instance outside the cluster", "a", "", tcp("10.0.1.11", "10.0.2.20", 5432), cloud.Allow, "", "ins-db", "route 10.0.2.0/24", "", ""},
		{"local route to an address no interface holds", "a", "", tcp("10.0.1.11", "10.0.2.99", 80), cloud.NoRoute, "", "", "route 10.0.2.0/24", "no instance or interface", ""},
		{"NORMAL_CVM: GlobalRouter pod CIDR to its node", "a", "b", tcp("172.20.1.5", "172.20.2.5", 8080), cloud.Allow, "b", "", "route 172.20.2.0/24", "", ""},
		{"NORMAL_CVM to the wrong node is a misroute", "a", "a", tcp("10.0.1.12", "172.20.2.5", 8080), cloud.Misroute, "", "", "route 172.20.2.0/24", "is in node b's pod CIDR", ""},
		{"VPN", "a", "", tcp("10.0.1.11", "192.168.1.1", 443), cloud.Allow, "", "VPN vpngw-1", "route 192.168.0.0/16", "", ""},
		{"a disabled more specific route is skipped", "a", "", tcp("10.0.1.11", "192.168.7.1", 443), cloud.Allow, "", "VPN vpngw-1", "route 192.168.0.0/16", "", ""},
		{"PEERCONNECTION", "a", "", tcp("10.0.1.11", "10.8.1.1", 443), cloud.Allow, "", "PEERCONNECTION pcx-1", "", "", ""},
		{"CCN", "a", "", tcp("10.0.1.11", "10.9.1.1", 443), cloud.Allow, "", "CCN ccn-1", "", "", ""},
		{"HAVIP", "a", "", tcp("10.0.1.11", "10.10.1.1", 443), cloud.Allow, "", "HAVIP havip-1", "", "", ""},
		{"LOCAL_GATEWAY", "a", "", tcp("10.0.1.11", "10.11.1.1", 443), cloud.Allow, "", "LOCAL_GATEWAY lgw-1", "", "", ""},
		{"INTRANAT", "a", "", tcp("10.0.1.11", "10.12.1.1", 443), cloud.Allow, "", "INTRANAT intranat-1", "", "", ""},
		{"a GatewayType netsim does not know: unknown, not beyond the VPC", "a", "", tcp("10.0.1.11", "10.15.1.1", 443), cloud.Unknown, "", "", "route 10.15.0.0/16", `GatewayType "GWLB"`, ""},
		{"CVM (a public gateway instance)", "a", "", tcp("10.0.1.11", "10.13.1.1", 443), cloud.Allow, "", "ins-db", "route 10.13.0.0/16", "", ""},
		{"NORMAL_CVM to an address no instance holds", "a", "", tcp("10.0.1.11", "10.14.1.1", 443), cloud.NoRoute, "", "", "route 10.14.0.0/16", "the next hop is gone", ""},
		{"EIP route with a public IP", "a", "", tcp("10.0.1.11", "198.18.0.1", 443), cloud.Allow, "", "public IP 203.0.113.11", "networkinterface/ins-a", "", "203.0.113.11"},
		{"EIP route without a public IP", "b", "", tcp("10.0.1.12", "198.18.0.1", 443), cloud.Deny, "", "", "route 198.18.0.0/15", "has none", ""},
		{"NAT with a NETWORKINTERFACE SNAT rule", "a", "", tcp("10.0.1.11", "93.184.216.34", 443), cloud.Allow, "", "NAT gateway nat-1", "snat rule snat-1", "", "203.0.113.101"},
		{"NAT without an SNAT rule for the source", "b", "", tcp("10.0.1.12", "93.184.216.34", 443), cloud.Deny, "", "", "natgateway/nat-1", "no SNAT rule covering the source 10.0.1.12", ""},
		{"NAT: a pod address not masqueraded", "a", "", tcp("172.20.1.5", "93.184.216.34", 443), cloud.Deny, "", "", "natgateway/nat-1", "pod address", ""},
		{"a private address only the NAT default covers", "a", "", tcp("10.0.1.11", "172.16.0.1", 443), cloud.NoRoute, "", "", "route 0.0.0.0/0", "private address", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ds, land := p.Route(cloud.Leg{From: c.from, To: c.to, Packet: c.pk})
			d := last(t, ds)
			var blocker cloud.Decision
			for _, x := range ds {
				if x.Blocks() {
					blocker = x
					break
				}
			}
			v := cloud.Allow
			decider := d
			if blocker.Blocks() {
				v, decider = blocker.Verdict, blocker
			}
			if v != c.verdict {
				t.Fatalf("verdict %v, want %v: %+v", v, c.verdict, ds)
			}
			if land.Node != c.node || !has(land.Beyond, c.beyond) {
				t.Errorf("landing %+v, want node %q beyond ~%q", land, c.node, c.beyond)
			}
			found := false
			for _, x := range ds {
				found = found || has(x.Object, c.object)
			}
			if !found {
				t.Errorf("no decision names %q: %+v", c.object, ds)
			}
			if !has(decider.Message, c.msg) {
				t.Errorf("message %q, want ~%q", decider.Message, c.msg)
			}
			if c.translate != "" && d.Packet.Src.String() != c.translate {
				t.Errorf("source after %v, want %s", d.Packet.Src, c.translate)
			}
			if decider.Pos.IsZero() && v != cloud.Allow {
				t.Errorf("a blocking decision without a position: %+v", decider)
			}
		})
	}
}

// With no route at all for a public address, an instance's public IP carries it; without
// one the packet has no route.
func TestTencentNoRoutePublicIP(t *testing.T) {
	files := fixture()
	files[FileRouteTables] = `{"RouteTableSet": [{"RouteTableId": "rtb-1", "VpcId": "vpc-1", "Main": true, "RouteSet": [
 {"RouteItemId": "rti-d", "DestinationCidrBlock": "0.0.0.0/0", "GatewayType": "NAT", "GatewayId": "nat-1", "Enabled": false}]}]}`
	p := provider(t, files)
	ds, land := p.Route(cloud.Leg{From: "a", Packet: tcp("10.0.1.11", "93.184.216.34", 443)})
	if d := last(t, ds); d.Action != "snat" || d.Packet.Src.String() != "203.0.113.11" || !has(land.Beyond, "203.0.113.11") {
		t.Errorf("node a: %+v %+v", ds, land)
	}
	ds, _ = p.Route(cloud.Leg{From: "b", Packet: tcp("10.0.1.12", "93.184.216.34", 443)})
	d := last(t, ds)
	if d.Verdict != cloud.NoRoute || !has(d.Message, "no public IP") || !has(d.Fix, "EnableRoutes") || !has(d.Fix, "rti-d") {
		t.Errorf("node b: %+v", d)
	}
}

// A NAT gateway that is not AVAILABLE, or missing, drops; missing exports are unknown
// and name the file.
func TestTencentRouteGaps(t *testing.T) {
	files := fixture()
	files[FileNATs] = `{"NatGatewaySet": [{"NatGatewayId": "nat-1", "VpcId": "vpc-1", "State": "FAILED"}]}`
	p := provider(t, files)
	ds, _ := p.Route(cloud.Leg{From: "a", Packet: tcp("10.0.1.11", "93.184.216.34", 443)})
	if d := last(t, ds); d.Verdict != cloud.NoRoute || !has(d.Message, "FAILED") {
		t.Errorf("failed NAT: %+v", d)
	}
	for _, c := range []struct{ drop, want string }{
		{FileRouteTables, "DescribeRouteTables.json"},
		{FileSubnets, "DescribeSubnets.json"},
		{FileNATs, "DescribeNatGateways.json"},
		{DirSNAT + "/nat-1.json", "DescribeNatGatewaySourceIpTranslationNatRules/nat-1.json"},
	} {
		files := fixture()
		delete(files, c.drop)
		p := provider(t, files)
		ds, _ := p.Route(cloud.Leg{From: "a", Packet: tcp("10.0.1.11", "93.184.216.34", 443)})
		if d := last(t, ds); d.Verdict != cloud.Unknown || !has(d.Message, c.want) || !has(d.Fix, "tccli") {
			t.Errorf("without %s: %+v", c.drop, d)
		}
	}
}

// Nodes map by providerID (TKE's qcloud:///ZONE/ins-) or address; a VPC-CNI pod's ENI
// address is judged as itself, by the ENI's own groups.
func TestTencentNICs(t *testing.T) {
	p := provider(t, fixture())
	if p.byInstance["ins-a"] != "a" || p.byInstance["ins-b"] != "b" {
		t.Fatalf("mapping %v", p.byInstance)
	}
	nic, _ := p.nicOf("b", netipAddr("10.0.1.50"))
	if nic == nil || nic.ID != "eni-pod" {
		t.Fatalf("pod ENI: %+v", nic)
	}
	// sg-pod admits 8080 only from the template, which is not exported: unknown.
	d := last(t, p.Ingress(cloud.Leg{From: "a", To: "b", Packet: tcp("10.0.1.11", "10.0.1.50", 8080)}))
	if d.Verdict != cloud.Unknown || !has(d.Message, "ipm-web") {
		t.Errorf("pod ingress: %+v", d)
	}
	// A GlobalRouter pod address is the node's: node b's groups judge it.
	nic, _ = p.nicOf("b", netipAddr("172.20.2.7"))
	if nic == nil || nic.InstanceID != "ins-b" || !nic.Primary {
		t.Errorf("GlobalRouter pod: %+v", nic)
	}
	if _, gap := p.nicOf("c", netipAddr("10.0.1.99")); gap == nil || gap.Code != "cloud-node-unmapped" {
		t.Errorf("unmapped node: %+v", gap)
	}
}

// Nodes alike on the VPC share an identity; an unmapped node has none.
func TestTencentCloudIdentity(t *testing.T) {
	p := provider(t, fixture())
	a, okA := p.CloudIdentity("a")
	b, okB := p.CloudIdentity("b")
	if !okA || !okB || a == b || a != "vpc-1/subnet-n sg-node,sg-base public" || b != "vpc-1/subnet-n sg-node,sg-base private" {
		t.Errorf("identities %q %q", a, b)
	}
	if _, ok := p.CloudIdentity("c"); ok {
		t.Error("node c is not mapped")
	}
}
