package cloudexport

import (
	"context"
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	for n, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second} {
		for range 20 {
			if d := Backoff(n, time.Second, 8*time.Second); d < want/2 || d > want {
				t.Fatalf("Backoff(%d) = %v, want %v..%v", n, d, want/2, want)
			}
		}
	}
	if d := Backoff(100, time.Second, 8*time.Second); d < 4*time.Second || d > 8*time.Second {
		t.Errorf("Backoff(100) = %v: an overflow is the cap", d)
	}
}

func TestSleep(t *testing.T) {
	if err := Sleep(context.Background(), time.Millisecond); err != nil {
		t.Error(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if err := Sleep(ctx, time.Hour); err != context.Canceled || time.Since(start) > time.Second {
		t.Errorf("Sleep on a cancelled context: %v after %v", err, time.Since(start))
	}
}
