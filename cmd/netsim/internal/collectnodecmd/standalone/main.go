// Command standalone runs `netsim collect node` on its own. The end-to-end test uses it
// when the netsim binary it built does not have the `collect node` subcommand yet (the
// parent `collect` command wires it in).
package main

import (
	"fmt"
	"os"

	"github.com/netsim/netsim/cmd/netsim/internal/collectnodecmd"
	"github.com/netsim/netsim/cmd/netsim/internal/streams"
)

func main() {
	io := streams.Std()
	cmd := collectnodecmd.NewCommand(io)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	if err := cmd.Execute(); err != nil {
		fmt.Fprintln(io.Err, err)
		os.Exit(streams.Code(err))
	}
}
