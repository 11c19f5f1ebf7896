// Package cloudexport gathers a cloud provider's network exports through the provider's
// Go SDK for `netsim collect --cloud PROVIDER`, writing each file in the JSON shape the
// provider's CLI prints, under the bundle's cloud/PROVIDER/, so the bundle reads the same
// whether the exports were collected or saved by hand (--cloud-export). Every call is a
// read-only Describe/List/Get; each provider package documents the minimal policy.
//
// Providers register themselves (collector/cloudexport/PROVIDER, in an init function);
// the collect command imports them.
package cloudexport

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"sync"

	"github.com/netsim/netsim/bundle"
)

// Options selects what one provider export reads, and how it reaches the API.
type Options struct {
	// Region is the region (AWS, Alibaba Cloud, Tencent Cloud); "" takes the one the
	// provider's CLI configuration names.
	Region string
	// Profile is the named credentials profile of the provider's CLI; "" is its default.
	Profile string
	// Project is the Google Cloud project.
	Project string
	// Subscription and ResourceGroup scope Azure's reads.
	Subscription, ResourceGroup string
	// Endpoint, when set, replaces the provider's API endpoint (a test's replaying server).
	Endpoint string
	// HTTPClient, when set, carries every request.
	HTTPClient *http.Client
	// Logf reports progress; nil is silent.
	Logf func(format string, args ...any)
}

// Put receives one export file, by its path below cloud/PROVIDER/
// ("describe-security-groups.json", "describe-target-health/web.json").
type Put func(name string, data []byte)

// Exporter reads one provider's network state. A call that fails for want of a
// permission or a service is a gap (the bundle is still written, and the walk's checks
// that needed the file are unknown); err is for failures that leave nothing usable
// (no credentials, no region).
type Exporter func(ctx context.Context, o Options, put Put) (gaps []bundle.Gap, err error)

var (
	mu        sync.Mutex
	exporters = map[string]Exporter{}
)

// Register makes a provider's exporter available to --cloud under name ("aws").
func Register(name string, e Exporter) {
	mu.Lock()
	defer mu.Unlock()
	exporters[name] = e
}

// Lookup returns the exporter registered under name.
func Lookup(name string) (Exporter, bool) {
	mu.Lock()
	defer mu.Unlock()
	e, ok := exporters[name]
	return e, ok
}

// Names lists the registered providers, sorted.
func Names() []string {
	mu.Lock()
	defer mu.Unlock()
	out := make([]string, 0, len(exporters))
	for n := range exporters {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// JSON encodes v as a provider's CLI prints it: indented by indent (the aws CLI uses four
// spaces, gcloud two), and with every null field left out, as a CLI leaves out what the
// API did not return — an SDK's struct has a nil pointer for each, which the parsers
// would otherwise have to tell from a present value.
func JSON(v any, indent string) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // numbers as the SDK wrote them: no float rounding of IDs or sizes
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", indent)
	if err := enc.Encode(dropNulls(tree)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// dropNulls removes null members of objects, at every depth (a null in a list stays: its
// position may mean something).
func dropNulls(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			if e == nil {
				delete(t, k)
			} else {
				t[k] = dropNulls(e)
			}
		}
	case []any:
		for i, e := range t {
			t[i] = dropNulls(e)
		}
	}
	return v
}

// Number reads a count from a decoded JSON answer: a json.Number (decoded with
// UseNumber), a float64, or a numeric string (APIs that type their counts as strings).
func Number(v any) (int, bool) {
	switch t := v.(type) {
	case json.Number:
		n, err := t.Int64()
		return int(n), err == nil
	case float64:
		return int(t), true
	case string:
		n, err := strconv.Atoi(t)
		return n, err == nil
	}
	return 0, false
}
