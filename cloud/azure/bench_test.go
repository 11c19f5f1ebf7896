package azure

// Benchmarks at subscription scale (issue 8): N node NICs, N/10 NIC NSGs of 20 rules
// (and the subnet's NSG), a route table with N/2 kubenet pod-CIDR routes
// (VirtualAppliance to the node), a NAT gateway and a Standard load balancer whose
// backend pool has N/10 NICs. Parse+New is
// measured for throughput and allocations; one node-to-node leg (Egress, Route, Ingress)
// and one Inbound to the load balancer must take the same order of time at every N (a
// trace must not grow with the account beyond what its path touches).
// Reproduce: go test ./cloud/azure -run XXX -bench . -benchmem (docs/benchmarks.md).

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"testing"

	"github.com/netsim/netsim/cloud"
	"github.com/netsim/netsim/model/source"
	"github.com/netsim/netsim/rules/packet"
)

var benchSizes = []int{100, 1000, 5000}

// benchNodeIP is node i's private address in the VPC's 10.0.0.0/16.
func benchNodeIP(i int) netip.Addr {
	v := uint32(10<<24) + uint32(i) + 10
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// benchPodCIDR is node i's pod range, a /24 of 10.96.0.0/11.
func benchPodCIDR(i int) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(100 + i/256), byte(i % 256), 0}), 24)
}

func benchPodIP(i int) netip.Addr {
	a := benchPodCIDR(i).Addr().As4()
	a[3] = 5
	return netip.AddrFrom4(a)
}

type benchAccount struct {
	files map[string]*source.File
	bytes int64
	nodes []cloud.Node
}

var benchAccounts = map[int]*benchAccount{}

const (
	benchRG     = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/mc_bench"
	benchNet    = benchRG + "/providers/Microsoft.Network"
	benchSubnet = benchNet + "/virtualNetworks/vnet/subnets/nodes"
	benchLB     = benchNet + "/loadBalancers/kubernetes"
	benchPool   = benchLB + "/backendAddressPools/kubernetes"
	benchFE     = benchLB + "/frontendIPConfigurations/fe"
	benchRule   = "fe-TCP-80"
	benchLBAddr = "203.0.113.10"
)

func benchNICID(i int) string { return fmt.Sprintf("%s/networkInterfaces/node-%d-nic", benchNet, i) }

