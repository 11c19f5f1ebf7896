package diagnose

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/netsim/netsim/model"
)

// protoPort is a transport protocol (lower case: tcp, udp, sctp) and a port.
type protoPort struct {
	proto string
	port  int32
}

// expect is a Service port that a pod, as one of its ready endpoints, must listen on.
type expect struct {
	svc      *model.Service
	portName string
	pp       protoPort
	// declared: the pod declares this port among its containers' ports, so the objects
	// agree with each other that the pod serves it.
	declared bool
	ep       model.Endpoint
}

func lower(p corev1.Protocol) string {
	if p == "" {
		return "tcp"
	}
	return strings.ToLower(string(p))
}

// declares reports whether a pod's containers declare a port number on a protocol.
func declares(p *model.Pod, pp protoPort) bool {
	for _, c := range p.Spec.Containers {
		for _, cp := range c.Ports {
			if cp.ContainerPort == pp.port && lower(cp.Protocol) == pp.proto {
				return true
			}
		}
	}
	return false
}

// declaresAny reports whether a pod declares container ports at all (many do not: the
// declaration is informational).
func declaresAny(p *model.Pod) bool {
	for _, c := range p.Spec.Containers {
		if len(c.Ports) > 0 {
			return true
		}
	}
	return false
}

// endpointExpectations maps each pod to the Service ports it serves as a ready endpoint,
// and collects every port pods serve. Linear in endpoints and pods.
func endpointExpectations(c *model.Cluster) (map[string][]expect, map[protoPort]bool) {
	out := map[string][]expect{}
	ports := map[protoPort]bool{}
	for _, p := range c.Pods {
		for _, ct := range p.Spec.Containers {
			for _, cp := range ct.Ports {
				ports[protoPort{lower(cp.Protocol), cp.ContainerPort}] = true
			}
		}
	}
	for _, svc := range c.Services {
		if svc.Spec.Type == corev1.ServiceTypeExternalName {
			continue
		}
		eps, _ := c.ServiceEndpoints(svc)
		for _, ep := range eps {
			for _, epp := range ep.Ports {
				pp := protoPort{lower(epp.Protocol), epp.Port}
				ports[pp] = true
				if ep.Pod == "" || !ep.Ready {
					continue
				}
				e := expect{svc: svc, portName: epp.Name, pp: pp, ep: ep}
				if pod := c.Pod(splitKey(ep.Pod)); pod != nil {
					e.declared = declares(pod, pp) || namedTarget(svc, epp.Name)
				}
				out[ep.Pod] = append(out[ep.Pod], e)
			}
		}
	}
	return out, ports
}

// namedTarget reports whether the Service port named name targets a container port by
// name: the endpoints controller resolved it from the pod's own declaration.
func namedTarget(svc *model.Service, name string) bool {
	for _, sp := range svc.Spec.Ports {
		if sp.Name == name {
			return sp.TargetPort.StrVal != "" && sp.TargetPort.IntVal == 0
		}
	}
	return false
}

func splitKey(k string) (string, string) {
	ns, name, _ := strings.Cut(k, "/")
	return ns, name
}

// checkServices finds Services without endpoints, with endpoints that are not ready, and
// whose targetPort matches no port their pods declare (FIELD-GUIDE 11, 12, 13).
func (r *run) checkServices() {
	for _, svc := range r.c.Services {
		if svc.Spec.Type == corev1.ServiceTypeExternalName || len(svc.Spec.Selector) == 0 {
			continue
		}
		ev := object("service", svc.Key(), svc.Pos)
		eps, _ := r.c.ServiceEndpoints(svc)
		if len(eps) == 0 {
			r.add(Finding{Code: "service-no-endpoints", Severity: Warning,
				Message:  fmt.Sprintf("Service %s has no endpoints: %s; kube-proxy rejects connections to it", svc.Key(), r.whyNoEndpoints(svc)),
				Evidence: []Evidence{ev},
				Fix:      "check the Service's selector against the pods' labels, and that the pods run and are ready (or scale the workload up)"})
			continue
		}
		var notReady []string
		evs := []Evidence{ev}
		for _, ep := range eps {
			if ep.Ready {
				continue
			}
			name := ep.Addr.String()
			if ep.Pod != "" {
				name = "pod " + ep.Pod + " (" + ep.Addr.String() + ")"
			}
			notReady = append(notReady, name)
			if len(evs) < 4 {
				evs = append(evs, at(ep.Pos, ""))
			}
		}
		sort.Strings(notReady)
		notReady = dedup(notReady)
		if len(notReady) > 0 {
			code, what := "endpoint-not-ready", "some endpoints are"
			if len(notReady) == len(dedupAddrs(eps)) {
				code, what = "service-no-ready-endpoints", "every endpoint is"
			}
			r.add(Finding{Code: code, Severity: Warning,
				Message:  fmt.Sprintf("Service %s: %s not ready, so kube-proxy sends them no traffic: %s", svc.Key(), what, listSome(notReady, 5)),
				Evidence: evs,
				Fix:      "see why the pods are not ready (kubectl describe pod: readiness probe, container state)"})
		}
		r.checkTargetPorts(svc, eps)
	}
}

