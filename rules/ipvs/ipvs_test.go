package ipvs

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/netsim/netsim/model/source"
)

// summary renders a table compactly for comparison.
func summary(t *Table) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", t.Form)
	for _, s := range t.Services {
		fmt.Fprintf(&b, "%s %s", s.Key(), s.Scheduler)
		if s.Persistent {
			fmt.Fprintf(&b, " persistent %d", s.Timeout)
		}
		fmt.Fprintf(&b, " @%d\n", s.Pos.Line)
		for _, r := range s.Reals {
			fmt.Fprintf(&b, "  %s %s", r.Addr, r.Method)
			if r.WeightKnown {
				fmt.Fprintf(&b, " w%d", r.Weight)
			}
			fmt.Fprintf(&b, " @%d\n", r.Pos.Line)
		}
	}
	return b.String()
}

func TestParseForms(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"save", `-A -t 10.96.0.1:443 -s rr
-a -t 10.96.0.1:443 -r 172.18.0.2:6443 -m -w 1
-A -u 10.96.0.10:53 -s rr -p 10800
-a -u 10.96.0.10:53 -r 10.244.1.3:53 -m -w 0
-A -f 7 -s wrr
-a -f 7 -r 10.0.0.9:0 -g -w 3
-A --sctp-service [fd00::1]:80 -s sh -b flag-1
-a --sctp-service [fd00::1]:80 -r [fd00::9]:8080 -i -w 2 -x 10 -y 5
`, `ipvsadm -Sn
TCP 10.96.0.1:443 rr @1
  172.18.0.2:6443 masq w1 @2
UDP 10.96.0.10:53 rr persistent 10800 @3
  10.244.1.3:53 masq w0 @4
FWM 7 wrr @5
  10.0.0.9:0 route w3 @6
SCTP [fd00::1]:80 sh @7
  [fd00::9]:8080 tunnel w2 @8
`},
		{"list", `IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  10.96.0.1:443 rr
  -> 172.18.0.2:6443              Masq    1      0          0
TCP  10.96.0.20:80 rr persistent 10800
  -> 10.244.1.2:8080              Masq    0      3          0
FWM  5 rr
`, `ipvsadm -Ln
TCP 10.96.0.1:443 rr @4
  172.18.0.2:6443 masq w1 @5
TCP 10.96.0.20:80 rr persistent 10800 @6
  10.244.1.2:8080 masq w0 @7
FWM 5 rr @8
`},
		{"stats", `IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes
  -> RemoteAddress:Port
TCP  10.96.0.1:443                      12      120        0    9120K        0
  -> 172.18.0.2:6443                    12      120        0    9120K        0
`, `ipvsadm -Ln --stats/--rate
TCP 10.96.0.1:443  @4
  172.18.0.2:6443 unknown @5
`},
		{"rate", `Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS
  -> RemoteAddress:Port
UDP  10.96.0.10:53                       0        0        0        0        0
  -> 10.244.1.3:53                       0        0        0        0        0
`, `ipvsadm -Ln --stats/--rate
UDP 10.96.0.10:53  @3
  10.244.1.3:53 unknown @4
`},
		{"proc", `IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port Forward Weight ActiveConn InActConn
TCP  0A600001:01BB rr 
  -> AC120002:192B      Masq    1      0          0         
UDP  0A60000A:0035 rr persistent 10800
  -> 0AF40103:0035      Masq    0      0          0         
`, `/proc/net/ip_vs
TCP 10.96.0.1:443 rr @4
  172.18.0.2:6443 masq w1 @5
UDP 10.96.0.10:53 rr persistent 10800 @6
  10.244.1.3:53 masq w0 @7
`},
		{"empty", "", "ipvsadm -Sn\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tab, err := Parse(source.NewFile("ipvs.txt", []byte(tc.in)))
			if err != nil {
				t.Fatal(err)
			}
			if got := summary(tab); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"-A -t 10.96.0.1:443 -s rr\n-a -t 10.96.0.2:80 -r 1.2.3.4:80 -m -w 1\n", "ipvs.txt:2: real server for TCP 10.96.0.2:80, which no earlier -A line adds"},
		{"-A -t kubernetes:https -s rr\n", `ipvs.txt:1: -t "kubernetes:https": want ADDRESS:PORT with a numeric address and port (ipvsadm -n)`},
		{"-A -t 10.96.0.1:443 -s rr\n-a -t 10.96.0.1:443 -r 1.2.3.4:80 -m -w x\n", `ipvs.txt:2: -w "x": want a weight (0 or more)`},
		{"-A -t 10.96.0.1:443 -Z\n", `ipvs.txt:1: unknown ipvsadm option "-Z"`},
		{"-A -s rr\n", "ipvs.txt:1: want the virtual service"},
		{"  -> 1.2.3.4:80 Masq 1 0 0\n", "ipvs.txt:1: real server before any virtual service"},
		{"TCP  10.96.0.1:443 rr\n  -> 1.2.3.4:80 Bounce 1 0 0\n", `ipvs.txt:2: unknown forwarding method "Bounce"`},
		{"hello\n", "ipvs.txt:1: want an ipvsadm -Sn line"},
		{"-A -t 10.96.0.1:443 -s rr\nTCP  10.96.0.1:443 rr\n", "ipvs.txt:2: want a line of ipvsadm -Sn (as the file began), found one of ipvsadm -Ln"},
		{"-A -t 10.96.0.1:443 -s\n", "ipvs.txt:1: -s wants a value"},
	} {
		_, err := Parse(source.NewFile("ipvs.txt", []byte(tc.in)))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %s", tc.in, err, tc.want)
		}
	}
}

