package replay

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func get(t *testing.T, c *http.Client, method, u, ctype, body string, hdr map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// A throttled first answer, then pages chosen by the form's NextToken, as the AWS query
// protocol asks for them.
func TestSequenceAndPaging(t *testing.T) {
	s := New(t,
		Exchange{Name: "page1", Match: All(Method("POST"), Action("DescribeInstances"), Param("NextToken", "")),
			Responses: []Response{
				{Status: 503, ContentType: "text/xml", Body: "<Response><Errors><Error><Code>RequestLimitExceeded</Code></Error></Errors></Response>"},
				{ContentType: "text/xml", Body: "<p1/>"},
			}},
		Exchange{Name: "page2", Match: All(Action("DescribeInstances"), Param("NextToken", "t2")),
			Responses: []Response{{Body: "<p2/>", Header: http.Header{"X-Amzn-Requestid": {"r2"}}}}},
	)
	form := func(v url.Values) string { return v.Encode() }
	const ct = "application/x-www-form-urlencoded; charset=utf-8"
	tests := []struct {
		body       string
		wantStatus int
		wantBody   string
	}{
		{form(url.Values{"Action": {"DescribeInstances"}}), 503, "RequestLimitExceeded"},
		{form(url.Values{"Action": {"DescribeInstances"}}), 200, "<p1/>"},
		{form(url.Values{"Action": {"DescribeInstances"}}), 200, "<p1/>"}, // the last answer repeats
		{form(url.Values{"Action": {"DescribeInstances"}, "NextToken": {"t2"}}), 200, "<p2/>"},
	}
	for i, tc := range tests {
		st, b := get(t, s.Client(), "POST", s.URL+"/", ct, tc.body, nil)
		if st != tc.wantStatus || !strings.Contains(b, tc.wantBody) {
			t.Errorf("request %d: got %d %q, want %d containing %q", i, st, b, tc.wantStatus, tc.wantBody)
		}
	}
	if got := s.Served("page1"); len(got) != 3 || got[0].Status != 503 || got[1].Seq != 1 || got[2].Seq != 2 {
		t.Errorf("page1 served %+v", got)
	}
	if got := s.Params("NextToken"); strings.Join(got, ",") != ",,,t2" {
		t.Errorf("NextToken per request = %q", got)
	}
	if got := s.Params("Action"); len(got) != 4 || got[3] != "DescribeInstances" {
		t.Errorf("Action per request = %q", got)
	}
}

// Headers, query and JSON bodies select exchanges (Tencent Cloud's X-TC-Action and Offset,
// Alibaba's query Action, a REST path); BodyFunc computes the answer from the request.
func TestMatchers(t *testing.T) {
	s := New(t,
		Exchange{Name: "tc-0", Match: All(Header("X-TC-Action", "DescribeSecurityGroups"), JSONField("Offset", "0")),
			Responses: []Response{{ContentType: "application/json", Body: `{"page":0}`}}},
		Exchange{Name: "tc-20", Match: All(Header("X-TC-Action", "DescribeSecurityGroups"), JSONField("Offset", "20")),
			Responses: []Response{{Body: `{"page":20}`}}},
		Exchange{Name: "ali", Match: Query("Action", "DescribeVpcs"),
			Responses: []Response{{BodyFunc: func(r *Request) string { return "region=" + r.Param("RegionId") }}}},
		Exchange{Name: "rest", Match: All(Method("GET"), PathPrefix("/compute/v1/projects/p/")),
			Responses: []Response{{Body: "rest:" + "ok"}}},
	)
	c := s.Client()
	hdr := map[string]string{"X-TC-Action": "DescribeSecurityGroups"}
	if _, b := get(t, c, "POST", s.URL+"/", "application/json", `{"Offset":20,"Limit":20}`, hdr); b != `{"page":20}` {
		t.Errorf("offset 20 got %q", b)
	}
	if _, b := get(t, c, "POST", s.URL+"/", "application/json", `{"Offset":0}`, hdr); b != `{"page":0}` {
		t.Errorf("offset 0 got %q", b)
	}
	if _, b := get(t, c, "GET", s.URL+"/?Action=DescribeVpcs&RegionId=cn-hangzhou", "", "", nil); b != "region=cn-hangzhou" {
		t.Errorf("ali got %q", b)
	}
	if _, b := get(t, c, "GET", s.URL+"/compute/v1/projects/p/global/firewalls?pageToken=x", "", "", nil); b != "rest:ok" {
		t.Errorf("rest got %q", b)
	}
	if got := s.HeaderValues("X-TC-Action"); strings.Join(got, ",") != "DescribeSecurityGroups,DescribeSecurityGroups,," {
		t.Errorf("X-TC-Action per request = %q", got)
	}
	if r := s.Served("rest"); len(r) != 1 || r[0].Query.Get("pageToken") != "x" {
		t.Errorf("rest served %+v", r)
	}
	if len(s.Unmatched()) != 0 {
		t.Errorf("unmatched: %+v", s.Unmatched())
	}
}

// recorder stands in for testing.T to observe that an unexpected call fails the test.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) { r.errs = append(r.errs, format) }
func (r *recorder) Helper()                           {}

// An unexpected call (here a write) is answered 501, recorded, and fails the test.
func TestUnmatchedFails(t *testing.T) {
	rec := &recorder{TB: t}
	s := New(rec, Exchange{Name: "read", Match: Action("DescribeVpcs"), Responses: []Response{{Body: "ok"}}})
	st, _ := get(t, s.Client(), "POST", s.URL+"/", "application/x-www-form-urlencoded", "Action=AuthorizeSecurityGroupIngress", nil)
	if st != http.StatusNotImplemented {
		t.Errorf("status %d, want 501", st)
	}
	if u := s.Unmatched(); len(u) != 1 || u[0].Param("Action") != "AuthorizeSecurityGroupIngress" {
		t.Errorf("unmatched %+v", u)
	}
	if len(rec.errs) != 1 {
		t.Errorf("test failures reported: %d, want 1", len(rec.errs))
	}
}

func TestAddValidates(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("an exchange without responses was accepted")
		}
	}()
	New(t, Exchange{Name: "empty", Match: Any()})
}