// checkTargetPorts reports Service ports whose numeric targetPort no endpoint pod declares,
// while those pods do declare other ports (FIELD-GUIDE 12).
func (r *run) checkTargetPorts(svc *model.Service, eps []model.Endpoint) {
	for _, sp := range svc.Spec.Ports {
		if sp.TargetPort.StrVal != "" && sp.TargetPort.IntVal == 0 {
			continue // by name: the endpoints controller resolved it, or left the pod out
		}
		num := sp.TargetPort.IntVal
		if num == 0 {
			num = sp.Port
		}
		pp := protoPort{lower(sp.Protocol), num}
		var pods []*model.Pod
		seen := map[string]bool{}
		for _, ep := range eps {
			if ep.Pod == "" || seen[ep.Pod] {
				continue
			}
			seen[ep.Pod] = true
			if p := r.c.Pod(splitKey(ep.Pod)); p != nil && declaresAny(p) {
				pods = append(pods, p)
			}
		}
		if len(pods) == 0 {
			continue
		}
		var have []string
		for _, p := range pods {
			if declares(p, pp) {
				have = nil
				break
			}
			for _, c := range p.Spec.Containers {
				for _, cp := range c.Ports {
					have = append(have, fmt.Sprintf("%d/%s", cp.ContainerPort, lower(cp.Protocol)))
				}
			}
		}
		if have == nil {
			continue
		}
		sort.Strings(have)
		have = dedup(have)
		r.add(Finding{Code: "service-targetport-mismatch", Severity: Warning,
			Message: fmt.Sprintf("Service %s port %d/%s targets port %d, which none of its %d endpoint pods declares (they declare %s): connections reach the pods on a port they may not listen on",
				svc.Key(), sp.Port, pp.proto, num, len(pods), listSome(have, 5)),
			Evidence: []Evidence{object("service", svc.Key(), svc.Pos), object("pod", pods[0].Key(), pods[0].Pos)},
			Fix:      "set the Service's targetPort to the port the container listens on (or to its port's name)"})
	}
}

// whyNoEndpoints explains, from the Service's selector and the namespace's pods, why the
// endpoints controller found nothing.
func (r *run) whyNoEndpoints(svc *model.Service) string {
	sel := labels.SelectorFromSet(svc.Spec.Selector)
	var selected []*model.Pod
	for _, p := range r.c.PodsInNamespace(svc.Namespace) {
		if sel.Matches(labels.Set(p.Labels)) && !p.Terminal() {
			selected = append(selected, p)
		}
	}
	if len(selected) == 0 {
		return fmt.Sprintf("its selector %s matches no running pod in namespace %s", sel.String(), svc.Namespace)
	}
	for _, sp := range svc.Spec.Ports {
		if name := sp.TargetPort.StrVal; name != "" && sp.TargetPort.IntVal == 0 {
			found := false
			for _, p := range selected {
				for _, c := range p.Spec.Containers {
					for _, cp := range c.Ports {
						found = found || cp.Name == name
					}
				}
			}
			if !found {
				return fmt.Sprintf("its targetPort %q is a port name that none of the %d selected pods declares", name, len(selected))
			}
		}
	}
	ready := 0
	for _, p := range selected {
		if p.Ready() {
			ready++
		}
	}
	if ready == 0 {
		return fmt.Sprintf("none of the %d pods its selector %s matches is ready", len(selected), sel.String())
	}
	return fmt.Sprintf("its selector %s matches %d pods, but the bundle holds no EndpointSlice for it (is the endpoints controller running?)", sel.String(), len(selected))
}

func dedup(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

func dedupAddrs(eps []model.Endpoint) []string {
	var out []string
	for _, ep := range eps {
		out = append(out, ep.Addr.String())
	}
	sort.Strings(out)
	return dedup(out)
}
