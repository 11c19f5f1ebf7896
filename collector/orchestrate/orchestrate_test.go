package orchestrate

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func TestCollectorPod(t *testing.T) {
	p := CollectorPod("worker-1.example", PodOptions{Image: "registry.local/netsim:v1", PullPolicy: corev1.PullNever, Deadline: 3 * time.Minute, RunID: "abc123"})
	s := p.Spec
	c := s.Containers[0]
	checks := []struct {
		what string
		ok   bool
	}{
		{"name", p.Name == "netsim-abc123-worker-1.example"},
		{"namespace default", p.Namespace == DefaultNS},
		{"labels for clean-up", p.Labels[LabelApp] == AppName && p.Labels[LabelRun] == "abc123" && p.Labels[LabelNode] == "worker-1.example"},
		{"nodeName pinned", s.NodeName == "worker-1.example"},
		{"host network and PID", s.HostNetwork && s.HostPID},
		{"tolerates every taint", len(s.Tolerations) == 1 && s.Tolerations[0].Operator == corev1.TolerationOpExists && s.Tolerations[0].Key == "" && s.Tolerations[0].Effect == ""},
		{"privileged", c.SecurityContext != nil && c.SecurityContext.Privileged != nil && *c.SecurityContext.Privileged},
		{"image and pull policy", c.Image == "registry.local/netsim:v1" && c.ImagePullPolicy == corev1.PullNever},
		{"activeDeadlineSeconds", s.ActiveDeadlineSeconds != nil && *s.ActiveDeadlineSeconds == 180},
		{"sleeps as long as its deadline", strings.Join(c.Command, " ") == "sleep 180"},
		{"never restarts", s.RestartPolicy == corev1.RestartPolicyNever},
		{"no service account token", s.AutomountServiceAccountToken != nil && !*s.AutomountServiceAccountToken},
		{"host /run mounted", len(s.Volumes) == 1 && s.Volumes[0].HostPath.Path == "/run" && c.VolumeMounts[0].MountPath == "/run"},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("collector pod: %s wrong:\n%+v", c.what, p)
		}
	}
	long := CollectorPod(strings.Repeat("n", 250), PodOptions{RunID: "r"})
	if len(long.Name) > 253 || long.Labels[LabelNode] != "" {
		t.Errorf("long node name: pod name %d chars, node label %q", len(long.Name), long.Labels[LabelNode])
	}
}

// blockingExec stands in for kubectl exec: it writes a node archive, or blocks until the
// context ends.
type blockingExec struct {
	block   bool
	started chan struct{}
	calls   atomic.Int32
}

func (b *blockingExec) Exec(ctx context.Context, ns, pod, container string, cmd []string, stdout, stderr io.Writer) error {
	b.calls.Add(1)
	if b.block {
		close(b.started)
		<-ctx.Done()
		return ctx.Err()
	}
	_, err := stdout.Write(nodeArchive(map[string]string{"iptables-save.txt": "*filter\nCOMMIT\n", "pods/default_a/addr.json": "[]"}))
	return err
}

func fakeClient(phase corev1.PodPhase) *fake.Clientset {
	cs := fake.NewClientset(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: DefaultNS}})
	cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		p.Status.Phase = phase
		return false, nil, nil
	})
	return cs
}

