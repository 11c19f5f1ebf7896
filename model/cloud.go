package model

import (
	"path"
	"strings"

	"github.com/netsim/netsim/model/source"
)

// CloudProviders lists the provider directories under the bundle's cloud/ ("aws", ...),
// sorted; none when the bundle has no cloud exports.
func (c *Cluster) CloudProviders() []string {
	_, dirs := c.Bundle.List("cloud")
	return dirs
}

// CloudFiles reads every file under cloud/PROVIDER/, keyed by its path below that
// directory ("describe-security-groups.json", "describe-target-health/web.json"). The
// files keep their bundle paths, for citations.
func (c *Cluster) CloudFiles(provider string) (map[string]*source.File, error) {
	dir := path.Join("cloud", provider)
	names, err := c.Bundle.Walk(dir)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*source.File, len(names))
	for _, n := range names {
		f, err := c.Bundle.ReadFile(n)
		if err != nil {
			return nil, err
		}
		out[strings.TrimPrefix(n, dir+"/")] = f
	}
	return out, nil
}
