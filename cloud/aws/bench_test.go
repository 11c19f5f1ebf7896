package aws

// Benchmarks at account scale (issue 8): an account with N instances and their
// interfaces, N/10 security groups of 20 rules, a route table with N/2 host-gw pod-CIDR
// routes, a NAT gateway and a network load balancer with N/10 targets. Parse+New is
// measured for throughput and allocations; one node-to-node leg (Egress, Route, Ingress)
// and one Inbound to the load balancer must take the same order of time at every N (a
// trace must not grow with the account beyond what its path touches).
// Reproduce: go test ./cloud/aws -run XXX -bench . -benchmem (docs/benchmarks.md).

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

func benchInstanceID(i int) string { return fmt.Sprintf("i-%017x", i+1) }
func benchENIID(i int) string      { return fmt.Sprintf("eni-%017x", i+1) }

// benchGen builds the account's exports in the shape of the AWS CLI's JSON output
// (indented, so every object has its own line to cite).
func benchGen(b *testing.B, n int) *benchAccount {
	if a := benchAccounts[n]; a != nil {
		return a
	}
	const vpc, nodesSubnet, publicSubnet = "vpc-0bench0000000001", "subnet-0nodes000000001", "subnet-0public00000001"
	groups := n / 10
	var insts, enis []any
	a := &benchAccount{files: map[string]*source.File{}}
	for i := 0; i < n; i++ {
		ip := benchNodeIP(i).String()
		sgs := []any{map[string]any{"GroupName": "k8s-nodes", "GroupId": "sg-0nodes000000001"},
			map[string]any{"GroupName": fmt.Sprintf("app-%d", i%groups), "GroupId": fmt.Sprintf("sg-%017x", i%groups+1)}}
		eni := map[string]any{
			"Attachment":  map[string]any{"DeviceIndex": 0, "InstanceId": benchInstanceID(i), "Status": "attached"},
			"Description": "", "Groups": sgs, "InterfaceType": "interface", "NetworkInterfaceId": benchENIID(i),
			"PrivateIpAddress": ip, "PrivateIpAddresses": []any{map[string]any{"Primary": true, "PrivateIpAddress": ip}},
			"SourceDestCheck": false, "Status": "in-use", "SubnetId": nodesSubnet, "VpcId": vpc,
		}
		enis = append(enis, eni)
		insts = append(insts, map[string]any{
			"InstanceId": benchInstanceID(i), "InstanceType": "m5.large", "Placement": map[string]any{"AvailabilityZone": "us-east-1a"},
			"PrivateIpAddress": ip, "State": map[string]any{"Code": 16, "Name": "running"}, "SubnetId": nodesSubnet, "VpcId": vpc,
			"SourceDestCheck": false, "SecurityGroups": sgs, "NetworkInterfaces": []any{eni},
		})
		a.nodes = append(a.nodes, cloud.Node{Name: fmt.Sprintf("node-%d", i), ProviderID: "aws:///us-east-1a/" + benchInstanceID(i),
			Addrs: []netip.Addr{benchNodeIP(i)}, PodCIDRs: []netip.Prefix{benchPodCIDR(i)}})
	}
	enis = append(enis,
		map[string]any{"Description": "Interface for NAT Gateway nat-0bench000000001", "Groups": []any{}, "InterfaceType": "nat_gateway",
			"NetworkInterfaceId": "eni-0natgw000000001", "PrivateIpAddress": "10.1.0.5",
			"PrivateIpAddresses": []any{map[string]any{"Association": map[string]any{"PublicIp": "203.0.113.5"}, "Primary": true, "PrivateIpAddress": "10.1.0.5"}},
			"SourceDestCheck":    false, "Status": "in-use", "SubnetId": publicSubnet, "VpcId": vpc},
		map[string]any{"Description": "ELB net/bench/0123456789abcdef", "Groups": []any{}, "InterfaceType": "network_load_balancer",
			"NetworkInterfaceId": "eni-0nlb0000000000001", "PrivateIpAddress": "10.1.0.20",
			"PrivateIpAddresses": []any{map[string]any{"Association": map[string]any{"PublicIp": "203.0.113.10"}, "Primary": true, "PrivateIpAddress": "10.1.0.20"}},
			"SourceDestCheck":    true, "Status": "in-use", "SubnetId": publicSubnet, "VpcId": vpc})

	perm := func(proto string, from, to int, cidrs []string, groups []string) map[string]any {
		m := map[string]any{"IpProtocol": proto, "IpRanges": []any{}, "Ipv6Ranges": []any{}, "PrefixListIds": []any{}, "UserIdGroupPairs": []any{}}
		if proto != "-1" {
			m["FromPort"], m["ToPort"] = from, to
		}
		var rs, gs []any
		for _, c := range cidrs {
			rs = append(rs, map[string]any{"CidrIp": c})
		}
		for _, g := range groups {
			gs = append(gs, map[string]any{"GroupId": g})
		}
		if rs != nil {
			m["IpRanges"] = rs
		}
		if gs != nil {
			m["UserIdGroupPairs"] = gs
		}
		return m
	}
	sgs := []any{map[string]any{
		"GroupName": "k8s-nodes", "GroupId": "sg-0nodes000000001", "VpcId": vpc,
		"IpPermissions": []any{perm("-1", 0, 0, nil, []string{"sg-0nodes000000001"}), perm("-1", 0, 0, []string{"10.96.0.0/11"}, nil),
			perm("tcp", 30000, 32767, []string{"0.0.0.0/0"}, nil)},
		"IpPermissionsEgress": []any{perm("-1", 0, 0, []string{"0.0.0.0/0"}, nil)},
	}}
	for g := 0; g < groups; g++ {
		var in []any
		for r := 0; r < 20; r++ {
			in = append(in, perm("tcp", 1000+r, 1000+r, []string{fmt.Sprintf("192.168.%d.0/24", r)}, nil))
		}
		sgs = append(sgs, map[string]any{"GroupName": fmt.Sprintf("app-%d", g), "GroupId": fmt.Sprintf("sg-%017x", g+1), "VpcId": vpc,
			"IpPermissions": in, "IpPermissionsEgress": []any{perm("-1", 0, 0, []string{"0.0.0.0/0"}, nil)}})
	}

	local := map[string]any{"DestinationCidrBlock": "10.0.0.0/15", "GatewayId": "local", "State": "active"}
	routes := []any{local}
	for i := 0; i < n/2; i++ {
		routes = append(routes, map[string]any{"DestinationCidrBlock": benchPodCIDR(i).String(), "InstanceId": benchInstanceID(i),
			"NetworkInterfaceId": benchENIID(i), "State": "active"})
	}
	routes = append(routes, map[string]any{"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": "nat-0bench000000001", "State": "active"})
	rts := []any{
		map[string]any{"Associations": []any{map[string]any{"Main": true, "RouteTableId": "rtb-0main00000000001"}},
			"RouteTableId": "rtb-0main00000000001", "Routes": routes, "VpcId": vpc},
		map[string]any{"Associations": []any{map[string]any{"Main": false, "RouteTableId": "rtb-0public0000000001", "SubnetId": publicSubnet}},
			"RouteTableId": "rtb-0public0000000001", "VpcId": vpc,
			"Routes": []any{local, map[string]any{"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-0bench000000001", "State": "active"}}},
	}
	entry := func(egress bool, action string, num int) map[string]any {
		return map[string]any{"CidrBlock": "0.0.0.0/0", "Egress": egress, "Protocol": "-1", "RuleAction": action, "RuleNumber": num}
	}
	acls := []any{map[string]any{"NetworkAclId": "acl-0default00000001", "IsDefault": true, "VpcId": vpc,
		"Associations": []any{map[string]any{"NetworkAclId": "acl-0default00000001", "SubnetId": nodesSubnet},
			map[string]any{"NetworkAclId": "acl-0default00000001", "SubnetId": publicSubnet}},
		"Entries": []any{entry(true, "allow", 100), entry(true, "deny", 32767), entry(false, "allow", 100), entry(false, "deny", 32767)}}}

	const lbARN = "arn:aws:elasticloadbalancing:us-east-1:111122223333:loadbalancer/net/bench/0123456789abcdef"
	const tgARN = "arn:aws:elasticloadbalancing:us-east-1:111122223333:targetgroup/bench-80/fedcba9876543210"
	var targets []any
	for i := 0; i < n; i += 10 {
		targets = append(targets, map[string]any{"Target": map[string]any{"Id": benchInstanceID(i), "Port": 30080}, "TargetHealth": map[string]any{"State": "healthy"}})
	}
	docs := map[string]any{
		FileInstances:   map[string]any{"Reservations": []any{map[string]any{"ReservationId": "r-0bench", "Instances": insts}}},
		FileENIs:        map[string]any{"NetworkInterfaces": enis},
		FileGroups:      map[string]any{"SecurityGroups": sgs},
		FileACLs:        map[string]any{"NetworkAcls": acls},
		FileRouteTables: map[string]any{"RouteTables": rts},
		FileNATs: map[string]any{"NatGateways": []any{map[string]any{"NatGatewayAddresses": []any{map[string]any{"NetworkInterfaceId": "eni-0natgw000000001",
			"PrivateIp": "10.1.0.5", "PublicIp": "203.0.113.5", "IsPrimary": true}}, "NatGatewayId": "nat-0bench000000001", "State": "available",
			"SubnetId": publicSubnet, "VpcId": vpc, "ConnectivityType": "public"}}},
		FileLBs: map[string]any{"LoadBalancers": []any{map[string]any{"LoadBalancerArn": lbARN, "DNSName": "bench.elb.us-east-1.amazonaws.com",
			"LoadBalancerName": "bench", "Scheme": "internet-facing", "VpcId": vpc, "State": map[string]any{"Code": "active"}, "Type": "network",
			"AvailabilityZones": []any{map[string]any{"ZoneName": "us-east-1a", "SubnetId": publicSubnet,
				"LoadBalancerAddresses": []any{map[string]any{"IpAddress": "203.0.113.10"}}}}}}},
		FileListeners: map[string]any{"Listeners": []any{map[string]any{"ListenerArn": lbARN + "/l1", "LoadBalancerArn": lbARN, "Port": 80, "Protocol": "TCP",
			"DefaultActions": []any{map[string]any{"Type": "forward", "TargetGroupArn": tgARN}}}}},
		FileTGs: map[string]any{"TargetGroups": []any{map[string]any{"TargetGroupArn": tgARN, "TargetGroupName": "bench-80", "Protocol": "TCP",
			"Port": 30080, "VpcId": vpc, "LoadBalancerArns": []any{lbARN}, "TargetType": "instance"}}},
		DirTargetHealth + "/bench-80.json": map[string]any{"TargetHealthDescriptions": targets},
	}
	for name, d := range docs {
		data, err := json.MarshalIndent(d, "", "    ")
		if err != nil {
			b.Fatal(err)
		}
		a.files[name] = source.NewFile("cloud/aws/"+name, data)
		a.bytes += int64(len(data))
	}
	benchAccounts[n] = a
	return a
}

func benchProvider(b *testing.B, a *benchAccount) *Provider {
	x, err := Parse("cloud/aws", a.files)
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
		pk := packet.Packet{Src: netip.MustParseAddr("198.51.100.7"), Dst: netip.MustParseAddr("203.0.113.10"), Proto: packet.TCP, SPort: 40000, DPort: 80}
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
