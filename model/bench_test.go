package model

import (
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/netsim/netsim/bundle"
	"github.com/netsim/netsim/internal/gen"
)

var (
	bigOnce sync.Once
	bigDir  string
	bigErr  error
)

// bigBundle generates (once per run) the large cluster: 5,000 nodes, 150,000 pods,
// 5,000 Services with 3 endpoints each.
func bigBundle(b *testing.B) string {
	bigOnce.Do(func() {
		bigDir = filepath.Join(os.TempDir(), "netsim-bench-5000n-150000p")
		if _, err := os.Stat(filepath.Join(bigDir, "manifest.yaml")); err == nil {
			return
		}
		os.RemoveAll(bigDir)
		start := time.Now()
		bigErr = gen.Write(bigDir, gen.Size{Nodes: 5000, Pods: 150000, Services: 5000, Namespaces: 500})
		b.Logf("generated %s in %s", bigDir, time.Since(start))
	})
	if bigErr != nil {
		b.Fatal(bigErr)
	}
	return bigDir
}

// BenchmarkOpenLarge opens the large bundle: manifest and every cluster object decoded and
// indexed (node files are not read: they are lazy). It reports the heap the opened bundle
// holds (heap-MiB) and the peak the process reached (peak-RSS-MiB, from the kernel).
func BenchmarkOpenLarge(b *testing.B) {
	dir := bigBundle(b)
	var c *Cluster
	for i := 0; i < b.N; i++ {
		c = nil
		runtime.GC()
		bd, err := bundle.Open(dir)
		if err != nil {
			b.Fatal(err)
		}
		c, err = Load(bd, Options{})
		if err != nil {
			b.Fatal(err)
		}
		bd.Close()
	}
	b.StopTimer()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
	b.ReportMetric(peakRSSMiB(), "peak-RSS-MiB")
	if len(c.Pods) != 150000 || len(c.Nodes) != 5000 {
		b.Fatalf("loaded %d pods, %d nodes", len(c.Pods), len(c.Nodes))
	}
}

// BenchmarkLookupLarge answers the index lookups a trace makes on the large bundle.
func BenchmarkLookupLarge(b *testing.B) {
	bd, err := bundle.Open(bigBundle(b))
	if err != nil {
		b.Fatal(err)
	}
	c, err := Load(bd, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("PodByIP", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if c.PodByIP(gen.Size{Nodes: 5000}.PodIP(i%150000)) == nil {
				b.Fatal("miss")
			}
		}
	})
	b.Run("NodeByAddr", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if c.NodeByAddr(gen.NodeIP(i%5000)) == nil {
				b.Fatal("miss")
			}
		}
	})
	b.Run("ServicesByIP", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if len(c.ServicesByIP(gen.ServiceIP(i%5000))) == 0 {
				b.Fatal("miss")
			}
		}
	})
	b.Run("ServiceByNodePort", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, ok := c.ServiceByNodePort(int32(30000+i%2000), corev1.ProtocolTCP); !ok {
				b.Fatal("miss")
			}
		}
	})
	b.Run("ServiceEndpoints", func(b *testing.B) {
		svc := c.Service("ns-0007", "app-3")
		for i := 0; i < b.N; i++ {
			if eps, _ := c.ServiceEndpoints(svc); len(eps) != 3 {
				b.Fatal("miss")
			}
		}
	})
	b.Run("PodByName", func(b *testing.B) {
		ns, name := c.Pods[2101].Namespace, c.Pods[2101].Name
		for i := 0; i < b.N; i++ {
			if c.Pod(ns, name) == nil {
				b.Fatal("miss")
			}
		}
	})
}
