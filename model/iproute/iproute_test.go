package iproute

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netsim/netsim/internal/golden"
	"github.com/netsim/netsim/model/source"
)

// The fixtures in testdata/ were printed by iproute2 6.1 in a network namespace built for
// them (veth to a second namespace, a bridge port with hairpin on, vxlan, multipath,
// blackhole/unreachable/prohibit routes and rules, IPv6): see testdata/README.

func load(t *testing.T, name string) *source.File {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return source.NewFile(name, data)
}

func summarizeLinks(ls []Link) string {
	var b strings.Builder
	for _, l := range ls {
		fmt.Fprintf(&b, "%s  %s kind=%q slave=%q type=%s mac=%s peer=%d/%q netnsid=%d", l.Pos, l.String(), l.Kind, l.SlaveKind, l.LinkType, l.MAC, l.PeerIndex, l.PeerName, l.PeerNetNSID)
		if l.Hairpin != nil {
			fmt.Fprintf(&b, " hairpin=%v", *l.Hairpin)
		}
		if l.VXLAN != nil {
			fmt.Fprintf(&b, " vxlan=%+v", *l.VXLAN)
		}
		b.WriteString("\n")
		for _, a := range l.Addrs {
			fmt.Fprintf(&b, "    %s label=%q\n", a.String(), a.Label)
		}
	}
	return b.String()
}

func TestLinksGolden(t *testing.T) {
	for _, tc := range []struct {
		file string
		json bool
	}{
		{"addr.json", true}, {"addr.pretty.json", true}, {"daddr.json", true}, {"dlink.pretty.json", true},
		{"addr.txt", false}, {"daddr.txt", false}, {"dlink.txt", false},
	} {
		t.Run(tc.file, func(t *testing.T) {
			f := load(t, tc.file)
			parse := ParseLinksText
			if tc.json {
				parse = ParseLinksJSON
			}
			ls, err := parse(f)
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("testdata", "golden", tc.file+".golden"), []byte(summarizeLinks(ls)))
		})
	}
}

// TestTextMatchesJSON checks that the text and JSON forms of the same dump decode alike.
func TestTextMatchesJSON(t *testing.T) {
	render := func(v any) string {
		var b strings.Builder
		switch x := v.(type) {
		case []Route:
			for _, r := range x {
				b.WriteString(r.String() + "\n")
			}
		case []Rule:
			for _, r := range x {
				b.WriteString(r.String() + "\n")
			}
		case []Neigh:
			for _, n := range x {
				b.WriteString(n.String() + "\n")
			}
		case []Link:
			for _, l := range x {
				fmt.Fprintf(&b, "%s kind=%s hairpin=%v vxlan=%v\n", l.String(), l.Kind, l.Hairpin != nil && *l.Hairpin, l.VXLAN != nil)
				for _, a := range l.Addrs {
					// DAD finished between the two captures: tentative is a matter of timing.
					b.WriteString("  " + strings.ReplaceAll(a.String(), " tentative", "") + "\n")
				}
			}
		}
		return b.String()
	}
	pairs := []struct {
		base string
		fam  int
	}{{"route", 4}, {"6route", 6}, {"rule", 4}, {"6rule", 6}, {"neigh", 0}, {"daddr", 0}}
	for _, p := range pairs {
		t.Run(p.base, func(t *testing.T) {
			var fromJSON, fromText any
			var err1, err2 error
			js, tx := load(t, p.base+".json"), load(t, p.base+".txt")
			switch {
			case strings.HasSuffix(p.base, "route"):
				fromJSON, err1 = ParseRoutesJSON(js, p.fam)
				fromText, err2 = ParseRoutesText(tx, p.fam)
			case strings.HasSuffix(p.base, "rule"):
				fromJSON, err1 = ParseRulesJSON(js, p.fam)
				fromText, err2 = ParseRulesText(tx, p.fam)
			case p.base == "neigh":
				fromJSON, err1 = ParseNeighJSON(js)
				fromText, err2 = ParseNeighText(tx)
			default:
				fromJSON, err1 = ParseLinksJSON(js)
				fromText, err2 = ParseLinksText(tx)
			}
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			if a, b := render(fromJSON), render(fromText); a != b {
				t.Errorf("JSON and text disagree:\n--- json\n%s--- text\n%s", a, b)
			}
			golden.Check(t, filepath.Join("testdata", "golden", p.base+".golden"), []byte(render(fromJSON)))
		})
	}
}

