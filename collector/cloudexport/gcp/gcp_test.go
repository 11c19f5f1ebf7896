package gcp

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	cloudgcp "github.com/netsim/netsim/cloud/gcp"
	"github.com/netsim/netsim/collector/cloudexport"
	"github.com/netsim/netsim/collector/cloudexport/replay"
	"gopkg.in/yaml.v3"
)

// The bodies follow the Compute Engine API reference's resource representations
// (https://cloud.google.com/compute/docs/reference/rest/v1/instances/aggregatedList and
// the like): aggregated lists keyed by "zones/Z" or "regions/R", pages by nextPageToken,
// errors as {"error": {"code", "message", "errors": [{"reason"}]}}.

const base = "/compute/v1/projects/proj"

const (
	throttled429 = `{"error":{"code":429,"message":"Quota exceeded for quota metric 'Read requests'","errors":[{"message":"Rate Limit Exceeded","domain":"usageLimits","reason":"rateLimitExceeded"}]}}`
	throttled403 = `{"error":{"code":403,"message":"Rate Limit Exceeded","errors":[{"message":"Rate Limit Exceeded","domain":"usageLimits","reason":"rateLimitExceeded"}]}}`
	denied403    = `{"error":{"code":403,"message":"Required 'compute.networks.list' permission for 'projects/proj'","errors":[{"message":"Required 'compute.networks.list' permission for 'projects/proj'","domain":"global","reason":"forbidden"}]}}`

	nodeA = `{"kind":"compute#instance","id":"1001","name":"node-a","zone":"https://www.googleapis.com/compute/v1/projects/proj/zones/us-central1-a",
"tags":{"items":["gke-node"]},"canIpForward":true,"status":"RUNNING",
"serviceAccounts":[{"email":"nodes@proj.iam.gserviceaccount.com","scopes":["https://www.googleapis.com/auth/cloud-platform"]}],
"networkInterfaces":[{"name":"nic0","network":"https://www.googleapis.com/compute/v1/projects/proj/global/networks/vpc",
"subnetwork":"https://www.googleapis.com/compute/v1/projects/proj/regions/us-central1/subnetworks/nodes","networkIP":"10.128.0.2",
"aliasIpRanges":[{"ipCidrRange":"10.4.0.0/24","subnetworkRangeName":"pods"}],
"accessConfigs":[{"type":"ONE_TO_ONE_NAT","name":"External NAT","natIP":"34.1.2.3"}]}]}`
	nodeB = `{"kind":"compute#instance","id":"1002","name":"node-b","zone":"https://www.googleapis.com/compute/v1/projects/proj/zones/us-central1-b",
"tags":{"items":["gke-node"]},"networkInterfaces":[{"name":"nic0","network":"https://www.googleapis.com/compute/v1/projects/proj/global/networks/vpc",
"subnetwork":"https://www.googleapis.com/compute/v1/projects/proj/regions/us-central1/subnetworks/nodes","networkIP":"10.128.0.3"}]}`

	firewalls = `{"kind":"compute#firewallList","items":[{"kind":"compute#firewall","name":"allow-nodeports","network":"https://www.googleapis.com/compute/v1/projects/proj/global/networks/vpc",
"priority":1000,"direction":"INGRESS","sourceRanges":["130.211.0.0/22","35.191.0.0/16"],"targetTags":["gke-node"],
"allowed":[{"IPProtocol":"tcp","ports":["30000-32767"]}],"disabled":false}]}`
	routes = `{"kind":"compute#routeList","items":[{"kind":"compute#route","name":"default-internet","network":"https://www.googleapis.com/compute/v1/projects/proj/global/networks/vpc",
"destRange":"0.0.0.0/0","priority":1000,"nextHopGateway":"https://www.googleapis.com/compute/v1/projects/proj/global/gateways/default-internet-gateway"}]}`
	subnets = `{"kind":"compute#subnetworkAggregatedList","items":{"regions/us-central1":{"subnetworks":[{"kind":"compute#subnetwork","name":"nodes",
"network":"https://www.googleapis.com/compute/v1/projects/proj/global/networks/vpc","region":"https://www.googleapis.com/compute/v1/projects/proj/regions/us-central1",
"ipCidrRange":"10.128.0.0/20","secondaryIpRanges":[{"rangeName":"pods","ipCidrRange":"10.4.0.0/14"}]}]},
"regions/europe-west1":{"warning":{"code":"NO_RESULTS_ON_PAGE","message":"There are no results for scope 'regions/europe-west1' on this page."}}}}`
	fwdRules = `{"kind":"compute#forwardingRuleAggregatedList","items":{"regions/us-central1":{"forwardingRules":[{"kind":"compute#forwardingRule","name":"a1b2c3",
"region":"https://www.googleapis.com/compute/v1/projects/proj/regions/us-central1","IPAddress":"35.9.9.9","IPProtocol":"TCP","portRange":"80-80",
"loadBalancingScheme":"EXTERNAL","target":"https://www.googleapis.com/compute/v1/projects/proj/regions/us-central1/targetPools/a1b2c3"}]}}}`
	pools = `{"kind":"compute#targetPoolAggregatedList","items":{"regions/us-central1":{"targetPools":[{"kind":"compute#targetPool","name":"a1b2c3",
"region":"https://www.googleapis.com/compute/v1/projects/proj/regions/us-central1",
"instances":["https://www.googleapis.com/compute/v1/projects/proj/zones/us-central1-a/instances/node-a","https://www.googleapis.com/compute/v1/projects/proj/zones/us-central1-b/instances/node-b"]}]}}}`
	backendSvcs = `{"kind":"compute#backendServiceAggregatedList","items":{"regions/us-central1":{"backendServices":[{"kind":"compute#backendService","name":"k8s-ilb",
"region":"https://www.googleapis.com/compute/v1/projects/proj/regions/us-central1","loadBalancingScheme":"INTERNAL","protocol":"TCP",
"backends":[{"group":"https://www.googleapis.com/compute/v1/projects/proj/zones/us-central1-a/instanceGroups/k8s-ig-a"}]}]}}}`
	healthChecks = `{"kind":"compute#healthCheckAggregatedList","items":{"global":{"healthChecks":[{"kind":"compute#healthCheck","name":"k8s-hc","type":"HTTP","httpHealthCheck":{"port":10256,"requestPath":"/healthz"}}]}}}`
	routers      = `{"kind":"compute#routerAggregatedList","items":{"regions/us-central1":{"routers":[{"kind":"compute#router","name":"nat-router",
"region":"https://www.googleapis.com/compute/v1/projects/proj/regions/us-central1","network":"https://www.googleapis.com/compute/v1/projects/proj/global/networks/vpc",
"nats":[{"name":"nat","sourceSubnetworkIpRangesToNat":"ALL_SUBNETWORKS_ALL_IP_RANGES","natIpAllocateOption":"AUTO_ONLY"}]},
{"kind":"compute#router","name":"bgp-only","region":"https://www.googleapis.com/compute/v1/projects/proj/regions/us-central1","network":"https://www.googleapis.com/compute/v1/projects/proj/global/networks/vpc"}]}}}`
	natMap = `{"kind":"compute#vmEndpointNatMappingsList","result":[{"instanceName":"node-b","interfaceNatMappings":[{"sourceVirtualIp":"10.128.0.3",
"natIpPortRanges":["34.5.6.7:1024-2047"],"numTotalNatPorts":1024}]}]}`
)

