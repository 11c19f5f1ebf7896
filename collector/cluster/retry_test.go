package cluster

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestBackoff(t *testing.T) {
	pods := schema.GroupResource{Resource: "pods"}
	cases := []struct {
		name      string
		errs      []error // returned by successive tries; then success
		attempts  int
		wantErr   bool
		wantTries int
		wantSleep []time.Duration // exact waits (Retry-After) or, when negative, a bound ±20 %
	}{
		{"success first", nil, 5, false, 1, nil},
		{"429 honours Retry-After", []error{apierrors.NewTooManyRequests("slow down", 7)}, 5, false, 2, []time.Duration{7 * time.Second}},
		{"Retry-After capped by Max", []error{apierrors.NewTooManyRequests("slow down", 3600)}, 5, false, 2, []time.Duration{30 * time.Second}},
		{"5xx exponential", []error{apierrors.NewInternalError(errors.New("boom")), apierrors.NewServiceUnavailable("later"),
			apierrors.NewGenericServerResponse(http.StatusBadGateway, "list", pods, "", "bad gateway", 0, true)}, 5, false, 4,
			[]time.Duration{-500 * time.Millisecond, -time.Second, -2 * time.Second}},
		{"timeout retried", []error{apierrors.NewTimeoutError("slow", 0)}, 5, false, 2, []time.Duration{-500 * time.Millisecond}},
		{"forbidden is final", []error{apierrors.NewForbidden(pods, "", errors.New("no"))}, 5, true, 1, nil},
		{"not found is final", []error{apierrors.NewNotFound(pods, "x")}, 5, true, 1, nil},
		{"a plain-text 404 (unserved group) is final", []error{apierrors.NewGenericServerResponse(http.StatusNotFound, "get", pods, "", "404 page not found", 0, true)}, 5, true, 1, nil},
		{"tries run out", []error{apierrors.NewInternalError(errors.New("1")), apierrors.NewInternalError(errors.New("2")), apierrors.NewInternalError(errors.New("3"))}, 3, true, 3,
			[]time.Duration{-500 * time.Millisecond, -time.Second}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var slept []time.Duration
			b := Backoff{Initial: 500 * time.Millisecond, Max: 30 * time.Second, Attempts: c.attempts,
				Sleep: func(ctx context.Context, d time.Duration) error { slept = append(slept, d); return nil }}
			tries := 0
			err := b.Do(context.Background(), func() error {
				tries++
				if tries <= len(c.errs) {
					return c.errs[tries-1]
				}
				return nil
			})
			if (err != nil) != c.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, c.wantErr)
			}
			if tries != c.wantTries {
				t.Errorf("tries = %d, want %d", tries, c.wantTries)
			}
			if len(slept) != len(c.wantSleep) {
				t.Fatalf("slept %v, want %v", slept, c.wantSleep)
			}
			for i, w := range c.wantSleep {
				if w >= 0 && slept[i] != w {
					t.Errorf("wait %d = %s, want %s", i, slept[i], w)
				}
				if w < 0 {
					base := -w
					if slept[i] < base*8/10 || slept[i] > base*12/10 {
						t.Errorf("wait %d = %s, want %s ±20%%", i, slept[i], base)
					}
				}
			}
		})
	}
}

func TestBackoffStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	tries := 0
	err := DefaultBackoff.Do(ctx, func() error {
		tries++
		cancel()
		return apierrors.NewServiceUnavailable("down")
	})
	if err == nil || tries != 1 {
		t.Fatalf("err %v after %d tries; want the error after 1 try", err, tries)
	}
}
