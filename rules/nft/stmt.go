package nft

import (
	"fmt"
	"net/netip"
	"strings"

	"go4.org/netipx"
)

func lastAddr(p netip.Prefix) netip.Addr { return netipx.PrefixLastIP(p.Masked()) }

// op is one element of a rule's "expr" list: a match or a statement, decoded.
type op interface{ String() string }

// pattern is the right side of a match: a value (a tuple for a concatenation), an
// interval, or a set.
type pattern struct {
	lo, hi []Value
	set    *Set
	types  []dtype
}

// matchOp is `LEFT OP RIGHT`.
type matchOp struct {
	key []expr
	op  string // ==, !=, <, >, <=, >=, in
	pat pattern
}

// vmapOp is `KEY vmap @map` or `KEY vmap { ... }`.
type vmapOp struct {
	key []expr
	set *Set
}

// verdictOp is accept, drop, continue, return, jump, goto, queue.
type verdictOp struct{ v Verdict }

// rejectOp is `reject [with ...]`.
type rejectOp struct{ typ, code string }

// natOp is dnat, snat, masquerade, redirect.
type natOp struct {
	kind       string
	family     string
	addr, port *natArg
	flags      []string
}

// natArg is a NAT target's address or port: a value, a range, or an expression (a map).
type natArg struct {
	lo, hi Value
	e      expr
	t      dtype
}

// mangleOp is `meta mark set ...`, `ct mark set ...`, and the other `set` statements.
type mangleOp struct {
	key   expr
	value expr
	what  string // mark, ctmark, harmless, unknown
}

// notrackOp is `notrack`.
type notrackOp struct{}

// passOp is a statement that does not change the packet's way: counter, log, set add, ...
type passOp struct{ text string }

// maybeOp is a statement that may stop the rule: limit, quota, meter.
type maybeOp struct{ text, why string }

// unknownOp is what netsim cannot evaluate: xt, tproxy, synproxy, ...
type unknownOp struct{ text, why string }

func decodeOp(x jv, t *Table) (op, error) {
	kind, body, ok := x.single()
	if !ok {
		return nil, fmt.Errorf("want an object with one key, got %s", describe(x))
	}
	bm := body
	switch kind {
	case "match":
		if bm.k != 'o' {
			return nil, fmt.Errorf("match: want an object")
		}
		return decodeMatch(bm, t)
	case "accept", "drop", "continue", "return", "jump", "goto":
		v, err := decodeVerdict(x)
		return &verdictOp{v}, err
	case "queue":
		return &verdictOp{Verdict{Kind: VQueue}}, nil
	case "vmap":
		if bm.k != 'o' {
			return nil, fmt.Errorf("vmap: want an object")
		}
		key, err := decodeKeyExpr(bm.get("key"), t)
		if err != nil {
			return nil, fmt.Errorf("vmap key: %v", err)
		}
		s, err := setRef(bm.get("data"), t, keyTypes(key), true, nil)
		if err != nil {
			return nil, fmt.Errorf("vmap: %v", err)
		}
		return &vmapOp{key: key, set: s}, nil
	case "reject":
		return &rejectOp{typ: strField(bm, "type"), code: strField(bm, "expr")}, nil
	case "dnat", "snat", "masquerade", "redirect":
		return decodeNAT(kind, bm, t)
	case "mangle":
		return decodeMangle(bm, t)
	case "notrack":
		return &notrackOp{}, nil
	case "counter", "log", "set", "dup", "flow", "ct helper", "ct timeout", "ct expectation", "secmark", "comment", "objref":
		return &passOp{text: renderStmt(kind, bm)}, nil
	case "limit", "quota", "meter", "ct count", "last":
		return &maybeOp{text: renderStmt(kind, bm), why: kind + ": whether the packet passes depends on the traffic before it"}, nil
	case "xt":
		return &unknownOp{text: "xt " + strField(bm, "type") + " " + strField(bm, "name"),
			why: "an xt (iptables extension) expression: this table was written by iptables-nft, whose rules netsim reads from iptables-save"}, nil
	}
	return &unknownOp{text: kind, why: "nft statement " + kind + " is not evaluated by netsim"}, nil
}