func fixture(t *testing.T) *replay.Server {
	get := func(p string, extra ...replay.Matcher) replay.Matcher {
		if strings.HasPrefix(p, "/aggregated/") {
			// unreachables is only answered to a request that opts in to partial success.
			extra = append(extra, replay.Query("returnPartialSuccess", "true"))
		}
		return replay.All(append([]replay.Matcher{replay.Method("GET"), replay.Path(base + p)}, extra...)...)
	}
	ok := func(b string) []replay.Response {
		return []replay.Response{{ContentType: "application/json; charset=UTF-8", Body: b}}
	}
	return replay.New(t,
		replay.Exchange{Name: "instances/1", Match: get("/aggregated/instances", replay.Query("pageToken", "")), Responses: []replay.Response{
			{Status: 429, ContentType: "application/json", Body: throttled429},
			{ContentType: "application/json", Body: `{"kind":"compute#instanceAggregatedList","items":{"zones/us-central1-a":{"instances":[` + nodeA + `]}},"nextPageToken":"pg2"}`},
		}},
		replay.Exchange{Name: "instances/2", Match: get("/aggregated/instances", replay.Query("pageToken", "pg2")),
			Responses: ok(`{"kind":"compute#instanceAggregatedList","items":{"zones/us-central1-b":{"instances":[` + nodeB + `]},"zones/us-east1-b":{"warning":{"code":"NO_RESULTS_ON_PAGE"}}},"unreachables":["zones/asia-east1-a"]}`)},
		replay.Exchange{Name: "firewalls", Match: get("/global/firewalls"), Responses: []replay.Response{
			{Status: 403, ContentType: "application/json", Body: throttled403},
			{ContentType: "application/json", Body: firewalls},
		}},
		replay.Exchange{Name: "routes", Match: get("/global/routes"), Responses: ok(routes)},
		replay.Exchange{Name: "networks", Match: get("/global/networks"), Responses: []replay.Response{{Status: 403, ContentType: "application/json", Body: denied403}}},
		replay.Exchange{Name: "subnetworks", Match: get("/aggregated/subnetworks"), Responses: ok(subnets)},
		replay.Exchange{Name: "forwardingRules", Match: get("/aggregated/forwardingRules"), Responses: ok(fwdRules)},
		replay.Exchange{Name: "targetPools", Match: get("/aggregated/targetPools"), Responses: ok(pools)},
		replay.Exchange{Name: "targetPools.getHealth", Match: replay.All(replay.Method("POST"), replay.Path(base+"/regions/us-central1/targetPools/a1b2c3/getHealth")),
			Responses: []replay.Response{{Status: 503, ContentType: "application/json", Body: `{"error":{"code":503,"message":"Backend Error"}}`}, {ContentType: "application/json", BodyFunc: func(r *replay.Request) string {
				inst, _ := r.JSON("instance").(string)
				state := "HEALTHY"
				if strings.HasSuffix(inst, "/node-b") {
					state = "UNHEALTHY"
				}
				return `{"kind":"compute#targetPoolInstanceHealth","healthStatus":[{"healthState":"` + state + `","instance":"` + inst + `","ipAddress":"35.9.9.9","port":80}]}`
			}}}},
		replay.Exchange{Name: "backendServices", Match: get("/aggregated/backendServices"), Responses: ok(backendSvcs)},
		replay.Exchange{Name: "regionBackendServices.getHealth", Match: replay.All(replay.Method("POST"), replay.Path(base+"/regions/us-central1/backendServices/k8s-ilb/getHealth")),
			Responses: ok(`{"kind":"compute#backendServiceGroupHealth","healthStatus":[{"healthState":"HEALTHY","instance":"https://www.googleapis.com/compute/v1/projects/proj/zones/us-central1-a/instances/node-a","ipAddress":"10.128.0.2","port":80}]}`)},
		replay.Exchange{Name: "healthChecks", Match: get("/aggregated/healthChecks"), Responses: ok(healthChecks)},
		replay.Exchange{Name: "routers", Match: get("/aggregated/routers"), Responses: ok(routers)},
		replay.Exchange{Name: "routers.getNatMappingInfo", Match: get("/regions/us-central1/routers/nat-router/getNatMappingInfo"), Responses: ok(natMap)},
	)
}

