package testbed

import (
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	clientscheme "k8s.io/client-go/kubernetes/scheme"
)

// metaExtract turns a typed list into its items as plain maps with apiVersion and kind set.
func metaExtract(list runtime.Object) ([]any, error) {
	objs, err := meta.ExtractList(list)
	if err != nil {
		return nil, err
	}
	var out []any
	for _, o := range objs {
		gvks, _, err := clientscheme.Scheme.ObjectKinds(o)
		if err != nil {
			return nil, err
		}
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
		if err != nil {
			return nil, err
		}
		m["apiVersion"], m["kind"] = gvks[0].GroupVersion().String(), gvks[0].Kind
		if md, ok := m["metadata"].(map[string]any); ok {
			delete(md, "managedFields")
			if ann, ok := md["annotations"].(map[string]any); ok {
				for k := range ann {
					if strings.HasPrefix(k, "kubectl.kubernetes.io/last-applied") {
						delete(ann, k)
					}
				}
			}
		}
		out = append(out, m)
	}
	return out, nil
}