func decodeMatch(m jv, t *Table) (op, error) {
	key, err := decodeKeyExpr(m.get("left"), t)
	if err != nil {
		return nil, fmt.Errorf("match left: %v", err)
	}
	opn := strField(m, "op")
	switch opn {
	case "==", "!=", "<", ">", "<=", ">=", "in":
	default:
		return nil, fmt.Errorf("match: unknown operator %q", opn)
	}
	right := m.get("right")
	// `fib ... oif missing` compares with a boolean.
	if f, ok := key[0].(*fibExpr); ok && len(key) == 1 && (right.k == 't' || right.k == 'f') {
		f.exists = true
	}
	types := keyTypes(key)
	mo := &matchOp{key: key, op: opn, pat: pattern{types: types}}
	set := func(x jv) (op, error) {
		s, err := setRef(x, t, types, false, nil)
		if err != nil {
			return nil, err
		}
		mo.pat.set = s
		return mo, nil
	}
	switch right.k {
	case 's':
		if strings.HasPrefix(right.s, "@") {
			return set(right)
		}
	case 'o':
		if right.get("set").k != 0 {
			return set(right)
		}
	case 'a':
		if len(types) != 1 || !types[0].bitmask() {
			return set(jv{k: 'o', els: []jv{{k: 's', s: "set"}, right}})
		}
	}
	lo, hi, _, err := decodeKey(right, types)
	if err != nil {
		return nil, fmt.Errorf("match right: %v", err)
	}
	mo.pat.lo, mo.pat.hi = lo, hi
	return mo, nil
}

// setRef resolves "@name" or decodes an anonymous set (or map) written inline.
func setRef(x jv, t *Table, key []dtype, verdict bool, data []dtype) (*Set, error) {
	switch x.k {
	case 's':
		if !strings.HasPrefix(x.s, "@") {
			break
		}
		s := t.Sets[x.s[1:]]
		if s == nil {
			return nil, fmt.Errorf("set %s is not in table %s", x.s, t.Key())
		}
		if len(s.Key) != len(key) {
			return nil, fmt.Errorf("set %s has %d key components, the lookup %d", x.s, len(s.Key), len(key))
		}
		if verdict && !s.Verdict {
			return nil, fmt.Errorf("%s is not a verdict map", x.s)
		}
		return s, nil
	case 'o':
		elems := x.get("set")
		if elems.k != 'a' {
			break
		}
		s := &Set{Table: t, Key: key, IsMap: verdict || data != nil, Verdict: verdict, Data: data}
		if err := s.addElems(elems.els); err != nil {
			return nil, err
		}
		s.build()
		return s, nil
	}
	return nil, fmt.Errorf("want @name or a set {...}, got %s", describe(x))
}

// decodeKeyExpr decodes a lookup key or a match's left side: one expression, or the
// parts of a concatenation.
func decodeKeyExpr(x jv, t *Table) ([]expr, error) {
	e, err := decodeExpr(x, t, tUnknown)
	if err != nil {
		return nil, err
	}
	if c, ok := e.(*concatExpr); ok {
		return c.parts, nil
	}
	return []expr{e}, nil
}

// decodeExpr decodes an expression; a literal takes the type want.
func decodeExpr(x jv, t *Table, want dtype) (expr, error) {
	if x.k != 'o' {
		if x.k == 'a' {
			lo, _, err := decodeInterval(x, want)
			return &constExpr{v: lo, t: want}, err
		}
		v, err := parseScalar(x, want)
		if err != nil {
			return nil, err
		}
		return &constExpr{v: v, t: want}, nil
	}
	kind, bm, ok := x.single()
	if !ok {
		return nil, fmt.Errorf("want an expression object with one key, got %d keys", len(x.els)/2)
	}
	switch kind {
	case "payload":
		if bm.k != 'o' {
			return nil, fmt.Errorf("payload: want an object")
		}
		if base := strField(bm, "base"); base != "" {
			return &payloadExpr{raw: fmt.Sprintf("@%s,%d,%d", base, intField(bm, "offset"), intField(bm, "len")), t: tInteger}, nil
		}
		proto, field := strField(bm, "protocol"), strField(bm, "field")
		pe := &payloadExpr{proto: proto, field: field, t: tInteger}
		if f, ok := payloadTypes[proto]; ok {
			if ft, ok := f[field]; ok {
				pe.t = ft
			}
		}
		return pe, nil
	case "meta":
		return &metaExpr{key: strField(bm, "key")}, nil
	case "ct":
		key := strField(bm, "key")
		if fam := strField(bm, "family"); fam != "" && (key == "saddr" || key == "daddr") {
			key = fam + " " + key
		}
		return &ctExpr{key: key, dir: strField(bm, "dir")}, nil
	case "fib":
		return &fibExpr{result: strField(bm, "result"), flags: strList(bm.get("flags"))}, nil
	case "numgen":
		return &hashExpr{kind: "numgen", mode: strField(bm, "mode"), mod: uint64(max(0, intField(bm, "mod"))), offset: uint64(max(0, intField(bm, "offset")))}, nil
	case "jhash", "symhash":
		h := &hashExpr{kind: kind, mod: uint64(max(0, intField(bm, "mod"))), offset: uint64(max(0, intField(bm, "offset")))}
		if bm.get("seed").k == 'n' {
			h.seed, h.seeded = uint64(max(0, intField(bm, "seed"))), true
		}
		if in := bm.get("expr"); in.k != 0 {
			of, err := decodeExpr(in, t, tUnknown)
			if err != nil {
				return nil, fmt.Errorf("jhash: %v", err)
			}
			h.of = of
		}
		return h, nil
	case "&", "|", "^", "<<", ">>":
		if bm.k != 'a' || len(bm.els) != 2 {
			return nil, fmt.Errorf("%s: want two operands", kind)
		}
		l, err := decodeExpr(bm.els[0], t, want)
		if err != nil {
			return nil, err
		}
		rt := l.typ()
		if kind == "<<" || kind == ">>" {
			rt = tInteger
		}
		lo, _, err := decodeInterval(bm.els[1], rt)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", kind, err)
		}
		return &binopExpr{op: kind, left: l, right: lo}, nil
	case "concat":
		if bm.k != 'a' || len(bm.els) == 0 {
			return nil, fmt.Errorf("concat: want expressions")
		}
		c := &concatExpr{}
		for _, p := range bm.els {
			e, err := decodeExpr(p, t, tUnknown)
			if err != nil {
				return nil, err
			}
			c.parts = append(c.parts, e)
		}
		return c, nil
	case "map":
		if bm.k != 'o' {
			return nil, fmt.Errorf("map: want an object")
		}
		key, err := decodeKeyExpr(bm.get("key"), t)
		if err != nil {
			return nil, fmt.Errorf("map key: %v", err)
		}
		data := []dtype{want}
		if ref, ok := bm.get("data").str(); ok && strings.HasPrefix(ref, "@") {
			if s := t.Sets[ref[1:]]; s != nil {
				data = s.Data
			}
		}
		s, err := setRef(bm.get("data"), t, keyTypes(key), false, data)
		if err != nil {
			return nil, fmt.Errorf("map: %v", err)
		}
		if s.Verdict || !s.IsMap {
			return nil, fmt.Errorf("map: %s is not a data map", s.ref())
		}
		return &mapExpr{key: key, set: s}, nil
	case "prefix", "range", "set", "elem":
		return nil, fmt.Errorf("%s where an expression was expected", kind)
	}
	return &opaqueExpr{desc: kind}, nil
}