// benchGen builds the subscription's exports in the shape of `az network ... list -o
// json` (indented, so every object has its own line to cite).
func benchGen(b *testing.B, n int) *benchAccount {
	if a := benchAccounts[n]; a != nil {
		return a
	}
	groups := n / 10
	a := &benchAccount{files: map[string]*source.File{}}
	rule := func(nsg, name string, prio int, inbound bool, proto, src, dstPorts string) map[string]any {
		dir := "Outbound"
		if inbound {
			dir = "Inbound"
		}
		return map[string]any{"name": name, "id": nsg + "/securityRules/" + name, "priority": prio, "direction": dir, "access": "Allow",
			"protocol": proto, "sourcePortRange": "*", "destinationPortRange": dstPorts, "sourceAddressPrefix": src, "destinationAddressPrefix": "*",
			"sourceAddressPrefixes": []any{}, "destinationAddressPrefixes": []any{}, "sourcePortRanges": []any{}, "destinationPortRanges": []any{}}
	}
	nsgDoc := func(name string, extra []any) map[string]any {
		id := benchNet + "/networkSecurityGroups/" + name
		rules := []any{rule(id, "pods", 200, true, "*", "10.96.0.0/11", "*"), rule(id, "k8s-azure-lb_allow_IPv4_80", 300, true, "Tcp", "Internet", "30080")}
		for _, r := range extra {
			rules = append(rules, r)
		}
		return map[string]any{"id": id, "name": name, "securityRules": rules}
	}
	nsgs := []any{}
	subnetNSG := nsgDoc("aks-agentpool-nsg", nil)
	subnetNSG["subnets"] = []any{map[string]any{"id": benchSubnet}}
	nsgs = append(nsgs, subnetNSG)
	for g := 0; g < groups; g++ {
		id := benchNet + fmt.Sprintf("/networkSecurityGroups/app-%d", g)
		var extra []any
		for r := 0; r < 20; r++ {
			extra = append(extra, rule(id, fmt.Sprintf("app-%d", r), 1000+r, true, "Tcp", fmt.Sprintf("192.168.%d.0/24", r), fmt.Sprint(1000+r)))
		}
		nsgs = append(nsgs, nsgDoc(fmt.Sprintf("app-%d", g), extra))
	}
	var nics, routes, backends, health []any
	for i := 0; i < n; i++ {
		cfg := map[string]any{"id": benchNICID(i) + "/ipConfigurations/ipconfig1", "name": "ipconfig1", "primary": true,
			"privateIPAddress": benchNodeIP(i).String(), "subnet": map[string]any{"id": benchSubnet}}
		if i%10 == 0 {
			cfg["loadBalancerBackendAddressPools"] = []any{map[string]any{"id": benchPool}}
			backends = append(backends, map[string]any{"id": benchNICID(i) + "/ipConfigurations/ipconfig1"})
			health = append(health, map[string]any{"ipAddress": benchNodeIP(i).String(), "networkInterfaceIPConfigurationId": benchNICID(i) + "/ipConfigurations/ipconfig1", "state": "Up", "reason": "Up"})
		}
		vm := fmt.Sprintf("%s/providers/Microsoft.Compute/virtualMachines/node-%d", benchRG, i)
		nics = append(nics, map[string]any{"id": benchNICID(i), "name": fmt.Sprintf("node-%d-nic", i), "enableIPForwarding": true,
			"networkSecurityGroup": map[string]any{"id": benchNet + fmt.Sprintf("/networkSecurityGroups/app-%d", i%groups)},
			"ipConfigurations":     []any{cfg}, "primary": true, "virtualMachine": map[string]any{"id": vm}})
		a.nodes = append(a.nodes, cloud.Node{Name: fmt.Sprintf("node-%d", i), ProviderID: "azure://" + vm,
			Addrs: []netip.Addr{benchNodeIP(i)}, PodCIDRs: []netip.Prefix{benchPodCIDR(i)}})
		if i < n/2 {
			name := fmt.Sprintf("node-%d____pods", i)
			routes = append(routes, map[string]any{"id": benchNet + "/routeTables/rt/routes/" + name, "name": name,
				"addressPrefix": benchPodCIDR(i).String(), "nextHopType": "VirtualAppliance", "nextHopIpAddress": benchNodeIP(i).String()})
		}
	}
	docs := map[string]any{
		FileNICs: nics, FileNSGs: nsgs,
		FileVNets: []any{map[string]any{"id": benchNet + "/virtualNetworks/vnet", "name": "vnet", "addressSpace": map[string]any{"addressPrefixes": []any{"10.0.0.0/16"}},
			"subnets": []any{map[string]any{"id": benchSubnet, "name": "nodes", "addressPrefix": "10.0.0.0/16",
				"networkSecurityGroup": map[string]any{"id": benchNet + "/networkSecurityGroups/aks-agentpool-nsg"},
				"routeTable":           map[string]any{"id": benchNet + "/routeTables/rt"}, "natGateway": map[string]any{"id": benchNet + "/natGateways/natgw"}}},
			"virtualNetworkPeerings": []any{}}},
		FileRoutes: []any{map[string]any{"id": benchNet + "/routeTables/rt", "name": "rt", "disableBgpRoutePropagation": false, "routes": routes,
			"subnets": []any{map[string]any{"id": benchSubnet}}}},
		FilePublicIP: []any{
			map[string]any{"id": benchNet + "/publicIPAddresses/fe", "name": "fe", "ipAddress": benchLBAddr, "ipConfiguration": map[string]any{"id": benchFE}},
			map[string]any{"id": benchNet + "/publicIPAddresses/natgw", "name": "natgw", "ipAddress": "203.0.113.30", "ipConfiguration": map[string]any{"id": benchNet + "/natGateways/natgw"}}},
		FileNATs: []any{map[string]any{"id": benchNet + "/natGateways/natgw", "name": "natgw", "publicIpAddresses": []any{map[string]any{"id": benchNet + "/publicIPAddresses/natgw"}},
			"subnets": []any{map[string]any{"id": benchSubnet}}}},
		FileLBs: []any{map[string]any{"id": benchLB, "name": "kubernetes", "sku": map[string]any{"name": "Standard"},
			"frontendIPConfigurations": []any{map[string]any{"id": benchFE, "name": "fe", "publicIPAddress": map[string]any{"id": benchNet + "/publicIPAddresses/fe"}}},
			"backendAddressPools":      []any{map[string]any{"id": benchPool, "name": "kubernetes", "backendIPConfigurations": backends}},
			"probes":                   []any{map[string]any{"id": benchLB + "/probes/p30080", "name": "p30080", "protocol": "Tcp", "port": 30080}},
			"loadBalancingRules": []any{map[string]any{"id": benchLB + "/loadBalancingRules/" + benchRule, "name": benchRule, "protocol": "Tcp", "frontendPort": 80, "backendPort": 30080,
				"frontendIPConfiguration": map[string]any{"id": benchFE}, "backendAddressPool": map[string]any{"id": benchPool},
				"probe": map[string]any{"id": benchLB + "/probes/p30080"}, "enableFloatingIP": false, "disableOutboundSnat": true}}}},
		DirHealth + "/kubernetes.json": map[string]any{benchRule: map[string]any{"up": len(health), "down": 0, "loadBalancerBackendAddresses": health}},
	}
	for name, d := range docs {
		data, err := json.MarshalIndent(d, "", "  ")
		if err != nil {
			b.Fatal(err)
		}
		a.files[name] = source.NewFile("cloud/azure/"+name, data)
		a.bytes += int64(len(data))
	}
	benchAccounts[n] = a
	return a
}

