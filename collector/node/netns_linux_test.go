package node

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// inFreshNetNS runs fn on a thread in a new, unnamed network namespace. The thread is
// never unlocked, so it ends with the goroutine and the namespace (and every device made
// in it) goes with it: nothing is left behind, pass or fail, and the host's own
// namespace is never touched.
func inFreshNetNS(t *testing.T, fn func()) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: needs root to create a network namespace")
	}
	for _, tool := range []string{"ip", "bridge", "ss", "sysctl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("skipping: %s not installed (make deps)", tool)
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			t.Errorf("unshare: %v", err)
			return
		}
		fn()
	}()
	<-done
}

// sh runs commands in the calling thread's namespace (the child inherits it).
func sh(t *testing.T, cmds ...string) {
	t.Helper()
	for _, c := range cmds {
		f := strings.Fields(c)
		if out, err := exec.Command(f[0], f[1:]...).CombinedOutput(); err != nil {
			t.Errorf("%s: %v: %s", c, err, out)
		}
	}
}

// setupNetNS builds a namespace with every shape the parsers read: a bridge with veth
// ports (hairpin on one), veth pairs, VXLAN with fdb and permanent neighbours, secondary and IPv6 addresses, routes in several tables (onlink,
// blackhole, unreachable, prohibit, multipath, mtu, metric, src) and policy rules.
func setupNetNS(t *testing.T) {
	sh(t,
		"ip link set lo up",
		"ip link add br0 type bridge",
		"ip link add va type veth peer name vb",
		"ip link add vc type veth peer name vd",
		"ip link set va master br0",
		"ip link set vc master br0",
		"bridge link set dev va hairpin on",
		"ip link add dum0 type veth peer name dum1",
		"ip link set br0 up", "ip link set va up", "ip link set vb up", "ip link set vc up", "ip link set dum0 up", "ip link set dum1 up",
		"ip addr add 10.1.0.1/24 dev br0",
		"ip addr add 10.1.0.9/24 dev br0",
		"ip addr add 10.2.0.1/24 brd + dev dum0",
		"ip addr add fd00::1/64 dev dum0 nodad",
		"ip addr add 10.3.0.1 peer 10.3.0.2/32 dev vb",
		"ip link add vx0 type vxlan id 42 local 10.2.0.1 dev dum0 dstport 4789 nolearning",
		"ip link set vx0 address 0a:58:0a:f4:01:00 mtu 1450 up",
		"ip addr add 10.244.1.0/32 dev vx0",
		"ip route add 10.244.2.0/24 via 10.244.2.0 dev vx0 onlink",
		"ip neigh replace 10.244.2.0 lladdr 0a:58:0a:f4:02:00 dev vx0 nud permanent",
		"bridge fdb append 0a:58:0a:f4:02:00 dev vx0 dst 10.2.0.2 self permanent",
		"ip neigh replace 10.1.0.5 lladdr 02:00:00:00:00:05 dev br0 nud reachable",
		"ip neigh replace 10.1.0.6 lladdr 02:00:00:00:00:06 dev br0 nud stale",
		"ip neigh replace fd00::5 lladdr 02:00:00:00:00:07 dev dum0 nud permanent router",
		"ip route add default via 10.2.0.254 dev dum0",
		"ip route add blackhole 192.0.2.0/24",
		"ip route add unreachable 198.51.100.0/24 table 100",
		"ip route add prohibit 203.0.113.0/24 table 100 metric 5",
		"ip route add 10.9.0.0/16 proto static mtu 1400 metric 7 src 10.2.0.1 nexthop via 10.2.0.3 dev dum0 weight 2 nexthop via 10.1.0.5 dev br0",
		"ip route add 10.8.0.0/16 via 10.2.0.4 table 200 proto bird",
		"ip -6 route add fd01::/64 via fd00::2 dev dum0",
		"ip rule add fwmark 0x1/0x1 lookup 100 pref 100",
		"ip rule add from 10.1.0.0/24 to 10.9.0.0/16 iif br0 lookup 200 pref 200",
		"ip rule add not from 10.5.0.0/16 goto 32766 pref 300",
		"ip rule add ipproto tcp dport 80-90 blackhole pref 400",
		"ip rule add from all lookup main suppress_prefixlength 0 pref 500",
		"ip rule add fwmark 0x4000 prohibit pref 600",
		"ip -6 rule add from fd00::/64 lookup 100 pref 100",
	)
}

