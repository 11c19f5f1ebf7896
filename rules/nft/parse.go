package nft

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/netsim/netsim/model/source"
)

// entry is one element of the top-level "nftables" array, with where it starts.
type entry struct {
	kind string
	body jv
	pos  source.Pos
}

// Parse reads `nft -j list ruleset` output. Every object is cited by the line it starts
// on and its 1-based place in the "nftables" array (nft prints the whole array on one
// line; a pretty-printed dump gets real lines). Objects are decoded as they are read (nft
// lists a table's sets and chains before its rules); a rule that names something listed
// after it is decoded again at the end.
func Parse(f *source.File) (*Ruleset, error) {
	rs := &Ruleset{File: f}
	tables := map[[2]string]*Table{}
	get := func(e entry) (*Table, error) {
		fam, name := strField(e.body, "family"), strField(e.body, "table")
		t := tables[[2]string{fam, name}]
		if t == nil {
			return nil, source.Errorf(e.pos, "%s refers to table %s %s, which the dump does not list before it", e.kind, fam, name)
		}
		return t, nil
	}
	type later struct {
		e     entry
		chain *Chain // the chain holding its place, at index
		index int
	}
	var deferred []later
	rule := func(e entry) (*Rule, error) {
		t, err := get(e)
		if err != nil {
			return nil, err
		}
		c := t.Chains[strField(e.body, "chain")]
		if c == nil {
			return nil, source.Errorf(e.pos, "rule refers to chain %q, which table %s does not have", strField(e.body, "chain"), t.Key())
		}
		return decodeRule(c, e)
	}
	err := split(f, func(e entry) error {
		switch e.kind {
		case "metainfo":
			rs.Version = strField(e.body, "version")
		case "table":
			t := &Table{Family: strField(e.body, "family"), Name: strField(e.body, "name"), Handle: intField(e.body, "handle"),
				Pos: e.pos, Chains: map[string]*Chain{}, Sets: map[string]*Set{}}
			if t.Family == "" || t.Name == "" {
				return source.Errorf(e.pos, "table: want a family and a name")
			}
			tables[[2]string{t.Family, t.Name}] = t
			rs.Tables = append(rs.Tables, t)
		case "chain":
			t, err := get(e)
			if err != nil {
				return err
			}
			c, err := decodeChain(t, e)
			if err != nil {
				return err
			}
			if t.Chains[c.Name] == nil {
				t.Order = append(t.Order, c)
			}
			t.Chains[c.Name] = c
		case "set", "map":
			t, err := get(e)
			if err != nil {
				return err
			}
			s, err := decodeSet(t, e)
			if err != nil {
				return err
			}
			t.Sets[s.Name] = s
		case "rule":
			r, err := rule(e)
			if err == nil {
				r.Chain.Rules = append(r.Chain.Rules, r)
				return nil
			}
			// Perhaps it names a set or chain listed later: keep its place.
			t, terr := get(e)
			if terr != nil {
				return terr
			}
			e.body = e.body.clone() // it outlives the reader's arena
			c := t.Chains[strField(e.body, "chain")]
			if c == nil {
				deferred = append(deferred, later{e: e})
				return nil
			}
			c.Rules = append(c.Rules, nil)
			deferred = append(deferred, later{e: e, chain: c, index: len(c.Rules) - 1})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, d := range deferred {
		r, err := rule(d.e)
		if err != nil {
			return nil, err
		}
		if d.chain != nil {
			d.chain.Rules[d.index] = r
		} else {
			r.Chain.Rules = append(r.Chain.Rules, r)
		}
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
func split(f *source.File, each func(entry) error) error {
	p := &jparser{data: f.Data}
	bad := func(err error) error {
		off := p.i
		if se, ok := err.(*syntaxError); ok {
			off = se.off
		}
		return source.Errorf(f.PosAt(int64(off)), "not `nft -j list ruleset` output: %v", err)
	}
	p.space()
	if p.i >= len(p.data) || p.data[p.i] != '{' {
		return source.Errorf(f.Pos(1), "not `nft -j list ruleset` output: want an object {\"nftables\": [...]}")
	}
	p.i++
	found := false
	for {
		p.space()
		if p.i < len(p.data) && p.data[p.i] == '}' {
			break
		}
		if p.i >= len(p.data) || p.data[p.i] != '"' {
			return bad(p.errf("want a member name"))
		}
		key, err := p.string()
		if err != nil {
			return bad(err)
		}
		p.space()
		if p.i >= len(p.data) || p.data[p.i] != ':' {
			return bad(p.errf("want ':'"))
		}
		p.i++
		p.space()
		if key != "nftables" {
			if _, err := p.value(1); err != nil {
				return bad(err)
			}
		} else {
			found = true
			if p.i >= len(p.data) || p.data[p.i] != '[' {
				return bad(p.errf("want an array after \"nftables\""))
			}
			p.i++
			for n := 1; ; n++ {
				p.space()
				if p.i < len(p.data) && p.data[p.i] == ']' {
					p.i++
					break
				}
				// Cite the line of the object's key ("rule": ...), which a pretty-printed
				// dump puts on the line after the brace.
				at := p.i
				if q := bytes.IndexByte(p.data[at:], '"'); q >= 0 {
					at += q
				}
				pos := f.PosAt(int64(at))
				pos.Entry = n
				v, err := p.value(1)
				if err != nil {
					return bad(err)
				}
				kind, body, ok := v.single()
				if !ok {
					return source.Errorf(pos, "want an object with one key (table, chain, rule, set, map, ...)")
				}
				if body.k != 'o' {
					return source.Errorf(pos, "%s: want an object", kind)
				}
				if err := each(entry{kind: kind, body: body, pos: pos}); err != nil {
					return err
				}
				p.reset()
				p.space()
				if p.i < len(p.data) && p.data[p.i] == ',' {
					p.i++
				}
			}
		}
		p.space()
		if p.i < len(p.data) && p.data[p.i] == ',' {
			p.i++
		}
	}
	if !found {
		return source.Errorf(f.Pos(1), "not `nft -j list ruleset` output: no \"nftables\" array")
	}
	return nil
}

func strField(m jv, k string) string {
	s, _ := m.get(k).str()
	return s
}

func intField(m jv, k string) int {
	f, _ := m.get(k).float()
	if f < -1e9 || f > 1e9 {
		return 0
	}
	return int(f)
}

// strList reads a field that nft prints as a string or a list of strings.
func strList(x jv) []string {
	switch x.k {
	case 's':
		return []string{x.s}
	case 'a':
		var out []string
		for _, e := range x.els {
			if s, ok := e.str(); ok {
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
	switch prio := e.body.get("prio"); prio.k {
	case 'n':
		c.Prio = intField(e.body, "prio")
	case 's':
		// Older nft versions print symbolic priorities with an offset: "dstnat - 10".
		p := prio.s
		f := strings.Fields(p)
		if len(f) == 0 {
			return nil, source.Errorf(e.pos, "chain %s: empty priority", c.Name)
		}
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
	c.Device = strList(e.body.get("dev"))
	if c.Hook != "" && c.Policy == "" {
		c.Policy = "accept"
	}
	return c, nil
}

func decodeSet(t *Table, e entry) (*Set, error) {
	s := &Set{Table: t, Name: strField(e.body, "name"), Handle: intField(e.body, "handle"), Pos: e.pos, Flags: strList(e.body.get("flags"))}
	fail := func(format string, args ...any) error {
		return source.Errorf(e.pos, "%s %s in %s: %s", e.kind, s.Name, t.Key(), fmt.Sprintf(format, args...))
	}
	var err error
	if s.Key, err = setTypes(e.body.get("type"), e.body.get("typeof"), t); err != nil {
		return nil, fail("%v", err)
	}
	if m := e.body.get("map"); m.k != 0 {
		s.IsMap = true
		if names := typeNames(m); len(names) == 1 && names[0] == "verdict" {
			s.Verdict = true
		} else if s.Data, err = setTypes(m, jv{}, t); err != nil {
			return nil, fail("map data: %v", err)
		}
	}
	if err := s.addElems(e.body.get("elem").els); err != nil {
		return nil, fail("%v", err)
	}
	s.build()
	return s, nil
}

// typeNames splits "ipv4_addr . inet_service" and ["ipv4_addr", "inet_service"].
func typeNames(x jv) []string {
	var out []string
	for _, s := range strList(x) {
		for _, p := range strings.Split(s, " . ") {
			out = append(out, strings.TrimSpace(p))
		}
	}
	return out
}

func setTypes(typ, typeOf jv, t *Table) ([]dtype, error) {
	if typ.k == 0 && typeOf.k != 0 {
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
func (s *Set) addElems(elems []jv) error {
	for _, x := range elems {
		var el Elem
		key := x
		if s.IsMap {
			pair := x.els
			if x.k != 'a' || len(pair) != 2 {
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
func decodeKey(x jv, types []dtype) (lo, hi []Value, comment string, err error) {
	if el := x.get("elem"); el.k == 'o' {
		comment = strField(el, "comment")
		x = el.get("val")
	}
	parts := []jv{x}
	if len(types) > 1 {
		c := x.get("concat")
		if c.k != 'a' {
			return nil, nil, "", fmt.Errorf("want a concatenation of %d values, got %s", len(types), describe(x))
		}
		parts = c.els
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
func decodeInterval(x jv, t dtype) (lo, hi Value, err error) {
	switch x.k {
	case 'o':
		if p := x.get("prefix"); p.k == 'o' {
			a, err := parseScalar(p.get("addr"), t)
			if err != nil || a.Kind != vAddr {
				return lo, hi, fmt.Errorf("prefix: want an address")
			}
			pfx, err := a.Addr.Prefix(intField(p, "len"))
			if err != nil {
				return lo, hi, fmt.Errorf("prefix: %v", err)
			}
			return addr(pfx.Addr()), addr(lastAddr(pfx)), nil
		}
		if r := x.get("range"); r.k == 'a' && len(r.els) == 2 {
			if lo, err = parseScalar(r.els[0], t); err != nil {
				return lo, hi, err
			}
			if hi, err = parseScalar(r.els[1], t); err != nil {
				return lo, hi, err
			}
			if lo.Kind != hi.Kind || cmp(lo, hi) > 0 {
				return lo, hi, fmt.Errorf("range %v-%v is empty", lo, hi)
			}
			return lo, hi, nil
		}
		return lo, hi, fmt.Errorf("want a value, prefix or range, got %s", describe(x))
	case 'a':
		var bits uint64
		for _, n := range x.els {
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

func decodeVerdict(x jv) (Verdict, error) {
	k, v, ok := x.single()
	if !ok {
		return Verdict{}, fmt.Errorf("want a verdict, got %s", describe(x))
	}
	for i, name := range verdictNames {
		if k != name {
			continue
		}
		vd := Verdict{Kind: VerdictKind(i)}
		if vd.Kind == VJump || vd.Kind == VGoto {
			vd.Chain = strField(v, "target")
			if vd.Chain == "" {
				return vd, fmt.Errorf("%s: want a target", k)
			}
		}
		return vd, nil
	}
	return Verdict{}, fmt.Errorf("want a verdict, got %s", describe(x))
}

func decodeRule(c *Chain, e entry) (*Rule, error) {
	r := &Rule{Chain: c, Handle: intField(e.body, "handle"), Comment: strField(e.body, "comment"), Pos: e.pos}
	exprs := e.body.get("expr").els
	if e.body.get("expr").k != 'a' {
		return nil, source.Errorf(e.pos, "rule %d in %s/%s: want \"expr\": [...]", r.Handle, c.Table.Key(), c.Name)
	}
	r.ops = make([]op, 0, len(exprs))
	for i, x := range exprs {
		o, err := decodeOp(x, c.Table)
		if err != nil {
			return nil, source.Errorf(e.pos, "rule %d in %s/%s, statement %d: %v", r.Handle, c.Table.Key(), c.Name, i+1, err)
		}
		if _, xt := o.(*unknownOp); xt && strings.HasPrefix(o.String(), "xt ") {
			c.Table.XT = true
		}
		r.ops = append(r.ops, o)
	}
	return r, nil
}
