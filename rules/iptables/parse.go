package iptables

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/netsim/netsim/model/source"
)

// builtin lists each table's built-in chains.
var builtin = map[string][]string{
	"raw":      {"PREROUTING", "OUTPUT"},
	"mangle":   {"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"},
	"nat":      {"PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"},
	"filter":   {"INPUT", "FORWARD", "OUTPUT"},
	"security": {"INPUT", "FORWARD", "OUTPUT"},
}

func isBuiltin(table, chain string) bool {
	for _, c := range builtin[table] {
		if c == chain {
			return true
		}
	}
	return false
}

// tokenize splits a rule line the way iptables-restore does: on blanks, with double
// quotes grouping and backslash escaping inside them. Tokens are substrings of the line
// where they can be (this runs once per rule of rulesets with tens of thousands).
func tokenize(line string) ([]string, error) {
	out := make([]string, 0, 24)
	for i := 0; i < len(line); {
		c := line[i]
		if c == ' ' || c == '\t' {
			i++
			continue
		}
		start := i
		simple := true
		for i < len(line) && line[i] != ' ' && line[i] != '\t' {
			if line[i] == '"' {
				simple = false
				break
			}
			i++
		}
		if simple {
			out = append(out, line[start:i])
			continue
		}
		// The common quoted token, a whole "comment" without escapes, is a substring too.
		if i == start {
			if end := strings.IndexByte(line[start+1:], '"'); end >= 0 {
				end += start + 1
				inner := line[start+1 : end]
				if !strings.ContainsRune(inner, '\\') && (end+1 == len(line) || line[end+1] == ' ' || line[end+1] == '\t') {
					out = append(out, inner)
					i = end + 1
					continue
				}
			}
		}
		// A token with quotes: "a b" or pre"fix" with \" and \\ escapes inside.
		var b strings.Builder
		b.WriteString(line[start:i])
		inQuote := false
		for ; i < len(line); i++ {
			ch := line[i]
			switch {
			case inQuote && ch == '\\' && i+1 < len(line) && (line[i+1] == '"' || line[i+1] == '\\'):
				b.WriteByte(line[i+1])
				i++
			case ch == '"':
				inQuote = !inQuote
			case !inQuote && (ch == ' ' || ch == '\t'):
				goto done
			default:
				b.WriteByte(ch)
			}
		}
	done:
		if inQuote {
			return nil, fmt.Errorf("unterminated quote")
		}
		out = append(out, b.String())
	}
	return out, nil
}

