package nft

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// render prints a value as nft does for its type: names for protocols, states and
// ICMP types, hex for marks, quotes for interface names.
func render(v Value, t dtype) string {
	switch v.Kind {
	case vAddr:
		return v.Addr.String()
	case vStr:
		return strconv.Quote(v.Str)
	}
	switch t {
	case tMark:
		return fmt.Sprintf("%#08x", v.Num)
	case tBool:
		return map[bool]string{false: "missing", true: "exists"}[v.Num != 0]
	}
	if names := symbols[t]; names != nil {
		if t.bitmask() {
			var parts []string
			for name, bit := range names {
				if v.Num&bit != 0 {
					parts = append(parts, name)
				}
			}
			if len(parts) > 0 {
				sort.Strings(parts)
				return strings.Join(parts, ",")
			}
		}
		best := ""
		for name, n := range names {
			if n == v.Num && (best == "" || name < best) {
				best = name
			}
		}
		if best != "" {
			return best
		}
	}
	return strconv.FormatUint(v.Num, 10)
}

func renderInterval(lo, hi Value, t dtype) string {
	if cmp(lo, hi) == 0 {
		return render(lo, t)
	}
	if lo.Kind == vAddr {
		for bits := lo.Addr.BitLen(); bits >= 0; bits-- {
			if p, err := lo.Addr.Prefix(bits); err == nil && p.Addr() == lo.Addr && lastAddr(p) == hi.Addr {
				return p.String()
			}
		}
	}
	return render(lo, t) + "-" + render(hi, t)
}

func renderKey(lo, hi []Value, types []dtype) string {
	parts := make([]string, len(lo))
	for i := range lo {
		t := tUnknown
		if i < len(types) {
			t = types[i]
		}
		parts[i] = renderInterval(lo[i], hi[i], t)
	}
	return strings.Join(parts, " . ")
}

// String renders a set reference, or an anonymous set's elements.
func (s *Set) String() string {
	if s.Name != "" {
		return "@" + s.Name
	}
	const most = 8
	var parts []string
	for i, e := range s.Elems {
		if i == most {
			parts = append(parts, fmt.Sprintf("... (%d more)", len(s.Elems)-most))
			break
		}
		k := renderKey(e.Lo, e.Hi, s.Key)
		switch {
		case s.Verdict:
			k += " : " + e.Verdict.String()
		case s.IsMap:
			k += " : " + renderKey(e.Data, e.Data, s.Data)
		}
		parts = append(parts, k)
	}
	return "{ " + strings.Join(parts, ", ") + " }"
}

func (o *matchOp) String() string {
	var r string
	if o.pat.set != nil {
		r = o.pat.set.String()
	} else {
		r = renderKey(o.pat.lo, o.pat.hi, o.pat.types)
	}
	_, masked := o.key[0].(*binopExpr)
	switch {
	case o.op == "in", o.op == "==" && !masked:
		return keyString(o.key) + " " + r
	}
	return keyString(o.key) + " " + o.op + " " + r
}

func (o *vmapOp) String() string    { return keyString(o.key) + " vmap " + o.set.String() }
func (o *verdictOp) String() string { return o.v.String() }
func (o *notrackOp) String() string { return "notrack" }
func (o *passOp) String() string    { return o.text }
func (o *maybeOp) String() string   { return o.text }
func (o *unknownOp) String() string { return o.text }

func (o *rejectOp) String() string {
	switch {
	case o.typ == "":
		return "reject"
	case o.code == "":
		return "reject with " + o.typ
	}
	return "reject with " + o.typ + " " + o.code
}

func (a *natArg) String() string {
	if a.e != nil {
		return a.e.String()
	}
	return renderInterval(a.lo, a.hi, a.t)
}

func (o *natOp) String() string {
	var b strings.Builder
	b.WriteString(o.kind)
	if o.family != "" && o.addr != nil && o.addr.e != nil {
		if m, ok := o.addr.e.(*mapExpr); ok && len(m.set.Data) == 2 {
			b.WriteString(" " + o.family + " addr . port")
		}
	}
	if o.addr != nil || o.port != nil {
		b.WriteString(" to ")
	}
	if o.addr != nil {
		b.WriteString(o.addr.String())
	}
	if o.port != nil {
		b.WriteString(":" + o.port.String())
	}
	for _, f := range o.flags {
		b.WriteString(" " + f)
	}
	return b.String()
}

func (o *mangleOp) String() string {
	v := o.value.String()
	if c, ok := o.value.(*constExpr); ok && o.what == "mark" || ok && o.what == "ctmark" {
		v = render(c.v, tMark)
	}
	return o.key.String() + " set " + v
}

// renderStmt renders the statements that only need a short form.
func renderStmt(kind string, m jv) string {
	switch kind {
	case "counter":
		return "counter"
	case "log":
		if p := strField(m, "prefix"); p != "" {
			return "log prefix " + strconv.Quote(p)
		}
		return "log"
	case "limit":
		return fmt.Sprintf("limit rate %d/%s", intField(m, "rate"), strField(m, "per"))
	case "set":
		return "set " + strField(m, "op") + " " + strField(m, "set")
	}
	return kind
}

func renderRule(r *Rule) string {
	parts := make([]string, 0, len(r.ops)+2)
	for _, o := range r.ops {
		parts = append(parts, o.String())
	}
	if r.Comment != "" {
		parts = append(parts, "comment "+strconv.Quote(r.Comment))
	}
	return strings.Join(parts, " ") + " # handle " + strconv.Itoa(r.Handle)
}

var prioByValue = map[string]map[int]string{
	"": {-300: "raw", -150: "mangle", -100: "dstnat", 0: "filter", 50: "security", 100: "srcnat"},
}

func renderChain(c *Chain) string {
	if !c.IsBase() {
		return "chain " + c.Name + " # handle " + strconv.Itoa(c.Handle)
	}
	prio := strconv.Itoa(c.Prio)
	best, off := "", 0
	for v, name := range prioByValue[""] {
		d := c.Prio - v
		if d >= -20 && d <= 20 && (best == "" || abs(d) < abs(off)) {
			best, off = name, d
		}
	}
	if best != "" {
		switch {
		case off > 0:
			prio = fmt.Sprintf("%s + %d", best, off)
		case off < 0:
			prio = fmt.Sprintf("%s - %d", best, -off)
		default:
			prio = best
		}
	}
	return fmt.Sprintf("chain %s { type %s hook %s priority %s; policy %s; } # handle %d", c.Name, c.Type, c.Hook, prio, c.Policy, c.Handle)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
