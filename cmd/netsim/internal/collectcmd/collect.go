// Package collectcmd is `netsim collect`: a bundle from a live cluster, its API objects
// through client-go and each node's dataplane through the node part.
package collectcmd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/netsim/netsim/bundle"
	"github.com/netsim/netsim/cmd/netsim/internal/collectnodecmd"
	"github.com/netsim/netsim/cmd/netsim/internal/streams"
	"github.com/netsim/netsim/cmd/netsim/internal/versioncmd"
	"github.com/netsim/netsim/collector/cloudexport"
	"github.com/netsim/netsim/collector/cluster"
	"github.com/netsim/netsim/collector/orchestrate"
)

// Exit codes of `netsim collect` (usage and "nothing collected" are 2, as elsewhere).
const (
	ExitGaps        = 1   // the bundle was written, but some part could not be collected
	ExitInterrupted = 130 // Ctrl-C or SIGTERM: nothing written, collector pods deleted
)

type flags struct {
	kubeconfig, context string
	nodes               string
	cloudExport         string
	cloud               cloudFlags
	out                 string
	nodeCommand         string
	image, pullPolicy   string
	namespace           string
	parallel            int
	nodeTimeout         time.Duration
	pageSize            int64
}

// cloudFlags select and scope the --cloud export.
type cloudFlags struct {
	provider, region, profile, project, subscription, resourceGroup, endpoint string
}

// options checks the provider flags against the provider: a flag the provider does not
// read would be silently ignored, so it is a usage error.
func (c cloudFlags) options() (cloudexport.Options, error) {
	o := cloudexport.Options{Region: c.region, Profile: c.profile, Project: c.project,
		Subscription: c.subscription, ResourceGroup: c.resourceGroup, Endpoint: c.endpoint}
	set := map[string]string{"--cloud-region": c.region, "--cloud-profile": c.profile, "--cloud-project": c.project,
		"--cloud-subscription": c.subscription, "--cloud-resource-group": c.resourceGroup, "--cloud-endpoint": c.endpoint}
	if c.provider == "" {
		for _, name := range sortedKeys(set) {
			if set[name] != "" {
				return o, fmt.Errorf("%s needs --cloud PROVIDER", name)
			}
		}
		return o, nil
	}
	if _, ok := cloudexport.Lookup(c.provider); !ok {
		names := cloudexport.Names()
		if len(names) == 0 {
			return o, fmt.Errorf("--cloud %s: this netsim was built without cloud exporters (a netsim_no<provider> build tag); export by hand and use --cloud-export DIR", c.provider)
		}
		return o, fmt.Errorf("--cloud %s: want one of %s", c.provider, strings.Join(names, ", "))
	}
	reads, known := cloudProviderFlags[c.provider]
	if !known {
		return o, nil // a provider registered without a flag list takes them all
	}
	for _, name := range sortedKeys(set) {
		if set[name] != "" && name != "--cloud-endpoint" && !strings.Contains(" "+reads+" ", " "+name+" ") {
			return o, fmt.Errorf("--cloud %s does not read %s (it reads %s)", c.provider, name, reads)
		}
	}
	return o, nil
}

