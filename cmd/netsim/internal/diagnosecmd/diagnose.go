// Package diagnosecmd is `netsim diagnose`: every field-guide failure a bundle shows
// without a flow, each with its evidence and a fix.
package diagnosecmd

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/netsim/netsim/cmd/netsim/internal/loadbundle"
	"github.com/netsim/netsim/cmd/netsim/internal/streams"
	"github.com/netsim/netsim/diagnose"
)

// NewCommand builds `netsim diagnose`.
func NewCommand(io streams.IO) *cobra.Command {
	var bundlePath, output string
	cmd := &cobra.Command{
		Use:   "diagnose -b BUNDLE [-o text|json]",
		Short: "Find the failures a bundle shows without a flow: Services, kube-proxy, firewalls, sysctls, routes, tunnels, MTUs, addresses, policies, the cloud",
		Long: `Look through the whole bundle for the failures of the field guide that show without a
flow: Services without endpoints, not-ready endpoints, targetPorts no pod declares, endpoints
that do not listen, the cluster DNS without endpoints; kube-proxy rules that lag the API on a
node; FORWARD policy DROP and host-firewall DROP/REJECT rules that hit pod or node traffic;
ip_forward, bridge-nf-call-iptables and strict rp_filter on an asymmetric path; missing,
blackholed or misdirected routes to other nodes' pod CIDRs, VXLAN neighbour and fdb entries;
pods without a route out; MTU mismatches; nodes without a podCIDR, overlapping CIDRs,
duplicate addresses, static neighbours with the wrong MAC, hairpin off; policies nothing
enforces; iptables rules no packet can reach (shadowed by an earlier rule); and, when the
bundle has cloud/ exports, what the cloud network refuses of the traffic the cluster needs
(between node classes, from outside to LoadBalancer and NodePort Services, to endpoints outside
the cluster and the internet) and pod or Service CIDRs overlapping a range it routes.

Each finding has a code, a severity (error: traffic the cluster's own objects say should
flow will not; warning; info), the node, the evidence (file and line, or object) and a fix.

Exit status: 0 no error finding; 1 at least one error finding; 2 usage or bundle error.`,
		Example: `  netsim diagnose -b testdata/faults/forward-drop.tar.gz
  netsim diagnose -b bundle -o json | jq '.findings[] | select(.severity=="error")'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if bundlePath == "" {
				return streams.Usage("diagnose: -b BUNDLE is required")
			}
			if output != "text" && output != "json" {
				return streams.Usage("diagnose: -o %q: want text or json", output)
			}
			b, c, err := loadbundle.Open(bundlePath)
			if err != nil {
				return err
			}
			defer b.Close()
			rep, err := diagnose.Run(c, diagnose.Options{})
			if err != nil {
				return streams.Bundle(err)
			}
			if output == "json" {
				err = diagnose.WriteJSON(io.Out, rep)
			} else {
				err = diagnose.WriteText(io.Out, rep)
			}
			if err != nil {
				return err
			}
			if n := rep.Errors(); n > 0 {
				return &streams.ExitError{Code: 1, Err: errors.New(fmt.Sprintf("diagnose: %d error finding(s)", n))}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&bundlePath, "bundle", "b", "", "the bundle: a folder or a .tar.gz")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	return cmd
}