func TestPodRunnerDeletesItsPod(t *testing.T) {
	cases := []struct {
		name    string
		phase   corev1.PodPhase
		block   bool
		cancel  bool
		wantErr string
	}{
		{"success", corev1.PodRunning, false, false, ""},
		{"cancelled during exec (Ctrl-C)", corev1.PodRunning, true, true, "context canceled"},
		{"pod never runs: node timeout", corev1.PodPending, false, false, "did not start"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cs := fakeClient(c.phase)
			ex := &blockingExec{block: c.block, started: make(chan struct{})}
			r := &PodRunner{Client: cs, Exec: ex, Options: PodOptions{Image: "x", RunID: "run1"}, Poll: time.Millisecond}
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			if c.cancel {
				go func() { <-ex.started; cancel() }()
			}
			var out bytes.Buffer
			err := r.Run(ctx, Target{Name: "node1"}, &out)
			if c.wantErr == "" && err != nil || c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
				t.Fatalf("err = %v, want %q", err, c.wantErr)
			}
			pods, _ := cs.CoreV1().Pods(DefaultNS).List(context.Background(), metav1.ListOptions{})
			if len(pods.Items) != 0 {
				t.Errorf("%d pod(s) left after the run", len(pods.Items))
			}
			var created, deleted int
			for _, a := range cs.Actions() {
				if a.GetResource().Resource == "pods" {
					switch a.GetVerb() {
					case "create":
						created++
					case "delete":
						deleted++
					}
				}
			}
			if created != 1 || deleted != 1 {
				t.Errorf("created %d, deleted %d pods", created, deleted)
			}
			if c.wantErr == "" && out.Len() == 0 {
				t.Error("no archive copied")
			}
		})
	}
}

func TestPodRunnerImagePullFailsFast(t *testing.T) {
	cs := fake.NewClientset(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: DefaultNS}})
	cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		p.Status.Phase = corev1.PodPending
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: Container, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: "no such image"}}}}
		return false, nil, nil
	})
	r := &PodRunner{Client: cs, Exec: &blockingExec{}, Options: PodOptions{Image: "x", RunID: "r"}, Poll: time.Millisecond}
	err := r.Run(context.Background(), Target{Name: "node1"}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "ImagePullBackOff") || !strings.Contains(err.Error(), "--image") {
		t.Fatalf("err = %v", err)
	}
}

func TestPodRunnerNamespaceLifecycle(t *testing.T) {
	cs := fake.NewClientset()
	r := &PodRunner{Client: cs, Exec: &blockingExec{}, Options: PodOptions{Namespace: "tmp-ns", RunID: "r"}}
	if err := r.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Namespaces().Get(context.Background(), "tmp-ns", metav1.GetOptions{}); err != nil {
		t.Fatalf("namespace not created: %v", err)
	}
	if err := r.Cleanup(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Namespaces().Get(context.Background(), "tmp-ns", metav1.GetOptions{}); err == nil {
		t.Fatal("namespace the run created was left")
	}
}

func nodeArchive(files map[string]string) []byte {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, data := range files {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg})
		tw.Write([]byte(data))
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

func TestUnpack(t *testing.T) {
	cases := []struct {
		name    string
		files   map[string]string
		want    []string
		wantErr string
	}{
		{"files at the top", map[string]string{"iptables-save.txt": "x", "pods/default_a/route.json": "[]"},
			[]string{"nodes/n1/iptables-save.txt", "nodes/n1/pods/default_a/route.json"}, ""},
		{"one top folder", map[string]string{"n1/iptables-save.txt": "x"}, []string{"nodes/n1/iptables-save.txt"}, ""},
		{"a bundle of one node", map[string]string{"manifest.yaml": "format: x", "nodes/other/sysctl.txt": "x"}, []string{"nodes/n1/sysctl.txt"}, ""},
		{"climbing out is refused", map[string]string{"../../etc/passwd": "x"}, nil, "climbs out"},
		{"empty", map[string]string{}, nil, "no files"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Unpack("n1", nodeArchive(c.files))
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for n := range got {
				names = append(names, n)
			}
			if fmt.Sprint(sortStrings(names)) != fmt.Sprint(c.want) {
				t.Errorf("got %v, want %v", names, c.want)
			}
		})
	}
	if _, err := Unpack("n1", []byte("not gzip")); err == nil {
		t.Error("garbage accepted")
	}
}

func sortStrings(s []string) []string {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s
}

// funcRunner adapts a function to Runner.
type funcRunner func(ctx context.Context, n Target, out io.Writer) error

func (f funcRunner) Run(ctx context.Context, n Target, out io.Writer) error { return f(ctx, n, out) }

