package orchestrate

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/netsim/netsim/bundle"
	"github.com/netsim/netsim/collector/cloudexport"
	"github.com/netsim/netsim/collector/cluster"
)

// Selection says which nodes' parts to collect: every Node (All), none, or the named ones.
type Selection struct {
	All   bool
	Names []string
}

// Options are one `netsim collect` run.
type Options struct {
	// ClusterName goes into the manifest (the kubeconfig context's cluster).
	ClusterName string
	API         cluster.Options
	Nodes       Selection
	// Runner runs the node part; it is needed unless no node is selected.
	Runner Runner
	FanOut FanOut
	// CloudDir, when set, is a folder of provider exports copied into cloud/.
	CloudDir string
	// Cloud, when set, names the provider (a cloudexport.Register name, "aws") whose
	// network is exported through its SDK into cloud/Cloud/, with CloudOptions.
	Cloud        string
	CloudOptions cloudexport.Options
	// Now stamps the manifest (time.Now when nil).
	Now func() time.Time
	// Logf receives what the user should know while the run goes on (node failures,
	// clean-up problems).
	Logf func(format string, args ...any)
}

// Result is a collected bundle, not yet written.
type Result struct {
	Manifest *bundle.Manifest
	Bundle   *bundle.Writer
	Cluster  *cluster.Result
	Nodes    []NodeResult
	// Failures are the gaps that are failures (a denial, an error, a node that could not
	// be collected); the manifest's other gaps are what the cluster simply does not have.
	Failures []bundle.Gap
}

// ErrNothing is returned when nothing at all could be collected: no bundle is worth writing.
var ErrNothing = errors.New("nothing could be collected")

// Collect reads the cloud exports (the --cloud-export folder, then the --cloud provider's
// API), then runs the cluster part, then the node part on the selected nodes. It returns
// a Result whenever anything was collected, with every part that failed as a gap; the
// error is ErrNothing (wrapped with the reasons), a bad --cloud-export folder, a --cloud
// export that cannot start (no credentials, no region), or the context's. The cloud
// comes first so that a missing credential stops the run before any pod is created.
func Collect(ctx context.Context, o Options) (*Result, error) {
	logf := o.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	res := &Result{Bundle: bundle.NewWriter()}
	var cloudFiles map[string][]byte
	var cloudGaps []bundle.Gap
	if o.CloudDir != "" {
		var err error
		if cloudFiles, cloudGaps, err = CloudExport(o.CloudDir); err != nil {
			return nil, err
		}
	}
	if o.Cloud != "" {
		files, gaps, err := CloudSDK(ctx, o.Cloud, o.CloudOptions, cloudFiles)
		if err != nil {
			return nil, err
		}
		if cloudFiles == nil {
			cloudFiles = map[string][]byte{}
		}
		for n, d := range files {
			cloudFiles[n] = d
		}
		// A call the provider refused is a failure of this run (exit 1), as an RBAC
		// denial is.
		res.Failures = append(res.Failures, gaps...)
	}
	cl, err := cluster.Collect(ctx, o.API)
	res.Cluster = cl
	if err != nil && ctx.Err() == nil {
		return nil, err
	}
	res.Failures = append(res.Failures, cl.Failures...)
	for name, data := range cl.Files {
		res.Bundle.Add(name, data)
	}

	targets, gaps := o.targets(cl)
	res.Failures = append(res.Failures, gaps...)
	if len(targets) > 0 && ctx.Err() == nil {
		res.Nodes = o.runNodes(ctx, targets, logf)
		for _, nr := range res.Nodes {
			if nr.Err != nil {
				res.Failures = append(res.Failures, bundle.Gap{Scope: bundle.NodeDir(nr.Node), Reason: nr.Err.Error()})
				continue
			}
			names := make([]string, 0, len(nr.Files))
			for n := range nr.Files {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				res.Bundle.Add(n, nr.Files[n])
			}
		}
	}
	for name, data := range cloudFiles {
		res.Bundle.Add(name, data)
	}
	if len(res.Bundle.Names()) == 0 {
		reasons := make([]error, 0, len(res.Failures))
		for _, g := range res.Failures {
			reasons = append(reasons, fmt.Errorf("%s: %s", g.Scope, g.Reason))
		}
		return res, fmt.Errorf("%w: %w", ErrNothing, errors.Join(reasons...))
	}
	m := &bundle.Manifest{
		Format:            bundle.Format,
		Cluster:           o.ClusterName,
		CollectedAt:       now().UTC().Truncate(time.Second),
		Source:            "collect",
		KubernetesVersion: cl.KubernetesVersion,
		ClusterDomain:     cl.ClusterDomain,
		PodCIDRs:          cl.PodCIDRs,
		ServiceCIDRs:      cl.ServiceCIDRs,
	}
	m.Gaps = append(append(append([]bundle.Gap{}, res.Failures...), cl.Notes...), cloudGaps...)
	if !o.Nodes.All && len(o.Nodes.Names) == 0 {
		m.Gaps = append(m.Gaps, bundle.Gap{Scope: "nodes", Reason: "not collected: --nodes none (API objects only)"})
	}
	data, err := m.Marshal()
	if err != nil {
		return nil, err
	}
	res.Bundle.Add(bundle.ManifestName, data)
	res.Manifest = m
	return res, ctx.Err()
}

// targets turns the selection into nodes to run on, with their addresses where the API
// listed them.
func (o Options) targets(cl *cluster.Result) ([]Target, []bundle.Gap) {
	addr := map[string]string{}
	for _, n := range cl.Nodes {
		addr[n.Name] = n.InternalIP
	}
	if o.Nodes.All {
		if _, listed := cl.Files["cluster/nodes.yaml"]; !listed {
			return nil, []bundle.Gap{{Scope: "nodes", Reason: "--nodes all: the Node list could not be read (see cluster/nodes), so no node part was collected; name the nodes with --nodes N1,N2"}}
		}
		out := make([]Target, 0, len(cl.Nodes))
		for _, n := range cl.Nodes {
			out = append(out, Target{Name: n.Name, Addr: n.InternalIP})
		}
		return out, nil
	}
	out := make([]Target, 0, len(o.Nodes.Names))
	for _, n := range o.Nodes.Names {
		out = append(out, Target{Name: n, Addr: addr[n]})
	}
	return out, nil
}

func (o Options) runNodes(ctx context.Context, targets []Target, logf func(string, ...any)) []NodeResult {
	if o.Runner == nil {
		out := make([]NodeResult, len(targets))
		for i, t := range targets {
			out[i] = NodeResult{Node: t.Name, Err: errors.New("no way to run the node part (neither collector pods nor --node-command)")}
		}
		return out
	}
	if p, ok := o.Runner.(Preparer); ok {
		defer func() {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			if err := p.Cleanup(cctx); err != nil {
				logf("clean-up: %v", err)
			}
		}()
		if err := p.Prepare(ctx); err != nil {
			out := make([]NodeResult, len(targets))
			for i, t := range targets {
				out[i] = NodeResult{Node: t.Name, Err: err}
			}
			return out
		}
	}
	return o.FanOut.Run(ctx, o.Runner, targets)
}
