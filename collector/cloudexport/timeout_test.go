package cloudexport

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stall" {
			<-r.Context().Done()
			return
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	c := &http.Client{Transport: Timeout(nil, 100*time.Millisecond)}

	// A quick answer is read whole, the timer released on Close.
	resp, err := c.Get(srv.URL + "/ok")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(b) != "ok" {
		t.Errorf("body %q, %v", b, err)
	}

	// A stalled one fails after the timeout.
	start := time.Now()
	if resp, err := c.Get(srv.URL + "/stall"); err == nil {
		resp.Body.Close()
		t.Fatal("a stalled request was answered")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("gave up after %v", d)
	}
}
