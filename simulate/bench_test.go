package simulate

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"testing"
	"time"

	"github.com/netsim/netsim/bundle"
	"github.com/netsim/netsim/internal/gctune"
	"github.com/netsim/netsim/internal/gen"
	"github.com/netsim/netsim/model"
	"github.com/netsim/netsim/rules/packet"
)

var (
	benchOnce sync.Once
	benchDir  string
	benchErr  error
	benchSize = gen.Size{Nodes: 1000, Pods: 30000, Services: 5000, Namespaces: 500}
)

// traceBundle generates (once per machine, cached in the temp dir) the cluster:
// 1,000 nodes with dataplane dumps, 30,000 pods with theirs, 5,000 Services with three
// endpoints each in every node's kube-proxy rules.
func traceBundle(b *testing.B) string {
	benchOnce.Do(func() {
		benchDir = filepath.Join(os.TempDir(), "netsim-bench-1000n-30000p-dataplane")
		if _, err := os.Stat(filepath.Join(benchDir, "nodes", "node-00999", "route.json")); err == nil {
			return
		}
		os.RemoveAll(benchDir)
		start := time.Now()
		if benchErr = gen.Write(benchDir, benchSize); benchErr == nil {
			benchErr = gen.WriteDataplane(benchDir, benchSize)
		}
		b.Logf("generated %s in %s", benchDir, time.Since(start))
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchDir
}

func benchQuery(b *testing.B, c *model.Cluster) Query {
	// A client pod on one node, to a Service whose three endpoints are on three others.
	src, err := Resolve(c, "ns-0000/app-1-000001")
	if err != nil {
		b.Fatal(err)
	}
	dst, err := Resolve(c, "svc/ns-0050/app-2")
	if err != nil {
		b.Fatal(err)
	}
	return Query{Src: src, Dst: dst, Port: 80, Proto: packet.TCP}
}

// BenchmarkTraceOpenLarge opens the large bundle and traces one pod-to-Service query
// (every endpoint and its reply): what a user waits for. Only the nodes on the paths are
// read (nodes-read).
func BenchmarkTraceOpenLarge(b *testing.B) {
	dir := traceBundle(b)
	// As the netsim command runs (gctune.Tune), restored afterwards.
	defer debug.SetGCPercent(debug.SetGCPercent(gctune.Percent))
	var loaded int
	var openT, traceT time.Duration
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
		mid := time.Now()
		res, err := New(c).Trace(benchQuery(b, c))
		if err != nil {
			b.Fatal(err)
		}
		openT += mid.Sub(start)
		traceT += time.Since(mid)
		if res.Verdict != VDelivered || len(res.Paths) != 3 {
			b.Fatalf("verdict %s with %d paths, want delivered on 3: %+v", res.Verdict, len(res.Paths), res.Paths)
		}
		loaded = len(c.LoadedNodes())
		bd.Close()
	}
	b.ReportMetric(float64(loaded), "nodes-read")
	b.ReportMetric(float64(openT.Milliseconds())/float64(b.N), "open-ms")
	b.ReportMetric(float64(traceT.Milliseconds())/float64(b.N), "first-trace-ms")
}

// BenchmarkTraceWarm traces the same query again on an open bundle whose nodes on the
// path are already parsed: the cost of the walk itself, per path.
func BenchmarkTraceWarm(b *testing.B) {
	dir := traceBundle(b)
	bd, err := bundle.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer bd.Close()
	c, err := model.Load(bd, model.Options{})
	if err != nil {
		b.Fatal(err)
	}
	s := New(c)
	q := benchQuery(b, c)
	if _, err := s.Trace(q); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	paths := 0
	for i := 0; i < b.N; i++ {
		res, err := s.Trace(q)
		if err != nil {
			b.Fatal(err)
		}
		paths = len(res.Paths)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(paths)/1e6, "ms/path")
}
