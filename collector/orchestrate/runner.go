// Package orchestrate runs `netsim collect`: the cluster part through the API, the node
// part on each selected node (in a short-lived privileged pod, or through a local command
// such as ssh), and the cloud exports, assembled into one bundle whose manifest names
// every gap.
package orchestrate

import (
	"context"
	"io"
)

// Target is a node whose part is to be collected.
type Target struct {
	Name string
	Addr string // its InternalIP, when the API knew it
}

// Runner runs the node part (`netsim collect node -o -`) on one node and copies the
// tar.gz it prints to out.
type Runner interface {
	Run(ctx context.Context, node Target, out io.Writer) error
}

// Preparer is a Runner with set-up before the first node and clean-up after the last.
// Cleanup is called once, with a context of its own even when the run was cancelled.
type Preparer interface {
	Prepare(ctx context.Context) error
	Cleanup(ctx context.Context) error
}

// NodeCommand is what a runner runs on a node: the node part writing its tar.gz to stdout.
var NodeCommand = []string{"netsim", "collect", "node", "-o", "-"}
