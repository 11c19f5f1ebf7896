package matrix

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/netsim/netsim/bundle"
	"github.com/netsim/netsim/model"
)

func TestOwner(t *testing.T) {
	yes, no := true, false
	pod := func(labels map[string]string, refs ...metav1.OwnerReference) *model.Pod {
		return &model.Pod{Pod: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p-0", Labels: labels, OwnerReferences: refs}}}
	}
	for _, c := range []struct {
		p    *model.Pod
		want string
	}{
		{pod(map[string]string{"pod-template-hash": "7d9f8"}, metav1.OwnerReference{Kind: "ReplicaSet", Name: "web-7d9f8", Controller: &yes}), "deployment/web"},
		{pod(nil, metav1.OwnerReference{Kind: "ReplicaSet", Name: "bare-rs", Controller: &yes}), "replicaset/bare-rs"},
		{pod(nil, metav1.OwnerReference{Kind: "StatefulSet", Name: "db", Controller: &yes}), "statefulset/db"},
		{pod(nil, metav1.OwnerReference{Kind: "DaemonSet", Name: "agent"}), "daemonset/agent"},
		{pod(nil, metav1.OwnerReference{Kind: "ConfigMap", Name: "x", Controller: &no}), "pod/p-0"},
		{pod(nil), "pod/p-0"},
	} {
		if got := owner(c.p); got != c.want {
			t.Errorf("owner = %q, want %q", got, c.want)
		}
	}
}

// TestComputeAgainstKernel computes the matrix of a bundle frozen from the real testbed with
// kube-router enforcing two policies in namespace x (deny all ingress; admit namespace y to
// pod=a on the named port serve-80-tcp). The cells checked are flows whose outcome the kernel
// confirmed in e2e/policy_enforcer_test.go.
func TestComputeAgainstKernel(t *testing.T) {
	b, err := bundle.Open("../testdata/faults/kube-router-allow-ns-y-to-x-a-named-port-80.tar.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	c, err := model.Load(b, model.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := Compute(c, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Workloads) != 8 {
		t.Errorf("%d workloads, want 8 pods on their own", len(m.Workloads))
	}
	got := map[string]string{}
	for _, cell := range m.Cells {
		got[cell.From+">"+cell.To+":"+cell.Port.String()] = cell.Verdict
	}
	for k, want := range map[string]string{
		"y/pod/ya>x/pod/xa:80/tcp":                     "allow",
		"y/pod/ya>x/pod/xa:81/tcp":                     "deny",
		"y/pod/yb>x/pod/xa:80/tcp":                     "allow",
		"x/pod/xb>x/pod/xa:80/tcp":                     "deny",
		"y/pod/ya>x/pod/xb:80/tcp":                     "deny",
		"x/pod/xa>y/pod/yb:81/tcp":                     "allow",
		"default/pod/pod1b>default/pod/pod2a:8080/tcp": "allow",
	} {
		if got[k] != want {
			t.Errorf("%s: %q, want %q", k, got[k], want)
		}
	}
	for _, cell := range m.Cells {
		if cell.Verdict == "deny" && cell.Blocker == "" {
			t.Errorf("%s -> %s %s: denied without a blocker", cell.From, cell.To, cell.Port)
		}
	}
	only, err := Compute(c, "y")
	if err != nil {
		t.Fatal(err)
	}
	if len(only.Workloads) != 2 || len(only.Cells) != 4 {
		t.Errorf("-n y: %d workloads, %d cells; want 2 and 4", len(only.Workloads), len(only.Cells))
	}
}
