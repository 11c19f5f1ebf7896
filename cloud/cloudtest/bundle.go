package cloudtest

import (
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/netsim/netsim/cloud"
	"github.com/netsim/netsim/model/source"
)

// TestbedPodCIDRs are the pod ranges of testdata/bundles/two-node-iptables, which the
// cloud test bundles are laid over.
var TestbedPodCIDRs = []netip.Prefix{netip.MustParsePrefix("10.244.0.0/16")}

// ParseBundle reads the exports of testdata/cloud/PROVIDER/NAME (from a provider's
// package directory) as the bundle's cloud/PROVIDER and parses them with the provider's
// parse function, failing the test on an error.
func ParseBundle[X any](t testing.TB, provider, name string, parse func(string, map[string]*source.File) (X, error)) X {
	t.Helper()
	dir := "cloud/" + provider
	root := filepath.Join("../../testdata/cloud", provider, name, dir)
	files := map[string]*source.File{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		files[filepath.ToSlash(rel)] = source.NewFile(dir+"/"+filepath.ToSlash(rel), data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	x, err := parse(dir, files)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// RangeLines renders routed ranges as "PREFIX local [pods]|-> WHERE @FILE:LINE OBJECT",
// sorted.
func RangeLines(rs []cloud.RoutedRange) []string {
	var out []string
	for _, r := range rs {
		s := r.Prefix.String() + " -> " + r.Where
		if r.Local {
			s = r.Prefix.String() + " local"
		}
		if r.Pods {
			s += " pods"
		}
		out = append(out, fmt.Sprintf("%s @%s:%d %s", s, r.Pos.File, r.Pos.Line, r.Object))
	}
	sort.Strings(out)
	return out
}

// SameLines fails the test when got differs from want, sorted.
func SameLines(t testing.TB, got, want []string) {
	t.Helper()
	want = append([]string(nil), want...)
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
