package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"

	"github.com/netsim/netsim/collector/cluster"
	"github.com/netsim/netsim/e2e/testbed"
)

// BenchmarkCollectCluster5000Pods measures the cluster part of `netsim collect` against
// the testbed's real API server holding 5,000 pods (created through the API; without a
// kubelet they stay Pending): in process (time and allocations per collection), and once
// as the CLI (`netsim collect --nodes none`, wall time and peak RSS).
//
//	go test ./e2e -run '^$' -bench CollectCluster5000Pods -benchtime 3x
func BenchmarkCollectCluster5000Pods(b *testing.B) {
	if err := testbed.Preflight(toolsDir()); err != nil {
		b.Skipf("skipping the real-API benchmark: %v", err)
	}
	ctx := context.Background()
	tb, err := testbed.Up(ctx, testbed.Config{Tools: toolsDir(), Nodes: 1, Logf: b.Logf})
	if err != nil {
		b.Fatal(err)
	}
	defer tb.Down()
	const pods, workers = 5000, 16
	start := time.Now()
	if err := createPods(ctx, tb, pods, workers); err != nil {
		b.Fatal(err)
	}
	b.Logf("created %d pods in %s (%d at once)", pods, time.Since(start).Round(time.Millisecond), workers)

	cfg := tb.RESTConfig()
	dyn := dynamic.NewForConfigOrDie(cfg)
	disc := discovery.NewDiscoveryClientForConfigOrDie(cfg)
	b.ReportAllocs()
	b.ResetTimer()
	var written int
	var took []time.Duration
	for b.Loop() {
		t0 := time.Now()
		res, err := cluster.Collect(ctx, cluster.Options{Dynamic: dyn, Discovery: disc})
		took = append(took, time.Since(t0).Round(time.Millisecond))
		if err != nil {
			b.Fatal(err)
		}
		if res.Counts["cluster/pods.yaml"] < pods || len(res.Failures) > 0 {
			b.Fatalf("collected %d pods, failures %v", res.Counts["cluster/pods.yaml"], res.Failures)
		}
		written = 0
		for _, d := range res.Files {
			written += len(d)
		}
	}
	b.StopTimer()
	b.Logf("each collection: %v", took)
	b.ReportMetric(float64(written)/(1<<20), "MB-written")

	// The CLI once, in the underlay namespace, with its own kubeconfig.
	bin := filepath.Join(b.TempDir(), "netsim")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/netsim").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	out := filepath.Join(b.TempDir(), "b.tar.gz")
	cmd := exec.Command("ip", "netns", "exec", tb.Underlay, bin, "collect", "--kubeconfig", tb.LocalKubeconfig, "--nodes", "none", "-o", out)
	t0 := time.Now()
	msg, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		b.Fatalf("netsim collect: %v\n%s", err, msg)
	}
	wall := time.Since(t0)
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	st, _ := os.Stat(out)
	b.ReportMetric(wall.Seconds(), "cli-s")
	b.ReportMetric(float64(ru.Maxrss)/1024, "cli-maxRSS-MB")
	if st != nil {
		b.ReportMetric(float64(st.Size())/(1<<20), "cli-tar.gz-MB")
	}
	b.Logf("netsim collect --nodes none (exit %d) in %s:\n%s", cmd.ProcessState.ExitCode(), wall.Round(time.Millisecond), msg)
}

// createPods creates n pods spread over a few namespaces, workers at a time.
func createPods(ctx context.Context, tb *testbed.Testbed, n, workers int) error {
	for i := range 10 {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("bench-%d", i)}}
		if _, err := tb.Client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	next := make(chan int)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				p := &corev1.Pod{
					ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("web-%05d", i), Namespace: fmt.Sprintf("bench-%d", i%10),
						Labels: map[string]string{"app": fmt.Sprintf("app-%d", i%50), "tier": "web", "pod-template-hash": "5d9c8b7f4"}},
					Spec: corev1.PodSpec{NodeName: "node1", Containers: []corev1.Container{{
						Name: "web", Image: "registry.example/web:1.2.3",
						Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}, {Name: "metrics", ContainerPort: 9090}},
						Env:   []corev1.EnvVar{{Name: "MODE", Value: "production"}, {Name: "DB_PASSWORD", Value: "not-in-the-bundle"}},
					}}},
				}
				if _, err := tb.Client.CoreV1().Pods(p.Namespace).Create(ctx, p, metav1.CreateOptions{}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var err error
loop:
	for i := range n {
		select {
		case next <- i:
		case err = <-errs:
			break loop
		}
	}
	close(next)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errs:
		default:
		}
	}
	return err
}
