package nft

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/netsim/netsim/rules/packet"
)

// status says whether an expression could be evaluated on a packet.
type status uint8

const (
	sOK      status = iota
	sAbsent         // the header or datum is not there: the kernel breaks off the rule
	sUnknown        // netsim cannot know it: both outcomes are possible
)

// val is what an expression evaluates to: one value, or (numgen, jhash) every value it
// can take, each of which is a path of its own.
type val struct {
	st    status
	why   string
	v     Value
	data  []Value // a map lookup's data (components)
	multi []Value // numgen, jhash: the values it can take
	label string  // how to name a branch, e.g. "numgen random mod 2"
	known uint64  // for ct status: the bits netsim knows (0: all)
}

func absent() val               { return val{st: sAbsent} }
func unknownVal(why string) val { return val{st: sUnknown, why: why} }
func ok(v Value) val            { return val{v: v} }

// ctx is what expressions are evaluated against.
type ctx struct {
	env  Env
	p    *packet.Packet
	hook string
}

// expr is a decoded expression.
type expr interface {
	eval(c *ctx) val
	typ() dtype
	String() string
}

// payloadExpr is a header field: `ip daddr`, `tcp dport`, `th dport`, or a raw load.
type payloadExpr struct {
	proto, field string
	t            dtype
	raw          string // a raw payload load, as @base,offset,len
}

var payloadTypes = map[string]map[string]dtype{
	"ip":      {"saddr": tIPv4, "daddr": tIPv4, "protocol": tProto},
	"ip6":     {"saddr": tIPv6, "daddr": tIPv6, "nexthdr": tProto},
	"tcp":     {"sport": tPort, "dport": tPort, "flags": tTCPFlag},
	"udp":     {"sport": tPort, "dport": tPort},
	"udplite": {"sport": tPort, "dport": tPort},
	"sctp":    {"sport": tPort, "dport": tPort},
	"dccp":    {"sport": tPort, "dport": tPort},
	"th":      {"sport": tPort, "dport": tPort},
	"icmp":    {"type": tICMPType, "code": tICMPCode},
	"icmpv6":  {"type": tICMP6Type, "code": tICMP6Code},
}

var l4protos = map[string]uint8{"tcp": packet.TCP, "udp": packet.UDP, "sctp": packet.SCTP, "udplite": 136, "dccp": 33, "icmp": packet.ICMP, "icmpv6": packet.ICMPv6}

func (e *payloadExpr) typ() dtype { return e.t }
func (e *payloadExpr) String() string {
	if e.raw != "" {
		return e.raw
	}
	return e.proto + " " + e.field
}

func (e *payloadExpr) eval(c *ctx) val {
	p := c.p
	if e.raw != "" {
		return unknownVal("raw payload " + e.raw + " is not evaluated")
	}
	switch e.proto {
	case "ip", "ip6":
		if p.Is6() != (e.proto == "ip6") {
			return absent()
		}
		switch e.field {
		case "saddr":
			return ok(addr(p.Src))
		case "daddr":
			return ok(addr(p.Dst))
		case "protocol", "nexthdr":
			return ok(num(uint64(p.Proto)))
		}
		return unknownVal(e.String() + " is not in netsim's packet")
	case "th":
		switch {
		case p.HasPorts() && e.field == "sport":
			return ok(num(uint64(p.SPort)))
		case p.HasPorts() && e.field == "dport":
			return ok(num(uint64(p.DPort)))
		case (p.Proto == packet.ICMP || p.Proto == packet.ICMPv6) && e.field == "sport":
			return ok(num(uint64(p.ICMPType)<<8 | uint64(p.ICMPCode)))
		}
		return unknownVal("th " + e.field + " of a " + packet.ProtoName(p.Proto) + " packet reads bytes netsim does not model")
	}
	if l4, known := l4protos[e.proto]; known && p.Proto != l4 {
		return absent()
	}
	switch e.field {
	case "sport":
		return ok(num(uint64(p.SPort)))
	case "dport":
		return ok(num(uint64(p.DPort)))
	case "flags":
		return ok(num(uint64(p.TCPFlags)))
	case "type":
		return ok(num(uint64(p.ICMPType)))
	case "code":
		return ok(num(uint64(p.ICMPCode)))
	}
	return unknownVal(e.String() + " is not in netsim's packet")
}

// metaExpr is `meta KEY`.
type metaExpr struct{ key string }

