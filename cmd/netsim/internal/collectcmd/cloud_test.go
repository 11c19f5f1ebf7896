//go:build !netsim_noaws && !netsim_nogcp

package collectcmd

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netsim/netsim/bundle"
	"github.com/netsim/netsim/collector/cloudexport/replay"
)

const secretKey = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

// awsServer answers every EC2 and ELB read with an empty list (the responses' shapes of
// the APIs' references), DescribeSecurityGroups with one group, and DescribeNatGateways
// with UnauthorizedOperation.
func awsServer(t *testing.T) *replay.Server {
	empty := func(r *replay.Request) string {
		a := r.Param("Action")
		if strings.HasPrefix(a, "Describe") && (strings.Contains(a, "LoadBalancers") || strings.Contains(a, "Listeners") ||
			strings.Contains(a, "TargetGroups") || strings.Contains(a, "Rules") || strings.Contains(a, "TargetHealth")) {
			return "<" + a + "Response><" + a + "Result/></" + a + "Response>"
		}
		return `<` + a + `Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>1</requestId></` + a + `Response>`
	}
	return replay.New(t,
		replay.Exchange{Name: "nat", Match: replay.Action("DescribeNatGateways"), Responses: []replay.Response{{Status: 403, ContentType: "text/xml",
			Body: `<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized to perform this operation.</Message></Error></Errors></Response>`}}},
		replay.Exchange{Name: "sg", Match: replay.Action("DescribeSecurityGroups"), Responses: []replay.Response{{ContentType: "text/xml",
			Body: `<DescribeSecurityGroupsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><securityGroupInfo><item><groupId>sg-1</groupId><groupName>nodes</groupName><vpcId>vpc-1</vpcId></item></securityGroupInfo></DescribeSecurityGroupsResponse>`}}},
		replay.Exchange{Name: "reads", Match: func(r *replay.Request) bool {
			a := r.Param("Action")
			return strings.HasPrefix(a, "Describe") || strings.HasPrefix(a, "Get") || strings.HasPrefix(a, "Search")
		}, Responses: []replay.Response{{ContentType: "text/xml", BodyFunc: empty}}},
	)
}

func awsEnv(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", secretKey)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CA_BUNDLE", "")
}

// `netsim collect --cloud aws` writes the exports under cloud/aws/, the denied call as a
// gap (exit 1), and no credential anywhere in the bundle.
func TestCollectCloudAWS(t *testing.T) {
	awsEnv(t)
	srv := awsServer(t)
	kc := fakeServer(t)
	out := filepath.Join(t.TempDir(), "b")
	stdout, stderr, code := runCmd("--kubeconfig", kc, "--nodes", "none", "-o", out,
		"--cloud", "aws", "--cloud-region", "eu-west-1", "--cloud-endpoint", srv.URL)
	if code != ExitGaps {
		t.Fatalf("exit %d, want %d\nstdout %s\nstderr %s", code, ExitGaps, stdout, stderr)
	}
	if !strings.Contains(stdout, "cloud aws: 11 export files") {
		t.Errorf("stdout:\n%s", stdout)
	}
	b, err := bundle.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, f := range []string{"cloud/aws/describe-instances.json", "cloud/aws/describe-security-groups.json", "cloud/aws/describe-target-groups.json"} {
		if !b.Exists(f) {
			t.Errorf("%s missing", f)
		}
	}
	var found bool
	for _, g := range b.Manifest.Gaps {
		if g.Scope == "cloud/aws/describe-nat-gateways.json" && strings.Contains(g.Reason, "ec2:DescribeNatGateways") {
			found = true
		}
	}
	if !found {
		t.Errorf("no gap for the denied call: %+v", b.Manifest.Gaps)
	}
	// The bundle is a folder: every byte of it is searched for the credentials.
	err = filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if strings.Contains(string(data), "AKIDEXAMPLE") || strings.Contains(string(data), secretKey) {
			t.Errorf("%s holds the credentials", p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range srv.Requests() {
		if r.Header.Get("Authorization") == "" || !strings.Contains(r.Header.Get("Authorization"), "eu-west-1") {
			t.Errorf("%s not signed for the region: %q", r.Param("Action"), r.Header.Get("Authorization"))
		}
	}
}

func TestCollectCloudUsage(t *testing.T) {
	kc := fakeServer(t)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--cloud-region", "eu-west-1"}, "--cloud-region needs --cloud PROVIDER"},
		{[]string{"--cloud", "ibm"}, "--cloud ibm: want one of"},
		{[]string{"--cloud", "gcp", "--cloud-region", "eu-west-1"}, "--cloud gcp does not read --cloud-region"},
		{[]string{"--cloud", "aws", "--cloud-project", "p"}, "--cloud aws does not read --cloud-project"},
	}
	for _, c := range cases {
		_, stderr, code := runCmd(append([]string{"--kubeconfig", kc, "-o", filepath.Join(t.TempDir(), "x")}, c.args...)...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, stderr, c.want)
		}
	}
}
