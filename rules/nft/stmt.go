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

func decodeOp(x any, t *Table) (op, error) {
	m, ok := x.(map[string]any)
	if !ok || len(m) != 1 {
		return nil, fmt.Errorf("want an object with one key, got %s", describe(x))
	}
	var kind string
	var body any
	for k, v := range m {
		kind, body = k, v
	}
	bm, _ := body.(map[string]any)
	switch kind {
	case "match":
		if bm == nil {
			return nil, fmt.Errorf("match: want an object")
		}
		return decodeMatch(bm, t)
	case "accept", "drop", "continue", "return", "jump", "goto":
		v, err := decodeVerdict(m)
		return &verdictOp{v}, err
	case "queue":
		return &verdictOp{Verdict{Kind: VQueue}}, nil
	case "vmap":
		if bm == nil {
			return nil, fmt.Errorf("vmap: want an object")
		}
		key, err := decodeKeyExpr(bm["key"], t)
		if err != nil {
			return nil, fmt.Errorf("vmap key: %v", err)
		}
		s, err := setRef(bm["data"], t, keyTypes(key), true, nil)
		if err != nil {
			return nil, fmt.Errorf("vmap: %v", err)
		}
		return &vmapOp{key: key, set: s}, nil
	case "reject":
		r := &rejectOp{}
		if bm != nil {
			r.typ, r.code = strField(bm, "type"), strField(bm, "expr")
		}
		return r, nil
	case "dnat", "snat", "masquerade", "redirect":
		return decodeNAT(kind, bm, t)
	case "mangle":
		return decodeMangle(bm, t)
	case "notrack":
		return &notrackOp{}, nil
	case "counter", "log", "set", "dup", "flow", "ct helper", "ct timeout", "ct expectation", "secmark", "synproxy_", "comment", "objref":
		return &passOp{text: renderStmt(kind, bm)}, nil
	case "limit", "quota", "meter", "ct count", "last":
		return &maybeOp{text: renderStmt(kind, bm), why: kind + ": whether the packet passes depends on the traffic before it"}, nil
	case "xt":
		name := strField(bm, "name")
		return &unknownOp{text: "xt " + strField(bm, "type") + " " + name,
			why: "an xt (iptables extension) expression: this table was written by iptables-nft, whose rules netsim reads from iptables-save"}, nil
	}
	return &unknownOp{text: kind, why: "nft statement " + kind + " is not evaluated by netsim"}, nil
}

func decodeMatch(m map[string]any, t *Table) (op, error) {
	key, err := decodeKeyExpr(m["left"], t)
	if err != nil {
		return nil, fmt.Errorf("match left: %v", err)
	}
	opn := strField(m, "op")
	switch opn {
	case "==", "!=", "<", ">", "<=", ">=", "in":
	default:
		return nil, fmt.Errorf("match: unknown operator %q", opn)
	}
	// `fib ... oif missing` compares with a boolean.
	if f, ok := key[0].(*fibExpr); ok && len(key) == 1 {
		if _, isBool := m["right"].(bool); isBool {
			f.exists = true
		}
	}
	types := keyTypes(key)
	mo := &matchOp{key: key, op: opn, pat: pattern{types: types}}
	switch r := m["right"].(type) {
	case string:
		if strings.HasPrefix(r, "@") {
			s, err := setRef(r, t, types, false, nil)
			if err != nil {
				return nil, err
			}
			mo.pat.set = s
			return mo, nil
		}
	case map[string]any:
		if _, ok := r["set"]; ok {
			s, err := setRef(r, t, types, false, nil)
			if err != nil {
				return nil, err
			}
			mo.pat.set = s
			return mo, nil
		}
	case []any:
		if len(types) != 1 || !types[0].bitmask() {
			s, err := setRef(map[string]any{"set": r}, t, types, false, nil)
			if err != nil {
				return nil, err
			}
			mo.pat.set = s
			return mo, nil
		}
	}
	lo, hi, _, err := decodeKey(m["right"], types)
	if err != nil {
		return nil, fmt.Errorf("match right: %v", err)
	}
	mo.pat.lo, mo.pat.hi = lo, hi
	return mo, nil
}

// setRef resolves "@name" or decodes an anonymous set (or map) written inline.
func setRef(x any, t *Table, key []dtype, verdict bool, data []dtype) (*Set, error) {
	switch x := x.(type) {
	case string:
		if !strings.HasPrefix(x, "@") {
			break
		}
		s := t.Sets[x[1:]]
		if s == nil {
			return nil, fmt.Errorf("set %s is not in table %s", x, t.Key())
		}
		if len(s.Key) != len(key) {
			return nil, fmt.Errorf("set %s has %d key components, the lookup %d", x, len(s.Key), len(key))
		}
		if verdict && !s.Verdict {
			return nil, fmt.Errorf("%s is not a verdict map", x)
		}
		return s, nil
	case map[string]any:
		elems, ok := x["set"].([]any)
		if !ok {
			break
		}
		s := &Set{Table: t, Key: key, IsMap: verdict || data != nil, Verdict: verdict, Data: data}
		if err := s.addElems(elems); err != nil {
			return nil, err
		}
		s.build()
		return s, nil
	}
	return nil, fmt.Errorf("want @name or a set {...}, got %s", describe(x))
}

