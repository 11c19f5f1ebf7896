package azure

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/netsim/netsim/cloud"
	"github.com/netsim/netsim/rules/packet"
)

// TestEvalRules: the first rule by priority decides, allow or deny; the default rules
// decide what no custom rule matches; service tags and ASGs match as documented.
func TestAzureEvalRules(t *testing.T) {
	asgWeb := sub + "/applicationSecurityGroups/web"
	cases := []struct {
		name    string
		rules   []*Rule
		inbound bool
		pk      packet.Packet
		want    string // the deciding rule
		allow   bool
		unknown bool
	}{
		{"lower priority number first: allow 100 over deny 200", []*Rule{rule("deny", 200, true, false, "*", "*"), rule("allow", 100, true, true, "*", "*")}, true, tcp("10.0.0.4", "10.0.0.5", 80), "allow", true, false},
		{"lower priority number first: deny 100 over allow 200", []*Rule{rule("deny", 100, true, false, "*", "*"), rule("allow", 200, true, true, "*", "*")}, true, tcp("10.0.0.4", "10.0.0.5", 80), "deny", false, false},
		{"default AllowVnetInBound", nil, true, tcp("10.0.0.4", "10.0.0.5", 80), "AllowVnetInBound", true, false},
		{"default DenyAllInBound for the internet", nil, true, tcp("198.51.100.7", "10.0.0.5", 80), "DenyAllInBound", false, false},
		{"default AllowAzureLoadBalancerInBound for the probe", nil, true, tcp("168.63.129.16", "10.0.0.5", 30080), "AllowAzureLoadBalancerInBound", true, false},
		{"default AllowInternetOutBound", nil, false, tcp("10.0.0.4", "93.184.216.34", 443), "AllowInternetOutBound", true, false},
		{"default DenyAllOutBound: a private range neither VNet nor internet", nil, false, tcp("10.0.0.4", "172.16.5.10", 443), "DenyAllOutBound", false, false},
		{"VirtualNetwork holds the UDR prefixes (kubenet pod CIDRs)", nil, true, tcp("10.244.2.9", "10.0.0.5", 80), "AllowVnetInBound", true, false},
		{"port range", []*Rule{{Name: "np", Priority: 300, Inbound: true, Allow: true, Protocol: "tcp", Src: Addr{Prefixes: []string{"Internet"}}, Dst: Addr{Prefixes: []string{"*"}}, SrcPorts: all(), DstPorts: []PortRange{{30000, 32767}}}},
			true, tcp("198.51.100.7", "10.0.0.5", 30080), "np", true, false},
		{"port range misses", []*Rule{{Name: "np", Priority: 300, Inbound: true, Allow: true, Protocol: "tcp", Src: Addr{Prefixes: []string{"Internet"}}, Dst: Addr{Prefixes: []string{"*"}}, SrcPorts: all(), DstPorts: []PortRange{{30000, 32767}}}},
			true, tcp("198.51.100.7", "10.0.0.5", 8080), "DenyAllInBound", false, false},
		{"protocol udp does not match tcp", []*Rule{{Name: "u", Priority: 300, Inbound: true, Allow: false, Protocol: "udp", Src: Addr{Prefixes: []string{"*"}}, Dst: Addr{Prefixes: []string{"*"}}, SrcPorts: all(), DstPorts: all()}},
			true, tcp("10.0.0.4", "10.0.0.5", 80), "AllowVnetInBound", true, false},
		{"Internet tag does not hold VNet addresses", []*Rule{rule("deny-internet", 300, true, false, "Internet", "*")}, true, tcp("10.0.0.4", "10.0.0.5", 80), "AllowVnetInBound", true, false},
		{"source ASG matches the NIC's IP configuration", []*Rule{{Name: "web", Priority: 300, Inbound: true, Allow: false, Protocol: "*", Src: Addr{ASGs: []string{asgWeb}}, Dst: Addr{Prefixes: []string{"*"}}, SrcPorts: all(), DstPorts: all()}},
			true, tcp("10.0.0.4", "10.0.0.5", 80), "web", false, false},
		{"source ASG does not match a NIC outside it", []*Rule{{Name: "web", Priority: 300, Inbound: true, Allow: false, Protocol: "*", Src: Addr{ASGs: []string{asgWeb}}, Dst: Addr{Prefixes: []string{"*"}}, SrcPorts: all(), DstPorts: all()}},
			true, tcp("10.0.0.5", "10.0.0.4", 80), "AllowVnetInBound", true, false},
		{"a tag netsim cannot expand is unknown", []*Rule{rule("storage", 300, false, false, "*", "Storage")}, false, tcp("10.0.0.4", "93.184.216.34", 443), "storage", false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x := fixture()
			x.NICs[0].IPConfigs[0].ASGs = []string{asgWeb}
			g := nsg(snsgID, c.rules...)
			v := x.Eval(g, c.inbound, c.pk, x.VNets[0])
			if v.Rule == nil || v.Rule.Name != c.want || v.Rule.Allow != c.allow || (v.Unknown != "") != c.unknown {
				t.Fatalf("got %+v (unknown %q), want rule %s allow %v unknown %v", v.Rule, v.Unknown, c.want, c.allow, c.unknown)
			}
		})
	}
}

