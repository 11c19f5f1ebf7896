package orchestrate

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/netsim/netsim/collector/cluster"
)

// fakeAPI is an in-memory cluster with n Nodes for the cluster part.
func fakeAPI(n int) cluster.Options {
	listKinds := map[schema.GroupVersionResource]string{}
	for _, r := range cluster.Resources {
		listKinds[r.GVR] = "List"
	}
	var objs []runtime.Object
	for i := 1; i <= n; i++ {
		objs = append(objs, &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Node",
			"metadata": map[string]any{"name": fmt.Sprintf("node%d", i)}}})
	}
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), listKinds, objs...)
	return cluster.Options{Dynamic: dyn, Discovery: fake.NewClientset().Discovery()}
}

// TestCollectCancelledDeletesEverything runs a whole collection with collector pods,
// cancels it (Ctrl-C) while the node parts run, and checks that no pod and no namespace
// the run created is left.
func TestCollectCancelledDeletesEverything(t *testing.T) {
	cs := fake.NewClientset() // no namespace: Prepare creates it, Cleanup must delete it
	cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		a.(k8stesting.CreateAction).GetObject().(*corev1.Pod).Status.Phase = corev1.PodRunning
		return false, nil, nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ex := &blockingExec{block: true, started: make(chan struct{})}
	go func() { <-ex.started; time.Sleep(20 * time.Millisecond); cancel() }()
	r := &PodRunner{Client: cs, Exec: ex, Options: PodOptions{Image: "x", RunID: "run9"}, Poll: time.Millisecond}
	res, err := Collect(ctx, Options{ClusterName: "c", API: fakeAPI(5), Nodes: Selection{All: true}, Runner: r,
		FanOut: FanOut{Parallel: 1, Timeout: time.Minute}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if res == nil || len(res.Nodes) != 5 {
		t.Fatalf("result %+v", res)
	}
	for _, nr := range res.Nodes {
		if nr.Err == nil {
			t.Errorf("%s collected though cancelled", nr.Node)
		}
	}
	pods, _ := cs.CoreV1().Pods(DefaultNS).List(context.Background(), metav1.ListOptions{})
	if len(pods.Items) != 0 {
		t.Errorf("%d pods left", len(pods.Items))
	}
	if _, err := cs.CoreV1().Namespaces().Get(context.Background(), DefaultNS, metav1.GetOptions{}); err == nil {
		t.Error("the namespace the run created was left")
	}
	if ex.calls.Load() != 1 {
		t.Errorf("%d execs; with --parallel 1 only the first node should have started", ex.calls.Load())
	}
}

// TestCollectNodesAllWithoutNodeList: when the Node list is denied, --nodes all cannot
// know the nodes; that is one gap, and the API part is still written.
func TestCollectNodesAllWithoutNodeList(t *testing.T) {
	api := fakeAPI(2)
	api.Dynamic.(*dynamicfake.FakeDynamicClient).PrependReactor("list", "nodes", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, fmt.Errorf("nodes is forbidden")
	})
	res, err := Collect(context.Background(), Options{API: api, Nodes: Selection{All: true}, Runner: funcRunner(nil),
		Now: func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	var scopes []string
	for _, g := range res.Failures {
		scopes = append(scopes, g.Scope)
	}
	if fmt.Sprint(scopes) != "[cluster/nodes nodes]" {
		t.Errorf("failures %v", res.Failures)
	}
	if !res.Bundle.Has("cluster/pods.yaml") || !res.Bundle.Has("manifest.yaml") || res.Manifest.CollectedAt.Year() != 2026 {
		t.Errorf("bundle %v, manifest %+v", res.Bundle.Names(), res.Manifest)
	}
}
