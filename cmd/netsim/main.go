// Command netsim simulates Kubernetes networking offline from a bundle of cluster state.
package main

import (
	"os"

	"github.com/netsim/netsim/cmd/netsim/internal/root"
	"github.com/netsim/netsim/cmd/netsim/internal/streams"
	"github.com/netsim/netsim/internal/gctune"
)

func main() {
	gctune.Tune()
	os.Exit(root.Run(streams.Std(), os.Args[1:]))
}
