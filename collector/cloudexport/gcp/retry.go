package gcp

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/netsim/netsim/collector/cloudexport"
)

// Attempts and BaseDelay bound the retries of a throttled or failed call: up to
// Attempts tries, waiting BaseDelay·2^n (with jitter, capped at 32s, or the server's
// Retry-After) between them. Tests shorten BaseDelay.
var (
	Attempts  = 5
	BaseDelay = 500 * time.Millisecond
	// TryTimeout bounds one try, its answer's body included.
	TryTimeout = cloudexport.TryTimeout
)

// Retrying returns a client whose transport retries what the Compute Engine API asks
// callers to retry with exponential backoff: 429, 403 with reason rateLimitExceeded or
// userRateLimitExceeded, and 500/502/503/504. Every call the exporter makes is a read,
// so a retry cannot repeat a change.
func Retrying(c *http.Client) *http.Client {
	cc := *cloudexport.Client(c, TryTimeout) // each try bounded, so a stalled one is retried
	cc.Transport = &retrier{base: cc.Transport}
	return &cc
}

// maxWait caps one wait between tries.
const maxWait = 32 * time.Second

type retrier struct{ base http.RoundTripper }

func (r *retrier) RoundTrip(req *http.Request) (*http.Response, error) {
	for i := 0; ; i++ {
		resp, err := r.base.RoundTrip(req)
		if i == Attempts-1 {
			return resp, err
		}
		if err != nil {
			// A try that timed out (TryTimeout) is tried again; a cancelled export or
			// any other failure to reach the API is not.
			if !errors.Is(err, context.DeadlineExceeded) || req.Context().Err() != nil {
				return nil, err
			}
		} else if !retryable(resp) {
			return resp, nil
		} else {
			resp.Body.Close()
		}
		wait := cloudexport.Backoff(i, BaseDelay, maxWait)
		if resp == nil {
			// timed out: the backoff alone
		} else if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
			// As the server asks, but bounded: an hour's Retry-After is better a gap.
			wait = min(time.Duration(s)*time.Second, maxWait)
		}
		if err := cloudexport.Sleep(req.Context(), wait); err != nil {
			return nil, err
		}
		if req.Body != nil && req.Body != http.NoBody {
			if req.GetBody == nil {
				return nil, errNoReplay
			}
			b, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			req = req.Clone(req.Context())
			req.Body = b
		}
	}
}

type replayErr struct{}

func (replayErr) Error() string { return "gcp: a throttled request's body cannot be sent again" }

var errNoReplay error = replayErr{}

// retryable says whether resp asks for a retry. A 403 is one only when its reason is a
// rate limit, which needs the body; it is put back so a caller still reads it.
func retryable(resp *http.Response) bool {
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	case http.StatusForbidden:
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
		if err != nil {
			return false
		}
		return bytes.Contains(body, []byte(`"rateLimitExceeded"`)) || bytes.Contains(body, []byte(`"userRateLimitExceeded"`))
	}
	return false
}
