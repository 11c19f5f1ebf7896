// Package iptables reads iptables-save output into typed rules and evaluates a packet
// through them with the kernel's semantics: tables at their hooks in priority order,
// jump, goto and RETURN, negation, marks with masks, NAT on a connection's first packet.
// A match or target it cannot evaluate never becomes "accept": the step is unknown and
// cites the rule.
package iptables

import (
	"net/netip"

	"github.com/netsim/netsim/model/source"
)

// Ruleset is one family's tables (iptables-save or ip6tables-save).
type Ruleset struct {
	IPv6   bool
	Tables map[string]*Table
	File   *source.File
}

// Table is one table: its chains by name.
type Table struct {
	Name   string
	Chains map[string]*Chain
	Pos    source.Pos
}

// Chain is a built-in or user chain.
type Chain struct {
	Name    string
	Builtin bool
	Policy  string // ACCEPT or DROP for built-in chains
	Rules   []*Rule
	Pos     source.Pos
	// dispatch indexes rules by exact destination address so a long chain such as
	// KUBE-SERVICES is not scanned rule by rule (see index.go).
	dispatch *dispatchIndex
}

// Rule is one -A line.
type Rule struct {
	Table, Chain string
	Num          int // 1-based position in the chain
	Conds        []Cond
	Target       Target
	Pos          source.Pos
	Text         string
}

// Cond is one condition of a rule: an option of the rule itself (-s, -p, -i ...) or of a
// match module (-m tcp --dport 80), possibly negated.
type Cond struct {
	Neg    bool
	Module string // "" for the rule's own options
	Option string // e.g. "--dport"
	Args   []string
	pred   predicate
	group  int // which -m the option belongs to (0: the rule's own options)
}

// TargetKind names what a rule does when it matches.
type TargetKind int

// Target kinds.
const (
	TNone       TargetKind = iota // no -j: the rule only counts
	TAccept                       // ACCEPT
	TDrop                         // DROP
	TReject                       // REJECT
	TReturn                       // RETURN
	TJump                         // -j user chain
	TGoto                         // -g user chain
	TMark                         // MARK
	TConnmark                     // CONNMARK
	TDNAT                         // DNAT
	TSNAT                         // SNAT
	TMasquerade                   // MASQUERADE
	TRedirect                     // REDIRECT
	TNotrack                      // NOTRACK, CT --notrack
	TCT                           // CT (zone, helper, ...): continues
	TTProxy                       // TPROXY
	TContinue                     // LOG, NFLOG, TCPMSS, CHECKSUM, ...: continues
	TUnknown                      // a target netsim cannot evaluate
)

// Target is a rule's action.
type Target struct {
	Kind TargetKind
	Name string // as written: ACCEPT, KUBE-SVC-..., DNAT
	Args []string
	// Chain is the chain of a jump or goto.
	Chain string
	// RejectWith is REJECT's --reject-with (default icmp-port-unreachable).
	RejectWith string
	// Mark operation: new = (old AND NOT MarkMask) XOR MarkXor, the kernel's form for
	// --set-xmark; every other spelling is converted to it.
	MarkXor, MarkMask uint32
	// CONNMARK --save-mark / --restore-mark with masks.
	ConnmarkSave, ConnmarkRestore bool
	NfMask, CtMask                uint32
	// NAT ranges: DNAT --to-destination, SNAT --to-source, REDIRECT/MASQUERADE --to-ports.
	NAT []NATRange
	// TPROXY.
	TProxyPort uint16
	TProxyIP   netip.Addr
}

// NATRange is one address range with an optional port range.
type NATRange struct {
	MinAddr, MaxAddr netip.Addr // invalid: keep the address (port-only)
	MinPort, MaxPort uint16     // 0: keep the port
}
