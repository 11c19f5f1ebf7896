package azure

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/netsim/netsim/cloud"
	"github.com/netsim/netsim/model/source"
)

func udr(name, prefix, hop, ip string) *Route {
	r := &Route{Name: name, Prefix: netip.MustParsePrefix(prefix), Hop: hop, Pos: source.Pos{File: "cloud/azure/route-table-list.json", Line: 9}}
	if ip != "" {
		r.HopIP = netip.MustParseAddr(ip)
	}
	return r
}

// TestLookup: longest prefix first; at an equal prefix a user route wins over a system
// route; the reserved ranges have None system routes unless the VNet's space covers
// them; only a Connected peering adds a route; BGP routes (not exported) make a system
// choice unknown when the VNet has a gateway and the table propagates them.
func TestAzureLookup(t *testing.T) {
	cases := []struct {
		name   string
		mod    func(x *Export)
		dst    string
		want   string // route label prefix
		system bool
		why    bool
	}{
		{"VNet space", nil, "10.0.3.4", "10.0.0.0/16 -> VirtualNetwork", true, false},
		{"longest prefix: the pod route", nil, "10.244.2.9", "10.244.2.0/24 -> VirtualAppliance 10.0.0.5", false, false},
		{"default internet", nil, "93.184.216.34", "0.0.0.0/0 -> Internet", true, false},
		{"reserved range None", nil, "172.16.5.10", "172.16.0.0/12 -> None", true, false},
		{"100.64/10 None", nil, "100.64.1.1", "100.64.0.0/10 -> None", true, false},
		{"user route over system route at an equal prefix", func(x *Export) {
			rt := x.RouteTables[normID(rtID)]
			rt.Routes = append(rt.Routes, udr("blackhole-vnet", "10.0.0.0/16", HopNone, ""))
		}, "10.0.3.4", "10.0.0.0/16 -> None", false, false},
		{"a user route shorter than the system route loses", func(x *Export) {
			rt := x.RouteTables[normID(rtID)]
			rt.Routes = append(rt.Routes, udr("all-private", "10.0.0.0/8", HopAppliance, "10.0.0.4"))
		}, "10.0.3.4", "10.0.0.0/16 -> VirtualNetwork", true, false},
		{"a space holding a reserved range replaces its None route", func(x *Export) { x.VNets[0].Space = pfx("172.16.0.0/12") }, "172.20.0.1", "172.16.0.0/12 -> VirtualNetwork", true, false},
		{"connected peering", func(x *Export) {
			x.VNets[0].Peerings = []*Peering{{Name: "hub", State: "Connected", RemoteSpace: pfx("10.50.0.0/16")}}
		}, "10.50.1.1", "10.50.0.0/16 -> VNetPeering", true, false},
		{"disconnected peering adds no route", func(x *Export) {
			x.VNets[0].Peerings = []*Peering{{Name: "hub", State: "Disconnected", RemoteSpace: pfx("10.50.0.0/16")}}
		}, "10.50.1.1", "10.0.0.0/8 -> None", true, false},
		{"BGP may override a system route", func(x *Export) {
			x.VNets[0].Subnets = append(x.VNets[0].Subnets, &Subnet{Name: "GatewaySubnet", VNet: x.VNets[0]})
		}, "172.16.5.10", "172.16.0.0/12 -> None", true, true},
		{"BGP propagation disabled", func(x *Export) {
			x.VNets[0].Subnets = append(x.VNets[0].Subnets, &Subnet{Name: "GatewaySubnet", VNet: x.VNets[0]})
			x.RouteTables[normID(rtID)].NoBGP = true
		}, "172.16.5.10", "172.16.0.0/12 -> None", true, false},
		{"BGP never overrides the VNet's own routes", func(x *Export) {
			x.VNets[0].Subnets = append(x.VNets[0].Subnets, &Subnet{Name: "GatewaySubnet", VNet: x.VNets[0]})
		}, "10.0.3.4", "10.0.0.0/16 -> VirtualNetwork", true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x := fixture()
			if c.mod != nil {
				c.mod(x)
			}
			r, _, why := x.Lookup(x.VNets[0].Subnets[0], netip.MustParseAddr(c.dst))
			if r == nil || !strings.HasPrefix(r.Label(), c.want) || r.System != c.system || (why != "") != c.why {
				t.Fatalf("got %v (why %q), want %s system %v unknown %v", r, why, c.want, c.system, c.why)
			}
		})
	}
}

