package main

import (
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// scenario is one bundle: how the cluster's objects change, and what happened on a node.
type scenario struct {
	name string
	// objects changes the API objects every node's kube-proxy sees.
	objects func(w *world)
	// node, when set, runs instead of a plain sync for that node: it may feed the
	// proxier an older view (kube-proxy lagging), sync twice (endpoints removed while
	// connections are active), or change settings.
	node map[string]func(np *nodeProxy, w *world) (*world, error)
	// sysctl overrides net.* settings written to a node's sysctl.txt.
	sysctl map[string]map[string]string
}

// services adds the Service kinds ipvs mode treats differently to the testbed's
// (echo: ClusterIP; echo-np: NodePort; kubernetes; noep: no endpoints).
func services(w *world) {
	if p := w.pod("pod2a"); p != nil {
		p.Labels["site"] = "b"
	}
	port := func(p, target int32) []v1.ServicePort {
		return []v1.ServicePort{{Name: "http", Protocol: v1.ProtocolTCP, Port: p, TargetPort: intstr.FromInt32(target)}}
	}
	sel := map[string]string{"app": "echo"}
	lb := &v1.Service{Spec: v1.ServiceSpec{Type: v1.ServiceTypeLoadBalancer, ClusterIP: "10.96.200.10", Selector: sel, Ports: port(80, 8080),
		ExternalTrafficPolicy: v1.ServiceExternalTrafficPolicyCluster}}
	lb.Name = "echo-lb"
	lb.Spec.Ports[0].NodePort = 30081
	lb.Status.LoadBalancer.Ingress = []v1.LoadBalancerIngress{{IP: "192.0.2.10"}}
	w.addService(lb)

	ext := &v1.Service{Spec: v1.ServiceSpec{ClusterIP: "10.96.200.20", Selector: sel, Ports: port(80, 8080), ExternalIPs: []string{"192.0.2.20"}}}
	ext.Name = "echo-ext"
	w.addService(ext)

	local := &v1.Service{Spec: v1.ServiceSpec{Type: v1.ServiceTypeNodePort, ClusterIP: "10.96.200.30", Selector: map[string]string{"app": "echo", "site": "b"},
		Ports: port(80, 8080), ExternalTrafficPolicy: v1.ServiceExternalTrafficPolicyLocal}}
	local.Name = "echo-local"
	local.Spec.Ports[0].NodePort = 30082
	w.addService(local)

	aff := &v1.Service{Spec: v1.ServiceSpec{ClusterIP: "10.96.200.40", Selector: sel, Ports: port(80, 8080), SessionAffinity: v1.ServiceAffinityClientIP}}
	aff.Name = "echo-affinity"
	timeout := int32(10800)
	aff.Spec.SessionAffinityConfig = &v1.SessionAffinityConfig{ClientIP: &v1.ClientIPConfig{TimeoutSeconds: &timeout}}
	w.addService(aff)

	bad := &v1.Service{Spec: v1.ServiceSpec{ClusterIP: "10.96.200.50", Selector: sel, Ports: port(80, 9090)}}
	bad.Name = "echo-badport"
	w.addService(bad)
}

func scenarios() []scenario {
	return []scenario{
		{name: "two-node-ipvs", objects: services},
		{
			// kube-proxy on node2 stopped before pod1a was recreated: its IPVS state still
			// sends default/echo to the old pod's address.
			name:    "kube-proxy-stale",
			objects: services,
			node: map[string]func(*nodeProxy, *world) (*world, error){"node2": func(np *nodeProxy, w *world) (*world, error) {
				old := w.clone()
				for _, ep := range old.sliceOf("echo").Endpoints {
					if ep.Addresses[0] == "10.244.1.2" {
						ep.Addresses[0] = "10.244.1.9"
					}
				}
				return nil, np.apply(old.svcs, old.slices)
			}},
		},
		{
			// Both of default/echo's pods are being replaced: their endpoints left the
			// EndpointSlice while clients were still connected, so kube-proxy's graceful
			// termination keeps the real servers with weight 0 (drained). echo-np keeps one.
			name:    "drained",
			objects: services,
			node: map[string]func(*nodeProxy, *world) (*world, error){
				"node1": drain, "node2": drain,
			},
		},
		{
			// Someone set net.ipv4.vs.conntrack=0 on node1 after kube-proxy started.
			name: "vs-conntrack-off", objects: services,
			sysctl: map[string]map[string]string{"node1": {"net.ipv4.vs.conntrack": "0"}},
		},
	}
}

// drain syncs the whole view, then removes every endpoint of default/echo and echo-np's
// 10.244.1.2 while their real servers have active connections, and syncs again.
func drain(np *nodeProxy, w *world) (*world, error) {
	if err := np.apply(w.svcs, w.slices); err != nil {
		return nil, err
	}
	np.setActive(3)
	next := w.clone()
	next.sliceOf("echo").Endpoints = nil
	eps := next.sliceOf("echo-np").Endpoints[:0]
	for _, ep := range next.sliceOf("echo-np").Endpoints {
		if ep.Addresses[0] != "10.244.1.2" {
			eps = append(eps, ep)
		}
	}
	next.sliceOf("echo-np").Endpoints = eps
	return next, np.update(w.svcs, next.svcs, w.slices, next.slices)
}
