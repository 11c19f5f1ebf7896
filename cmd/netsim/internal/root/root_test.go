package root

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/netsim/netsim/cmd/netsim/internal/streams"
	"github.com/netsim/netsim/internal/golden"
)

// run executes netsim from the repository root, so paths in output are stable.
func run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Run(streams.IO{In: strings.NewReader(""), Out: &out, Err: &errb}, args)
	return out.String(), errb.String(), code
}

func repoRoot(t *testing.T) string {
	t.Helper()
	wd, _ := os.Getwd()
	root := filepath.Join(wd, "../../../..")
	t.Chdir(root)
	return root
}

var stampRE = regexp.MustCompile(`(?m)^(\s*from import at|  "collectedAt":).*$`)

func TestGoldenOutputs(t *testing.T) {
	root := repoRoot(t)
	gold := func(name string) string { return filepath.Join(root, "cmd/netsim/internal/root/testdata", name) }
	tmp := t.TempDir()
	cases := []struct {
		name string
		args []string
		code int
	}{
		{"help.txt", []string{"--help"}, 0},
		{"import-help.txt", []string{"import", "--help"}, 0},
		{"collect-help.txt", []string{"collect", "--help"}, 0},
		{"inspect-help.txt", []string{"inspect", "--help"}, 0},
		{"trace-help.txt", []string{"trace", "--help"}, 0},
		{"trace-two-node-svc.txt", []string{"trace", "-b", "testdata/bundles/two-node-iptables", "pod/default/pod1b", "svc/default/echo", "80"}, 0},
		{"trace-two-node-svc.json", []string{"trace", "-b", "testdata/bundles/two-node-iptables", "pod/default/pod1b", "svc/default/echo", "80", "-o", "json"}, 0},
		{"trace-dns-ok.txt", []string{"trace", "-b", "testdata/faults/dns.tar.gz", "--dns", "pod/default/pod1b", "svc/default/echo", "80"}, 0},
		{"trace-dns-udp-blocked.txt", []string{"trace", "-b", "testdata/faults/dns-udp-blocked.tar.gz", "--dns", "pod/default/pod1b", "pod/default/pod1a", "8080"}, 1},
		{"trace-dns-udp-blocked.json", []string{"trace", "-b", "testdata/faults/dns-udp-blocked.tar.gz", "--dns", "pod/default/pod1b", "pod/default/pod1a", "8080", "-o", "json"}, 1},
		{"trace-dns-no-service.txt", []string{"trace", "-b", "testdata/bundles/two-node-iptables", "--dns", "pod/default/pod1b", "pod/default/pod1a", "8080"}, 1},
		{"trace-two-node-outside.txt", []string{"trace", "-b", "testdata/bundles/two-node-iptables", "pod/default/pod1b", "8.8.8.8", "53", "udp"}, 3},
		{"trace-calico-ipip.txt", []string{"trace", "-b", "testdata/bundles/calico-ipip-synthetic", "default/a", "10.244.2.20", "8080"}, 0},
		{"policy-help.txt", []string{"policy", "--help"}, 0},
		{"policy-default-deny.txt", []string{"policy", "-b", "testdata/faults/networkpolicy-not-enforced.tar.gz", "pod/default/pod1a"}, 0},
		{"policy-default-deny.json", []string{"policy", "-b", "testdata/faults/networkpolicy-not-enforced.tar.gz", "10.244.1.2", "-o", "json"}, 0},
		{"trace-two-node-noep.yaml", []string{"trace", "-b", "testdata/bundles/two-node-iptables", "default/pod1b", "noep.default.svc", "80", "-o", "yaml"}, 1},
		{"inspect-two-node.txt", []string{"inspect", "-b", "testdata/bundles/two-node-iptables"}, 0},
		{"inspect-two-node.json", []string{"inspect", "-b", "testdata/bundles/two-node-iptables", "-o", "json"}, 0},
		{"import-ticket.txt", []string{"import", "testdata/tickets/two-node", "--cluster", "ticket-4711", "-o", filepath.Join(tmp, "b.tar.gz")}, 0},
		{"inspect-imported.txt", []string{"inspect", "-b", filepath.Join(tmp, "b.tar.gz")}, 0},
	}
	for _, c := range cases {
		out, errOut, code := run(t, c.args...)
		if code != c.code {
			t.Fatalf("%v: exit %d, want %d; stderr %s", c.args, code, c.code, errOut)
		}
		out = strings.ReplaceAll(out, tmp, "$TMP")
		out = stampRE.ReplaceAllString(out, "$1 <time>")
		golden.Check(t, gold(c.name), []byte(out))
	}
}

