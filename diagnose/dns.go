package diagnose

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/netsim/netsim/model"
)

// dnsService finds the cluster DNS Service: kube-system/kube-dns, kube-system/coredns, or
// one labelled k8s-app=kube-dns.
func dnsService(c *model.Cluster) *model.Service {
	for _, name := range []string{"kube-dns", "coredns"} {
		if s := c.Service("kube-system", name); s != nil {
			return s
		}
	}
	for _, s := range c.Services {
		if s.Labels["k8s-app"] == "kube-dns" {
			return s
		}
	}
	return nil
}

// checkDNS reports a cluster DNS Service that is missing while pods rely on it, or that
// has no ready endpoints (FIELD-GUIDE 26).
func (r *run) checkDNS() {
	svc := dnsService(r.c)
	if svc == nil {
		for _, p := range r.c.Pods {
			if p.HostNetwork() || p.Terminal() {
				continue
			}
			if pol := p.Spec.DNSPolicy; pol == "" || pol == corev1.DNSClusterFirst {
				r.add(Finding{Code: "dns-service-missing", Severity: Warning,
					Message:  fmt.Sprintf("no cluster DNS Service (kube-system/kube-dns or coredns) is in the bundle, yet pods such as %s use dnsPolicy ClusterFirst: their names will not resolve (unless the bundle left it out)", p.Key()),
					Evidence: []Evidence{object("pod", p.Key(), p.Pos)},
					Fix:      "deploy the cluster DNS (CoreDNS) with its kube-system/kube-dns Service, or collect kube-system's Services"})
				return
			}
		}
		return
	}
	eps, _ := r.c.ServiceEndpoints(svc)
	ready := 0
	for _, ep := range eps {
		if ep.Ready {
			ready++
		}
	}
	if ready > 0 {
		return
	}
	what := "no endpoints"
	if len(eps) > 0 {
		what = fmt.Sprintf("no ready endpoints (%d not ready)", len(eps))
	}
	r.add(Finding{Code: "dns-no-endpoints", Severity: Error,
		Message:  fmt.Sprintf("the cluster DNS Service %s has %s: no pod using ClusterFirst can resolve names", svc.Key(), what),
		Evidence: []Evidence{object("service", svc.Key(), svc.Pos)},
		Fix:      "check the CoreDNS deployment in kube-system (its pods, their readiness, the Service's selector)"})
}
