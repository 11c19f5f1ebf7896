package kube

import (
	stdjson "encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	anpv1alpha1 "sigs.k8s.io/network-policy-api/apis/v1alpha1"

	"github.com/netsim/netsim/internal/golden"
	"github.com/netsim/netsim/model/source"
)

// testdata/ holds real kubectl output from the e2e testbed (e2e/testbed_test.go,
// NETSIM_KUBECTL_FIXTURES): get -o yaml/json, cluster-info dump to stdout and to a directory.

func summarize(objs []Object) string {
	var b strings.Builder
	for _, o := range objs {
		m, _ := meta.Accessor(o.Obj)
		name := m.GetName()
		if ns := m.GetNamespace(); ns != "" {
			name = ns + "/" + name
		}
		typed := "typed"
		if !o.Known() {
			typed = "unstructured"
		}
		fmt.Fprintf(&b, "%s\t%s\t%s\t%s\n", o.Pos, o.GVK.Kind, name, typed)
	}
	return b.String()
}

func decodeFile(t *testing.T, path string) []Object {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rel, _ := filepath.Rel("testdata", path)
	objs, errs := Decode(source.NewFile(rel, data))
	if len(errs) > 0 {
		t.Fatalf("%s: %v", path, errs)
	}
	return objs
}

func TestDecodeKubectlOutput(t *testing.T) {
	for _, name := range []string{"get-all.yaml", "get-pods.json", "get-svc-echo.yaml", "cluster-info-dump.txt"} {
		t.Run(name, func(t *testing.T) {
			objs := decodeFile(t, filepath.Join("testdata", name))
			if len(objs) == 0 {
				t.Fatal("no objects")
			}
			golden.Check(t, filepath.Join("testdata", "golden", name+".golden"), []byte(summarize(objs)))
		})
	}
}

func TestDecodeClusterInfoDumpDir(t *testing.T) {
	var all []Object
	var files []string
	filepath.WalkDir("testdata/cluster-info-dump", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".json") {
			files = append(files, p)
		}
		return nil
	})
	sort.Strings(files)
	for _, f := range files {
		all = append(all, decodeFile(t, f)...)
	}
	golden.Check(t, "testdata/golden/cluster-info-dump-dir.golden", []byte(summarize(all)))
	pods := 0
	for _, o := range all {
		if p, ok := o.Obj.(*corev1.Pod); ok {
			pods++
			if p.Status.PodIP == "" {
				t.Errorf("pod %s decoded without its IP", p.Name)
			}
		}
	}
	if pods != 4 {
		t.Errorf("%d pods from the typed PodLists, want 4", pods)
	}
}

// TestPositions checks that each object's line is where the object starts.
func TestPositions(t *testing.T) {
	data, _ := os.ReadFile("testdata/get-all.yaml")
	f := source.NewFile("get-all.yaml", data)
	objs, _ := Decode(f)
	for _, o := range objs {
		if line := f.Line(o.Pos.Line); !strings.HasPrefix(strings.TrimSpace(line), "- ") {
			t.Errorf("%s %s: line %d is %q, not a list item", o.GVK.Kind, o.Pos, o.Pos.Line, line)
		}
	}
	data, _ = os.ReadFile("testdata/get-pods.json")
	f = source.NewFile("get-pods.json", data)
	objs, _ = Decode(f)
	for _, o := range objs {
		if line := strings.TrimSpace(f.Line(o.Pos.Line)); line != "{" {
			t.Errorf("%s %s: line %d is %q, not an object's start", o.GVK.Kind, o.Pos, o.Pos.Line, line)
		}
	}
}

func TestDecodeForms(t *testing.T) {
	anp := `apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata:
  name: deny-db
spec:
  priority: 10
  subject:
    namespaces: {matchLabels: {team: db}}
  ingress:
  - name: deny-all
    action: Deny
    from:
    - namespaces: {}
---
# a comment-only document
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: w, namespace: x}
spec: {size: 3}
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: BaselineAdminNetworkPolicy
metadata: {name: default}
spec:
  subject: {namespaces: {}}
  egress:
  - action: Deny
    to: [{networks: ["0.0.0.0/0"]}]
`
	objs, errs := Decode(source.NewFile("p.yaml", []byte(anp)))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if len(objs) != 3 {
		t.Fatalf("%d objects, want 3", len(objs))
	}
	a, ok := objs[0].Obj.(*anpv1alpha1.AdminNetworkPolicy)
	if !ok || a.Spec.Priority != 10 || a.Spec.Ingress[0].Action != anpv1alpha1.AdminNetworkPolicyRuleActionDeny {
		t.Errorf("ANP not typed: %#v", objs[0].Obj)
	}
	if objs[1].Known() || objs[1].GVK.Kind != "Widget" || objs[1].Pos.Line != 17 {
		t.Errorf("unknown kind: %+v", objs[1])
	}
	if b, ok := objs[2].Obj.(*anpv1alpha1.BaselineAdminNetworkPolicy); !ok || len(b.Spec.Egress[0].To[0].Networks) != 1 || objs[2].Pos.Line != 22 {
		t.Errorf("BANP: %#v at %s", objs[2].Obj, objs[2].Pos)
	}
	// A top-level JSON array of objects, and concatenated JSON objects.
	objs, errs = Decode(source.NewFile("a.json", []byte(`[{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a"}},
 {"apiVersion":"v1","kind":"Namespace","metadata":{"name":"b"}}]
{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"c"}}`)))
	if len(errs) > 0 || len(objs) != 3 || objs[1].Pos.Line != 2 || objs[2].Pos.Line != 3 {
		t.Errorf("JSON stream: %v %v", summarize(objs), errs)
	}
}

