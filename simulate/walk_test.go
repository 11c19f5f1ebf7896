package simulate

import (
	"os"
	"path/filepath"
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

// calico copies the synthetic Calico IP-in-IP bundle, lets edit change it, and opens it.
func calico(t *testing.T, edit func(dir string)) *Simulator {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "b")
	if err := os.CopyFS(dir, os.DirFS("../testdata/bundles/calico-ipip-synthetic")); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(dir)
	}
	b, err := bundle.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	c, err := model.Load(b, model.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return New(c)
}

func setSysctl(t *testing.T, file, name, value string) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, name+" = ") {
			lines[i] = name + " = " + value
		}
	}
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestCalicoIPIP walks Calico's dataplane shape: a pod's default route to 169.254.1.1
// answered by proxy ARP on the host's cali veth, /32 routes to local pods, IP-in-IP
// through tunl0 to the other node (outer packet through both nodes' netfilter), and back.
func TestCalicoIPIP(t *testing.T) {
	steps := func(p Path) string {
		var out []string
		for _, h := range p.Hops {
			if strings.HasPrefix(h.Step, "ipip") || h.Step == "veth" || h.Step == "underlay" {
				out = append(out, h.Step+":"+h.Action)
			}
		}
		return strings.Join(out, " ")
	}
	cases := []struct {
		name    string
		edit    func(dir string)
		size    int
		verdict Verdict
		code    string
		steps   string
	}{
		{name: "healthy", verdict: VDelivered,
			steps: "veth:forward ipip tunl0:encapsulate underlay:forward ipip tunl0:decapsulate veth:forward veth:forward ipip tunl0:encapsulate underlay:forward ipip tunl0:decapsulate veth:forward"},
		{name: "proxy-arp-off", verdict: VNoRoute, code: "neighbour",
			edit: func(dir string) { setSysctl(t, dir+"/nodes/node1/sysctl.txt", "net.ipv4.conf.calia1.proxy_arp", "0") }},
		// ip_forward=0 also turns proxy ARP off: the pod cannot even reach its gateway.
		{name: "forwarding-off", verdict: VNoRoute, code: "neighbour",
			edit: func(dir string) {
				for _, n := range []string{"net.ipv4.ip_forward", "net.ipv4.conf.all.forwarding", "net.ipv4.conf.calia1.forwarding", "net.ipv4.conf.eth0.forwarding", "net.ipv4.conf.tunl0.forwarding"} {
					setSysctl(t, dir+"/nodes/node1/sysctl.txt", n, "0")
				}
			}},
		{name: "mtu", size: 1490, verdict: VDenied, code: "mtu"},
		{name: "tunnel-mtu", size: 1470, verdict: VDenied, code: "mtu",
			edit: func(dir string) {
				data, _ := os.ReadFile(dir + "/nodes/node1/addr.json")
				os.WriteFile(dir+"/nodes/node1/addr.json", []byte(strings.Replace(string(data), `"mtu": 1500`, `"mtu": 1480`, 1)), 0o644)
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := calico(t, c.edit)
			src, _ := Resolve(s.C, "pod/default/a")
			dst, _ := Resolve(s.C, "pod/default/b")
			r, err := s.Trace(Query{Src: src, Dst: dst, Port: 8080, Proto: packet.TCP, Size: c.size})
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Paths) != 1 || r.Verdict != c.verdict {
				t.Fatalf("verdict %s with %d paths, want %s: %+v", r.Verdict, len(r.Paths), c.verdict, r.Paths)
			}
			p := r.Paths[0]
			if c.code != "" && (len(p.Findings) == 0 || p.Findings[0].Code != c.code) {
				t.Errorf("findings %+v, want first %s", p.Findings, c.code)
			}
			if c.steps != "" && steps(p) != c.steps {
				t.Errorf("steps\n%s\nwant\n%s", steps(p), c.steps)
			}
		})
	}
}