func TestPositions(t *testing.T) {
	rs, err := ParseRoutesJSON(load(t, "route.pretty.json"), 4)
	if err != nil {
		t.Fatal(err)
	}
	f := load(t, "route.pretty.json")
	for _, r := range rs {
		if !strings.HasSuffix(strings.TrimSpace(f.Line(r.Pos.Line)), "{") {
			t.Errorf("route %s: line %d is %q, not the entry's start", r.String(), r.Pos.Line, f.Line(r.Pos.Line))
		}
	}
	compact, _ := ParseRoutesJSON(load(t, "route.json"), 4)
	if compact[2].Pos.String() != "route.json:1 (entry 3)" {
		t.Errorf("compact JSON position = %q", compact[2].Pos)
	}
}

func TestMalformed(t *testing.T) {
	cases := []struct {
		name, data string
		parse      func(*source.File) error
		want       string
	}{
		{"route.json", "[{\"dst\":\"10.0.0.0/8\"},\n{\"dst\":\"nonsense\"}]", func(f *source.File) error { _, err := ParseRoutesJSON(f, 4); return err }, `route.json:2 (entry 2): route dst "nonsense"`},
		{"route.json", "[{\"dst\":\"10.0.0.0/8\",\n\"metric\":\"x\"}]", func(f *source.File) error { _, err := ParseRoutesJSON(f, 4); return err }, `route.json:1 (entry 1): route: field "metric"`},
		{"route.json", "[{\"dst\":\"10.0.0.0/8\"},\n", func(f *source.File) error { _, err := ParseRoutesJSON(f, 4); return err }, `route.json:1: malformed JSON: the file ends inside the array`},
		{"route.json", "{}", func(f *source.File) error { _, err := ParseRoutesJSON(f, 4); return err }, `route.json:1: expected a JSON array`},
		{"route.txt", "10.0.0.0/8 dev eth0\n10.1.0.0/33 dev eth0\n", func(f *source.File) error { _, err := ParseRoutesText(f, 4); return err }, `route.txt:2: route destination "10.1.0.0/33"`},
		{"route.txt", "default via\n", func(f *source.File) error { _, err := ParseRoutesText(f, 4); return err }, `route.txt:1: route default: via without a value`},
		{"route.txt", "\tnexthop via 1.2.3.4\n", func(f *source.File) error { _, err := ParseRoutesText(f, 4); return err }, `route.txt:1: nexthop line before any route`},
		{"rule.txt", "0:\tfrom all lookup local\nbogus\n", func(f *source.File) error { _, err := ParseRulesText(f, 4); return err }, `rule.txt:2: rule: want "PRIORITY: selector action"`},
		{"rule.txt", "5:\tfrom all fwmark zz lookup 1\n", func(f *source.File) error { _, err := ParseRulesText(f, 4); return err }, `rule.txt:1: rule 5: fwmark "zz"`},
		{"rule.txt", "5:\tfrom all frobnicate\n", func(f *source.File) error { _, err := ParseRulesText(f, 4); return err }, `rule.txt:1: rule 5: unknown word "frobnicate"`},
		{"neigh.txt", "10.0.0.1 dev eth0 lladdr 02:00:00:00:00:01 REACHABLE\nnot-an-ip dev eth0\n", func(f *source.File) error { _, err := ParseNeighText(f); return err }, `neigh.txt:2: neighbour: "not-an-ip" is not an address`},
		{"addr.txt", "    inet 10.0.0.1/24\n", func(f *source.File) error { _, err := ParseLinksText(f); return err }, `addr.txt:1: indented line before any link header`},
		{"addr.txt", "1: lo: <UP> mtu big\n", func(f *source.File) error { _, err := ParseLinksText(f); return err }, `addr.txt:1: link lo: mtu "big" is not a number`},
		{"addr.txt", "1: lo: <UP> mtu 1\n    inet 10.0.0.300/8\n", func(f *source.File) error { _, err := ParseLinksText(f); return err }, `addr.txt:2: link lo: address "10.0.0.300/8"`},
		{"addr.json", `[{"ifname":"x","addr_info":[{"local":"10.0.0.1","prefixlen":40}]}]`, func(f *source.File) error { _, err := ParseLinksJSON(f); return err }, `addr.json:1 (entry 1): link x: prefix length 40`},
	}
	for _, c := range cases {
		err := c.parse(source.NewFile(c.name, []byte(c.data)))
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%q: err = %v, want prefix %q", c.data, err, c.want)
		}
	}
}

