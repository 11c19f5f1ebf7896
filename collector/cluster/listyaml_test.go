package cluster

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/netsim/netsim/model/kube"
	"github.com/netsim/netsim/model/source"
)

// TestListYAMLReadsBack renders Lists and reads them with the model's decoder: the kinds,
// the values (numbers, "true"-like strings, multi-line text) and the positions survive.
func TestListYAMLReadsBack(t *testing.T) {
	pod := func(i int) map[string]any {
		return map[string]any{"apiVersion": "v1", "kind": "Pod",
			"metadata": map[string]any{"name": fmt.Sprintf("p%d", i), "namespace": "default", "labels": map[string]any{"on": "true", "v": "1.10"}},
			"spec": map[string]any{"nodeName": "n1", "containers": []any{map[string]any{"name": "c", "ports": []any{map[string]any{"containerPort": int64(8080)}},
				"args": []any{"line one\nline two"}}}},
			"status": map[string]any{"podIP": "10.244.1.5"}}
	}
	cm := map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "coredns", "namespace": "kube-system"},
		"data": map[string]any{"Corefile": ".:53 {\n    kubernetes cluster.local\n}\n"}}
	for _, c := range []struct {
		name  string
		items []map[string]any
	}{{"empty", nil}, {"pods", []map[string]any{pod(0), pod(1), pod(2)}}, {"configmap", []map[string]any{cm}}} {
		t.Run(c.name, func(t *testing.T) {
			data, err := ListYAML(c.items)
			if err != nil {
				t.Fatal(err)
			}
			objs, errs := kube.Decode(source.NewFile("cluster/x.yaml", data))
			if len(errs) > 0 || len(objs) != len(c.items) {
				t.Fatalf("%d objects, errors %v, from\n%s", len(objs), errs, data)
			}
			for i, o := range objs {
				switch x := o.Obj.(type) {
				case *corev1.Pod:
					if x.Name != fmt.Sprintf("p%d", i) || x.Labels["on"] != "true" || x.Labels["v"] != "1.10" ||
						x.Spec.Containers[0].Ports[0].ContainerPort != 8080 || x.Spec.Containers[0].Args[0] != "line one\nline two" || x.Status.PodIP != "10.244.1.5" {
						t.Errorf("pod %d read back as %+v", i, x)
					}
				case *corev1.ConfigMap:
					if x.Data["Corefile"] != cm["data"].(map[string]any)["Corefile"] {
						t.Errorf("Corefile read back as %q", x.Data["Corefile"])
					}
				default:
					t.Errorf("object %d is a %T", i, o.Obj)
				}
				if o.Pos.Line == 0 {
					t.Errorf("object %d has no line", i)
				}
			}
		})
	}
}