var metaTypes = map[string]dtype{"l4proto": tProto, "protocol": tEtherType, "nfproto": tNfProto, "mark": tMark,
	"iifname": tIfname, "oifname": tIfname, "iif": tIfname, "oif": tIfname, "length": tInteger, "pkttype": tPktType,
	"ibrname": tIfname, "obrname": tIfname, "ibriport": tIfname, "obriport": tIfname}

func (e *metaExpr) typ() dtype {
	if t, ok := metaTypes[e.key]; ok {
		return t
	}
	return tInteger
}

func (e *metaExpr) String() string {
	switch e.key {
	case "iifname", "oifname", "iif", "oif", "mark":
		if e.key == "mark" {
			return "meta mark"
		}
		return e.key
	}
	return "meta " + e.key
}

func (e *metaExpr) eval(c *ctx) val {
	p := c.p
	switch e.key {
	case "l4proto":
		return ok(num(uint64(p.Proto)))
	case "protocol":
		if p.Is6() {
			return ok(num(0x86dd))
		}
		return ok(num(0x0800))
	case "nfproto":
		if p.Is6() {
			return ok(num(10))
		}
		return ok(num(2))
	case "mark":
		return ok(num(uint64(p.Mark)))
	case "iifname", "iif":
		if p.InIface == "" {
			return absent()
		}
		return ok(str(p.InIface))
	case "oifname", "oif":
		if p.OutIface == "" {
			return absent()
		}
		return ok(str(p.OutIface))
	case "ibrname", "obrname":
		return unknownVal("meta " + e.key + " (the bridge a packet crosses) is not evaluated")
	case "ibriport":
		if p.PhysIn == "" {
			return absent()
		}
		return ok(str(p.PhysIn))
	case "obriport":
		if p.PhysOut == "" {
			return absent()
		}
		return ok(str(p.PhysOut))
	case "length":
		if p.Len > 0 {
			return ok(num(uint64(p.Len)))
		}
	case "nftrace", "priority":
		return ok(num(0))
	}
	return unknownVal("meta " + e.key + " depends on what netsim does not know")
}

// ctExpr is `ct KEY`, `ct original ip saddr`, ...
type ctExpr struct{ key, dir string }

func (e *ctExpr) typ() dtype {
	switch e.key {
	case "state":
		return tCtState
	case "status":
		return tCtStatus
	case "direction":
		return tCtDir
	case "mark":
		return tMark
	case "l3proto":
		return tNfProto
	case "protocol":
		return tProto
	case "proto-src", "proto-dst":
		return tPort
	case "ip saddr", "ip daddr":
		return tIPv4
	case "ip6 saddr", "ip6 daddr":
		return tIPv6
	case "saddr", "daddr":
		return tUnknown
	}
	return tInteger
}

func (e *ctExpr) String() string {
	if e.dir != "" {
		return "ct " + e.dir + " " + e.key
	}
	return "ct " + e.key
}

// Conntrack's status bits netsim knows.
const (
	ctsSeenReply = 2
	ctsConfirmed = 8
	ctsSNAT      = 16
	ctsDNAT      = 32
)

func (e *ctExpr) eval(c *ctx) val {
	p := c.p
	if e.key == "state" {
		if p.Untracked {
			return ok(num(64))
		}
		var bits uint64
		for from, to := range map[packet.CtState]uint64{packet.CtNew: 8, packet.CtEstablished: 2, packet.CtRelated: 4, packet.CtInvalid: 1, packet.CtUntracked: 64} {
			if p.CtState&from != 0 {
				bits |= to
			}
		}
		return ok(num(bits))
	}
	if p.Untracked || p.CtState&packet.CtUntracked != 0 || p.CtState&packet.CtInvalid != 0 && p.CtState&^packet.CtInvalid == 0 {
		return absent() // no conntrack entry: the ct expression breaks off the rule
	}
	switch e.key {
	case "mark":
		return ok(num(uint64(p.CtMark)))
	case "direction":
		if p.Reply {
			return ok(num(1))
		}
		return ok(num(0))
	case "status":
		var bits uint64
		if p.DNATed {
			bits |= ctsDNAT
		}
		if p.SNATed {
			bits |= ctsSNAT
		}
		if p.CtState&packet.CtNew == 0 {
			bits |= ctsConfirmed
		}
		if p.Reply {
			bits |= ctsSeenReply
		}
		known := uint64(ctsDNAT | ctsSNAT | ctsConfirmed)
		if p.Reply || p.CtState&packet.CtNew != 0 {
			known |= ctsSeenReply
		}
		return val{v: num(bits), known: known}
	case "l3proto":
		if p.Is6() {
			return ok(num(10))
		}
		return ok(num(2))
	case "protocol":
		return ok(num(uint64(p.Proto)))
	}
	if e.dir == "original" {
		src, dst := p.SrcAP(), p.DstAP()
		if p.Reply {
			src, dst = dst, src
		}
		if p.OrigDst.IsValid() {
			src, dst = p.OrigSrc, p.OrigDst
		} else if p.DNATed || p.SNATed {
			return unknownVal("the connection's original addresses are not known here")
		}
		switch e.key {
		case "saddr", "ip saddr", "ip6 saddr":
			return ok(addr(src.Addr()))
		case "daddr", "ip daddr", "ip6 daddr":
			return ok(addr(dst.Addr()))
		case "proto-src":
			return ok(num(uint64(src.Port())))
		case "proto-dst":
			return ok(num(uint64(dst.Port())))
		}
	}
	return unknownVal(e.String() + " is not modelled")
}