// cloudProviderFlags says which scoping flags each provider reads.
var cloudProviderFlags = map[string]string{
	"aws":     "--cloud-region --cloud-profile",
	"alibaba": "--cloud-region --cloud-profile",
	"tencent": "--cloud-region --cloud-profile",
	"gcp":     "--cloud-project",
	"azure":   "--cloud-subscription --cloud-resource-group",
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// NewCommand builds `netsim collect`, with the node part (`netsim collect node`) under it.
func NewCommand(io streams.IO) *cobra.Command {
	var f flags
	cmd := &cobra.Command{
		Use:   "collect [--kubeconfig F] [--context C] [--nodes all|none|N1,N2] [--cloud PROVIDER] [--cloud-export DIR] -o OUT",
		Short: "Collect a bundle from a live cluster: API objects and every node's dataplane",
		Long: `Collect a bundle from a live cluster.

The cluster part reads, through the API (kubectl's rules for finding the cluster:
--kubeconfig, KUBECONFIG, ~/.kube/config, or the pod's service account in a cluster):
Namespaces, Nodes, Pods, Services, EndpointSlices, Endpoints, NetworkPolicies,
ServiceCIDRs, AdminNetworkPolicies and the Calico and Cilium policy kinds where the server
serves them, and the network ConfigMaps (kube-proxy, CoreDNS, ip-masq-agent, flannel,
Calico, Cilium) by name. Secrets are never read; container env values, envFrom,
credential-looking arguments, managedFields and last-applied annotations are removed.

The node part runs 'netsim collect node' on each selected node: by default in a
short-lived privileged pod per node (namespace --namespace, image --image), or through
--node-command, a local command whose stdout is the node's tar.gz, e.g. over ssh.
Every pod the run creates is deleted when it ends, on Ctrl-C too.

The cloud part (--cloud aws|gcp|alibaba|tencent|azure) reads the provider's network
(instances, security groups or firewall rules, route tables, load balancers and their
health, NAT) through the provider's Go SDK, read-only, with the credentials the
provider's own CLI would use (aws: the profile's chain; gcp: Application Default
Credentials; alibaba: the aliyun CLI profile or the default chain; tencent: the tccli
profile or the SDK's chain; azure: DefaultAzureCredential, az login included), and
writes it under cloud/PROVIDER/ as the CLI prints it. The calls and
a minimal policy per provider are in docs/collect.md and deploy/cloud/. Credentials are
never written into the bundle. A call the provider refuses is a gap naming the call and
the permission it needs; no credentials at all stops the run before anything else.
--cloud-export DIR copies exports made by hand instead; both may be given for
different providers, never for the same one.

Whatever cannot be collected (an RBAC denial, a node that fails or times out) is a gap
in manifest.yaml and the bundle is still written. Exit codes: 0 complete; 1 written with
gaps; 2 usage error or nothing collected; 130 interrupted (nothing written).
OUT is a new folder, or a .tar.gz when its name says so.`,
		Example: `  netsim collect -o bundle.tar.gz
  netsim collect --context prod --nodes none -o api-only
  netsim collect --nodes node1,node2 --image registry.local/netsim:v1 --image-pull-policy Never -o b.tar.gz
  netsim collect --node-command 'ssh {node} sudo netsim collect node -o -' -o b.tar.gz
  netsim collect --cloud aws --cloud-profile prod --cloud-region eu-west-1 -o b.tar.gz
  netsim collect --cloud gcp --cloud-project my-project -o b.tar.gz
  netsim collect --cloud azure --cloud-resource-group aks-nodes -o b.tar.gz
  netsim collect --cloud-export exports/ -o b.tar.gz`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return run(ctx, io, f)
		},
	}
	cmd.AddCommand(collectnodecmd.NewCommand(io))
	fl := cmd.Flags()
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "the kubeconfig file (default: KUBECONFIG, then ~/.kube/config, then in-cluster)")
	fl.StringVar(&f.context, "context", "", "the kubeconfig context (default: its current context)")
	fl.StringVar(&f.nodes, "nodes", "all", "whose node part to collect: all, none, or N1,N2")
	fl.StringVar(&f.cloudExport, "cloud-export", "", "a folder of cloud provider exports (JSON, as the provider's CLI prints them) to copy into cloud/")
	fl.StringVar(&f.cloud.provider, "cloud", "", "export this provider's network through its API into cloud/PROVIDER/: "+strings.Join(cloudexport.Names(), ", "))
	fl.StringVar(&f.cloud.region, "cloud-region", "", "the region to export (aws, alibaba, tencent; default: the CLI profile's)")
	fl.StringVar(&f.cloud.profile, "cloud-profile", "", "the provider CLI's named profile whose credentials to use (aws, alibaba, tencent; default: its default)")
	fl.StringVar(&f.cloud.project, "cloud-project", "", "the Google Cloud project (gcp; default: CLOUDSDK_CORE_PROJECT, then the credentials' project)")
	fl.StringVar(&f.cloud.subscription, "cloud-subscription", "", "the Azure subscription ID (azure; default: AZURE_SUBSCRIPTION_ID, then the Azure CLI's default)")
	fl.StringVar(&f.cloud.resourceGroup, "cloud-resource-group", "", "limit the Azure export to this resource group (azure; default: the whole subscription)")
	fl.StringVar(&f.cloud.endpoint, "cloud-endpoint", "", "the provider API's endpoint URL instead of its public one (a private endpoint or a test server)")
	fl.StringVarP(&f.out, "output", "o", "", "the bundle to write: a new folder, or a file ending in .tar.gz")
	fl.StringVar(&f.nodeCommand, "node-command", "", "run the node part through this local command instead of pods; {node} is the node's name, {addr} its InternalIP; stdout must be the tar.gz")
	fl.StringVar(&f.image, "image", defaultImage(), "the collector pods' image (netsim and sleep on its PATH; see deploy/Dockerfile)")
	fl.StringVar(&f.pullPolicy, "image-pull-policy", string(corev1.PullIfNotPresent), "the collector pods' imagePullPolicy: Always, IfNotPresent or Never")
	fl.StringVar(&f.namespace, "namespace", orchestrate.DefaultNS, "the namespace of the collector pods")
	fl.IntVar(&f.parallel, "parallel", 8, "nodes collected at once")
	fl.DurationVar(&f.nodeTimeout, "node-timeout", 5*time.Minute, "how long one node may take (pod start, image pull and the node part)")
	fl.Int64Var(&f.pageSize, "page-size", 500, "objects per list request")
	return cmd
}

