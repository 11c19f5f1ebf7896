package e2e

import (
	"flag"
	"fmt"
	"net/netip"
	"os/exec"
	"testing"

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
	runDifferential(t, d, diffSeeds(*diffNFTCases), "kernel-differential (nftables)", func(seed int64) ([]probe, string, error) {
		c := genNFTCase(seed)
		text := fmt.Sprintf("--- nft\n%s--- iptables\n%s--- routing\n%s", c.nft, c.iptables, routingText(&c.diffCase))
		return c.probes, text, d.loadNFT(c)
	}, func(t *testing.T) (*simulate.NetNS, error) {
		return d.engineWith(t, map[string][]string{"nft.json": {"nft", "-j", "list", "ruleset"}})
	})
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
