// Package versioncmd is `netsim version`.
package versioncmd

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/netsim/netsim/bundle"
	"github.com/netsim/netsim/cmd/netsim/internal/streams"
)

// Version is set at build time with -ldflags "-X .../versioncmd.Version=v1.2.3".
var Version = "dev"

// NewCommand builds `netsim version`.
func NewCommand(io streams.IO) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print netsim's version and the formats it reads",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			rev := ""
			if info, ok := debug.ReadBuildInfo(); ok {
				for _, s := range info.Settings {
					if s.Key == "vcs.revision" {
						rev = " (" + s.Value + ")"
					}
				}
			}
			fmt.Fprintf(io.Out, "netsim %s%s %s/%s %s\nbundle format: %s\ntrace schemaVersion: 1\n", Version, rev, runtime.GOOS, runtime.GOARCH, runtime.Version(), bundle.Format)
			return nil
		},
	}
}