func TestExitCodesAndErrors(t *testing.T) {
	repoRoot(t)
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"inspect"}, 2, "inspect: -b BUNDLE is required"},
		{[]string{"inspect", "-b", "testdata/none"}, 2, "testdata/none"},
		{[]string{"inspect", "-b", "testdata/bundles/two-node-iptables", "-o", "xml"}, 2, `-o "xml"`},
		{[]string{"import", "testdata/tickets/two-node"}, 2, "-o OUT is required"},
		{[]string{"import", "testdata/tickets/two-node/notes.md", "-o", "/tmp/never"}, 2, "nothing in the sources is a format netsim reads"},
		{[]string{"import", "x", "--node", "a", "--node", "b", "-o", "o"}, 2, "only one --node may stand without =SOURCE"},
		{[]string{"bogus"}, 2, `unknown command "bogus"`},
		{[]string{"inspect", "--frobnicate"}, 2, "unknown flag: --frobnicate"},
		{[]string{"inspect", "-b", "testdata/malformed/bad-manifest"}, 2, "testdata/malformed/bad-manifest/manifest.yaml:2:"},
		{[]string{"inspect", "-b", "testdata/malformed/bad-objects"}, 1, ""},
	}
	for _, c := range cases {
		_, errOut, code := run(t, c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d stderr %q; want exit %d and %q", c.args, code, errOut, c.code, c.want)
		}
	}
}

func TestMalformedBundles(t *testing.T) {
	repoRoot(t)
	// Every malformed fixture is reported with its file and line.
	out, _, code := run(t, "inspect", "-b", "testdata/malformed/bad-objects")
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{
		"cluster/pods.yaml:9: malformed YAML",
		"cluster/services.json:7: malformed JSON",
		"cluster/nodes.yaml:6: Node: field spec.podCIDRs: cannot unmarshal JSON string into []string",
		"nodes/node1/route.json:3 (entry 2): route dst \"10.0.0.0/40\"",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect output lacks %q:\n%s", want, out)
		}
	}
}

func TestVersionAndCompletion(t *testing.T) {
	out, _, code := run(t, "version")
	if code != 0 || !strings.Contains(out, "bundle format: netsim-bundle/v1") {
		t.Errorf("version: %d %q", code, out)
	}
	out, _, code = run(t, "completion", "bash")
	if code != 0 || !strings.Contains(out, "bash completion") {
		t.Errorf("completion: %d %q", code, out[:min(len(out), 200)])
	}
}

// TestFaultBundles replays every frozen field-guide fault (testdata/faults: bundles dumped
// from the real testbed with the fault injected, and the verdicts the kernel confirmed)
// without root: the verdict must be the one the kernel agreed with, the exit code must
// follow it, and the text and JSON outputs must match their golden files.
func TestFaultBundles(t *testing.T) {
	root := repoRoot(t)
	scenarios := readScenarios(t, root, "testdata/faults/cases.json")
	if len(scenarios) < 26 {
		t.Fatalf("%d frozen scenarios, want the healthy ones and 17 faults", len(scenarios))
	}
	replay(t, root, scenarios, func(_ *testing.T, name string) string { return "testdata/faults/" + name + ".tar.gz" },
		"cmd/netsim/internal/root/testdata/faults", "", false)
}

