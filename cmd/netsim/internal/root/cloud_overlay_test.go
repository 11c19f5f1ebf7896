package root

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netsim/netsim/bundle"
	"github.com/netsim/netsim/internal/golden"
)

// TestCloudOverlay: on a VXLAN cluster the cloud sees only the outer packet, node address to
// node address on UDP 8472, whatever the pods' addresses (the issue's "overlay traffic judged
// as the outer node-to-node packet"). Each provider's healthy exports and its row-18 exports
// (nodes whose groups or tags do not admit each other) are laid over the VXLAN testbed bundle
// frozen from the real dataplane: pod to pod across nodes is delivered through the healthy
// cloud, and denied by row 18's with the outer packet cited at the cloud hop; and where
// only one direction is admitted, the reply's outer packet is judged as the new flow it is.
func TestCloudOverlay(t *testing.T) {
	root := repoRoot(t)
	for _, c := range []struct{ provider, row18 string }{
		{"aws", "row18-sg-no-shared-group"},
		{"gcp", "row18-firewall-tags-not-shared"},
		{"azure", "row18-nsg-asg-not-shared"},
		{"alibaba", "row18-sg-no-shared-group"},
		{"tencent", "row18-sg-no-shared-group"},
	} {
		scenarios := []struct{ name, verdict string }{{"healthy", "delivered"}, {c.row18, "denied"}}
		if c.provider == "aws" {
			// Pool b admits VXLAN from pool a, pool a nothing from pool b: the request's
			// outer packet passes, the reply's — a new flow to the cloud, from another
			// source port to 8472 — is dropped: a stateful group does not save it.
			scenarios = append(scenarios, struct{ name, verdict string }{"overlay-one-way", "denied"})
		}
		for _, sc := range scenarios {
			name := c.provider + "-vxlan-" + sc.name
			t.Run(name, func(t *testing.T) {
				b := composeOver(t, root, "testdata/faults/vxlan-healthy.tar.gz", c.provider, sc.name)
				args := []string{"trace", "-b", b, "pod/default/pod1a", "pod/default/pod2a", "8080"}
				out, errOut, _ := run(t, append(args, "-o", "json")...)
				var doc struct {
					Verdict string `json:"verdict"`
					Paths   []struct {
						Hops []struct {
							NetNS  string `json:"netns"`
							Step   string `json:"step"`
							Action string `json:"action"`
							Packet struct {
								Protocol string `json:"protocol"`
								Src      string `json:"src"`
								Dst      string `json:"dst"`
								DPort    int    `json:"dport"`
							} `json:"packet"`
						} `json:"hops"`
					} `json:"paths"`
				}
				if err := json.Unmarshal([]byte(out), &doc); err != nil {
					t.Fatalf("%v\n%s%s", err, out, errOut)
				}
				if doc.Verdict != sc.verdict {
					t.Errorf("verdict %q, want %q", doc.Verdict, sc.verdict)
				}
				cloudHops := 0
				for _, p := range doc.Paths {
					for _, h := range p.Hops {
						if h.NetNS != "cloud" {
							continue
						}
						cloudHops++
						// The outer packet: node1's address to node2's, never a pod address.
						pk := h.Packet
						if pk.Protocol != "udp" || pk.DPort != 8472 || !strings.HasPrefix(pk.Src, "10.200.0.1") || !strings.HasPrefix(pk.Dst, "10.200.0.1") || pk.Src == pk.Dst {
							t.Errorf("cloud hop %s judged %+v, want the VXLAN outer packet between the nodes' addresses to UDP 8472", h.Step, pk)
						}
					}
				}
				if cloudHops == 0 {
					t.Errorf("no cloud hop in the trace:\n%s", out)
				}
				text, _, _ := run(t, args...)
				golden.Check(t, filepath.Join(root, "cmd/netsim/internal/root/testdata/cloud", name+".txt"), []byte(text))
			})
		}
	}
}

// composeOver lays testdata/cloud/PROVIDER/NAME over a copy of a frozen bundle (a folder or
// an archive).
func composeOver(t *testing.T, root, base, provider, name string) string {
	t.Helper()
	src, err := bundle.Open(filepath.Join(root, base))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dir := filepath.Join(t.TempDir(), name)
	files, err := src.Walk(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		sf, err := src.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), sf.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.CopyFS(dir, os.DirFS(filepath.Join(root, "testdata/cloud", provider, name))); err != nil && !os.IsExist(err) {
		t.Fatal(err)
	}
	return dir
}
