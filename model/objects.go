// Package model is the typed, indexed view of a bundle: the cluster's API objects with
// indexes for the lookups a trace makes, and each node's dataplane state, read the first
// time something needs that node.
package model

import (
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	anpv1alpha1 "sigs.k8s.io/network-policy-api/apis/v1alpha1"

	"github.com/netsim/netsim/model/source"
)

// Pod is a Pod object with its parsed addresses and where it was read.
type Pod struct {
	*corev1.Pod
	IPs []netip.Addr
	Pos source.Pos
}

// Key is "namespace/name".
func (p *Pod) Key() string { return p.Namespace + "/" + p.Name }

// HostNetwork reports whether the pod shares its node's network namespace.
func (p *Pod) HostNetwork() bool { return p.Spec.HostNetwork }

// Ready reports the pod's Ready condition.
func (p *Pod) Ready() bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// Terminal reports whether the pod has finished (its IP may already belong to another pod).
func (p *Pod) Terminal() bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// Node is a Node object with its parsed addresses and pod CIDRs.
type Node struct {
	*corev1.Node
	Addrs    []netip.Addr   // InternalIP and ExternalIP addresses
	PodCIDRs []netip.Prefix // spec.podCIDRs (or podCIDR)
	Pos      source.Pos
}

// InternalIPs lists the node's InternalIP addresses.
func (n *Node) InternalIPs() []netip.Addr {
	var out []netip.Addr
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			if ip, err := netip.ParseAddr(a.Address); err == nil {
				out = append(out, ip.Unmap())
			}
		}
	}
	return out
}

// Service is a Service object with its parsed cluster IPs.
type Service struct {
	*corev1.Service
	ClusterIPs []netip.Addr
	Pos        source.Pos
}

// Key is "namespace/name".
func (s *Service) Key() string { return s.Namespace + "/" + s.Name }

// Headless reports whether the Service has no cluster IP.
func (s *Service) Headless() bool { return s.Spec.ClusterIP == corev1.ClusterIPNone }

// EndpointSlice is an EndpointSlice object and where it was read.
type EndpointSlice struct {
	*discoveryv1.EndpointSlice
	Pos source.Pos
}

// Endpoints is a (legacy) Endpoints object and where it was read.
type Endpoints struct {
	*corev1.Endpoints
	Pos source.Pos
}

// Namespace is a Namespace object and where it was read.
type Namespace struct {
	*corev1.Namespace
	Pos source.Pos
}

// NetworkPolicy is a NetworkPolicy object and where it was read.
type NetworkPolicy struct {
	*networkingv1.NetworkPolicy
	Pos source.Pos
}

// AdminNetworkPolicy is an AdminNetworkPolicy (policy.networking.k8s.io/v1alpha1).
type AdminNetworkPolicy struct {
	*anpv1alpha1.AdminNetworkPolicy
	Pos source.Pos
}

// BaselineAdminNetworkPolicy is the cluster's BaselineAdminNetworkPolicy.
type BaselineAdminNetworkPolicy struct {
	*anpv1alpha1.BaselineAdminNetworkPolicy
	Pos source.Pos
}

// ServiceCIDR is a ServiceCIDR object (networking.k8s.io/v1).
type ServiceCIDR struct {
	*networkingv1.ServiceCIDR
	Pos source.Pos
}

// ConfigMap is a ConfigMap object (the bundle holds only the network ones: kube-proxy's,
// the cluster DNS's, ip-masq-agent's).
type ConfigMap struct {
	*corev1.ConfigMap
	Pos source.Pos
}

// Endpoint is one address serving a Service, from an EndpointSlice (or Endpoints).
type Endpoint struct {
	Addr        netip.Addr
	Ready       bool
	Serving     bool
	Terminating bool
	NodeName    string
	Hostname    string
	Zone        string
	// Pod is "namespace/name" of the backing pod when the endpoint names one.
	Pod   string
	Ports []EndpointPort
	// Pos is the EndpointSlice (or Endpoints) object this endpoint was read from.
	Pos source.Pos
}

// EndpointPort is a named port of an endpoint.
type EndpointPort struct {
	Name     string
	Port     int32
	Protocol corev1.Protocol
}

// ServiceIPKind tells which of a Service's addresses an IP is.
type ServiceIPKind string

// The kinds of Service address.
const (
	ClusterIP      ServiceIPKind = "clusterIP"
	ExternalIP     ServiceIPKind = "externalIP"
	LoadBalancerIP ServiceIPKind = "loadBalancerIP"
)

// ServiceIP is a Service reached through one of its addresses.
type ServiceIP struct {
	Service *Service
	Kind    ServiceIPKind
}

// NodePort is a Service port exposed on every node's addresses.
type NodePort struct {
	Service *Service
	Port    *corev1.ServicePort
}
