package ipvs

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/netsim/netsim/model/source"
	"github.com/netsim/netsim/rules/packet"
)

// GenSave writes what kube-proxy's ipvs mode holds for n ClusterIP Services with three
// endpoints each, in `ipvsadm -Sn` form: a virtual service 10.97.X.Y:80 (rr) and three
// masqueraded real servers on port 8080 per Service.
func genSave(n int) []byte {
	var b strings.Builder
	for i := 0; i < n; i++ {
		vip := fmt.Sprintf("10.97.%d.%d:80", i/256, i%256)
		fmt.Fprintf(&b, "-A -t %s -s rr\n", vip)
		for k := 0; k < 3; k++ {
			fmt.Fprintf(&b, "-a -t %s -r 10.%d.%d.%d:8080 -m -w 1\n", vip, 128+k, i/256, i%256)
		}
	}
	return []byte(b.String())
}

// BenchmarkParseIPVS: parsing kube-proxy's IPVS state for 10,000 Services.
func BenchmarkParseIPVS(b *testing.B) {
	data := genSave(10000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		t, err := Parse(source.NewFile("ipvs.txt", data))
		if err != nil {
			b.Fatal(err)
		}
		if len(t.Services) != 10000 {
			b.Fatalf("%d services", len(t.Services))
		}
	}
}

// BenchmarkLookupIPVS: finding a packet's virtual service and its real servers, at 1,000
// and 10,000 Services: a hash lookup, flat.
func BenchmarkLookupIPVS(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			t, err := Parse(source.NewFile("ipvs.txt", genSave(n)))
			if err != nil {
				b.Fatal(err)
			}
			dst := netip.MustParseAddrPort(fmt.Sprintf("10.97.%d.%d:80", (n/2)/256, (n/2)%256))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				s := t.Lookup(packet.TCP, dst, 0)
				if s == nil || len(s.Available()) != 3 {
					b.Fatal("no virtual service")
				}
			}
		})
	}
}
