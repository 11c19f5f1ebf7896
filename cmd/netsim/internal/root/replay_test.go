package root

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/netsim/netsim/internal/golden"
)

// replayScenario is one bundle of a cases.json file (testdata/faults, testdata/ipvs,
// testdata/cloud/PROVIDER) and the traces whose verdicts it fixes.
type replayScenario struct {
	Name  string `json:"name"`
	Guide string `json:"fieldGuide"`
	Cases []struct {
		Args    []string `json:"args"`
		Verdict string   `json:"verdict"`
		// Kernel says why the kernel gives that verdict, where it was not probed.
		Kernel string `json:"kernel"`
	} `json:"cases"`
}

// readScenarios reads a cases.json below the repository root.
func readScenarios(t *testing.T, root, file string) []replayScenario {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, file))
	if err != nil {
		t.Fatal(err)
	}
	var out []replayScenario
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return out
}

// replay traces every case of the scenarios on the bundle bundleOf gives: the JSON
// verdict must be the case's, the exit code must follow it (0 delivered, 3 unknown, 1
// otherwise), and the text output (and the JSON, for every case when allJSON, else a
// scenario's first) must match the golden files in goldenDir, named PREFIX+scenario-i.
func replay(t *testing.T, root string, scenarios []replayScenario, bundleOf func(t *testing.T, name string) string, goldenDir, prefix string, allJSON bool) {
	t.Helper()
	for _, sc := range scenarios {
		b := bundleOf(t, sc.Name) // in the parent test: a TempDir lives as long as it
		for i, c := range sc.Cases {
			name := fmt.Sprintf("%s%s-%d", prefix, sc.Name, i)
			t.Run(name, func(t *testing.T) {
				args := append([]string{"trace", "-b", b}, c.Args...)
				jsonOut, errOut, code := run(t, append(args, "-o", "json")...)
				var doc struct {
					SchemaVersion int    `json:"schemaVersion"`
					Verdict       string `json:"verdict"`
				}
				if err := json.Unmarshal([]byte(jsonOut), &doc); err != nil {
					t.Fatalf("%v: %v\n%s%s", args, err, jsonOut, errOut)
				}
				if doc.SchemaVersion != 1 || doc.Verdict != c.Verdict {
					t.Errorf("%v: verdict %q (schema %d), want %q %s", args, doc.Verdict, doc.SchemaVersion, c.Verdict, c.Kernel)
				}
				want, ok := map[string]int{"delivered": 0, "unknown": 3}[c.Verdict]
				if !ok {
					want = 1
				}
				if code != want {
					t.Errorf("%v: exit %d, want %d for %s", args, code, want, c.Verdict)
				}
				text, _, _ := run(t, args...)
				golden.Check(t, filepath.Join(root, goldenDir, name+".txt"), []byte(text))
				if allJSON || i == 0 {
					golden.Check(t, filepath.Join(root, goldenDir, name+".json"), []byte(jsonOut))
				}
			})
		}
	}
}
