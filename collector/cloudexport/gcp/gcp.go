// Package gcp exports a Google Cloud project's network state for `netsim collect
// --cloud gcp` through the Compute Engine API's Go client (google.golang.org/api/compute/v1),
// writing the files cloud/gcp reads, each the JSON list `gcloud compute ... list
// --format=json` prints: the API's items, merged over pages, zones and regions.
//
// Credentials are Application Default Credentials, as `gcloud auth application-default
// login` writes them (or GOOGLE_APPLICATION_CREDENTIALS, or the metadata server on a
// Google Cloud machine), with the compute.readonly scope; nothing of them is written
// into the bundle. deploy/cloud/gcp-role.yaml is a custom role with only the
// permissions the calls need. A call that fails is a gap naming it and its permission.
//
// The Go client does not retry, so a transport retries what the Compute Engine docs say
// to retry with exponential backoff: 429, 403 rateLimitExceeded/userRateLimitExceeded
// and 5xx (https://cloud.google.com/compute/docs/api/best-practices).
package gcp

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	compute "google.golang.org/api/compute/v1"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"

	"github.com/netsim/netsim/bundle"
	"github.com/netsim/netsim/collector/cloudexport"
)

func init() { cloudexport.Register("gcp", Export) }

// The files written under cloud/gcp, as cloud/gcp names them.
const (
	FileInstances       = "instances.json"
	FileFirewalls       = "firewall-rules.json"
	FileRoutes          = "routes.json"
	FileNetworks        = "networks.json"
	FileSubnets         = "subnets.json"
	FileForwardingRules = "forwarding-rules.json"
	FileTargetPools     = "target-pools.json"
	DirTargetPoolHealth = "target-pool-health"
	FileBackendServices = "backend-services.json"
	DirBackendSvcHealth = "backend-service-health"
	FileHealthChecks    = "health-checks.json"
	FileRouters         = "routers.json"
	DirNATMapping       = "nat-mapping"
)

// Permissions lists the IAM permissions Export's calls need; deploy/cloud/gcp-role.yaml
// grants exactly these (a test keeps the two equal). Aggregated lists need the list
// permission of every kind they return (regional and global).
var Permissions = []string{
	"compute.instances.list",
	"compute.firewalls.list",
	"compute.routes.list",
	"compute.networks.list",
	"compute.subnetworks.list",
	"compute.forwardingRules.list",
	"compute.globalForwardingRules.list",
	"compute.targetPools.list",
	"compute.targetPools.get",
	"compute.backendServices.list",
	"compute.backendServices.get",
	"compute.regionBackendServices.list",
	"compute.regionBackendServices.get",
	"compute.healthChecks.list",
	"compute.regionHealthChecks.list",
	"compute.routers.list",
	"compute.routers.get",
}

// Export reads the project's network through the Compute Engine API and hands each file
// to put.
func Export(ctx context.Context, o cloudexport.Options, put cloudexport.Put) ([]bundle.Gap, error) {
	client, project := o.HTTPClient, o.Project
	if project == "" {
		// gcloud's own project setting, when exported to the environment.
		project = firstNonEmpty(os.Getenv("CLOUDSDK_CORE_PROJECT"), os.Getenv("GOOGLE_CLOUD_PROJECT"))
	}
	if client == nil {
		creds, err := google.FindDefaultCredentials(ctx, compute.ComputeReadonlyScope)
		if err != nil {
			return nil, fmt.Errorf("gcp: no Application Default Credentials (run `gcloud auth application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS): %w", err)
		}
		if project == "" {
			project = creds.ProjectID
		}
		client = oauth2.NewClient(ctx, creds.TokenSource)
	}
	if project == "" {
		return nil, errors.New("gcp: no project: pass --cloud-project (or set CLOUDSDK_CORE_PROJECT)")
	}
	opts := []option.ClientOption{option.WithHTTPClient(Retrying(client))}
	if o.Endpoint != "" {
		ep := o.Endpoint
		if !strings.Contains(ep, "/compute/") {
			ep = strings.TrimSuffix(ep, "/") + "/compute/v1/"
		}
		opts = append(opts, option.WithEndpoint(ep))
	}
	svc, err := compute.NewService(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("gcp: %w", err)
	}
	x := &exporter{Writer: cloudexport.NewWriter("gcp", "  ", "IAM permission", o, put), svc: svc, project: project}
	x.run(ctx)
	return x.Gaps, nil
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

type exporter struct {
	cloudexport.Writer
	svc     *compute.Service
	project string
}

func (x *exporter) gap(file, call, perm string, err error) {
	reason := err.Error()
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		reason = fmt.Sprintf("HTTP %d: %s", ge.Code, ge.Message)
	}
	x.Failed(file, call, perm, reason)
}

// unreachable records the zones or regions an aggregated list could not read: the file is
// written, but what those scopes hold is missing from it.
func (x *exporter) unreachable(file, call string, scopes []string) {
	if len(scopes) > 0 {
		x.Gap(file, fmt.Sprintf("%s could not reach %s; their resources are missing", call, strings.Join(scopes, ", ")))
	}
}