// ipJSON runs an ip or bridge command and decodes its JSON array.
func ipJSON(t *testing.T, args ...string) []map[string]any {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).Output()
	if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	var v []map[string]any
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return v
}

func decode(t *testing.T, data []byte, err error) []map[string]any {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	var v []map[string]any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	return v
}

// ignoredKeys are keys ip prints that the collector leaves out (none of them is read by
// model/iproute): per-route preference, kernel-version-dependent link sizes, and the
// vxlan/bridge/ipip parameters beyond the ones netsim reads.
var ignoredKeys = map[string]bool{"pref": true, "gso_ipv4_max_size": true, "gro_ipv4_max_size": true, "info_data": true, "info_slave_data": true}

// compareEntries compares two ip -j arrays entry by entry on every key either prints,
// except ignoredKeys; linkinfo's data is compared on the keys the collector prints.
func compareEntries(t *testing.T, what string, want, got []map[string]any) {
	t.Helper()
	if len(want) != len(got) {
		t.Errorf("%s: %d entries, ip has %d\nip:  %v\ngot: %v", what, len(got), len(want), want, got)
		return
	}
	for i := range want {
		for _, k := range keys(want[i], got[i]) {
			if ignoredKeys[k] {
				continue
			}
			w, g := want[i][k], got[i][k]
			if k == "linkinfo" {
				compareLinkInfo(t, what, want[i], w, g)
				continue
			}
			if k == "addr_info" {
				compareEntries(t, what+" "+want[i]["ifname"].(string)+" addr_info", toMaps(w), toMaps(g))
				continue
			}
			if !reflect.DeepEqual(w, g) {
				t.Errorf("%s entry %d key %q: ip %v, collector %v\nip:  %v\ngot: %v", what, i, k, w, g, want[i], got[i])
			}
		}
	}
}

func compareLinkInfo(t *testing.T, what string, entry map[string]any, w, g any) {
	t.Helper()
	wm, _ := w.(map[string]any)
	gm, _ := g.(map[string]any)
	if (wm == nil) != (gm == nil) {
		t.Errorf("%s %v linkinfo: ip %v, collector %v", what, entry["ifname"], w, g)
		return
	}
	for _, k := range []string{"info_kind", "info_slave_kind"} {
		if !reflect.DeepEqual(wm[k], gm[k]) {
			t.Errorf("%s %v linkinfo %s: ip %v, collector %v", what, entry["ifname"], k, wm[k], gm[k])
		}
	}
	for _, k := range []string{"info_data", "info_slave_data"} {
		gd, _ := gm[k].(map[string]any)
		wd, _ := wm[k].(map[string]any)
		for kk, gv := range gd {
			if !reflect.DeepEqual(wd[kk], gv) {
				t.Errorf("%s %v linkinfo %s.%s: ip %v, collector %v", what, entry["ifname"], k, kk, wd[kk], gv)
			}
		}
	}
}

func toMaps(v any) []map[string]any {
	var out []map[string]any
	for _, e := range v.([]any) {
		out = append(out, e.(map[string]any))
	}
	return out
}

