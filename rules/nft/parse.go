package nft

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/netsim/netsim/model/source"
)

var decodeOpts = jsonv2.JoinOptions(jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))

// entry is one element of the top-level "nftables" array, with where it starts.
type entry struct {
	kind string
	body map[string]any
	pos  source.Pos
}

// Parse reads `nft -j list ruleset` output. Every object is cited by the line it starts
// on and its 1-based place in the "nftables" array (nft prints the whole array on one
// line; a pretty-printed dump gets real lines).
func Parse(f *source.File) (*Ruleset, error) {
	rs := &Ruleset{File: f}
	entries, err := split(f)
	if err != nil {
		return nil, err
	}
	tables := map[string]*Table{}
	get := func(e entry) (*Table, error) {
		fam, name := strField(e.body, "family"), strField(e.body, "table")
		t := tables[fam+" "+name]
		if t == nil {
			return nil, source.Errorf(e.pos, "%s refers to table %s %s, which the dump does not list before it", e.kind, fam, name)
		}
		return t, nil
	}
	// Tables, chains and sets first: rules refer to them.
	for _, e := range entries {
		switch e.kind {
		case "metainfo":
			rs.Version = strField(e.body, "version")
		case "table":
			t := &Table{Family: strField(e.body, "family"), Name: strField(e.body, "name"), Handle: intField(e.body, "handle"),
				Pos: e.pos, Chains: map[string]*Chain{}, Sets: map[string]*Set{}}
			if t.Family == "" || t.Name == "" {
				return nil, source.Errorf(e.pos, "table: want a family and a name")
			}
			tables[t.Key()] = t
			rs.Tables = append(rs.Tables, t)
		case "chain":
			t, err := get(e)
			if err != nil {
				return nil, err
			}
			c, err := decodeChain(t, e)
			if err != nil {
				return nil, err
			}
			t.Chains[c.Name] = c
			t.Order = append(t.Order, c)
		case "set", "map":
			t, err := get(e)
			if err != nil {
				return nil, err
			}
			s, err := decodeSet(t, e)
			if err != nil {
				return nil, err
			}
			t.Sets[s.Name] = s
		}
	}
	for _, e := range entries {
		if e.kind != "rule" {
			continue
		}
		t, err := get(e)
		if err != nil {
			return nil, err
		}
		c := t.Chains[strField(e.body, "chain")]
		if c == nil {
			return nil, source.Errorf(e.pos, "rule refers to chain %q, which table %s does not have", strField(e.body, "chain"), t.Key())
		}
		r, err := decodeRule(c, e)
		if err != nil {
			return nil, err
		}
		c.Rules = append(c.Rules, r)
	}
	for _, t := range rs.Tables {
		for _, c := range t.Order {
			for _, r := range c.Rules {
				for _, o := range r.ops {
					if v, ok := o.(*verdictOp); ok && (v.v.Kind == VJump || v.v.Kind == VGoto) && t.Chains[v.v.Chain] == nil {
						return nil, source.Errorf(r.Pos, "rule %d in %s/%s: %s to a chain the table does not have", r.Handle, t.Key(), c.Name, v.v)
					}
				}
			}
		}
		for _, s := range t.Sets {
			if s.Verdict {
				for _, el := range s.Elems {
					if (el.Verdict.Kind == VJump || el.Verdict.Kind == VGoto) && t.Chains[el.Verdict.Chain] == nil {
						return nil, source.Errorf(s.Pos, "map %s in %s: %s to a chain the table does not have", s.Name, t.Key(), el.Verdict)
					}
				}
			}
		}
	}
	return rs, nil
}

// split cuts the "nftables" array into its objects, each with its position.
func split(f *source.File) ([]entry, error) {
	dec := jsontext.NewDecoder(bytes.NewReader(f.Data), decodeOpts)
	bad := func(err error) error {
		var se *jsontext.SyntacticError
		off := dec.InputOffset()
		if errors.As(err, &se) {
			off = se.ByteOffset
		}
		return source.Errorf(f.PosAt(off), "not `nft -j list ruleset` output: %v", err)
	}
	tok, err := dec.ReadToken()
	if err != nil {
		return nil, bad(err)
	}
	if tok.Kind() != '{' {
		return nil, source.Errorf(f.Pos(1), "not `nft -j list ruleset` output: want an object {\"nftables\": [...]}")
	}
	var out []entry
	found := false
	for dec.PeekKind() != '}' {
		tok, err := dec.ReadToken()
		if err != nil {
			return nil, bad(err)
		}
		if tok.String() != "nftables" {
			if err := dec.SkipValue(); err != nil {
				return nil, bad(err)
			}
			continue
		}
		found = true
		if tok, err = dec.ReadToken(); err != nil || tok.Kind() != '[' {
			if err == nil {
				err = fmt.Errorf("want an array after \"nftables\"")
			}
			return nil, bad(err)
		}
		for n := 1; dec.PeekKind() != ']'; n++ {
			raw, err := dec.ReadValue()
			if err != nil {
				return nil, bad(err)
			}
			start := dec.InputOffset() - int64(len(raw))
			pos := f.PosAt(start)
			pos.Entry = n
			var obj map[string]any
			if err := jsonv2.Unmarshal(raw, &obj, decodeOpts); err != nil || len(obj) != 1 {
				return nil, source.Errorf(pos, "want an object with one key (table, chain, rule, set, map, ...)")
			}
			for k, v := range obj {
				body, _ := v.(map[string]any)
				if body == nil {
					return nil, source.Errorf(pos, "%s: want an object", k)
				}
				out = append(out, entry{kind: k, body: body, pos: pos})
			}
		}
		if _, err := dec.ReadToken(); err != nil {
			return nil, bad(err)
		}
	}
	if !found {
		return nil, source.Errorf(f.Pos(1), "not `nft -j list ruleset` output: no \"nftables\" array")
	}
	return out, nil
}

