package e2e

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/netsim/netsim/bundle"
	"github.com/netsim/netsim/model"
	"github.com/netsim/netsim/rules/packet"
	"github.com/netsim/netsim/simulate"
)

// The kernel-differential test for nftables: random native nft rulesets (genNFTCase) are
// loaded into the router namespace of the same topology as TestKernelDifferential, real
// probes are sent, and what the client saw is compared with what netsim computes from the
// router's nft -j, iptables-save, ip -j and sysctl dumps.
var diffNFTCases = flag.Int("diff.nftcases", 200, "nftables kernel-differential cases to run")

// TestKernelDifferentialNFT runs the nftables cases.
func TestKernelDifferentialNFT(t *testing.T) {
	d := upDiffNet(t)
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("skipping: nft not installed (run make deps)")
	}
	// The namespaces are the test's own: flushing their rulesets touches nothing else.
	t.Cleanup(func() { d.exec(d.router, "nft", "flush", "ruleset") })
	var seeds []int64
	if *diffSeed != 0 {
		seeds = append(seeds, *diffSeed)
	} else {
		for i := 1; i <= *diffNFTCases; i++ {
			seeds = append(seeds, int64(i))
		}
	}
	agree, probes, undecided, limited := 0, 0, 0, 0
	var failures []string
	for _, seed := range seeds {
		c := genNFTCase(seed)
		if err := d.loadNFT(c); err != nil {
			t.Fatalf("seed %d: loading the case: %v\n%s", seed, err, c.nft)
		}
		engine, err := d.engineNFT(t)
		if err != nil {
			t.Fatalf("seed %d: the engine could not read the dumps: %v\n%s", seed, err, c.nft)
		}
		sh("ip", "netns", "exec", d.router, "conntrack", "-F")
		got := make([]string, len(c.probes))
		var wg sync.WaitGroup
		for i, p := range c.probes {
			wg.Add(1)
			go func(i int, p probe) { defer wg.Done(); got[i] = d.send(p) }(i, p)
		}
		wg.Wait()
		for i, p := range c.probes {
			probes++
			want := predict(engine, p)
			if os.Getenv("NETSIM_DIFF_VERBOSE") != "" {
				t.Logf("seed %d %s: kernel %s, netsim %v", seed, p, got[i], keys(want))
			}
			switch {
			case want["unknown"]:
				undecided++
				if os.Getenv("NETSIM_DIFF_VERBOSE") != "" {
					t.Logf("seed %d %s undecided: %s", seed, p, unknownWhy(engine, p))
				}
			case want[got[i]]:
				agree++
			case got[i] == "timeout" && want[rateLimited]:
				limited++
			default:
				failures = append(failures, fmt.Sprintf("seed %d, probe %s: the kernel gave %s, netsim predicted %v\n--- nft\n%s--- iptables\n%s--- routing\n%s",
					seed, p, got[i], keys(want), c.nft, c.iptables, routingText(&c.diffCase)))
			}
		}
	}
	t.Logf("kernel-differential (nftables): %d cases, %d probes: %d agree, %d more agree but for a route error the kernel rate-limited, %d undecided (unknown), %d disagree",
		len(seeds), probes, agree, limited, undecided, len(failures))
	for i, f := range failures {
		if i == 5 {
			t.Errorf("... and %d more disagreements", len(failures)-5)
			break
		}
		t.Error(f)
	}
}

// loadNFT clears the router's rulesets (its own namespace's), then loads the routing and
// the case's iptables rules as TestKernelDifferential does, and the nft ruleset on top.
func (d *diffNet) loadNFT(c *nftCase) error {
	if err := d.exec(d.router, "nft", "flush", "ruleset"); err != nil {
		return err
	}
	dc := c.diffCase
	if dc.iptables == "" {
		dc.iptables = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n"
	}
	if err := d.load(&dc); err != nil {
		return err
	}
	return restore(d.router, "nft", c.nft, "-f", "-")
}

// engineNFT is engine with the router's nft -j dump in the bundle too.
func (d *diffNet) engineNFT(t *testing.T) (*simulate.NetNS, error) {
	dir := t.TempDir()
	nd := filepath.Join(dir, "nodes", "router")
	os.MkdirAll(nd, 0o755)
	os.WriteFile(filepath.Join(dir, "manifest.yaml"), []byte("format: netsim-bundle/v1\n"), 0o644)
	for file, args := range map[string][]string{
		"addr.json": {"ip", "-j", "-d", "addr"}, "route.json": {"ip", "-j", "route", "show", "table", "all"},
		"rule.json": {"ip", "-j", "rule"}, "neigh.json": {"ip", "-j", "neigh"}, "sysctl.txt": {"sysctl", "net"},
		"sockets.txt": {"ss", "-Htuanp"}, "iptables-save.txt": {"iptables-save"}, "ipset.txt": {"ipset", "save"},
		"nft.json": {"nft", "-j", "list", "ruleset"},
	} {
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

// unknownWhy says why the request's way is unknown (the first reason).
func unknownWhy(e *simulate.NetNS, pr probe) string {
	proto := packet.TCP
	if pr.proto == "udp" {
		proto = packet.UDP
	}
	p := packet.Packet{Src: netip.MustParseAddr(pr.src), Dst: netip.MustParseAddr(pr.dst), Proto: proto, SPort: pr.sport, DPort: pr.port, CtState: packet.CtNew}
	for _, o := range e.Arrive(p, "r0") {
		if o.Kind == simulate.Unknown {
			return o.Why
		}
	}
	return "the reply's way"
}
