package simulate

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netsim/netsim/bundle"
	"github.com/netsim/netsim/model"
	"github.com/netsim/netsim/rules/packet"
)

// node1 of the testbed bundle: real kube-proxy rules, a cni0 bridge, br_netfilter on.
func node1(t *testing.T, edit func(dir string)) *NetNS {
	t.Helper()
	src := "../testdata/bundles/two-node-iptables"
	dir := t.TempDir()
	filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		rel, _ := filepath.Rel(src, p)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(dir, rel), 0o755)
		}
		data, _ := os.ReadFile(p)
		return os.WriteFile(filepath.Join(dir, rel), data, 0o644)
	})
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
	st, err := c.NodeState("node1")
	if err != nil {
		t.Fatal(err)
	}
	ns, err := NewNetNS(st.Host)
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

func echoVIP(t *testing.T, ns *NetNS) netip.Addr {
	for _, r := range ns.IPT4.Tables["nat"].Chains["KUBE-SERVICES"].Rules {
		if strings.Contains(r.Text, "default/echo:http cluster IP") {
			return netip.MustParseAddr(strings.TrimSuffix(r.Conds[0].Args[0], "/32"))
		}
	}
	t.Fatal("no echo rule")
	return netip.Addr{}
}

func TestArriveServiceFromPod(t *testing.T) {
	ns := node1(t, nil)
	vip := echoVIP(t, ns)
	p := packet.Packet{Src: netip.MustParseAddr("10.244.1.3"), Dst: vip, Proto: packet.TCP, SPort: 40000, DPort: 80, TCPFlags: packet.SYN, CtState: packet.CtNew}
	outs := ns.Arrive(p, "cni0")
	if len(outs) != 2 {
		t.Fatalf("%d outcomes: %+v", len(outs), outs)
	}
	devs := map[string]bool{}
	for _, o := range outs {
		if o.Kind != Forward || o.Packet.DPort != 8080 {
			t.Errorf("outcome %v %+v (%s)", o.Kind, o.Packet, o.Why)
		}
		devs[o.OutIface] = true
		if o.Steps[len(o.Steps)-1].Pos.File == "" {
			t.Errorf("last step has no source: %+v", o.Steps[len(o.Steps)-1])
		}
	}
	// One endpoint is local (out cni0), the other on node2 (out eth0, host-gw).
	if !devs["cni0"] || !devs["eth0"] {
		t.Errorf("out devices %v", devs)
	}
}

func TestForwardingOff(t *testing.T) {
	ns := node1(t, func(dir string) {
		f := filepath.Join(dir, "nodes/node1/sysctl.txt")
		data, _ := os.ReadFile(f)
		s := strings.ReplaceAll(string(data), "net.ipv4.conf.cni0.forwarding = 1", "net.ipv4.conf.cni0.forwarding = 0")
		os.WriteFile(f, []byte(s), 0o644)
	})
	p := packet.Packet{Src: netip.MustParseAddr("10.244.1.3"), Dst: netip.MustParseAddr("10.244.2.5"), Proto: packet.TCP, SPort: 1, DPort: 8080, TCPFlags: packet.SYN, CtState: packet.CtNew}
	outs := ns.Arrive(p, "cni0")
	if len(outs) != 1 || outs[0].Kind != Dropped || !strings.Contains(outs[0].Why, "forwarding is off on cni0") {
		t.Errorf("%+v", outs)
	}
}

func TestBridgeNetfilter(t *testing.T) {
	ns := node1(t, nil)
	vip := echoVIP(t, ns)
	p := packet.Packet{Src: netip.MustParseAddr("10.244.1.3"), Dst: vip, Proto: packet.TCP, SPort: 40000, DPort: 80, TCPFlags: packet.SYN, CtState: packet.CtNew}
	outs := ns.Bridge(p, "cni0", "veth1", "veth2")
	if len(outs) != 2 || !outs[0].Packet.DNATed {
		t.Fatalf("with bridge-nf-call-iptables=1 the bridged packet is DNATed: %+v", outs)
	}
	off := node1(t, func(dir string) {
		f := filepath.Join(dir, "nodes/node1/sysctl.txt")
		data, _ := os.ReadFile(f)
		os.WriteFile(f, []byte(strings.ReplaceAll(string(data), "net.bridge.bridge-nf-call-iptables = 1", "net.bridge.bridge-nf-call-iptables = 0")), 0o644)
	})
	outs = off.Bridge(p, "cni0", "veth1", "veth2")
	if len(outs) != 1 || outs[0].Packet.DNATed || outs[0].Kind != Forward {
		t.Fatalf("with bridge-nf-call-iptables=0 iptables never sees it: %+v", outs)
	}
}

func TestMissingRulesAreUnknown(t *testing.T) {
	ns := node1(t, func(dir string) { os.Remove(filepath.Join(dir, "nodes/node1/iptables-save.txt")) })
	p := packet.Packet{Src: netip.MustParseAddr("10.244.1.3"), Dst: netip.MustParseAddr("10.244.2.5"), Proto: packet.TCP, SPort: 1, DPort: 8080, CtState: packet.CtNew}
	outs := ns.Arrive(p, "cni0")
	if len(outs) != 1 || outs[0].Kind != Unknown || !strings.Contains(outs[0].Why, "no iptables-save.txt") {
		t.Errorf("a missing rules dump must be unknown, never pass: %+v", outs)
	}
}

func TestSendFromNode(t *testing.T) {
	ns := node1(t, nil)
	vip := echoVIP(t, ns)
	// node -> ClusterIP: routed first (default route), DNATed in nat OUTPUT, rerouted.
	p := packet.Packet{Dst: vip, Proto: packet.TCP, SPort: 40000, DPort: 80, TCPFlags: packet.SYN, CtState: packet.CtNew}
	outs := ns.Send(p)
	if len(outs) != 2 {
		t.Fatalf("%+v", outs)
	}
	for _, o := range outs {
		if o.Kind != Forward || !o.Packet.DNATed || !o.Packet.Src.IsValid() {
			t.Errorf("%v %+v %s", o.Kind, o.Packet, o.Why)
		}
	}
}