// TestTraceUsage checks that trace's usage and bundle errors exit 2 with a message that
// says what is wrong.
func TestTraceUsage(t *testing.T) {
	repoRoot(t)
	b := "testdata/bundles/two-node-iptables"
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"trace", "pod/default/pod1b", "svc/default/echo", "80"}, "-b BUNDLE is required"},
		{[]string{"trace", "-b", b, "pod/default/pod1b", "svc/default/echo"}, "PORT is required for tcp"},
		{[]string{"trace", "-b", b, "pod/default/pod1b", "svc/default/echo", "70000"}, "want 1-65535"},
		{[]string{"trace", "-b", b, "pod/default/pod1b", "svc/default/echo", "80", "gre"}, `"gre": want a port`},
		{[]string{"trace", "-b", b, "pod/default/nope", "svc/default/echo", "80"}, "no pod default/nope"},
		{[]string{"trace", "-b", b, "pod/default/pod1b", "default/nothing", "80"}, "no pod or Service default/nothing"},
		{[]string{"trace", "-b", b, "pod/default/pod1b", "echo.default.svc.other.zone", "80"}, "want pod/NS/NAME"},
		{[]string{"trace", "-b", b, "pod/default/pod1b", "svc/default/echo", "80", "-o", "xml"}, "want text, json or yaml"},
		{[]string{"trace", "-b", "testdata/malformed/does-not-exist", "a/b", "c/d", "80"}, "does-not-exist"},
		{[]string{"trace", "-b", b, "pod/default/pod1b", "pod/default/pod2a", "icmp", "--size", "-1"}, "--size -1"},
	}
	for _, c := range cases {
		_, errOut, code := run(t, c.args...)
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, errOut, c.want)
		}
	}
}

// TestTraceWithoutNodeDump traces from a pod whose node has no dump: the API objects pick
// the endpoints, the paths go on from the endpoints' nodes, and the verdict is unknown
// (exit 3) with the missing node named.
func TestTraceWithoutNodeDump(t *testing.T) {
	root := repoRoot(t)
	dir := filepath.Join(t.TempDir(), "b")
	if err := os.CopyFS(dir, os.DirFS(filepath.Join(root, "testdata/bundles/two-node-iptables"))); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, "nodes/node1")); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := run(t, "trace", "-b", dir, "pod/default/pod1b", "svc/default/echo", "80")
	if code != 3 {
		t.Fatalf("exit %d, want 3 (unknown); stderr %s", code, errOut)
	}
	golden.Check(t, filepath.Join(root, "cmd/netsim/internal/root/testdata/trace-node1-missing.txt"), []byte(out))
}

// TestCheck runs `netsim check` on the healthy testbed bundle (every assertion holds) and
// on a frozen fault (a FORWARD DROP on node2): text, JSON and JUnit against golden files,
// with the exit codes CI relies on.
func TestCheck(t *testing.T) {
	root := repoRoot(t)
	gold := func(name string) string { return filepath.Join(root, "cmd/netsim/internal/root/testdata/check", name) }
	out, errOut, code := run(t, "check", "-b", "testdata/bundles/two-node-iptables", "-f", "testdata/expect/two-node.yaml")
	if code != 0 {
		t.Errorf("healthy bundle: exit %d, want 0\n%s%s", code, out, errOut)
	}
	golden.Check(t, gold("healthy.txt"), []byte(out))

	junit := filepath.Join(t.TempDir(), "junit.xml")
	out, errOut, code = run(t, "check", "-b", "testdata/faults/forward-drop.tar.gz", "-f", "testdata/expect/two-node.yaml", "--junit", junit)
	if code != 1 || !strings.Contains(errOut, "2 of 5 assertions do not hold") {
		t.Errorf("fault bundle: exit %d, want 1\n%s", code, errOut)
	}
	golden.Check(t, gold("forward-drop.txt"), []byte(out))
	x, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, gold("forward-drop.junit.xml"), x)
	if fi, err := os.Stat(junit); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("junit file mode: %v %v", fi.Mode(), err)
	}
	out, _, code = run(t, "check", "-b", "testdata/faults/forward-drop.tar.gz", "-f", "testdata/expect/two-node.yaml", "-o", "json")
	if code != 1 {
		t.Errorf("json: exit %d", code)
	}
	golden.Check(t, gold("forward-drop.json"), []byte(out))

	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("- name: a\n  from: pod/default/pod1b\n  to: svc/default/echo\n  port: 80\n  expect: perhaps\n"), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"check", "-f", "testdata/expect/two-node.yaml"}, "-b BUNDLE and -f EXPECT.yaml are required"},
		{[]string{"check", "-b", "testdata/bundles/two-node-iptables", "-f", bad}, "bad.yaml:1: assertion \"a\": expect \"perhaps\""},
		{[]string{"check", "-b", "testdata/bundles/two-node-iptables", "-f", "nosuch.yaml"}, "nosuch.yaml"},
		{[]string{"check", "-b", "nosuch", "-f", "testdata/expect/two-node.yaml"}, "nosuch"},
		{[]string{"check", "-b", "testdata/bundles/two-node-iptables", "-f", "testdata/expect/two-node.yaml", "-o", "xml"}, "want text or json"},
	} {
		_, errOut, code := run(t, c.args...)
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stderr %q, want 2 and %q", c.args, code, errOut, c.want)
		}
	}
}

