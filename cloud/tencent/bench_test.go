package tencent

// Benchmarks at account scale (issue 8): an account with N CVM instances and their
// ENIs, N/10 security groups of 20 policies, a route table with N/2 GlobalRouter pod-CIDR
// routes (NORMAL_CVM), a NAT gateway with its SNAT rules and a CLB with N/10 targets. Parse+New is
// measured for throughput and allocations; one node-to-node leg (Egress, Route, Ingress)
// and one Inbound to the load balancer must take the same order of time at every N (a
// trace must not grow with the account beyond what its path touches).
// Reproduce: go test ./cloud/tencent -run XXX -bench . -benchmem (docs/benchmarks.md).

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

const benchLBAddr = "203.0.113.10"

func benchInstanceID(i int) string { return fmt.Sprintf("ins-%08x", i+1) }

// benchGen builds the account's exports in the shape of tccli's JSON output (indented,
// so every object has its own line to cite).
func benchGen(b *testing.B, n int) *benchAccount {
	if a := benchAccounts[n]; a != nil {
		return a
	}
	const vpc, subnet, rtb = "vpc-bench001", "subnet-nodes01", "rtb-main0001"
	groups := n / 10
	a := &benchAccount{files: map[string]*source.File{}}
	var insts, enis, routes, targets []any
	for i := 0; i < n; i++ {
		ip := benchNodeIP(i).String()
		sgs := []any{"sg-nodes001", fmt.Sprintf("sg-app%05x", i%groups)}
		insts = append(insts, map[string]any{"Placement": map[string]any{"Zone": "ap-guangzhou-3"}, "InstanceId": benchInstanceID(i), "InstanceName": fmt.Sprintf("node-%d", i),
			"InstanceState": "RUNNING", "PrivateIpAddresses": []any{ip}, "PublicIpAddresses": nil, "SecurityGroupIds": sgs,
			"VirtualPrivateCloud": map[string]any{"VpcId": vpc, "SubnetId": subnet, "AsVpcGateway": false}})
		enis = append(enis, map[string]any{"NetworkInterfaceId": fmt.Sprintf("eni-%08x", i+1), "VpcId": vpc, "SubnetId": subnet, "Primary": true, "State": "AVAILABLE",
			"GroupSet": sgs, "PrivateIpAddressSet": []any{map[string]any{"PrivateIpAddress": ip, "Primary": true, "PublicIpAddress": "", "State": "AVAILABLE"}},
			"Attachment": map[string]any{"InstanceId": benchInstanceID(i), "DeviceIndex": 0}})
		a.nodes = append(a.nodes, cloud.Node{Name: fmt.Sprintf("node-%d", i), ProviderID: "qcloud:///800003/" + benchInstanceID(i),
			Addrs: []netip.Addr{benchNodeIP(i)}, PodCIDRs: []netip.Prefix{benchPodCIDR(i)}})
		if i < n/2 {
			routes = append(routes, map[string]any{"RouteId": 1000 + i, "RouteItemId": fmt.Sprintf("rti-%08x", i+1), "DestinationCidrBlock": benchPodCIDR(i).String(),
				"GatewayType": "NORMAL_CVM", "GatewayId": ip, "Enabled": true, "RouteType": "USER"})
		}
		if i%10 == 0 {
			targets = append(targets, map[string]any{"IP": ip, "Port": 30080, "HealthStatus": true, "TargetId": benchInstanceID(i), "HealthStatusDetail": "Alive"})
		}
	}
	routes = append(routes, map[string]any{"RouteId": 999999, "RouteItemId": "rti-natdeflt", "DestinationCidrBlock": "0.0.0.0/0", "GatewayType": "NAT",
		"GatewayId": "nat-egress01", "Enabled": true, "RouteType": "USER"})
	pol := func(i int, proto, port, cidr, group, action string) map[string]any {
		m := map[string]any{"PolicyIndex": i, "Protocol": proto, "Port": port, "Action": action}
		if group != "" {
			m["SecurityGroupId"] = group
		} else {
			m["CidrBlock"] = cidr
		}
		return m
	}
	docs := map[string]any{
		FileInstances: map[string]any{"TotalCount": n, "InstanceSet": insts},
		FileENIs:      map[string]any{"TotalCount": n, "NetworkInterfaceSet": enis},
		FileSubnets: map[string]any{"Response": map[string]any{"SubnetSet": []any{map[string]any{"VpcId": vpc, "SubnetId": subnet, "CidrBlock": "10.0.0.0/16",
			"RouteTableId": rtb, "Zone": "ap-guangzhou-3"}}}},
		FileRouteTables: map[string]any{"RouteTableSet": []any{map[string]any{"VpcId": vpc, "RouteTableId": rtb, "Main": true,
			"AssociationSet": []any{map[string]any{"SubnetId": subnet, "RouteTableId": rtb}}, "RouteSet": routes}}},
		FileNATs: map[string]any{"NatGatewaySet": []any{map[string]any{"NatGatewayId": "nat-egress01", "State": "AVAILABLE", "VpcId": vpc,
			"PublicIpAddressSet": []any{map[string]any{"AddressId": "eip-nat00001", "PublicIpAddress": "203.0.113.100"}}}}},
		DirSNAT + "/nat-egress01.json": map[string]any{"SourceIpTranslationNatRuleSet": []any{
			map[string]any{"NatGatewaySnatId": "snat-nodes001", "NatGatewayId": "nat-egress01", "ResourceId": subnet, "ResourceType": "SUBNET", "PrivateIpAddress": "10.0.0.0/16", "PublicIpAddresses": []any{"203.0.113.100"}},
			map[string]any{"NatGatewaySnatId": "snat-pods0001", "NatGatewayId": "nat-egress01", "ResourceType": "USERDEFINED", "PrivateIpAddress": "10.96.0.0/11", "PublicIpAddresses": []any{"203.0.113.100"}}}},
		FileLBs: map[string]any{"LoadBalancerSet": []any{map[string]any{"LoadBalancerId": "lb-bench001", "LoadBalancerName": "bench", "LoadBalancerType": "OPEN", "Forward": 1,
			"Status": 1, "LoadBalancerVips": []any{benchLBAddr}, "VpcId": vpc, "SecureGroups": []any{}, "LoadBalancerPassToTarget": false}}},
		DirListeners + "/lb-bench001.json": map[string]any{"Listeners": []any{map[string]any{"ListenerId": "lbl-http0080", "ListenerName": "TCP-80", "Protocol": "TCP", "Port": 80, "Scheduler": "WRR"}}},
		FileTargetHealth: map[string]any{"LoadBalancers": []any{map[string]any{"LoadBalancerId": "lb-bench001", "Listeners": []any{map[string]any{"ListenerId": "lbl-http0080",
			"Protocol": "TCP", "Port": 80, "Rules": []any{map[string]any{"LocationId": "loc-http0080", "Targets": targets}}}}}}},
		DirPolicies + "/sg-nodes001.json": map[string]any{"SecurityGroupPolicySet": map[string]any{"Version": "1",
			"Egress": []any{pol(0, "ALL", "ALL", "0.0.0.0/0", "", "ACCEPT")},
			"Ingress": []any{pol(0, "ALL", "ALL", "", "sg-nodes001", "ACCEPT"), pol(1, "ALL", "ALL", "10.96.0.0/11", "", "ACCEPT"),
				pol(2, "TCP", "30000-32767", "0.0.0.0/0", "", "ACCEPT")}}},
	}
	for g := 0; g < groups; g++ {
		var in []any
		for r := 0; r < 20; r++ {
			in = append(in, pol(r, "TCP", fmt.Sprint(1000+r), fmt.Sprintf("192.168.%d.0/24", r), "", "ACCEPT"))
		}
		docs[DirPolicies+fmt.Sprintf("/sg-app%05x.json", g)] = map[string]any{"SecurityGroupPolicySet": map[string]any{"Version": "1",
			"Egress": []any{pol(0, "ALL", "ALL", "0.0.0.0/0", "", "ACCEPT")}, "Ingress": in}}
	}
	for name, d := range docs {
		data, err := json.MarshalIndent(d, "", "  ")
		if err != nil {
			b.Fatal(err)
		}
		a.files[name] = source.NewFile("cloud/tencent/"+name, data)
		a.bytes += int64(len(data))
	}
	benchAccounts[n] = a
	return a
}

func benchProvider(b *testing.B, a *benchAccount) *Provider {
	x, err := Parse("cloud/tencent", a.files)
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
