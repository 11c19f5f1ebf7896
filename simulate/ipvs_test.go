package simulate

import (
	"fmt"
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
