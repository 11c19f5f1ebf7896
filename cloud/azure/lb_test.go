package azure

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/netsim/netsim/cloud"
	"github.com/netsim/netsim/model/source"
	"github.com/netsim/netsim/rules/packet"
)

const lbID = sub + "/loadBalancers/kubernetes"

// withLB adds load balancer kubernetes (Standard): frontend fe at 203.0.113.10, pool of
// both nodes, rule web (TCP 80 -> 30080, floating IP as given) with probe p, and the
// health per rule given as (IP, state) pairs.
func withLB(x *Export, floating bool, states ...string) {
	pip := sub + "/publicIPAddresses/fe-pip"
	x.PublicIPs[normID(pip)] = &PublicIP{ID: pip, Name: "fe-pip", IP: netip.MustParseAddr("203.0.113.10"), Config: lbID + "/frontendIPConfigurations/fe"}
	pos := func(l int) source.Pos { return source.Pos{File: "cloud/azure/lb-list.json", Line: l} }
	x.LBs = []*LB{{ID: lbID, Name: "kubernetes", SKU: "Standard", Pos: pos(1),
		Frontends: []*Frontend{{ID: lbID + "/frontendIPConfigurations/fe", Name: "fe", PublicIP: pip, Pos: pos(3)}},
		Pools:     []*Pool{{ID: lbID + "/backendAddressPools/kubernetes", Name: "kubernetes", Configs: []string{x.NICs[0].IPConfigs[0].ID, x.NICs[1].IPConfigs[0].ID}}},
		Probes:    []*Probe{{ID: lbID + "/probes/p", Name: "p", Protocol: "Tcp", Port: 30080}},
		Rules: []*LBRule{{ID: lbID + "/loadBalancingRules/web", Name: "web", Frontend: lbID + "/frontendIPConfigurations/fe", Pools: []string{lbID + "/backendAddressPools/kubernetes"},
			Protocol: "tcp", FrontendPort: 80, BackendPort: 30080, Probe: lbID + "/probes/p", FloatingIP: floating, Pos: pos(20)}},
	}}
	var hs []Health
	for i := 0; i+1 < len(states); i += 2 {
		hs = append(hs, Health{IP: netip.MustParseAddr(states[i]), State: states[i+1], Pos: source.Pos{File: "cloud/azure/lb-backend-health/kubernetes.json", Line: 3 + i}})
	}
	x.Has[DirHealth] = "cloud/azure/" + DirHealth
	x.Health["kubernetes"] = map[string][]Health{"web": hs}
	x.HealthPos["kubernetes"] = source.Pos{File: "cloud/azure/lb-backend-health/kubernetes.json", Line: 1}
	// The NSG admits the internet to the node ports and to the frontend (floating IP).
	for _, id := range []string{snsgID, nnsgID} {
		x.NSGs[normID(id)] = nsg(id,
			&Rule{Name: "nodeports", Priority: 500, Inbound: true, Allow: true, Protocol: "tcp", Src: Addr{Prefixes: []string{"Internet"}}, Dst: Addr{Prefixes: []string{"*"}}, SrcPorts: all(), DstPorts: []PortRange{{30000, 32767}}},
			&Rule{Name: "frontend", Priority: 510, Inbound: true, Allow: true, Protocol: "tcp", Src: Addr{Prefixes: []string{"Internet"}}, Dst: Addr{Prefixes: []string{"203.0.113.10"}}, SrcPorts: all(), DstPorts: []PortRange{{80, 80}}})
	}
}

func entriesTo(t *testing.T, es []cloud.Entry) map[string]packet.Packet {
	t.Helper()
	out := map[string]packet.Packet{}
	for _, e := range es {
		if e.Node != "" {
			out[e.Node] = e.Packet
		}
	}
	return out
}

