package simulate

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/netsim/netsim/bundle"
	"github.com/netsim/netsim/model"
	"github.com/netsim/netsim/rules/packet"
)

// TestIPVSScenarios walks the bundles ipvsgen froze from kube-proxy's real ipvs proxier
// (testdata/ipvs, e2e/tools/ipvsgen) and checks every path's verdict and endpoint against
// what the kernel's IPVS does with that state (ip_vs_core.c, ip_vs_xmit.c):
// scheduling after filter INPUT, a path per real server with weight > 0, ICMP port
// unreachable without one, NAT xmit through LOCAL_OUT and POSTROUTING (masquerade for
// NodePort), and the reply un-NATed by IPVS's connection table.
func TestIPVSScenarios(t *testing.T) {
	for _, tc := range []struct {
		bundle, src, dst string
		port             uint16
		proto            uint8
		want             string // "endpoint verdict" per path, sorted
	}{
		// ClusterIP from a pod: both pods, the same-node one's reply un-NATed at the
		// bridge's FORWARD (br_netfilter), the other's at node1's FORWARD.
		{"two-node-ipvs", "pod/default/pod1b", "svc/default/echo", 80, packet.TCP, "10.244.1.2:8080 delivered, 10.244.2.2:8080 delivered"},
		{"two-node-ipvs", "pod/default/pod2b", "svc/default/echo", 80, packet.TCP, "10.244.1.2:8080 delivered, 10.244.2.2:8080 delivered"},
		{"two-node-ipvs", "pod/default/pod1b", "svc/default/echo", 53, packet.UDP, "10.244.1.2:5353 delivered, 10.244.2.2:5353 delivered"},
		// A pod reaching itself through its Service: KUBE-LOOP-BACK masquerades.
		{"two-node-ipvs", "pod/default/pod1a", "svc/default/echo", 80, packet.TCP, "10.244.1.2:8080 delivered, 10.244.2.2:8080 delivered"},
		// NodePort from another node: KUBE-NODE-PORT marks, POSTROUTING masquerades.
		{"two-node-ipvs", "node/node2", "10.200.0.11", 30080, packet.TCP, "10.244.1.2:8080 delivered, 10.244.2.2:8080 delivered"},
		// LoadBalancer and external IPs from a pod.
		{"two-node-ipvs", "pod/default/pod1b", "192.0.2.10", 80, packet.TCP, "10.244.1.2:8080 delivered, 10.244.2.2:8080 delivered"},
		{"two-node-ipvs", "pod/default/pod1b", "192.0.2.20", 80, packet.TCP, "10.244.1.2:8080 delivered, 10.244.2.2:8080 delivered"},
		// Session affinity: persistent, both real servers possible for a first connection.
		{"two-node-ipvs", "pod/default/pod1b", "svc/default/echo-affinity", 80, packet.TCP, "10.244.1.2:8080 delivered, 10.244.2.2:8080 delivered"},
		// eTP Local: kube-proxy v1.34's ipvs proxier gives node1's NodePort the remote
		// endpoint without masquerade (KUBE-NODE-PORT-LOCAL-TCP): the reply goes straight
		// back to the client node, which drops its own address as a martian source.
		{"two-node-ipvs", "node/node2", "10.200.0.11", 30082, packet.TCP, "10.244.2.2:8080 denied"},
		// No endpoints: a virtual service without real servers answers port unreachable.
		{"two-node-ipvs", "pod/default/pod1b", "svc/default/noep", 80, packet.TCP, "10.96.123.45:80 rejected"},
		// Wrong targetPort: scheduled, nothing listens there.
		{"two-node-ipvs", "pod/default/pod1b", "svc/default/echo-badport", 80, packet.TCP, "10.244.1.2:9090 no-listener, 10.244.2.2:9090 no-listener"},
		// kube-proxy on node2 lags: its IPVS still names the old pod 10.244.1.9.
		{"kube-proxy-stale", "pod/default/pod2b", "svc/default/echo", 80, packet.TCP, "10.244.1.9:8080 no-route, 10.244.2.2:8080 delivered"},
		{"kube-proxy-stale", "pod/default/pod1b", "svc/default/echo", 80, packet.TCP, "10.244.1.2:8080 delivered, 10.244.2.2:8080 delivered"},
		// Drained: every real server weight 0 -> port unreachable; one drained of two.
		{"drained", "pod/default/pod1b", "svc/default/echo", 80, packet.TCP, "10.96.158.24:80 rejected"},
		{"drained", "pod/default/pod1b", "svc/default/echo-np", 80, packet.TCP, "10.244.2.2:8080 delivered"},
		// vs.conntrack=0 on node1: no masquerade, so the remote pod answers node2 directly.
		{"vs-conntrack-off", "node/node2", "10.200.0.11", 30080, packet.TCP, "10.244.1.2:8080 delivered, 10.244.2.2:8080 denied"},
	} {
		t.Run(fmt.Sprintf("%s/%s-%s-%d", tc.bundle, tc.src, tc.dst, tc.port), func(t *testing.T) {
			b, err := bundle.Open("../testdata/ipvs/" + tc.bundle)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			c, err := model.Load(b, model.Options{})
			if err != nil {
				t.Fatal(err)
			}
			r := trace(t, New(c), tc.src, tc.dst, tc.port, tc.proto)
			var got []string
			for _, p := range r.Paths {
				got = append(got, p.Endpoint+" "+string(p.Verdict))
			}
			sort.Strings(got)
			if g := strings.Join(got, ", "); g != tc.want {
				t.Errorf("got %s\nwant %s", g, tc.want)
			}
		})
	}
}

