package gcp

// Benchmarks at project scale (issue 8): a project with N instances, N/10 network tags
// with 20 firewall rules each, N/2 host-gw pod-CIDR routes (nextHopInstance), a Cloud NAT
// router and a passthrough Network Load Balancer whose target pool has N/10 instances. Parse+New is
// measured for throughput and allocations; one node-to-node leg (Egress, Route, Ingress)
// and one Inbound to the load balancer must take the same order of time at every N (a
// trace must not grow with the account beyond what its path touches).
// Reproduce: go test ./cloud/gcp -run XXX -bench . -benchmem (docs/benchmarks.md).

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

const benchNet = "https://www.googleapis.com/compute/v1/projects/bench/global/networks/vpc"

func benchInstance(i int) string { return fmt.Sprintf("node-%d", i) }

// benchGen builds the project's exports in the shape of gcloud's --format=json output
// (indented, so every object has its own line to cite).
func benchGen(b *testing.B, n int) *benchAccount {
	if a := benchAccounts[n]; a != nil {
		return a
	}
	const zone = "https://www.googleapis.com/compute/v1/projects/bench/zones/europe-west1-b"
	const subnet = "https://www.googleapis.com/compute/v1/projects/bench/regions/europe-west1/subnetworks/nodes"
	tags := n / 10
	a := &benchAccount{files: map[string]*source.File{}}
	var insts, routes, fws, members, health []any
	for i := 0; i < n; i++ {
		insts = append(insts, map[string]any{"name": benchInstance(i), "zone": zone, "status": "RUNNING", "canIpForward": true,
			"tags":              map[string]any{"items": []any{"k8s-node", fmt.Sprintf("app-%d", i%tags)}},
			"networkInterfaces": []any{map[string]any{"name": "nic0", "network": benchNet, "subnetwork": subnet, "networkIP": benchNodeIP(i).String()}}})
		a.nodes = append(a.nodes, cloud.Node{Name: benchInstance(i), ProviderID: "gce://bench/europe-west1-b/" + benchInstance(i),
			Addrs: []netip.Addr{benchNodeIP(i)}, PodCIDRs: []netip.Prefix{benchPodCIDR(i)}})
	}
	routes = append(routes,
		map[string]any{"name": "default-route-internet", "network": benchNet, "destRange": "0.0.0.0/0", "priority": 1000,
			"nextHopGateway": "https://www.googleapis.com/compute/v1/projects/bench/global/gateways/default-internet-gateway"},
		map[string]any{"name": "default-route-subnet-nodes", "network": benchNet, "destRange": "10.0.0.0/16", "priority": 0, "nextHopNetwork": benchNet})
	for i := 0; i < n/2; i++ {
		routes = append(routes, map[string]any{"name": fmt.Sprintf("pods-%d", i), "network": benchNet, "destRange": benchPodCIDR(i).String(),
			"priority": 1000, "nextHopInstance": zone + "/instances/" + benchInstance(i)})
	}
	fws = append(fws,
		map[string]any{"name": "k8s-pods", "network": benchNet, "direction": "INGRESS", "priority": 1000, "sourceRanges": []any{"10.96.0.0/11"},
			"targetTags": []any{"k8s-node"}, "allowed": []any{map[string]any{"IPProtocol": "tcp"}, map[string]any{"IPProtocol": "udp"}, map[string]any{"IPProtocol": "icmp"}}},
		map[string]any{"name": "k8s-fw-bench", "network": benchNet, "direction": "INGRESS", "priority": 1000, "sourceRanges": []any{"0.0.0.0/0"},
			"destinationRanges": []any{"203.0.113.50"}, "targetTags": []any{"k8s-node"}, "allowed": []any{map[string]any{"IPProtocol": "tcp", "ports": []any{"80"}}}},
		map[string]any{"name": "k8s-hc", "network": benchNet, "direction": "INGRESS", "priority": 1000,
			"sourceRanges": []any{"35.191.0.0/16", "209.85.152.0/22", "209.85.204.0/22"}, "allowed": []any{map[string]any{"IPProtocol": "tcp", "ports": []any{"10256"}}}})
	for t := 0; t < tags; t++ {
		for r := 0; r < 20; r++ {
			fws = append(fws, map[string]any{"name": fmt.Sprintf("app-%d-%d", t, r), "network": benchNet, "direction": "INGRESS", "priority": 900,
				"sourceRanges": []any{fmt.Sprintf("192.168.%d.0/24", r)}, "targetTags": []any{fmt.Sprintf("app-%d", t)},
				"allowed": []any{map[string]any{"IPProtocol": "tcp", "ports": []any{fmt.Sprint(1000 + r)}}}})
		}
	}
	for i := 0; i < n; i += 10 {
		members = append(members, zone+"/instances/"+benchInstance(i))
		health = append(health, map[string]any{"healthStatus": []any{map[string]any{"healthState": "HEALTHY", "instance": zone + "/instances/" + benchInstance(i), "ipAddress": "203.0.113.50"}}})
	}
	docs := map[string]any{
		FileInstances: insts, FileRoutes: routes, FileFirewalls: fws,
		FileNetworks: []any{map[string]any{"name": "vpc", "autoCreateSubnetworks": false}},
		FileRouters: []any{map[string]any{"name": "router", "network": benchNet, "region": "https://www.googleapis.com/compute/v1/projects/bench/regions/europe-west1",
			"nats": []any{map[string]any{"name": "nat", "sourceSubnetworkIpRangesToNat": "ALL_SUBNETWORKS_ALL_IP_RANGES", "natIpAllocateOption": "AUTO_ONLY", "type": "PUBLIC"}}}},
		FileForwardingRules: []any{map[string]any{"name": "fr-80", "region": "x/regions/europe-west1", "IPAddress": "203.0.113.50", "IPProtocol": "TCP",
			"portRange": "80-80", "loadBalancingScheme": "EXTERNAL", "target": "x/regions/europe-west1/targetPools/pool"}},
		FileTargetPools:                    []any{map[string]any{"name": "pool", "instances": members, "healthChecks": []any{"x/global/httpHealthChecks/hc"}}},
		FileHealthChecks:                   []any{map[string]any{"name": "hc", "type": "HTTP", "httpHealthCheck": map[string]any{"port": 10256}}},
		DirTargetPoolHealth + "/pool.json": health,
	}
	for name, d := range docs {
		data, err := json.MarshalIndent(d, "", "  ")
		if err != nil {
			b.Fatal(err)
		}
		a.files[name] = source.NewFile("cloud/gcp/"+name, data)
		a.bytes += int64(len(data))
	}
	benchAccounts[n] = a
	return a
}

func benchProvider(b *testing.B, a *benchAccount) *Provider {
	x, err := Parse("cloud/gcp", a.files)
	if err != nil {
		b.Fatal(err)
	}
	return New(x, a.nodes, []netip.Prefix{netip.MustParsePrefix("10.96.0.0/11")})
}

const benchLBAddr = "203.0.113.50"

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
		l := cloud.Leg{From: benchInstance(0), To: benchInstance(k), Via: benchNodeIP(k),
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
