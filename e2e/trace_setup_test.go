package e2e

import (
	"context"
	"encoding/json"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/netsim/netsim/e2e/testbed"
)

// The set-up steps the trace harnesses (iptables and nftables mode) share.

// podNamed is the testbed's pod of that name.
func podNamed(t *testing.T, tb *testbed.Testbed, name string) *testbed.Pod {
	t.Helper()
	for _, p := range tb.Pods {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("no pod %s", name)
	return nil
}

// hostVethOf is the node's end of a pod's eth0 (the pod is on the first node).
func hostVethOf(t *testing.T, tb *testbed.Testbed, p *testbed.Pod) string {
	t.Helper()
	out := mustExec(t, tb, p.NetNS, "ip", "-j", "link", "show", "eth0")
	var l []struct {
		LinkIndex int `json:"link_index"`
	}
	if err := json.Unmarshal(out, &l); err != nil || len(l) == 0 {
		t.Fatalf("ip link show eth0 in %s: %v %s", p.Name, err, out)
	}
	out = mustExec(t, tb, tb.Nodes[0].NetNS, "ip", "-j", "link", "show")
	var links []struct {
		Index int    `json:"ifindex"`
		Name  string `json:"ifname"`
	}
	json.Unmarshal(out, &links)
	for _, x := range links {
		if x.Index == l[0].LinkIndex {
			return x.Name
		}
	}
	t.Fatalf("no host veth for %s", p.Name)
	return ""
}

// setPodReady marks a pod's Ready and ContainersReady conditions (and its containers)
// ready or not, as a kubelet would, so the endpoint controllers follow.
func setPodReady(ctx context.Context, t *testing.T, tb *testbed.Testbed, name string, ready bool) {
	t.Helper()
	p, err := tb.Client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st := corev1.ConditionTrue
	if !ready {
		st = corev1.ConditionFalse
	}
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.PodReady || p.Status.Conditions[i].Type == corev1.ContainersReady {
			p.Status.Conditions[i].Status = st
		}
	}
	for i := range p.Status.ContainerStatuses {
		p.Status.ContainerStatuses[i].Ready = ready
	}
	if _, err := tb.Client.CoreV1().Pods("default").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}
