package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	v1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// world is the cluster's API objects a scenario starts from and changes.
type world struct {
	svcs   []*v1.Service
	slices []*discovery.EndpointSlice
	pods   []*v1.Pod
}

func readList[T any](path string) ([]*T, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var list struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := yaml.Unmarshal(data, &list); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []*T
	for _, it := range list.Items {
		v := new(T)
		if err := json.Unmarshal(it, v); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, v)
	}
	return out, nil
}

func readWorld(base string) (*world, error) {
	w := &world{}
	var err error
	if w.svcs, err = readList[v1.Service](filepath.Join(base, "cluster/services.yaml")); err != nil {
		return nil, err
	}
	if w.slices, err = readList[discovery.EndpointSlice](filepath.Join(base, "cluster/endpointslices.yaml")); err != nil {
		return nil, err
	}
	if w.pods, err = readList[v1.Pod](filepath.Join(base, "cluster/pods.yaml")); err != nil {
		return nil, err
	}
	return w, nil
}

func writeList[T any](path, apiVersion, kind string, items []*T) error {
	var raw []any
	for _, it := range items {
		b, err := json.Marshal(it)
		if err != nil {
			return err
		}
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		m["apiVersion"], m["kind"] = apiVersion, kind
		raw = append(raw, m)
	}
	out, err := yaml.Marshal(map[string]any{"apiVersion": "v1", "kind": "List", "items": raw})
	if err != nil {
		return err
	}
	return os.WriteFile(path, out, 0o644)
}

func (w *world) write(dir string) error {
	if err := writeList(filepath.Join(dir, "cluster/services.yaml"), "v1", "Service", w.svcs); err != nil {
		return err
	}
	if err := writeList(filepath.Join(dir, "cluster/endpointslices.yaml"), "discovery.k8s.io/v1", "EndpointSlice", w.slices); err != nil {
		return err
	}
	return writeList(filepath.Join(dir, "cluster/pods.yaml"), "v1", "Pod", w.pods)
}

func (w *world) clone() *world {
	n := &world{}
	for _, s := range w.svcs {
		n.svcs = append(n.svcs, s.DeepCopy())
	}
	for _, s := range w.slices {
		n.slices = append(n.slices, s.DeepCopy())
	}
	for _, p := range w.pods {
		n.pods = append(n.pods, p.DeepCopy())
	}
	return n
}

func (w *world) pod(name string) *v1.Pod {
	for _, p := range w.pods {
		if p.Name == name {
			return p
		}
	}
	return nil
}

func (w *world) svc(name string) *v1.Service {
	for _, s := range w.svcs {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// sliceOf returns the Service's EndpointSlice.
func (w *world) sliceOf(name string) *discovery.EndpointSlice {
	for _, s := range w.slices {
		if s.Labels[discovery.LabelServiceName] == name {
			return s
		}
	}
	return nil
}

// addService adds a Service and the EndpointSlice the endpointslice controller would
// make for it from the pods its selector matches (ready, serving).
func (w *world) addService(s *v1.Service) {
	s.Namespace = "default"
	if s.Spec.Type == "" {
		s.Spec.Type = v1.ServiceTypeClusterIP
	}
	s.Spec.ClusterIPs = []string{s.Spec.ClusterIP}
	s.Spec.IPFamilies = []v1.IPFamily{v1.IPv4Protocol}
	s.UID = types.UID("uid-" + s.Name)
	w.svcs = append(w.svcs, s)
	sl := &discovery.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: s.Name + "-ipvs", Namespace: "default", Labels: map[string]string{discovery.LabelServiceName: s.Name}},
		AddressType: discovery.AddressTypeIPv4,
	}
	var names []string
	for _, p := range w.pods {
		if p.Namespace == "default" && len(s.Spec.Selector) > 0 && matches(s.Spec.Selector, p.Labels) {
			names = append(names, p.Name)
		}
	}
	sort.Strings(names)
	t := true
	for _, n := range names {
		p := w.pod(n)
		node := p.Spec.NodeName
		sl.Endpoints = append(sl.Endpoints, discovery.Endpoint{Addresses: []string{p.Status.PodIP}, NodeName: &node,
			Conditions: discovery.EndpointConditions{Ready: &t, Serving: &t, Terminating: new(bool)},
			TargetRef:  &v1.ObjectReference{Kind: "Pod", Namespace: "default", Name: p.Name}})
	}
	for _, sp := range s.Spec.Ports {
		port := targetPort(sp.TargetPort, w.pods, names)
		name, proto := sp.Name, sp.Protocol
		sl.Ports = append(sl.Ports, discovery.EndpointPort{Name: &name, Protocol: &proto, Port: &port})
	}
	w.slices = append(w.slices, sl)
}

func targetPort(tp intstr.IntOrString, pods []*v1.Pod, names []string) int32 {
	if tp.Type == intstr.Int {
		return tp.IntVal
	}
	for _, p := range pods {
		for _, c := range p.Spec.Containers {
			for _, cp := range c.Ports {
				if cp.Name == tp.StrVal {
					return cp.ContainerPort
				}
			}
		}
	}
	return 0
}

func matches(sel, labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}
