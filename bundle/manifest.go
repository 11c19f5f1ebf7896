// Package bundle reads and writes netsim bundles: a directory (or a .tar.gz of one) of the
// text and JSON that standard tools print, plus manifest.yaml (../shared/CONTRACT.md §3).
package bundle

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/netsim/netsim/model/source"
)

// Format is the manifest's format string for bundle layout v1.
const Format = "netsim-bundle/v1"

// ManifestName is the manifest's path inside a bundle.
const ManifestName = "manifest.yaml"

// Manifest describes a bundle: where it came from and what it lacks.
type Manifest struct {
	Format            string    `yaml:"format"`
	Cluster           string    `yaml:"cluster,omitempty"`
	CollectedAt       time.Time `yaml:"collectedAt,omitempty"`
	Source            string    `yaml:"source,omitempty"` // collect | import
	KubernetesVersion string    `yaml:"kubernetesVersion,omitempty"`
	ClusterDomain     string    `yaml:"clusterDomain,omitempty"`
	// PodCIDRs and ServiceCIDRs are the cluster's ranges where the source knew them
	// (kube-controller-manager / kube-apiserver flags, ServiceCIDR objects).
	PodCIDRs     []string `yaml:"podCIDRs,omitempty"`
	ServiceCIDRs []string `yaml:"serviceCIDRs,omitempty"`
	Gaps         []Gap    `yaml:"gaps,omitempty"`
}

// Gap is something the bundle does not hold, and why.
type Gap struct {
	// Scope names what is missing: a bundle path ("nodes/node3/iptables-save.txt"), a resource
	// ("cluster/networkpolicies"), or a node ("nodes/node3").
	Scope  string `yaml:"scope"`
	Reason string `yaml:"reason"`
}

// Domain returns the cluster DNS domain, "cluster.local" when the manifest does not say.
func (m *Manifest) Domain() string {
	if m.ClusterDomain == "" {
		return "cluster.local"
	}
	return m.ClusterDomain
}

// ParseManifest decodes manifest.yaml, naming the line of any problem.
func ParseManifest(f *source.File) (*Manifest, error) {
	var m Manifest
	dec := yaml.NewDecoder(bytes.NewReader(f.Data))
	dec.KnownFields(true)
	if err := dec.Decode(&m); err != nil {
		return nil, yamlError(f, err)
	}
	if m.Format == "" {
		return nil, source.Errorf(f.Pos(1), "no format: field (want format: %s)", Format)
	}
	if m.Format != Format {
		return nil, source.Errorf(f.Pos(lineOfKey(f, "format")), "format %q is not supported (want %s)", m.Format, Format)
	}
	switch m.Source {
	case "", "collect", "import":
	default:
		return nil, source.Errorf(f.Pos(lineOfKey(f, "source")), "source %q: want collect or import", m.Source)
	}
	return &m, nil
}

// Marshal renders the manifest as YAML.
func (m *Manifest) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// yamlError turns a yaml.v3 error ("yaml: line 3: ...") into a file:line error.
func yamlError(f *source.File, err error) error {
	msg := err.Error()
	var line int
	if _, scanErr := fmt.Sscanf(msg, "yaml: line %d:", &line); scanErr == nil {
		// yaml.v3 numbers parser errors ("did not find expected ...") from 0 and scanner
		// errors from 1.
		if strings.Contains(msg, "did not find expected") {
			line++
		}
		rest := msg[strings.Index(msg, ":")+1:]
		rest = strings.TrimSpace(rest[strings.Index(rest, ":")+1:])
		return source.Errorf(f.Pos(line), "%s", rest)
	}
	if te, ok := err.(*yaml.TypeError); ok && len(te.Errors) > 0 {
		first := te.Errors[0]
		if _, scanErr := fmt.Sscanf(first, "line %d:", &line); scanErr == nil {
			return source.Errorf(f.Pos(line), "%s", strings.TrimSpace(first[strings.Index(first, ":")+1:]))
		}
		return source.Errorf(f.Pos(0), "%s", first)
	}
	return source.Errorf(f.Pos(0), "%s", strings.TrimPrefix(msg, "yaml: "))
}

func lineOfKey(f *source.File, key string) int {
	line := 1
	f.Lines(func(n int, text string) bool {
		if strings.HasPrefix(text, key+":") {
			line = n
			return false
		}
		return true
	})
	return line
}