// TestLoadBalancer: the frontend's rule for the port, the probe's view per backend
// (only Up backends get new flows; none Up drops), the backend NSGs, and floating IP.
func TestAzureLoadBalancer(t *testing.T) {
	client := tcp("198.51.100.7", "203.0.113.10", 80)

	x := fixture()
	withLB(x, false, "10.0.0.4", "Up", "10.0.0.5", "Down")
	es, ok := provider(x).Inbound(client)
	got := entriesTo(t, es)
	if !ok || len(es) != 1 || got["a"].Dst != netip.MustParseAddr("10.0.0.4") || got["a"].DPort != 30080 || got["a"].Src != client.Src {
		t.Fatalf("one Up backend, no floating IP: %+v", es)
	}
	r, ds := es[0].Back(packet.Packet{Src: netip.MustParseAddr("10.0.0.4"), Dst: client.Src, Proto: packet.TCP, SPort: 30080, DPort: 40000})
	if r.Src != client.Dst || r.SPort != 80 || blocked(ds) {
		t.Errorf("reply: %v %+v", r, ds)
	}

	// Floating IP: the frontend address stays the destination; no IP forwarding needed;
	// the NSG judges the frontend address.
	x = fixture()
	x.NICs[0].IPForwarding, x.NICs[1].IPForwarding = false, false
	withLB(x, true, "10.0.0.4", "Up", "10.0.0.5", "Up")
	x.LBs[0].Rules[0].BackendPort = 80
	es, _ = provider(x).Inbound(client)
	got = entriesTo(t, es)
	if len(got) != 2 || got["a"].Dst != client.Dst || got["b"].DPort != 80 {
		t.Fatalf("floating IP: %+v", es)
	}
	for _, e := range es {
		if !strings.Contains(e.Decisions[len(e.Decisions)-2].Object, "frontend") {
			t.Errorf("floating IP judged by %q, want the NSG rule for the frontend", last(e.Decisions).Object)
		}
	}

	// All down: the load balancer sends new flows nowhere.
	x = fixture()
	withLB(x, false, "10.0.0.4", "Down", "10.0.0.5", "Down")
	es, _ = provider(x).Inbound(client)
	if len(es) != 1 || es[0].Node != "" || last(es[0].Decisions).Code != "azure-lb-backends-down" {
		t.Errorf("all down: %+v", es)
	}

	// No rule for the port.
	x = fixture()
	withLB(x, false, "10.0.0.4", "Up")
	es, _ = provider(x).Inbound(tcp("198.51.100.7", "203.0.113.10", 443))
	if d := last(es[0].Decisions); d.Code != "azure-lb-no-rule" || !strings.Contains(d.Message, "80/tcp") {
		t.Errorf("no rule: %+v", d)
	}

	// HA ports: protocol All, port 0 takes any port.
	x = fixture()
	withLB(x, false, "10.0.0.4", "Up")
	x.LBs[0].Rules[0].Protocol, x.LBs[0].Rules[0].FrontendPort, x.LBs[0].Rules[0].BackendPort = "all", 0, 30081
	es, _ = provider(x).Inbound(tcp("198.51.100.7", "203.0.113.10", 4242))
	if got := entriesTo(t, es); got["a"].DPort != 30081 {
		t.Errorf("HA ports: %+v", es)
	}

	// HA ports as Azure requires them (frontend and backend port 0): the port is kept.
	x = fixture()
	withLB(x, false, "10.0.0.4", "Up")
	x.LBs[0].Rules[0].Protocol, x.LBs[0].Rules[0].FrontendPort, x.LBs[0].Rules[0].BackendPort = "all", 0, 0
	x.NSGs[normID(snsgID)].Rules[0].DstPorts = all()
	x.NSGs[normID(nnsgID)].Rules[0].DstPorts = all()
	es, _ = provider(x).Inbound(tcp("198.51.100.7", "203.0.113.10", 4242))
	if got := entriesTo(t, es); got["a"].DPort != 4242 {
		t.Errorf("HA ports, backend port 0: %+v", es)
	}

	// A health state neither Up nor Down: that backend is unknown, never dropped.
	x = fixture()
	withLB(x, false, "10.0.0.4", "Up", "10.0.0.5", "Unknown")
	es, _ = provider(x).Inbound(client)
	if len(es) != 2 || es[0].Node != "a" || last(es[1].Decisions).Verdict != cloud.Unknown || !strings.Contains(last(es[1].Decisions).Message, `"Unknown"`) || last(es[1].Decisions).Pos.IsZero() {
		t.Errorf("one Up, one Unknown: %+v", es)
	}
	x = fixture()
	withLB(x, false, "10.0.0.4", "Down", "10.0.0.5", "")
	es, _ = provider(x).Inbound(client)
	if len(es) != 1 || last(es[0].Decisions).Verdict != cloud.Unknown {
		t.Errorf("one Down, one without a state: want unknown, not the all-down drop: %+v", es)
	}

	// No health export: unknown, naming the file.
	x = fixture()
	withLB(x, false, "10.0.0.4", "Up")
	delete(x.Health, "kubernetes")
	es, _ = provider(x).Inbound(client)
	if d := last(es[0].Decisions); d.Verdict != cloud.Unknown || !strings.Contains(d.Message, "lb-backend-health") {
		t.Errorf("no health: %+v", d)
	}

	// The NSG must admit the internet to the backend port.
	x = fixture()
	withLB(x, false, "10.0.0.4", "Up")
	x.NSGs[normID(nnsgID)] = nsg(nnsgID)
	es, _ = provider(x).Inbound(client)
	if d := last(es[0].Decisions); d.Verdict != cloud.Allow {
		t.Errorf("a's NIC has no NSG and the subnet's admits: %+v", d)
	}
	x.NSGs[normID(snsgID)] = nsg(snsgID)
	es, _ = provider(x).Inbound(client)
	if d := last(es[0].Decisions); d.Verdict != cloud.Deny || d.Code != "azure-nsg" || es[0].Node != "" || !strings.Contains(d.Fix, "--source-address-prefixes Internet --destination-port-ranges 30000-32767") {
		t.Errorf("NSG closed: %+v", d)
	}

	// An address the provider does not answer for.
	if _, ok := provider(x).Inbound(tcp("198.51.100.7", "203.0.113.99", 80)); ok {
		t.Error("unknown address answered")
	}
}

