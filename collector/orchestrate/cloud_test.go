package orchestrate

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netsim/netsim/bundle"
	"github.com/netsim/netsim/collector/cloudexport"
	_ "github.com/netsim/netsim/collector/cloudexport/gcp" // registers "gcp"
	"github.com/netsim/netsim/collector/cloudexport/replay"
)

func init() {
	// An exporter that names a file outside its folder, and one that writes bad JSON.
	cloudexport.Register("test-unruly", func(ctx context.Context, o cloudexport.Options, put cloudexport.Put) ([]bundle.Gap, error) {
		put("../../nodes/node1/iptables-save.txt", []byte(`{}`))
		put("ok.json", []byte(`[]`))
		put("half.json", []byte(`[{"a":`))
		return nil, nil
	})
}

// gcpServer answers every list the gcp exporter makes with an empty one, and networks.list
// with a 403 for want of its permission.
func gcpServer(t *testing.T) *replay.Server {
	const base = "/compute/v1/projects/proj"
	return replay.New(t,
		replay.Exchange{Name: "networks", Match: replay.Path(base + "/global/networks"), Responses: []replay.Response{{Status: 403, ContentType: "application/json",
			Body: `{"error":{"code":403,"message":"Required 'compute.networks.list' permission for 'projects/proj'","errors":[{"reason":"forbidden"}]}}`}}},
		replay.Exchange{Name: "lists", Match: replay.All(replay.Method("GET"), replay.PathPrefix(base+"/")),
			Responses: []replay.Response{{ContentType: "application/json", Body: `{}`}}},
	)
}

func TestCollectCloud(t *testing.T) {
	handMade := t.TempDir()
	os.MkdirAll(filepath.Join(handMade, "aws"), 0o755)
	os.WriteFile(filepath.Join(handMade, "aws", "describe-security-groups.json"), []byte(`{"SecurityGroups": []}`), 0o644)
	clashing := t.TempDir()
	os.MkdirAll(filepath.Join(clashing, "gcp"), 0o755)
	os.WriteFile(filepath.Join(clashing, "gcp", "routes.json"), []byte(`[]`), 0o644)

	cases := []struct {
		name      string
		cloud     string
		dir       string
		project   string
		wantErr   string
		wantFiles []string
		wantGaps  []string // failure scopes
		noFiles   []string
	}{
		{name: "gcp through the API; a denied call is a failure naming its permission", cloud: "gcp", project: "proj",
			wantFiles: []string{"cloud/gcp/instances.json", "cloud/gcp/firewall-rules.json", "cloud/gcp/routers.json"},
			wantGaps:  []string{"cloud/gcp/networks.json: networks.list failed (it needs the IAM permission compute.networks.list)"},
			noFiles:   []string{"cloud/gcp/networks.json"}},
		{name: "combined with another provider's hand-made exports", cloud: "gcp", project: "proj", dir: handMade,
			wantFiles: []string{"cloud/gcp/routes.json", "cloud/aws/describe-security-groups.json"},
			wantGaps:  []string{"cloud/gcp/networks.json: networks.list failed"}},
		{name: "hand-made exports of the same provider clash", cloud: "gcp", project: "proj", dir: clashing,
			wantErr: "--cloud gcp and --cloud-export both hold cloud/gcp/routes.json"},
		{name: "an unknown provider names the known ones", cloud: "ibm", wantErr: "--cloud ibm: not a provider this netsim exports (gcp"},
		{name: "an exporter that cannot start stops the run", cloud: "gcp", wantErr: "--cloud gcp: gcp: no project"},
		{name: "files outside cloud/PROVIDER/ and invalid JSON are refused", cloud: "test-unruly",
			wantFiles: []string{"cloud/test-unruly/ok.json"},
			wantGaps:  []string{"cloud/test-unruly/../../nodes/node1/iptables-save.txt: the exporter produced", "cloud/test-unruly/half.json: the exporter produced"},
			noFiles:   []string{"nodes/node1/iptables-save.txt", "cloud/test-unruly/half.json"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("CLOUDSDK_CORE_PROJECT", "")
			t.Setenv("GOOGLE_CLOUD_PROJECT", "")
			srv := gcpServer(t)
			res, err := Collect(context.Background(), Options{API: fakeAPI(1), CloudDir: c.dir, Cloud: c.cloud,
				CloudOptions: cloudexport.Options{Project: c.project, Endpoint: srv.URL, HTTPClient: srv.Client()}})
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
				if len(srv.Requests()) != 0 {
					t.Errorf("the provider was called %d times before the run stopped", len(srv.Requests()))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range c.wantFiles {
				if !res.Bundle.Has(f) {
					t.Errorf("%s missing from %v", f, res.Bundle.Names())
				}
			}
			for _, f := range c.noFiles {
				if res.Bundle.Has(f) {
					t.Errorf("%s written", f)
				}
			}
			var failures, manifest []string
			for _, g := range res.Failures {
				failures = append(failures, g.Scope+": "+g.Reason)
			}
			for _, g := range res.Manifest.Gaps {
				manifest = append(manifest, g.Scope+": "+g.Reason)
			}
			for _, w := range c.wantGaps {
				if !containsPrefix(failures, w) || !containsPrefix(manifest, w) {
					t.Errorf("failures %q / manifest gaps %q lack %q", failures, manifest, w)
				}
			}
			var cloudFailures int
			for _, f := range failures {
				if strings.HasPrefix(f, "cloud/") {
					cloudFailures++
				}
			}
			if cloudFailures != len(c.wantGaps) {
				t.Errorf("cloud failures %q, want %q", failures, c.wantGaps)
			}
		})
	}
}

func containsPrefix(ss []string, p string) bool {
	for _, s := range ss {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
