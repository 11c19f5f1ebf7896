package diagnosecmd

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netsim/netsim/cmd/netsim/internal/streams"
	"github.com/netsim/netsim/internal/golden"
)

// run executes `netsim diagnose` from the repository root, so paths in output are stable.
func run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := NewCommand(streams.IO{In: strings.NewReader(""), Out: &out, Err: &errb})
	cmd.SetArgs(append([]string{}, args...)) // never nil: cobra would read os.Args
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err := cmd.Execute()
	if err != nil {
		errb.WriteString(err.Error())
	}
	return out.String(), errb.String(), streams.Code(err)
}

func TestGolden(t *testing.T) {
	t.Chdir("../../../..")
	gold := func(name string) string { return filepath.Join("cmd/netsim/internal/diagnosecmd/testdata", name) }
	cases := []struct {
		name string
		args []string
		code int
	}{
		{"forward-drop.txt", []string{"-b", "testdata/faults/forward-drop.tar.gz"}, 1},
		{"forward-drop.json", []string{"-b", "testdata/faults/forward-drop.tar.gz", "-o", "json"}, 1},
		{"healthy.txt", []string{"-b", "testdata/faults/healthy.tar.gz"}, 0},
		{"kube-proxy-gone.json", []string{"-b", "testdata/faults/kube-proxy-gone.tar.gz", "-o", "json"}, 1},
		{"rp-filter-asymmetric.txt", []string{"-b", "testdata/faults/rp-filter-asymmetric.tar.gz"}, 1},
		{"two-node.txt", []string{"-b", "testdata/bundles/two-node-iptables"}, 0},
	}
	for _, c := range cases {
		out, errOut, code := run(t, c.args...)
		if code != c.code {
			t.Fatalf("%v: exit %d, want %d; stderr %s", c.args, code, c.code, errOut)
		}
		golden.Check(t, gold(c.name), []byte(out))
	}
}

func TestUsage(t *testing.T) {
	t.Chdir("../../../..")
	cases := []struct {
		args []string
		want string
	}{
		{nil, "-b BUNDLE is required"},
		{[]string{"-b", "testdata/faults/healthy.tar.gz", "-o", "yaml"}, `-o "yaml": want text or json`},
		{[]string{"-b", "testdata/malformed/does-not-exist"}, "does-not-exist"},
		{[]string{"-b", "testdata/malformed/bad-manifest"}, "testdata/malformed/bad-manifest/manifest.yaml:2:"},
		{[]string{"-b", "testdata/faults/healthy.tar.gz", "extra"}, "unknown command"},
	}
	for _, c := range cases {
		_, errOut, code := run(t, c.args...)
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, errOut, c.want)
		}
	}
}