// TestRouteHops: each next hop type does what Azure documents.
func TestAzureRouteHops(t *testing.T) {
	cases := []struct {
		name   string
		mod    func(x *Export)
		leg    cloud.Leg
		want   cloud.Verdict
		node   string
		beyond string
		code   string
	}{
		{"VNet delivers to the NIC holding the address", nil, cloud.Leg{From: "a", To: "b", Packet: tcp("10.0.0.4", "10.0.0.5", 80)}, cloud.Allow, "b", "", ""},
		{"VirtualAppliance to the node holding the pod CIDR", nil, cloud.Leg{From: "a", To: "b", Packet: tcp("10.244.1.2", "10.244.2.2", 80)}, cloud.Allow, "b", "", ""},
		{"kubenet without a route: the VNet holds no such address", func(x *Export) {
			x.VNets[0].Space = pfx("10.0.0.0/16", "10.244.0.0/16")
			x.RouteTables[normID(rtID)].Routes = nil
		}, cloud.Leg{From: "a", To: "b", Packet: tcp("10.244.1.2", "10.244.2.2", 80)}, cloud.NoRoute, "", "", "azure-cidr-overlap"},
		{"VirtualAppliance whose address no NIC holds", func(x *Export) {
			rt := x.RouteTables[normID(rtID)]
			rt.Routes = append(rt.Routes, udr("fw", "0.0.0.0/0", HopAppliance, "10.0.1.4"))
		}, cloud.Leg{From: "a", Packet: tcp("10.0.0.4", "93.184.216.34", 443)}, cloud.NoRoute, "", "", "azure-appliance-missing"},
		{"VirtualAppliance outside the VNet (a hub firewall)", func(x *Export) {
			rt := x.RouteTables[normID(rtID)]
			rt.Routes = append(rt.Routes, udr("fw", "0.0.0.0/0", HopAppliance, "10.90.0.4"))
		}, cloud.Leg{From: "a", Packet: tcp("10.0.0.4", "93.184.216.34", 443)}, cloud.Allow, "", "the virtual appliance 10.90.0.4 (outside this VNet's NICs)", ""},
		{"None drops", func(x *Export) {
			rt := x.RouteTables[normID(rtID)]
			rt.Routes = append(rt.Routes, udr("drop", "93.184.216.0/24", HopNone, ""))
		}, cloud.Leg{From: "a", Packet: tcp("10.0.0.4", "93.184.216.34", 443)}, cloud.NoRoute, "", "", "azure-route-none"},
		{"VirtualNetworkGateway without a gateway drops", func(x *Export) {
			rt := x.RouteTables[normID(rtID)]
			rt.Routes = append(rt.Routes, udr("onprem", "172.16.0.0/12", HopGateway, ""))
		}, cloud.Leg{From: "a", Packet: tcp("10.0.0.4", "172.16.5.10", 443)}, cloud.NoRoute, "", "", "azure-no-gateway"},
		{"VirtualNetworkGateway with a gateway", func(x *Export) {
			rt := x.RouteTables[normID(rtID)]
			rt.Routes = append(rt.Routes, udr("onprem", "172.16.0.0/12", HopGateway, ""))
			x.VNets[0].Subnets = append(x.VNets[0].Subnets, &Subnet{Name: "GatewaySubnet", VNet: x.VNets[0]})
		}, cloud.Leg{From: "a", Packet: tcp("10.0.0.4", "172.16.5.10", 443)}, cloud.Allow, "", "the on-premises network through VNet v's virtual network gateway", ""},
		{"VnetLocal user route", func(x *Export) {
			rt := x.RouteTables[normID(rtID)]
			rt.Routes = append(rt.Routes, udr("local", "10.0.0.5/32", HopVnetLocal, ""))
		}, cloud.Leg{From: "a", To: "b", Packet: tcp("10.0.0.4", "10.0.0.5", 80)}, cloud.Allow, "b", "", ""},
		{"Internet for a private address drops", func(x *Export) {
			x.VNets[0].Space = pfx("10.0.0.0/8")
		}, cloud.Leg{From: "a", Packet: tcp("10.0.0.4", "100.127.0.1", 443)}, cloud.NoRoute, "", "", "azure-route-none"},
		{"a peering overlapping the pod CIDR misroutes", func(x *Export) {
			x.VNets[0].Peerings = []*Peering{{Name: "legacy", State: "Connected", RemoteSpace: pfx("10.244.0.0/16"), Pos: source.Pos{File: "cloud/azure/vnet-list.json", Line: 30}}}
			x.RouteTables[normID(rtID)].Routes = nil
		}, cloud.Leg{From: "a", To: "b", Packet: tcp("10.244.1.2", "10.244.2.2", 80)}, cloud.Misroute, "", "", "azure-cidr-overlap"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x := fixture()
			if c.mod != nil {
				c.mod(x)
			}
			ds, land := provider(x).Route(c.leg)
			d := last(ds)
			if d.Verdict != c.want || land.Node != c.node || land.Beyond != c.beyond || (c.code != "" && d.Code != c.code) {
				t.Fatalf("got %s %s (%s) landing %+v; want %s %s landing %q %q", d.Verdict, d.Code, d.Message, land, c.want, c.code, c.node, c.beyond)
			}
			if d.Pos.IsZero() {
				t.Errorf("decision cites no position: %+v", d)
			}
		})
	}
}