func benchProvider(b *testing.B, a *benchAccount) *Provider {
	x, err := Parse("cloud/azure", a.files)
	if err != nil {
		b.Fatal(err)
	}
	return New(x, a.nodes, []netip.Prefix{netip.MustParsePrefix("10.96.0.0/11")})
}

// BenchmarkParse is Parse+New of the whole account.
func BenchmarkParse(b *testing.B) {
	for _, n := range benchSizes {
		a := benchGen(b, n)
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			b.SetBytes(a.bytes)
			b.ReportAllocs()
			b.ReportMetric(float64(a.bytes)/1e6, "export-MB")
			for i := 0; i < b.N; i++ {
				benchProvider(b, a)
			}
		})
	}
}

// BenchmarkLeg is one pod-to-pod leg from the first node to the node of the last
// host-gw route: Egress, Route (the table's longest match) and Ingress.
func BenchmarkLeg(b *testing.B) {
	for _, n := range benchSizes {
		a := benchGen(b, n)
		p := benchProvider(b, a)
		k := n/2 - 1
		l := cloud.Leg{From: "node-0", To: fmt.Sprintf("node-%d", k), Via: benchNodeIP(k),
			Packet: packet.Packet{Src: benchPodIP(0), Dst: benchPodIP(k), Proto: packet.TCP, SPort: 40000, DPort: 8080}}
		ds := append(p.Egress(l), p.Ingress(l)...)
		rds, land := p.Route(l)
		for _, d := range append(ds, rds...) {
			if d.Blocks() {
				b.Fatalf("N=%d: the leg is blocked: %+v", n, d)
			}
		}
		if land.Node != l.To {
			b.Fatalf("N=%d: the leg lands on %q, not %s", n, land.Node, l.To)
		}
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				p.Egress(l)
				p.Route(l)
				p.Ingress(l)
			}
		})
	}
}

// BenchmarkInbound is one packet from the internet to the load balancer, fanned out to
// its N/10 targets.
func BenchmarkInbound(b *testing.B) {
	for _, n := range benchSizes {
		a := benchGen(b, n)
		p := benchProvider(b, a)
		pk := packet.Packet{Src: netip.MustParseAddr("198.51.100.7"), Dst: netip.MustParseAddr(benchLBAddr), Proto: packet.TCP, SPort: 40000, DPort: 80}
		es, ok := p.Inbound(pk)
		if !ok || len(es) != n/10 {
			b.Fatalf("N=%d: inbound gave %d entries (ok %v), want %d", n, len(es), ok, n/10)
		}
		for _, e := range es {
			for _, d := range e.Decisions {
				if d.Blocks() {
					b.Fatalf("N=%d: entry %s blocked: %+v", n, e.Branch, d)
				}
			}
		}
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				p.Inbound(pk)
			}
			// The load balancer's targets are part of the path: the entries grow with
			// them, so the flat measure is the time per entry.
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(es)), "ns/entry")
		})
	}
}