// fibExpr is `fib daddr type`, `fib saddr . iif oif`, ...
type fibExpr struct {
	result string // type, oif, oifname
	flags  []string
	exists bool // compared with true/false (exists/missing)
}

func (e *fibExpr) typ() dtype {
	switch {
	case e.exists:
		return tBool
	case e.result == "type":
		return tFibType
	}
	return tIfname
}

func (e *fibExpr) String() string { return "fib " + strings.Join(e.flags, " . ") + " " + e.result }

func (e *fibExpr) has(f string) bool {
	for _, x := range e.flags {
		if x == f {
			return true
		}
	}
	return false
}

func (e *fibExpr) eval(c *ctx) val {
	if c.env == nil {
		return unknownVal("fib needs the namespace's routes")
	}
	p := c.p
	a := p.Dst
	if e.has("saddr") {
		a = p.Src
	}
	iif := ""
	if e.has("iif") {
		iif = p.InIface
	}
	if e.result == "type" {
		t := c.env.AddrType(a, iif)
		if t == "" {
			return unknownVal("the route type of " + a.String() + " is not known")
		}
		return ok(num(symbols[tFibType][t]))
	}
	var mark uint32
	if e.has("mark") {
		mark = p.Mark
	}
	q := RouteQuery{Dst: a, IIf: iif, Mark: mark}
	if e.has("saddr") {
		q.Src, q.Reverse = p.Dst, true
	}
	oif, found, known := c.env.Route(q)
	if !known {
		return unknownVal("the route to " + a.String() + " is not known")
	}
	if e.has("oif") && found && oif != p.OutIface {
		found = false
	}
	if e.has("iif") && e.has("saddr") && found && oif != p.InIface {
		found = false
	}
	if e.exists {
		if found {
			return ok(num(1))
		}
		return ok(num(0))
	}
	if !found {
		return ok(str(""))
	}
	return ok(str(oif))
}

// hashExpr is numgen (random, inc) or jhash/symhash: every value it can take is a path.
type hashExpr struct {
	kind        string // numgen, jhash, symhash
	mode        string // numgen: random, inc
	mod, offset uint64
	seed        uint64
	seeded      bool
	of          expr // jhash's input
}

// maxBranches bounds how many values a numgen or jhash may take.
const maxBranches = 4096

func (e *hashExpr) typ() dtype { return tInteger }
func (e *hashExpr) String() string {
	var b strings.Builder
	b.WriteString(e.kind)
	if e.kind == "numgen" {
		b.WriteString(" " + e.mode)
	}
	if e.of != nil {
		b.WriteString(" " + e.of.String())
	}
	fmt.Fprintf(&b, " mod %d", e.mod)
	if e.seeded {
		fmt.Fprintf(&b, " seed %#x", e.seed)
	}
	if e.offset != 0 {
		fmt.Fprintf(&b, " offset %d", e.offset)
	}
	return b.String()
}

func (e *hashExpr) eval(c *ctx) val {
	if e.mod == 0 || e.mod > maxBranches {
		return unknownVal(fmt.Sprintf("%s with %d values", e.kind, e.mod))
	}
	out := make([]Value, e.mod)
	for i := range out {
		out[i] = num(e.offset + uint64(i))
	}
	return val{multi: out, label: e.String()}
}

// binopExpr is `LEFT & K`, `|`, `^`, `<<`, `>>`.
type binopExpr struct {
	op    string
	left  expr
	right Value
}

