// Package replay is a test helper for the cloud exporters: an httptest server that
// answers each request with a recorded exchange chosen by a function of the request
// (method, path, query, form, JSON body, a header such as X-Amz-Target or X-TC-Action),
// serving a sequence per exchange — so a throttling answer (429/503, "Throttling",
// "RequestLimitExceeded") followed by the success can be replayed — and records every
// request, so a test can assert the pages asked for, that only read-only actions were
// called, and that the SDK retried.
//
// A request no exchange matches is answered 501 and fails the test: an exporter that
// calls an API the test did not expect (a write, a call outside the documented policy)
// is caught rather than silently answered.
package replay

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netsim/netsim/collector/cloudexport"
	"github.com/netsim/netsim/model/source"
)

// Request is one request as the server received it.
type Request struct {
	Method string
	// Path is the URL path, unescaped.
	Path   string
	Query  url.Values
	Header http.Header
	// Form is the parsed body when it is application/x-www-form-urlencoded (the AWS
	// query protocol: Action=DescribeInstances&NextToken=...), else empty.
	Form url.Values
	// Body is the raw body.
	Body []byte
	// Exchange names the exchange that answered ("" when none matched), Seq the
	// position in its sequence (0 first), Status the status code sent.
	Exchange string
	Seq      int
	Status   int
}

// Param returns a request parameter by name: the form's value, else the query's.
// The AWS query protocol puts them in the form, Alibaba's RPC style in the query.
func (r *Request) Param(name string) string {
	if v, ok := r.Form[name]; ok && len(v) > 0 {
		return v[0]
	}
	return r.Query.Get(name)
}

// JSON decodes the body's top-level object field name, or returns nil when the body is
// not a JSON object or lacks it (Tencent Cloud's Offset, a JSON-RPC's NextToken).
func (r *Request) JSON(name string) any {
	var m map[string]any
	if json.Unmarshal(r.Body, &m) != nil {
		return nil
	}
	return m[name]
}

// Response is one recorded answer.
type Response struct {
	// Status is the HTTP status; 0 is 200.
	Status int
	// ContentType is the Content-Type header ("text/xml", "application/json"); when
	// "" and Header does not set one, Go's server sniffs the body.
	ContentType string
	// Header is added to the response (Retry-After, x-amzn-RequestId).
	Header http.Header
	// Body is sent as is.
	Body string
	// BodyFunc, when set, replaces Body, computed from the request (a server that echoes
	// a request id, or serves a page chosen by the request's token).
	BodyFunc func(r *Request) string
	// Stall holds the request open, answering nothing, until the client gives up (its
	// context is cancelled or its timeout fires): a stalled endpoint.
	Stall bool
}

// Matcher decides whether an exchange answers a request.
type Matcher func(r *Request) bool

// Exchange is a named recorded interaction: requests that Match are answered with
// Responses in turn, the last one repeating once the sequence is used up.
type Exchange struct {
	Name      string
	Match     Matcher
	Responses []Response
}

// Server is the replaying server. Its URL is the endpoint to give the SDK.
type Server struct {
	*httptest.Server
	t testing.TB

	mu        sync.Mutex
	exchanges []*state
	requests  []Request
}

type state struct {
	Exchange
	served int
}

// New starts a server answering with exchanges, tried in order (the first that matches
// answers); it is closed when the test ends.
func New(t testing.TB, exchanges ...Exchange) *Server {
	t.Helper()
	return start(t, httptest.NewServer, exchanges)
}

// NewTLS is New over TLS, for an SDK that insists on https; give it s.Client().
func NewTLS(t testing.TB, exchanges ...Exchange) *Server {
	t.Helper()
	return start(t, httptest.NewTLSServer, exchanges)
}

