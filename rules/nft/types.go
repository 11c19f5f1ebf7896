// Package nft reads `nft -j list ruleset` (the libnftables JSON schema) into typed tables,
// chains, rules, sets and maps once, and evaluates packets through them many times with
// the kernel's semantics: base chains with their verdicts, jump, goto and return, set and
// map lookups (intervals, concatenations), verdict maps, NAT, marks. numgen and jhash make
// every branch a path of its own. An expression or statement it cannot evaluate never
// becomes "accept": the result is unknown and cites the rule.
package nft

import (
	"github.com/netsim/netsim/model/source"
)

// Ruleset is one `nft -j list ruleset`.
type Ruleset struct {
	File   *source.File
	Tables []*Table
	// Version is the metainfo's nft version, when present.
	Version string
}

// Table is one table of a family (ip, ip6, inet, bridge, netdev, arp).
type Table struct {
	Family, Name string
	Handle       int
	Pos          source.Pos
	Chains       map[string]*Chain
	// Order lists the chains as the dump lists them.
	Order []*Chain
	Sets  map[string]*Set
	// XT is set when a rule of the table holds an `xt` expression: the table was written
	// by iptables-nft (or ebtables-nft), whose own dump shows it in full.
	XT bool
}

// Key names the table as `nft list` does: "ip kube-proxy".
func (t *Table) Key() string { return t.Family + " " + t.Name }

// Chain is a base chain (Hook set) or a regular chain.
type Chain struct {
	Table  *Table
	Name   string
	Handle int
	// Base chain properties; Hook is "" for a regular chain.
	Type   string // filter, nat, route
	Hook   string // prerouting, input, forward, output, postrouting, ingress, egress
	Prio   int
	Policy string // accept or drop
	Device []string
	Rules  []*Rule
	Pos    source.Pos
}

// Text renders the chain's declaration as `nft -a list ruleset` prints it.
func (c *Chain) Text() string { return renderChain(c) }

// IsBase reports whether the chain is attached to a hook.
func (c *Chain) IsBase() bool { return c.Hook != "" }

// Rule is one rule: its expressions and statements in order.
type Rule struct {
	Chain   *Chain
	Handle  int
	Comment string
	ops     []op
	Pos     source.Pos
}

// Text renders the rule as `nft -a list ruleset` prints it, e.g.
// `ip daddr . meta l4proto . th dport vmap @service-ips # handle 12`. It is rendered when
// a step cites it, not when the dump is read.
func (r *Rule) Text() string { return renderRule(r) }

// VerdictKind is what a verdict does.
type VerdictKind uint8

// Verdicts as nftables names them.
const (
	VAccept VerdictKind = iota
	VDrop
	VContinue
	VReturn
	VJump
	VGoto
	VQueue
)

var verdictNames = [...]string{"accept", "drop", "continue", "return", "jump", "goto", "queue"}

func (k VerdictKind) String() string { return verdictNames[k] }

// Verdict is a verdict statement or a verdict map's data.
type Verdict struct {
	Kind  VerdictKind
	Chain string // jump and goto
}

func (v Verdict) String() string {
	if v.Kind == VJump || v.Kind == VGoto {
		return v.Kind.String() + " " + v.Chain
	}
	return v.Kind.String()
}

// Set is a named set or map (a verdict map when Verdicts is set), or an anonymous one
// written inside a rule.
type Set struct {
	Table   *Table
	Name    string // "" for an anonymous set
	Handle  int
	Key     []dtype // one per concatenated component
	IsMap   bool
	Data    []dtype // a map's data type (components); nil for a verdict map
	Verdict bool    // a verdict map
	Flags   []string
	Pos     source.Pos
	Elems   []Elem
	idx     *setIndex
}

// Elem is one element: its key (per component a value or an interval) and, in a map,
// its data.
type Elem struct {
	Lo, Hi  []Value // Lo[i] == Hi[i] for an exact component
	Data    []Value // a map's data
	Verdict Verdict // a verdict map's data
	Comment string
}
