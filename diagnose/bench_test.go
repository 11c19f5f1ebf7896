package diagnose

import (
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/netsim/netsim/bundle"
	"github.com/netsim/netsim/internal/gctune"
	"github.com/netsim/netsim/internal/gen"
	"github.com/netsim/netsim/model"
)

// benchSize is the trace benchmark's cluster (simulate/bench_test.go): 1,000 nodes with
// dataplane dumps, 30,000 pods with theirs, 5,000 Services in every node's kube-proxy rules.
var benchSize = gen.Size{Nodes: 1000, Pods: 30000, Services: 5000, Namespaces: 500}

// bigBundle generates the bundle once per machine into the temp dir (the same folder the
// trace benchmark uses).
func bigBundle(b *testing.B) string {
	dir := filepath.Join(os.TempDir(), "netsim-bench-1000n-30000p-dataplane")
	if _, err := os.Stat(filepath.Join(dir, "nodes", "node-00999", "route.json")); err == nil {
		return dir
	}
	os.RemoveAll(dir)
	start := time.Now()
	if err := gen.Write(dir, benchSize); err != nil {
		b.Fatal(err)
	}
	if err := gen.WriteDataplane(dir, benchSize); err != nil {
		b.Fatal(err)
	}
	b.Logf("generated %s in %s", dir, time.Since(start))
	return dir
}

// BenchmarkDiagnoseLarge opens the 1,000-node bundle and diagnoses it: every node's and
// every pod's dump is read, checked and dropped. Target: under 60 s.
func BenchmarkDiagnoseLarge(b *testing.B) {
	dir := bigBundle(b)
	defer debug.SetGCPercent(debug.SetGCPercent(gctune.Percent))
	for i := 0; i < b.N; i++ {
		start := time.Now()
		bd, err := bundle.Open(dir)
		if err != nil {
			b.Fatal(err)
		}
		c, err := model.Load(bd, model.Options{})
		if err != nil {
			b.Fatal(err)
		}
		open := time.Since(start)
		rep, err := Run(c, Options{})
		if err != nil {
			b.Fatal(err)
		}
		total := time.Since(start)
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(open.Seconds(), "open-s")
		b.ReportMetric(total.Seconds(), "total-s")
		b.ReportMetric(float64(len(rep.Findings)), "findings")
		b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
		if total > 60*time.Second {
			b.Errorf("diagnose took %s, target 60 s", total)
		}
		bd.Close()
	}
}
