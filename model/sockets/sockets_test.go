package sockets

import (
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/netsim/netsim/internal/golden"
	"github.com/netsim/netsim/model/source"
)

// testdata/ss-*.txt were printed by ss (iproute2 6.1) in a namespace with listeners on
// 0.0.0.0:8080, 127.0.0.1:9090, 10.0.0.1:7070, dual-stack *:8443, IPv6-only [::]:8444,
// UDP 0.0.0.0:5353, UDP 127.0.0.53%lo:53 and one established connection.

func parseFile(t *testing.T, name string) []Socket {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Parse(source.NewFile(name, data))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestGolden(t *testing.T) {
	for _, name := range []string{"ss-Htuanp.txt", "ss-tuanp.txt", "ss-ltn.txt"} {
		var b strings.Builder
		for _, s := range parseFile(t, name) {
			b.WriteString(s.Pos.String() + "  " + s.String() + " listening=" + map[bool]string{true: "yes", false: "no"}[s.Listening()] + "\n")
		}
		golden.Check(t, "testdata/golden/"+name+".golden", []byte(b.String()))
	}
}

func TestAccepts(t *testing.T) {
	socks := parseFile(t, "ss-Htuanp.txt")
	cases := []struct {
		proto, dst, iface string
		want              bool
	}{
		{"tcp", "10.0.0.1:8080", "", true},      // 0.0.0.0
		{"tcp", "10.0.0.1:9090", "", false},     // 127.0.0.1 only
		{"tcp", "127.0.0.1:9090", "lo", true},   // loopback
		{"tcp", "10.0.0.1:7070", "", true},      // specific address
		{"tcp", "10.0.0.2:7070", "", false},     // another address
		{"tcp", "10.0.0.1:8443", "", true},      // dual-stack * takes IPv4
		{"tcp", "10.0.0.1:8444", "", false},     // [::] is IPv6 only
		{"tcp", "[fd00::1]:8444", "", true},     // ... and takes IPv6
		{"udp", "10.0.0.1:5353", "", true},      // unconnected UDP
		{"tcp", "10.0.0.1:5353", "", false},     // wrong protocol
		{"udp", "127.0.0.53:53", "eth0", false}, // bound to lo
		{"udp", "127.0.0.53:53", "lo", true},
		{"tcp", "127.0.0.1:43964", "", false}, // established, not listening
	}
	for _, c := range cases {
		dst := netip.MustParseAddrPort(c.dst)
		got := false
		for i := range socks {
			if socks[i].Accepts(c.proto, dst, c.iface) {
				got = true
			}
		}
		if got != c.want {
			t.Errorf("%s %s via %q: accepted=%v, want %v", c.proto, c.dst, c.iface, got, c.want)
		}
	}
}

func TestErrors(t *testing.T) {
	for in, want := range map[string]string{
		"tcp LISTEN 0 128 0.0.0.0:80 0.0.0.0:*\nhello world\n": "ss.txt:2: want an ss socket line",
		"tcp LISTEN 0 128 0.0.0.0:99999 0.0.0.0:*\n":           "ss.txt:1: local address \"0.0.0.0:99999\": port",
		"tcp LISTEN 0 128\n":                                   "ss.txt:1: ss line has 4 columns",
		"tcp LISTEN 0 128 300.0.0.1:80 0.0.0.0:*\n":            "ss.txt:1: local address",
	} {
		_, err := Parse(source.NewFile("ss.txt", []byte(in)))
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: err = %v, want prefix %q", in, err, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, n := range []string{"ss-Htuanp.txt", "ss-ltn.txt"} {
		d, _ := os.ReadFile("testdata/" + n)
		f.Add(d)
	}
	f.Fuzz(func(t *testing.T, d []byte) {
		socks, err := Parse(source.NewFile("f", d))
		if err == nil {
			for i := range socks {
				_ = socks[i].String()
			}
		}
	})
}
