// Package inspectcmd is `netsim inspect`: what a bundle holds and what it lacks.
package inspectcmd

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"go4.org/netipx"

	"github.com/netsim/netsim/bundle"
	"github.com/netsim/netsim/cmd/netsim/internal/streams"
	"github.com/netsim/netsim/model"
)

// Report is inspect's answer; -o json prints it as is.
type Report struct {
	Bundle       string           `json:"bundle"`
	Manifest     *bundle.Manifest `json:"manifest"`
	Kinds        []KindCount      `json:"kinds"`
	Nodes        []NodeInfo       `json:"nodes"`
	CIDRs        CIDRs            `json:"cidrs"`
	Gaps         []bundle.Gap     `json:"gaps"`
	Problems     []string         `json:"problems"`
	SkippedFiles []string         `json:"skippedFiles,omitempty"`
}

// KindCount is the number of objects of a kind.
type KindCount struct {
	Kind    string `json:"kind"`
	Count   int    `json:"count"`
	Modeled bool   `json:"modeled"`
}

// NodeInfo is one node: in the API, in the dumps, or both.
type NodeInfo struct {
	Name        string   `json:"name"`
	InAPI       bool     `json:"inAPI"`
	Dataplane   bool     `json:"dataplane"`
	Addresses   []string `json:"addresses,omitempty"`
	PodCIDRs    []string `json:"podCIDRs,omitempty"`
	Pods        int      `json:"pods"`
	PodDumps    int      `json:"podDumps"`
	RuleFiles   []string `json:"ruleFiles,omitempty"`
	MissingFile []string `json:"missingFiles,omitempty"`
}

// CIDRs are the cluster's address ranges, as declared and as observed.
type CIDRs struct {
	Declared struct {
		Pod     []string `json:"pod,omitempty"`
		Service []string `json:"service,omitempty"`
	} `json:"declared"`
	NodePodCIDRs []string `json:"nodePodCIDRs,omitempty"`
	// ObservedServiceRange is the smallest prefix covering every cluster IP, per family.
	ObservedServiceRange []string `json:"observedServiceRange,omitempty"`
	// ObservedPodRange is the smallest prefix covering every pod IP, per family.
	ObservedPodRange []string `json:"observedPodRange,omitempty"`
}