// TestMatrix renders the matrix of a frozen kube-router bundle in every format against
// golden files.
func TestMatrix(t *testing.T) {
	root := repoRoot(t)
	gold := func(name string) string { return filepath.Join(root, "cmd/netsim/internal/root/testdata/matrix", name) }
	b := "testdata/faults/kube-router-allow-ns-y-to-x-a-named-port-80.tar.gz"
	for _, c := range []struct {
		args []string
		file string
	}{
		{[]string{"matrix", "-b", b}, "kube-router.txt"},
		{[]string{"matrix", "-b", b, "-n", "x", "-o", "csv"}, "kube-router-x.csv"},
		{[]string{"matrix", "-b", b, "-n", "x", "-o", "json"}, "kube-router-x.json"},
		{[]string{"matrix", "-b", b, "-o", "dot"}, "kube-router.dot"},
	} {
		out, errOut, code := run(t, c.args...)
		if code != 0 {
			t.Errorf("%v: exit %d: %s", c.args, code, errOut)
		}
		golden.Check(t, gold(c.file), []byte(out))
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"matrix"}, "-b BUNDLE is required"},
		{[]string{"matrix", "-b", b, "-o", "svg"}, "want table, csv, json or dot"},
		{[]string{"matrix", "-b", b, "-n", "nosuch"}, "-n nosuch: no such namespace"},
	} {
		_, errOut, code := run(t, c.args...)
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stderr %q, want 2 and %q", c.args, code, errOut, c.want)
		}
	}
}

// TestDiff diffs frozen testbed bundles (a FORWARD DROP added on node2; a policy set
// replaced) in every format against golden files, with diff's exit codes.
func TestDiff(t *testing.T) {
	root := repoRoot(t)
	gold := func(name string) string { return filepath.Join(root, "cmd/netsim/internal/root/testdata/diff", name) }
	healthy, drop := "testdata/faults/healthy.tar.gz", "testdata/faults/forward-drop.tar.gz"
	kr1, kr2 := "testdata/faults/kube-router-allow-ns-y-to-x-a-named-port-80.tar.gz", "testdata/faults/kube-router-service-endpoints-admit-pod2b-only.tar.gz"
	for _, c := range []struct {
		args []string
		file string
		code int
	}{
		{[]string{"diff", "-b", healthy, "-b", healthy}, "same.txt", 0},
		{[]string{"diff", "-b", healthy, "-b", drop}, "forward-drop.txt", 1},
		{[]string{"diff", "-b", healthy, "-b", drop, "-o", "json"}, "forward-drop.json", 1},
		{[]string{"diff", "-b", kr1, "-b", kr2, "-o", "markdown"}, "kube-router.md", 1},
	} {
		out, errOut, code := run(t, c.args...)
		if code != c.code {
			t.Errorf("%v: exit %d, want %d: %s", c.args, code, c.code, errOut)
		}
		golden.Check(t, gold(c.file), []byte(out))
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"diff", "-b", healthy}, "give two bundles"},
		{[]string{"diff", "-b", healthy, "-b", drop, "-o", "html"}, "want text, json or markdown"},
		{[]string{"diff", "-b", healthy, "-b", "nosuch"}, "nosuch"},
	} {
		_, errOut, code := run(t, c.args...)
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stderr %q, want 2 and %q", c.args, code, errOut, c.want)
		}
	}
}
