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
		{"inspect-help.txt", []string{"inspect", "--help"}, 0},
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