// TestIPForwarding: a node sending a pod's address, or receiving one, needs IP
// forwarding on its NIC; its own address needs nothing.
func TestAzureIPForwarding(t *testing.T) {
	x := fixture()
	x.NICs[0].IPForwarding = false
	p := provider(x)
	d := last(p.Egress(cloud.Leg{From: "a", To: "b", Packet: tcp("10.244.1.2", "10.244.2.2", 80)}))
	if d.Verdict != cloud.Deny || d.Code != "azure-ip-forwarding" || !strings.Contains(d.Fix, "az network nic update -g rg -n a-nic --ip-forwarding true") {
		t.Errorf("egress with forwarding off: %+v", d)
	}
	if ds := p.Egress(cloud.Leg{From: "a", To: "b", Packet: tcp("10.0.0.4", "10.0.0.5", 80)}); blocked(ds) {
		t.Errorf("own address: %+v", ds)
	}
	d = last(p.Ingress(cloud.Leg{From: "b", To: "a", Packet: tcp("10.244.2.2", "10.244.1.2", 80)}))
	if d.Verdict != cloud.Deny || d.Code != "azure-ip-forwarding" {
		t.Errorf("ingress with forwarding off: %+v", d)
	}
	if ds := p.Ingress(cloud.Leg{From: "a", To: "b", Packet: tcp("10.244.1.2", "10.244.2.2", 80)}); blocked(ds) {
		t.Errorf("b has forwarding on: %+v", ds)
	}
}

