package cluster

import "k8s.io/apimachinery/pkg/runtime/schema"

// Resource is one kind of API object the cluster part lists, and the bundle file it
// goes to.
type Resource struct {
	File string // under cluster/
	GVR  schema.GroupVersionResource
	// Optional resources are listed only when discovery says the server serves them
	// (AdminNetworkPolicy, CNI policy CRDs); the others are always tried.
	Optional bool
}

// String names the resource as RBAC does: "networkpolicies.networking.k8s.io", "pods".
func (r Resource) String() string { return resourceName(r.GVR) }

func resourceName(gvr schema.GroupVersionResource) string {
	if gvr.Group == "" {
		return gvr.Resource
	}
	return gvr.Resource + "." + gvr.Group
}

func gvr(group, version, resource string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: group, Version: version, Resource: resource}
}

// Resources are the lists the cluster part collects, in the order they are reported.
// Secrets are never among them; ConfigMaps are read one by one by name (NetworkConfigMaps).
var Resources = []Resource{
	{File: "namespaces.yaml", GVR: gvr("", "v1", "namespaces")},
	{File: "nodes.yaml", GVR: gvr("", "v1", "nodes")},
	{File: "pods.yaml", GVR: gvr("", "v1", "pods")},
	{File: "services.yaml", GVR: gvr("", "v1", "services")},
	{File: "endpointslices.yaml", GVR: gvr("discovery.k8s.io", "v1", "endpointslices")},
	{File: "endpoints.yaml", GVR: gvr("", "v1", "endpoints")},
	{File: "networkpolicies.yaml", GVR: gvr("networking.k8s.io", "v1", "networkpolicies")},
	{File: "servicecidrs.yaml", GVR: gvr("networking.k8s.io", "v1", "servicecidrs"), Optional: true},
	{File: "adminnetworkpolicies.yaml", GVR: gvr("policy.networking.k8s.io", "v1alpha1", "adminnetworkpolicies"), Optional: true},
	{File: "baselineadminnetworkpolicies.yaml", GVR: gvr("policy.networking.k8s.io", "v1alpha1", "baselineadminnetworkpolicies"), Optional: true},
	// Calico: the CRDs it stores its policy in, and the projectcalico.org/v3 API its own
	// API server serves (the same policies seen through it, when it is installed).
	{File: "calico-networkpolicies.yaml", GVR: gvr("crd.projectcalico.org", "v1", "networkpolicies"), Optional: true},
	{File: "calico-globalnetworkpolicies.yaml", GVR: gvr("crd.projectcalico.org", "v1", "globalnetworkpolicies"), Optional: true},
	{File: "calico-v3-networkpolicies.yaml", GVR: gvr("projectcalico.org", "v3", "networkpolicies"), Optional: true},
	{File: "calico-v3-globalnetworkpolicies.yaml", GVR: gvr("projectcalico.org", "v3", "globalnetworkpolicies"), Optional: true},
	{File: "cilium-networkpolicies.yaml", GVR: gvr("cilium.io", "v2", "ciliumnetworkpolicies"), Optional: true},
	{File: "cilium-clusterwide-networkpolicies.yaml", GVR: gvr("cilium.io", "v2", "ciliumclusterwidenetworkpolicies"), Optional: true},
}

// ConfigMapRef names one ConfigMap the cluster part reads.
type ConfigMapRef struct {
	Namespace, Name string
	// Keep says the ConfigMap goes into the bundle; the others are read for one value
	// (the cluster domain) and left out.
	Keep bool
}

// NetworkConfigMaps are the only ConfigMaps read: kube-proxy's configuration, the cluster
// DNS's, ip-masq-agent's and the CNI's, plus kubeadm's kubelet configuration for the
// cluster domain alone. No other ConfigMap's data leaves the cluster.
var NetworkConfigMaps = []ConfigMapRef{
	{"kube-system", "kube-proxy", true},
	{"kube-system", "coredns", true},
	{"kube-system", "kube-dns", true},
	{"kube-system", "ip-masq-agent", true},
	{"kube-system", "kube-flannel-cfg", true},
	{"kube-flannel", "kube-flannel-cfg", true},
	{"kube-system", "calico-config", true},
	{"kube-system", "cilium-config", true},
	{"kube-system", "kubelet-config", false},
}
