package orchestrate

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/netsim/netsim/bundle"
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