// Parse reads iptables-save (or ip6tables-save) output, and the iptables-restore forms
// (-A, -I [N], -N, -P, -F, -X, counters), keeping every rule's file and line.
func Parse(f *source.File, ipv6 bool) (*Ruleset, error) {
	rs := &Ruleset{IPv6: ipv6, Tables: map[string]*Table{}, File: f}
	var t *Table
	var err error
	f.Lines(func(n int, text string) bool {
		pos := f.Pos(n)
		line := strings.TrimSpace(text)
		if line == "" || strings.HasPrefix(line, "#") {
			return true
		}
		switch {
		case strings.HasPrefix(line, "*"):
			name := line[1:]
			if _, ok := builtin[name]; !ok {
				err = source.Errorf(pos, "unknown table %q", name)
				return false
			}
			if t != nil {
				err = source.Errorf(pos, "table %s starts before table %s's COMMIT", name, t.Name)
				return false
			}
			t = rs.Tables[name]
			if t == nil {
				t = &Table{Name: name, Chains: map[string]*Chain{}, Pos: pos}
				for _, c := range builtin[name] {
					t.Chains[c] = &Chain{Name: c, Builtin: true, Policy: "ACCEPT", Pos: pos}
				}
				rs.Tables[name] = t
			}
		case line == "COMMIT":
			if t == nil {
				err = source.Errorf(pos, "COMMIT outside a table")
				return false
			}
			t = nil
		case t == nil:
			err = source.Errorf(pos, "%q outside a table (want *filter, *nat, ... first)", trunc(line))
			return false
		case strings.HasPrefix(line, ":"):
			fields := strings.Fields(line[1:])
			if len(fields) < 2 {
				err = source.Errorf(pos, "chain line: want \":CHAIN POLICY [packets:bytes]\"")
				return false
			}
			name, policy := fields[0], fields[1]
			c := t.Chains[name]
			if c == nil {
				c = &Chain{Name: name, Pos: pos}
				t.Chains[name] = c
			}
			c.Pos = pos
			if c.Builtin {
				if policy != "ACCEPT" && policy != "DROP" {
					err = source.Errorf(pos, "chain %s: policy %q (want ACCEPT or DROP)", name, policy)
					return false
				}
				c.Policy = policy
			} else if policy != "-" {
				err = source.Errorf(pos, "user chain %s cannot have policy %q", name, policy)
				return false
			}
		default:
			err = rs.parseCommand(t, line, pos)
		}
		return err == nil
	})
	if err != nil {
		return nil, err
	}
	if t != nil {
		return nil, source.Errorf(f.Pos(f.LineCount()), "table %s has no COMMIT (truncated file?)", t.Name)
	}
	// Every jump and goto must name a chain of its table.
	for _, tb := range rs.Tables {
		for _, c := range tb.Chains {
			for _, r := range c.Rules {
				if (r.Target.Kind == TJump || r.Target.Kind == TGoto) && tb.Chains[r.Target.Chain] == nil {
					return nil, source.Errorf(r.Pos, "%s to chain %q, which table %s does not have", map[bool]string{true: "jump", false: "goto"}[r.Target.Kind == TJump], r.Target.Chain, tb.Name)
				}
			}
		}
	}
	for _, tb := range rs.Tables {
		for _, c := range tb.Chains {
			c.renumber()
			c.buildDispatch()
		}
	}
	return rs, nil
}

func (c *Chain) renumber() {
	for i, r := range c.Rules {
		r.Num = i + 1
	}
}

func (rs *Ruleset) parseCommand(t *Table, line string, pos source.Pos) error {
	toks, err := tokenize(line)
	if err != nil {
		return source.Errorf(pos, "%v", err)
	}
	// Counters in restore form: "[12:3456] -A CHAIN ...".
	if len(toks) > 0 && strings.HasPrefix(toks[0], "[") && strings.HasSuffix(toks[0], "]") {
		toks = toks[1:]
	}
	if len(toks) < 2 {
		return source.Errorf(pos, "want -A CHAIN ..., found %q", trunc(line))
	}
	cmd, chainName, rest := toks[0], toks[1], toks[2:]
	chain := t.Chains[chainName]
	switch cmd {
	case "-N", "--new-chain":
		if chain == nil {
			t.Chains[chainName] = &Chain{Name: chainName, Pos: pos}
		}
		return nil
	case "-X", "--delete-chain":
		if chain != nil && chain.Builtin {
			return source.Errorf(pos, "cannot delete built-in chain %s", chainName)
		}
		delete(t.Chains, chainName)
		return nil
	case "-F", "--flush":
		if chain != nil {
			chain.Rules = nil
		}
		return nil
	case "-P", "--policy":
		if chain == nil || !chain.Builtin || len(rest) != 1 || (rest[0] != "ACCEPT" && rest[0] != "DROP") {
			return source.Errorf(pos, "-P wants a built-in chain and ACCEPT or DROP")
		}
		chain.Policy = rest[0]
		return nil
	case "-A", "--append", "-I", "--insert":
	default:
		return source.Errorf(pos, "%s is not supported in a rules file (want -A, -I, -N, -P, -F or -X)", cmd)
	}
	if chain == nil {
		return source.Errorf(pos, "chain %s is not declared in table %s", chainName, t.Name)
	}
	insertAt := -1
	if cmd == "-I" || cmd == "--insert" {
		insertAt = 0
		if len(rest) > 0 {
			if n, err := strconv.Atoi(rest[0]); err == nil {
				if n < 1 || n > len(chain.Rules)+1 {
					return source.Errorf(pos, "-I %s %d: the chain has %d rules", chainName, n, len(chain.Rules))
				}
				insertAt, rest = n-1, rest[1:]
			}
		}
	}
	r := &Rule{Table: t.Name, Chain: chainName, Pos: pos, Text: line, Conds: make([]Cond, 0, 5)}
	if err := rs.parseRule(r, rest); err != nil {
		return source.Errorf(pos, "%v", err)
	}
	if insertAt < 0 {
		chain.Rules = append(chain.Rules, r)
	} else {
		chain.Rules = append(chain.Rules[:insertAt], append([]*Rule{r}, chain.Rules[insertAt:]...)...)
	}
	return nil
}

