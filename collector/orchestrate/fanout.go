package orchestrate

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// FanOut bounds the node part's runs.
type FanOut struct {
	Parallel int           // nodes at once (default 8)
	Timeout  time.Duration // per node (default 5 min)
	// MaxArchive caps one node's tar.gz (default 1 GiB).
	MaxArchive int
	// Progress, when set, is told of each node that finishes (from several goroutines).
	Progress func(node string, err error)
}

// NodeResult is one node's outcome: its files (bundle paths) or why there are none.
type NodeResult struct {
	Node     string
	Files    map[string][]byte
	Err      error
	Duration time.Duration
}

// Run runs r on every node, at most Parallel at a time, each bounded by Timeout, and
// returns the results in the nodes' order. A cancelled ctx stops the runs in flight (each
// runner cleans up after itself) and skips the rest.
func (f FanOut) Run(ctx context.Context, r Runner, nodes []Target) []NodeResult {
	par := f.Parallel
	if par <= 0 {
		par = 8
	}
	timeout := f.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	maxArchive := f.MaxArchive
	if maxArchive <= 0 {
		maxArchive = 1 << 30
	}
	out := make([]NodeResult, len(nodes))
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for i, n := range nodes {
		out[i].Node = n.Name
		select {
		case <-ctx.Done():
		case sem <- struct{}{}:
			if ctx.Err() != nil { // both were ready: a cancelled run starts nothing more
				<-sem
			}
		}
		if ctx.Err() != nil {
			out[i].Err = fmt.Errorf("not collected: %w", ctx.Err())
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out[i] = runOne(ctx, r, n, timeout, maxArchive)
			if f.Progress != nil {
				f.Progress(n.Name, out[i].Err)
			}
		}()
	}
	wg.Wait()
	return out
}

func runOne(ctx context.Context, r Runner, n Target, timeout time.Duration, maxArchive int) NodeResult {
	start := time.Now()
	res := NodeResult{Node: n.Name}
	nctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	buf := &capBuffer{max: maxArchive}
	err := r.Run(nctx, n, buf)
	res.Duration = time.Since(start)
	switch {
	case err != nil && nctx.Err() == context.DeadlineExceeded && ctx.Err() == nil:
		res.Err = fmt.Errorf("timed out after %s (--node-timeout): %v", timeout, err)
	case err != nil:
		res.Err = err
	default:
		res.Files, res.Err = Unpack(n.Name, buf.Bytes())
	}
	return res
}
