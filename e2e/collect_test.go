package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/yaml"

	"github.com/netsim/netsim/bundle"
	"github.com/netsim/netsim/collector/orchestrate"
	"github.com/netsim/netsim/e2e/testbed"
)

// The values the collect test plants in the cluster; none may reach a bundle.
var plantedSecrets = []string{"S3cretValue-xyz", base64.StdEncoding.EncodeToString([]byte("S3cretValue-xyz")),
	"CMValue-abc", "EnvValue-123", "LastApplied-789", "ArgToken-456", "db-creds", "app-config"}

// buildNetsim builds the netsim binary for the test.
func buildNetsim(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "netsim")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/netsim").CombinedOutput(); err != nil {
		t.Fatalf("go build netsim: %v\n%s", err, out)
	}
	return bin
}

// applyYAML creates every object of a multi-document YAML file through the dynamic client.
func applyYAML(t *testing.T, ctx context.Context, tb *testbed.Testbed, data []byte) {
	t.Helper()
	dyn := dynamic.NewForConfigOrDie(tb.RESTConfig())
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(discovery.NewDiscoveryClientForConfigOrDie(tb.RESTConfig())))
	for _, doc := range bytes.Split(data, []byte("\n---\n")) {
		var obj map[string]any
		if err := yaml.Unmarshal(doc, &obj); err != nil {
			t.Fatal(err)
		}
		if len(obj) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: obj}
		gvk := u.GroupVersionKind()
		var mapping *schema.GroupVersionResource
		for try := 0; try < 50 && mapping == nil; try++ { // a CRD's kind appears in discovery a moment later
			if try > 0 {
				mapper.Reset()
			}
			if m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err == nil {
				mapping = &m.Resource
			} else {
				time.Sleep(200 * time.Millisecond)
			}
		}
		if mapping == nil {
			t.Fatalf("no resource for %s", gvk)
		}
		ri := dyn.Resource(*mapping)
		var err error
		if ns := u.GetNamespace(); ns != "" {
			_, err = ri.Namespace(ns).Create(ctx, u, metav1.CreateOptions{})
		} else {
			_, err = ri.Create(ctx, u, metav1.CreateOptions{})
		}
		if err != nil {
			t.Fatalf("creating %s %s: %v", gvk.Kind, u.GetName(), err)
		}
	}
}

// saKubeconfig returns a kubeconfig (reaching the API server from the underlay namespace)
// for a ServiceAccount, with a token from the TokenRequest API.
func saKubeconfig(t *testing.T, ctx context.Context, tb *testbed.Testbed, ns, name string) (string, *kubernetes.Clientset) {
	t.Helper()
	exp := int64(3600)
	tr, err := tb.Client.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, &authv1.TokenRequest{Spec: authv1.TokenRequestSpec{ExpirationSeconds: &exp}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ca, err := os.ReadFile(filepath.Join(tb.Work, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["testbed"] = &clientcmdapi.Cluster{Server: "https://127.0.0.1:6443", CertificateAuthorityData: ca}
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: tr.Status.Token}
	cfg.Contexts["collect"] = &clientcmdapi.Context{Cluster: "testbed", AuthInfo: name}
	cfg.CurrentContext = "collect"
	path := filepath.Join(t.TempDir(), name+".kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	rc := tb.RESTConfig()
	rc.TLSClientConfig.CertData, rc.TLSClientConfig.KeyData = nil, nil
	rc.BearerToken = tr.Status.Token
	return path, kubernetes.NewForConfigOrDie(rc)
}

// runCollect runs `netsim collect` inside the underlay namespace (where the API server
// listens on 127.0.0.1) and returns its output and exit code.
func runCollect(t *testing.T, tb *testbed.Testbed, bin string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", tb.Underlay, bin, "collect"}, args...)...)
	out, err := cmd.CombinedOutput()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("netsim collect: %v\n%s", err, out)
	}
	return string(out), code
}

// grepTree fails the test for every planted secret found in any file under dir.
func grepTree(t *testing.T, dir string) {
	t.Helper()
	n := 0
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, _ := os.ReadFile(p)
		n++
		for _, s := range plantedSecrets {
			if bytes.Contains(data, []byte(s)) {
				t.Errorf("%s holds %q", p, s)
			}
		}
		return nil
	})
	if n == 0 {
		t.Errorf("no files under %s", dir)
	}
}

