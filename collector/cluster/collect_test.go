package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"
)

// fakeAPI is a minimal API server: discovery, paged lists, gets of ConfigMaps, RBAC
// denials and transient failures, enough to drive Collect through a real client-go.
type fakeAPI struct {
	mu        sync.Mutex
	served    map[string][]string         // group/version -> resources served (discovery)
	lists     map[string][]map[string]any // list path -> items
	objects   map[string]map[string]any   // object path -> object
	forbidden map[string]bool             // path -> 403
	flaky     map[string]int              // path -> 503s still to return
	requests  []string                    // "path?limit=..&continue=.."
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := r.URL.Path
	q := r.URL.Query()
	f.requests = append(f.requests, p+"?limit="+q.Get("limit")+"&continue="+q.Get("continue"))
	w.Header().Set("Content-Type", "application/json")
	status := func(code int, reason, msg string) {
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(map[string]any{"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code, "reason": reason, "message": msg})
	}
	if f.forbidden[p] {
		res := p[strings.LastIndex(p, "/")+1:]
		status(403, "Forbidden", fmt.Sprintf("%s is forbidden: User \"netsim\" cannot list resource %q at the cluster scope", res, res))
		return
	}
	if f.flaky[p] > 0 {
		f.flaky[p]--
		status(503, "ServiceUnavailable", "try again")
		return
	}
	if p == "/version" {
		json.NewEncoder(w).Encode(map[string]string{"gitVersion": "v1.34.4", "major": "1", "minor": "34"})
		return
	}
	if gv, ok := strings.CutPrefix(p, "/apis/"); ok && strings.Count(gv, "/") == 1 {
		res, served := f.served[gv]
		if !served {
			status(404, "NotFound", "the server could not find the requested resource")
			return
		}
		var rs []map[string]any
		for _, r := range res {
			rs = append(rs, map[string]any{"name": r, "namespaced": true, "kind": "X", "verbs": []string{"list"}, "singularName": ""})
		}
		json.NewEncoder(w).Encode(map[string]any{"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": rs})
		return
	}
	if obj, ok := f.objects[p]; ok {
		json.NewEncoder(w).Encode(obj)
		return
	}
	items, ok := f.lists[p]
	if !ok {
		status(404, "NotFound", p+" not found")
		return
	}
	start, _ := strconv.Atoi(q.Get("continue"))
	end := len(items)
	if l, _ := strconv.Atoi(q.Get("limit")); l > 0 && start+l < end {
		end = start + l
	}
	md := map[string]any{"resourceVersion": "7"}
	if end < len(items) {
		md["continue"] = strconv.Itoa(end)
	}
	kind := "List"
	if parts := strings.Split(p, "/"); len(parts) > 0 {
		kind = strings.TrimSuffix(strings.ToUpper(parts[len(parts)-1][:1])+parts[len(parts)-1][1:], "s") + "List"
	}
	json.NewEncoder(w).Encode(map[string]any{"kind": kind, "apiVersion": "v1", "metadata": md, "items": items[start:end]})
}

func pod(i int) map[string]any {
	return map[string]any{"metadata": map[string]any{"name": fmt.Sprintf("p%d", i), "namespace": "default",
		"managedFields": []any{map[string]any{"manager": "kubelet"}}},
		"spec": map[string]any{"containers": []any{map[string]any{"name": "c", "env": []any{map[string]any{"name": "PW", "value": "s3cret-env"}}}}}}
}

func newFake() *fakeAPI {
	f := &fakeAPI{
		served: map[string][]string{"networking.k8s.io/v1": {"networkpolicies", "servicecidrs"}, "cilium.io/v2": {"ciliumnetworkpolicies"}},
		lists: map[string][]map[string]any{
			"/api/v1/namespaces": {{"metadata": map[string]any{"name": "default"}}},
			"/api/v1/nodes": {
				{"metadata": map[string]any{"name": "n2"}, "spec": map[string]any{"podCIDRs": []any{"10.244.2.0/24"}},
					"status": map[string]any{"addresses": []any{map[string]any{"type": "InternalIP", "address": "10.0.0.2"}}}},
				{"metadata": map[string]any{"name": "n1"}, "spec": map[string]any{"podCIDR": "10.244.1.0/24"}},
			},
			"/api/v1/services":                           {},
			"/api/v1/endpoints":                          {},
			"/apis/discovery.k8s.io/v1/endpointslices":   {},
			"/apis/networking.k8s.io/v1/servicecidrs":    {{"metadata": map[string]any{"name": "kubernetes"}, "spec": map[string]any{"cidrs": []any{"10.96.0.0/16", "fd00::/108"}}}},
			"/apis/cilium.io/v2/ciliumnetworkpolicies":   {{"metadata": map[string]any{"name": "cnp", "namespace": "default"}}},
			"/apis/networking.k8s.io/v1/networkpolicies": {},
		},
		objects: map[string]map[string]any{
			"/api/v1/namespaces/kube-system/configmaps/coredns": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "coredns", "namespace": "kube-system"},
				"data": map[string]any{"Corefile": ".:53 {\n kubernetes corp.internal in-addr.arpa ip6.arpa {\n }\n}\n"}},
			"/api/v1/namespaces/kube-system/configmaps/kubelet-config": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "kubelet-config", "namespace": "kube-system"},
				"data": map[string]any{"kubelet": "clusterDomain: other.domain\nsecretish: kubelet-config-data\n"}},
		},
		forbidden: map[string]bool{"/apis/networking.k8s.io/v1/networkpolicies": true, "/api/v1/namespaces/kube-system/configmaps/kube-proxy": true},
		flaky:     map[string]int{"/api/v1/pods": 1},
	}
	var pods []map[string]any
	for i := range 5 {
		pods = append(pods, pod(i))
	}
	f.lists["/api/v1/pods"] = pods
	return f
}

