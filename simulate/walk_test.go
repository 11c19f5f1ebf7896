package simulate

import (
	"strings"
	"testing"

	"github.com/netsim/netsim/bundle"
	"github.com/netsim/netsim/model"
	"github.com/netsim/netsim/rules/packet"
)

func twoNode(t *testing.T) *model.Cluster {
	t.Helper()
	b, err := bundle.Open("../testdata/bundles/two-node-iptables")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	c, err := model.Load(b, model.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func trace(t *testing.T, s *Simulator, src, dst string, port uint16, proto uint8) *Result {
	t.Helper()
	se, err := Resolve(s.C, src)
	if err != nil {
		t.Fatal(err)
	}
	de, err := Resolve(s.C, dst)
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Trace(Query{Src: se, Dst: de, Port: port, Proto: proto})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestGraphWiring checks the graph built from node1's dump: each pod's eth0 is paired with
// the host veth its @ifN names, the veths are ports of cni0, and eth0 is on the underlay.
func TestGraphWiring(t *testing.T) {
	g := NewGraph(twoNode(t))
	if err := g.LoadNode("node1"); err != nil {
		t.Fatal(err)
	}
	host := g.Space("node1", "host")
	cni0 := g.Device(host, "cni0")
	ports := g.Ports(cni0)
	if len(ports) != 2 {
		t.Fatalf("cni0 has %d ports, want 2", len(ports))
	}
	peers := map[string]bool{}
	for _, p := range ports {
		peer := g.VethPeer(p)
		if peer == nil || peer.Link.Name != "eth0" {
			t.Fatalf("port %s: peer %v, want a pod's eth0", p.Link.Name, peer)
		}
		if g.VethPeer(peer) != p {
			t.Errorf("%s's peer is not %s", peer, p.Link.Name)
		}
		peers[peer.Space.Name] = true
	}
	if !peers["pod/default/pod1a"] || !peers["pod/default/pod1b"] {
		t.Errorf("cni0's ports lead to %v, want pod1a and pod1b", peers)
	}
	if !g.OnUnderlay(g.Device(host, "eth0")) || g.OnUnderlay(cni0) {
		t.Error("eth0 should be on the underlay, cni0 not")
	}
	if strings.Contains(g.String(), "node2") {
		t.Error("the graph holds node2, which nothing asked for")
	}
}

// TestTraceReadsOnlyThePath checks that a same-node trace reads one node's dump, and a
// Service trace the nodes of its endpoints.
func TestTraceReadsOnlyThePath(t *testing.T) {
	c := twoNode(t)
	s := New(c)
	r := trace(t, s, "pod/default/pod1b", "pod/default/pod1a", 8080, packet.TCP)
	if r.Verdict != VDelivered || len(c.LoadedNodes()) != 1 {
		t.Fatalf("verdict %s, nodes read %v; want delivered reading node1 only", r.Verdict, c.LoadedNodes())
	}
	r = trace(t, s, "pod/default/pod1b", "svc/default/echo", 80, packet.TCP)
	if r.Verdict != VDelivered || len(r.Paths) != 2 || len(c.LoadedNodes()) != 2 {
		t.Fatalf("verdict %s with %d paths, nodes read %v", r.Verdict, len(r.Paths), c.LoadedNodes())
	}
	eps := []string{r.Paths[0].Endpoint, r.Paths[1].Endpoint}
	if eps[0] != "10.244.1.2:8080" || eps[1] != "10.244.2.2:8080" {
		t.Errorf("endpoints %v", eps)
	}
	for _, p := range r.Paths {
		last := p.Hops[len(p.Hops)-1]
		if !last.Reply || last.NetNS != "pod/default/pod1b" || last.Packet.Src.String() != "10.96.158.24" {
			t.Errorf("path to %s ends with %+v, want the reply at pod1b from the cluster IP", p.Endpoint, last)
		}
	}
}

// TestResolveForms checks every SRC/DST form of the contract.
func TestResolveForms(t *testing.T) {
	c := twoNode(t)
	for in, want := range map[string]string{
		"pod/default/pod1a":              "pod/default/pod1a",
		"default/pod1a":                  "pod/default/pod1a",
		"service/default/echo":           "svc/default/echo",
		"default/echo":                   "svc/default/echo",
		"echo.default.svc":               "svc/default/echo",
		"echo.default.svc.cluster.local": "svc/default/echo",
		"node/node2":                     "node/node2",
		"10.244.2.2":                     "pod/default/pod2a",
		"10.200.0.11":                    "node/node1",
		"10.96.158.24":                   "svc/default/echo",
		"192.0.2.1":                      "192.0.2.1",
	} {
		e, err := Resolve(c, in)
		if err != nil || e.Name != want {
			t.Errorf("Resolve(%q) = %q, %v; want %q", in, e.Name, err, want)
		}
	}
	for _, bad := range []string{"pod/default", "node/nope", "node1", "a/b/c/d", "echo.default.svc.other"} {
		if _, err := Resolve(c, bad); err == nil {
			t.Errorf("Resolve(%q) succeeded", bad)
		}
	}
}
