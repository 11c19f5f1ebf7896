package simulate

import (
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/netsim/netsim/rules/packet"
)

// withNFT is node1 of the testbed bundle (kube-proxy in iptables mode) with an nft.json
// holding the given native tables.
func withNFT(t *testing.T, nftJSON string) *NetNS {
	return node1(t, func(dir string) {
		if err := os.WriteFile(filepath.Join(dir, "nodes/node1/nft.json"), []byte(nftJSON), 0o644); err != nil {
			t.Fatal(err)
		}
	})
}

func nftDoc(objs ...string) string { return `{"nftables": [` + strings.Join(objs, ",") + `]}` }

func table(fam, name string, handle int) string {
	return `{"table": {"family": "` + fam + `", "name": "` + name + `", "handle": ` + itoa(handle) + `}}`
}

func base(fam, tbl, name, typ, hook string, prio int, policy string) string {
	return `{"chain": {"family": "` + fam + `", "table": "` + tbl + `", "name": "` + name + `", "handle": 1, "type": "` + typ + `", "hook": "` + hook + `", "prio": ` + itoa(prio) + `, "policy": "` + policy + `"}}`
}

func rule(fam, tbl, chain string, handle int, exprs string) string {
	return `{"rule": {"family": "` + fam + `", "table": "` + tbl + `", "chain": "` + chain + `", "handle": ` + itoa(handle) + `, "expr": [` + exprs + `]}}`
}

func itoa(n int) string { return strconv.Itoa(n) }

const dport8080 = `{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 8080}}`

func podToPod() packet.Packet {
	return packet.Packet{Src: netip.MustParseAddr("10.244.1.3"), Dst: netip.MustParseAddr("10.244.2.5"), Proto: packet.TCP, SPort: 40000, DPort: 8080,
		TCPFlags: packet.SYN, CtState: packet.CtNew}
}

func whats(o Outcome) []string {
	var out []string
	for _, s := range o.Steps {
		if strings.HasPrefix(s.What, "nftables") || strings.HasPrefix(s.What, "iptables filter") {
			out = append(out, s.What+" "+s.Action)
		}
	}
	return out
}

func TestHookOrderAcceptGoesOn(t *testing.T) {
	ns := withNFT(t, nftDoc(table("inet", "early", 1), base("inet", "early", "fwd", "filter", "forward", -10, "accept"),
		rule("inet", "early", "fwd", 2, `{"accept": null}`),
		table("ip", "late", 2), base("ip", "late", "fwd", "filter", "forward", 10, "accept"),
		rule("ip", "late", "fwd", 2, dport8080+`, {"drop": null}`)))
	outs := ns.Arrive(podToPod(), "cni0")
	if len(outs) != 1 || outs[0].Kind != Dropped {
		t.Fatalf("want one drop, got %+v", outs)
	}
	got := strings.Join(whats(outs[0]), "; ")
	want := "nftables inet early/fwd accept; iptables filter/FORWARD"
	if !strings.HasPrefix(got, want) || !strings.HasSuffix(got, "nftables ip late/fwd drop") {
		t.Errorf("steps %s", got)
	}
}

func TestHookOrderTiesLaterTableFirst(t *testing.T) {
	ns := withNFT(t, nftDoc(table("ip", "a", 1), base("ip", "a", "fwd", "filter", "forward", 0, "accept"),
		rule("ip", "a", "fwd", 2, dport8080+`, {"reject": {"type": "icmp", "expr": "port-unreachable"}}`),
		table("ip", "b", 2), base("ip", "b", "fwd", "filter", "forward", 0, "accept"),
		rule("ip", "b", "fwd", 2, dport8080+`, {"drop": null}`)))
	outs := ns.Arrive(podToPod(), "cni0")
	if len(outs) != 1 || outs[0].Kind != Dropped {
		t.Errorf("the table registered later runs first at equal priority: got %+v", outs)
	}
}

func TestHookOrderFirstNATDecides(t *testing.T) {
	ns := node1(t, nil)
	vip := echoVIP(t, ns)
	ns = withNFT(t, nftDoc(table("ip", "n", 1), base("ip", "n", "pre", "nat", "prerouting", -150, "accept"),
		rule("ip", "n", "pre", 2, `{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "`+vip.String()+`"}}, {"dnat": {"addr": "10.244.2.9", "port": 9999}}`)))
	p := podToPod()
	p.Dst, p.DPort = vip, 80
	outs := ns.Arrive(p, "cni0")
	if len(outs) == 0 {
		t.Fatal("no outcome")
	}
	for _, o := range outs {
		if o.Packet.Dst != netip.MustParseAddr("10.244.2.9") || o.Packet.DPort != 9999 {
			t.Errorf("the nat chain at -150 runs first in the NAT core and its DNAT decides: %v", o.Packet)
		}
		for _, s := range o.Steps {
			if s.What == "iptables nat/PREROUTING" {
				t.Errorf("iptables' nat chain ran after the translation was set up: %s %s", s.What, s.Action)
			}
		}
	}
}

