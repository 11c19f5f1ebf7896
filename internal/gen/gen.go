// Package gen writes large synthetic bundles for benchmarks: realistic objects (as
// `kubectl get -o json` prints them) in the numbers of a big cluster.
package gen

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Size says how big a cluster to generate.
type Size struct {
	Nodes, Pods, Services, Namespaces int
}

// PodIP is the address of the i-th pod in a cluster of this size: inside its node's pod
// CIDR (pod i runs on node i mod Nodes), as a CNI's IPAM would give it.
func (s Size) PodIP(i int) netip.Addr {
	n, k := i%s.Nodes, i/s.Nodes
	return netip.AddrFrom4([4]byte{10, byte(64 + n/256), byte(n % 256), byte(k + 2)})
}

// NodeIP is the address of the i-th generated node.
func NodeIP(i int) netip.Addr { return netip.AddrFrom4([4]byte{172, 16, byte(i / 256), byte(i % 256)}) }

// ServiceIP is the cluster IP of the i-th generated Service.
func ServiceIP(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, 96, byte(i / 256), byte(i % 256)})
}

func list(kind string, items any) map[string]any {
	return map[string]any{"apiVersion": "v1", "kind": "List", "metadata": map[string]any{"resourceVersion": ""}, "items": items}
}

func write(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "    ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

// Write generates a bundle of the given size into dir.
func Write(dir string, s Size) error {
	for _, d := range []string{"cluster", "nodes"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest.yaml"), []byte("format: netsim-bundle/v1\ncluster: generated\nsource: collect\n"), 0o644); err != nil {
		return err
	}
	now := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	var nodes []corev1.Node
	for i := 0; i < s.Nodes; i++ {
		name := fmt.Sprintf("node-%05d", i)
		nodes = append(nodes, corev1.Node{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Node"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "topology.kubernetes.io/zone": fmt.Sprintf("zone-%d", i%3)}},
			Spec:       corev1.NodeSpec{PodCIDR: fmt.Sprintf("10.%d.%d.0/24", 64+i/256, i%256), ProviderID: "aws:///zone/i-" + name},
			Status: corev1.NodeStatus{
				Addresses:  []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: NodeIP(i).String()}, {Type: corev1.NodeHostName, Address: name}},
				Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: now, LastTransitionTime: now, Reason: "KubeletReady"}},
				NodeInfo:   corev1.NodeSystemInfo{KubeletVersion: "v1.34.4", ContainerRuntimeVersion: "containerd://2.0.0", KernelVersion: "6.1.0", OSImage: "Debian 12"},
			},
		})
		nd := filepath.Join(dir, "nodes", name)
		if err := os.MkdirAll(nd, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(nd, "sysctl.txt"), []byte("net.ipv4.ip_forward = 1\n"), 0o644); err != nil {
			return err
		}
	}
	if err := write(filepath.Join(dir, "cluster", "nodes.json"), list("Node", nodes)); err != nil {
		return err
	}
	perNS := s.Pods / s.Namespaces
	for ns := 0; ns < s.Namespaces; ns++ {
		nsName := fmt.Sprintf("ns-%04d", ns)
		var pods []corev1.Pod
		for k := 0; k < perNS; k++ {
			i := ns*perNS + k
			app := fmt.Sprintf("app-%d", i%(s.Services/s.Namespaces+1))
			ip := s.PodIP(i).String()
			node := i % s.Nodes
			pods = append(pods, corev1.Pod{
				TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%06d", app, i), Namespace: nsName, UID: "00000000-0000-0000-0000-000000000000",
					Labels: map[string]string{"app": app, "pod-template-hash": "5d8f7c9b6"}, CreationTimestamp: now},
				Spec: corev1.PodSpec{NodeName: fmt.Sprintf("node-%05d", node), ServiceAccountName: "default", DNSPolicy: corev1.DNSClusterFirst,
					Containers: []corev1.Container{{Name: "app", Image: "registry.example/app:1.2.3",
						Ports:     []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}},
						Resources: corev1.ResourceRequirements{}}}},
				Status: corev1.PodStatus{Phase: corev1.PodRunning, HostIP: NodeIP(node).String(), PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}, StartTime: &now,
					Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
						{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
						{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now}},
					ContainerStatuses: []corev1.ContainerStatus{{Name: "app", Ready: true, Image: "registry.example/app:1.2.3", ImageID: "registry.example/app@sha256:0000",
						ContainerID: "containerd://0000", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}}}},
			})
		}
		if err := write(filepath.Join(dir, "cluster", "pods-"+nsName+".json"), list("Pod", pods)); err != nil {
			return err
		}
	}
	var svcs []corev1.Service
	var slices []discoveryv1.EndpointSlice
	perNSsvc := s.Services / s.Namespaces
	for i := 0; i < s.Services; i++ {
		ns := fmt.Sprintf("ns-%04d", i/perNSsvc)
		name := fmt.Sprintf("app-%d", i%perNSsvc)
		var nodePort int32
		if i < 2000 { // the node-port range holds 2,768
			nodePort = int32(30000 + i)
		}
		svcs = append(svcs, corev1.Service{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: corev1.ServiceSpec{ClusterIP: ServiceIP(i).String(), ClusterIPs: []string{ServiceIP(i).String()}, Selector: map[string]string{"app": name},
				Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP, NodePort: nodePort}}}})
		ready := true
		port, pname, proto := int32(8080), "http", corev1.ProtocolTCP
		var eps []discoveryv1.Endpoint
		for k := 0; k < 3; k++ {
			eps = append(eps, discoveryv1.Endpoint{Addresses: []string{s.PodIP(i*3 + k).String()}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}})
		}
		slices = append(slices, discoveryv1.EndpointSlice{TypeMeta: metav1.TypeMeta{APIVersion: "discovery.k8s.io/v1", Kind: "EndpointSlice"},
			ObjectMeta:  metav1.ObjectMeta{Name: name + "-abcde", Namespace: ns, Labels: map[string]string{discoveryv1.LabelServiceName: name}},
			AddressType: discoveryv1.AddressTypeIPv4, Endpoints: eps, Ports: []discoveryv1.EndpointPort{{Name: &pname, Port: &port, Protocol: &proto}}})
	}
	if err := write(filepath.Join(dir, "cluster", "services.json"), list("Service", svcs)); err != nil {
		return err
	}
	return write(filepath.Join(dir, "cluster", "endpointslices.json"), list("EndpointSlice", slices))
}
