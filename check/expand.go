package check

import (
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/netsim/netsim/model"
	"github.com/netsim/netsim/simulate"
)

// IsSelector reports whether a from/to names a set of pods rather than one thing:
// `NS/*` (every pod of a namespace), `NS/LABEL-SELECTOR` (`shop/app=web`,
// `shop/tier in (web,api)`, `shop/!canary`), with `*` as NS for every namespace.
func IsSelector(s string) bool {
	kind, rest, ok := strings.Cut(s, "/")
	if !ok {
		return false
	}
	switch kind {
	case "pod", "po", "pods", "svc", "service", "services", "node", "nodes", "no":
		return false
	}
	return rest == "*" || strings.ContainsAny(rest, "=!(") || strings.Contains(rest, " in ") || strings.Contains(rest, " notin ") || kind == "*"
}

// Expand turns a from/to into the endpoints it names: a selector into every running pod
// it selects (host-network pods included: they are pods too), anything else through
// simulate.Resolve. A selector that selects nothing is an error: an assertion about no
// flows would hold without saying anything.
func Expand(c *model.Cluster, s string) ([]simulate.Endpoint, error) {
	if !IsSelector(s) {
		e, err := simulate.Resolve(c, s)
		if err != nil {
			return nil, err
		}
		return []simulate.Endpoint{e}, nil
	}
	ns, rest, _ := strings.Cut(s, "/")
	sel := labels.Everything()
	if rest != "*" {
		var err error
		if sel, err = labels.Parse(rest); err != nil {
			return nil, fmt.Errorf("%q: label selector %q: %v", s, rest, err)
		}
	}
	var pods []*model.Pod
	if ns == "*" {
		pods = c.Pods
	} else {
		if c.Namespace(ns) == nil && len(c.PodsInNamespace(ns)) == 0 {
			return nil, fmt.Errorf("%q: no namespace %s in the bundle", s, ns)
		}
		pods = c.PodsInNamespace(ns)
	}
	var out []simulate.Endpoint
	for _, p := range pods {
		if p.Terminal() || len(p.IPs) == 0 || !sel.Matches(labels.Set(p.Labels)) {
			continue
		}
		e, err := simulate.Resolve(c, "pod/"+p.Namespace+"/"+p.Name)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%q selects no running pod with an address", s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