// decodeKeyExpr decodes a lookup key or a match's left side: one expression, or the
// parts of a concatenation.
func decodeKeyExpr(x any, t *Table) ([]expr, error) {
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
func decodeExpr(x any, t *Table, want dtype) (expr, error) {
	m, ok := x.(map[string]any)
	if !ok {
		if _, isList := x.([]any); isList {
			lo, _, err := decodeInterval(x, want)
			return &constExpr{v: lo, t: want}, err
		}
		v, err := parseScalar(x, want)
		if err != nil {
			return nil, err
		}
		return &constExpr{v: v, t: want}, nil
	}
	if len(m) != 1 {
		return nil, fmt.Errorf("want an expression object with one key, got %d keys", len(m))
	}
	var kind string
	var body any
	for k, v := range m {
		kind, body = k, v
	}
	bm, _ := body.(map[string]any)
	switch kind {
	case "payload":
		if bm == nil {
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
		return &fibExpr{result: strField(bm, "result"), flags: strList(bm["flags"])}, nil
	case "numgen":
		return &hashExpr{kind: "numgen", mode: strField(bm, "mode"), mod: uint64(intField(bm, "mod")), offset: uint64(intField(bm, "offset"))}, nil
	case "jhash", "symhash":
		h := &hashExpr{kind: kind, mod: uint64(intField(bm, "mod")), offset: uint64(intField(bm, "offset"))}
		if s, ok := bm["seed"].(float64); ok {
			h.seed, h.seeded = uint64(s), true
		}
		if bm["expr"] != nil {
			of, err := decodeExpr(bm["expr"], t, tUnknown)
			if err != nil {
				return nil, fmt.Errorf("jhash: %v", err)
			}
			h.of = of
		}
		return h, nil
	case "&", "|", "^", "<<", ">>":
		args, _ := body.([]any)
		if len(args) != 2 {
			return nil, fmt.Errorf("%s: want two operands", kind)
		}
		l, err := decodeExpr(args[0], t, want)
		if err != nil {
			return nil, err
		}
		rt := l.typ()
		if kind == "<<" || kind == ">>" {
			rt = tInteger
		}
		lo, _, err := decodeInterval(args[1], rt)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", kind, err)
		}
		return &binopExpr{op: kind, left: l, right: lo}, nil
	case "concat":
		parts, _ := body.([]any)
		if len(parts) == 0 {
			return nil, fmt.Errorf("concat: want expressions")
		}
		c := &concatExpr{}
		for _, p := range parts {
			e, err := decodeExpr(p, t, tUnknown)
			if err != nil {
				return nil, err
			}
			c.parts = append(c.parts, e)
		}
		return c, nil
	case "map":
		if bm == nil {
			return nil, fmt.Errorf("map: want an object")
		}
		key, err := decodeKeyExpr(bm["key"], t)
		if err != nil {
			return nil, fmt.Errorf("map key: %v", err)
		}
		data := []dtype{want}
		if ref, ok := bm["data"].(string); ok && strings.HasPrefix(ref, "@") {
			if s := t.Sets[ref[1:]]; s != nil {
				data = s.Data
			}
		}
		s, err := setRef(bm["data"], t, keyTypes(key), false, data)
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

func decodeNAT(kind string, m map[string]any, t *Table) (op, error) {
	n := &natOp{kind: kind}
	if m == nil {
		return n, nil
	}
	n.family = strField(m, "family")
	n.flags = strList(m["flags"])
	at := tIPv4
	if t.Family == "ip6" || n.family == "ip6" {
		at = tIPv6
	}
	if t.Family == "inet" && n.family == "" {
		at = tUnknown
	}
	var err error
	if x, ok := m["addr"]; ok {
		if n.addr, err = decodeNATArg(x, t, at); err != nil {
			return nil, fmt.Errorf("%s addr: %v", kind, err)
		}
	}
	if x, ok := m["port"]; ok {
		if n.port, err = decodeNATArg(x, t, tPort); err != nil {
			return nil, fmt.Errorf("%s port: %v", kind, err)
		}
	}
	return n, nil
}

func decodeNATArg(x any, t *Table, typ dtype) (*natArg, error) {
	if mm, ok := x.(map[string]any); ok {
		if _, isRange := mm["range"]; isRange {
			lo, hi, err := decodeInterval(x, typ)
			return &natArg{lo: lo, hi: hi, t: typ}, err
		}
		if _, isPrefix := mm["prefix"]; isPrefix {
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

func decodeMangle(m map[string]any, t *Table) (op, error) {
	if m == nil {
		return nil, fmt.Errorf("mangle: want an object")
	}
	key, err := decodeExpr(m["key"], t, tUnknown)
	if err != nil {
		return nil, fmt.Errorf("mangle key: %v", err)
	}
	value, err := decodeExpr(m["value"], t, key.typ())
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
