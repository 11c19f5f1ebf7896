package orchestrate

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"time"
)

// CommandRunner runs the node part through a local command built from a template, e.g.
// `ssh {node} sudo netsim collect node -o -`: {node} is the node's name, {addr} its
// InternalIP. The command runs under `sh -c`; its stdout is the node's tar.gz.
// NETSIM_NODE and NETSIM_NODE_ADDR are set in its environment too.
type CommandRunner struct {
	Template string
	// Shell runs the expanded command (default: sh -c).
	Shell []string
}

// nodeNameRE is what a Node's name may be (a DNS subdomain), so that it can be placed
// in a shell command unquoted without meaning anything to the shell.
var nodeNameRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]{0,252})$`)

// Expand fills the template for a node, refusing names or addresses that are not what
// the API allows (they would reach the shell).
func (r *CommandRunner) Expand(node Target) (string, error) {
	if !nodeNameRE.MatchString(node.Name) {
		return "", fmt.Errorf("node name %q is not a DNS name; refusing to place it in a shell command", node.Name)
	}
	if strings.Contains(r.Template, "{addr}") {
		if _, err := netip.ParseAddr(node.Addr); err != nil {
			return "", fmt.Errorf("node %s has no InternalIP for {addr}", node.Name)
		}
	}
	return strings.NewReplacer("{node}", node.Name, "{addr}", node.Addr).Replace(r.Template), nil
}

// Run runs the command for one node. A context that ends kills the command and what it
// started (its process group).
func (r *CommandRunner) Run(ctx context.Context, node Target, out io.Writer) error {
	line, err := r.Expand(node)
	if err != nil {
		return err
	}
	shell := r.Shell
	if len(shell) == 0 {
		shell = []string{"sh", "-c"}
	}
	cmd := exec.CommandContext(ctx, shell[0], append(shell[1:], line)...)
	cmd.Env = append(os.Environ(), "NETSIM_NODE="+node.Name, "NETSIM_NODE_ADDR="+node.Addr)
	cmd.Stdout = out
	stderr := &tailBuffer{max: 4096}
	cmd.Stderr = stderr
	killGroup(cmd)
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w (stopped; stderr: %s)", line, ctx.Err(), stderr.String())
		}
		return fmt.Errorf("%s: %v; stderr: %s", line, err, stderr.String())
	}
	return nil
}

// tailBuffer keeps the last max bytes written: a command's stderr for a message.
type tailBuffer struct {
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	s := strings.TrimSpace(string(t.b))
	if s == "" {
		return "(empty)"
	}
	return s
}
