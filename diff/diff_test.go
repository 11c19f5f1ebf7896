package diff

import (
	"testing"

	"github.com/netsim/netsim/bundle"
	"github.com/netsim/netsim/model"
)

func load(t testing.TB, p string) (*model.Cluster, *bundle.Bundle) {
	t.Helper()
	b, err := bundle.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	c, err := model.Load(b, model.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c, b
}

func compute(t *testing.T, oldPath, newPath string) *Result {
	t.Helper()
	oc, ob := load(t, oldPath)
	nc, nb := load(t, newPath)
	r, err := Compute(oc, nc, ob.FS(), nb.FS())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func find(r *Result, from, to string, port uint16) *Change {
	for i, c := range r.Changes {
		if c.From == from && c.To == to && c.Port == port {
			return &r.Changes[i]
		}
	}
	return nil
}

// TestSameBundle: nothing differs, nothing is traced.
func TestSameBundle(t *testing.T) {
	r := compute(t, "../testdata/faults/healthy.tar.gz", "../testdata/faults/healthy.tar.gz")
	if len(r.Inputs) != 0 || len(r.Changes) != 0 || r.Traced != 0 {
		t.Errorf("a bundle against itself: %+v", r)
	}
}

// TestNodeChange diffs the healthy testbed against the same testbed with a FORWARD DROP
// for TCP 8080 added on node2 (both frozen from the real dataplane, whose verdicts the
// kernel confirmed): only node2's dumps differ, and the flows through node2's FORWARD
// change, while a flow that stays on node1 does not.
func TestNodeChange(t *testing.T) {
	r := compute(t, "../testdata/faults/healthy.tar.gz", "../testdata/faults/forward-drop.tar.gz")
	if len(r.Inputs) != 1 || r.Inputs[0] != "node node2 dumps" {
		t.Errorf("inputs %v, want only node2's dumps", r.Inputs)
	}
	c := find(r, "default/app=client on node1", "svc/default/echo", 80)
	if c == nil || c.Old != "delivered" || c.New != "mixed" || c.NewBlocker == "" {
		t.Errorf("pod1b -> echo: %+v (the kernel: delivered, then one endpoint of two dropped)", c)
	}
	if c := find(r, "default/app=client on node2", "default/app=echo on node2", 8080); c == nil || c.New != "denied" {
		t.Errorf("node2 client -> node2 echo: %+v", c)
	}
	if c := find(r, "default/app=client on node1", "default/app=echo on node1", 8080); c != nil {
		t.Errorf("a flow within node1 does not cross node2's FORWARD: %+v", c)
	}
}

// TestPolicyChange diffs two policy sets on the same pods, frozen from the testbed with
// kube-router enforcing them: x's default deny and allow-y removed, default/echo-from-pod2b
// added. Flows whose policy decision changes are traced; the verdicts are the ones the
// kernel showed in e2e/policy_enforcer_test.go.
func TestPolicyChange(t *testing.T) {
	r := compute(t, "../testdata/faults/kube-router-allow-ns-y-to-x-a-named-port-80.tar.gz", "../testdata/faults/kube-router-service-endpoints-admit-pod2b-only.tar.gz")
	policies := 0
	for _, in := range r.Inputs {
		if len(in) > 7 && in[:7] == "policy " {
			policies++
		}
	}
	if policies != 3 || r.Decided == 0 {
		t.Errorf("inputs %v, %d decisions", r.Inputs, r.Decided)
	}
	// ya -> xa on 81: rejected by deny-all before, open after.
	c := find(r, "y/pod=a on node1", "x/pod=a on node1", 81)
	if c == nil || c.Old != "rejected" || c.New != "delivered" || c.OldBlocker == "" {
		t.Errorf("ya -> xa:81: %+v", c)
	}
	// ya -> xa on 80 was admitted by allow-y and still is: not a change.
	if c := find(r, "y/pod=a on node1", "x/pod=a on node1", 80); c != nil {
		t.Errorf("ya -> xa:80 does not change: %+v", c)
	}
	// pod1b -> the echo Service is rejected after (only pod2b is admitted).
	if c := find(r, "default/app=client on node1", "svc/default/echo", 80); c == nil || c.New != "rejected" {
		t.Errorf("pod1b -> svc/default/echo: %+v", c)
	}
}