func TestFanOutBoundsAndGaps(t *testing.T) {
	var running, peak atomic.Int32
	r := funcRunner(func(ctx context.Context, n Target, out io.Writer) error {
		now := running.Add(1)
		defer running.Add(-1)
		for {
			p := peak.Load()
			if now <= p || peak.CompareAndSwap(p, now) {
				break
			}
		}
		switch n.Name {
		case "slow":
			<-ctx.Done()
			return ctx.Err()
		case "broken":
			return errors.New("ssh: connect to host broken: No route to host")
		case "garbage":
			_, err := out.Write([]byte("Permission denied\n"))
			return err
		}
		time.Sleep(5 * time.Millisecond)
		_, err := out.Write(nodeArchive(map[string]string{"sysctl.txt": n.Name}))
		return err
	})
	var nodes []Target
	for i := range 10 {
		nodes = append(nodes, Target{Name: fmt.Sprintf("n%d", i)})
	}
	nodes = append(nodes, Target{Name: "slow"}, Target{Name: "broken"}, Target{Name: "garbage"})
	var mu sync.Mutex
	var reported []string
	res := FanOut{Parallel: 3, Timeout: 50 * time.Millisecond, Progress: func(n string, err error) {
		mu.Lock()
		reported = append(reported, n)
		mu.Unlock()
	}}.Run(context.Background(), r, nodes)
	if peak.Load() > 3 {
		t.Errorf("%d runs at once, want at most 3", peak.Load())
	}
	if len(res) != len(nodes) || len(reported) != len(nodes) {
		t.Fatalf("%d results, %d reported, for %d nodes", len(res), len(reported), len(nodes))
	}
	for i, nr := range res {
		if nr.Node != nodes[i].Name {
			t.Errorf("result %d is %s, want %s", i, nr.Node, nodes[i].Name)
		}
		switch nr.Node {
		case "slow":
			if nr.Err == nil || !strings.Contains(nr.Err.Error(), "timed out after 50ms (--node-timeout)") {
				t.Errorf("slow: %v", nr.Err)
			}
		case "broken":
			if nr.Err == nil || !strings.Contains(nr.Err.Error(), "No route to host") {
				t.Errorf("broken: %v", nr.Err)
			}
		case "garbage":
			if nr.Err == nil || !strings.Contains(nr.Err.Error(), "not a gzip") {
				t.Errorf("garbage: %v", nr.Err)
			}
		default:
			if nr.Err != nil || string(nr.Files["nodes/"+nr.Node+"/sysctl.txt"]) != nr.Node {
				t.Errorf("%s: %v %v", nr.Node, nr.Err, nr.Files)
			}
		}
	}
}

func TestCommandRunner(t *testing.T) {
	r := &CommandRunner{Template: "printf '%s %s' {node} {addr}; echo oops >&2"}
	var out bytes.Buffer
	if err := r.Run(context.Background(), Target{Name: "node-1.example", Addr: "10.0.0.7"}, &out); err != nil {
		t.Fatal(err)
	}
	if out.String() != "node-1.example 10.0.0.7" {
		t.Errorf("stdout %q", out.String())
	}
	for _, bad := range []Target{{Name: "a;rm -rf /"}, {Name: "$(id)"}, {Name: ""}} {
		if err := r.Run(context.Background(), bad, io.Discard); err == nil || !strings.Contains(err.Error(), "refusing") {
			t.Errorf("node %q: err = %v", bad.Name, err)
		}
	}
	if err := r.Run(context.Background(), Target{Name: "n"}, io.Discard); err == nil || !strings.Contains(err.Error(), "no InternalIP") {
		t.Errorf("{addr} without an address: %v", err)
	}
	fail := &CommandRunner{Template: "echo 'Permission denied (publickey)' >&2; exit 255"}
	if err := fail.Run(context.Background(), Target{Name: "n"}, io.Discard); err == nil || !strings.Contains(err.Error(), "Permission denied (publickey)") {
		t.Errorf("failure: %v", err)
	}
	// A timeout kills the whole group: sh and the sleep it started, whose stdout is ours.
	slow := &CommandRunner{Template: "sleep 30 & wait"}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := slow.Run(ctx, Target{Name: "n"}, &bytes.Buffer{})
	if err == nil || time.Since(start) > 5*time.Second {
		t.Errorf("slow command: err %v after %s", err, time.Since(start))
	}
}
