package root

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/netsim/netsim/internal/golden"
)

// TestIPVSBundles replays the kube-proxy ipvs-mode bundles (testdata/ipvs, frozen from
// kube-proxy v1.34.4's own ipvs proxier by e2e/tools/ipvsgen) without root: each case's
// verdict is the one the kernel's IPVS gives that state (testdata/ipvs/cases.json says
// why), the exit code follows it, and the text (every case) and JSON (each bundle's
// first case) outputs match their golden files.
func TestIPVSBundles(t *testing.T) {
	root := repoRoot(t)
	data, err := os.ReadFile(filepath.Join(root, "testdata/ipvs/cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var bundles []struct {
		Name  string `json:"name"`
		Cases []struct {
			Args    []string `json:"args"`
			Verdict string   `json:"verdict"`
			Kernel  string   `json:"kernel"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(data, &bundles); err != nil {
		t.Fatal(err)
	}
	if len(bundles) < 4 {
		t.Fatalf("%d ipvs bundles in cases.json, want the 4 of testdata/ipvs", len(bundles))
	}
	for _, b := range bundles {
		for i, c := range b.Cases {
			name := fmt.Sprintf("%s-%d", b.Name, i)
			t.Run(name, func(t *testing.T) {
				args := append([]string{"trace", "-b", "testdata/ipvs/" + b.Name}, c.Args...)
				jsonOut, errOut, code := run(t, append(args, "-o", "json")...)
				var doc struct {
					SchemaVersion int    `json:"schemaVersion"`
					Verdict       string `json:"verdict"`
				}
				if err := json.Unmarshal([]byte(jsonOut), &doc); err != nil {
					t.Fatalf("%v: %v\n%s%s", args, err, jsonOut, errOut)
				}
				if doc.SchemaVersion != 1 || doc.Verdict != c.Verdict {
					t.Errorf("%v: verdict %q (schema %d), the kernel gives %q (%s)", args, doc.Verdict, doc.SchemaVersion, c.Verdict, c.Kernel)
				}
				want, ok := map[string]int{"delivered": 0, "unknown": 3}[c.Verdict]
				if !ok {
					want = 1
				}
				if code != want {
					t.Errorf("%v: exit %d, want %d for %s", args, code, want, c.Verdict)
				}
				text, _, _ := run(t, args...)
				golden.Check(t, filepath.Join(root, "cmd/netsim/internal/root/testdata/ipvs", name+".txt"), []byte(text))
				if i == 0 {
					golden.Check(t, filepath.Join(root, "cmd/netsim/internal/root/testdata/ipvs", name+".json"), []byte(jsonOut))
				}
			})
		}
	}
}
