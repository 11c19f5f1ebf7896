package collectcmd

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/netsim/netsim/bundle"
	"github.com/netsim/netsim/cmd/netsim/internal/streams"
)

// fakeServer answers the cluster part's requests: a version, no optional groups, two
// Nodes, empty lists, and a 403 for the paths in deny.
func fakeServer(t *testing.T, deny ...string) string {
	denied := map[string]bool{}
	for _, d := range deny {
		denied[d] = true
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		p := r.URL.Path
		status := func(code int, reason string) {
			w.WriteHeader(code)
			json.NewEncoder(w).Encode(map[string]any{"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code, "reason": reason, "message": p + " " + reason})
		}
		switch {
		case denied[p]:
			status(403, "Forbidden")
		case p == "/version":
			json.NewEncoder(w).Encode(map[string]string{"gitVersion": "v1.34.4"})
		case strings.HasPrefix(p, "/apis/") && strings.Count(p, "/") == 3, strings.Contains(p, "/configmaps/"):
			status(404, "NotFound")
		case p == "/api/v1/nodes":
			json.NewEncoder(w).Encode(map[string]any{"kind": "NodeList", "apiVersion": "v1", "metadata": map[string]any{},
				"items": []any{map[string]any{"metadata": map[string]any{"name": "node1"}, "spec": map[string]any{"podCIDR": "10.244.1.0/24"}},
					map[string]any{"metadata": map[string]any{"name": "node2"}}}})
		default:
			json.NewEncoder(w).Encode(map[string]any{"kind": "List", "apiVersion": "v1", "metadata": map[string]any{}, "items": []any{}})
		}
	}))
	t.Cleanup(srv.Close)
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["fake"] = &clientcmdapi.Cluster{Server: srv.URL}
	cfg.AuthInfos["u"] = &clientcmdapi.AuthInfo{}
	cfg.Contexts["ctx"] = &clientcmdapi.Context{Cluster: "fake", AuthInfo: "u"}
	cfg.CurrentContext = "ctx"
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, kc); err != nil {
		t.Fatal(err)
	}
	return kc
}

// nodeArchive writes a node part's tar.gz for --node-command to cat.
func nodeArchive(t *testing.T) string {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	data := "*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n"
	tw.WriteHeader(&tar.Header{Name: "iptables-save.txt", Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg})
	tw.Write([]byte(data))
	tw.Close()
	gz.Close()
	p := filepath.Join(t.TempDir(), "node.tar.gz")
	os.WriteFile(p, buf.Bytes(), 0o644)
	return p
}

func runCmd(args ...string) (string, string, int) {
	var out, errb bytes.Buffer
	io := streams.IO{In: strings.NewReader(""), Out: &out, Err: &errb}
	cmd := NewCommand(io)
	cmd.SetArgs(args)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err := cmd.Execute()
	if err != nil {
		errb.WriteString(err.Error())
	}
	return out.String(), errb.String(), streams.Code(err)
}

