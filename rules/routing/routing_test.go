package routing

import (
	"net/netip"
	"os"
	"testing"

	"github.com/netsim/netsim/model/iproute"
	"github.com/netsim/netsim/model/source"
	"github.com/netsim/netsim/model/sysctl"
)

// The router is built from the real dumps in model/iproute/testdata: a veth eth0
// (10.200.0.11/24), bridge cni0 (10.244.1.1/24), vxlan0, host-gw and onlink routes,
// multipath, blackhole/unreachable/prohibit routes, and policy rules with fwmark/mask,
// not+iif, suppress_prefixlength, prohibit/blackhole/unreachable actions and goto.
func fixtureRouter(t *testing.T, sysctls string) *Router {
	t.Helper()
	read := func(name string) *source.File {
		d, err := os.ReadFile("../../model/iproute/testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return source.NewFile(name, d)
	}
	routes, err := iproute.ParseRoutesJSON(read("route.json"), 4)
	if err != nil {
		t.Fatal(err)
	}
	rules, err := iproute.ParseRulesJSON(read("rule.json"), 4)
	if err != nil {
		t.Fatal(err)
	}
	links, err := iproute.ParseLinksJSON(read("daddr.json"))
	if err != nil {
		t.Fatal(err)
	}
	sc, _ := sysctl.Parse(source.NewFile("sysctl.txt", []byte(sysctls)))
	return New(routes, rules, links, sc)
}

func TestLookup(t *testing.T) {
	r := fixtureRouter(t, "")
	a := netip.MustParseAddr
	cases := []struct {
		name string
		q    Query
		kind Kind
		gw   string
		dev  string
	}{
		{"local address", Query{Dst: a("10.200.0.11")}, Local, "", "eth0"},
		{"connected subnet", Query{Dst: a("10.200.0.99")}, Unicast, "", "eth0"},
		{"host-gw route", Query{Dst: a("10.244.2.7")}, Unicast, "10.200.0.12", "eth0"},
		{"onlink vxlan", Query{Dst: a("10.244.3.4")}, Unicast, "10.244.3.0", "vxlan0"},
		{"default", Query{Dst: a("8.8.8.8")}, Unicast, "10.200.0.1", "eth0"},
		{"blackhole route", Query{Dst: a("10.99.1.1")}, Blackhole, "", ""},
		{"prohibit route", Query{Dst: a("10.97.1.1")}, Prohibit, "", ""},
		// fwmark 0x4000/0x4000 looks up table 100, which has unreachable 10.98/16.
		{"fwmark rule to table 100", Query{Dst: a("10.98.0.1"), Mark: 0x4001}, Unreachable, "", ""},
		// ... and for other destinations falls through to main.
		{"fwmark rule, no route in 100", Query{Dst: a("10.244.2.7"), Mark: 0x4000}, Unicast, "10.200.0.12", "eth0"},
		{"mask excludes the mark", Query{Dst: a("10.98.0.1"), Mark: 0x0001}, Unicast, "10.200.0.1", "eth0"},
		// rule 200: not from 10.244/16 to 10.60/24 iif eth0 -> table 200 (route mtu 1400 via .12).
		{"not from, iif eth0", Query{Src: a("192.168.1.1"), Dst: a("10.60.0.5"), IIf: "eth0"}, Unicast, "10.200.0.12", "eth0"},
		{"not from: pod source skips it", Query{Src: a("10.244.5.5"), Dst: a("10.60.0.5"), IIf: "eth0"}, Unicast, "10.200.0.1", "eth0"},
		// "not" inverts the whole selector: from a local socket (iif lo) the selector fails,
		// so the inverted rule matches.
		{"not inverts the whole selector", Query{Src: a("192.168.1.1"), Dst: a("10.60.0.5")}, Unicast, "10.200.0.12", "eth0"},
		// Rule 300 (main, suppress_prefixlength 0) answers for specific routes ...
		{"suppress keeps specific routes", Query{Src: a("10.9.1.1"), Dst: a("10.244.2.7"), IIf: "eth0"}, Unicast, "10.200.0.12", "eth0"},
		// ... but not with the default route, so the action rules behind it decide.
		{"prohibit rule", Query{Src: a("10.9.1.1"), Dst: a("8.8.8.8"), IIf: "eth0"}, Prohibit, "", ""},
		{"blackhole rule", Query{Src: a("10.8.1.1"), Dst: a("8.8.8.8"), IIf: "eth0"}, Blackhole, "", ""},
		{"unreachable rule", Query{Src: a("10.7.1.1"), Dst: a("8.8.8.8"), IIf: "eth0"}, Unreachable, "", ""},
	}
	for _, c := range cases {
		d := r.Lookup(c.q)
		if d.Kind != c.kind {
			t.Errorf("%s: %v (%v), want %v", c.name, d.Kind, d.Trail, c.kind)
			continue
		}
		if c.kind == Unicast || c.kind == Local {
			h := d.Hops[0]
			gw := ""
			if h.Gateway.IsValid() {
				gw = h.Gateway.String()
			}
			if gw != c.gw || h.Dev != c.dev {
				t.Errorf("%s: via %q dev %s, want via %q dev %s (%v)", c.name, gw, h.Dev, c.gw, c.dev, d.Trail)
			}
		}
	}
	if d := r.Lookup(Query{Dst: a("10.50.0.9")}); len(d.Hops) != 2 || d.Hops[1].Weight != 3 {
		t.Errorf("multipath: %+v", d.Hops)
	}
	if d := r.Lookup(Query{Dst: a("10.244.2.7")}); d.Src != a("10.200.0.11") {
		t.Errorf("source for host-gw route: %s", d.Src)
	}
	if d := r.Lookup(Query{Dst: a("10.244.1.9")}); d.Src != a("10.244.1.1") {
		t.Errorf("source on cni0: %s (route %v)", d.Src, d.Route)
	}
}

func TestSuppressAndGoto(t *testing.T) {
	rules := []iproute.Rule{
		{Priority: 0, Family: 4, Action: "lookup", Table: "local", SuppressPrefixLen: -1},
		{Priority: 10, Family: 4, Action: "lookup", Table: "main", SuppressPrefixLen: 0},
		{Priority: 20, Family: 4, HasMark: true, FwMark: 1, FwMask: 1, Action: "goto", Goto: 40, SuppressPrefixLen: -1},
		{Priority: 30, Family: 4, Action: "lookup", Table: "50", SuppressPrefixLen: -1},
		{Priority: 40, Family: 4, Action: "lookup", Table: "60", SuppressPrefixLen: -1},
	}
	p := netip.MustParsePrefix
	routes := []iproute.Route{
		{Type: "unicast", Table: "main", Dst: p("0.0.0.0/0"), Gateway: netip.MustParseAddr("10.0.0.1"), Dev: "eth0"},
		{Type: "unicast", Table: "main", Dst: p("10.1.0.0/16"), Dev: "eth1"},
		{Type: "unicast", Table: "50", Dst: p("0.0.0.0/0"), Dev: "wg0"},
		{Type: "throw", Table: "60", Dst: p("10.2.0.0/16")},
		{Type: "unicast", Table: "60", Dst: p("0.0.0.0/0"), Dev: "tun0"},
	}
	r := New(routes, rules, nil, nil)
	a := netip.MustParseAddr
	if d := r.Lookup(Query{Dst: a("10.1.2.3")}); d.Hops[0].Dev != "eth1" {
		t.Errorf("specific route kept: %v", d.Trail)
	}
	// main's default is suppressed (prefix length 0), so table 50 decides.
	if d := r.Lookup(Query{Dst: a("8.8.8.8")}); d.Hops[0].Dev != "wg0" {
		t.Errorf("suppress_prefixlength 0: %v", d.Trail)
	}
	// goto skips rule 30.
	if d := r.Lookup(Query{Dst: a("8.8.8.8"), Mark: 1}); d.Hops[0].Dev != "tun0" {
		t.Errorf("goto: %v", d.Trail)
	}
	// throw leaves table 60: no later rule, so no route.
	if d := r.Lookup(Query{Dst: a("10.2.0.1"), Mark: 1}); d.Kind != NoRoute {
		t.Errorf("throw: %v %v", d.Kind, d.Trail)
	}
}

func TestSysctls(t *testing.T) {
	r := fixtureRouter(t, "net.ipv4.ip_forward = 1\nnet.ipv4.conf.eth0.forwarding = 0\nnet.ipv4.conf.all.rp_filter = 0\nnet.ipv4.conf.cni0.rp_filter = 1\n")
	if on, _, _ := r.Forwarding("eth0", false); on {
		t.Error("per-device forwarding=0 ignored")
	}
	if on, _, known := r.Forwarding("cni0", false); !on || !known {
		t.Error("ip_forward=1 not used for cni0")
	}
	a := netip.MustParseAddr
	// Strict rp_filter on cni0: a source routed out eth0 fails, one on cni0 passes.
	if ok, why := r.RPFilter(a("10.244.2.7"), a("10.244.1.5"), "cni0", 0); ok {
		t.Error("strict rp_filter passed an asymmetric source")
	} else if why == "" {
		t.Error("no reason")
	}
	if ok, _ := r.RPFilter(a("10.244.1.5"), a("10.244.2.7"), "cni0", 0); !ok {
		t.Error("strict rp_filter failed a symmetric source")
	}
	if ok, _ := r.RPFilter(a("10.244.2.7"), a("10.244.1.5"), "eth0", 0); !ok {
		t.Error("rp_filter off on eth0 dropped")
	}
}