func fastRetries(t *testing.T) {
	old := BaseDelay
	BaseDelay = time.Millisecond
	t.Cleanup(func() { BaseDelay = old })
}

func TestExportParsesThrough(t *testing.T) {
	fastRetries(t)
	srv := fixture(t)
	out := replay.NewSink(t)
	gaps, err := Export(context.Background(), cloudexport.Options{Project: "proj", Endpoint: srv.URL, HTTPClient: srv.Client()}, out.Put)
	if err != nil {
		t.Fatal(err)
	}

	for _, r := range srv.Requests() {
		if r.Method != "GET" && !strings.HasSuffix(r.Path, "/getHealth") {
			t.Errorf("a call that is not a read: %s %s", r.Method, r.Path)
		}
		if p := permissionOf(r.Path); !slices.Contains(Permissions, p) {
			t.Errorf("%s %s needs %q, which is not in Permissions", r.Method, r.Path, p)
		}
	}
	if r := srv.Served("instances/1"); len(r) != 2 || r[0].Status != 429 {
		t.Errorf("instances page 1: want a 429 then a retry, got %d requests", len(r))
	}
	if r := srv.Served("instances/2"); len(r) != 1 {
		t.Errorf("instances page 2 asked %d times", len(r))
	}
	if r := srv.Served("firewalls"); len(r) != 2 || r[0].Status != 403 {
		t.Errorf("firewalls: want a 403 rateLimitExceeded then a retry, got %d requests", len(r))
	}
	if r := srv.Served("networks"); len(r) != 1 {
		t.Errorf("a 403 forbidden was asked %d times; it is not to be retried", len(r))
	}
	// getHealth is a POST: the retry after the 503 sends the same body again.
	if r := srv.Served("targetPools.getHealth"); len(r) != 3 || r[0].Status != 503 || r[0].JSON("instance") != r[1].JSON("instance") ||
		!strings.HasSuffix(fmt.Sprint(r[1].JSON("instance")), "/node-a") || !strings.HasSuffix(fmt.Sprint(r[2].JSON("instance")), "/node-b") {
		t.Errorf("getHealth requests %+v; want node-a (throttled, then again), node-b", r)
	}
	if r := srv.Served("routers.getNatMappingInfo"); len(r) != 1 {
		t.Errorf("getNatMappingInfo asked %d times, want once (only nat-router has a NAT)", len(r))
	}

	// A zone the aggregated list could not reach is a gap on the file that lacks it; the
	// denied call is a gap naming the call and its permission.
	if len(gaps) != 2 || gaps[0].Scope != "cloud/gcp/instances.json" || !strings.Contains(gaps[0].Reason, "zones/asia-east1-a") ||
		gaps[1].Scope != "cloud/gcp/networks.json" || !strings.Contains(gaps[1].Reason, "networks.list failed (it needs the IAM permission compute.networks.list)") {
		t.Errorf("gaps = %+v", gaps)
	}
	want := []string{"backend-service-health/k8s-ilb.json", "backend-services.json", "firewall-rules.json", "forwarding-rules.json",
		"health-checks.json", "instances.json", "nat-mapping/nat-router.json", "routers.json", "routes.json", "subnets.json",
		"target-pool-health/a1b2c3.json", "target-pools.json"}
	for n, d := range out.Files {
		if !strings.HasPrefix(string(d), "[") || strings.Contains(string(d), "HTTPStatusCode") || strings.Contains(string(d), "null") {
			t.Errorf("%s is not the JSON list gcloud prints (or holds the client's response metadata, or nulls):\n%s", n, d)
		}
	}
	files := out.Sources("cloud/gcp")
	if got := out.Names(); !slices.Equal(got, want) {
		t.Errorf("files:\n got %q\nwant %q", got, want)
	}

	x, err := cloudgcp.Parse("cloud/gcp", files)
	if err != nil {
		t.Fatal(err)
	}
	if len(x.Instances) != 2 || x.Instances[0].Name != "node-a" || x.Instances[1].Name != "node-b" {
		t.Fatalf("instances %+v", x.Instances)
	}
	a := x.Instances[0]
	if !a.CanIPForward || !slices.Equal(a.Tags, []string{"gke-node"}) || len(a.NICs) != 1 || a.NICs[0].IP != netip.MustParseAddr("10.128.0.2") ||
		a.NICs[0].NatIP != netip.MustParseAddr("34.1.2.3") || len(a.NICs[0].Aliases) != 1 || !slices.Equal(a.SAs, []string{"nodes@proj.iam.gserviceaccount.com"}) {
		t.Errorf("node-a %+v nic %+v", a, a.NICs[0])
	}
	if len(x.Firewalls) != 1 || !x.Firewalls[0].Ingress || x.Firewalls[0].Priority != 1000 || len(x.Firewalls[0].SrcRanges) != 2 ||
		len(x.Firewalls[0].Matches) != 1 {
		t.Errorf("firewalls %+v", x.Firewalls)
	}
	if len(x.Routes) != 1 || x.Routes[0].Dest != netip.MustParsePrefix("0.0.0.0/0") || x.Routes[0].Hop != "default-internet-gateway" {
		t.Errorf("routes %+v", x.Routes)
	}
	if len(x.Subnets) != 1 {
		t.Errorf("subnets %+v", x.Subnets)
	}
	if len(x.Rules) != 1 || x.Rules[0].IP != netip.MustParseAddr("35.9.9.9") {
		t.Errorf("forwarding rules %+v", x.Rules)
	}
	if h := x.PoolHealth["a1b2c3"]; len(h) != 2 || h[0].State != "HEALTHY" || h[1].State != "UNHEALTHY" || h[1].Instance != "node-b" {
		t.Errorf("pool health %+v", h)
	}
	if h := x.ServiceHealth["k8s-ilb"]; len(h) != 1 || h[0].Group != "k8s-ig-a" || h[0].IP != netip.MustParseAddr("10.128.0.2") {
		t.Errorf("backend service health %+v", h)
	}
	if len(x.Routers) != 2 || len(x.NATMappings["nat-router"]) != 1 {
		t.Errorf("routers %+v mappings %+v", x.Routers, x.NATMappings)
	}
	if hc := x.HealthChecks["k8s-hc"]; hc == nil || hc.Port != 10256 {
		t.Errorf("health check %+v", hc)
	}
	// The backend service's health is the list gcloud prints: backend and status.
	var bsh []struct {
		Backend string
		Status  struct {
			HealthStatus []struct{ HealthState string }
		}
	}
	if err := json.Unmarshal(out.Files["backend-service-health/k8s-ilb.json"], &bsh); err != nil || len(bsh) != 1 || len(bsh[0].Status.HealthStatus) != 1 {
		t.Errorf("backend service health file: %v %s", err, out.Files["backend-service-health/k8s-ilb.json"])
	}
}