// NewTLS serves the same exchanges over https, to the server's own client.
func TestTLS(t *testing.T) {
	s := NewTLS(t, Exchange{Name: "v", Match: All(Method("GET"), Path("/v1/vpcs")), Responses: []Response{{ContentType: "application/json", Body: `{"vpcs":[]}`}}})
	if !strings.HasPrefix(s.URL, "https://") {
		t.Fatalf("URL %s", s.URL)
	}
	if st, b := get(t, s.Client(), "GET", s.URL+"/v1/vpcs", "", "", nil); st != 200 || b != `{"vpcs":[]}` {
		t.Errorf("got %d %q", st, b)
	}
	if r := s.Served("v"); len(r) != 1 || r[0].Status != 200 {
		t.Errorf("served %+v", r)
	}
}

// A stalled exchange answers nothing until the client gives up.
func TestStall(t *testing.T) {
	s := New(t, Exchange{Name: "s", Match: Any(), Responses: []Response{{Stall: true}}})
	c := *s.Client()
	c.Timeout = 100 * time.Millisecond
	start := time.Now()
	if resp, err := c.Get(s.URL + "/x"); err == nil {
		resp.Body.Close()
		t.Fatal("a stalled request was answered")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("gave up after %v", d)
	}
	if r := s.Served("s"); len(r) != 1 || r[0].Status != 0 {
		t.Errorf("served %+v", r)
	}
}

func TestSink(t *testing.T) {
	r := &recorder{}
	s := NewSink(r)
	s.Put("a.json", []byte("1"))
	s.Put("b.json", []byte("2"))
	if len(r.errs) != 0 || string(s.Files["a.json"]) != "1" || len(s.Files) != 2 {
		t.Errorf("files %q, errors %q", s.Files, r.errs)
	}
	s.Put("a.json", []byte("3"))
	if len(r.errs) != 1 {
		t.Errorf("a name put twice was not reported")
	}
}

func TestSameSet(t *testing.T) {
	r := &recorder{}
	SameSet(r, "x", []string{"b", "a"}, []string{"a", "b"})
	if len(r.errs) != 0 {
		t.Errorf("equal sets reported: %q", r.errs)
	}
	SameSet(r, "x", []string{"a"}, []string{"a", "b"})
	if len(r.errs) != 1 {
		t.Errorf("different sets not reported")
	}
}