// arity0 are the options that take no argument.
var arity0 = map[string]bool{
	"--syn": true, "--set": true, "--rcheck": true, "--update": true, "--remove": true, "--rsource": true, "--rdest": true,
	"--reap": true, "--rttl": true, "--physdev-is-in": true, "--physdev-is-out": true, "--physdev-is-bridged": true,
	"--ipvs": true, "--loose": true, "--validmark": true, "--accept-local": true, "--invert": true,
	"--return-nomatch": true, "--update-counters": true, "--update-subcounters": true, "--transparent": true,
	"--nowildcard": true, "--restore-skmark": true, "--random": true, "--random-fully": true, "--persistent": true,
	"--log-tcp-sequence": true, "--log-tcp-options": true, "--log-ip-options": true, "--log-uid": true,
	"--log-macdecode": true, "--save-mark": true, "--restore-mark": true, "--notrack": true,
	"--clamp-mss-to-pmtu": true, "--checksum-fill": true, "--limit-iface-in": true, "--limit-iface-out": true,
	"--connlimit-saddr": true, "--connlimit-daddr": true, "--fragment": true, "--fragres": true, "--fraglast": true,
	"--fragfirst": true, "--fragmore": true, "--kerneltz": true, "--suppl-groups": true, "--socket-exists": true,
}

// arity2 are the options that take two arguments.
var arity2 = map[string]bool{"--tcp-flags": true, "--match-set": true}

func (rs *Ruleset) parseRule(r *Rule, toks []string) error {
	neg := false
	module := ""
	group := 0
	inTarget := false
	// A module given without options (-m rpfilter, -m tcp) still matches on its own.
	optionless := func() error {
		if module == "" {
			return nil
		}
		for _, c := range r.Conds {
			if c.group == group {
				return nil
			}
		}
		if err := r.addCond(rs.IPv6, false, module, "", nil); err != nil {
			return err
		}
		r.Conds[len(r.Conds)-1].group = group
		return nil
	}
	var implicitProto string
	for i := 0; i < len(toks); i++ {
		tok := toks[i]
		next := func() (string, error) {
			if i+1 >= len(toks) {
				return "", fmt.Errorf("%s needs an argument", tok)
			}
			i++
			return toks[i], nil
		}
		if tok == "!" {
			neg = true
			continue
		}
		switch tok {
		case "-s", "--source", "-d", "--destination", "-i", "--in-interface", "-o", "--out-interface", "-p", "--protocol":
			arg, err := next()
			if err != nil {
				return err
			}
			name := map[string]string{"--source": "-s", "--destination": "-d", "--in-interface": "-i", "--out-interface": "-o", "--protocol": "-p"}[tok]
			if name == "" {
				name = tok
			}
			if name == "-p" {
				implicitProto = arg
			}
			if err := r.addCond(rs.IPv6, neg, "", name, toks[i:i+1]); err != nil {
				return err
			}
			neg = false
			continue
		case "-f", "--fragment":
			if err := r.addCond(rs.IPv6, neg, "", "-f", nil); err != nil {
				return err
			}
			neg = false
			continue
		case "-m", "--match":
			arg, err := next()
			if err != nil {
				return err
			}
			if err := optionless(); err != nil {
				return err
			}
			module, inTarget = arg, false
			group++
			continue
		case "-j", "--jump", "-g", "--goto":
			arg, err := next()
			if err != nil {
				return err
			}
			if err := optionless(); err != nil {
				return err
			}
			module = ""
			if r.Target.Name != "" {
				return fmt.Errorf("two targets: %s and %s", r.Target.Name, arg)
			}
			r.Target.Name = arg
			if tok == "-g" || tok == "--goto" {
				r.Target.Kind, r.Target.Chain = TGoto, arg
			}
			inTarget = true
			continue
		case "-c", "--set-counters":
			i += 2
			continue
		case "-w", "--wait":
			continue
		}
		if !strings.HasPrefix(tok, "--") {
			return fmt.Errorf("unexpected %q", tok)
		}
		var args []string // a window of toks: no copy
		n := 1
		switch {
		case arity0[tok]:
			n = 0
		case arity2[tok]:
			n = 2
		}
		if i+n >= len(toks) {
			return fmt.Errorf("%s needs %d argument(s)", tok, n)
		}
		args = toks[i+1 : i+1+n : i+1+n]
		i += n
		if inTarget {
			if neg {
				return fmt.Errorf("! before target option %s", tok)
			}
			r.Target.Args = append(r.Target.Args, tok)
			r.Target.Args = append(r.Target.Args, args...)
			continue
		}
		mod := module
		if mod == "" {
			// iptables accepts --dport after -p tcp without -m tcp.
			mod = implicitProto
		}
		if err := r.addCond(rs.IPv6, neg, mod, tok, args); err != nil {
			return err
		}
		r.Conds[len(r.Conds)-1].group = group
		neg = false
	}
	if neg {
		return fmt.Errorf("! at the end of the rule")
	}
	if err := optionless(); err != nil {
		return err
	}
	if err := r.finishConds(); err != nil {
		return err
	}
	return r.compileTarget(rs.IPv6)
}

