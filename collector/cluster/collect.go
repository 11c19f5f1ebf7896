// Package cluster is the API part of `netsim collect`: it lists the objects netsim reads
// through client-go (paged, retried on transient errors), strips what must not leave the
// cluster, and renders them as `kubectl get -o yaml` Lists for a bundle's cluster/ folder.
// What it cannot read becomes a gap; it never lists Secrets.
package cluster

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"

	"github.com/netsim/netsim/bundle"
)

// Options are the clients and limits of one collection.
type Options struct {
	Dynamic   dynamic.Interface
	Discovery discovery.DiscoveryInterface
	// PageSize is the Limit of each list request (default 500).
	PageSize int64
	// Backoff retries transient errors (DefaultBackoff when zero).
	Backoff Backoff
	// Parallel is how many lists run at once (default 4).
	Parallel int
	// Progress, when set, is told of every page read. It is called from several goroutines.
	Progress func(resource string, items int, done bool)
}

// Node is a Node object's name and the address the node part can be reached at.
type Node struct {
	Name       string
	InternalIP string
}

// Result is what the cluster part read.
type Result struct {
	// Files are bundle paths (cluster/*.yaml) and their contents.
	Files map[string][]byte
	// Counts are the objects in each file.
	Counts            map[string]int
	KubernetesVersion string
	ClusterDomain     string
	PodCIDRs          []string
	ServiceCIDRs      []string
	// ProxyMode is kube-proxy's mode from its ConfigMap ("iptables" for the empty
	// default); empty when the ConfigMap was not readable.
	ProxyMode string
	Nodes     []Node
	// Reachable is false when not even the server's version could be read: nothing else
	// was tried.
	Reachable bool
	// Failures are parts that should have been read and were not (denied, failed);
	// Notes are parts the server does not have (a gap, but nothing went wrong).
	Failures, Notes []bundle.Gap
}

// Gaps returns every gap, failures first, for the manifest.
func (r *Result) Gaps() []bundle.Gap {
	return append(append([]bundle.Gap{}, r.Failures...), r.Notes...)
}

type collector struct {
	opts Options
	mu   sync.Mutex
	res  *Result
	// items keeps the listed objects of the files the manifest is derived from.
	items map[string][]map[string]any
}

// Collect reads the cluster's objects. It returns an error only for a programming or
// context error; everything the cluster refuses or lacks is a gap in the Result.
func Collect(ctx context.Context, opts Options) (*Result, error) {
	if opts.PageSize <= 0 {
		opts.PageSize = 500
	}
	if opts.Backoff.Attempts == 0 {
		opts.Backoff = DefaultBackoff
	}
	if opts.Parallel <= 0 {
		opts.Parallel = 4
	}
	c := &collector{opts: opts, res: &Result{Files: map[string][]byte{}, Counts: map[string]int{}}, items: map[string][]map[string]any{}}
	if err := c.version(ctx); err != nil {
		c.fail("cluster", "cannot reach the API server: %v", err)
		return c.res, ctx.Err()
	}
	c.res.Reachable = true
	served := c.discover(ctx)

	sem := make(chan struct{}, opts.Parallel)
	var wg sync.WaitGroup
	for _, r := range Resources {
		if r.Optional {
			ok, known := served[r.GVR]
			if !known {
				continue // discovery failed for its group; that is already a gap
			}
			if !ok {
				if r.GVR.Resource == "servicecidrs" {
					c.note("cluster/"+r.String(), "not served by this API server (ServiceCIDR is GA from Kubernetes 1.33): the service ranges are not in the manifest")
				}
				continue
			}
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c.collectList(ctx, r)
		}()
	}
	wg.Add(1)
	go func() { defer wg.Done(); c.configMaps(ctx) }()
	wg.Wait()
	c.derive()
	return c.res, ctx.Err()
}

func (c *collector) fail(scope, format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.res.Failures = append(c.res.Failures, bundle.Gap{Scope: scope, Reason: fmt.Sprintf(format, args...)})
}

func (c *collector) note(scope, format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.res.Notes = append(c.res.Notes, bundle.Gap{Scope: scope, Reason: fmt.Sprintf(format, args...)})
}

func (c *collector) version(ctx context.Context) error {
	return c.opts.Backoff.Do(ctx, func() error {
		v, err := c.opts.Discovery.ServerVersion()
		if err == nil {
			c.res.KubernetesVersion = v.GitVersion
		}
		return err
	})
}

// discover asks the server which optional group versions it serves. The answer maps each
// optional resource to whether it is served; a resource whose group could not be asked
// about is absent (and a gap).
func (c *collector) discover(ctx context.Context) map[schema.GroupVersionResource]bool {
	out := map[schema.GroupVersionResource]bool{}
	byGV := map[schema.GroupVersion][]schema.GroupVersionResource{}
	for _, r := range Resources {
		if r.Optional {
			gv := r.GVR.GroupVersion()
			byGV[gv] = append(byGV[gv], r.GVR)
		}
	}
	gvs := make([]schema.GroupVersion, 0, len(byGV))
	for gv := range byGV {
		gvs = append(gvs, gv)
	}
	sort.Slice(gvs, func(i, j int) bool { return gvs[i].String() < gvs[j].String() })
	for _, gv := range gvs {
		var list *metav1.APIResourceList
		err := c.opts.Backoff.Do(ctx, func() error {
			var err error
			list, err = c.opts.Discovery.ServerResourcesForGroupVersion(gv.String())
			return err
		})
		if apierrors.IsNotFound(err) {
			for _, r := range byGV[gv] {
				out[r] = false
			}
			continue
		}
		if err != nil {
			for _, r := range byGV[gv] {
				c.fail("cluster/"+resourceName(r), "discovery of %s failed, so whether the server serves %s is unknown: %v", gv, resourceName(r), err)
			}
			continue
		}
		have := map[string]bool{}
		for _, ar := range list.APIResources {
			have[ar.Name] = true
		}
		for _, r := range byGV[gv] {
			out[r] = have[r.Resource]
		}
	}
	return out
}

