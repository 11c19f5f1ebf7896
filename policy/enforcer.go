package policy

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/netsim/netsim/model"
)

// Enforcer is what enforces policies in the cluster, as far as the bundle shows it.
type Enforcer struct {
	// Name is calico, cilium, antrea, kube-router, weave, azure-npm, aws-network-policy-agent,
	// ..., or "" when the bundle shows none.
	Name string
	// Evidence says where it was seen: an object or a dump file.
	Evidence string
	// InDataplane is set when its rules are iptables chains in the node dumps, which the
	// walk evaluates as it evaluates every rule: then the dataplane decides, and the API's
	// intent is a cross-check. When it is not (eBPF, OVS), the intent decides.
	InDataplane bool
	// Chains are the prefixes of its iptables chains.
	Chains []string
}

// enforcers are the known policy enforcers: how their agents are named, and the iptables
// chains their rules live in (empty: not in iptables).
var enforcers = []struct {
	name   string
	agents []string // pod/DaemonSet name prefixes, or k8s-app labels
	chains []string
}{
	{"calico", []string{"calico-node", "canal"}, []string{"cali-"}},
	{"cilium", []string{"cilium", "anetd"}, nil},
	{"antrea", []string{"antrea-agent"}, nil},
	{"kube-router", []string{"kube-router"}, []string{"KUBE-NWPLCY-", "KUBE-POD-FW-"}},
	{"weave", []string{"weave-net"}, []string{"WEAVE-NPC"}},
	{"azure-npm", []string{"azure-npm"}, []string{"AZURE-NPM"}},
	{"aws-network-policy-agent", []string{"aws-network-policy-agent"}, nil},
	{"kube-network-policies", []string{"kube-network-policies"}, nil},
}

// DetectEnforcer looks for a policy enforcer in the cluster objects (its pods, its
// DaemonSet) and in the iptables dumps given (file name to content).
func DetectEnforcer(c *model.Cluster, dumps map[string][]byte) Enforcer {
	// In name order, so that the evidence cited is the same on every run.
	names := make([]string, 0, len(dumps))
	for name := range dumps {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, en := range enforcers {
		for _, name := range names {
			data := dumps[name]
			for _, ch := range en.chains {
				if bytes.Contains(data, []byte(":"+ch)) {
					return Enforcer{Name: en.name, Evidence: fmt.Sprintf("its chains (%s*) in %s", ch, name), InDataplane: true, Chains: en.chains}
				}
			}
		}
	}
	for _, en := range enforcers {
		if ev := agentIn(c, en.agents); ev != "" {
			return Enforcer{Name: en.name, Evidence: ev}
		}
	}
	return Enforcer{}
}

func matchesAgent(name string, lbls map[string]string, agents []string) bool {
	for _, a := range agents {
		if strings.HasPrefix(name, a) || lbls["k8s-app"] == a || lbls["app"] == a || lbls["name"] == a || lbls["app.kubernetes.io/name"] == a {
			return true
		}
	}
	return false
}

func agentIn(c *model.Cluster, agents []string) string {
	for _, o := range c.Others {
		if o.GVK.Kind != "DaemonSet" {
			continue
		}
		if u, ok := o.Obj.(*unstructured.Unstructured); ok && matchesAgent(u.GetName(), u.GetLabels(), agents) {
			return fmt.Sprintf("daemonset %s/%s (%s)", u.GetNamespace(), u.GetName(), o.Pos)
		}
		if m, ok := o.Obj.(interface {
			GetName() string
			GetNamespace() string
			GetLabels() map[string]string
		}); ok && matchesAgent(m.GetName(), m.GetLabels(), agents) {
			return fmt.Sprintf("daemonset %s/%s (%s)", m.GetNamespace(), m.GetName(), o.Pos)
		}
	}
	for _, p := range c.Pods {
		if p.Status.Phase == corev1.PodRunning && matchesAgent(p.Name, p.Labels, agents) {
			return fmt.Sprintf("pod %s (%s)", p.Key(), p.Pos)
		}
	}
	return ""
}

// HasPolicies reports whether the cluster has any policy at all.
func (e *Engine) HasPolicies() bool {
	return len(e.byNS) > 0 || len(e.admins) > 0 || e.base != nil
}
