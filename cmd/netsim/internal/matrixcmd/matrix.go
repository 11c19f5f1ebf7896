// Package matrixcmd is `netsim matrix`: who can reach whom, per workload and port.
package matrixcmd

import (
	"github.com/spf13/cobra"

	"github.com/netsim/netsim/cmd/netsim/internal/loadbundle"
	"github.com/netsim/netsim/cmd/netsim/internal/streams"
	"github.com/netsim/netsim/matrix"
)

// NewCommand builds `netsim matrix`.
func NewCommand(io streams.IO) *cobra.Command {
	var bundlePath, ns, output string
	cmd := &cobra.Command{
		Use:   "matrix -b BUNDLE [-n NS] [-o table|csv|json|dot]",
		Short: "Who can reach whom: every workload to every workload, per port",
		Long: `Compute who can reach whom at workload granularity: pods grouped by their controller
(a Deployment through its ReplicaSet, a StatefulSet, a DaemonSet, a Job, or a pod on its
own), and for every pair of workloads, every port the destination's containers declare.
Each cell traces from the source workload's first pod to up to 5 pods of the destination
(every path, every reply): ok when every flow is delivered, -- when none is, ~ when some are
(pods on different nodes can differ), ? when none is and some could not be decided.
Host-network pods are left out (their ports are the node's).

-n NS limits the matrix to the workloads of one namespace. -o dot writes a Graphviz graph
of what is reachable.`,
		Example: `  netsim matrix -b testdata/bundles/two-node-iptables
  netsim matrix -b bundle.tar.gz -n shop -o csv > shop.csv
  netsim matrix -b bundle.tar.gz -o dot | dot -Tsvg > reachability.svg`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if bundlePath == "" {
				return streams.Usage("matrix: -b BUNDLE is required")
			}
			write := map[string]func(*matrix.Matrix) error{
				"table": func(m *matrix.Matrix) error { return matrix.WriteTable(io.Out, m) },
				"csv":   func(m *matrix.Matrix) error { return matrix.WriteCSV(io.Out, m) },
				"json":  func(m *matrix.Matrix) error { return matrix.WriteJSON(io.Out, m) },
				"dot":   func(m *matrix.Matrix) error { return matrix.WriteDOT(io.Out, m) },
			}[output]
			if write == nil {
				return streams.Usage("matrix: -o %q: want table, csv, json or dot", output)
			}
			b, c, err := loadbundle.Open(bundlePath)
			if err != nil {
				return err
			}
			defer b.Close()
			if ns != "" && c.Namespace(ns) == nil && len(c.PodsInNamespace(ns)) == 0 {
				return streams.Usage("matrix: -n %s: no such namespace in the bundle", ns)
			}
			m, err := matrix.Compute(c, ns)
			if err != nil {
				return streams.Bundle(err)
			}
			return write(m)
		},
	}
	cmd.Flags().StringVarP(&bundlePath, "bundle", "b", "", "the bundle: a folder or a .tar.gz")
	cmd.Flags().StringVarP(&ns, "namespace", "n", "", "only the workloads of this namespace")
	cmd.Flags().StringVarP(&output, "output", "o", "table", "table, csv, json or dot")
	return cmd
}