func collectFrom(t *testing.T, f *fakeAPI) *Result {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	cfg := &rest.Config{Host: srv.URL, QPS: 1000, Burst: 1000}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var sleeps []time.Duration
	res, err := Collect(context.Background(), Options{Dynamic: dyn, Discovery: disc, PageSize: 2, Parallel: 1,
		Backoff: Backoff{Initial: time.Millisecond, Max: time.Second, Attempts: 3, Sleep: func(_ context.Context, d time.Duration) error {
			sleeps = append(sleeps, d)
			return nil
		}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(sleeps) != 1 {
		t.Errorf("slept %v; want one backoff for the one 503", sleeps)
	}
	return res
}

func TestCollectPagesRetriesAndGaps(t *testing.T) {
	f := newFake()
	res := collectFrom(t, f)

	// Paging: 5 pods in pages of 2, the first page retried once after its 503.
	var podReqs []string
	for _, r := range f.requests {
		if strings.HasPrefix(r, "/api/v1/pods?") {
			podReqs = append(podReqs, r)
		}
	}
	want := []string{"/api/v1/pods?limit=2&continue=", "/api/v1/pods?limit=2&continue=", "/api/v1/pods?limit=2&continue=2", "/api/v1/pods?limit=2&continue=4"}
	if strings.Join(podReqs, " ") != strings.Join(want, " ") {
		t.Errorf("pod requests\n%v\nwant\n%v", podReqs, want)
	}
	var pl struct {
		Kind  string           `json:"kind"`
		Items []map[string]any `json:"items"`
	}
	if err := yaml.Unmarshal(res.Files["cluster/pods.yaml"], &pl); err != nil {
		t.Fatal(err)
	}
	if pl.Kind != "List" || len(pl.Items) != 5 || pl.Items[0]["kind"] != "Pod" || pl.Items[0]["apiVersion"] != "v1" {
		t.Errorf("pods.yaml: kind %s, %d items, first %v/%v", pl.Kind, len(pl.Items), pl.Items[0]["apiVersion"], pl.Items[0]["kind"])
	}
	for name, data := range res.Files {
		for _, secret := range []string{"s3cret-env", "managedFields", "kubelet-config-data"} {
			if strings.Contains(string(data), secret) {
				t.Errorf("%s holds %q", name, secret)
			}
		}
	}

	// Gaps: the denied list and the denied ConfigMap are failures naming verb and resource.
	gaps := map[string]string{}
	for _, g := range res.Failures {
		gaps[g.Scope] = g.Reason
	}
	if r := gaps["cluster/networkpolicies.networking.k8s.io"]; !strings.HasPrefix(r, "forbidden: cannot list networkpolicies.networking.k8s.io at cluster scope: ") {
		t.Errorf("networkpolicies gap = %q", r)
	}
	if r := gaps["cluster/configmaps/kube-system/kube-proxy"]; !strings.HasPrefix(r, "forbidden: cannot get configmaps kube-proxy in namespace kube-system: ") {
		t.Errorf("kube-proxy gap = %q", r)
	}
	if len(res.Failures) != 2 || len(res.Notes) != 0 {
		t.Errorf("failures %v notes %v", res.Failures, res.Notes)
	}
	if _, ok := res.Files["cluster/networkpolicies.yaml"]; ok {
		t.Error("a denied list left a file")
	}

	// Optional kinds: cilium served and collected; ANP and Calico not served, no file, no gap.
	if res.Counts["cluster/cilium-networkpolicies.yaml"] != 1 {
		t.Errorf("counts %v", res.Counts)
	}
	if _, ok := res.Files["cluster/adminnetworkpolicies.yaml"]; ok {
		t.Error("adminnetworkpolicies collected though not served")
	}

	// Manifest values.
	if res.KubernetesVersion != "v1.34.4" || res.ClusterDomain != "corp.internal" ||
		strings.Join(res.PodCIDRs, ",") != "10.244.1.0/24,10.244.2.0/24" || strings.Join(res.ServiceCIDRs, ",") != "10.96.0.0/16,fd00::/108" {
		t.Errorf("version %q domain %q pod %v svc %v", res.KubernetesVersion, res.ClusterDomain, res.PodCIDRs, res.ServiceCIDRs)
	}
	if len(res.Nodes) != 2 || res.Nodes[0] != (Node{Name: "n1"}) || res.Nodes[1] != (Node{Name: "n2", InternalIP: "10.0.0.2"}) {
		t.Errorf("nodes %v", res.Nodes)
	}
	// kubelet-config is read for the domain only (and the Corefile's wins); coredns kept.
	if cm := string(res.Files["cluster/configmaps.yaml"]); !strings.Contains(cm, "name: coredns") || strings.Contains(cm, "kubelet-config") {
		t.Errorf("configmaps.yaml:\n%s", cm)
	}
}

func TestCollectServiceCIDRNotServedIsANote(t *testing.T) {
	f := newFake()
	f.served["networking.k8s.io/v1"] = []string{"networkpolicies"}
	delete(f.forbidden, "/apis/networking.k8s.io/v1/networkpolicies")
	delete(f.forbidden, "/api/v1/namespaces/kube-system/configmaps/kube-proxy")
	f.objects["/api/v1/namespaces/kube-system/configmaps/kube-proxy"] = map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "kube-proxy", "namespace": "kube-system"}, "data": map[string]any{"config.conf": "mode: \"\"\nclusterCIDR: 10.244.0.0/16,fd01::/48\n"}}
	res := collectFrom(t, f)
	if len(res.Failures) != 0 || len(res.Notes) != 1 || res.Notes[0].Scope != "cluster/servicecidrs.networking.k8s.io" {
		t.Errorf("failures %v notes %v", res.Failures, res.Notes)
	}
	if res.ServiceCIDRs != nil || res.ProxyMode != "iptables" || strings.Join(res.PodCIDRs, ",") != "10.244.0.0/16,fd01::/48" {
		t.Errorf("svc %v mode %q pod %v", res.ServiceCIDRs, res.ProxyMode, res.PodCIDRs)
	}
}

func TestCollectUnreachable(t *testing.T) {
	cfg := &rest.Config{Host: "http://127.0.0.1:1", Timeout: time.Second}
	dyn, _ := dynamic.NewForConfig(cfg)
	disc, _ := discovery.NewDiscoveryClientForConfig(cfg)
	res, err := Collect(context.Background(), Options{Dynamic: dyn, Discovery: disc,
		Backoff: Backoff{Attempts: 2, Sleep: func(context.Context, time.Duration) error { return nil }}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Reachable || len(res.Failures) != 1 || res.Failures[0].Scope != "cluster" || len(res.Files) != 0 {
		t.Errorf("reachable %v failures %v files %d", res.Reachable, res.Failures, len(res.Files))
	}
}