// TestInboundNatRuleAndPublicIP: an inbound NAT rule reaches its one backend; an
// instance-level public IP translates to the private address.
func TestAzureInboundNatRuleAndPublicIP(t *testing.T) {
	x := fixture()
	withLB(x, false)
	x.LBs[0].NatRules = []*NatRule{{Name: "ssh-b", Frontend: lbID + "/frontendIPConfigurations/fe", Protocol: "tcp", FrontendPort: 50001, BackendPort: 30022, Backend: x.NICs[1].IPConfigs[0].ID}}
	es, _ := provider(x).Inbound(tcp("198.51.100.7", "203.0.113.10", 50001))
	if got := entriesTo(t, es); got["b"].Dst != netip.MustParseAddr("10.0.0.5") || got["b"].DPort != 30022 {
		t.Errorf("NAT rule: %+v", es)
	}
	pip := sub + "/publicIPAddresses/b-pip"
	x.PublicIPs[normID(pip)] = &PublicIP{ID: pip, Name: "b-pip", IP: netip.MustParseAddr("203.0.113.12"), Config: x.NICs[1].IPConfigs[0].ID, SKU: "Standard"}
	es, _ = provider(x).Inbound(tcp("198.51.100.7", "203.0.113.12", 30080))
	if got := entriesTo(t, es); got["b"].Dst != netip.MustParseAddr("10.0.0.5") {
		t.Errorf("public IP: %+v", es)
	}
}

// TestAzureInboundMissingExports: a public IP bound to a load balancer or NIC whose
// export is missing is unknown, naming the file.
func TestAzureInboundMissingExports(t *testing.T) {
	x := fixture()
	withLB(x, false, "10.0.0.4", "Up")
	x.LBs = nil
	delete(x.Has, FileLBs)
	es, ok := provider(x).Inbound(tcp("198.51.100.7", "203.0.113.10", 80))
	if !ok || len(es) != 1 || last(es[0].Decisions).Verdict != cloud.Unknown || !strings.Contains(last(es[0].Decisions).Message, "lb-list.json") {
		t.Errorf("missing lb-list: %v %+v", ok, es)
	}
}
