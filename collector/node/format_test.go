package node

import (
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/moby/ipvs"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/netsim/netsim/model/sockets"
	"github.com/netsim/netsim/model/source"
)

func TestFormatIPVS(t *testing.T) {
	tests := []struct {
		name string
		svcs []IPVSService
		want string
	}{
		{"tcp rr masq", []IPVSService{{
			Service: ipvs.Service{Address: net.ParseIP("10.96.0.1"), Protocol: unix.IPPROTO_TCP, Port: 443, SchedName: "rr", AddressFamily: unix.AF_INET, Netmask: 0xffffffff},
			Destinations: []ipvs.Destination{
				{Address: net.ParseIP("10.200.0.11"), Port: 6443, Weight: 1, ConnectionFlags: ipvs.ConnFwdMasq},
				{Address: net.ParseIP("10.200.0.12"), Port: 6443, Weight: 0, ConnectionFlags: ipvs.ConnFwdDirectRoute, UpperThreshold: 10, LowerThreshold: 2},
			}}},
			"-A -t 10.96.0.1:443 -s rr\n-a -t 10.96.0.1:443 -r 10.200.0.11:6443 -m -w 1\n-a -t 10.96.0.1:443 -r 10.200.0.12:6443 -g -w 0 -x 10 -y 2\n"},
		{"udp persistent with netmask", []IPVSService{{
			Service:      ipvs.Service{Address: net.ParseIP("10.96.0.10"), Protocol: unix.IPPROTO_UDP, Port: 53, SchedName: "sh", Flags: ipvsSvcPersistent | ipvsSvcSchedFlag1, Timeout: 10800, Netmask: 0xffffff00, AddressFamily: unix.AF_INET},
			Destinations: []ipvs.Destination{{Address: net.ParseIP("10.244.1.2"), Port: 53, Weight: 1, ConnectionFlags: ipvs.ConnFwdTunnel}}}},
			"-A -u 10.96.0.10:53 -s sh -p 10800 -M 255.255.255.0 -b flag-1\n-a -u 10.96.0.10:53 -r 10.244.1.2:53 -i -w 1\n"},
		{"ipv6 sctp and fwmark", []IPVSService{
			{Service: ipvs.Service{Address: net.ParseIP("fd00::10"), Protocol: unix.IPPROTO_SCTP, Port: 9000, SchedName: "wrr", AddressFamily: unix.AF_INET6, Netmask: 128},
				Destinations: []ipvs.Destination{{Address: net.ParseIP("fd00::1:2"), Port: 9000, Weight: 3}}},
			{Service: ipvs.Service{FWMark: 7, SchedName: "lc", AddressFamily: unix.AF_INET}}},
			"-A --sctp-service [fd00::10]:9000 -s wrr\n-a --sctp-service [fd00::10]:9000 -r [fd00::1:2]:9000 -m -w 3\n-A -f 7 -s lc\n"},
		{"empty", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(FormatIPVS(tt.svcs)); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestParseHexAddrPort(t *testing.T) {
	tests := []struct{ in, want string }{
		{"0100007F:1F90", "127.0.0.1:8080"},
		{"00000000:0035", "0.0.0.0:53"},
		{"00000000000000000000000000000000:1F90", "[::]:8080"},
		{"00000000000000000000000001000000:0050", "[::1]:80"},
		{"0000000000000000FFFF00000100007F:01BB", "[::ffff:127.0.0.1]:443"},
	}
	for _, tt := range tests {
		got, err := parseHexAddrPort(tt.in)
		if err != nil || got.String() != tt.want {
			t.Errorf("parseHexAddrPort(%q) = %v, %v; want %s", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "0100007F", "01007F:0050", "0100007F:zz", "XX00007F:0050"} {
		if _, err := parseHexAddrPort(bad); err == nil {
			t.Errorf("parseHexAddrPort(%q): no error", bad)
		}
	}
}

// TestSSLinesParse checks that every line the formatter writes reads back through
// model/sockets with the same meaning.
func TestSSLinesParse(t *testing.T) {
	ap := netip.MustParseAddrPort
	tests := []struct {
		sock      procSocket
		line      string
		dualStack bool
		iface     string
	}{
		{procSocket{Proto: "tcp", State: 10, Local: ap("0.0.0.0:8080"), Peer: ap("0.0.0.0:0"), SendQ: 4096, Users: []sockUser{{"echo", 42, 3}}},
			`tcp   LISTEN 0      4096   0.0.0.0:8080                0.0.0.0:*                   users:(("echo",pid=42,fd=3))`, false, ""},
		{procSocket{Proto: "tcp", State: 10, Local: ap("[::]:80"), Peer: ap("[::]:0")}, "tcp   LISTEN 0      0      *:80                        *:*", true, ""},
		{procSocket{Proto: "tcp", State: 10, Local: ap("[::]:81"), Peer: ap("[::]:0"), V6Only: true}, "tcp   LISTEN 0      0      [::]:81                     [::]:*", false, ""},
		{procSocket{Proto: "udp", State: 7, Local: ap("10.0.0.1:53"), Peer: ap("0.0.0.0:0"), BoundIfname: "eth0"}, "udp   UNCONN 0      0      10.0.0.1%eth0:53            0.0.0.0:*", false, "eth0"},
		{procSocket{Proto: "tcp", State: 1, Local: ap("10.0.0.1:40000"), Peer: ap("10.0.0.2:443"), RecvQ: 5}, "tcp   ESTAB  5      0      10.0.0.1:40000              10.0.0.2:443", false, ""},
		{procSocket{Proto: "sctp", State: 10, Local: ap("10.0.0.1:9000")}, "sctp  LISTEN 0      0      10.0.0.1:9000               *:*", false, ""},
	}
	for _, tt := range tests {
		got := ssLine(&tt.sock)
		if got != tt.line {
			t.Errorf("ssLine:\n got %q\nwant %q", got, tt.line)
		}
		socks, err := sockets.Parse(source.NewFile("sockets.txt", []byte(got+"\n")))
		if err != nil || len(socks) != 1 {
			t.Fatalf("model/sockets on %q: %v, %v", got, socks, err)
		}
		s := socks[0]
		if s.Proto != tt.sock.Proto || s.State != tcpStates[tt.sock.State] || s.DualStack != tt.dualStack || s.Iface != tt.iface || s.Local.Port() != tt.sock.Local.Port() {
			t.Errorf("model read %q as %+v", got, s)
		}
	}
}

func TestParseProcNet(t *testing.T) {
	data := "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n" +
		"   0: 00000000:1F90 00000000:0000 0A 00000000:00000002 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0\n" +
		"   1: 0100007F:9C40 0100007F:1F90 01 00000010:00000000 00:00000000 00000000     0        0 12346 1 0000000000000000 20 4 30 10 -1\n"
	socks, err := parseProcNet("tcp", []byte(data))
	if err != nil || len(socks) != 2 {
		t.Fatalf("%v %v", socks, err)
	}
	if s := socks[0]; s.State != 10 || s.Local.String() != "0.0.0.0:8080" || s.RecvQ != 2 || s.Inode != 12345 {
		t.Errorf("listener: %+v", s)
	}
	if s := socks[1]; s.State != 1 || s.Peer.String() != "127.0.0.1:8080" || s.SendQ != 16 {
		t.Errorf("established: %+v", s)
	}
	if _, err := parseProcNet("tcp", []byte("hdr\n 0: 0100007F:1F90\n")); err == nil {
		t.Error("short line: no error")
	}
	eps := " ENDPT     SOCK   STY SST HBKT LPORT   UID INODE LADDRS\n" +
		"ffff8880 ffff8881 2   10  29   9000     0 5555 10.0.0.1 fd00::1\n"
	ss, err := parseSCTPEps([]byte(eps))
	if err != nil || len(ss) != 2 || ss[1].Local.String() != "[fd00::1]:9000" || ss[0].State != 10 {
		t.Errorf("sctp eps: %+v %v", ss, err)
	}
}

func TestSysctlName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"net/ipv4/ip_forward", "net.ipv4.ip_forward"},
		{"net/ipv4/conf/eth0.100/rp_filter", "net.ipv4.conf.eth0/100.rp_filter"},
		{"net/bridge/bridge-nf-call-iptables", "net.bridge.bridge-nf-call-iptables"},
	}
	for _, tt := range tests {
		if got := sysctlName(tt.in); got != tt.want {
			t.Errorf("sysctlName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := sysctlValue([]byte("4096\t131072\t6291456\n")); got != "4096\t131072\t6291456" {
		t.Errorf("sysctlValue = %q", got)
	}
}

func TestIPRouteJSON(t *testing.T) {
	names := map[int]string{2: "eth0", 3: "cni0"}
	_, p24, _ := net.ParseCIDR("10.244.2.0/24")
	_, host, _ := net.ParseCIDR("10.200.0.11/32")
	_, v6, _ := net.ParseCIDR("fd00::/64")
	tests := []struct {
		name string
		r    netlink.Route
		want string
	}{
		{"default via", netlink.Route{Family: unix.AF_INET, Type: unix.RTN_UNICAST, Table: 254, Protocol: unix.RTPROT_BOOT, Gw: net.ParseIP("10.200.0.254"), LinkIndex: 2},
			`{"dst":"default","gateway":"10.200.0.254","dev":"eth0","flags":[]}`},
		{"local host route", netlink.Route{Family: unix.AF_INET, Type: unix.RTN_LOCAL, Table: 255, Protocol: unix.RTPROT_KERNEL, Scope: netlink.SCOPE_HOST, Dst: host, Src: net.ParseIP("10.200.0.11"), LinkIndex: 2},
			`{"type":"local","dst":"10.200.0.11","dev":"eth0","table":"local","protocol":"kernel","scope":"host","prefsrc":"10.200.0.11","flags":[]}`},
		{"onlink mtu", netlink.Route{Family: unix.AF_INET, Type: unix.RTN_UNICAST, Table: 100, Protocol: 4, Dst: p24, Gw: net.ParseIP("10.244.2.0"), LinkIndex: 9, Flags: unix.RTNH_F_ONLINK, MTU: 1400, Priority: 5},
			`{"dst":"10.244.2.0/24","gateway":"10.244.2.0","dev":"if9","table":"100","protocol":"static","metric":5,"flags":["onlink"],"metrics":[{"mtu":1400}]}`},
		{"blackhole v6", netlink.Route{Family: unix.AF_INET6, Type: unix.RTN_BLACKHOLE, Table: 254, Protocol: unix.RTPROT_BOOT, Dst: v6, Priority: 1024},
			`{"type":"blackhole","dst":"fd00::/64","metric":1024,"flags":[]}`},
		{"multipath", netlink.Route{Family: unix.AF_INET, Type: unix.RTN_UNICAST, Table: 254, Protocol: unix.RTPROT_BOOT, Dst: p24, MultiPath: []*netlink.NexthopInfo{
			{LinkIndex: 2, Gw: net.ParseIP("10.200.0.12"), Hops: 1}, {LinkIndex: 3, Gw: net.ParseIP("10.244.1.9")}}},
			`{"dst":"10.244.2.0/24","flags":[],"nexthops":[{"gateway":"10.200.0.12","dev":"eth0","weight":2,"flags":[]},{"gateway":"10.244.1.9","dev":"cni0","weight":1,"flags":[]}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := jsonString(ipRouteJSON(tt.r, names))
			if err != nil || got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestIPNeighAndFDBJSON(t *testing.T) {
	names := map[int]string{4: "flannel.1", 5: "cni0"}
	mac, _ := net.ParseMAC("0a:58:0a:f4:02:00")
	n := netlink.Neigh{LinkIndex: 4, IP: net.ParseIP("10.244.2.0"), HardwareAddr: mac, State: unix.NUD_PERMANENT}
	j, ok := ipNeighJSON(n, names)
	got, _ := jsonString(j)
	if want := `{"dst":"10.244.2.0","dev":"flannel.1","lladdr":"0a:58:0a:f4:02:00","state":["PERMANENT"]}`; !ok || got != want {
		t.Errorf("neigh: got %s, want %s", got, want)
	}
	if _, ok := ipNeighJSON(netlink.Neigh{LinkIndex: 4, IP: net.ParseIP("10.0.0.1"), State: unix.NUD_NOARP}, names); ok {
		t.Error("NOARP entry shown; ip neigh hides it")
	}
	r, _ := jsonString(mustNeigh(ipNeighJSON(netlink.Neigh{LinkIndex: 5, IP: net.ParseIP("fe80::1"), HardwareAddr: mac, State: unix.NUD_STALE, Flags: unix.NTF_ROUTER}, names)))
	if want := `{"dst":"fe80::1","dev":"cni0","lladdr":"0a:58:0a:f4:02:00","router":null,"state":["STALE"]}`; r != want {
		t.Errorf("router neigh: got %s, want %s", r, want)
	}
	f, _ := jsonString(bridgeFDBJSON(netlink.Neigh{LinkIndex: 4, HardwareAddr: mac, IP: net.ParseIP("10.200.0.12"), State: unix.NUD_PERMANENT, Flags: unix.NTF_SELF}, names))
	if want := `{"mac":"0a:58:0a:f4:02:00","ifname":"flannel.1","dst":"10.200.0.12","flags":["self"],"state":"permanent"}`; f != want {
		t.Errorf("fdb: got %s, want %s", f, want)
	}
}

func mustNeigh(j ipNeigh, _ bool) ipNeigh { return j }

func jsonString(v any) (string, error) {
	b, err := marshalIP(v)
	if err != nil {
		return "", err
	}
	var sb strings.Builder
	inStr := false
	for _, c := range string(b) {
		if c == '"' {
			inStr = !inStr
		}
		if !inStr && (c == ' ' || c == '\n') {
			continue
		}
		sb.WriteRune(c)
	}
	return sb.String(), nil
}

func TestParsePodNetNS(t *testing.T) {
	got, err := ParsePodNetNS([]string{"default_pod1a=nsim-x-p1", "/run/netns/cni-1", "kube-system_dns"}, "/var/run/netns")
	if err != nil {
		t.Fatal(err)
	}
	want := []PodReport{
		{Dir: "default_pod1a", NetNS: "/var/run/netns/nsim-x-p1", Source: "flag", Namespace: "default", Name: "pod1a"},
		{Dir: "cni-1", NetNS: "/run/netns/cni-1", Source: "flag"},
		{Dir: "kube-system_dns", NetNS: "/var/run/netns/kube-system_dns", Source: "flag", Namespace: "kube-system", Name: "dns"},
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entry %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	for _, bad := range [][]string{{"a=b", "a=c"}, {"=x"}, {"x="}, {"auto", "x"}} {
		if _, err := ParsePodNetNS(bad, "/var/run/netns"); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}

func TestNetNSFromInfo(t *testing.T) {
	info := map[string]string{"info": `{"pid":1,"runtimeSpec":{"linux":{"namespaces":[{"type":"pid"},{"type":"network","path":"/var/run/netns/cni-abc"}]}}}`}
	if got := netnsFromInfo(info); got != "/var/run/netns/cni-abc" {
		t.Errorf("got %q", got)
	}
	if got := netnsFromInfo(map[string]string{"info": "not json"}); got != "" {
		t.Errorf("got %q from bad JSON", got)
	}
}
