package cluster

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Backoff says how often and how patiently a request is retried after a transient error.
type Backoff struct {
	Initial  time.Duration // the first wait
	Max      time.Duration // no wait is longer (a server's Retry-After too is capped here)
	Attempts int           // tries in all, the first included
	// Sleep waits for d or until ctx ends; nil is a real timer. Tests replace it.
	Sleep func(ctx context.Context, d time.Duration) error
}

// DefaultBackoff waits 0.5 s, 1 s, 2 s, ... up to 30 s, for 7 tries in all (about a minute).
var DefaultBackoff = Backoff{Initial: 500 * time.Millisecond, Max: 30 * time.Second, Attempts: 7}

// Do runs fn until it succeeds, fails for good, or the tries run out. A transient error
// (429, 5xx, a server or client timeout, a dropped connection) is retried after an
// exponentially growing wait with ±20 % jitter, or after the server's Retry-After when it
// names one. It returns fn's last error.
func (b Backoff) Do(ctx context.Context, fn func() error) error {
	sleep := b.Sleep
	if sleep == nil {
		sleep = sleepCtx
	}
	attempts := max(b.Attempts, 1)
	wait := b.Initial
	var err error
	for try := 1; ; try++ {
		if err = fn(); err == nil || try >= attempts || !Transient(err) || ctx.Err() != nil {
			return err
		}
		d := wait + time.Duration((rand.Float64()*0.4-0.2)*float64(wait))
		if secs, ok := apierrors.SuggestsClientDelay(err); ok && secs > 0 {
			d = time.Duration(secs) * time.Second
		}
		if b.Max > 0 && d > b.Max {
			d = b.Max
		}
		if serr := sleep(ctx, d); serr != nil {
			return err
		}
		wait *= 2
		if b.Max > 0 && wait > b.Max {
			wait = b.Max
		}
	}
}

// Transient reports whether err is worth retrying: the server asked to slow down or
// failed on its side, or the connection failed or timed out. RBAC denials, missing
// resources and invalid requests are not.
func Transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	// An answer from the server is judged by its code and reason only: client-go marks
	// any non-Status body as "unexpected", a plain 404 for an unserved group among them.
	var st apierrors.APIStatus
	if errors.As(err, &st) {
		s := st.Status()
		switch s.Reason {
		case metav1.StatusReasonTooManyRequests, metav1.StatusReasonServerTimeout, metav1.StatusReasonTimeout,
			metav1.StatusReasonInternalError, metav1.StatusReasonServiceUnavailable:
			return true
		}
		return s.Code == 429 || s.Code >= 500
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