func TestLookup(t *testing.T) {
	tab, err := Parse(source.NewFile("ipvs.txt", []byte(`-A -t 10.96.0.1:443 -s rr
-a -t 10.96.0.1:443 -r 10.244.1.2:6443 -m -w 1
-a -t 10.96.0.1:443 -r 10.244.2.2:6443 -m -w 0
-A -t 10.96.0.5:0 -s rr -p 60
-A -f 9 -s rr
`)))
	if err != nil {
		t.Fatal(err)
	}
	ap := netip.MustParseAddrPort
	for _, tc := range []struct {
		proto uint8
		dst   string
		mark  uint32
		want  string
	}{
		{6, "10.96.0.1:443", 0, "TCP 10.96.0.1:443"},
		{17, "10.96.0.1:443", 0, ""},
		{6, "10.96.0.1:80", 0, ""},
		{6, "10.96.0.5:8080", 0, "TCP 10.96.0.5:0"},
		{6, "10.96.0.1:443", 9, "FWM 9"},
		{6, "10.96.0.1:443", 8, "TCP 10.96.0.1:443"},
	} {
		got := ""
		if s := tab.Lookup(tc.proto, ap(tc.dst), tc.mark); s != nil {
			got = s.Key()
		}
		if got != tc.want {
			t.Errorf("%d %s mark %d: got %q, want %q", tc.proto, tc.dst, tc.mark, got, tc.want)
		}
	}
	s := tab.Lookup(6, ap("10.96.0.1:443"), 0)
	if av := s.Available(); len(av) != 1 || av[0].Addr != ap("10.244.1.2:6443") {
		t.Errorf("available: %v", av)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("-A -t 10.96.0.1:443 -s rr -p\n-a -t 10.96.0.1:443 -r 1.2.3.4 -m -w 1\n"))
	f.Add([]byte("IP Virtual Server version 1.2.1 (size=4096)\nTCP  10.96.0.1:443 rr persistent 5\n  -> 1.2.3.4:80 Masq 1 0 0\nFWM  00000005 rr\n"))
	f.Add([]byte("Prot LocalAddress:Port Conns\nTCP  0A600001:01BB 1 2 3\n  -> [::1]:0050 4 5\n"))
	f.Fuzz(func(t *testing.T, d []byte) {
		tab, err := Parse(source.NewFile("ipvs.txt", d))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "ipvs.txt:") {
				t.Fatalf("error without file:line: %v", err)
			}
			return
		}
		for _, s := range tab.Services {
			tab.Lookup(s.Proto, s.Addr, s.FWMark)
			_ = s.Available()
		}
	})
}
