// Package importcmd is `netsim import`: a bundle from the loose files of a ticket.
package importcmd

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/netsim/netsim/cmd/netsim/internal/streams"
	"github.com/netsim/netsim/importer"
)

type flags struct {
	out     string
	nodes   []string
	cluster string
	dryRun  bool
}

// NewCommand builds `netsim import`.
func NewCommand(io streams.IO) *cobra.Command {
	var f flags
	cmd := &cobra.Command{
		Use:   "import SOURCE... -o OUT",
		Short: "Build a bundle from loose files, folders and archives (a ticket's attachments)",
		Long: `Build a bundle from the files attached to a support ticket.

Each file is recognised by its content, not its name: kubectl output (get -o yaml|json,
cluster-info dump, to stdout or a folder), iptables-save, iptables -S, iptables -L -n -v,
ipset save, nft -j list ruleset, ipvsadm -Sn / -Ln, ip -j ... and plain ip addr|link|route|
rule|neigh, sysctl -a, ss, and sosreport folders. SOURCE may be a file, a folder (read
recursively) or a .tar.gz (read in memory; entries that would leave it are refused).

Node dumps are placed on a node, in this order: --node NAME=SOURCE; a folder named after a
pod (NAMESPACE_NAME), a node, or the bundle layout (nodes/NAME/); the addresses in the same
folder's ip addr dump matched to a pod's or a node's; a sosreport's hostname; --node NAME.
A table then says, for every file, what it was recognised as, where it was placed, and what
could not be used and why. OUT is a folder, or a .tar.gz when its name says so.`,
		Example: `  netsim import ticket-4711/ -o bundle
  netsim import kubectl-get-all.yaml node1/ node2.tar.gz -o bundle.tar.gz
  netsim import iptables-save.txt ip-route.txt --node worker-3 -o bundle
  netsim import dumps/ --node worker-1=dumps/a --node worker-2=dumps/b -o bundle`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(io, f, args)
		},
	}
	cmd.Flags().StringVarP(&f.out, "output", "o", "", "the bundle to write: a new folder, or a file ending in .tar.gz")
	cmd.Flags().StringArrayVar(&f.nodes, "node", nil, "NAME=SOURCE: the node SOURCE's dumps belong to; NAME alone: the node for dumps nothing else places (repeatable)")
	cmd.Flags().StringVar(&f.cluster, "cluster", "", "the cluster's name, for the manifest")
	cmd.Flags().BoolVar(&f.dryRun, "dry-run", false, "print what would be imported, write nothing")
	return cmd
}

func run(io streams.IO, f flags, sources []string) error {
	if f.out == "" && !f.dryRun {
		return streams.Usage("import: -o OUT is required (a new folder, or a file ending in .tar.gz)")
	}
	opts := importer.Options{NodeOf: map[string]string{}, Cluster: f.cluster}
	for _, n := range f.nodes {
		name, src, ok := strings.Cut(n, "=")
		switch {
		case !ok && opts.DefaultNode != "":
			return streams.Usage("import: --node %s and --node %s: only one --node may stand without =SOURCE", opts.DefaultNode, n)
		case !ok:
			opts.DefaultNode = n
		case name == "" || src == "":
			return streams.Usage("import: --node %q: want NAME=SOURCE or NAME", n)
		default:
			opts.NodeOf[src] = name
		}
	}
	res, err := importer.Import(sources, opts)
	if err != nil {
		return streams.Usage("import: %v", err)
	}
	placed := printTable(io, res)
	if placed == 0 {
		return streams.Usage("import: nothing in the sources is a format netsim reads")
	}
	if f.dryRun {
		fmt.Fprintf(io.Out, "\n%d of %d files would be placed (dry run: nothing written)\n", placed, len(res.Entries))
		return nil
	}
	if err := res.Write(f.out); err != nil {
		return streams.Usage("import: %v", err)
	}
	fmt.Fprintf(io.Out, "\n%d of %d files placed; bundle written to %s\n", placed, len(res.Entries), f.out)
	if len(res.Manifest.Gaps) > 0 {
		fmt.Fprintf(io.Out, "gaps recorded in the manifest:\n")
		for _, g := range res.Manifest.Gaps {
			fmt.Fprintf(io.Out, "  %s: %s\n", g.Scope, g.Reason)
		}
	}
	return nil
}

func printTable(io streams.IO, res *importer.Result) int {
	tw := tabwriter.NewWriter(io.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FILE\tRECOGNISED AS\tPLACED AT\tNOTE")
	placed := 0
	for _, e := range res.Entries {
		kind, at := string(e.Kind), e.Placed
		if kind == "" {
			kind = "-"
		}
		if at == "" {
			at = "-"
		} else {
			placed++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Source, kind, at, e.Note)
	}
	tw.Flush()
	return placed
}