func defaultImage() string {
	v := versioncmd.Version
	if v == "" || v == "dev" {
		v = "latest"
	}
	return "ghcr.io/netsim/netsim:" + v
}

func (f flags) selection() (orchestrate.Selection, error) {
	switch strings.TrimSpace(f.nodes) {
	case "all":
		return orchestrate.Selection{All: true}, nil
	case "none", "":
		return orchestrate.Selection{}, nil
	}
	var names []string
	seen := map[string]bool{}
	for _, n := range strings.Split(f.nodes, ",") {
		n = strings.TrimSpace(n)
		if n == "" || seen[n] {
			continue
		}
		if n == "all" || n == "none" {
			return orchestrate.Selection{}, fmt.Errorf("--nodes %s: all and none stand alone", f.nodes)
		}
		seen[n] = true
		names = append(names, n)
	}
	return orchestrate.Selection{Names: names}, nil
}

func run(ctx context.Context, io streams.IO, f flags) error {
	if f.out == "" {
		return streams.Usage("collect: -o OUT is required (a new folder, or a file ending in .tar.gz)")
	}
	if !bundle.IsArchive(f.out) {
		if ents, err := os.ReadDir(f.out); err == nil && len(ents) > 0 {
			return streams.Usage("collect: %s exists and is not empty; choose a new output folder", f.out)
		}
	}
	sel, err := f.selection()
	if err != nil {
		return streams.Usage("collect: %v", err)
	}
	switch corev1.PullPolicy(f.pullPolicy) {
	case corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever:
	default:
		return streams.Usage("collect: --image-pull-policy %q: want Always, IfNotPresent or Never", f.pullPolicy)
	}
	if f.parallel < 1 {
		return streams.Usage("collect: --parallel %d: want 1 or more", f.parallel)
	}
	if _, err := f.cloud.options(); err != nil {
		return streams.Usage("collect: %v", err)
	}
	cfg, clusterName, err := loadConfig(f.kubeconfig, f.context)
	if err != nil {
		return streams.Usage("collect: %v", err)
	}
	progress := newProgress(io.Err)
	opts, err := buildOptions(cfg, clusterName, f, sel, progress)
	if err != nil {
		return streams.Usage("collect: %v", err)
	}
	res, err := orchestrate.Collect(ctx, opts)
	progress.clear()
	if ctx.Err() != nil {
		return &streams.ExitError{Code: ExitInterrupted, Err: errors.New("collect: interrupted; nothing written (collector pods were deleted)")}
	}
	if err != nil {
		return &streams.ExitError{Code: 2, Err: fmt.Errorf("collect: %w", err)}
	}
	if err := res.Bundle.Write(f.out); err != nil {
		return &streams.ExitError{Code: 2, Err: fmt.Errorf("collect: writing %s: %w", f.out, err)}
	}
	summarize(io, f.out, res)
	if len(res.Failures) > 0 {
		return &streams.ExitError{Code: ExitGaps, Err: fmt.Errorf("collect: bundle written to %s with %d gap(s); see manifest.yaml", f.out, len(res.Failures))}
	}
	return nil
}

// loadConfig finds the cluster as kubectl does and names it for the manifest.
func loadConfig(kubeconfig, context string) (*rest.Config, string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: context})
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, "", fmt.Errorf("finding the cluster: %w", err)
	}
	name := "in-cluster"
	if raw, err := cc.RawConfig(); err == nil && len(raw.Contexts) > 0 {
		cur := context
		if cur == "" {
			cur = raw.CurrentContext
		}
		if c, ok := raw.Contexts[cur]; ok && c.Cluster != "" {
			name = c.Cluster
		} else {
			name = cur
		}
	}
	return cfg, name, nil
}