func TestCollectCommand(t *testing.T) {
	archive := nodeArchive(t)
	cases := []struct {
		name     string
		deny     []string
		args     []string
		code     int
		wantOut  []string
		wantGaps []string
		files    []string
	}{
		{name: "API only", args: []string{"--nodes", "none"}, code: 0,
			wantOut: []string{"cluster fake, Kubernetes v1.34.4", "bundle written"}, wantGaps: []string{"cluster/servicecidrs.networking.k8s.io", "nodes"},
			files: []string{"cluster/nodes.yaml", "cluster/pods.yaml", "manifest.yaml"}},
		{name: "every node through a command", args: []string{"--node-command", "cat " + archive + " # {node}"}, code: 0,
			wantOut: []string{"nodes: 2 of 2 collected"}, wantGaps: []string{"cluster/servicecidrs.networking.k8s.io"},
			files: []string{"nodes/node1/iptables-save.txt", "nodes/node2/iptables-save.txt"}},
		{name: "a failing node and a denial: written with gaps, exit 1", deny: []string{"/apis/networking.k8s.io/v1/networkpolicies"},
			args: []string{"--nodes", "node1,node2", "--node-command", `test {node} = node1 && cat ` + archive + ` || { echo "ssh: no route to {node}" >&2; exit 255; }`}, code: 1,
			wantOut:  []string{"nodes: 1 of 2 collected", "forbidden: cannot list networkpolicies.networking.k8s.io at cluster scope"},
			wantGaps: []string{"cluster/networkpolicies.networking.k8s.io", "nodes/node2", "cluster/servicecidrs.networking.k8s.io"},
			files:    []string{"nodes/node1/iptables-save.txt"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			kc := fakeServer(t, c.deny...)
			out := filepath.Join(t.TempDir(), "b.tar.gz")
			stdout, stderr, code := runCmd(append([]string{"--kubeconfig", kc, "-o", out}, c.args...)...)
			if code != c.code {
				t.Fatalf("exit %d, want %d\nstdout %s\nstderr %s", code, c.code, stdout, stderr)
			}
			for _, w := range c.wantOut {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout)
				}
			}
			b, err := bundle.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			var gaps []string
			for _, g := range b.Manifest.Gaps {
				gaps = append(gaps, g.Scope)
			}
			if strings.Join(gaps, " ") != strings.Join(c.wantGaps, " ") {
				t.Errorf("gaps %v, want %v", gaps, c.wantGaps)
			}
			if b.Manifest.Source != "collect" || b.Manifest.Cluster != "fake" || b.Manifest.KubernetesVersion != "v1.34.4" {
				t.Errorf("manifest %+v", b.Manifest)
			}
			for _, f := range c.files {
				if !b.Exists(f) {
					t.Errorf("%s missing", f)
				}
			}
		})
	}
}

func TestCollectUsage(t *testing.T) {
	kc := fakeServer(t)
	full := t.TempDir()
	os.WriteFile(filepath.Join(full, "x"), nil, 0o644)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--kubeconfig", kc}, "-o OUT is required"},
		{[]string{"--kubeconfig", kc, "-o", full}, "exists and is not empty"},
		{[]string{"--kubeconfig", kc, "-o", "x.tar.gz", "--nodes", "all,node1"}, "stand alone"},
		{[]string{"--kubeconfig", kc, "-o", "x.tar.gz", "--image-pull-policy", "Sometimes"}, "want Always, IfNotPresent or Never"},
		{[]string{"--kubeconfig", kc, "-o", "x.tar.gz", "--parallel", "0"}, "--parallel 0"},
		{[]string{"--kubeconfig", filepath.Join(t.TempDir(), "missing"), "-o", "x.tar.gz"}, "finding the cluster"},
		{[]string{"--kubeconfig", kc, "-o", "x.tar.gz", "--cloud-export", filepath.Join(t.TempDir(), "nope")}, "--cloud-export"},
	}
	for _, c := range cases {
		_, stderr, code := runCmd(c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, stderr, c.want)
		}
	}
}

// docs/collect.md's table of cloud flags names every --cloud-* flag the command has, with
// the providers that read it as cloudProviderFlags says, and has a section per provider.
func TestCloudFlagsDocumented(t *testing.T) {
	data, err := os.ReadFile("../../../../docs/collect.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	rows := map[string]string{} // flag -> its table row
	for _, line := range strings.Split(doc, "\n") {
		if strings.HasPrefix(line, "| `--cloud") {
			cells := strings.Split(line, "|")
			for _, f := range strings.Split(cells[1], "`") {
				if name, _, _ := strings.Cut(strings.TrimSpace(f), " "); strings.HasPrefix(name, "--cloud") {
					rows[name] = cells[2]
				}
			}
		}
	}
	NewCommand(streams.IO{}).Flags().VisitAll(func(f *pflag.Flag) {
		name := "--" + f.Name
		if !strings.HasPrefix(name, "--cloud") || name == "--cloud-export" {
			return
		}
		row, ok := rows[name]
		if !ok {
			t.Errorf("%s is not in docs/collect.md's table", name)
			return
		}
		for p, reads := range cloudProviderFlags {
			if name == "--cloud" || name == "--cloud-endpoint" {
				continue
			}
			if in := strings.Contains(" "+reads+" ", " "+name+" "); in != strings.Contains(row, p) {
				t.Errorf("%s: docs say %q, the code says %s reads it: %v", name, strings.TrimSpace(row), p, in)
			}
		}
	})
	for p := range cloudProviderFlags {
		if !strings.Contains(doc, "(`--cloud "+p+"`)") {
			t.Errorf("docs/collect.md has no section for --cloud %s", p)
		}
	}
}