// scoped merges an aggregated list's page, scope by scope in name order, so the file
// does not change between runs.
func scoped[S, T any](m map[string]S, items func(S) []T) []T {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []T
	for _, k := range keys {
		out = append(out, items(m[k])...)
	}
	return out
}

// last is the last element of a resource URL (".../regions/us-central1" -> "us-central1").
func last(u string) string { return u[strings.LastIndex(u, "/")+1:] }

func (x *exporter) run(ctx context.Context) {
	p := x.project

	insts := []*compute.Instance{}
	var unreach []string
	err := x.svc.Instances.AggregatedList(p).Pages(ctx, func(l *compute.InstanceAggregatedList) error {
		insts = append(insts, scoped(l.Items, func(s compute.InstancesScopedList) []*compute.Instance { return s.Instances })...)
		unreach = append(unreach, l.Unreachables...)
		return nil
	})
	if err != nil {
		x.gap(FileInstances, "instances.aggregatedList", "compute.instances.list", err)
	} else {
		x.Write(FileInstances, insts)
		x.unreachable(FileInstances, "instances.aggregatedList", unreach)
	}

	fws := []*compute.Firewall{}
	if err := x.svc.Firewalls.List(p).Pages(ctx, func(l *compute.FirewallList) error {
		fws = append(fws, l.Items...)
		return nil
	}); err != nil {
		x.gap(FileFirewalls, "firewalls.list", "compute.firewalls.list", err)
	} else {
		x.Write(FileFirewalls, fws)
	}

	routes := []*compute.Route{}
	if err := x.svc.Routes.List(p).Pages(ctx, func(l *compute.RouteList) error {
		routes = append(routes, l.Items...)
		return nil
	}); err != nil {
		x.gap(FileRoutes, "routes.list", "compute.routes.list", err)
	} else {
		x.Write(FileRoutes, routes)
	}

	nets := []*compute.Network{}
	if err := x.svc.Networks.List(p).Pages(ctx, func(l *compute.NetworkList) error {
		nets = append(nets, l.Items...)
		return nil
	}); err != nil {
		x.gap(FileNetworks, "networks.list", "compute.networks.list", err)
	} else {
		x.Write(FileNetworks, nets)
	}

	subs := []*compute.Subnetwork{}
	unreach = nil
	if err := x.svc.Subnetworks.AggregatedList(p).Pages(ctx, func(l *compute.SubnetworkAggregatedList) error {
		subs = append(subs, scoped(l.Items, func(s compute.SubnetworksScopedList) []*compute.Subnetwork { return s.Subnetworks })...)
		unreach = append(unreach, l.Unreachables...)
		return nil
	}); err != nil {
		x.gap(FileSubnets, "subnetworks.aggregatedList", "compute.subnetworks.list", err)
	} else {
		x.Write(FileSubnets, subs)
		x.unreachable(FileSubnets, "subnetworks.aggregatedList", unreach)
	}

	frs := []*compute.ForwardingRule{}
	unreach = nil
	if err := x.svc.ForwardingRules.AggregatedList(p).Pages(ctx, func(l *compute.ForwardingRuleAggregatedList) error {
		frs = append(frs, scoped(l.Items, func(s compute.ForwardingRulesScopedList) []*compute.ForwardingRule { return s.ForwardingRules })...)
		unreach = append(unreach, l.Unreachables...)
		return nil
	}); err != nil {
		x.gap(FileForwardingRules, "forwardingRules.aggregatedList", "compute.forwardingRules.list and compute.globalForwardingRules.list", err)
	} else {
		x.Write(FileForwardingRules, frs)
		x.unreachable(FileForwardingRules, "forwardingRules.aggregatedList", unreach)
	}

	x.targetPools(ctx)
	x.backendServices(ctx)

	hcs := []*compute.HealthCheck{}
	unreach = nil
	if err := x.svc.HealthChecks.AggregatedList(p).Pages(ctx, func(l *compute.HealthChecksAggregatedList) error {
		hcs = append(hcs, scoped(l.Items, func(s compute.HealthChecksScopedList) []*compute.HealthCheck { return s.HealthChecks })...)
		unreach = append(unreach, l.Unreachables...)
		return nil
	}); err != nil {
		x.gap(FileHealthChecks, "healthChecks.aggregatedList", "compute.healthChecks.list and compute.regionHealthChecks.list", err)
	} else {
		x.Write(FileHealthChecks, hcs)
		x.unreachable(FileHealthChecks, "healthChecks.aggregatedList", unreach)
	}

	x.routers(ctx)
}

