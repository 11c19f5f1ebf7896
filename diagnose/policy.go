package diagnose

import (
	"fmt"

	"github.com/netsim/netsim/policy"
)

// checkPolicy reports NetworkPolicies (or AdminNetworkPolicies) that nothing enforces
// (FIELD-GUIDE 16): the bundle shows no enforcer's agent or chains. Whether a policy
// denies a given flow is for `netsim trace`; that needs the flow.
func (r *run) checkPolicy() {
	n := len(r.c.NetworkPolicies) + len(r.c.AdminPolicies) + len(r.c.BaselinePolicy)
	if n == 0 {
		return
	}
	en := r.enforcer
	var ev []Evidence
	if en.Name != "" {
		ev = append(ev, Evidence{File: r.enforcerFile})
	} else {
		en = policy.DetectEnforcer(r.c, nil)
		if en.Name != "" {
			ev = append(ev, Evidence{Object: en.Evidence})
		}
	}
	var pols []Evidence
	for _, p := range r.c.NetworkPolicies {
		if len(pols) < 3 {
			pols = append(pols, object("networkpolicy", p.Namespace+"/"+p.Name, p.Pos))
		}
	}
	for _, p := range r.c.AdminPolicies {
		if len(pols) < 3 {
			pols = append(pols, object("adminnetworkpolicy", p.Name, p.Pos))
		}
	}
	for _, p := range r.c.BaselinePolicy {
		if len(pols) < 3 {
			pols = append(pols, object("baselineadminnetworkpolicy", p.Name, p.Pos))
		}
	}
	if en.Name == "" {
		r.add(Finding{Code: "policy-not-enforced", Severity: Warning,
			Message:  fmt.Sprintf("the bundle holds %d network policies, but no policy enforcer (Calico, Cilium, kube-router, Antrea, ...): its agents' pods, DaemonSets and chains are all absent, so the policies are not enforced and everything they deny flows", n),
			Evidence: pols,
			Fix:      "install a CNI or agent that enforces NetworkPolicies, or collect its namespace if it runs"})
		return
	}
	r.add(Finding{Code: "policy-enforced", Severity: Info,
		Message:  fmt.Sprintf("%d network policies are enforced by %s (%s); which flows they deny shows in `netsim trace` and `netsim policy`", n, en.Name, en.Evidence),
		Evidence: append(ev, pols...),
		Fix:      "none needed"})
}
