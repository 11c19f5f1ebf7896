// Package diff finds the flows whose verdict changes between two bundles of one cluster
// (before and after a policy change, a kube-proxy change, a node's change). It does not
// trace every pair of pods: it finds which inputs differ (policies, namespaces' labels,
// Services and their endpoints, each node's dumps), and traces only the flows those
// inputs can change, over equivalence classes of pods.
package diff

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"io/fs"
	"path"
	"regexp"
	"sort"

	"github.com/netsim/netsim/model"
)

// inputs are the fingerprints of everything a verdict depends on, by key.
type inputs struct {
	policies   map[string]string // networkpolicy/NS/NAME, adminnetworkpolicy/NAME, baselineadminnetworkpolicy/NAME -> spec
	ipBlocks   map[string]bool   // policies with ipBlock or networks peers (decided by address, not labels)
	nsLabels   map[string]string
	services   map[string]string // NS/NAME -> spec and endpoints
	nodes      map[string]string // node -> hash of its dumps
	nsSelector map[string]bool   // policies with a namespaceSelector (namespace labels matter)
}

func fingerprint(v any) string {
	b, _ := json.Marshal(v)
	h := sha256.Sum256(b)
	return string(h[:])
}

// readInputs fingerprints a cluster and its bundle's node folders.
func readInputs(c *model.Cluster, fsys fs.FS) (*inputs, error) {
	in := &inputs{policies: map[string]string{}, ipBlocks: map[string]bool{}, nsLabels: map[string]string{},
		services: map[string]string{}, nodes: map[string]string{}, nsSelector: map[string]bool{}}
	for _, p := range c.NetworkPolicies {
		k := "networkpolicy/" + p.Namespace + "/" + p.Name
		in.policies[k] = fingerprint(p.Spec)
		for _, r := range p.Spec.Ingress {
			for _, pe := range r.From {
				in.ipBlocks[k] = in.ipBlocks[k] || pe.IPBlock != nil
				in.nsSelector[k] = in.nsSelector[k] || pe.NamespaceSelector != nil
			}
		}
		for _, r := range p.Spec.Egress {
			for _, pe := range r.To {
				in.ipBlocks[k] = in.ipBlocks[k] || pe.IPBlock != nil
				in.nsSelector[k] = in.nsSelector[k] || pe.NamespaceSelector != nil
			}
		}
	}
	for _, p := range c.AdminPolicies {
		in.policies["adminnetworkpolicy/"+p.Name] = fingerprint(p.Spec)
	}
	for _, p := range c.BaselinePolicy {
		in.policies["baselineadminnetworkpolicy/"+p.Name] = fingerprint(p.Spec)
	}
	for _, ns := range c.Namespaces {
		in.nsLabels[ns.Name] = fingerprint(ns.Labels)
	}
	for _, s := range c.Services {
		eps, _ := c.ServiceEndpoints(s)
		type ep struct {
			Addr  string
			Ready bool
			Node  string
			Ports []model.EndpointPort
		}
		var list []ep
		for _, e := range eps {
			list = append(list, ep{e.Addr.String(), e.Ready, e.NodeName, e.Ports})
		}
		sort.Slice(list, func(i, j int) bool { return list[i].Addr < list[j].Addr })
		in.services[s.Key()] = fingerprint([]any{s.Spec, list})
	}
	for _, n := range c.NodeDirs() {
		h := sha256.New()
		err := fs.WalkDir(fsys, path.Join("nodes", n), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := fs.ReadFile(fsys, p)
			if err != nil {
				return err
			}
			if data = normalize(path.Base(p), data); data != nil {
				h.Write([]byte(p))
				h.Write(data)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		in.nodes[n] = string(h.Sum(nil))
	}
	return in, nil
}

var (
	counters   = regexp.MustCompile(`\[\d+:\d+\]`)
	nftCounter = regexp.MustCompile(`"packets":\s*\d+,\s*"bytes":\s*\d+`)
	process    = regexp.MustCompile(`users:\(.*\)`)
	timers     = regexp.MustCompile(`"[a-z_]*timer":\s*[0-9.]+`)
	neighState = regexp.MustCompile(`"(state|used|probes|confirmed|refcnt|updated)":\s*(\[[^\]]*\]|\d+)`)
)

// normalize drops what changes between two dumps of an unchanged dataplane (counters,
// processes' pids, neighbour states, established sockets, the collector's own report), so
// that a node whose rules and routes did not change is not taken for a changed one. It
// returns nil for a file that does not decide verdicts.
func normalize(name string, data []byte) []byte {
	switch name {
	case "collect.yaml":
		return nil
	case "iptables-save.txt", "ip6tables-save.txt", "iptables-legacy-save.txt", "iptables-nft-save.txt":
		var out []byte
		for _, l := range bytes.Split(data, []byte("\n")) {
			if len(l) > 0 && l[0] == '#' {
				continue
			}
			out = append(append(out, counters.ReplaceAll(l, []byte("[0:0]"))...), '\n')
		}
		return out
	case "nft.json":
		return nftCounter.ReplaceAll(data, nil)
	case "sockets.txt":
		var out []byte
		for _, l := range bytes.Split(data, []byte("\n")) {
			if bytes.Contains(l, []byte("LISTEN")) || bytes.Contains(l, []byte("UNCONN")) {
				f := bytes.Fields(process.ReplaceAll(l, nil))
				if len(f) >= 6 {
					f = append(f[:2:2], f[4:]...) // without Recv-Q and Send-Q
				}
				out = append(append(out, bytes.Join(f, []byte(" "))...), '\n')
			}
		}
		return out
	case "addr.json":
		return timers.ReplaceAll(data, nil)
	case "neigh.json":
		return neighState.ReplaceAll(data, nil)
	case "sysctl.txt":
		var out []byte
		for _, l := range bytes.Split(data, []byte("\n")) {
			if bytes.Contains(l, []byte("_count =")) || bytes.Contains(l, []byte("random")) || bytes.Contains(l, []byte("uuid")) {
				continue
			}
			out = append(append(out, l...), '\n')
		}
		return out
	}
	return data
}

// changed lists the keys whose fingerprints differ, or that are in only one map.
func changed(a, b map[string]string) []string {
	var out []string
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			out = append(out, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
