// Package policycmd is `netsim policy`: what the policies say about one pod.
package policycmd

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/netsim/netsim/cmd/netsim/internal/loadbundle"
	"github.com/netsim/netsim/cmd/netsim/internal/streams"
	"github.com/netsim/netsim/model"
	"github.com/netsim/netsim/policy"
	"github.com/netsim/netsim/simulate"
)

// NewCommand builds `netsim policy`.
func NewCommand(io streams.IO) *cobra.Command {
	var bundlePath, output string
	cmd := &cobra.Command{
		Use:   "policy -b BUNDLE POD",
		Short: "Show which policies select a pod, and the peers and ports they admit, ingress and egress",
		Long: `Show what the cluster's policies say about one pod: the AdminNetworkPolicies that select it
(in priority order), whether NetworkPolicies isolate it and which, each rule's peers and
ports in words, the BaselineAdminNetworkPolicy, and which enforcer the bundle shows (none
means the policies are not enforced at all).

POD: pod/NS/NAME, NS/NAME or the pod's address.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if bundlePath == "" {
				return streams.Usage("policy: -b BUNDLE is required")
			}
			if output != "text" && output != "json" {
				return streams.Usage("policy: -o %q: want text or json", output)
			}
			b, c, err := loadbundle.Open(bundlePath)
			if err != nil {
				return err
			}
			defer b.Close()
			ep, err := simulate.Resolve(c, args[0])
			if err != nil || ep.Kind != simulate.PodEndpoint {
				if err == nil {
					err = fmt.Errorf("%s is not a pod", args[0])
				}
				return streams.Usage("policy: %v", err)
			}
			ns, name, _ := strings.Cut(ep.Pod, "/")
			e := policy.New(c)
			r := e.Report(c.Pod(ns, name))
			dumps := map[string][]byte{}
			for _, n := range c.NodeDirs() {
				if st, err := c.NodeState(n); err == nil && st.Host.RuleFiles[model.IPTablesV4] != nil {
					f := st.Host.RuleFiles[model.IPTablesV4]
					dumps[f.Name] = f.Data
				}
			}
			switch en := policy.DetectEnforcer(c, dumps); {
			case en.Name == "":
				r.Enforcer = "none found: policies are not enforced in this cluster"
			case en.InDataplane:
				r.Enforcer = en.Name + " (" + en.Evidence + "; its iptables rules are in the dumps)"
			default:
				r.Enforcer = en.Name + " (" + en.Evidence + ")"
			}
			if output == "json" {
				enc := json.NewEncoder(io.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(r)
			}
			fmt.Fprintf(io.Out, "pod %s\nenforcer: %s\n", r.Pod, r.Enforcer)
			if r.Note != "" {
				fmt.Fprintf(io.Out, "%s\n", r.Note)
				return nil
			}
			for _, d := range []struct {
				name string
				r    policy.DirectionReport
			}{{"ingress", r.Ingress}, {"egress", r.Egress}} {
				fmt.Fprintf(io.Out, "\n%s: %s\n", strings.ToUpper(d.name), d.r.Summary)
				show := func(kind string, p policy.PolicyRules) {
					fmt.Fprintf(io.Out, "  %s %s (%s:%d)\n", kind, p.Name, p.File, p.Line)
					for _, rule := range p.Rules {
						fmt.Fprintf(io.Out, "    %s\n", rule)
					}
				}
				for _, p := range d.r.Admin {
					show("admin", p)
				}
				for _, p := range d.r.Policies {
					show("policy", p)
				}
				if d.r.Baseline != nil {
					show("baseline", *d.r.Baseline)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&bundlePath, "bundle", "b", "", "the bundle: a folder or a .tar.gz")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	return cmd
}
