package simulate

import (
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"

	"github.com/netsim/netsim/rules/packet"
)

// DNSCheck is the path from a pod to one of its nameservers, on UDP and TCP port 53.
type DNSCheck struct {
	Policy     string     // the pod's dnsPolicy (ClusterFirst when unset)
	Nameserver netip.Addr // invalid when none could be found
	How        string     // where the nameserver comes from
	// Problem is set when the pod's resolver has no usable nameserver, or the bundle cannot
	// say which it is; Unknown tells the second case from the first.
	Problem  string
	Unknown  bool
	UDP, TCP *Result
}

// clusterDNS finds the cluster DNS Service: kube-system/kube-dns by convention, else a
// kube-system Service labelled k8s-app=kube-dns, else one named coredns.
func (s *Simulator) clusterDNS() (netip.Addr, string) {
	if svc := s.C.Service("kube-system", "kube-dns"); svc != nil && len(svc.ClusterIPs) > 0 {
		return svc.ClusterIPs[0], "the cluster DNS Service kube-system/kube-dns"
	}
	for _, svc := range s.C.Services {
		if svc.Namespace == "kube-system" && (svc.Labels["k8s-app"] == "kube-dns" || svc.Name == "coredns") && len(svc.ClusterIPs) > 0 {
			return svc.ClusterIPs[0], "the cluster DNS Service " + svc.Key()
		}
	}
	return netip.Addr{}, ""
}

// DNS traces the source pod's way to its nameservers (dnsPolicy and dnsConfig as the
// kubelet applies them), on UDP and TCP 53.
func (s *Simulator) DNS(src Endpoint) ([]DNSCheck, error) {
	if src.Kind != PodEndpoint {
		return []DNSCheck{{Problem: src.Name + " is not a pod: its resolver is the node's /etc/resolv.conf, which the bundle does not hold", Unknown: true}}, nil
	}
	ns, name, _ := cutKey(src.Pod)
	pod := s.C.Pod(ns, name)
	policy := pod.Spec.DNSPolicy
	if policy == "" {
		policy = corev1.DNSClusterFirst
	}
	var servers []netip.Addr
	var hows []string
	useCluster := policy == corev1.DNSClusterFirst && !pod.HostNetwork() || policy == corev1.DNSClusterFirstWithHostNet
	switch {
	case useCluster:
		a, how := s.clusterDNS()
		if !a.IsValid() {
			return []DNSCheck{{Policy: string(policy), Problem: fmt.Sprintf("dnsPolicy %s sends queries to the cluster DNS Service, and the bundle has none (kube-system/kube-dns): names do not resolve", policy)}}, nil
		}
		servers, hows = append(servers, a), append(hows, how)
	case policy == corev1.DNSNone:
	default:
		// Default, or ClusterFirst on a host-network pod: the node's resolv.conf.
		return []DNSCheck{{Policy: string(policy), Unknown: true, Problem: fmt.Sprintf("dnsPolicy %s uses node %s's /etc/resolv.conf, which the bundle does not hold", policy, pod.Spec.NodeName)}}, nil
	}
	if pod.Spec.DNSConfig != nil {
		for _, n := range pod.Spec.DNSConfig.Nameservers {
			if a, err := netip.ParseAddr(n); err == nil {
				servers, hows = append(servers, a), append(hows, "the pod's dnsConfig.nameservers")
			}
		}
	}
	if len(servers) == 0 {
		return []DNSCheck{{Policy: string(policy), Problem: "dnsPolicy None without dnsConfig.nameservers: the pod has no nameserver"}}, nil
	}
	if len(servers) > 3 {
		servers, hows = servers[:3], hows[:3] // the resolver uses three
	}
	var out []DNSCheck
	for i, a := range servers {
		c := DNSCheck{Policy: string(policy), Nameserver: a, How: hows[i]}
		dst := resolveAddr(s.C, a)
		var err error
		if c.UDP, err = s.Trace(Query{Src: src, Dst: dst, Port: 53, Proto: packet.UDP}); err != nil {
			return nil, err
		}
		if c.TCP, err = s.Trace(Query{Src: src, Dst: dst, Port: 53, Proto: packet.TCP}); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func cutKey(k string) (string, string, bool) {
	for i := 0; i < len(k); i++ {
		if k[i] == '/' {
			return k[:i], k[i+1:], true
		}
	}
	return "", k, false
}