// TestOutbound: the subnet's NAT gateway wins over the IP configuration's public IP,
// which wins over a load balancer's outbound rule, which wins over default outbound
// access.
func TestAzureOutbound(t *testing.T) {
	natID, pipID, nodePip, lbID := sub+"/natGateways/ng", sub+"/publicIPAddresses/ng-pip", sub+"/publicIPAddresses/a-pip", sub+"/loadBalancers/kubernetes"
	withNAT := func(x *Export) {
		x.VNets[0].Subnets[0].NATGateway = natID
		x.NATs[normID(natID)] = &NATGateway{ID: natID, Name: "ng", PublicIPs: []string{pipID}, State: "Succeeded", Pos: source.Pos{File: "cloud/azure/nat-gateway-list.json", Line: 2}}
		x.PublicIPs[normID(pipID)] = &PublicIP{ID: pipID, Name: "ng-pip", IP: netip.MustParseAddr("203.0.113.30")}
	}
	withPIP := func(x *Export) {
		x.NICs[0].IPConfigs[0].PublicIP = nodePip
		x.PublicIPs[normID(nodePip)] = &PublicIP{ID: nodePip, Name: "a-pip", IP: netip.MustParseAddr("203.0.113.11"), Pos: source.Pos{File: "cloud/azure/public-ip-list.json", Line: 4}}
	}
	withLB := func(x *Export) {
		pool, fe, opip := lbID+"/backendAddressPools/kubernetes", lbID+"/frontendIPConfigurations/out", sub+"/publicIPAddresses/out"
		x.PublicIPs[normID(opip)] = &PublicIP{ID: opip, Name: "out", IP: netip.MustParseAddr("203.0.113.20")}
		x.LBs = []*LB{{ID: lbID, Name: "kubernetes", SKU: "Standard", Frontends: []*Frontend{{ID: fe, Name: "out", PublicIP: opip}},
			Pools:    []*Pool{{ID: pool, Name: "kubernetes", Configs: []string{x.NICs[0].IPConfigs[0].ID}}},
			Outbound: []*OutboundRule{{Name: "aksOutboundRule", Frontends: []string{fe}, Pool: pool, Pos: source.Pos{File: "cloud/azure/lb-list.json", Line: 40}}}}}
	}
	yes := true
	cases := []struct {
		name   string
		mods   []func(*Export)
		want   cloud.Verdict
		src    string
		beyond string
	}{
		{"NAT gateway over public IP and LB", []func(*Export){withNAT, withPIP, withLB}, cloud.Allow, "203.0.113.30", "the internet through NAT gateway ng"},
		{"public IP over LB", []func(*Export){withPIP, withLB}, cloud.Allow, "203.0.113.11", "the internet through public IP a-pip"},
		{"LB outbound rule", []func(*Export){withLB}, cloud.Allow, "203.0.113.20", "the internet through load balancer kubernetes's outbound rule aksOutboundRule"},
		{"private subnet without an outbound method", nil, cloud.NoRoute, "10.0.0.4", ""},
		{"default outbound access unknown", []func(*Export){func(x *Export) { x.VNets[0].Subnets[0].DefaultOutbound = nil }}, cloud.Unknown, "10.0.0.4", ""},
		{"default outbound access on: allowed with a warning", []func(*Export){func(x *Export) { x.VNets[0].Subnets[0].DefaultOutbound = &yes }}, cloud.Allow, "10.0.0.4", "the internet through default outbound access"},
		{"NAT gateway export missing", []func(*Export){withNAT, func(x *Export) { delete(x.Has, FileNATs) }}, cloud.Unknown, "10.0.0.4", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x := fixture()
			for _, m := range c.mods {
				m(x)
			}
			ds, land := provider(x).Route(cloud.Leg{From: "a", Packet: tcp("10.0.0.4", "93.184.216.34", 443)})
			d := last(ds)
			src := "10.0.0.4"
			for _, e := range ds {
				if e.Packet.Src.IsValid() {
					src = e.Packet.Src.String()
				}
			}
			if d.Verdict != c.want || src != c.src || land.Beyond != c.beyond {
				t.Fatalf("got %s (%s) source %s landing %+v; want %s %s %q", d.Verdict, d.Message, src, land, c.want, c.src, c.beyond)
			}
		})
	}
	// A pod address the node did not masquerade: translation is not documented.
	x := fixture()
	withNAT(x)
	mustVerdict(t, first(provider(x).Route(cloud.Leg{From: "a", Packet: tcp("10.244.1.2", "93.184.216.34", 443)})), cloud.Unknown, "networkinterface/a-nic")
}