// buildOptions makes the clients: the API ones with a per-request timeout, the exec one
// without (a node's stream may take minutes).
func buildOptions(base *rest.Config, clusterName string, f flags, sel orchestrate.Selection, p *progress) (orchestrate.Options, error) {
	api := rest.CopyConfig(base)
	api.UserAgent = "netsim-collect/" + versioncmd.Version
	api.QPS, api.Burst = 50, 100
	api.Timeout = 2 * time.Minute
	api.WarningHandler = rest.NoWarnings{} // v1 Endpoints is deprecated, and read on purpose
	dyn, err := dynamic.NewForConfig(api)
	if err != nil {
		return orchestrate.Options{}, err
	}
	disc, err := discovery.NewDiscoveryClientForConfig(api)
	if err != nil {
		return orchestrate.Options{}, err
	}
	opts := orchestrate.Options{
		ClusterName: clusterName,
		API:         cluster.Options{Dynamic: dyn, Discovery: disc, PageSize: f.pageSize, Progress: p.list},
		Nodes:       sel,
		FanOut:      orchestrate.FanOut{Parallel: f.parallel, Timeout: f.nodeTimeout},
		CloudDir:    f.cloudExport,
		Cloud:       f.cloud.provider,
		Logf:        p.logf,
	}
	opts.CloudOptions, _ = f.cloud.options() // checked in run
	opts.CloudOptions.Logf = p.cloud
	if f.nodeCommand != "" {
		opts.Runner = &orchestrate.CommandRunner{Template: f.nodeCommand}
	} else if sel.All || len(sel.Names) > 0 {
		execCfg := rest.CopyConfig(api)
		execCfg.Timeout = 0
		cs, err := kubernetes.NewForConfig(execCfg)
		if err != nil {
			return orchestrate.Options{}, err
		}
		opts.Runner = &orchestrate.PodRunner{
			Client: cs,
			Exec:   &orchestrate.RemoteExecer{Config: execCfg, Client: cs},
			Options: orchestrate.PodOptions{Namespace: f.namespace, Image: f.image, PullPolicy: corev1.PullPolicy(f.pullPolicy),
				Deadline: f.nodeTimeout + time.Minute, RunID: runID()},
			Logf: p.logf,
		}
	}
	opts.FanOut.Progress = p.node
	return opts, nil
}

func runID() string {
	b := make([]byte, 3)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// summarize prints what the bundle holds and every gap.
func summarize(io streams.IO, out string, res *orchestrate.Result) {
	cl := res.Cluster
	files := make([]string, 0, len(cl.Counts))
	objects := 0
	for name, n := range cl.Counts {
		files = append(files, fmt.Sprintf("%s %d", strings.TrimSuffix(strings.TrimPrefix(name, "cluster/"), ".yaml"), n))
		objects += n
	}
	sort.Strings(files)
	okNodes := 0
	for _, n := range res.Nodes {
		if n.Err == nil {
			okNodes++
		}
	}
	fmt.Fprintf(io.Out, "cluster %s, Kubernetes %s: %d objects (%s)\n", orDash(res.Manifest.Cluster), orDash(cl.KubernetesVersion), objects, strings.Join(files, ", "))
	if cl.ProxyMode != "" {
		fmt.Fprintf(io.Out, "kube-proxy mode: %s\n", cl.ProxyMode)
	}
	if len(res.Nodes) > 0 {
		fmt.Fprintf(io.Out, "nodes: %d of %d collected\n", okNodes, len(res.Nodes))
	}
	cloud := map[string]int{}
	for _, n := range res.Bundle.Names() {
		if parts := strings.SplitN(n, "/", 3); len(parts) == 3 && parts[0] == "cloud" {
			cloud[parts[1]]++
		}
	}
	providers := make([]string, 0, len(cloud))
	for p := range cloud {
		providers = append(providers, p)
	}
	sort.Strings(providers)
	for _, p := range providers {
		fmt.Fprintf(io.Out, "cloud %s: %d export files\n", p, cloud[p])
	}
	fmt.Fprintf(io.Out, "bundle written to %s\n", out)
	if len(res.Manifest.Gaps) > 0 {
		fmt.Fprintf(io.Out, "gaps recorded in the manifest:\n")
		for _, g := range res.Manifest.Gaps {
			fmt.Fprintf(io.Out, "  %s: %s\n", g.Scope, g.Reason)
		}
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
