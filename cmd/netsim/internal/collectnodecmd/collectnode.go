// Package collectnodecmd is `netsim collect node`: on a node (or inside a network
// namespace), as root, write the node's dataplane files of a bundle.
package collectnodecmd

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/netsim/netsim/bundle"
	"github.com/netsim/netsim/cmd/netsim/internal/streams"
	"github.com/netsim/netsim/collector/node"
)

// NewCommand builds `netsim collect node`.
func NewCommand(io streams.IO) *cobra.Command {
	var out string
	var podNetNS []string
	var criSocket, netnsDir string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "node [--pod-netns auto|none|NAME,...] -o DIR",
		Short: "Collect this node's dataplane (host and pod network namespaces) as bundle files",
		Long: `Collect this node's dataplane as the files of a bundle's nodes/NODE/ folder: links and
addresses, routes, rules, neighbours and the bridge fdb (read over netlink, written as
ip -j and bridge -j print them), sysctls and sockets (from /proc, as sysctl and ss print
them), iptables-save and ipset save, the nftables ruleset (nft -j, or translated from
netlink where nft is not installed) and IPVS (ipvsadm -Sn). Each pod's namespace goes to
pods/NS_NAME/. What each file came from and every failure is in collect.yaml; one failing
file never stops the others.

Run as root on the node (or inside a namespace). It reads nothing from the API server.

--pod-netns: auto (default) asks the container runtime (CRI) for the pod sandboxes, else
takes the named namespaces in --netns-dir; none collects the host namespace only; or a
list of NAME (a namespace in --netns-dir, or a path) and NS_NAME=NETNS entries.

-o: a directory (new or empty), X.tar.gz for an archive, or - for a .tar.gz on stdout.`,
		Example: `  netsim collect node -o /tmp/node1
  netsim collect node -o - > node1.tar.gz
  ip netns exec node1 netsim collect node --pod-netns default_web=cni-1234 -o node1.tar.gz`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return streams.Usage("collect node: -o DIR is required (a directory, X.tar.gz or - for stdout)")
			}
			for _, p := range podNetNS {
				if (p == "auto" || p == "none") && len(podNetNS) > 1 {
					return streams.Usage("collect node: --pod-netns %s cannot be combined with other entries", p)
				}
			}
			if len(podNetNS) > 0 && podNetNS[0] != "auto" && podNetNS[0] != "none" {
				if _, err := node.ParsePodNetNS(podNetNS, netnsDir); err != nil {
					return streams.Usage("collect node: %v", err)
				}
			}
			if out != "-" && !bundle.IsArchive(out) {
				if ents, err := os.ReadDir(out); err == nil && len(ents) > 0 {
					return streams.Usage("collect node: -o %s exists and is not empty; choose a new output directory", out)
				}
			}
			if os.Geteuid() != 0 {
				fmt.Fprintln(io.Err, "collect node: not running as root: most files will fail (see collect.yaml)")
			}
			logf := func(format string, a ...any) {
				if !quiet {
					fmt.Fprintf(io.Err, format+"\n", a...)
				}
			}
			res, err := node.Collect(cmd.Context(), node.Options{PodNetNS: podNetNS, CRISocket: criSocket, NetNSDir: netnsDir, Logf: logf})
			if err != nil {
				return fmt.Errorf("collect node: %w", err)
			}
			switch {
			case out == "-":
				err = res.WriteArchive(io.Out)
			case bundle.IsArchive(out):
				err = res.WriteArchiveFile(out)
			default:
				err = res.WriteDir(out)
			}
			if err != nil {
				return fmt.Errorf("collect node: write %s: %w", out, err)
			}
			failed := failures(res)
			if len(failed) > 0 {
				logf("collect node: %d files not collected (see collect.yaml): %s", len(failed), strings.Join(failed, "; "))
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "a directory, X.tar.gz, or - for a .tar.gz on stdout")
	cmd.Flags().StringSliceVar(&podNetNS, "pod-netns", []string{"auto"}, "auto, none, or NAME / NS_NAME=NETNS entries")
	cmd.Flags().StringVar(&criSocket, "cri-socket", "/run/containerd/containerd.sock", "the container runtime's CRI socket")
	cmd.Flags().StringVar(&netnsDir, "netns-dir", "/var/run/netns", "where named network namespaces are")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "no progress on stderr")
	return cmd
}

// failures lists "NAMESPACE FILE: error" for every file that failed.
func failures(o *node.Output) []string {
	var out []string
	add := func(r *node.Report) {
		for _, f := range r.Files {
			if f.Error != "" {
				out = append(out, r.Namespace+" "+f.Name+": "+f.Error)
			}
		}
	}
	add(o.Host)
	for _, r := range o.Pods {
		add(r)
	}
	return out
}
