package e2e

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/netsim/netsim/bundle"
	"github.com/netsim/netsim/e2e/testbed"
	"github.com/netsim/netsim/model"
	"github.com/netsim/netsim/rules/packet"
	"github.com/netsim/netsim/simulate"
)

// The kernel-differential test: random but realistic rulesets (kube-proxy-shaped DNAT
// with statistic branches, host-firewall filters, marks and masks, jumps, gotos and
// returns, negations, ipsets, SNAT/MASQUERADE, policy routing, blackhole, unreachable and
// prohibit routes, rp_filter) are loaded into a real router namespace between a client
// and three servers; real TCP and UDP probes are sent; and what the client saw is
// compared with what the engine computes from the router's iptables-save, ipset save,
// ip -j and sysctl dumps. Each disagreement fails with its seed.
var (
	diffCases = flag.Int("diff.cases", 300, "kernel-differential cases to run")
	diffSeed  = flag.Int64("diff.seed", 0, "run only this case's seed (0: seeds 1..diff.cases)")
)

// diffNet is the topology: client C (10.0.0.2-4) -- r0 10.0.0.1 [router R] br1 10.1.0.1 --
// servers s1..s3 (10.1.0.11-13). VIPs 10.2.0.1-3 belong to nobody: R's DNAT decides.
type diffNet struct {
	id             string
	client, router string
	servers        []string
	procs          []*exec.Cmd
	netns          []string
}

