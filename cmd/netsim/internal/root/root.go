// Package root assembles netsim's command tree.
package root

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/netsim/netsim/cmd/netsim/internal/checkcmd"
	"github.com/netsim/netsim/cmd/netsim/internal/collectcmd"
	"github.com/netsim/netsim/cmd/netsim/internal/diagnosecmd"
	"github.com/netsim/netsim/cmd/netsim/internal/diffcmd"
	"github.com/netsim/netsim/cmd/netsim/internal/importcmd"
	"github.com/netsim/netsim/cmd/netsim/internal/inspectcmd"
	"github.com/netsim/netsim/cmd/netsim/internal/matrixcmd"
	"github.com/netsim/netsim/cmd/netsim/internal/policycmd"
	"github.com/netsim/netsim/cmd/netsim/internal/streams"
	"github.com/netsim/netsim/cmd/netsim/internal/tracecmd"
	"github.com/netsim/netsim/cmd/netsim/internal/versioncmd"
)

// NewCommand builds the netsim command with every verb.
func NewCommand(io streams.IO) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "netsim",
		Short: "Offline simulator of Kubernetes networking",
		Long: `netsim answers "why does this packet not arrive?" from a bundle of a cluster's state:
its API objects and every node's iptables, nftables, IPVS, routes and sockets.

  netsim trace -b BUNDLE SRC DST [PORT] [PROTO]   walk a packet, every path and its reply
  netsim policy -b BUNDLE POD                     which policies select a pod, and what they admit
  netsim check -b BUNDLE -f EXPECT.yaml           assert who may reach whom, for CI (JUnit with --junit)
  netsim matrix -b BUNDLE [-n NS]                 who can reach whom, per workload and port
  netsim diagnose -b BUNDLE                       every failure the bundle shows without a flow
  netsim diff -b OLD -b NEW                       the flows whose verdict changes between two bundles
  netsim collect -o BUNDLE                        collect a bundle from a live cluster (API and nodes)
  netsim import SOURCE... -o BUNDLE               build a bundle from the files attached to a ticket
  netsim inspect -b BUNDLE                        what a bundle holds, and what it lacks`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	cmd.SetIn(io.In)
	cmd.SetOut(io.Out)
	cmd.SetErr(io.Err)
	cmd.AddCommand(checkcmd.NewCommand(io), diffcmd.NewCommand(io), collectcmd.NewCommand(io), importcmd.NewCommand(io), inspectcmd.NewCommand(io), tracecmd.NewCommand(io), policycmd.NewCommand(io), matrixcmd.NewCommand(io), diagnosecmd.NewCommand(io), versioncmd.NewCommand(io))
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return streams.Usage("%v\nSee '%s --help'.", err, c.CommandPath())
	})
	return cmd
}

// Run executes netsim with args and returns the exit code.
func Run(io streams.IO, args []string) int {
	cmd := NewCommand(io)
	cmd.SetArgs(args)
	err := cmd.Execute()
	if err != nil {
		fmt.Fprintf(io.Err, "netsim: %v\n", err)
	}
	return streams.Code(err)
}
