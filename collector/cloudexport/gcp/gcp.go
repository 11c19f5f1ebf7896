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

// pageOpts asks for the page after token (none: the first) with returnPartialSuccess,
// so an aggregated list answers what it could reach and names the zones and regions it
// could not in unreachables, rather than failing as a whole (as the Compute Engine API
// recommends for aggregated lists).
func pageOpts(token string) []googleapi.CallOption {
	o := []googleapi.CallOption{googleapi.QueryParameter("returnPartialSuccess", "true")}
	if token != "" {
		o = append(o, googleapi.QueryParameter("pageToken", token))
	}
	return o
}

// aggregated runs an aggregated list page by page (do asks for the page after token),
// merging each page's items (page returns the next token, the unreachable scopes and the
// items), writes the file, and records a gap for the scopes it could not reach. It
// returns the items, or false after a gap for the failed call.
func aggregated[L, T any](ctx context.Context, x *exporter, file, call, perm string,
	do func(token string) (*L, error), page func(*L) (string, []string, []T)) ([]T, bool) {
	out := []T{}
	var unreach []string
	for token := ""; ; {
		if err := ctx.Err(); err != nil {
			x.gap(file, call, perm, err)
			return nil, false
		}
		l, err := do(token)
		if err != nil {
			x.gap(file, call, perm, err)
			return nil, false
		}
		next, u, items := page(l)
		out = append(out, items...)
		unreach = append(unreach, u...)
		if next == "" {
			break
		}
		if next == token {
			x.Gap(file, call+" answered the page token it was asked with; the list is incomplete")
			return nil, false
		}
		token = next
	}
	x.Write(file, out)
	x.unreachable(file, call, unreach)
	return out, true
}

// last is the last element of a resource URL (".../regions/us-central1" -> "us-central1").
func last(u string) string { return u[strings.LastIndex(u, "/")+1:] }

func (x *exporter) run(ctx context.Context) {
	p := x.project

	aggregated(ctx, x, FileInstances, "instances.aggregatedList", "compute.instances.list",
		func(tok string) (*compute.InstanceAggregatedList, error) {
			return x.svc.Instances.AggregatedList(p).Context(ctx).Do(pageOpts(tok)...)
		},
		func(l *compute.InstanceAggregatedList) (string, []string, []*compute.Instance) {
			return l.NextPageToken, l.Unreachables, scoped(l.Items, func(s compute.InstancesScopedList) []*compute.Instance { return s.Instances })
		})

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

	aggregated(ctx, x, FileSubnets, "subnetworks.aggregatedList", "compute.subnetworks.list",
		func(tok string) (*compute.SubnetworkAggregatedList, error) {
			return x.svc.Subnetworks.AggregatedList(p).Context(ctx).Do(pageOpts(tok)...)
		},
		func(l *compute.SubnetworkAggregatedList) (string, []string, []*compute.Subnetwork) {
			return l.NextPageToken, l.Unreachables, scoped(l.Items, func(s compute.SubnetworksScopedList) []*compute.Subnetwork { return s.Subnetworks })
		})

	aggregated(ctx, x, FileForwardingRules, "forwardingRules.aggregatedList", "compute.forwardingRules.list and compute.globalForwardingRules.list",
		func(tok string) (*compute.ForwardingRuleAggregatedList, error) {
			return x.svc.ForwardingRules.AggregatedList(p).Context(ctx).Do(pageOpts(tok)...)
		},
		func(l *compute.ForwardingRuleAggregatedList) (string, []string, []*compute.ForwardingRule) {
			return l.NextPageToken, l.Unreachables, scoped(l.Items, func(s compute.ForwardingRulesScopedList) []*compute.ForwardingRule { return s.ForwardingRules })
		})

	x.targetPools(ctx)
	x.backendServices(ctx)

	aggregated(ctx, x, FileHealthChecks, "healthChecks.aggregatedList", "compute.healthChecks.list and compute.regionHealthChecks.list",
		func(tok string) (*compute.HealthChecksAggregatedList, error) {
			return x.svc.HealthChecks.AggregatedList(p).Context(ctx).Do(pageOpts(tok)...)
		},
		func(l *compute.HealthChecksAggregatedList) (string, []string, []*compute.HealthCheck) {
			return l.NextPageToken, l.Unreachables, scoped(l.Items, func(s compute.HealthChecksScopedList) []*compute.HealthCheck { return s.HealthChecks })
		})

	x.routers(ctx)
}

func (x *exporter) targetPools(ctx context.Context) {
	pools, ok := aggregated(ctx, x, FileTargetPools, "targetPools.aggregatedList", "compute.targetPools.list",
		func(tok string) (*compute.TargetPoolAggregatedList, error) {
			return x.svc.TargetPools.AggregatedList(x.project).Context(ctx).Do(pageOpts(tok)...)
		},
		func(l *compute.TargetPoolAggregatedList) (string, []string, []*compute.TargetPool) {
			return l.NextPageToken, l.Unreachables, scoped(l.Items, func(s compute.TargetPoolsScopedList) []*compute.TargetPool { return s.TargetPools })
		})
	if !ok {
		return
	}
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
	bss, ok := aggregated(ctx, x, FileBackendServices, "backendServices.aggregatedList", "compute.backendServices.list and compute.regionBackendServices.list",
		func(tok string) (*compute.BackendServiceAggregatedList, error) {
			return x.svc.BackendServices.AggregatedList(x.project).Context(ctx).Do(pageOpts(tok)...)
		},
		func(l *compute.BackendServiceAggregatedList) (string, []string, []*compute.BackendService) {
			return l.NextPageToken, l.Unreachables, scoped(l.Items, func(s compute.BackendServicesScopedList) []*compute.BackendService { return s.BackendServices })
		})
	if !ok {
		return
	}
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
	rs, ok := aggregated(ctx, x, FileRouters, "routers.aggregatedList", "compute.routers.list",
		func(tok string) (*compute.RouterAggregatedList, error) {
			return x.svc.Routers.AggregatedList(x.project).Context(ctx).Do(pageOpts(tok)...)
		},
		func(l *compute.RouterAggregatedList) (string, []string, []*compute.Router) {
			return l.NextPageToken, l.Unreachables, scoped(l.Items, func(s compute.RoutersScopedList) []*compute.Router { return s.Routers })
		})
	if !ok {
		return
	}
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