// ipvsBundle copies a frozen ipvs bundle to a temporary folder, changing files with edit
// (node-relative path -> replacement of old by new).
func ipvsBundle(t *testing.T, name string, edits map[string][2]string) *model.Cluster {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("../testdata/ipvs/"+name)); err != nil {
		t.Fatal(err)
	}
	for file, e := range edits {
		data, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), e[0]) {
			t.Fatalf("%s has no %q", file, e[0])
		}
		if err := os.WriteFile(filepath.Join(dir, file), []byte(strings.Replace(string(data), e[0], e[1], 1)), 0o644); err != nil {
			t.Fatal(err)
		}
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
	return c
}

// TestIPVSConntrackOffInvalidReply: with net.ipv4.vs.conntrack=0 IPVS untracks the request
// (ip_vs_notrack), so the director's conntrack has no entry and the real server's SYN-ACK
// is INVALID there. kube-proxy's KUBE-FORWARD accepts RELATED,ESTABLISHED only: under a
// FORWARD policy DROP the reply that conntrack=1 lets through is now dropped, on both
// paths (the remote pod's reply routed through node1, the local pod's bridged with
// br_netfilter).
func TestIPVSConntrackOffInvalidReply(t *testing.T) {
	drop := [2]string{":FORWARD ACCEPT", ":FORWARD DROP"}
	for _, tc := range []struct {
		conntrack string
		want      string
	}{
		{"1", "10.244.1.2:8080 delivered, 10.244.2.2:8080 delivered"},
		{"0", "10.244.1.2:8080 denied, 10.244.2.2:8080 denied"},
	} {
		c := ipvsBundle(t, "two-node-ipvs", map[string][2]string{
			"nodes/node1/iptables-save.txt": drop,
			"nodes/node1/sysctl.txt":        {"net.ipv4.vs.conntrack = 1", "net.ipv4.vs.conntrack = " + tc.conntrack},
		})
		r := trace(t, New(c), "pod/default/pod1b", "svc/default/echo", 80, packet.TCP)
		var got []string
		for _, p := range r.Paths {
			got = append(got, p.Endpoint+" "+string(p.Verdict))
			if tc.conntrack == "0" && (len(p.Findings) == 0 || p.Findings[0].Code != "iptables-drop" || !strings.Contains(p.Findings[0].Message, "the reply")) {
				t.Errorf("conntrack=0, %s: want the reply dropped by filter/FORWARD's policy first, got %+v", p.Endpoint, p.Findings)
			}
		}
		sort.Strings(got)
		if g := strings.Join(got, ", "); g != tc.want {
			t.Errorf("vs.conntrack=%s: got %s\nwant %s", tc.conntrack, g, tc.want)
		}
	}
}

// TestIPVSPropertyScrubbed: the packet IPVS sent on carries its virtual service (for
// -m ipvs) in the director's namespace only; crossing a veth scrubs the ipvs property
// (skb_scrub_packet's ipvs_reset), so the pod's own rules see a plain packet.
func TestIPVSPropertyScrubbed(t *testing.T) {
	c := ipvsBundle(t, "two-node-ipvs", nil)
	r := trace(t, New(c), "pod/default/pod1b", "svc/default/echo", 80, packet.TCP)
	for _, p := range r.Paths {
		sent := false
		for _, h := range p.Hops {
			switch {
			case h.Step == "ipvs" && h.Action == "masq":
				sent = true
				if h.Packet.IPVSVAddr.String() != "10.96.158.24:80" || !h.Packet.IPVS || h.Packet.IPVSMethod != packet.IPVSMasq {
					t.Errorf("%s: the sent packet carries %v %v %v", p.Endpoint, h.Packet.IPVS, h.Packet.IPVSVAddr, h.Packet.IPVSMethod)
				}
			case strings.HasPrefix(h.NetNS, "pod/") && (h.Packet.IPVS || h.Packet.IPVSVAddr.IsValid()):
				t.Errorf("%s hop %s %s: the ipvs property crossed into the pod's namespace", p.Endpoint, h.NetNS, h.Step)
			}
		}
		if !sent {
			t.Errorf("%s: no IPVS masq hop", p.Endpoint)
		}
	}
}

