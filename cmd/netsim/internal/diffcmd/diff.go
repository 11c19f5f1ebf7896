// Package diffcmd is `netsim diff`: the flows whose verdict changes between two bundles.
package diffcmd

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/netsim/netsim/bundle"
	"github.com/netsim/netsim/cmd/netsim/internal/loadbundle"
	"github.com/netsim/netsim/cmd/netsim/internal/streams"
	"github.com/netsim/netsim/diff"
	"github.com/netsim/netsim/model"
)

// NewCommand builds `netsim diff`.
func NewCommand(io streams.IO) *cobra.Command {
	var bundles []string
	var output string
	cmd := &cobra.Command{
		Use:   "diff -b OLD -b NEW [-o text|json|markdown]",
		Short: "The flows whose verdict changes between two bundles of a cluster",
		Long: `Compare two bundles of one cluster (before and after a change) and list the flows whose
verdict changes. netsim does not trace every pair of pods: it finds the inputs that differ
(NetworkPolicies and admin policies, namespaces' labels, Services and their endpoints, each
node's dumps) and traces only the flows those can change, over classes of pods (namespace,
labels, node): for a policy change, the policy decisions of every pair of classes the policy
selects are compared first and only those that differ are traced; for a node's dumps, a pod
of that node to and from every node on every declared port, and to every Service; for a
Service, a pod of every node to it. Pods present in one bundle only are counted, not compared.

-o markdown writes a table for a pull-request comment.

Exit status: 0 no flow changes; 1 some flow changes; 2 usage or bundle error.`,
		Example: `  netsim diff -b before.tar.gz -b after.tar.gz
  netsim diff -b main/bundle -b pr/bundle -o markdown > comment.md`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(bundles) != 2 {
				return streams.Usage("diff: give two bundles: -b OLD -b NEW")
			}
			write := map[string]func(*diff.Result) error{
				"text":     func(r *diff.Result) error { return diff.WriteText(io.Out, r) },
				"json":     func(r *diff.Result) error { return diff.WriteJSON(io.Out, r) },
				"markdown": func(r *diff.Result) error { return diff.WriteMarkdown(io.Out, r) },
				"md":       func(r *diff.Result) error { return diff.WriteMarkdown(io.Out, r) },
			}[output]
			if write == nil {
				return streams.Usage("diff: -o %q: want text, json or markdown", output)
			}
			var cs [2]*model.Cluster
			var bs [2]*bundle.Bundle
			for i, p := range bundles {
				b, c, err := loadbundle.Open(p)
				if err != nil {
					return err
				}
				defer b.Close()
				cs[i], bs[i] = c, b
			}
			r, err := diff.Compute(cs[0], cs[1], bs[0].FS(), bs[1].FS())
			if err != nil {
				return streams.Bundle(err)
			}
			if err := write(r); err != nil {
				return err
			}
			if len(r.Changes) > 0 {
				return &streams.ExitError{Code: 1, Err: fmt.Errorf("%d flows change their verdict", len(r.Changes))}
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&bundles, "bundle", "b", nil, "the old bundle, then the new one (a folder or a .tar.gz)")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text, json or markdown")
	return cmd
}
