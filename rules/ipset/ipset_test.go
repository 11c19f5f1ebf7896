package ipset

import (
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/netsim/netsim/model/source"
	"github.com/netsim/netsim/rules/packet"
)

// testdata/ipset-save.txt is `ipset save` printed by ipset 7.17 in a namespace holding
// one set of every type the tests use.
var saved, _ = os.ReadFile("testdata/ipset-save.txt")

func load(t *testing.T) *Sets {
	t.Helper()
	s, err := Parse(source.NewFile("ipset.txt", saved))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func pk(src, dst string, proto uint8, sport, dport uint16, in, out string) *packet.Packet {
	return &packet.Packet{Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst), Proto: proto, SPort: sport, DPort: dport, InIface: in, OutIface: out}
}

func TestMatch(t *testing.T) {
	s := load(t)
	cases := []struct {
		set  string
		p    *packet.Packet
		dirs string
		rn   bool
		want Tri
	}{
		{"ips", pk("10.0.0.1", "1.1.1.1", 6, 1, 2, "", ""), "src", false, Yes},
		{"ips", pk("10.0.0.9", "1.1.1.1", 6, 1, 2, "", ""), "src", false, No},
		{"ips", pk("1.1.1.1", "10.0.0.1", 6, 1, 2, "", ""), "dst", false, Yes},
		{"nets", pk("10.1.2.3", "1.1.1.1", 6, 1, 2, "", ""), "src", false, Yes},
		{"nets", pk("10.2.0.5", "1.1.1.1", 6, 1, 2, "", ""), "src", false, No},    // nomatch /24 inside the /8
		{"nets", pk("10.2.0.5", "1.1.1.1", 6, 1, 2, "", ""), "src", true, Yes},    // --return-nomatch
		{"nets", pk("10.2.0.129", "1.1.1.1", 6, 1, 2, "", ""), "src", false, Yes}, // /25 more specific than the nomatch /24
		{"ipport", pk("1.1.1.1", "10.96.0.1", 6, 1, 443, "", ""), "dst,dst", false, Yes},
		{"ipport", pk("1.1.1.1", "10.96.0.1", 17, 1, 443, "", ""), "dst,dst", false, No},
		{"ipport", pk("1.1.1.1", "10.96.0.10", 17, 1, 53, "", ""), "dst,dst", false, Yes},
		{"ipportip", pk("10.244.1.5", "10.244.1.5", 6, 1, 80, "", ""), "dst,dst,src", false, Yes},
		{"ipportnet", pk("10.244.1.7", "10.96.0.1", 6, 1, 443, "", ""), "dst,dst,src", false, Yes},
		{"netport", pk("192.168.1.1", "10.0.0.1", 6, 1, 8080, "", ""), "src,dst", false, Yes},
		{"netiface", pk("10.3.0.1", "10.0.0.1", 6, 1, 2, "eth0", ""), "src,src", false, Yes},
		{"netiface", pk("10.3.0.1", "10.0.0.1", 6, 1, 2, "eth1", ""), "src,src", false, No},
		{"ports", pk("1.1.1.1", "2.2.2.2", 6, 1, 30080, "", ""), "dst", false, Yes},
		{"list", pk("10.0.0.2", "2.2.2.2", 6, 1, 2, "", ""), "src", false, Yes},
		{"v6", pk("fd00::5", "fd00::1", 6, 1, 2, "", ""), "src", false, Yes},
		{"v6", pk("10.0.0.1", "1.1.1.1", 6, 1, 2, "", ""), "src", false, No},
	}
	for _, c := range cases {
		got, why := s.Match(c.set, c.p, strings.Split(c.dirs, ","), c.rn)
		if got != c.want {
			t.Errorf("%s %v %s: %v (%s), want %v", c.set, c.p, c.dirs, got, why, c.want)
		}
	}
	if got, why := s.Match("missing", pk("1.1.1.1", "2.2.2.2", 6, 1, 2, "", ""), []string{"src"}, false); got != Maybe || why == "" {
		t.Errorf("missing set: %v %q", got, why)
	}
}

func TestParseErrors(t *testing.T) {
	for in, want := range map[string]string{
		"add x 1.2.3.4\n": "f:1: add to set x before it is created",
		"create x hash:ip family inet\nadd x 1.2.3.400\n": "f:2: set x: element \"1.2.3.400\"",
		"create x hash:bogus\n":                           "f:1: set x: type \"hash:bogus\"",
		"flush\n":                                         "f:1: want create or add",
		"create l list:set\nadd l nothere\n":              "f:1: list:set l names set nothere",
	} {
		_, err := Parse(source.NewFile("f", []byte(in)))
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(saved)
	f.Fuzz(func(t *testing.T, d []byte) {
		s, err := Parse(source.NewFile("f", d))
		if err == nil {
			for name := range s.ByName {
				s.Match(name, pk("10.0.0.1", "10.0.0.2", 6, 1, 80, "eth0", "eth1"), []string{"src", "dst", "src"}, false)
			}
		}
	})
}