func readManifest(t *testing.T, dir string) *bundle.Manifest {
	t.Helper()
	b, err := bundle.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	return b.Manifest
}

// TestCollectAgainstAPIServer proves `netsim collect` on the testbed's real API server
// (RBAC on): deploy/rbac.yaml applied and used through a ServiceAccount token; every kind
// collected; a denial recorded as a gap; nothing secret in the bundle; the collector pod
// accepted by a server-side dry run; and a full collection with --node-command, whose
// bundle traces a pod to a Service.
func TestCollectAgainstAPIServer(t *testing.T) {
	tb := upTestbed(t, "iptables")
	ctx := context.Background()
	bin := buildNetsim(t)

	rbac, err := os.ReadFile("../deploy/rbac.yaml")
	if err != nil {
		t.Fatal(err)
	}
	applyYAML(t, ctx, tb, rbac)
	crdDir := anpCRDDir(t)
	for _, f := range []string{"policy.networking.k8s.io_adminnetworkpolicies.yaml", "policy.networking.k8s.io_baselineadminnetworkpolicies.yaml"} {
		data, err := os.ReadFile(filepath.Join(crdDir, f))
		if err != nil {
			t.Fatal(err)
		}
		applyYAML(t, ctx, tb, data)
	}
	applyYAML(t, ctx, tb, []byte(plantedObjects))

	// (1) the least-privilege identity collects every kind.
	kc, collectorClient := saKubeconfig(t, ctx, tb, "netsim-collector", "netsim-collector")
	out1 := filepath.Join(t.TempDir(), "api")
	stdout, code := runCollect(t, tb, bin, "--kubeconfig", kc, "--nodes", "none", "-o", out1)
	t.Logf("collect --nodes none:\n%s", stdout)
	if code != 0 {
		t.Fatalf("exit %d, want 0", code)
	}
	for _, f := range []string{"namespaces", "nodes", "pods", "services", "endpointslices", "endpoints", "networkpolicies",
		"servicecidrs", "adminnetworkpolicies", "baselineadminnetworkpolicies", "configmaps"} {
		data, err := os.ReadFile(filepath.Join(out1, "cluster", f+".yaml"))
		if err != nil {
			t.Errorf("cluster/%s.yaml: %v", f, err)
			continue
		}
		var list struct {
			Kind  string           `json:"kind"`
			Items []map[string]any `json:"items"`
		}
		if err := yaml.Unmarshal(data, &list); err != nil || list.Kind != "List" {
			t.Errorf("cluster/%s.yaml: not a List: %v", f, err)
		}
		if f != "baselineadminnetworkpolicies" && len(list.Items) == 0 {
			t.Errorf("cluster/%s.yaml holds no object", f)
		}
	}
	m := readManifest(t, out1)
	if m.Source != "collect" || m.Cluster != "testbed" || !strings.HasPrefix(m.KubernetesVersion, "v1.34") || m.ClusterDomain != "cluster.local" ||
		strings.Join(m.PodCIDRs, ",") != "10.244.0.0/16" || strings.Join(m.ServiceCIDRs, ",") != "10.96.0.0/16" {
		t.Errorf("manifest: %+v", m)
	}
	if !strings.Contains(stdout, "kube-proxy mode: iptables") {
		t.Errorf("no proxy mode in the summary")
	}

	// (3) nothing planted leaks.
	grepTree(t, out1)

	// (2) a ClusterRole without networkpolicies: the bundle is written, the gap says why.
	applyYAML(t, ctx, tb, []byte(limitedObjects))
	cr, err := tb.Client.RbacV1().ClusterRoles().Get(ctx, "netsim-collect", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var rules []rbacv1.PolicyRule
	for _, r := range cr.Rules {
		if len(r.APIGroups) == 1 && r.APIGroups[0] == "networking.k8s.io" {
			r.Resources = []string{"servicecidrs"}
		}
		rules = append(rules, r)
	}
	if _, err := tb.Client.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "netsim-collect-limited"}, Rules: rules}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	limitedKC, _ := saKubeconfig(t, ctx, tb, "netsim-collector", "limited")
	out2 := filepath.Join(t.TempDir(), "limited.tar.gz")
	stdout, code = runCollect(t, tb, bin, "--kubeconfig", limitedKC, "--nodes", "none", "-o", out2)
	t.Logf("collect as limited:\n%s", stdout)
	if code != 1 {
		t.Errorf("exit %d, want 1 (written with gaps)", code)
	}
	m = readManifest(t, out2)
	found := false
	for _, g := range m.Gaps {
		if g.Scope == "cluster/networkpolicies.networking.k8s.io" && strings.HasPrefix(g.Reason, "forbidden: cannot list networkpolicies.networking.k8s.io at cluster scope: ") {
			found = true
		}
	}
	if !found {
		t.Errorf("no networkpolicies gap in %+v", m.Gaps)
	}

	// (4) the collector pod, as the collector's identity would create it, passes the real
	// API server's validation and admission in a server-side dry run.
	pod := orchestrate.CollectorPod("node1", orchestrate.PodOptions{Image: "ghcr.io/netsim/netsim:latest", RunID: "dryrun", Deadline: 5 * time.Minute})
	created, err := collectorClient.CoreV1().Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		t.Fatalf("dry-run create of the collector pod: %v", err)
	}
	if !created.Spec.HostNetwork || created.Spec.NodeName != "node1" || created.Spec.Tolerations[0].Operator != corev1.TolerationOpExists {
		t.Errorf("dry-run result: %+v", created.Spec)
	}
	if pods, _ := tb.Client.CoreV1().Pods(pod.Namespace).List(ctx, metav1.ListOptions{}); len(pods.Items) != 0 {
		t.Errorf("the dry run left %d pods", len(pods.Items))
	}

	// (6) collector pods on the real API server, as the collector's identity: without a
	// kubelet the pod never runs, so the node times out, becomes a gap, and its pod is deleted.
	out4 := filepath.Join(t.TempDir(), "pods.tar.gz")
	stdout, code = runCollect(t, tb, bin, "--kubeconfig", kc, "--nodes", "node1", "--node-timeout", "3s", "-o", out4)
	t.Logf("collect --nodes node1 (collector pods, no kubelet):\n%s", stdout)
	if code != 1 || !strings.Contains(stdout, "nodes/node1: timed out after 3s (--node-timeout): pod netsim-collector/netsim-") {
		t.Errorf("exit %d, want 1 with a timeout gap for node1", code)
	}
	if pods, _ := tb.Client.CoreV1().Pods("netsim-collector").List(ctx, metav1.ListOptions{}); len(pods.Items) != 0 {
		t.Errorf("%d collector pods left after the run", len(pods.Items))
	}

	// (7) Ctrl-C while the collector pods wait: exit 130, nothing written, no pod left.
	out5 := filepath.Join(t.TempDir(), "interrupted.tar.gz")
	cmd := exec.Command("ip", "netns", "exec", tb.Underlay, bin, "collect", "--kubeconfig", kc, "--nodes", "all", "--node-timeout", "2m", "-o", out5)
	var cmdOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &cmdOut, &cmdOut
	if err := testbed.StartProcess(cmd); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		pods, _ := tb.Client.CoreV1().Pods("netsim-collector").List(ctx, metav1.ListOptions{})
		if len(pods.Items) == 2 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-done
			t.Fatalf("the collector pods never appeared:\n%s", cmdOut.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	cmd.Process.Signal(os.Interrupt)
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatal("netsim collect did not stop on SIGINT")
	}
	t.Logf("interrupted collect:\n%s", cmdOut.String())
	if c := cmd.ProcessState.ExitCode(); c != 130 {
		t.Errorf("exit %d after SIGINT, want 130", c)
	}
	if _, err := os.Stat(out5); err == nil {
		t.Error("an interrupted run wrote a bundle")
	}
	if pods, _ := tb.Client.CoreV1().Pods("netsim-collector").List(ctx, metav1.ListOptions{}); len(pods.Items) != 0 {
		t.Errorf("%d collector pods left after Ctrl-C", len(pods.Items))
	}

	// (5) the full collection: the node part through --node-command, in each node's namespace.
	script := nodePartScript(t, tb, bin)
	out3 := filepath.Join(t.TempDir(), "full.tar.gz")
	stdout, code = runCollect(t, tb, bin, "--kubeconfig", kc, "--nodes", "all", "--node-command", script+" {node}", "-o", out3)
	t.Logf("collect --nodes all:\n%s", stdout)
	if code != 0 {
		t.Fatalf("exit %d, want 0", code)
	}
	b, err := bundle.Open(out3)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"nodes/node1/iptables-save.txt", "nodes/node2/route.json", "nodes/node1/pods/default_pod1a/addr.json", "nodes/node2/pods/default_pod2b/route.json"} {
		if !b.Exists(f) {
			t.Errorf("%s missing", f)
		}
	}
	b.Close()
	full := t.TempDir()
	if out, err := exec.Command("tar", "xzf", out3, "-C", full).CombinedOutput(); err != nil {
		t.Fatalf("untar: %v %s", err, out)
	}
	grepTree(t, full)
	if insp, err := exec.Command(bin, "inspect", "-b", out3).CombinedOutput(); err != nil || bytes.Contains(insp, []byte("malformed")) {
		t.Errorf("inspect of the collected bundle: %v\n%s", err, insp)
	}
	tr, err := exec.Command(bin, "trace", "-b", out3, "pod/default/pod1b", "svc/default/echo", "80").CombinedOutput()
	t.Logf("trace:\n%s", tr)
	if err != nil {
		t.Fatalf("trace pod1b -> svc echo on the collected bundle: %v", err)
	}
	if !strings.Contains(string(tr), "DELIVERED") {
		t.Errorf("trace did not deliver")
	}
}