func sh(args ...string) error {
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

func (d *diffNet) exec(ns string, args ...string) error {
	return sh(append([]string{"ip", "netns", "exec", ns}, args...)...)
}

func (d *diffNet) down() {
	for _, p := range d.procs {
		if p.Process != nil {
			p.Process.Kill()
			p.Wait()
		}
	}
	for i := len(d.netns) - 1; i >= 0; i-- {
		sh("ip", "netns", "del", d.netns[i])
	}
}

func upDiffNet(t *testing.T) *diffNet {
	if os.Getenv("NETSIM_SKIP_E2E") != "" {
		t.Skip("skipping the kernel-differential test: NETSIM_SKIP_E2E is set")
	}
	if err := testbed.Preflight(toolsDir()); err != nil {
		t.Skipf("skipping the kernel-differential test: %v", err)
	}
	if _, err := exec.LookPath("conntrack"); err != nil {
		t.Skip("skipping the kernel-differential test: conntrack not installed (run make deps)")
	}
	d := &diffNet{id: fmt.Sprintf("%04x", rand.Intn(0xffff))}
	if os.Getenv("NETSIM_DIFF_KEEP") == "" {
		t.Cleanup(d.down)
	}
	name := func(role string) string { return "nsd-" + d.id + "-" + role }
	d.client, d.router = name("c"), name("r")
	for _, ns := range []string{d.client, d.router, name("s1"), name("s2"), name("s3")} {
		if err := sh("ip", "netns", "add", ns); err != nil {
			t.Fatal(err)
		}
		d.netns = append(d.netns, ns)
		if err := sh("ip", "-n", ns, "link", "set", "lo", "up"); err != nil {
			t.Fatal(err)
		}
	}
	d.servers = []string{name("s1"), name("s2"), name("s3")}
	c, r := d.client, d.router
	cmds := [][]string{
		{"ip", "-n", c, "link", "add", "c0", "type", "veth", "peer", "name", "r0", "netns", r},
		{"ip", "-n", c, "addr", "add", "10.0.0.2/24", "dev", "c0"},
		{"ip", "-n", c, "addr", "add", "10.0.0.3/24", "dev", "c0"},
		{"ip", "-n", c, "addr", "add", "10.0.0.4/24", "dev", "c0"},
		{"ip", "-n", c, "link", "set", "c0", "up"},
		{"ip", "-n", c, "route", "add", "default", "via", "10.0.0.1"},
		{"ip", "-n", r, "addr", "add", "10.0.0.1/24", "dev", "r0"},
		{"ip", "-n", r, "link", "set", "r0", "up"},
		{"ip", "-n", r, "link", "add", "br1", "type", "bridge"},
		{"ip", "-n", r, "addr", "add", "10.1.0.1/24", "dev", "br1"},
		{"ip", "-n", r, "link", "set", "br1", "up"},
	}
	for i, s := range d.servers {
		port := fmt.Sprintf("p%d", i+1)
		cmds = append(cmds,
			[]string{"ip", "-n", s, "link", "add", "e0", "type", "veth", "peer", "name", port, "netns", r},
			[]string{"ip", "-n", r, "link", "set", port, "master", "br1", "up"},
			[]string{"ip", "-n", s, "addr", "add", fmt.Sprintf("10.1.0.1%d/24", i+1), "dev", "e0"},
			[]string{"ip", "-n", s, "link", "set", "e0", "up"},
			[]string{"ip", "-n", s, "route", "add", "default", "via", "10.1.0.1"},
		)
	}
	for _, c := range cmds {
		if err := sh(c...); err != nil {
			t.Fatal(err)
		}
	}
	for _, ns := range d.netns {
		// Destination-unreachable errors must not be rate limited, or a REJECT would look
		// like a drop. icmp_ratemask=0 exempts them without touching the per-peer token
		// bucket (icmp_ratelimit=0 would zero it, and that bucket also limits the errors
		// routes send: ip_error, net.ipv4.route.error_cost, which is host-wide).
		d.exec(ns, "sysctl", "-qw", "net.ipv4.icmp_ratemask=0")
	}
	d.exec(r, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	d.exec(r, "sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=0")
	start := func(ns, name string, ports ...string) {
		cmd := exec.Command("ip", append([]string{"netns", "exec", ns, filepath.Join(toolsDir(), "echo"), name}, ports...)...)
		if err := testbed.StartProcess(cmd); err != nil {
			t.Fatal(err)
		}
		d.procs = append(d.procs, cmd)
	}
	for i, s := range d.servers {
		start(s, fmt.Sprintf("s%d", i+1), "tcp:80", "tcp:8080", "udp:53", "udp:5353")
	}
	start(r, "router", "tcp:7000", "udp:7000")
	time.Sleep(300 * time.Millisecond)
	return d
}

// probe is one flow the client sends.
type probe struct {
	src   string
	dst   string
	proto string // tcp, udp
	port  uint16
	sport uint16
}

func (p probe) String() string {
	return fmt.Sprintf("%s %s:%d -> %s:%d", p.proto, p.src, p.sport, p.dst, p.port)
}

// send makes the real probe from the client namespace and says what the client saw:
// "reply:NAME@SRC" (SRC is the address the answering program saw), refused,
// host-unreachable, net-unreachable, timeout.
func (d *diffNet) send(p probe) string {
	laddr := netip.AddrPortFrom(netip.MustParseAddr(p.src), p.sport)
	var la net.Addr = net.TCPAddrFromAddrPort(laddr)
	if p.proto == "udp" {
		la = net.UDPAddrFromAddrPort(laddr)
	}
	dial := testbed.DialIn("/var/run/netns/"+d.client, net.Dialer{LocalAddr: la, Timeout: 600 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	c, err := dial(ctx, p.proto, fmt.Sprintf("%s:%d", p.dst, p.port))
	if err != nil {
		return errOutcome(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(600 * time.Millisecond))
	if p.proto == "udp" {
		c.Write([]byte("probe\n"))
	}
	buf := make([]byte, 256)
	n, err := c.Read(buf)
	if err != nil {
		return errOutcome(err)
	}
	// "NAME PROTO PORT from IP:PORT"
	f := strings.Fields(string(buf[:n]))
	if len(f) < 5 {
		return "garbled:" + string(buf[:n])
	}
	ap, _ := netip.ParseAddrPort(f[4])
	return "reply:" + f[0] + "@" + ap.Addr().Unmap().String()
}

func errOutcome(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.EHOSTUNREACH):
		return "host-unreachable"
	case errors.Is(err, syscall.ENETUNREACH):
		return "net-unreachable"
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	return "error:" + err.Error()
}

// TestKernelDifferential runs the cases; see the file comment.
func TestKernelDifferential(t *testing.T) {
	d := upDiffNet(t)
	runDifferential(t, d, diffSeeds(*diffCases), "kernel-differential", func(seed int64) ([]probe, string, error) {
		c := genCase(seed)
		text := fmt.Sprintf("--- iptables\n%s--- ipset\n%s--- routing\n%s", c.iptables, c.ipset, routingText(c))
		return c.probes, text, d.load(c)
	}, d.engine)
}

// diffSeeds is the seeds to run: -diff.seed alone, else 1..n.
func diffSeeds(n int) []int64 {
	if *diffSeed != 0 {
		return []int64{*diffSeed}
	}
	seeds := make([]int64, 0, n)
	for i := 1; i <= n; i++ {
		seeds = append(seeds, int64(i))
	}
	return seeds
}

// runDifferential is the loop both differentials share: per seed, load loads the case
// into the router (returning its probes and a text of the case for a failure), engine
// builds netsim's engine from the router's dumps, the probes are sent at once, and each
// outcome the client saw is compared with netsim's prediction. Undecided (unknown)
// predictions are counted, never taken as agreement.
func runDifferential(t *testing.T, d *diffNet, seeds []int64, label string,
	load func(seed int64) ([]probe, string, error), engine func(t *testing.T) (*simulate.NetNS, error)) {
	t.Helper()
	verbose := os.Getenv("NETSIM_DIFF_VERBOSE") != ""
	agree, probes, undecided, limited := 0, 0, 0, 0
	var failures []string
	for _, seed := range seeds {
		ps, text, err := load(seed)
		if err != nil {
			t.Fatalf("seed %d: loading the case: %v\n%s", seed, err, text)
		}
		e, err := engine(t)
		if err != nil {
			t.Fatalf("seed %d: the engine could not read the dumps: %v\n%s", seed, err, text)
		}
		sh("ip", "netns", "exec", d.router, "conntrack", "-F")
		if os.Getenv("NETSIM_DIFF_SLEEP") != "" {
			time.Sleep(2 * time.Second)
		}
		got := make([]string, len(ps))
		var wg sync.WaitGroup
		for i, p := range ps {
			wg.Add(1)
			go func(i int, p probe) { defer wg.Done(); got[i] = d.send(p) }(i, p)
		}
		wg.Wait()
		for i, p := range ps {
			probes++
			want := predict(e, p)
			if verbose {
				t.Logf("seed %d %s: kernel %s, netsim %v", seed, p, got[i], keys(want))
			}
			switch {
			case want["unknown"]:
				undecided++
				if verbose {
					t.Logf("seed %d %s undecided: %s", seed, p, unknownWhy(e, p))
				}
			case want[got[i]]:
				agree++
			case got[i] == "timeout" && want[rateLimited]:
				// A route's ICMP error was suppressed by ip_error's per-source rate limit
				// (about 5 back to back, then one a second): the kernel's documented behaviour.
				limited++
			default:
				failures = append(failures, fmt.Sprintf("seed %d, probe %s: the kernel gave %s, netsim predicted %v\n%s",
					seed, p, got[i], keys(want), text))
			}
		}
	}
	t.Logf("%s: %d cases, %d probes: %d agree, %d more agree but for a route error the kernel rate-limited, %d undecided (unknown), %d disagree",
		label, len(seeds), probes, agree, limited, undecided, len(failures))
	for i, f := range failures {
		if i == 5 {
			t.Errorf("... and %d more disagreements", len(failures)-5)
			break
		}
		t.Error(f)
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// diffCase is one random configuration of the router and the probes sent through it.
type diffCase struct {
	iptables string
	ipset    string
	routing  [][]string // ip commands run in the router
	sysctls  []string
	probes   []probe
}

func (d *diffNet) load(c *diffCase) error {
	r := d.router
	// Clear the previous case: rules first (they hold the sets), then sets and routing.
	flush := "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n"
	if err := restore(r, "iptables-restore", flush); err != nil {
		return err
	}
	d.exec(r, "ipset", "destroy")
	sh("ip", "-n", r, "rule", "del", "prio", "100")
	sh("ip", "-n", r, "rule", "del", "prio", "110")
	sh("ip", "-n", r, "route", "flush", "table", "100")
	for _, dst := range []string{"10.2.0.3/32", "10.0.0.4/32", "10.3.0.0/24"} {
		sh("ip", "-n", r, "route", "del", dst)
	}
	if c.ipset != "" {
		if err := restore(r, "ipset", c.ipset, "restore"); err != nil {
			return err
		}
	}
	for _, cmd := range c.routing {
		if err := sh(append([]string{"ip", "-n", r}, cmd...)...); err != nil {
			return err
		}
	}
	for _, s := range c.sysctls {
		if err := d.exec(r, "sysctl", "-qw", s); err != nil {
			return err
		}
	}
	return restore(r, "iptables-restore", c.iptables)
}

func restore(ns, tool, input string, args ...string) error {
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, tool}, args...)...)
	cmd.Stdin = strings.NewReader(input)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", tool, err, out)
	}
	return nil
}

// engine dumps the router the way a bundle holds it and builds the engine from the dump.
func (d *diffNet) engine(t *testing.T) (*simulate.NetNS, error) { return d.engineWith(t, nil) }

// engineWith is engine with more dump files (file name to command run in the router).
func (d *diffNet) engineWith(t *testing.T, extra map[string][]string) (*simulate.NetNS, error) {
	dir := t.TempDir()
	nd := filepath.Join(dir, "nodes", "router")
	os.MkdirAll(nd, 0o755)
	os.WriteFile(filepath.Join(dir, "manifest.yaml"), []byte("format: netsim-bundle/v1\n"), 0o644)
	dumps := map[string][]string{
		"addr.json": {"ip", "-j", "-d", "addr"}, "route.json": {"ip", "-j", "route", "show", "table", "all"},
		"rule.json": {"ip", "-j", "rule"}, "neigh.json": {"ip", "-j", "neigh"}, "sysctl.txt": {"sysctl", "net"},
		"sockets.txt": {"ss", "-Htuanp"}, "iptables-save.txt": {"iptables-save"}, "ipset.txt": {"ipset", "save"},
	}
	for f, args := range extra {
		dumps[f] = args
	}
	for file, args := range dumps {
		out, _ := exec.Command("ip", append([]string{"netns", "exec", d.router}, args...)...).Output()
		os.WriteFile(filepath.Join(nd, file), out, 0o644)
	}
	b, err := bundle.Open(dir)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	ns, err := model.LoadNetNS(b, "nodes/router", "host")
	if err != nil {
		return nil, err
	}
	return simulate.NewNetNS(ns)
}

// rateLimited marks a prediction that the client may time out because the router's route
// error was rate limited.
const rateLimited = "rate-limited"

var servers = map[string]string{"10.1.0.11": "s1", "10.1.0.12": "s2", "10.1.0.13": "s3"}

// listens says whether the program at addr (a server or the router) answers proto/port.
func listens(host, proto string, port uint16) bool {
	if host == "router" {
		return port == 7000
	}
	if proto == "tcp" {
		return port == 80 || port == 8080
	}
	return port == 53 || port == 5353
}

// clientSees maps the ICMP error (or RST) a client receives to what its socket reports.
// TCP aborts a connect on any unreachable; a connected UDP socket reports only the
// errors the kernel calls hard (net and host unreachable are soft: the socket waits).
func clientSees(proto, icmp string) string {
	switch icmp {
	case "tcp-reset", "icmp-port-unreachable":
		return "refused"
	case "icmp-net-unreachable":
		if proto == "udp" {
			return "timeout"
		}
		return "net-unreachable"
	case "icmp-host-unreachable":
		if proto == "udp" {
			return "timeout"
		}
		return "host-unreachable"
	case "icmp-net-prohibited":
		return "net-unreachable"
	case "icmp-host-prohibited", "icmp-admin-prohibited":
		return "host-unreachable"
	}
	return "unknown"
}

// predict computes every outcome the client can see, from the engine alone.
func predict(e *simulate.NetNS, pr probe) map[string]bool {
	want := map[string]bool{}
	proto := packet.TCP
	if pr.proto == "udp" {
		proto = packet.UDP
	}
	p := packet.Packet{Src: netip.MustParseAddr(pr.src), Dst: netip.MustParseAddr(pr.dst), Proto: proto, SPort: pr.sport, DPort: pr.port, CtState: packet.CtNew}
	if proto == packet.TCP {
		p.TCPFlags = packet.SYN
	}
	// errorBack sends an error (ICMP or RST) from the router to the client: it passes the
	// router's OUTPUT and POSTROUTING like any packet the router makes.
	errorBack := func(req packet.Packet, icmp string) string {
		q := packet.Packet{Src: routerAddrFacing(req), Dst: req.Src, Proto: packet.ICMP, ICMPType: 3, CtState: packet.CtRelated, Reply: true,
			OrigSrc: req.OrigSrc, OrigDst: req.OrigDst, SNATed: req.SNATed, DNATed: req.DNATed}
		if icmp == "tcp-reset" {
			q = packet.Packet{Src: req.Dst, Dst: req.Src, Proto: packet.TCP, SPort: req.DPort, DPort: req.SPort, TCPFlags: packet.RST | packet.ACK,
				CtState: packet.CtEstablished, Reply: true, OrigSrc: req.OrigSrc, OrigDst: req.OrigDst, SNATed: req.SNATed, DNATed: req.DNATed}
		}
		for _, o := range e.Send(q) {
			switch {
			case o.Kind == simulate.Unknown:
				return "unknown"
			case o.Kind == simulate.Forward && o.OutIface == "r0":
				return clientSees(pr.proto, icmp)
			}
		}
		return "timeout"
	}
	for _, o := range e.Arrive(p, "r0") {
		q := o.Packet
		if !q.OrigDst.IsValid() {
			q.OrigSrc, q.OrigDst = p.SrcAP(), p.DstAP()
		}
		switch o.Kind {
		case simulate.Unknown:
			want["unknown"] = true
		case simulate.Dropped:
			want["timeout"] = true
		case simulate.Rejected, simulate.NoRoute:
			if o.Reject == "" {
				want["timeout"] = true
			} else {
				want[errorBack(q, o.Reject)] = true
				if o.Kind == simulate.NoRoute {
					want[rateLimited] = true
				}
			}
		case simulate.Deliver:
			// The router's own program, or its stack's RST / port unreachable.
			if listens("router", pr.proto, q.DPort) {
				rep := packet.Packet{Src: q.Dst, Dst: q.Src, Proto: q.Proto, SPort: q.DPort, DPort: q.SPort, CtState: packet.CtEstablished, Reply: true,
					OrigSrc: q.OrigSrc, OrigDst: q.OrigDst, SNATed: q.SNATed, DNATed: q.DNATed}
				seen := "timeout"
				for _, ro := range e.Send(rep) {
					if ro.Kind == simulate.Unknown {
						seen = "unknown"
					} else if ro.Kind == simulate.Forward && ro.OutIface == "r0" && ro.Packet.Dst == p.Src {
						seen = "reply:router@" + q.Src.String()
					}
				}
				want[seen] = true
			} else if pr.proto == "tcp" {
				want[errorBack(q, "tcp-reset")] = true
			} else {
				want[errorBack(q, "icmp-port-unreachable")] = true
			}
		case simulate.Forward:
			host, ok := servers[q.Dst.String()]
			if o.OutIface != "br1" || !ok {
				want["timeout"] = true // nobody there answers (e.g. sent back out r0)
				continue
			}
			// The server answers (or refuses) from its own address; the reply comes back
			// into the router on br1.
			rep := packet.Packet{Src: q.Dst, Dst: q.Src, Proto: q.Proto, SPort: q.DPort, DPort: q.SPort, CtState: packet.CtEstablished, Reply: true,
				OrigSrc: q.OrigSrc, OrigDst: q.OrigDst, SNATed: q.SNATed, DNATed: q.DNATed}
			outcome := "reply:" + host + "@" + q.Src.String()
			if !listens(host, pr.proto, q.DPort) {
				if pr.proto == "tcp" {
					rep.TCPFlags = packet.RST | packet.ACK
					outcome = "refused"
				} else {
					rep = packet.Packet{Src: q.Dst, Dst: q.Src, Proto: packet.ICMP, ICMPType: 3, ICMPCode: 3, CtState: packet.CtRelated, Reply: true,
						OrigSrc: q.OrigSrc, OrigDst: q.OrigDst, SNATed: q.SNATed, DNATed: q.DNATed}
					outcome = "refused"
				}
			}
			seen := "timeout"
			for _, ro := range e.Arrive(rep, "br1") {
				if ro.Kind == simulate.Unknown {
					seen = "unknown"
				} else if ro.Kind == simulate.Forward && ro.OutIface == "r0" && ro.Packet.Dst == p.Src {
					seen = outcome
				}
			}
			want[seen] = true
		}
	}
	return want
}

// routerAddrFacing is the source of ICMP errors the router sends towards the client.
func routerAddrFacing(p packet.Packet) netip.Addr { return netip.MustParseAddr("10.0.0.1") }

func routingText(c *diffCase) string {
	var b strings.Builder
	for _, r := range c.routing {
		b.WriteString("ip " + strings.Join(r, " ") + "\n")
	}
	return b.String() + strings.Join(c.sysctls, "\n")
}
