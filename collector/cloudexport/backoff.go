package cloudexport

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff is the wait before retry n (0 first) of an exponential backoff from base,
// capped at max, with equal jitter: between half and all of min(base·2^n, max).
func Backoff(n int, base, max time.Duration) time.Duration {
	d := base << n
	if d > max || d <= 0 || n > 62 {
		d = max
	}
	return d/2 + rand.N(d/2+1)
}

// Sleep waits d, or until ctx ends, when it returns ctx's error.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
