package azure

import (
	"net/netip"
	"testing"

	"github.com/netsim/netsim/cloud"
	"github.com/netsim/netsim/cloud/cloudtest"
	"github.com/netsim/netsim/model/source"
	"github.com/netsim/netsim/rules/packet"
)

const (
	sub    = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network"
	vnetID = sub + "/virtualNetworks/v"
	snetID = vnetID + "/subnets/s"
	rtID   = sub + "/routeTables/rt"
	snsgID = sub + "/networkSecurityGroups/subnet-nsg"
	nnsgID = sub + "/networkSecurityGroups/nic-nsg"
)

func tcp(src, dst string, dport uint16) packet.Packet { return cloudtest.TCP(src, dst, dport) }

func pfx(s ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, x := range s {
		out = append(out, netip.MustParsePrefix(x))
	}
	return out
}

func all() []PortRange { return []PortRange{{0, 65535}} }

// rule builds a custom rule over all ports.
func rule(name string, prio int, inbound, allow bool, src, dst string) *Rule {
	return &Rule{Name: name, Priority: prio, Inbound: inbound, Allow: allow, Protocol: "*",
		Src: Addr{Prefixes: []string{src}}, Dst: Addr{Prefixes: []string{dst}}, SrcPorts: all(), DstPorts: all(),
		Pos: source.Pos{File: "cloud/azure/nsg-list.json", Line: prio}}
}

func nsg(id string, rules ...*Rule) *NSG {
	g := &NSG{ID: id, Name: lastSeg(id), Pos: source.Pos{File: "cloud/azure/nsg-list.json", Line: 1}}
	g.Rules = append(g.Rules, rules...)
	for i := range defaultRules {
		d := defaultRules[i]
		d.Default, d.SrcPorts, d.DstPorts = true, all(), all()
		g.Rules = append(g.Rules, &d)
	}
	sortRules(g)
	return g
}

// fixture is VNet v (10.0.0.0/16) with subnet s (10.0.0.0/24, NSG subnet-nsg, route
// table rt routing the nodes' pod CIDRs 10.244.1.0/24 and 10.244.2.0/24 to them), NICs of nodes a (10.0.0.4)
// and b (10.0.0.5, NSG nic-nsg), IP forwarding on, both NSGs with only default rules.
func fixture() *Export {
	x := &Export{NSGs: map[string]*NSG{}, RouteTables: map[string]*RouteTable{}, PublicIPs: map[string]*PublicIP{}, NATs: map[string]*NATGateway{},
		Health: map[string]map[string][]Health{}, HealthPos: map[string]source.Pos{}, Has: map[string]string{}, Dir: "cloud/azure",
		subnets: map[string]*Subnet{}, configs: map[string]*IPConfig{}}
	for _, f := range []string{FileNICs, FileNSGs, FileVNets, FileRoutes, FilePublicIP, FileNATs, FileLBs} {
		x.Has[f] = "cloud/azure/" + f
	}
	f := false
	v := &VNet{ID: vnetID, Name: "v", Space: pfx("10.0.0.0/16"), Pos: source.Pos{File: "cloud/azure/vnet-list.json", Line: 1}}
	s := &Subnet{ID: snetID, Name: "s", Prefixes: pfx("10.0.0.0/24"), NSG: snsgID, RouteTable: rtID, VNet: v, DefaultOutbound: &f, Pos: source.Pos{File: "cloud/azure/vnet-list.json", Line: 5}}
	v.Subnets = []*Subnet{s}
	x.VNets = []*VNet{v}
	x.subnets[normID(snetID)] = s
	x.RouteTables[normID(rtID)] = &RouteTable{ID: rtID, Name: "rt", Routes: []*Route{
		{Name: "pods-a", Prefix: netip.MustParsePrefix("10.244.1.0/24"), Hop: HopAppliance, HopIP: netip.MustParseAddr("10.0.0.4"), Pos: source.Pos{File: "cloud/azure/route-table-list.json", Line: 2}},
		{Name: "pods-b", Prefix: netip.MustParsePrefix("10.244.2.0/24"), Hop: HopAppliance, HopIP: netip.MustParseAddr("10.0.0.5"), Pos: source.Pos{File: "cloud/azure/route-table-list.json", Line: 3}},
	}}
	x.NSGs[normID(snsgID)] = nsg(snsgID)
	x.NSGs[normID(nnsgID)] = nsg(nnsgID)
	for _, n := range []struct{ name, ip, nsg string }{{"a", "10.0.0.4", ""}, {"b", "10.0.0.5", nnsgID}} {
		nic := &NIC{ID: sub + "/networkInterfaces/" + n.name + "-nic", Name: n.name + "-nic", VM: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-" + n.name,
			NSG: n.nsg, IPForwarding: true, Pos: source.Pos{File: "cloud/azure/nic-list.json", Line: 1}}
		c := &IPConfig{ID: nic.ID + "/ipConfigurations/ipconfig1", Name: "ipconfig1", IP: netip.MustParseAddr(n.ip), Primary: true, Subnet: snetID, NIC: nic}
		nic.IPConfigs = []*IPConfig{c}
		x.NICs = append(x.NICs, nic)
		x.configs[normID(c.ID)] = c
	}
	return x
}

func nodes() []cloud.Node {
	return []cloud.Node{
		{Name: "a", ProviderID: "azure:///subscriptions/s/resourceGroups/RG/providers/Microsoft.Compute/virtualMachines/vm-a", Addrs: []netip.Addr{netip.MustParseAddr("10.0.0.4")}, PodCIDRs: pfx("10.244.1.0/24")},
		{Name: "b", ProviderID: "azure:///subscriptions/s/resourceGroups/RG/providers/Microsoft.Compute/virtualMachines/vm-b", PodCIDRs: pfx("10.244.2.0/24")},
	}
}

func provider(x *Export) *Provider { return New(x, nodes(), pfx("10.244.0.0/16")) }

// last is the decision that ended a list (the first blocking one, else the last).
func last(ds []cloud.Decision) cloud.Decision {
	for _, d := range ds {
		if d.Blocks() {
			return d
		}
	}
	if len(ds) == 0 {
		return cloud.Decision{}
	}
	return ds[len(ds)-1]
}

func mustVerdict(t *testing.T, ds []cloud.Decision, want cloud.Verdict, object string) {
	t.Helper()
	d := last(ds)
	if d.Verdict != want || (object != "" && d.Object != object) {
		t.Errorf("got %s at %q (%s), want %s at %q; decisions %+v", d.Verdict, d.Object, d.Message, want, object, ds)
	}
}