func (x *exporter) targetPools(ctx context.Context) {
	pools := []*compute.TargetPool{}
	var unreach []string
	if err := x.svc.TargetPools.AggregatedList(x.project).Pages(ctx, func(l *compute.TargetPoolAggregatedList) error {
		pools = append(pools, scoped(l.Items, func(s compute.TargetPoolsScopedList) []*compute.TargetPool { return s.TargetPools })...)
		unreach = append(unreach, l.Unreachables...)
		return nil
	}); err != nil {
		x.gap(FileTargetPools, "targetPools.aggregatedList", "compute.targetPools.list", err)
		return
	}
	x.Write(FileTargetPools, pools)
	x.unreachable(FileTargetPools, "targetPools.aggregatedList", unreach)
	// `gcloud compute target-pools get-health POOL` asks getHealth once per instance of
	// the pool and prints the answers as one list.
	for _, tp := range pools {
		if tp == nil {
			continue // an odd answer's null item: nothing to ask about
		}
		file := path.Join(DirTargetPoolHealth, tp.Name+".json")
		out := []*compute.TargetPoolInstanceHealth{}
		var failed error
		for _, inst := range tp.Instances {
			h, err := x.svc.TargetPools.GetHealth(x.project, last(tp.Region), tp.Name, &compute.InstanceReference{Instance: inst}).Context(ctx).Do()
			if err != nil {
				failed = err
				break
			}
			out = append(out, h)
		}
		if failed != nil {
			x.gap(file, "targetPools.getHealth "+tp.Name, "compute.targetPools.get", failed)
			continue
		}
		x.Write(file, out)
	}
}

// groupHealth is one element of `gcloud compute backend-services get-health`'s list.
type groupHealth struct {
	Backend string                             `json:"backend"`
	Status  *compute.BackendServiceGroupHealth `json:"status"`
}

func (x *exporter) backendServices(ctx context.Context) {
	bss := []*compute.BackendService{}
	var unreach []string
	if err := x.svc.BackendServices.AggregatedList(x.project).Pages(ctx, func(l *compute.BackendServiceAggregatedList) error {
		bss = append(bss, scoped(l.Items, func(s compute.BackendServicesScopedList) []*compute.BackendService { return s.BackendServices })...)
		unreach = append(unreach, l.Unreachables...)
		return nil
	}); err != nil {
		x.gap(FileBackendServices, "backendServices.aggregatedList", "compute.backendServices.list and compute.regionBackendServices.list", err)
		return
	}
	x.Write(FileBackendServices, bss)
	x.unreachable(FileBackendServices, "backendServices.aggregatedList", unreach)
	for _, bs := range bss {
		if bs == nil {
			continue
		}
		file := path.Join(DirBackendSvcHealth, bs.Name+".json")
		call, perm := "backendServices.getHealth "+bs.Name, "compute.backendServices.get"
		if bs.Region != "" {
			call, perm = "regionBackendServices.getHealth "+bs.Name, "compute.regionBackendServices.get"
		}
		out := []groupHealth{}
		var failed error
		for _, b := range bs.Backends {
			if b == nil {
				continue
			}
			ref := &compute.ResourceGroupReference{Group: b.Group}
			var h *compute.BackendServiceGroupHealth
			var err error
			if bs.Region != "" {
				h, err = x.svc.RegionBackendServices.GetHealth(x.project, last(bs.Region), bs.Name, ref).Context(ctx).Do()
			} else {
				h, err = x.svc.BackendServices.GetHealth(x.project, bs.Name, ref).Context(ctx).Do()
			}
			if err != nil {
				failed = err
				break
			}
			out = append(out, groupHealth{Backend: b.Group, Status: h})
		}
		if failed != nil {
			x.gap(file, call, perm, failed)
			continue
		}
		x.Write(file, out)
	}
}

func (x *exporter) routers(ctx context.Context) {
	rs := []*compute.Router{}
	var unreach []string
	if err := x.svc.Routers.AggregatedList(x.project).Pages(ctx, func(l *compute.RouterAggregatedList) error {
		rs = append(rs, scoped(l.Items, func(s compute.RoutersScopedList) []*compute.Router { return s.Routers })...)
		unreach = append(unreach, l.Unreachables...)
		return nil
	}); err != nil {
		x.gap(FileRouters, "routers.aggregatedList", "compute.routers.list", err)
		return
	}
	x.Write(FileRouters, rs)
	x.unreachable(FileRouters, "routers.aggregatedList", unreach)
	for _, r := range rs {
		if r == nil || len(r.Nats) == 0 {
			continue // no Cloud NAT: nothing is mapped
		}
		file := path.Join(DirNATMapping, r.Name+".json")
		out := []*compute.VmEndpointNatMappings{}
		if err := x.svc.Routers.GetNatMappingInfo(x.project, last(r.Region), r.Name).Pages(ctx, func(l *compute.VmEndpointNatMappingsList) error {
			out = append(out, l.Result...)
			return nil
		}); err != nil {
			x.gap(file, "routers.getNatMappingInfo "+r.Name, "compute.routers.get", err)
			continue
		}
		x.Write(file, out)
	}
}
