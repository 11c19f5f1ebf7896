package testbed

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

// dumpCommands are what a node (or pod) namespace dump runs, and the bundle file each
// output goes to (../shared/CONTRACT.md §3). `netsim collect node` replaces this with
// netlink and library calls; this stays as the plain-tools reference.
var dumpCommands = []struct {
	file string
	cmd  []string
}{
	{"addr.json", []string{"ip", "-d", "-j", "-p", "addr"}},
	{"route.json", []string{"ip", "-j", "-p", "route", "show", "table", "all"}},
	{"rule.json", []string{"ip", "-j", "-p", "rule"}},
	{"rule6.json", []string{"ip", "-6", "-j", "-p", "rule"}},
	{"neigh.json", []string{"ip", "-j", "-p", "neigh"}},
	{"fdb.json", []string{"bridge", "-j", "-p", "fdb", "show"}},
	{"sysctl.txt", []string{"sysctl", "net"}},
	{"sockets.txt", []string{"ss", "-Htuanp"}},
	{"iptables-save.txt", []string{"iptables-save"}},
	{"ip6tables-save.txt", []string{"ip6tables-save"}},
	{"ipset.txt", []string{"ipset", "save"}},
	{"nft.json", []string{"nft", "-j", "list", "ruleset"}},
}

// DumpNetNS writes a namespace's dataplane state into dir.
func (tb *Testbed) DumpNetNS(netns, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, d := range dumpCommands {
		out, err := tb.Exec(netns, d.cmd[0], d.cmd[1:]...)
		if err != nil && d.file != "sysctl.txt" { // sysctl exits 255 for keys it may not read
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, d.file), out, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// DumpBundle writes a netsim bundle of the testbed into dir: the API objects and every
// node's and pod's dataplane state.
func (tb *Testbed) DumpBundle(ctx context.Context, dir string) error {
	cl := filepath.Join(dir, "cluster")
	if err := os.MkdirAll(cl, 0o755); err != nil {
		return err
	}
	lists := []struct {
		file string
		list func() (runtime.Object, error)
	}{
		{"nodes.yaml", func() (runtime.Object, error) { return tb.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{}) }},
		{"namespaces.yaml", func() (runtime.Object, error) { return tb.Client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{}) }},
		{"pods.yaml", func() (runtime.Object, error) { return tb.Client.CoreV1().Pods("").List(ctx, metav1.ListOptions{}) }},
		{"services.yaml", func() (runtime.Object, error) { return tb.Client.CoreV1().Services("").List(ctx, metav1.ListOptions{}) }},
		{"endpointslices.yaml", func() (runtime.Object, error) {
			return tb.Client.DiscoveryV1().EndpointSlices("").List(ctx, metav1.ListOptions{})
		}},
		{"networkpolicies.yaml", func() (runtime.Object, error) {
			return tb.Client.NetworkingV1().NetworkPolicies("").List(ctx, metav1.ListOptions{})
		}},
	}
	for _, l := range lists {
		obj, err := l.list()
		if err != nil {
			return err
		}
		data, err := listYAML(obj)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(cl, l.file), data, 0o644); err != nil {
			return err
		}
	}
	for _, n := range tb.Nodes {
		nd := filepath.Join(dir, "nodes", n.Name)
		if err := tb.DumpNetNS(n.NetNS, nd); err != nil {
			return fmt.Errorf("node %s: %w", n.Name, err)
		}
		for _, p := range tb.Pods {
			if p.Node == n.Name {
				if err := tb.DumpNetNS(p.NetNS, filepath.Join(nd, "pods", p.Namespace+"_"+p.Name)); err != nil {
					return fmt.Errorf("pod %s: %w", p.Name, err)
				}
			}
		}
	}
	manifest := fmt.Sprintf("format: netsim-bundle/v1\ncluster: e2e-testbed\ncollectedAt: %s\nsource: collect\nkubernetesVersion: v1.34.4\nclusterDomain: cluster.local\npodCIDRs: [%s]\nserviceCIDRs: [%s]\n",
		time.Now().UTC().Format(time.RFC3339), clusterCIDR, serviceCIDR)
	return os.WriteFile(filepath.Join(dir, "manifest.yaml"), []byte(manifest), 0o644)
}

// listYAML renders a typed list the way `kubectl get -o yaml` does: a v1 List whose items
// carry their kind, without managedFields.
func listYAML(obj runtime.Object) ([]byte, error) {
	items, err := metaExtract(obj)
	if err != nil {
		return nil, err
	}
	list := map[string]any{"apiVersion": "v1", "kind": "List", "metadata": map[string]any{"resourceVersion": ""}, "items": items}
	return yaml.Marshal(list)
}
