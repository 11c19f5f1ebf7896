package ipset

import (
	"fmt"
	"math/rand"
	"net/netip"
	"strings"
	"testing"

	"github.com/netsim/netsim/model/source"
	"github.com/netsim/netsim/rules/packet"
)

// TestExactIndexAgrees: a hash:ip or hash:ip,port set of single addresses and ports is
// looked up in a map; the answers must be the entry scan's, for every direction and with
// --return-nomatch.
func TestExactIndexAgrees(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	var b strings.Builder
	b.WriteString("create ipport hash:ip,port family inet\ncreate ips hash:ip family inet\n")
	protos := []string{"tcp", "udp", "sctp"}
	for i := 0; i < 64; i++ {
		fmt.Fprintf(&b, "add ipport 10.0.%d.%d,%s:%d\n", rng.Intn(2), rng.Intn(8), protos[rng.Intn(3)], 80+rng.Intn(3))
		fmt.Fprintf(&b, "add ips 10.0.%d.%d\n", rng.Intn(2), rng.Intn(8))
	}
	sets, err := Parse(source.NewFile("ipset.txt", []byte(b.String())))
	if err != nil {
		t.Fatal(err)
	}
	if sets.ByName["ipport"].exact == nil || sets.ByName["ips"].exact == nil {
		t.Fatal("sets not indexed")
	}
	scan := &Sets{ByName: map[string]*Set{}}
	for n, s := range sets.ByName {
		c := *s
		c.exact = nil
		scan.ByName[n] = &c
	}
	ip := func() netip.Addr { return netip.AddrFrom4([4]byte{10, 0, byte(rng.Intn(2)), byte(rng.Intn(8))}) }
	for i := 0; i < 5000; i++ {
		p := packet.Packet{Src: ip(), Dst: ip(), Proto: []uint8{packet.TCP, packet.UDP, packet.SCTP, packet.ICMP}[rng.Intn(4)],
			SPort: uint16(80 + rng.Intn(3)), DPort: uint16(80 + rng.Intn(3))}
		for _, name := range []string{"ipport", "ips"} {
			for _, dirs := range [][]string{{"dst", "dst"}, {"src", "src"}, {"dst", "src"}, {"src"}} {
				rn := rng.Intn(2) == 0
				got, _ := sets.Match(name, &p, dirs, rn)
				want, _ := scan.Match(name, &p, dirs, rn)
				if got != want {
					t.Fatalf("%s %v %v return-nomatch %v: index says %v, scan %v", name, p, dirs, rn, got, want)
				}
			}
		}
	}
	// A set with a nomatch entry or a net is scanned.
	s2, err := Parse(source.NewFile("ipset.txt", []byte("create n hash:ip,port family inet\n"+strings.Repeat("add n 10.0.0.1,tcp:80\n", 20)+"add n 10.0.0.2,tcp:80 nomatch\n")))
	if err != nil {
		t.Fatal(err)
	}
	if s2.ByName["n"].exact != nil {
		t.Error("a set with nomatch must not be indexed")
	}
}