func decodeNAT(kind string, m jv, t *Table) (op, error) {
	n := &natOp{kind: kind}
	if m.k != 'o' {
		return n, nil
	}
	n.family = strField(m, "family")
	n.flags = strList(m.get("flags"))
	at := tIPv4
	if t.Family == "ip6" || n.family == "ip6" {
		at = tIPv6
	}
	if t.Family == "inet" && n.family == "" {
		at = tUnknown
	}
	var err error
	if x := m.get("addr"); x.k != 0 {
		if n.addr, err = decodeNATArg(x, t, at); err != nil {
			return nil, fmt.Errorf("%s addr: %v", kind, err)
		}
	}
	if x := m.get("port"); x.k != 0 {
		if n.port, err = decodeNATArg(x, t, tPort); err != nil {
			return nil, fmt.Errorf("%s port: %v", kind, err)
		}
	}
	return n, nil
}

func decodeNATArg(x jv, t *Table, typ dtype) (*natArg, error) {
	if x.k == 'o' {
		if x.get("range").k != 0 || x.get("prefix").k != 0 {
			lo, hi, err := decodeInterval(x, typ)
			return &natArg{lo: lo, hi: hi, t: typ}, err
		}
		e, err := decodeExpr(x, t, typ)
		if err != nil {
			return nil, err
		}
		return &natArg{e: e, t: typ}, nil
	}
	v, err := parseScalar(x, typ)
	return &natArg{lo: v, hi: v, t: typ}, err
}

func decodeMangle(m jv, t *Table) (op, error) {
	if m.k != 'o' {
		return nil, fmt.Errorf("mangle: want an object")
	}
	key, err := decodeExpr(m.get("key"), t, tUnknown)
	if err != nil {
		return nil, fmt.Errorf("mangle key: %v", err)
	}
	value, err := decodeExpr(m.get("value"), t, key.typ())
	if err != nil {
		return nil, fmt.Errorf("mangle value: %v", err)
	}
	mo := &mangleOp{key: key, value: value, what: "harmless"}
	switch k := key.(type) {
	case *metaExpr:
		switch k.key {
		case "mark":
			mo.what = "mark"
		case "priority", "nftrace", "pkttype", "secmark":
		default:
			mo.what = "unknown"
		}
	case *ctExpr:
		switch k.key {
		case "mark":
			mo.what = "ctmark"
		case "zone", "helper", "label", "timeout", "expectation", "event", "secmark":
		default:
			mo.what = "unknown"
		}
	case *payloadExpr:
		switch k.field {
		case "saddr", "daddr", "sport", "dport":
			mo.what = "unknown" // stateless NAT
		}
	default:
		mo.what = "unknown"
	}
	return mo, nil
}
