package alibaba

// Benchmarks at account scale (issue 8): an account with N ECS instances and their
// ENIs, N/10 security groups of 20 rules, a route table with N/2 host-gw pod-CIDR routes
// (NextHopType Instance), a NAT gateway with its SNAT entry and an SLB with N/10 backend
// servers. Parse+New is
// measured for throughput and allocations; one node-to-node leg (Egress, Route, Ingress)
// and one Inbound to the load balancer must take the same order of time at every N (a
// trace must not grow with the account beyond what its path touches).
// Reproduce: go test ./cloud/alibaba -run XXX -bench . -benchmem (docs/benchmarks.md).

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

const benchLBAddr = "47.96.10.30"

func benchInstanceID(i int) string { return fmt.Sprintf("i-bp1%017x", i+1) }

// benchGen builds the account's exports in the shape of the aliyun CLI's JSON output
// (indented, so every object has its own line to cite).
func benchGen(b *testing.B, n int) *benchAccount {
	if a := benchAccounts[n]; a != nil {
		return a
	}
	const vpc, nodesVsw, natVsw, vtb = "vpc-bp1bench0000001", "vsw-bp1nodes000000001", "vsw-bp1public00000001", "vtb-bp1system0000001"
	groups := n / 10
	a := &benchAccount{files: map[string]*source.File{}}
	var insts, nics, routes, backends []any
	for i := 0; i < n; i++ {
		ip := benchNodeIP(i).String()
		sgs := map[string]any{"SecurityGroupId": []any{"sg-bp1nodes00000001", fmt.Sprintf("sg-bp1%014x", i%groups+1)}}
		priv := map[string]any{"PrivateIpSet": []any{map[string]any{"PrivateIpAddress": ip, "Primary": true}}}
		eni := fmt.Sprintf("eni-bp1%017x", i+1)
		insts = append(insts, map[string]any{"InstanceId": benchInstanceID(i), "InstanceName": fmt.Sprintf("node-%d", i), "Status": "Running",
			"InstanceNetworkType": "vpc", "VpcAttributes": map[string]any{"VpcId": vpc, "VSwitchId": nodesVsw, "PrivateIpAddress": map[string]any{"IpAddress": []any{ip}}},
			"SecurityGroupIds": sgs, "PublicIpAddress": map[string]any{"IpAddress": []any{}}, "EipAddress": map[string]any{"AllocationId": "", "IpAddress": ""},
			"NetworkInterfaces": map[string]any{"NetworkInterface": []any{map[string]any{"NetworkInterfaceId": eni, "Type": "Primary", "PrimaryIpAddress": ip, "PrivateIpSets": priv}}}})
		nics = append(nics, map[string]any{"NetworkInterfaceId": eni, "InstanceId": benchInstanceID(i), "Type": "Primary", "Status": "InUse", "VpcId": vpc,
			"VSwitchId": nodesVsw, "PrivateIpAddress": ip, "PrivateIpSets": priv, "SecurityGroupIds": sgs, "AssociatedPublicIp": map[string]any{}})
		a.nodes = append(a.nodes, cloud.Node{Name: fmt.Sprintf("node-%d", i), ProviderID: "alicloud://cn-hangzhou.cn-hangzhou-h." + benchInstanceID(i),
			Addrs: []netip.Addr{benchNodeIP(i)}, PodCIDRs: []netip.Prefix{benchPodCIDR(i)}})
		if i < n/2 {
			routes = append(routes, map[string]any{"RouteEntryId": fmt.Sprintf("rte-bp1pod%011x", i+1), "RouteTableId": vtb, "DestinationCidrBlock": benchPodCIDR(i).String(),
				"Type": "Custom", "Status": "Available", "IpVersion": "ipv4", "NextHops": map[string]any{"NextHop": []any{map[string]any{"NextHopType": "Instance", "NextHopId": benchInstanceID(i), "Enabled": 1}}}})
		}
		if i%10 == 0 {
			backends = append(backends, map[string]any{"ServerId": benchInstanceID(i), "ServerIp": ip, "Port": 30080, "ListenerPort": 80, "Protocol": "tcp", "ServerHealthStatus": "normal"})
		}
	}
	system := func(id, cidr string) map[string]any {
		return map[string]any{"RouteEntryId": id, "RouteTableId": vtb, "DestinationCidrBlock": cidr, "Type": "System", "Status": "Available", "IpVersion": "ipv4", "NextHops": map[string]any{"NextHop": []any{}}}
	}
	routes = append([]any{system("rte-bp1sysnodes000001", "10.0.0.0/16"), system("rte-bp1syspublic00001", "10.1.0.0/24"), system("rte-bp1sys100640001", "100.64.0.0/10")}, routes...)
	routes = append(routes, map[string]any{"RouteEntryId": "rte-bp1default000001", "RouteTableId": vtb, "DestinationCidrBlock": "0.0.0.0/0", "Type": "Custom", "Status": "Available",
		"IpVersion": "ipv4", "NextHops": map[string]any{"NextHop": []any{map[string]any{"NextHopType": "NatGateway", "NextHopId": "ngw-bp1egress0000001", "Enabled": 1}}}})
	perm := func(id string, proto, ports, cidr string) map[string]any {
		return map[string]any{"SecurityGroupRuleId": id, "Direction": "ingress", "Policy": "Accept", "Priority": 1, "IpProtocol": proto, "PortRange": ports, "SourceCidrIp": cidr, "NicType": "intranet"}
	}
	docs := map[string]any{
		FileInstances: map[string]any{"TotalCount": n, "Instances": map[string]any{"Instance": insts}},
		FileNICs:      map[string]any{"TotalCount": n, "NetworkInterfaceSets": map[string]any{"NetworkInterfaceSet": nics}},
		FileVSwitches: map[string]any{"VSwitches": map[string]any{"VSwitch": []any{
			map[string]any{"VSwitchId": nodesVsw, "VpcId": vpc, "CidrBlock": "10.0.0.0/16", "Status": "Available", "RouteTable": map[string]any{"RouteTableId": vtb, "RouteTableType": "System"}},
			map[string]any{"VSwitchId": natVsw, "VpcId": vpc, "CidrBlock": "10.1.0.0/24", "Status": "Available", "RouteTable": map[string]any{"RouteTableId": vtb, "RouteTableType": "System"}}}}},
		FileRouteTables: map[string]any{"RouterTableList": map[string]any{"RouterTableListType": []any{map[string]any{"RouteTableId": vtb, "RouteTableType": "System",
			"RouterType": "VRouter", "VpcId": vpc, "Status": "Available", "VSwitchIds": map[string]any{"VSwitchId": []any{nodesVsw, natVsw}}}}}},
		DirRouteEntries + "/" + vtb + ".json": map[string]any{"RouteEntrys": map[string]any{"RouteEntry": routes}},
		FileNATs: map[string]any{"NatGateways": map[string]any{"NatGateway": []any{map[string]any{"NatGatewayId": "ngw-bp1egress0000001", "Status": "Available", "VpcId": vpc,
			"NatType": "Enhanced", "NetworkType": "internet", "NatGatewayPrivateInfo": map[string]any{"VswitchId": natVsw, "PrivateIpAddress": "10.1.0.5"},
			"SnatTableIds": map[string]any{"SnatTableId": []any{"stb-bp1egress0000001"}}, "IpLists": map[string]any{"IpList": []any{map[string]any{"IpAddress": "47.96.10.20", "SnatEntryEnabled": true}}}}}}},
		DirSnatEntries + "/stb-bp1egress0000001.json": map[string]any{"SnatTableEntries": map[string]any{"SnatTableEntry": []any{map[string]any{"SnatEntryId": "snat-bp1nodes0000001",
			"SnatTableId": "stb-bp1egress0000001", "SourceVSwitchId": nodesVsw, "SourceCIDR": "10.0.0.0/16", "SnatIp": "47.96.10.20", "Status": "Available"}}}},
		FileLBs: map[string]any{"LoadBalancers": map[string]any{"LoadBalancer": []any{map[string]any{"LoadBalancerId": "lb-bp1bench000000001", "LoadBalancerStatus": "active",
			"Address": benchLBAddr, "AddressType": "internet", "AddressIPVersion": "ipv4", "NetworkType": "vpc", "VpcId": vpc}}}},
		DirListeners + "/lb-bp1bench000000001.json": map[string]any{"Listeners": []any{map[string]any{"LoadBalancerId": "lb-bp1bench000000001", "ListenerPort": 80,
			"ListenerProtocol": "tcp", "Status": "running", "BackendServerPort": 30080, "VServerGroupId": "rsp-bp1bench00000001", "Scheduler": "rr", "AclStatus": "off"}}},
		DirHealth + "/lb-bp1bench000000001.json": map[string]any{"BackendServers": map[string]any{"BackendServer": backends}},
	}
	nodesSG := map[string]any{"SecurityGroupId": "sg-bp1nodes00000001", "SecurityGroupName": "k8s-nodes", "VpcId": vpc, "InnerAccessPolicy": "Accept",
		"Permissions": map[string]any{"Permission": []any{perm("sgr-nodeport", "TCP", "30000/32767", "0.0.0.0/0"), perm("sgr-pods", "ALL", "-1/-1", "10.96.0.0/11"),
			perm("sgr-health", "TCP", "1/65535", "100.64.0.0/10")}}}
	docs[DirGroups+"/sg-bp1nodes00000001.json"] = nodesSG
	for g := 0; g < groups; g++ {
		id := fmt.Sprintf("sg-bp1%014x", g+1)
		var ps []any
		for r := 0; r < 20; r++ {
			ps = append(ps, perm(fmt.Sprintf("sgr-%d-%d", g, r), "TCP", fmt.Sprintf("%d/%d", 1000+r, 1000+r), fmt.Sprintf("192.168.%d.0/24", r)))
		}
		docs[DirGroups+"/"+id+".json"] = map[string]any{"SecurityGroupId": id, "SecurityGroupName": fmt.Sprintf("app-%d", g), "VpcId": vpc, "InnerAccessPolicy": "Accept",
			"Permissions": map[string]any{"Permission": ps}}
	}
	for name, d := range docs {
		data, err := json.MarshalIndent(d, "", "  ")
		if err != nil {
			b.Fatal(err)
		}
		a.files[name] = source.NewFile("cloud/alibaba/"+name, data)
		a.bytes += int64(len(data))
	}
	benchAccounts[n] = a
	return a
}

func benchProvider(b *testing.B, a *benchAccount) *Provider {
	x, err := Parse("cloud/alibaba", a.files)
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