func strField(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

func intField(m map[string]any, k string) int {
	f, _ := m[k].(float64)
	return int(f)
}

// strList reads a field that nft prints as a string or a list of strings.
func strList(x any) []string {
	switch x := x.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

var prioNames = map[string]int{"raw": -300, "mangle": -150, "dstnat": -100, "filter": 0, "security": 50, "srcnat": 100, "out": 100}

func decodeChain(t *Table, e entry) (*Chain, error) {
	c := &Chain{Table: t, Name: strField(e.body, "name"), Handle: intField(e.body, "handle"), Pos: e.pos,
		Type: strField(e.body, "type"), Hook: strField(e.body, "hook"), Policy: strField(e.body, "policy")}
	if c.Name == "" {
		return nil, source.Errorf(e.pos, "chain: want a name")
	}
	switch p := e.body["prio"].(type) {
	case float64:
		c.Prio = int(p)
	case string:
		// Older nft versions print symbolic priorities with an offset: "dstnat - 10".
		f := strings.Fields(p)
		base, ok := prioNames[f[0]]
		if !ok {
			return nil, source.Errorf(e.pos, "chain %s: unknown priority %q", c.Name, p)
		}
		if len(f) == 3 {
			var off int
			fmt.Sscan(f[2], &off)
			if f[1] == "-" {
				off = -off
			}
			base += off
		}
		c.Prio = base
	}
	c.Device = strList(e.body["dev"])
	if c.Hook != "" && c.Policy == "" {
		c.Policy = "accept"
	}
	c.Text = renderChain(c)
	return c, nil
}

func decodeSet(t *Table, e entry) (*Set, error) {
	s := &Set{Table: t, Name: strField(e.body, "name"), Handle: intField(e.body, "handle"), Pos: e.pos, Flags: strList(e.body["flags"])}
	fail := func(format string, args ...any) error {
		return source.Errorf(e.pos, "%s %s in %s: %s", e.kind, s.Name, t.Key(), fmt.Sprintf(format, args...))
	}
	var err error
	if s.Key, err = setTypes(e.body["type"], e.body["typeof"], t); err != nil {
		return nil, fail("%v", err)
	}
	if m, ok := e.body["map"]; ok {
		s.IsMap = true
		if names := typeNames(m); len(names) == 1 && names[0] == "verdict" {
			s.Verdict = true
		} else if s.Data, err = setTypes(m, nil, t); err != nil {
			return nil, fail("map data: %v", err)
		}
	}
	elems, _ := e.body["elem"].([]any)
	if err := s.addElems(elems); err != nil {
		return nil, fail("%v", err)
	}
	s.build()
	return s, nil
}

// typeNames splits "ipv4_addr . inet_service" and ["ipv4_addr", "inet_service"].
func typeNames(x any) []string {
	var out []string
	for _, s := range strList(x) {
		for _, p := range strings.Split(s, " . ") {
			out = append(out, strings.TrimSpace(p))
		}
	}
	return out
}

func setTypes(typ, typeOf any, t *Table) ([]dtype, error) {
	if typ == nil && typeOf != nil {
		e, err := decodeExpr(typeOf, t, tUnknown)
		if err != nil {
			return nil, fmt.Errorf("typeof: %v", err)
		}
		if c, ok := e.(*concatExpr); ok {
			return keyTypes(c.parts), nil
		}
		return []dtype{e.typ()}, nil
	}
	names := typeNames(typ)
	if len(names) == 0 {
		return nil, fmt.Errorf("want a type")
	}
	out := make([]dtype, len(names))
	for i, n := range names {
		out[i] = dtypeNames[n] // an unnamed type decodes its elements as best it can
	}
	return out, nil
}

// addElems decodes a set's or map's elements (a map's as [key, data] pairs).
func (s *Set) addElems(elems []any) error {
	for _, x := range elems {
		var el Elem
		key := x
		if s.IsMap {
			pair, ok := x.([]any)
			if !ok || len(pair) != 2 {
				return fmt.Errorf("map element: want [key, data], got %s", describe(x))
			}
			key = pair[0]
			if s.Verdict {
				v, err := decodeVerdict(pair[1])
				if err != nil {
					return fmt.Errorf("map element data: %v", err)
				}
				el.Verdict = v
			} else {
				d, _, _, err := decodeKey(pair[1], s.Data)
				if err != nil {
					return fmt.Errorf("map element data: %v", err)
				}
				el.Data = d
			}
		}
		lo, hi, comment, err := decodeKey(key, s.Key)
		if err != nil {
			return fmt.Errorf("element: %v", err)
		}
		el.Lo, el.Hi, el.Comment = lo, hi, comment
		s.Elems = append(s.Elems, el)
	}
	return nil
}

// decodeKey decodes an element key (or a literal compared with a concatenation): one
// value or interval per component.
func decodeKey(x any, types []dtype) (lo, hi []Value, comment string, err error) {
	if m, ok := x.(map[string]any); ok {
		if el, ok := m["elem"].(map[string]any); ok {
			comment = strField(el, "comment")
			x = el["val"]
		}
	}
	parts := []any{x}
	if m, ok := x.(map[string]any); ok && len(types) > 1 {
		c, ok := m["concat"].([]any)
		if !ok {
			return nil, nil, "", fmt.Errorf("want a concatenation of %d values, got %s", len(types), describe(x))
		}
		parts = c
	}
	if len(parts) != len(types) {
		return nil, nil, "", fmt.Errorf("want %d concatenated values, got %d", len(types), len(parts))
	}
	lo, hi = make([]Value, len(types)), make([]Value, len(types))
	for i, p := range parts {
		if lo[i], hi[i], err = decodeInterval(p, types[i]); err != nil {
			return nil, nil, "", err
		}
	}
	return lo, hi, comment, nil
}

// decodeInterval decodes a value, a prefix, a range, or a list of bitmask names.
func decodeInterval(x any, t dtype) (lo, hi Value, err error) {
	switch x := x.(type) {
	case map[string]any:
		if p, ok := x["prefix"].(map[string]any); ok {
			a, err := parseScalar(p["addr"], t)
			if err != nil || a.Kind != vAddr {
				return lo, hi, fmt.Errorf("prefix: want an address")
			}
			bits, _ := p["len"].(float64)
			pfx, err := a.Addr.Prefix(int(bits))
			if err != nil {
				return lo, hi, fmt.Errorf("prefix: %v", err)
			}
			return addr(pfx.Addr()), addr(lastAddr(pfx)), nil
		}
		if r, ok := x["range"].([]any); ok && len(r) == 2 {
			if lo, err = parseScalar(r[0], t); err != nil {
				return lo, hi, err
			}
			if hi, err = parseScalar(r[1], t); err != nil {
				return lo, hi, err
			}
			if lo.Kind != hi.Kind || cmp(lo, hi) > 0 {
				return lo, hi, fmt.Errorf("range %v-%v is empty", lo, hi)
			}
			return lo, hi, nil
		}
		return lo, hi, fmt.Errorf("want a value, prefix or range, got %s", describe(x))
	case []any:
		var bits uint64
		for _, n := range x {
			v, err := parseScalar(n, t)
			if err != nil {
				return lo, hi, err
			}
			bits |= v.Num
		}
		return num(bits), num(bits), nil
	}
	v, err := parseScalar(x, t)
	return v, v, err
}

func decodeVerdict(x any) (Verdict, error) {
	m, ok := x.(map[string]any)
	if !ok || len(m) != 1 {
		return Verdict{}, fmt.Errorf("want a verdict, got %s", describe(x))
	}
	for k, v := range m {
		for i, name := range verdictNames {
			if k != name {
				continue
			}
			vd := Verdict{Kind: VerdictKind(i)}
			if vd.Kind == VJump || vd.Kind == VGoto {
				body, _ := v.(map[string]any)
				vd.Chain = strField(body, "target")
				if vd.Chain == "" {
					return vd, fmt.Errorf("%s: want a target", k)
				}
			}
			return vd, nil
		}
	}
	return Verdict{}, fmt.Errorf("want a verdict, got %s", describe(x))
}

func decodeRule(c *Chain, e entry) (*Rule, error) {
	r := &Rule{Chain: c, Handle: intField(e.body, "handle"), Comment: strField(e.body, "comment"), Pos: e.pos}
	exprs, ok := e.body["expr"].([]any)
	if !ok {
		return nil, source.Errorf(e.pos, "rule %d in %s/%s: want \"expr\": [...]", r.Handle, c.Table.Key(), c.Name)
	}
	for i, x := range exprs {
		o, err := decodeOp(x, c.Table)
		if err != nil {
			return nil, source.Errorf(e.pos, "rule %d in %s/%s, statement %d: %v", r.Handle, c.Table.Key(), c.Name, i+1, err)
		}
		r.ops = append(r.ops, o)
	}
	r.Text = renderRule(r)
	return r, nil
}

// sortedKeys is for deterministic messages.
func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