// Throttling that does not end fails the call after Attempts tries, as a gap.
func TestThrottledToTheEnd(t *testing.T) {
	fastRetries(t)
	empty := func(p string) replay.Exchange {
		return replay.Exchange{Name: p, Match: replay.Path(base + p), Responses: []replay.Response{{ContentType: "application/json", Body: `{}`}}}
	}
	srv := replay.New(t,
		replay.Exchange{Name: "instances", Match: replay.Path(base + "/aggregated/instances"),
			Responses: []replay.Response{{Status: 503, ContentType: "application/json", Body: `{"error":{"code":503,"message":"Backend Error"}}`}}},
		empty("/global/firewalls"), empty("/global/routes"), empty("/global/networks"), empty("/aggregated/subnetworks"),
		empty("/aggregated/forwardingRules"), empty("/aggregated/targetPools"), empty("/aggregated/backendServices"),
		empty("/aggregated/healthChecks"), empty("/aggregated/routers"),
	)
	out := replay.NewSink(t)
	gaps, err := Export(context.Background(), cloudexport.Options{Project: "proj", Endpoint: srv.URL, HTTPClient: srv.Client()}, out.Put)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(srv.Served("instances")); n != Attempts {
		t.Errorf("instances asked %d times, want %d", n, Attempts)
	}
	if len(gaps) != 1 || gaps[0].Scope != "cloud/gcp/instances.json" || !strings.Contains(gaps[0].Reason, "503") {
		t.Errorf("gaps %+v", gaps)
	}
	if _, ok := out.Files["instances.json"]; ok {
		t.Error("instances.json written though its call failed")
	}
	if string(out.Files["routes.json"]) != "[]\n" {
		t.Errorf("an empty list is written as []: %q", out.Files["routes.json"])
	}
}