func (r *Rule) addCond(ipv6, neg bool, module, option string, args []string) error {
	c := Cond{Neg: neg, Module: module, Option: option, Args: args}
	p, err := compile(ipv6, module, option, args)
	if err != nil {
		return fmt.Errorf("%s %s: %v", option, strings.Join(args, " "), err)
	}
	c.pred = p
	r.Conds = append(r.Conds, c)
	return nil
}

// parseMark reads "0x4000" or "0x4000/0x4000"; without a mask the mask is all ones.
func parseMark(s string) (val, mask uint32, err error) {
	v, m, hasMask := strings.Cut(s, "/")
	x, err := strconv.ParseUint(v, 0, 32)
	if err != nil {
		return 0, 0, fmt.Errorf("mark %q: %v", s, err)
	}
	mask = 0xffffffff
	if hasMask {
		y, err := strconv.ParseUint(m, 0, 32)
		if err != nil {
			return 0, 0, fmt.Errorf("mask %q: %v", s, err)
		}
		mask = uint32(y)
	}
	return uint32(x), mask, nil
}

// parsePrefix reads an address or prefix; iptables-save prints /32 (/128) for hosts.
func parsePrefix(s string, ipv6 bool) (netip.Prefix, error) {
	if strings.Contains(s, ",") {
		return netip.Prefix{}, fmt.Errorf("address lists are expanded by iptables into one rule each; iptables-save never prints them")
	}
	var p netip.Prefix
	if strings.Contains(s, "/") {
		addr, bits, _ := strings.Cut(s, "/")
		a, err := netip.ParseAddr(addr)
		if err != nil {
			return p, err
		}
		if n, err := strconv.Atoi(bits); err == nil {
			p, err = a.Prefix(n)
			if err != nil {
				return p, err
			}
		} else {
			// A dotted mask: 255.255.0.0.
			m, err := netip.ParseAddr(bits)
			if err != nil || !m.Is4() {
				return p, fmt.Errorf("mask %q", bits)
			}
			b := m.As4()
			ones := 0
			v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
			for v&0x80000000 != 0 {
				ones++
				v <<= 1
			}
			if v != 0 {
				return p, fmt.Errorf("mask %q is not contiguous", bits)
			}
			p, _ = a.Prefix(ones)
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return p, err
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if p.Addr().Is6() != ipv6 {
		return p, fmt.Errorf("%s is not an IPv%s address", s, map[bool]string{true: "6", false: "4"}[ipv6])
	}
	return p, nil
}

func trunc(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}