func TestNotrackNeedsRawPriority(t *testing.T) {
	for _, c := range []struct {
		prio      int
		untracked bool
	}{{-300, true}, {0, false}} {
		ns := withNFT(t, nftDoc(table("ip", "r", 1), base("ip", "r", "pre", "filter", "prerouting", c.prio, "accept"),
			rule("ip", "r", "pre", 2, `{"notrack": null}`)))
		outs := ns.hook("PREROUTING", Outcome{Packet: podToPod()})
		if len(outs) != 1 || outs[0].Packet.Untracked != c.untracked {
			t.Errorf("notrack at priority %d: untracked %v, want %v", c.prio, outs[0].Packet.Untracked, c.untracked)
		}
	}
}

func TestBridgeFamilyIsUnknownForBridgedTraffic(t *testing.T) {
	ns := withNFT(t, nftDoc(table("bridge", "br", 1), base("bridge", "br", "fwd", "filter", "forward", 0, "drop")))
	p := podToPod()
	p.Dst = netip.MustParseAddr("10.244.1.9")
	outs := ns.Bridge(p, "cni0", "veth1", "veth2")
	if len(outs) != 1 || outs[0].Kind != Unknown || !strings.Contains(outs[0].Why, "bridge-family") {
		t.Errorf("bridged packet past a bridge-family base chain: %+v", outs)
	}
}

func TestIptablesNFTWithoutIptablesSave(t *testing.T) {
	ns := node1(t, func(dir string) {
		os.Remove(filepath.Join(dir, "nodes/node1/iptables-save.txt"))
		os.WriteFile(filepath.Join(dir, "nodes/node1/nft.json"), []byte(nftDoc(table("ip", "filter", 1),
			base("ip", "filter", "FORWARD", "filter", "forward", 0, "accept"))), 0o644)
	})
	outs := ns.Arrive(podToPod(), "cni0")
	if len(outs) != 1 || outs[0].Kind != Unknown {
		t.Errorf("iptables-nft's tables without iptables-save must be unknown: %+v", outs)
	}
	// With only native tables it is unknown still: legacy iptables does not show in nft.json.
	ns = node1(t, func(dir string) {
		os.Remove(filepath.Join(dir, "nodes/node1/iptables-save.txt"))
		os.WriteFile(filepath.Join(dir, "nodes/node1/nft.json"), []byte(nftDoc(table("inet", "fw", 1),
			base("inet", "fw", "fwd", "filter", "forward", 0, "accept"))), 0o644)
	})
	for _, o := range ns.Arrive(podToPod(), "cni0") {
		if o.Kind != Unknown || !strings.Contains(o.Why, "no iptables-save.txt") {
			t.Errorf("native nft only, no iptables-save: %v %s", o.Kind, o.Why)
		}
	}
}

// TestDeviceHooks: netdev ingress and egress chains (testdata of rules/nft: nft 1.0.6 does
// not print their devices) are unknown where they would change the packet's way, and pass
// where they would not; with the device named, they apply to that device only.
func TestDeviceHooks(t *testing.T) {
	data, err := os.ReadFile("../rules/nft/testdata/netdev.json")
	if err != nil {
		t.Fatal(err)
	}
	ns := withNFT(t, string(data))
	outs := ns.Arrive(podToPod(), "cni0")
	if len(outs) != 1 || outs[0].Kind != Unknown || !strings.Contains(outs[0].Why, "does not name its device") {
		t.Errorf("tcp 8080 past an ingress chain that drops it, device unknown: %+v", outs)
	}
	p := podToPod()
	p.DPort = 80
	for _, o := range ns.Arrive(p, "cni0") {
		if o.Kind != Forward {
			t.Errorf("tcp 80: the chain changes nothing, whichever device it is on: %v %s", o.Kind, o.Why)
		}
	}
	named := strings.Replace(string(data), `"hook": "ingress", "prio": 0`, `"hook": "ingress", "dev": "eth0", "prio": 0`, 1)
	ns = withNFT(t, named)
	for dev, want := range map[string]OutcomeKind{"cni0": Forward, "eth0": Dropped} {
		q := podToPod()
		if dev == "eth0" {
			q.Src = netip.MustParseAddr("10.200.0.12")
		}
		outs := ns.Arrive(q, dev)
		if len(outs) != 1 || outs[0].Kind != want {
			t.Errorf("ingress on eth0, packet in on %s: %+v, want %v", dev, outs, want)
		}
	}
}