func fuzzSeeds(f *testing.F, names ...string) {
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join("testdata", n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
}

func FuzzLinksText(f *testing.F) {
	fuzzSeeds(f, "addr.txt", "daddr.txt", "dlink.txt")
	f.Fuzz(func(t *testing.T, data []byte) { ParseLinksText(source.NewFile("f", data)) })
}

func FuzzLinksJSON(f *testing.F) {
	fuzzSeeds(f, "addr.json", "daddr.pretty.json")
	f.Fuzz(func(t *testing.T, data []byte) { ParseLinksJSON(source.NewFile("f", data)) })
}

func FuzzRoutesText(f *testing.F) {
	fuzzSeeds(f, "route.txt", "6route.txt")
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := ParseRoutesText(source.NewFile("f", data), 0)
		if err == nil {
			for _, r := range rs {
				_ = r.String()
			}
		}
	})
}

func FuzzRoutesJSON(f *testing.F) {
	fuzzSeeds(f, "route.json", "6route.pretty.json")
	f.Fuzz(func(t *testing.T, data []byte) { ParseRoutesJSON(source.NewFile("f", data), 0) })
}

func FuzzRulesText(f *testing.F) {
	fuzzSeeds(f, "rule.txt", "6rule.txt")
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := ParseRulesText(source.NewFile("f", data), 0)
		if err == nil {
			for _, r := range rs {
				_ = r.String()
			}
		}
	})
}

func FuzzRulesJSON(f *testing.F) {
	fuzzSeeds(f, "rule.json", "6rule.json")
	f.Fuzz(func(t *testing.T, data []byte) { ParseRulesJSON(source.NewFile("f", data), 0) })
}

func FuzzNeigh(f *testing.F) {
	fuzzSeeds(f, "neigh.txt", "neigh.json")
	f.Fuzz(func(t *testing.T, data []byte) {
		ParseNeighText(source.NewFile("f", data))
		ParseNeighJSON(source.NewFile("f", data))
	})
}

func TestRouteAndRuleOddities(t *testing.T) {
	rs, err := ParseRoutesText(source.NewFile("r", []byte("10.9.0.0/16 nhid 12 proto bgp metric 20\n")), 4)
	if err != nil || rs[0].NHID != 12 || rs[0].String() != "10.9.0.0/16 proto bgp metric 20 nhid 12" {
		t.Errorf("nhid route: %+v %v", rs, err)
	}
	rj, err := ParseRoutesJSON(source.NewFile("r.json", []byte(`[{"dst":"10.9.0.0/16","nhid":12,"protocol":"bgp"}]`)), 4)
	if err != nil || rj[0].NHID != 12 {
		t.Errorf("nhid route JSON: %+v %v", rj, err)
	}
	ru, err := ParseRulesJSON(source.NewFile("u.json", []byte(`[{"priority":1000,"src":"all","l3mdev":null}]`)), 4)
	if err != nil || ru[0].Action != "l3mdev" || !ru[0].L3MDev {
		t.Errorf("l3mdev rule JSON: %+v %v", ru, err)
	}
	rt, err := ParseRulesText(source.NewFile("u", []byte("1000:\tfrom all lookup [l3mdev-table]\n")), 4)
	if err != nil || rt[0].Action != "l3mdev" {
		t.Errorf("l3mdev rule text: %+v %v", rt, err)
	}
}

func TestFDB(t *testing.T) {
	for _, name := range []string{"fdb.json", "fdb.txt"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		parse := ParseFDBText
		if strings.HasSuffix(name, ".json") {
			parse = ParseFDBJSON
		}
		es, err := parse(source.NewFile(name, data))
		if err != nil {
			t.Fatal(err)
		}
		var vx []string
		for _, e := range es {
			if e.Dev == "vxlan0" && e.Dst.IsValid() {
				vx = append(vx, e.MAC+">"+e.Dst.String()+" "+e.State)
			}
		}
		if got := strings.Join(vx, ", "); got != "00:00:00:00:00:00>10.200.0.13 permanent, 0a:58:0a:f4:02:00>10.200.0.12 permanent" {
			t.Errorf("%s: vxlan0 entries %s", name, got)
		}
	}
	if _, err := ParseFDBText(source.NewFile("f", []byte("not-a-mac dev x\n"))); err == nil || !strings.Contains(err.Error(), "f:1") {
		t.Errorf("malformed fdb line: %v", err)
	}
}

func FuzzFDBText(f *testing.F) {
	fuzzSeeds(f, "fdb.txt")
	f.Fuzz(func(t *testing.T, data []byte) { ParseFDBText(source.NewFile("f", data)) })
}

func FuzzFDBJSON(f *testing.F) {
	fuzzSeeds(f, "fdb.json")
	f.Fuzz(func(t *testing.T, data []byte) { ParseFDBJSON(source.NewFile("f", data)) })
}