func start(t testing.TB, serve func(http.Handler) *httptest.Server, exchanges []Exchange) *Server {
	s := &Server{t: t}
	for _, e := range exchanges {
		s.Add(e)
	}
	s.Server = serve(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// Add appends an exchange, tried after those already there.
func (s *Server) Add(e Exchange) {
	if e.Match == nil || len(e.Responses) == 0 {
		panic(fmt.Sprintf("replay: exchange %q needs a Match and at least one Response", e.Name))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.exchanges = append(s.exchanges, &state{Exchange: e})
}

func (s *Server) serve(w http.ResponseWriter, hr *http.Request) {
	body, err := io.ReadAll(hr.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r := Request{
		Method: hr.Method,
		Path:   hr.URL.Path,
		Query:  hr.URL.Query(),
		Header: hr.Header.Clone(),
		Body:   body,
		Form:   url.Values{},
	}
	if ct, _, _ := mime.ParseMediaType(hr.Header.Get("Content-Type")); ct == "application/x-www-form-urlencoded" {
		if f, err := url.ParseQuery(string(body)); err == nil {
			r.Form = f
		}
	}

	s.mu.Lock()
	var resp *Response
	for _, e := range s.exchanges {
		if !e.Match(&r) {
			continue
		}
		i := e.served
		if i >= len(e.Responses) {
			i = len(e.Responses) - 1
		}
		e.served++
		r.Exchange, r.Seq = e.Name, e.served-1
		resp = &e.Responses[i]
		break
	}
	if resp == nil {
		r.Status = http.StatusNotImplemented
		s.requests = append(s.requests, r)
		s.mu.Unlock()
		// Errorf, not Fatalf: this runs on the server's goroutine.
		s.t.Errorf("replay: no exchange matches %s %s %s", r.Method, hr.URL.RequestURI(), describe(&r))
		http.Error(w, "replay: no recorded exchange for this request", http.StatusNotImplemented)
		return
	}
	if resp.Stall {
		r.Status = 0
		s.requests = append(s.requests, r)
		s.mu.Unlock()
		<-hr.Context().Done()
		return
	}
	r.Status = resp.Status
	if r.Status == 0 {
		r.Status = http.StatusOK
	}
	s.requests = append(s.requests, r)
	s.mu.Unlock()

	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	if resp.ContentType != "" {
		w.Header().Set("Content-Type", resp.ContentType)
	}
	out := resp.Body
	if resp.BodyFunc != nil {
		out = resp.BodyFunc(&r)
	}
	w.WriteHeader(r.Status)
	io.WriteString(w, out)
}

// describe names what identifies a request in the failure message.
func describe(r *Request) string {
	var parts []string
	if a := r.Param("Action"); a != "" {
		parts = append(parts, "Action="+a)
	}
	for _, h := range []string{"X-Amz-Target", "X-TC-Action"} {
		if v := r.Header.Get(h); v != "" {
			parts = append(parts, h+"="+v)
		}
	}
	if len(parts) == 0 && len(r.Body) > 0 {
		b := r.Body
		if len(b) > 200 {
			b = b[:200]
		}
		parts = append(parts, "body="+string(bytes.TrimSpace(b)))
	}
	return strings.Join(parts, " ")
}

// Requests returns a copy of every request received, in arrival order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Served returns the requests an exchange answered, in order.
func (s *Server) Served(name string) []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Request
	for _, r := range s.requests {
		if r.Exchange == name {
			out = append(out, r)
		}
	}
	return out
}

// Unmatched returns the requests no exchange answered.
func (s *Server) Unmatched() []Request { return s.Served("") }

// Params lists, in arrival order, the value each request had for a parameter (form or
// query; see Request.Param) — e.g. the Action of every call, to assert that all are
// Describe*/List*/Get*.
func (s *Server) Params(name string) []string {
	var out []string
	for _, r := range s.Requests() {
		out = append(out, r.Param(name))
	}
	return out
}

// HeaderValues lists, in arrival order, each request's value of a header.
func (s *Server) HeaderValues(name string) []string {
	var out []string
	for _, r := range s.Requests() {
		out = append(out, r.Header.Get(name))
	}
	return out
}

// All matches when every matcher does.
func All(ms ...Matcher) Matcher {
	return func(r *Request) bool {
		for _, m := range ms {
			if !m(r) {
				return false
			}
		}
		return true
	}
}

// Method matches the HTTP method.
func Method(m string) Matcher { return func(r *Request) bool { return r.Method == m } }

// Path matches the URL path exactly.
func Path(p string) Matcher { return func(r *Request) bool { return r.Path == p } }

// PathPrefix matches a URL path that starts with p.
func PathPrefix(p string) Matcher {
	return func(r *Request) bool { return strings.HasPrefix(r.Path, p) }
}

// Query matches a query parameter's value; "" matches its absence.
func Query(k, v string) Matcher { return func(r *Request) bool { return r.Query.Get(k) == v } }

// Param matches a parameter in the form or the query (Request.Param); "" matches its
// absence — Param("NextToken", "") is the first page.
func Param(k, v string) Matcher { return func(r *Request) bool { return r.Param(k) == v } }

// Action matches the AWS query protocol's or Alibaba's Action parameter.
func Action(a string) Matcher { return Param("Action", a) }

// Header matches a request header's value (X-Amz-Target, X-TC-Action).
func Header(k, v string) Matcher { return func(r *Request) bool { return r.Header.Get(k) == v } }

// JSONField matches a top-level field of a JSON body, compared as fmt.Sprint prints
// the decoded value (numbers as "20", absent as "<nil>").
func JSONField(k, v string) Matcher {
	return func(r *Request) bool { return fmt.Sprint(r.JSON(k)) == v }
}

// Any matches every request: a catch-all for the end of the list.
func Any() Matcher { return func(*Request) bool { return true } }

// Stalled is a server whose every request stalls (Response.Stall): an endpoint that
// accepts connections and never answers, for a test that an exporter gives up when its
// context is cancelled.
func Stalled(t testing.TB) *Server {
	return New(t, Exchange{Name: "stalled", Match: Any(), Responses: []Response{{Stall: true}}})
}

// Sink collects the files an exporter puts (its cloudexport.Put is Put), failing the test
// when a name is put twice: a second write would silently replace the first.
type Sink struct {
	t     testing.TB
	mu    sync.Mutex
	Files map[string][]byte
}

// NewSink is an empty Sink reporting to t.
func NewSink(t testing.TB) *Sink { return &Sink{t: t, Files: map[string][]byte{}} }

// Put stores one file.
func (s *Sink) Put(name string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.Files[name]; dup {
		s.t.Errorf("%s written twice", name)
	}
	s.Files[name] = data
}

// Names lists the files put, sorted.
func (s *Sink) Names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.Files))
	for n := range s.Files {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Sources returns the files as a bundle holds them under dir ("cloud/aws"), for the
// provider's Parse: what the exporter wrote must read back.
func (s *Sink) Sources(dir string) map[string]*source.File {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]*source.File, len(s.Files))
	for n, d := range s.Files {
		out[n] = source.NewFile(path.Join(dir, n), d)
	}
	return out
}

// CancelInFlight runs an exporter against a Stalled server with a context cancelled
// after a moment, and fails t unless the export returns soon after, with a gap or an
// error and no file: a cancelled collect must stop the call in flight, not wait out the
// SDK's timeouts and retries.
func CancelInFlight(t *testing.T, export cloudexport.Exporter, o cloudexport.Options) {
	t.Helper()
	s := Stalled(t)
	o.Endpoint, o.HTTPClient = s.URL, s.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	gaps, err := export(ctx, o, func(name string, _ []byte) { t.Errorf("%s written", name) })
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the export returned %v after the cancel", d)
	}
	if err == nil && len(gaps) == 0 {
		t.Error("no gap and no error for calls that never returned")
	}
}

// SameSet fails t unless got and want hold the same strings, in any order: a policy
// file's actions against the exporter's Permissions.
func SameSet(t testing.TB, what string, got, want []string) {
	t.Helper()
	g, w := append([]string(nil), got...), append([]string(nil), want...)
	sort.Strings(g)
	sort.Strings(w)
	if strings.Join(g, "\n") != strings.Join(w, "\n") {
		t.Errorf("%s: got %q, want %q", what, g, w)
	}
}