func TestDecodeErrors(t *testing.T) {
	cases := []struct{ name, data, want string }{
		{"bad.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: [unclosed\n", "bad.yaml:4: malformed YAML"},
		{"bad.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Pod\nspec:\n  containers: 7\n", "bad.yaml:8: Pod: field spec.containers: cannot unmarshal JSON number into []v1.Container"},
		{"nokind.yaml", "apiVersion: v1\nmetadata: {name: a}\n", "nokind.yaml:1: object has no kind"},
		{"noversion.yaml", "kind: Pod\nmetadata: {name: a}\n", "noversion.yaml:1: Pod has no apiVersion"},
		{"bad.json", "{\"apiVersion\":\"v1\",\n\"kind\":\"Pod\",\n\"metadata\":{\"name\": }}", "bad.json:3: malformed JSON"},
		{"bad.json", "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[\n{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\n\"spec\":{\"containers\":\"x\"}}]}", "bad.json:3: Pod: field spec.containers: cannot unmarshal JSON string"},
		{"trunc.json", "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[\n{\"apiVersion\":\"v1\"", "trunc.json:2: malformed JSON"},
		{"junk.json", "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"a\"}}\nhello\n", "junk.json:2: expected a JSON object"},
		{"seq.yaml", "- a\n- b\n", "seq.yaml:1: a YAML sequence at the top level"},
		{"scalar.yaml", "just text\n", "scalar.yaml:1: a YAML document that is not an object"},
	}
	for _, c := range cases {
		_, errs := Decode(source.NewFile(c.name, []byte(c.data)))
		if len(errs) == 0 || !strings.HasPrefix(errs[0].Error(), c.want) {
			t.Errorf("%s %q: errors %v, want first with prefix %q", c.name, c.data, errs, c.want)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, n := range []string{"get-svc-echo.yaml", "cluster-info-dump.txt"} {
		d, _ := os.ReadFile(filepath.Join("testdata", n))
		f.Add(d)
	}
	f.Add([]byte("apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: a}\n"))
	f.Fuzz(func(t *testing.T, d []byte) {
		objs, _ := Decode(source.NewFile("f", d))
		for _, o := range objs {
			if o.Obj == nil || o.Pos.Line < 1 {
				t.Fatalf("object without value or line: %+v", o)
			}
		}
	})
}

func TestYAMLErrorAfterComment(t *testing.T) {
	_, errs := Decode(source.NewFile("c.yaml", []byte("# header\n# more\napiVersion: v1\nkind: Pod\nmetadata:\n  name: [x\n")))
	if len(errs) == 0 || !strings.HasPrefix(errs[0].Error(), "c.yaml:6: malformed YAML") {
		t.Errorf("errors %v, want c.yaml:6", errs)
	}
}

func TestYAMLTypeErrorLine(t *testing.T) {
	doc := "apiVersion: v1\nkind: Node\nmetadata:\n  name: node1\nspec:\n  podCIDR: 10.244.1.0/24\n  podCIDRs: 10.244.1.0/24\n"
	_, errs := Decode(source.NewFile("n.yaml", []byte(doc)))
	if len(errs) == 0 || !strings.HasPrefix(errs[0].Error(), "n.yaml:7: Node: field spec.podCIDRs: cannot unmarshal JSON string") {
		t.Errorf("errors %v, want n.yaml:7", errs)
	}
}

// TestDecoderAgreesWithStdlib checks that the fast decoder fills the API types exactly as
// encoding/json (which the API machinery's types are written for) does.
func TestDecoderAgreesWithStdlib(t *testing.T) {
	for _, name := range []string{"get-pods.json", "cluster-info-dump/nodes.json", "cluster-info-dump/default/services.json"} {
		data, _ := os.ReadFile(filepath.Join("testdata", name))
		f := source.NewFile(name, data)
		raws, errs := split(f)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		for _, r := range raws {
			o, err := decodeOne(f, r)
			if err != nil {
				t.Fatal(err)
			}
			std, _ := Scheme.New(o.GVK)
			if err := stdjson.Unmarshal(r.data, std); err != nil {
				t.Fatal(err)
			}
			std.GetObjectKind().SetGroupVersionKind(o.GVK)
			if !equality.Semantic.DeepEqual(std, o.Obj) {
				t.Errorf("%s %s: decoders disagree", name, o.Pos)
			}
		}
	}
}
