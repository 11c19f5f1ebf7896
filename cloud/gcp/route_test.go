package gcp

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/netsim/netsim/cloud"
)

func TestRoutes(t *testing.T) {
	const routes = `[
 {"name": "internet", "network": "n/vpc", "destRange": "0.0.0.0/0", "priority": 1000, "nextHopGateway": "g/default-internet-gateway"},
 {"name": "subnet", "network": "n/vpc", "destRange": "10.0.0.0/24", "priority": 0, "nextHopNetwork": "n/vpc"},
 {"name": "onprem-low", "network": "n/vpc", "destRange": "172.16.0.0/12", "priority": 1000, "nextHopVpnTunnel": "t/tunnel-a"},
 {"name": "onprem-high", "network": "n/vpc", "destRange": "172.16.0.0/12", "priority": 100, "nextHopVpnTunnel": "t/tunnel-b"},
 {"name": "onprem-specific", "network": "n/vpc", "destRange": "172.16.5.0/24", "priority": 2000, "nextHopPeering": "peer-x"},
 {"name": "tagged", "network": "n/vpc", "destRange": "192.168.0.0/16", "priority": 0, "tags": ["db"], "nextHopInstance": "z/instances/b"},
 {"name": "ilb", "network": "n/vpc", "destRange": "10.8.0.0/24", "nextHopIlb": "f/fr-ilb"},
 {"name": "other-net", "network": "n/other", "destRange": "10.50.0.0/16", "priority": 0, "nextHopIp": "10.9.0.2"}
]`
	p := provider(t, `[]`, routes)
	cases := []struct {
		name, from, dst string
		want            string // route name (or verdict) and landing
	}{
		{"subnet route to the instance holding the address", "na", "10.0.0.3", "subnet -> nb"},
		{"no subnet route covers an alias: implied from the interface", "na", "10.4.2.7", "implied local route of b nic0 -> nb"},
		{"longest prefix", "na", "172.16.5.1", "onprem-specific -> the peered network through peering peer-x"},
		{"same prefix: lower priority number", "na", "172.17.0.1", "onprem-high -> VPN tunnel tunnel-b"},
		{"route tags: applies to instances with the tag", "nb", "192.168.1.1", "tagged -> nb"},
		{"route tags: not to others (the default route, private: no route)", "na", "192.168.1.1", "no-route"},
		{"internal load balancer", "na", "10.8.0.5", "ilb -> internal load balancer fr-ilb"},
		{"other network's routes do not apply", "na", "10.50.0.1", "no-route"},
		{"internet without external IP: cloud nat unknown", "na", "93.184.216.34", "unknown"},
		{"internet with external IP", "nb", "93.184.216.34", "internet -> the internet through default-internet-gateway"},
	}
	for _, c := range cases {
		ds, land := p.Route(cloud.Leg{From: c.from, Packet: tcp("10.0.0.2", c.dst, 443)})
		if c.from == "nb" {
			ds, land = p.Route(cloud.Leg{From: c.from, Packet: tcp("10.0.0.3", c.dst, 443)})
		}
		last := ds[len(ds)-1]
		var got string
		switch {
		case last.Blocks():
			got = last.Verdict.String()
		default:
			to := land.Node
			if to == "" {
				to = land.Beyond
			}
			src := p.nodeNIC[c.from]
			got = p.X.Lookup(src, netipAddr(c.dst)).Name + " -> " + to
		}
		if got != c.want {
			t.Errorf("%s: %s, want %s (%v)", c.name, got, c.want, verdicts(ds))
		}
	}
	// A subnet route to a node for an address nothing holds (a host-gw pod range that is
	// no alias range) delivers to no VM.
	ds, land := p.Route(cloud.Leg{From: "na", To: "nb", Packet: tcp("10.0.0.2", "10.0.0.200", 80)})
	if land.Node != "" || ds[0].Code != "gcp-no-route" {
		t.Errorf("unheld address: %v %+v", verdicts(ds), land)
	}
	// No routes export and nothing implied: unknown.
	q := provider(t, `[]`, "")
	if ds, _ := q.Route(cloud.Leg{From: "na", Packet: tcp("10.0.0.2", "8.8.8.8", 53)}); ds[0].Verdict != cloud.Unknown {
		t.Errorf("no routes.json: %v", verdicts(ds))
	}
}

func netipAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// Without subnet routes in routes.json, the implied local routes come from subnets.json
// when it is exported (primary and secondary ranges), else from the interfaces.
func TestImpliedLocalRoutes(t *testing.T) {
	const subnets = `[{"name": "nodes", "network": "n/vpc", "region": "r/europe-west1", "ipCidrRange": "10.0.0.0/24",
  "secondaryIpRanges": [{"rangeName": "pods", "ipCidrRange": "10.4.0.0/16"}]}]`
	x := parse(t, map[string]string{FileInstances: instances, FileFirewalls: `[]`, FileRoutes: `[]`, FileSubnets: subnets})
	p := New(x, nodes(), nil)
	ds, land := p.Route(cloud.Leg{From: "na", To: "nb", Packet: tcp("10.4.1.2", "10.4.2.2", 80)})
	if land.Node != "nb" || ds[0].Object != "subnetwork/nodes" || !strings.Contains(ds[0].Note, "subnetwork's range") {
		t.Errorf("from subnets.json: %v %+v %q", verdicts(ds), land, ds[0].Note)
	}
	if r := x.Lookup(p.nodeNIC["na"], netipAddr("10.4.2.2")); r.Dest.String() != "10.4.0.0/16" {
		t.Errorf("secondary range route %v", r)
	}
	// In the subnet but held by no instance: no VM receives it.
	if ds, land := p.Route(cloud.Leg{From: "na", To: "nb", Packet: tcp("10.0.0.2", "10.0.0.77", 80)}); land.Node != "" || ds[0].Code != "gcp-no-route" {
		t.Errorf("unheld: %v %+v", verdicts(ds), land)
	}
	// Outside every subnet: no route.
	if ds, _ := p.Route(cloud.Leg{From: "na", Packet: tcp("10.0.0.2", "10.99.0.1", 80)}); ds[0].Verdict != cloud.NoRoute {
		t.Errorf("outside: %v", verdicts(ds))
	}
	// Without subnets.json: from the interface, and the note says so.
	q := provider(t, `[]`, `[]`)
	ds, land = q.Route(cloud.Leg{From: "na", To: "nb", Packet: tcp("10.4.1.2", "10.4.2.2", 80)})
	if land.Node != "nb" || ds[0].Object != "network/vpc" || !strings.Contains(ds[0].Note, "subnets.json is not exported") {
		t.Errorf("from the interface: %v %+v %q", verdicts(ds), land, ds[0].Note)
	}
}