func (e *binopExpr) typ() dtype { return e.left.typ() }
func (e *binopExpr) String() string {
	r := e.right.String()
	switch t := e.left.typ(); {
	case e.op == "<<" || e.op == ">>":
	case t.bitmask():
		r = "(" + strings.ReplaceAll(render(e.right, t), ",", " | ") + ")"
	case e.right.Kind == vNum:
		r = fmt.Sprintf("%#08x", e.right.Num)
	}
	return e.left.String() + " " + e.op + " " + r
}

func (e *binopExpr) eval(c *ctx) val {
	l := e.left.eval(c)
	if l.st != sOK {
		return l
	}
	apply := func(x Value) Value { return binop(e.op, x, e.right) }
	if l.multi != nil {
		out := make([]Value, len(l.multi))
		for i, x := range l.multi {
			out[i] = apply(x)
		}
		l.multi = out
		return l
	}
	if l.known != 0 && e.op == "&" && e.right.Kind == vNum && e.right.Num&^l.known != 0 {
		return unknownVal(e.String() + " reads conntrack status bits netsim does not model")
	}
	l.v = apply(l.v)
	l.known = 0
	return l
}

func binop(op string, x, k Value) Value {
	if x.Kind == vAddr && k.Kind == vAddr {
		xa, ka := x.Addr.AsSlice(), k.Addr.AsSlice()
		if len(xa) != len(ka) {
			return x
		}
		for i := range xa {
			switch op {
			case "&":
				xa[i] &= ka[i]
			case "|":
				xa[i] |= ka[i]
			case "^":
				xa[i] ^= ka[i]
			}
		}
		a, _ := netip.AddrFromSlice(xa)
		return addr(a)
	}
	n := x.Num
	switch op {
	case "&":
		n &= k.Num
	case "|":
		n |= k.Num
	case "^":
		n ^= k.Num
	case "<<":
		n <<= k.Num
	case ">>":
		n >>= k.Num
	}
	return num(n)
}

// constExpr is a literal used as a value (mark set 0x10).
type constExpr struct {
	v Value
	t dtype
}

func (e *constExpr) typ() dtype     { return e.t }
func (e *constExpr) String() string { return render(e.v, e.t) }
func (e *constExpr) eval(*ctx) val  { return ok(e.v) }

// concatExpr joins expressions for a set lookup: `ip daddr . meta l4proto . th dport`.
type concatExpr struct{ parts []expr }

func (e *concatExpr) typ() dtype { return tUnknown }
func (e *concatExpr) String() string {
	s := make([]string, len(e.parts))
	for i, p := range e.parts {
		s[i] = p.String()
	}
	return strings.Join(s, " . ")
}
func (e *concatExpr) eval(*ctx) val { return unknownVal("a concatenation is only a lookup key") }

// mapExpr looks a key up in a map and yields the element's data.
type mapExpr struct {
	key []expr
	set *Set
}

func (e *mapExpr) typ() dtype {
	if len(e.set.Data) > 0 {
		return e.set.Data[0]
	}
	return tUnknown
}
func (e *mapExpr) String() string { return keyString(e.key) + " map " + e.set.String() }

func (e *mapExpr) eval(c *ctx) val {
	groups, v := lookup(c, e.key, e.set)
	if v.st != sOK {
		return v
	}
	if len(groups) != 1 {
		return unknownVal(e.String() + " yields one of several values (a numgen or jhash key): netsim does not split a map's data")
	}
	g := groups[0]
	if g.elem < 0 {
		return absent()
	}
	d := e.set.Elems[g.elem].Data
	if len(d) == 0 {
		return unknownVal(e.String() + ": the element has no data")
	}
	return val{v: d[0], data: d}
}

// opaqueExpr is an expression netsim does not evaluate (osf, socket, rt, exthdr, ...).
type opaqueExpr struct{ desc string }

func (e *opaqueExpr) typ() dtype     { return tUnknown }
func (e *opaqueExpr) String() string { return e.desc }
func (e *opaqueExpr) eval(*ctx) val  { return unknownVal(e.desc + " is not evaluated by netsim") }

func keyString(key []expr) string {
	if len(key) == 1 {
		return key[0].String()
	}
	return (&concatExpr{parts: key}).String()
}

func keyTypes(key []expr) []dtype {
	out := make([]dtype, len(key))
	for i, k := range key {
		out[i] = k.typ()
	}
	return out
}