// collectList lists one resource across all namespaces, page by page, and stages its file.
func (c *collector) collectList(ctx context.Context, r Resource) {
	keep := r.GVR.Resource == "nodes" || r.GVR.Resource == "servicecidrs" // read again by derive
	out, kept, err := c.list(ctx, r, keep)
	if err != nil {
		c.fail("cluster/"+r.String(), "%s", Describe(err, "list", r.GVR, "", ""))
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.res.Files["cluster/"+r.File] = out.Bytes()
	c.res.Counts["cluster/"+r.File] = out.Len()
	if keep {
		c.items[r.GVR.Resource] = kept
	}
}

// list reads every page of a resource, rendering each object as it comes (and keeping
// them only when asked). A continue token that expires mid-way (410 Gone) restarts the
// list once, unpaged, as client-go's pager does.
func (c *collector) list(ctx context.Context, r Resource, keep bool) (*listWriter, []map[string]any, error) {
	ri := c.opts.Dynamic.Resource(r.GVR)
	opts := metav1.ListOptions{Limit: c.opts.PageSize}
	out := &listWriter{}
	var kept []map[string]any
	restarted := false
	for {
		var page *unstructured.UnstructuredList
		err := c.opts.Backoff.Do(ctx, func() error {
			var err error
			page, err = ri.List(ctx, opts)
			return err
		})
		if err != nil {
			if apierrors.IsResourceExpired(err) && opts.Continue != "" && !restarted {
				restarted, out, kept, opts = true, &listWriter{}, nil, metav1.ListOptions{}
				continue
			}
			return nil, nil, err
		}
		for i := range page.Items {
			obj := page.Items[i].Object
			Sanitize(obj)
			if err := out.Add(obj); err != nil {
				return nil, nil, fmt.Errorf("rendering %s: %w", r.File, err)
			}
			if keep {
				kept = append(kept, obj)
			}
			page.Items[i].Object = nil
		}
		opts.Continue = page.GetContinue()
		if c.opts.Progress != nil {
			c.opts.Progress(r.String(), out.Len(), opts.Continue == "")
		}
		if opts.Continue == "" {
			return out, kept, nil
		}
	}
}

// configMaps reads the named network ConfigMaps, one get each (RBAC can grant exactly
// these by resourceNames). A missing one is fine; a denied one is a gap.
func (c *collector) configMaps(ctx context.Context) {
	cm := gvr("", "v1", "configmaps")
	var kept []map[string]any
	for _, ref := range NetworkConfigMaps {
		var obj *unstructured.Unstructured
		err := c.opts.Backoff.Do(ctx, func() error {
			var err error
			obj, err = c.opts.Dynamic.Resource(cm).Namespace(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
			return err
		})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			c.fail("cluster/configmaps/"+ref.Namespace+"/"+ref.Name, "%s", Describe(err, "get", cm, ref.Namespace, ref.Name))
			continue
		}
		m := obj.Object
		Sanitize(m)
		delete(m, "binaryData")
		data, _ := m["data"].(map[string]any)
		c.readConfig(ref, data)
		if ref.Keep {
			kept = append(kept, m)
		}
	}
	if len(kept) == 0 {
		return
	}
	out, err := ListYAML(kept)
	if err != nil {
		c.fail("cluster/configmaps", "rendering configmaps.yaml: %v", err)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.res.Files["cluster/configmaps.yaml"] = out
	c.res.Counts["cluster/configmaps.yaml"] = len(kept)
}

// Describe says why a request failed, naming the verb and resource, in the words an
// operator needs to fix RBAC: "forbidden: cannot list networkpolicies.networking.k8s.io
// at cluster scope: ...".
func Describe(err error, verb string, gvr schema.GroupVersionResource, namespace, name string) string {
	what := verb + " " + resourceName(gvr)
	if name != "" {
		what += " " + name
	}
	if namespace == "" {
		what += " at cluster scope"
	} else {
		what += " in namespace " + namespace
	}
	switch {
	case apierrors.IsForbidden(err):
		return "forbidden: cannot " + what + ": " + apiMessage(err)
	case apierrors.IsUnauthorized(err):
		return "unauthorized (the credentials were refused): cannot " + what + ": " + apiMessage(err)
	case apierrors.IsNotFound(err):
		return "not found: cannot " + what + ": " + apiMessage(err)
	case Transient(err):
		return "failed after retries: cannot " + what + ": " + err.Error()
	}
	return "cannot " + what + ": " + err.Error()
}

func apiMessage(err error) string {
	if st, ok := err.(apierrors.APIStatus); ok && st.Status().Message != "" {
		return strings.TrimSpace(st.Status().Message)
	}
	return err.Error()
}