// TestVirtualNetworkTag: the VNet's space, connected peerings' spaces and route-table
// prefixes are in the tag; a disconnected peering's are not; with a gateway, an
// unknown private range may be (on-premises).
func TestAzureVirtualNetworkTag(t *testing.T) {
	x := fixture()
	v := x.VNets[0]
	v.Peerings = []*Peering{{Name: "up", State: "Connected", RemoteSpace: pfx("10.50.0.0/16")}, {Name: "down", State: "Disconnected", RemoteSpace: pfx("10.60.0.0/16")}}
	for a, want := range map[string]match{"10.0.9.9": yes, "10.50.1.1": yes, "10.60.1.1": no, "10.244.2.3": yes, "172.16.0.1": no, "8.8.8.8": no} {
		if got := x.inTag("VirtualNetwork", netip.MustParseAddr(a), v); got != want {
			t.Errorf("%s in VirtualNetwork: %v, want %v", a, got, want)
		}
	}
	v.Subnets = append(v.Subnets, &Subnet{Name: "GatewaySubnet", VNet: v})
	if got := x.inTag("VirtualNetwork", netip.MustParseAddr("172.16.0.1"), v); got != maybe {
		t.Errorf("with a gateway, 172.16.0.1 in VirtualNetwork: %v, want maybe", got)
	}
	if got := x.inTag("Internet", netip.MustParseAddr("8.8.8.8"), v); got != yes {
		t.Errorf("8.8.8.8 in Internet: %v", got)
	}
}

// TestNSGOrder: inbound the subnet's NSG is met first, then the NIC's; outbound the
// NIC's first, then the subnet's; the packet needs both to allow; a reply passes both
// (stateful).
func TestAzureNSGOrder(t *testing.T) {
	setup := func() (*Export, *Provider) {
		x := fixture()
		// b's NIC is in both NSGs: each denies the same traffic with its own rule.
		x.NSGs[normID(snsgID)] = nsg(snsgID, rule("subnet-deny-in", 100, true, false, "*", "*"), rule("subnet-deny-out", 100, false, false, "*", "*"))
		x.NSGs[normID(nnsgID)] = nsg(nnsgID, rule("nic-deny-in", 100, true, false, "*", "*"), rule("nic-deny-out", 100, false, false, "*", "*"))
		return x, provider(x)
	}
	_, p := setup()
	in := cloud.Leg{From: "a", To: "b", Packet: tcp("10.0.0.4", "10.0.0.5", 80)}
	mustVerdict(t, p.Ingress(in), cloud.Deny, "networksecuritygroup/subnet-nsg rule subnet-deny-in")
	out := cloud.Leg{From: "b", To: "a", Packet: tcp("10.0.0.5", "10.0.0.4", 80)}
	mustVerdict(t, p.Egress(out), cloud.Deny, "networksecuritygroup/nic-nsg rule nic-deny-out")

	// The subnet allows (default rules), the NIC denies: still denied.
	x, _ := setup()
	x.NSGs[normID(snsgID)] = nsg(snsgID)
	mustVerdict(t, provider(x).Ingress(in), cloud.Deny, "networksecuritygroup/nic-nsg rule nic-deny-in")
	// Both allow: allowed, both cited, subnet first.
	x.NSGs[normID(nnsgID)] = nsg(nnsgID)
	ds := provider(x).Ingress(in)
	if len(ds) != 2 || !strings.Contains(ds[0].Object, "subnet-nsg") || !strings.Contains(ds[1].Object, "nic-nsg") || blocked(ds) {
		t.Errorf("both allow: %+v", ds)
	}
	// Stateful: the reply passes both even though both deny new traffic.
	_, p = setup()
	reply := cloud.Leg{From: "b", To: "a", Packet: tcp("10.0.0.5", "10.0.0.4", 80), Reply: true}
	if ds := p.Egress(reply); blocked(ds) || len(ds) != 2 || !strings.Contains(ds[0].Note, "stateful") {
		t.Errorf("reply: %+v", ds)
	}
}

// TestNSGFix: a denial proposes the az command for the rule that is needed, at a free
// priority below the one that denied.
func TestAzureNSGFix(t *testing.T) {
	x := fixture()
	x.NSGs[normID(snsgID)] = nsg(snsgID, rule("deny-vnet", 4000, true, false, "VirtualNetwork", "VirtualNetwork"), rule("taken", 3990, true, true, "10.9.9.9", "*"))
	d := last(provider(x).Ingress(cloud.Leg{From: "a", To: "b", Packet: tcp("10.244.1.7", "10.244.2.8", 8080)}))
	for _, want := range []string{"az network nsg rule create -g rg --nsg-name subnet-nsg", "--priority 3980", "--source-address-prefixes 10.244.0.0/16", "--destination-port-ranges 8080"} {
		if !strings.Contains(d.Fix, want) {
			t.Errorf("fix %q lacks %q", d.Fix, want)
		}
	}
	if !strings.Contains(d.Message, "deny-vnet") {
		t.Errorf("message %q does not name the rule", d.Message)
	}
}

// TestNoNSG: a level without an NSG lets everything through, except that a Standard
// load balancer or public IP is closed when neither level has one.
func TestAzureNoNSG(t *testing.T) {
	x := fixture()
	x.VNets[0].Subnets[0].NSG = ""
	x.NICs[1].NSG = ""
	p := provider(x)
	l := cloud.Leg{To: "b", Packet: tcp("198.51.100.7", "10.0.0.5", 80)}
	ds := p.Ingress(l)
	if blocked(ds) {
		t.Errorf("no NSG at all: %+v", ds)
	}
	for _, d := range ds {
		if d.Text == "no network security group" && d.Pos.IsZero() {
			t.Errorf("a level without an NSG cites neither the subnet nor the NIC: %+v", d)
		}
	}
	mustVerdict(t, p.ingress(l, true, true), cloud.Deny, "NIC b-nic")
}
