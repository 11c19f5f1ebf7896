package orchestrate

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"sync"

	"github.com/netsim/netsim/bundle"
	"github.com/netsim/netsim/collector/cloudexport"
)

// CloudExport reads a folder of provider exports (e.g. aws/describe-security-groups.json,
// as the provider's CLI prints them) into bundle paths under cloud/. Only .json files are
// taken, each must be valid JSON; nothing is evaluated. Others become gaps.
func CloudExport(dir string) (map[string][]byte, []bundle.Gap, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("--cloud-export: %w", err)
	}
	if !st.IsDir() {
		return nil, nil, fmt.Errorf("--cloud-export %s: not a folder", dir)
	}
	files := map[string][]byte{}
	var gaps []bundle.Gap
	fsys := os.DirFS(dir)
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || strings.HasPrefix(path.Base(p), ".") {
			return nil
		}
		if !d.Type().IsRegular() {
			gaps = append(gaps, bundle.Gap{Scope: path.Join("cloud", p), Reason: "not a regular file; skipped"})
			return nil
		}
		if !strings.HasSuffix(p, ".json") {
			gaps = append(gaps, bundle.Gap{Scope: path.Join("cloud", p), Reason: "not a .json export; skipped"})
			return nil
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		if !json.Valid(data) {
			gaps = append(gaps, bundle.Gap{Scope: path.Join("cloud", p), Reason: "not valid JSON (an export as the provider's CLI prints it, -o json, is expected); skipped"})
			return nil
		}
		files[path.Join("cloud", p)] = data
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("--cloud-export %s: %w", dir, err)
	}
	return files, gaps, nil
}

// CloudSDK exports provider's network through its registered exporter into bundle paths
// under cloud/PROVIDER/. manual holds what --cloud-export already put in the bundle: a
// hand-made file for the same provider would be silently overwritten or mixed with the
// API's answer of another moment, so it is an error; other providers' exports combine.
// The error is also an unknown provider, or an exporter that could not start.
func CloudSDK(ctx context.Context, provider string, o cloudexport.Options, manual map[string][]byte) (map[string][]byte, []bundle.Gap, error) {
	export, ok := cloudexport.Lookup(provider)
	if !ok {
		return nil, nil, fmt.Errorf("--cloud %s: not a provider this netsim exports (%s)", provider, strings.Join(cloudexport.Names(), ", "))
	}
	prefix := path.Join("cloud", provider) + "/"
	var clash []string
	for n := range manual {
		if strings.HasPrefix(n, prefix) {
			clash = append(clash, n)
		}
	}
	if len(clash) > 0 {
		sort.Strings(clash)
		return nil, nil, fmt.Errorf("--cloud %s and --cloud-export both hold %s (and %d more): export %s one way or the other", provider, clash[0], len(clash)-1, provider)
	}
	var mu sync.Mutex
	files := map[string][]byte{}
	var bad []bundle.Gap
	gaps, err := export(ctx, o, func(name string, data []byte) {
		mu.Lock()
		defer mu.Unlock()
		p := path.Clean(path.Join(prefix, name))
		// An exporter names files after resources (a target group, a router); a name
		// that would leave cloud/PROVIDER/ is refused, not written.
		if !strings.HasPrefix(p, prefix) || !json.Valid(data) {
			bad = append(bad, bundle.Gap{Scope: prefix + name, // as named: path.Join would resolve it elsewhere
				Reason: "the exporter produced an unusable file name or invalid JSON; skipped"})
			return
		}
		files[p] = data
	})
	if err != nil {
		return nil, nil, fmt.Errorf("--cloud %s: %w", provider, err)
	}
	return files, append(gaps, bad...), nil
}