// TestIPVSAgainstAPI: the warnings that compare a node's IPVS state with the API objects.
func TestIPVSAgainstAPI(t *testing.T) {
	findings := func(r *Result) string {
		var out []string
		for _, p := range r.Paths {
			var codes []string
			for _, f := range p.Findings {
				codes = append(codes, f.Code)
			}
			out = append(out, p.Endpoint+" "+string(p.Verdict)+" "+strings.Join(codes, ","))
		}
		sort.Strings(out)
		return strings.Join(out, "; ")
	}
	for _, tc := range []struct {
		name, bundle string
		edits        map[string][2]string
		src, dst     string
		want         string
		msg          string // in some finding's message
	}{
		// node2's kube-proxy lags: 10.244.1.9 (an old pod) is a real server, 10.244.1.2 is not.
		{"stale", "kube-proxy-stale", nil, "pod/default/pod2b", "svc/default/echo",
			"10.244.1.9:8080 no-route neighbour,ipvs-endpoints-differ; 10.244.2.2:8080 delivered ipvs-endpoints-differ",
			"real servers that are not endpoints: 10.244.1.9:8080 (nodes/node2/ipvs.txt:8); endpoints that are not real servers: 10.244.1.2:8080"},
		// In sync: nothing to say (node1's eTP Local NodePort without a local endpoint
		// keeps the remote one, as kube-proxy does).
		{"in-sync", "two-node-ipvs", nil, "pod/default/pod1b", "svc/default/echo",
			"10.244.1.2:8080 delivered ; 10.244.2.2:8080 delivered ", ""},
		{"etp-local", "two-node-ipvs", nil, "node/node2", "10.200.0.11:30082", "10.244.2.2:8080 denied drop,reply-not-unnat", ""},
		// Drained to weight 0 after the endpoints went away: the drained code, no mismatch.
		{"drained", "drained", nil, "pod/default/pod1b", "svc/default/echo", "10.96.158.24:80 rejected ipvs-all-drained", "drained to weight 0"},
		{"no-endpoints", "two-node-ipvs", nil, "pod/default/pod1b", "svc/default/noep", "10.96.123.45:80 rejected ipvs-no-real-server",
			"IPVS virtual service 10.96.123.45:80/tcp (nodes/node1/ipvs.txt:6) has no real server"},
		// The ClusterIP is missing from KUBE-CLUSTER-IP: KUBE-IPVS-FILTER rejects it.
		{"ipset", "two-node-ipvs", map[string][2]string{"nodes/node1/ipset.txt": {"add KUBE-CLUSTER-IP 10.96.158.24,tcp:80\n", ""}},
			"pod/default/pod1b", "svc/default/echo",
			"10.244.1.2:8080 rejected iptables-reject,ipvs-ipset-missing; 10.244.2.2:8080 rejected iptables-reject,ipvs-ipset-missing",
			"10.96.158.24:80/tcp (clusterIP of Service default/echo) is not in ipset KUBE-CLUSTER-IP"},
		// The ClusterIP is not on kube-ipvs0: routed on untranslated.
		{"kube-ipvs0", "two-node-ipvs", map[string][2]string{
			"nodes/node1/addr.json":  {`"local": "10.96.158.24",`, `"local": "10.96.158.99",`},
			"nodes/node1/route.json": {`"dst": "10.96.158.24",`, `"dst": "10.96.158.99",`}},
			"pod/default/pod1b", "svc/default/echo", "10.96.158.24:80 denied service-not-translated,ipvs-address-missing",
			"10.96.158.24:80/tcp (clusterIP of Service default/echo) is not a local address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ipvsBundle(t, tc.bundle, tc.edits)
			src, dst := tc.src, tc.dst
			port := uint16(80)
			if a, p, ok := strings.Cut(dst, ":"); ok {
				dst, port = a, 30082
				_ = p
			}
			r := trace(t, New(c), src, dst, port, packet.TCP)
			if got := findings(r); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
			if tc.msg != "" {
				found := false
				for _, p := range r.Paths {
					for _, f := range p.Findings {
						found = found || strings.Contains(f.Message, tc.msg)
					}
				}
				if !found {
					t.Errorf("no finding says %q: %+v", tc.msg, r.Paths[0].Findings)
				}
			}
		})
	}
}