// NewCommand builds `netsim inspect`.
func NewCommand(io streams.IO) *cobra.Command {
	var bundlePath, output string
	cmd := &cobra.Command{
		Use:   "inspect -b BUNDLE",
		Short: "Show what a bundle holds: objects per kind, nodes with and without dataplane data, gaps, CIDRs",
		Long: `Show what a bundle holds: objects per kind, which nodes have dataplane dumps (and which
files each lacks), the gaps the manifest records and those inspect finds, the cluster's
address ranges, and every malformed file or object with its file and line.

Exit status: 0 when the bundle reads cleanly, 1 when some file or object is malformed
(listed under problems), 2 when the bundle cannot be opened.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if bundlePath == "" {
				return streams.Usage("inspect: -b BUNDLE is required")
			}
			if output != "text" && output != "json" {
				return streams.Usage("inspect: -o %q: want text or json", output)
			}
			rep, err := Inspect(bundlePath)
			if err != nil {
				return streams.Bundle(err)
			}
			if output == "json" {
				enc := json.NewEncoder(io.Out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else {
				printText(io, rep)
			}
			if len(rep.Problems) > 0 {
				return &streams.ExitError{Code: 1, Err: fmt.Errorf("%d problems in %s", len(rep.Problems), bundlePath)}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&bundlePath, "bundle", "b", "", "the bundle: a folder or a .tar.gz")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	return cmd
}

// Inspect reads a whole bundle, leniently, and reports on it.
func Inspect(path string) (*Report, error) {
	b, err := bundle.Open(path)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	c, err := model.Load(b, model.Options{Lenient: true})
	if err != nil {
		return nil, err
	}
	rep := &Report{Bundle: path, Manifest: b.Manifest, Gaps: append([]bundle.Gap{}, b.Manifest.Gaps...), Problems: []string{}, SkippedFiles: c.Skipped}
	rep.Problems = append(rep.Problems, b.Warnings...)
	for _, p := range c.Problems {
		rep.Problems = append(rep.Problems, p.Error())
	}
	for _, k := range c.Kinds() {
		if k.Count > 0 || k.Modeled {
			rep.Kinds = append(rep.Kinds, KindCount{Kind: k.GVK.Kind, Count: k.Count, Modeled: k.Modeled})
		}
	}
	rep.Nodes = nodes(c, rep)
	rep.CIDRs = cidrs(c)
	return rep, nil
}

func nodes(c *model.Cluster, rep *Report) []NodeInfo {
	byName := map[string]*NodeInfo{}
	for _, n := range c.Nodes {
		ni := &NodeInfo{Name: n.Name, InAPI: true, Pods: len(c.PodsOnNode(n.Name))}
		for _, a := range n.Addrs {
			ni.Addresses = append(ni.Addresses, a.String())
		}
		for _, p := range n.PodCIDRs {
			ni.PodCIDRs = append(ni.PodCIDRs, p.String())
		}
		byName[n.Name] = ni
	}
	for _, d := range c.NodeDirs() {
		ni := byName[d]
		if ni == nil {
			ni = &NodeInfo{Name: d}
			byName[d] = ni
			rep.Gaps = append(rep.Gaps, bundle.Gap{Scope: bundle.NodeDir(d), Reason: "dataplane dump of a node that is not among the cluster's Node objects"})
		}
		ni.Dataplane = true
		st, err := c.NodeState(d)
		if err != nil {
			rep.Problems = append(rep.Problems, err.Error())
			continue
		}
		ni.PodDumps = len(st.Pods)
		for k := range st.Host.RuleFiles {
			ni.RuleFiles = append(ni.RuleFiles, string(k))
		}
		sort.Strings(ni.RuleFiles)
		ni.MissingFile = st.Host.Missing
		if len(st.Host.Missing) > 0 {
			rep.Gaps = append(rep.Gaps, bundle.Gap{Scope: st.Dir, Reason: "missing " + strings.Join(st.Host.Missing, ", ")})
		}
		if len(st.Host.RuleFiles) == 0 {
			rep.Gaps = append(rep.Gaps, bundle.Gap{Scope: st.Dir, Reason: "no iptables-save.txt, nft.json or ipvs.txt: the node's packet filtering and Service translation are unknown"})
		}
		var undumped []string
		for _, p := range c.PodsOnNode(d) {
			if !p.HostNetwork() && !p.Terminal() && st.Pods[p.Key()] == nil {
				undumped = append(undumped, p.Key())
			}
		}
		if len(undumped) > 0 {
			sort.Strings(undumped)
			more := ""
			if len(undumped) > 5 {
				more = fmt.Sprintf(" and %d more", len(undumped)-5)
				undumped = undumped[:5]
			}
			rep.Gaps = append(rep.Gaps, bundle.Gap{Scope: st.Dir + "/pods", Reason: "no namespace dump for pods " + strings.Join(undumped, ", ") + more})
		}
	}
	var out []NodeInfo
	for _, ni := range byName {
		if ni.InAPI && !ni.Dataplane {
			rep.Gaps = append(rep.Gaps, bundle.Gap{Scope: bundle.NodeDir(ni.Name), Reason: "no dataplane dump: what happens on this node is decided from the API objects alone"})
		}
		out = append(out, *ni)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	sort.SliceStable(rep.Gaps, func(i, j int) bool { return rep.Gaps[i].Scope < rep.Gaps[j].Scope })
	return out
}

// covering returns, per family, the smallest prefix that covers every address.
func covering(addrs []netip.Addr) []string {
	var out []string
	for _, is4 := range []bool{true, false} {
		var lo, hi netip.Addr
		for _, a := range addrs {
			if a.Is4() != is4 {
				continue
			}
			if !lo.IsValid() || a.Less(lo) {
				lo = a
			}
			if !hi.IsValid() || hi.Less(a) {
				hi = a
			}
		}
		if !lo.IsValid() {
			continue
		}
		bits := lo.BitLen()
		for ; bits > 0; bits-- {
			p, _ := lo.Prefix(bits)
			if p.Contains(hi) {
				break
			}
		}
		p, _ := lo.Prefix(bits)
		out = append(out, p.String())
	}
	return out
}

func cidrs(c *model.Cluster) CIDRs {
	var out CIDRs
	out.Declared.Pod = c.Manifest.PodCIDRs
	out.Declared.Service = c.Manifest.ServiceCIDRs
	for _, sc := range c.ServiceCIDRs {
		out.Declared.Service = append(out.Declared.Service, sc.Spec.CIDRs...)
	}
	var b netipx.IPSetBuilder
	for _, n := range c.Nodes {
		for _, p := range n.PodCIDRs {
			b.AddPrefix(p)
		}
	}
	if set, err := b.IPSet(); err == nil {
		for _, p := range set.Prefixes() {
			out.NodePodCIDRs = append(out.NodePodCIDRs, p.String())
		}
	}
	var sips, pips []netip.Addr
	for _, s := range c.Services {
		sips = append(sips, s.ClusterIPs...)
	}
	for _, p := range c.Pods {
		if !p.HostNetwork() {
			pips = append(pips, p.IPs...)
		}
	}
	out.ObservedServiceRange = covering(sips)
	out.ObservedPodRange = covering(pips)
	return out
}

func printText(io streams.IO, r *Report) {
	m := r.Manifest
	fmt.Fprintf(io.Out, "bundle %s (%s)\n", r.Bundle, m.Format)
	if m.Cluster != "" {
		fmt.Fprintf(io.Out, "  cluster %s", m.Cluster)
		if m.KubernetesVersion != "" {
			fmt.Fprintf(io.Out, ", kubernetes %s", m.KubernetesVersion)
		}
		fmt.Fprintf(io.Out, ", domain %s\n", m.Domain())
	}
	if m.Source != "" {
		fmt.Fprintf(io.Out, "  from %s", m.Source)
		if !m.CollectedAt.IsZero() {
			fmt.Fprintf(io.Out, " at %s", m.CollectedAt.UTC().Format("2006-01-02 15:04:05 UTC"))
		}
		fmt.Fprintln(io.Out)
	}
	fmt.Fprintln(io.Out, "\nobjects")
	tw := tabwriter.NewWriter(io.Out, 0, 4, 2, ' ', 0)
	for _, k := range r.Kinds {
		note := ""
		if !k.Modeled {
			note = "\t(kept, not modelled)"
		}
		fmt.Fprintf(tw, "  %s\t%d%s\n", k.Kind, k.Count, note)
	}
	tw.Flush()
	fmt.Fprintln(io.Out, "\nnodes")
	tw = tabwriter.NewWriter(io.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  NAME\tAPI\tDATAPLANE\tADDRESSES\tPOD CIDR\tPODS (DUMPED)\tRULES")
	yes := map[bool]string{true: "yes", false: "no"}
	for _, n := range r.Nodes {
		dp := yes[n.Dataplane]
		if n.Dataplane && len(n.MissingFile) > 0 {
			dp = fmt.Sprintf("partial (%d missing)", len(n.MissingFile))
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%d (%d)\t%s\n", n.Name, yes[n.InAPI], dp, orDash(strings.Join(n.Addresses, ",")),
			orDash(strings.Join(n.PodCIDRs, ",")), n.Pods, n.PodDumps, orDash(strings.Join(n.RuleFiles, ",")))
	}
	tw.Flush()
	fmt.Fprintln(io.Out, "\ncidrs")
	c := r.CIDRs
	fmt.Fprintf(io.Out, "  pod (declared):       %s\n", orDash(strings.Join(c.Declared.Pod, ", ")))
	fmt.Fprintf(io.Out, "  service (declared):   %s\n", orDash(strings.Join(c.Declared.Service, ", ")))
	fmt.Fprintf(io.Out, "  nodes' pod CIDRs:     %s\n", orDash(strings.Join(c.NodePodCIDRs, ", ")))
	fmt.Fprintf(io.Out, "  pod IPs seen in:      %s\n", orDash(strings.Join(c.ObservedPodRange, ", ")))
	fmt.Fprintf(io.Out, "  cluster IPs seen in:  %s\n", orDash(strings.Join(c.ObservedServiceRange, ", ")))
	fmt.Fprintln(io.Out, "\ngaps")
	if len(r.Gaps) == 0 {
		fmt.Fprintln(io.Out, "  none")
	}
	for _, g := range r.Gaps {
		fmt.Fprintf(io.Out, "  %s: %s\n", g.Scope, g.Reason)
	}
	if len(r.SkippedFiles) > 0 {
		fmt.Fprintf(io.Out, "\nfiles under cluster/ that are not object files: %s\n", strings.Join(r.SkippedFiles, ", "))
	}
	fmt.Fprintln(io.Out, "\nproblems")
	if len(r.Problems) == 0 {
		fmt.Fprintln(io.Out, "  none")
	}
	for _, p := range r.Problems {
		fmt.Fprintf(io.Out, "  %s\n", p)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
