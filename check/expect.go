// Package check evaluates a bundle against an expectations file (../shared/CONTRACT.md §4):
// named assertions of who may reach whom, each expanded to concrete flows and traced.
package check

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/netsim/netsim/model/source"
	"github.com/netsim/netsim/simulate"
)

// Assertion is one named expectation: every flow from From to To on Port/Protocol has
// the expected outcome.
type Assertion struct {
	Name     string
	From, To string
	Port     uint16
	Protocol string // tcp, udp, sctp, icmp
	// Expect is allow (delivered), deny (anything else) or one verdict of CONTRACT §2.
	Expect string
	Pos    source.Pos
}

// expects are the values `expect:` may take.
var expects = map[string]bool{"allow": true, "deny": true,
	string(simulate.VDelivered): true, string(simulate.VNoListener): true, string(simulate.VRejected): true,
	string(simulate.VDenied): true, string(simulate.VNoRoute): true, string(simulate.VUnknown): true, string(simulate.VMixed): true}

// rawAssertion is one item as written; Port is a node so that a string can be reported.
type rawAssertion struct {
	Name     string `yaml:"name"`
	From     string `yaml:"from"`
	To       string `yaml:"to"`
	Port     int    `yaml:"port"`
	Protocol string `yaml:"protocol"`
	Expect   string `yaml:"expect"`
}

// Parse reads an expectations file: a YAML list of assertions, or a mapping whose
// `assertions:` key holds that list. Every problem names the file and line.
func Parse(f *source.File) ([]Assertion, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(f.Data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, source.Errorf(f.Pos(1), "empty expectations file: want a list of assertions")
		}
		return nil, yamlError(f, err)
	}
	list := &doc
	if list.Kind == yaml.DocumentNode && len(list.Content) == 1 {
		list = list.Content[0]
	}
	if list.Kind == yaml.MappingNode {
		var found *yaml.Node
		for i := 0; i+1 < len(list.Content); i += 2 {
			if list.Content[i].Value == "assertions" {
				found = list.Content[i+1]
			} else {
				return nil, source.Errorf(f.Pos(list.Content[i].Line), "unknown key %q: want a list of assertions, or assertions: holding one", list.Content[i].Value)
			}
		}
		if found == nil {
			return nil, source.Errorf(f.Pos(list.Line), "no assertions: key")
		}
		list = found
	}
	if list.Kind != yaml.SequenceNode {
		return nil, source.Errorf(f.Pos(list.Line), "want a list of assertions (- name: ..., from: ..., to: ..., port: ..., expect: ...)")
	}
	var out []Assertion
	names := map[string]int{}
	for _, item := range list.Content {
		pos := f.Pos(item.Line)
		if item.Kind != yaml.MappingNode {
			return nil, source.Errorf(pos, "an assertion must be a mapping with name, from, to, port, protocol and expect")
		}
		var raw rawAssertion
		if err := decodeStrict(item, &raw); err != nil {
			return nil, source.Errorf(pos, "%v", err)
		}
		a, err := validate(raw, pos)
		if err != nil {
			return nil, err
		}
		if first, ok := names[a.Name]; ok {
			return nil, source.Errorf(pos, "assertion %q is already defined at line %d", a.Name, first)
		}
		names[a.Name] = item.Line
		out = append(out, a)
	}
	if len(out) == 0 {
		return nil, source.Errorf(f.Pos(list.Line), "no assertions in the list")
	}
	return out, nil
}

// decodeStrict decodes a mapping, refusing keys the struct does not have.
func decodeStrict(n *yaml.Node, v *rawAssertion) error {
	known := map[string]bool{"name": true, "from": true, "to": true, "port": true, "protocol": true, "expect": true}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i].Value; !known[k] {
			return fmt.Errorf("line %d: unknown key %q (want name, from, to, port, protocol, expect)", n.Content[i].Line, k)
		}
	}
	return n.Decode(v)
}

func validate(r rawAssertion, pos source.Pos) (Assertion, error) {
	a := Assertion{Name: strings.TrimSpace(r.Name), From: strings.TrimSpace(r.From), To: strings.TrimSpace(r.To),
		Protocol: strings.ToLower(strings.TrimSpace(r.Protocol)), Expect: strings.ToLower(strings.TrimSpace(r.Expect)), Pos: pos}
	switch {
	case a.Name == "":
		return a, source.Errorf(pos, "assertion without a name")
	case a.From == "":
		return a, source.Errorf(pos, "assertion %q: no from", a.Name)
	case a.To == "":
		return a, source.Errorf(pos, "assertion %q: no to", a.Name)
	}
	if a.Protocol == "" {
		a.Protocol = "tcp"
	}
	switch a.Protocol {
	case "tcp", "udp", "sctp":
		if r.Port < 1 || r.Port > 65535 {
			return a, source.Errorf(pos, "assertion %q: port %d: want 1-65535 for %s", a.Name, r.Port, a.Protocol)
		}
	case "icmp":
		if r.Port != 0 {
			return a, source.Errorf(pos, "assertion %q: icmp has no port", a.Name)
		}
	default:
		return a, source.Errorf(pos, "assertion %q: protocol %q: want tcp, udp, sctp or icmp", a.Name, r.Protocol)
	}
	a.Port = uint16(r.Port)
	if a.Expect == "" {
		return a, source.Errorf(pos, "assertion %q: no expect (want allow, deny, or a verdict: delivered, no-listener, rejected, denied, no-route, unknown, mixed)", a.Name)
	}
	if !expects[a.Expect] {
		return a, source.Errorf(pos, "assertion %q: expect %q: want allow, deny, or a verdict: delivered, no-listener, rejected, denied, no-route, unknown, mixed", a.Name, r.Expect)
	}
	return a, nil
}

// yamlError turns a YAML syntax error into one that names the file and line.
func yamlError(f *source.File, err error) error {
	msg := err.Error()
	line := 1
	if _, rest, ok := strings.Cut(msg, "line "); ok {
		fmt.Sscanf(rest, "%d", &line)
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	return source.Errorf(f.Pos(line), "%s", msg)
}
