package gcp

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/netsim/netsim/cloud"
)

// Routes-based clusters (host-gw, kubenet): pod ranges are no alias ranges, the VPC
// routes them with nextHopInstance, and the instances need canIpForward.
func TestCanIPForward(t *testing.T) {
	const insts = `[
 {"name": "a", "canIpForward": true, "networkInterfaces": [{"network": "n/vpc", "networkIP": "10.0.0.2"}]},
 {"name": "b", "canIpForward": false, "networkInterfaces": [{"network": "n/vpc", "networkIP": "10.0.0.3"}]}
]`
	const routes = `[
 {"name": "pods-a", "network": "n/vpc", "destRange": "10.4.1.0/24", "nextHopInstance": "z/instances/a"},
 {"name": "pods-b", "network": "n/vpc", "destRange": "10.4.2.0/24", "nextHopInstance": "z/instances/b"}
]`
	x := parse(t, map[string]string{FileInstances: insts, FileRoutes: routes, FileFirewalls: `[{"name": "all", "network": "n/vpc", "allowed": [{"IPProtocol": "all"}]}]`})
	p := New(x, []cloud.Node{{Name: "na", Addrs: []netip.Addr{netip.MustParseAddr("10.0.0.2")}}, {Name: "nb", Addrs: []netip.Addr{netip.MustParseAddr("10.0.0.3")}}}, nil)
	l := cloud.Leg{From: "na", To: "nb", Packet: tcp("10.4.1.2", "10.4.2.2", 80)}
	eg := p.Egress(l)
	if eg[0].Step != "gcp ip forwarding" || eg[0].Blocks() {
		t.Errorf("a forwards: %v", verdicts(eg))
	}
	rds, land := p.Route(l)
	if land.Node != "nb" || rds[0].Object != "route/pods-b" {
		t.Errorf("route: %v %+v", verdicts(rds), land)
	}
	in := p.Ingress(l)
	if len(in) != 1 || in[0].Code != "gcp-can-ip-forward" {
		t.Errorf("b without canIpForward: %v", verdicts(in))
	}
	// A route to the wrong instance is a misroute.
	l.To = "na"
	if rds, land := p.Route(l); land.Node != "nb" || rds[0].Verdict != cloud.Misroute {
		t.Errorf("misroute: %v %+v", verdicts(rds), land)
	}
}

// An instance's external IP is a way in: translated to its internal IP, judged by the
// ingress rules, translated back on the reply.
func TestInbound(t *testing.T) {
	p := provider(t, `[{"name": "np", "network": "n/vpc", "sourceRanges": ["0.0.0.0/0"], "targetTags": ["db"], "allowed": [{"IPProtocol": "tcp", "ports": ["30000-32767"]}]}]`, "")
	es, ok := p.Inbound(tcp("198.51.100.7", "203.0.113.3", 30080))
	if !ok || len(es) != 1 || es[0].Node != "nb" || es[0].Packet.Dst.String() != "10.0.0.3" {
		t.Fatalf("inbound: %v %+v", ok, es)
	}
	if d := es[0].Decisions[1]; d.Object != "firewall/np" || d.Blocks() {
		t.Errorf("firewall: %v", verdicts(es[0].Decisions))
	}
	r := tcp("10.0.0.3", "198.51.100.7", 40000)
	if back, _ := es[0].Back(r); back.Src.String() != "203.0.113.3" {
		t.Errorf("reply leaves as %s", back.Src)
	}
	es, _ = p.Inbound(tcp("198.51.100.7", "203.0.113.3", 22))
	if d := es[0].Decisions[1]; !d.Blocks() || es[0].Node != "" || !strings.Contains(d.Fix, "tcp:22 from 0.0.0.0/0 to target tag db") {
		t.Errorf("port 22: %v %q", verdicts(es[0].Decisions), d.Fix)
	}
	if _, ok := p.Inbound(tcp("198.51.100.7", "203.0.113.99", 80)); ok {
		t.Error("an address no instance holds is not the provider's")
	}
}

// A node that is no instance of the export is unknown, never allowed.
func TestUnmappedNode(t *testing.T) {
	p := provider(t, `[]`, "")
	ds := p.Egress(cloud.Leg{From: "nx", Packet: tcp("10.7.0.1", "10.0.0.3", 80)})
	if len(ds) != 1 || ds[0].Verdict != cloud.Unknown || ds[0].Code != "cloud-node-unmapped" {
		t.Errorf("%v", verdicts(ds))
	}
}
