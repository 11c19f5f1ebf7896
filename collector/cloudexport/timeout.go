package cloudexport

import (
	"context"
	"io"
	"net/http"
	"time"
)

// TryTimeout is how long one HTTP request of an export may take, from sending it to
// reading the last byte of its answer, where the SDK sets no such bound itself: a
// stalled endpoint fails that try (which the retries may repeat) instead of hanging
// the collect.
const TryTimeout = time.Minute

// Timeout wraps a transport so that each request, its answer's body included, ends after
// d. Unlike http.Client.Timeout it bounds one try, so a retrying transport above it
// retries a stalled try rather than giving up on the whole call.
func Timeout(rt http.RoundTripper, d time.Duration) http.RoundTripper {
	if rt == nil {
		rt = http.DefaultTransport
	}
	return &timeout{rt: rt, d: d}
}

type timeout struct {
	rt http.RoundTripper
	d  time.Duration
}

func (t *timeout) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(req.Context(), t.d)
	resp, err := t.rt.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// cancelBody releases the try's timer when the body is closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// Client returns a copy of c (nil: a new client over http.DefaultTransport) whose every
// request is bounded by Timeout(d).
func Client(c *http.Client, d time.Duration) *http.Client {
	var cc http.Client
	if c != nil {
		cc = *c
	}
	cc.Transport = Timeout(cc.Transport, d)
	return &cc
}