func TestNoProject(t *testing.T) {
	t.Setenv("CLOUDSDK_CORE_PROJECT", "")
	t.Setenv("GOOGLE_CLOUD_PROJECT", "")
	srv := replay.New(t)
	_, err := Export(context.Background(), cloudexport.Options{Endpoint: srv.URL, HTTPClient: srv.Client()}, nil)
	if err == nil || !strings.Contains(err.Error(), "--cloud-project") {
		t.Errorf("err = %v", err)
	}
}

// deploy/cloud/gcp-role.yaml grants exactly the permissions Export needs.
func TestRoleFile(t *testing.T) {
	data, err := os.ReadFile("../../../deploy/cloud/gcp-role.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var role struct {
		Title               string   `yaml:"title"`
		Stage               string   `yaml:"stage"`
		IncludedPermissions []string `yaml:"includedPermissions"`
	}
	if err := yaml.Unmarshal(data, &role); err != nil {
		t.Fatal(err)
	}
	if role.Title == "" || role.Stage == "" {
		t.Errorf("role %+v lacks a title or stage", role)
	}
	replay.SameSet(t, "role permissions against Permissions", role.IncludedPermissions, Permissions)
}

// A stalled endpoint fails each try after TryTimeout; the try is repeated, then the
// call is a gap. Nothing hangs.
func TestStalledTries(t *testing.T) {
	fastRetries(t)
	oldT, oldA := TryTimeout, Attempts
	TryTimeout, Attempts = 50*time.Millisecond, 2
	t.Cleanup(func() { TryTimeout, Attempts = oldT, oldA })
	srv := replay.Stalled(t)
	gaps, err := Export(context.Background(), cloudexport.Options{Project: "proj", Endpoint: srv.URL, HTTPClient: srv.Client()}, func(string, []byte) {
		t.Error("a file was written")
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(gaps) == 0 || gaps[0].Scope != "cloud/gcp/instances.json" {
		t.Fatalf("gaps %+v", gaps)
	}
	// instances.aggregatedList was tried twice.
	var n int
	for _, r := range srv.Requests() {
		if strings.HasSuffix(r.Path, "/aggregated/instances") {
			n++
		}
	}
	if n != 2 {
		t.Errorf("instances asked %d times, want %d", n, 2)
	}
}

// permissionOf is the IAM permission the Compute Engine API reference names for a call,
// by its path below the project.
func permissionOf(p string) string {
	p = strings.TrimPrefix(p, base+"/")
	parts := strings.Split(p, "/")
	switch {
	case parts[0] == "aggregated" && len(parts) == 2:
		return "compute." + parts[1] + ".list" // the aggregated list of a kind
	case parts[0] == "global" && len(parts) == 2:
		return "compute." + parts[1] + ".list"
	case parts[0] == "global" && len(parts) == 4: // global/backendServices/NAME/getHealth
		return "compute." + parts[1] + ".get"
	case parts[0] == "regions" && len(parts) == 5 && parts[2] == "backendServices":
		return "compute.regionBackendServices.get"
	case parts[0] == "regions" && len(parts) == 5: // regions/R/KIND/NAME/getHealth|getNatMappingInfo
		return "compute." + parts[2] + ".get"
	}
	return "unknown call " + p
}

// Odd answers (null items, a backend service with a null backend) are written as they
// came, never a panic on the SDK's nil pointers.
func TestNullItems(t *testing.T) {
	fastRetries(t)
	body := func(p, b string) replay.Exchange {
		return replay.Exchange{Name: p, Match: replay.Path(base + p), Responses: []replay.Response{{ContentType: "application/json", Body: b}}}
	}
	srv := replay.New(t,
		body("/aggregated/instances", `{"items":{"zones/a":{"instances":[null]}}}`),
		body("/global/firewalls", `{"items":[null]}`), body("/global/routes", `{}`), body("/global/networks", `{}`),
		body("/aggregated/subnetworks", `{}`), body("/aggregated/forwardingRules", `{}`),
		body("/aggregated/targetPools", `{"items":{"regions/r":{"targetPools":[null,{"name":"p","region":"regions/r","instances":[]}]}}}`),
		body("/aggregated/backendServices", `{"items":{"global":{"backendServices":[null,{"name":"b","backends":[null]}]}}}`),
		body("/aggregated/healthChecks", `{}`),
		body("/aggregated/routers", `{"items":{"regions/r":{"routers":[null,{"name":"r","region":"regions/r"}]}}}`),
	)
	out := replay.NewSink(t)
	if _, err := Export(context.Background(), cloudexport.Options{Project: "proj", Endpoint: srv.URL, HTTPClient: srv.Client()}, out.Put); err != nil {
		t.Fatal(err)
	}
	if string(out.Files["target-pool-health/p.json"]) != "[]\n" || string(out.Files["backend-service-health/b.json"]) != "[]\n" {
		t.Errorf("health files %q %q", out.Files["target-pool-health/p.json"], out.Files["backend-service-health/b.json"])
	}
}