func keys(a, b map[string]any) []string {
	set := map[string]bool{}
	for k := range a {
		set[k] = true
	}
	for k := range b {
		set[k] = true
	}
	var out []string
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestAgainstIproute2 builds a namespace and checks that every netlink-read file is what
// iproute2 prints for it, key by key.
func TestAgainstIproute2(t *testing.T) {
	inFreshNetNS(t, func() {
		setupNetNS(t)
		if t.Failed() {
			return
		}
		names, err := linkNames()
		if err != nil {
			t.Fatal(err)
		}
		data, err := collectAddr()
		compareEntries(t, "addr", ipJSON(t, "ip", "-d", "-j", "addr"), decode(t, data, err))
		data, err = collectRoutes(names)
		compareEntries(t, "route", ipJSON(t, "ip", "-j", "route", "show", "table", "all"), decode(t, data, err))
		data, err = collectRules(unix.AF_INET)
		compareEntries(t, "rule", ipJSON(t, "ip", "-j", "rule"), decode(t, data, err))
		data, err = collectRules(unix.AF_INET6)
		compareEntries(t, "rule6", ipJSON(t, "ip", "-6", "-j", "rule"), decode(t, data, err))
		data, err = collectNeigh(names)
		compareEntries(t, "neigh", ipJSON(t, "ip", "-j", "neigh"), decode(t, data, err))
		data, err = collectFDB(names)
		compareEntries(t, "fdb", ipJSON(t, "bridge", "-j", "fdb", "show"), decode(t, data, err))
	})
}

// TestSocketsAndSysctlAgainstTools listens on a few sockets in a fresh namespace and
// compares sockets.txt with `ss -Htuanp` and sysctl.txt with `sysctl net`.
func TestSocketsAndSysctlAgainstTools(t *testing.T) {
	inFreshNetNS(t, func() {
		sh(t, "ip link set lo up", "ip addr add 10.7.0.1/8 dev lo")
		var closers []func() error
		defer func() {
			for _, c := range closers {
				c()
			}
		}()
		for _, l := range []struct{ net, addr string }{{"tcp", ":18080"}, {"tcp4", "127.0.0.1:18081"}, {"tcp6", "[::]:18082"}, {"tcp6", "[::1]:18083"}} {
			ln, err := net.Listen(l.net, l.addr)
			if err != nil {
				t.Fatal(err)
			}
			closers = append(closers, ln.Close)
		}
		for _, l := range []struct{ net, addr string }{{"udp", ":15353"}, {"udp4", "10.7.0.1:15354"}} {
			pc, err := net.ListenPacket(l.net, l.addr)
			if err != nil {
				t.Fatal(err)
			}
			closers = append(closers, pc.Close)
		}
		c, err := net.Dial("tcp", "127.0.0.1:18081")
		if err != nil {
			t.Fatal(err)
		}
		closers = append(closers, c.Close)
		data, _, err := collectSockets(socketUsers("/proc"))
		if err != nil {
			t.Fatal(err)
		}
		ss, err := exec.Command("ss", "-Htuanp").Output()
		if err != nil {
			t.Fatal(err)
		}
		if a, b := normSS(ss), normSS(data); !reflect.DeepEqual(a, b) {
			t.Errorf("sockets differ from ss -Htuanp:\nss:\n%s\ncollector:\n%s", strings.Join(a, "\n"), strings.Join(b, "\n"))
		}
		got, _, err := sysctlNet("/proc/sys/net")
		if err != nil {
			t.Fatal(err)
		}
		want, _ := exec.Command("sysctl", "net").Output() // exits non-zero for unreadable keys
		if a, b := sortedLines(want), sortedLines(got); !reflect.DeepEqual(a, b) {
			t.Errorf("sysctl differs: %d lines from sysctl, %d from the collector", len(a), len(b))
		}
	})
}

// normSS reduces ss lines to their fields, sorted, dropping the accept-queue columns of
// established sockets (they move) and ss's own socket.
func normSS(b []byte) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(l)
		if len(f) < 6 {
			continue
		}
		if f[1] != "LISTEN" && f[1] != "UNCONN" {
			f[2], f[3] = "-", "-"
		}
		out = append(out, strings.Join(f, " "))
	}
	sort.Strings(out)
	return out
}

func sortedLines(b []byte) []string {
	out := strings.Split(strings.TrimSpace(string(b)), "\n")
	sort.Strings(out)
	return out
}