// anpCRDDir is the AdminNetworkPolicy CRDs' folder in the module cache.
func anpCRDDir(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/network-policy-api").Output()
	if err != nil {
		t.Fatalf("go list network-policy-api: %v", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "config/crd/standard")
}

// plantedObjects are what must never leave the cluster, and the network ConfigMaps that must.
const plantedObjects = `apiVersion: v1
kind: Secret
metadata: {name: db-creds, namespace: default}
stringData: {password: S3cretValue-xyz}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: app-config, namespace: default}
data: {apikey: CMValue-abc}
---
apiVersion: v1
kind: Pod
metadata:
  name: envpod
  namespace: default
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: '{"env":"LastApplied-789"}'
spec:
  nodeName: node1
  containers:
  - name: app
    image: netsim.invalid/app
    args: [--token=ArgToken-456, --verbose]
    env:
    - {name: PLAIN, value: EnvValue-123}
    - name: FROM_SECRET
      valueFrom: {secretKeyRef: {name: db-creds, key: password}}
    envFrom:
    - configMapRef: {name: app-config}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: coredns, namespace: kube-system}
data:
  Corefile: |
    .:53 {
        kubernetes cluster.local in-addr.arpa ip6.arpa {
           pods insecure
        }
        forward . /etc/resolv.conf
    }
---
apiVersion: v1
kind: ConfigMap
metadata: {name: kube-proxy, namespace: kube-system}
data:
  config.conf: |
    apiVersion: kubeproxy.config.k8s.io/v1alpha1
    kind: KubeProxyConfiguration
    mode: iptables
    clusterCIDR: 10.244.0.0/16
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-echo, namespace: default}
spec:
  podSelector: {matchLabels: {app: echo}}
  ingress: [{}]
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: pass-all}
spec:
  priority: 10
  subject: {namespaces: {}}
  ingress:
  - name: pass
    action: Pass
    from: [{namespaces: {}}]
`

// limitedObjects is a second identity; its ClusterRole (made in the test) lacks networkpolicies.
const limitedObjects = `apiVersion: v1
kind: ServiceAccount
metadata: {name: limited, namespace: netsim-collector}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: netsim-collect-limited}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: netsim-collect-limited}
subjects:
- {kind: ServiceAccount, name: limited, namespace: netsim-collector}
`