func first(ds []cloud.Decision, _ cloud.Landing) []cloud.Decision { return ds }

// TestNodeMapping: nodes map to NICs by providerID (resource IDs compared without
// regard to case), else by a private IP.
func TestAzureNodeMapping(t *testing.T) {
	x := fixture()
	p := provider(x)
	if p.nodeNIC["a"] != x.NICs[0] || p.nodeNIC["b"] != x.NICs[1] {
		t.Fatalf("mapping: %v", p.nodeNIC)
	}
	// b has no address: only its providerID (resource group in another case) maps it.
	x.NICs[1].VM = ""
	if p := provider(x); p.nodeNIC["b"] != nil {
		t.Errorf("b mapped without a providerID match: %v", p.nodeNIC["b"])
	}
	ds := provider(x).Egress(cloud.Leg{From: "b", Packet: tcp("10.244.2.2", "10.0.0.4", 80)})
	mustVerdict(t, ds, cloud.Unknown, "")
	if ds[0].Code != "cloud-node-unmapped" || !strings.Contains(ds[0].Message, "providerID") {
		t.Errorf("unmapped node: %+v", ds[0])
	}
	// Missing exports name the file.
	x = fixture()
	delete(x.Has, FileNSGs)
	d := last(provider(x).Ingress(cloud.Leg{From: "a", To: "b", Packet: tcp("10.0.0.4", "10.0.0.5", 80)}))
	if d.Verdict != cloud.Unknown || !strings.Contains(d.Message, "cloud/azure/nsg-list.json") || !strings.Contains(d.Fix, "az network nsg list -o json") {
		t.Errorf("missing nsg-list: %+v", d)
	}
}

// TestAzureCNIAndScaleSets: an Azure CNI pod IP (another IP configuration of the node's
// NIC) is judged as itself: no IP forwarding, delivered by the VNet to its node; a
// scale-set instance maps by its providerID.
func TestAzureCNIAndScaleSets(t *testing.T) {
	x := fixture()
	x.NICs[0].IPForwarding, x.NICs[1].IPForwarding = false, false
	pod := &IPConfig{ID: x.NICs[1].ID + "/ipConfigurations/pod1", Name: "pod1", IP: netip.MustParseAddr("10.0.0.20"), Subnet: snetID, NIC: x.NICs[1]}
	x.NICs[1].IPConfigs = append(x.NICs[1].IPConfigs, pod)
	vmss := "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/aks-nodepool1-vmss/virtualMachines/3"
	x.NICs[1].VM = vmss
	ns := nodes()
	ns[1].ProviderID = "azure://" + strings.ToUpper(vmss)
	p := New(x, ns, nil)
	if p.nodeNIC["b"] != x.NICs[1] {
		t.Fatalf("scale-set instance not mapped: %v", p.nodeNIC)
	}
	l := cloud.Leg{From: "a", To: "b", Packet: tcp("10.0.0.4", "10.0.0.20", 8080)}
	ds, land := p.Route(l)
	if land.Node != "b" || blocked(ds) {
		t.Errorf("pod IP route: %+v %+v", ds, land)
	}
	if ds := p.Ingress(l); blocked(ds) || ds[0].Step == "azure ip forwarding" {
		t.Errorf("pod IP ingress needs no forwarding: %+v", ds)
	}
	if ds := p.Egress(cloud.Leg{From: "b", To: "a", Packet: tcp("10.0.0.20", "10.0.0.4", 80)}); blocked(ds) {
		t.Errorf("pod IP egress: %+v", ds)
	}
}
