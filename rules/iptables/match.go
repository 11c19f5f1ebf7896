package iptables

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/netsim/netsim/rules/packet"
)

// Tri is a condition's outcome.
type Tri uint8

// Outcomes: a condition holds, does not, may hold (state netsim cannot see, or a match it
// cannot evaluate: both ways are explored), or splits the traffic (statistic: each way is
// a path of its own).
const (
	False Tri = iota
	True
	Maybe
	Branch
)

// AddrType bits, as -m addrtype names them.
const (
	AddrUnspec uint16 = 1 << iota
	AddrUnicast
	AddrLocal
	AddrBroadcast
	AddrAnycast
	AddrMulticast
	AddrBlackhole
	AddrUnreachable
	AddrProhibit
	AddrThrow
	AddrNAT
	AddrXResolve
)

var addrTypeNames = map[string]uint16{"UNSPEC": AddrUnspec, "UNICAST": AddrUnicast, "LOCAL": AddrLocal, "BROADCAST": AddrBroadcast,
	"ANYCAST": AddrAnycast, "MULTICAST": AddrMulticast, "BLACKHOLE": AddrBlackhole, "UNREACHABLE": AddrUnreachable,
	"PROHIBIT": AddrProhibit, "THROW": AddrThrow, "NAT": AddrNAT, "XRESOLVE": AddrXResolve}

// Env answers what a rule needs beyond the packet: the namespace's addresses and routes,
// its ipsets and sockets. A nil Env makes such matches Maybe.
type Env interface {
	// AddrType is the route type of an address in the local table (LOCAL, BROADCAST, ...)
	// or UNICAST; with iface set, only addresses on that device count as LOCAL.
	AddrType(a netip.Addr, iface string) uint16
	// SetMatch looks the packet up in an ipset by the directions (src, dst per
	// dimension). It returns Maybe with a reason when the set is missing or cannot be read.
	SetMatch(name string, p *packet.Packet, dirs []string, returnNomatch bool) (Tri, string)
	// RPFilter answers -m rpfilter: would the reverse path leave through the interface
	// the packet came in on.
	RPFilter(p *packet.Packet, loose, validMark, acceptLocal bool) (Tri, string)
}

// predicate is a compiled condition.
type predicate interface {
	eval(env Env, p *packet.Packet) (Tri, string)
}

// matchAll holds for every packet: comment, nfacct.
type matchAll struct{}

func (matchAll) eval(Env, *packet.Packet) (Tri, string) { return True, "" }

// unknown is a match netsim cannot evaluate: both outcomes are explored.
type unknown struct{ why string }

func (u unknown) eval(Env, *packet.Packet) (Tri, string) { return Maybe, u.why }

type netMatch struct {
	dst    bool
	prefix netip.Prefix
}

func (m netMatch) eval(_ Env, p *packet.Packet) (Tri, string) {
	a := p.Src
	if m.dst {
		a = p.Dst
	}
	return tri(m.prefix.Contains(a.Unmap()) || m.prefix.Contains(a)), ""
}

type ifaceMatch struct {
	out  bool
	name string // "eth+" matches every name starting with eth
}

func ifaceMatches(pattern, name string) bool {
	if strings.HasSuffix(pattern, "+") {
		return strings.HasPrefix(name, pattern[:len(pattern)-1])
	}
	return pattern == name
}

func (m ifaceMatch) eval(_ Env, p *packet.Packet) (Tri, string) {
	name := p.InIface
	if m.out {
		name = p.OutIface
	}
	if name == "" {
		return Maybe, "the interface is not known at this point"
	}
	return tri(ifaceMatches(m.name, name)), ""
}

type protoMatch struct{ proto uint8 } // 0: all

func (m protoMatch) eval(_ Env, p *packet.Packet) (Tri, string) {
	return tri(m.proto == 0 || m.proto == p.Proto), ""
}

// fragMatch is -f: second and later fragments. netsim models unfragmented packets.
type fragMatch struct{}

func (fragMatch) eval(Env, *packet.Packet) (Tri, string) { return False, "" }

type portRange struct{ lo, hi uint16 }

type portMatch struct {
	proto  uint8 // the module's protocol: the match fails for others
	src    bool
	dst    bool // --ports in multiport: either
	ranges []portRange
}

func (m portMatch) eval(_ Env, p *packet.Packet) (Tri, string) {
	if p.Proto != m.proto {
		return False, ""
	}
	in := func(port uint16) bool {
		for _, r := range m.ranges {
			if port >= r.lo && port <= r.hi {
				return true
			}
		}
		return false
	}
	switch {
	case m.src && m.dst:
		return tri(in(p.SPort) || in(p.DPort)), ""
	case m.src:
		return tri(in(p.SPort)), ""
	default:
		return tri(in(p.DPort)), ""
	}
}

type tcpFlagsMatch struct{ mask, comp uint8 }

func (m tcpFlagsMatch) eval(_ Env, p *packet.Packet) (Tri, string) {
	if p.Proto != packet.TCP {
		return False, ""
	}
	return tri(p.TCPFlags&m.mask == m.comp), ""
}

type icmpMatch struct {
	v6   bool
	any  bool
	typ  uint8
	code int // -1: any code
}

func (m icmpMatch) eval(_ Env, p *packet.Packet) (Tri, string) {
	want := packet.ICMP
	if m.v6 {
		want = packet.ICMPv6
	}
	if p.Proto != want {
		return False, ""
	}
	if m.any {
		return True, ""
	}
	return tri(p.ICMPType == m.typ && (m.code < 0 || int(p.ICMPCode) == m.code)), ""
}

type markMatch struct {
	conn      bool
	val, mask uint32
}

func (m markMatch) eval(_ Env, p *packet.Packet) (Tri, string) {
	v := p.Mark
	if m.conn {
		v = p.CtMark
	}
	return tri(v&m.mask == m.val), ""
}

// ctstate bits beyond packet.CtState: the NAT statuses --ctstate also accepts.
const (
	ctSNAT uint16 = 1 << 8
	ctDNAT uint16 = 1 << 9
)

type ctStateMatch struct{ states uint16 }

func (m ctStateMatch) eval(_ Env, p *packet.Packet) (Tri, string) {
	have := uint16(p.CtState)
	if p.Untracked {
		have = uint16(packet.CtUntracked)
	}
	if p.SNATed {
		have |= ctSNAT
	}
	if p.DNATed {
		have |= ctDNAT
	}
	return tri(have&m.states != 0), ""
}

type ctDirMatch struct{ reply bool }

func (m ctDirMatch) eval(_ Env, p *packet.Packet) (Tri, string) { return tri(p.Reply == m.reply), "" }

type ctOrigMatch struct {
	dst    bool
	prefix netip.Prefix
}

func (m ctOrigMatch) eval(_ Env, p *packet.Packet) (Tri, string) {
	ap := p.OrigSrc
	if m.dst {
		ap = p.OrigDst
	}
	if !ap.IsValid() {
		a := p.Src
		if m.dst {
			a = p.Dst
		}
		return tri(m.prefix.Contains(a)), ""
	}
	return tri(m.prefix.Contains(ap.Addr())), ""
}

type addrTypeMatch struct {
	src, dst          uint16 // 0: not tested
	srcNeg, dstNeg    bool
	limitIn, limitOut bool
}

func (m addrTypeMatch) eval(env Env, p *packet.Packet) (Tri, string) {
	if env == nil {
		return Maybe, "-m addrtype needs the namespace's local routes"
	}
	iface := ""
	switch {
	case m.limitIn:
		iface = p.InIface
	case m.limitOut:
		iface = p.OutIface
	}
	ok := true
	if m.src != 0 {
		hit := env.AddrType(p.Src, iface)&m.src != 0
		ok = ok && hit != m.srcNeg
	}
	if m.dst != 0 {
		hit := env.AddrType(p.Dst, iface)&m.dst != 0
		ok = ok && hit != m.dstNeg
	}
	return tri(ok), ""
}

// statistic splits traffic: every branch becomes a path.
type statisticMatch struct{ desc string }

func (m statisticMatch) eval(Env, *packet.Packet) (Tri, string) { return Branch, m.desc }

type setMatch struct {
	name          string
	dirs          []string
	returnNomatch bool
}

func (m setMatch) eval(env Env, p *packet.Packet) (Tri, string) {
	if env == nil {
		return Maybe, "ipset " + m.name + " is not available"
	}
	return env.SetMatch(m.name, p, m.dirs, m.returnNomatch)
}

type physdevMatch struct {
	in, out                string
	isIn, isOut, isBridged bool
}

func (m physdevMatch) eval(_ Env, p *packet.Packet) (Tri, string) {
	if !p.Bridged {
		// physdev matches only bridged packets (PhysIn/PhysOut unset otherwise).
		return False, ""
	}
	ok := true
	if m.in != "" {
		ok = ok && p.PhysIn != "" && ifaceMatches(m.in, p.PhysIn)
	}
	if m.out != "" {
		ok = ok && p.PhysOut != "" && ifaceMatches(m.out, p.PhysOut)
	}
	if m.isIn {
		ok = ok && p.PhysIn != ""
	}
	if m.isOut {
		ok = ok && p.PhysOut != ""
	}
	return tri(ok), ""
}

type ipvsMatch struct{}

func (ipvsMatch) eval(_ Env, p *packet.Packet) (Tri, string) { return tri(p.IPVS), "" }

// ipvsOpt is one option of -m ipvs other than --ipvs, folded into ipvsConnMatch by
// finishConds (xt_ipvs takes a rule's options as one match).
type ipvsOpt struct{ option, arg string }

func (ipvsOpt) eval(Env, *packet.Packet) (Tri, string) { return True, "" }

// ipvsConnMatch is -m ipvs with options about the packet's IPVS connection, evaluated as
// net/netfilter/xt_ipvs.c does: a packet without the ipvs property never matches, whatever
// the negations; --vproto compares the packet's protocol; the others need the connection
// IPVS's table finds for the packet (ip_vs_conn_out_get, inverted: the request as IPVS
// sent it to its real server), and without one the match fails. Each option's "!"
// inverts that option alone.
type ipvsConnMatch struct {
	opts []ipvsCond
}

type ipvsCond struct {
	option string
	neg    bool
	addr   netip.Prefix // --vaddr
	num    uint32       // --vport, --vproto, --vportctl
	reply  bool         // --vdir REPLY
	method uint8        // --vmethod
}

func (m ipvsConnMatch) eval(_ Env, p *packet.Packet) (Tri, string) {
	if !p.IPVS {
		return False, ""
	}
	for _, c := range m.opts {
		if c.option != "--vproto" {
			continue
		}
		if (uint32(p.Proto) == c.num) == c.neg {
			return False, ""
		}
	}
	var maybe string
	for _, c := range m.opts {
		var hit bool
		switch c.option {
		case "--ipvs", "--vproto":
			continue
		}
		if !p.IPVSVAddr.IsValid() {
			// No connection in IPVS's table for the packet as it is here.
			return False, ""
		}
		switch c.option {
		case "--vaddr":
			hit = c.addr.Contains(p.IPVSVAddr.Addr().Unmap()) || c.addr.Contains(p.IPVSVAddr.Addr())
		case "--vport":
			hit = uint32(p.IPVSVAddr.Port()) == c.num
		case "--vdir":
			if p.Untracked {
				// nf_ct_get finds no conntrack entry: the option fails.
				return False, ""
			}
			hit = p.Reply == c.reply
		case "--vmethod":
			if p.IPVSMethod == packet.IPVSMethodUnknown {
				if maybe == "" {
					maybe = "-m ipvs --vmethod: the real server's forwarding method is not in the dump"
				}
				continue
			}
			hit = p.IPVSMethod == c.method
		default: // --vportctl: the connection's control connection (persistence, FTP)
			if maybe == "" {
				maybe = "-m ipvs " + c.option + ": IPVS's control connections are not in a snapshot"
			}
			continue
		}
		if hit == c.neg {
			return False, ""
		}
	}
	if maybe != "" {
		return Maybe, maybe
	}
	return True, ""
}

// foldIPVS builds one -m ipvs instance's match from its options.
func foldIPVS(group []Cond) (predicate, error) {
	var m ipvsConnMatch
	only := true
	for _, g := range group {
		if g.Option != "--ipvs" {
			only = false
		}
	}
	if only {
		return nil, nil // --ipvs alone: the property, its negation applied as usual
	}
	for _, g := range group {
		c := ipvsCond{option: g.Option, neg: g.Neg}
		o, _ := g.pred.(ipvsOpt)
		var err error
		switch g.Option {
		case "--ipvs":
		case "--vaddr":
			c.addr, err = parsePrefix(o.arg, strings.Contains(o.arg, ":"))
		case "--vport", "--vportctl":
			var n uint64
			n, err = strconv.ParseUint(o.arg, 10, 16)
			c.num = uint32(n)
		case "--vproto":
			n, perr := strconv.ParseUint(o.arg, 10, 8)
			if perr != nil {
				p, ok := map[string]uint8{"tcp": packet.TCP, "udp": packet.UDP, "sctp": packet.SCTP, "icmp": packet.ICMP}[strings.ToLower(o.arg)]
				if !ok {
					err = perr
				}
				n = uint64(p)
			}
			c.num = uint32(n)
		case "--vdir":
			switch o.arg {
			case "ORIGINAL":
			case "REPLY":
				c.reply = true
			default:
				err = fmt.Errorf("want ORIGINAL or REPLY")
			}
		case "--vmethod":
			var ok bool
			c.method, ok = map[string]uint8{"GATE": packet.IPVSGate, "IPIP": packet.IPVSTunnel, "MASQ": packet.IPVSMasq}[o.arg]
			if !ok {
				err = fmt.Errorf("want GATE, IPIP or MASQ")
			}
		default:
			return unknown{"-m ipvs " + g.Option + " is not modelled"}, nil
		}
		if err != nil {
			return nil, fmt.Errorf("-m ipvs %s %s: %v", g.Option, o.arg, err)
		}
		m.opts = append(m.opts, c)
	}
	return m, nil
}

type rpfilterMatch struct{ loose, validMark, acceptLocal, invert bool }

func (m rpfilterMatch) eval(env Env, p *packet.Packet) (Tri, string) {
	if env == nil {
		return Maybe, "-m rpfilter needs the namespace's routes"
	}
	t, why := env.RPFilter(p, m.loose, m.validMark, m.acceptLocal)
	if m.invert && t != Maybe {
		t = tri(t == False)
	}
	return t, why
}

type iprangeMatch struct {
	dst    bool
	lo, hi netip.Addr
}

func (m iprangeMatch) eval(_ Env, p *packet.Packet) (Tri, string) {
	a := p.Src
	if m.dst {
		a = p.Dst
	}
	return tri(m.lo.Compare(a) <= 0 && a.Compare(m.hi) <= 0), ""
}

type pktTypeMatch struct{ typ string }

func (m pktTypeMatch) eval(_ Env, p *packet.Packet) (Tri, string) {
	switch m.typ {
	case "unicast":
		return tri(!p.Dst.IsMulticast()), ""
	case "multicast":
		return tri(p.Dst.IsMulticast()), ""
	}
	return Maybe, "pkttype " + m.typ + " depends on the link-layer address"
}

type lengthMatch struct{ lo, hi int }

func (m lengthMatch) eval(_ Env, p *packet.Packet) (Tri, string) {
	if p.Len == 0 {
		return Maybe, "the packet's length is not known (give --size)"
	}
	return tri(p.Len >= m.lo && p.Len <= m.hi), ""
}

func tri(b bool) Tri {
	if b {
		return True
	}
	return False
}

var protoNumbers = map[string]uint8{"tcp": packet.TCP, "udp": packet.UDP, "icmp": packet.ICMP, "ipv6-icmp": packet.ICMPv6,
	"icmpv6": packet.ICMPv6, "sctp": packet.SCTP, "all": 0, "gre": 47, "esp": 50, "ah": 51, "udplite": 136, "ipip": 4, "ipv4": 4}

func parseProto(s string) (uint8, error) {
	if n, ok := protoNumbers[strings.ToLower(s)]; ok {
		return n, nil
	}
	n, err := strconv.ParseUint(s, 10, 8)
	if err != nil {
		return 0, fmt.Errorf("unknown protocol %q", s)
	}
	return uint8(n), nil
}

func parsePortRanges(s string, sep string) ([]portRange, error) {
	var out []portRange
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, sep)
		a, err := parsePort(lo, 0)
		if err != nil {
			return nil, err
		}
		b := a
		if isRange {
			if b, err = parsePort(hi, 65535); err != nil {
				return nil, err
			}
		}
		if b < a {
			return nil, fmt.Errorf("port range %s is reversed", part)
		}
		out = append(out, portRange{a, b})
	}
	return out, nil
}

func parsePort(s string, empty uint16) (uint16, error) {
	if s == "" {
		return empty, nil
	}
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		if p, ok := servicePorts[s]; ok {
			return p, nil
		}
		return 0, fmt.Errorf("port %q", s)
	}
	return uint16(n), nil
}

// servicePorts are the /etc/services names iptables-save can print.
var servicePorts = map[string]uint16{"http": 80, "https": 443, "ssh": 22, "domain": 53, "dns": 53, "ntp": 123, "smtp": 25, "bootps": 67, "bootpc": 68}

var tcpFlagNames = map[string]uint8{"FIN": packet.FIN, "SYN": packet.SYN, "RST": packet.RST, "PSH": packet.PSH,
	"ACK": packet.ACK, "URG": packet.URG, "ECE": 1 << 6, "CWR": 1 << 7, "ALL": 0xff, "NONE": 0}

func parseTCPFlags(s string) (uint8, error) {
	var v uint8
	for _, f := range strings.Split(s, ",") {
		b, ok := tcpFlagNames[strings.ToUpper(f)]
		if !ok {
			return 0, fmt.Errorf("tcp flag %q", f)
		}
		v |= b
	}
	return v, nil
}

var icmpTypes = map[string][2]int{"echo-reply": {0, -1}, "destination-unreachable": {3, -1}, "network-unreachable": {3, 0},
	"host-unreachable": {3, 1}, "protocol-unreachable": {3, 2}, "port-unreachable": {3, 3}, "fragmentation-needed": {3, 4},
	"communication-prohibited": {3, 13}, "source-quench": {4, -1}, "redirect": {5, -1}, "echo-request": {8, -1},
	"time-exceeded": {11, -1}, "parameter-problem": {12, -1}, "timestamp-request": {13, -1}, "timestamp-reply": {14, -1},
	"router-advertisement": {9, -1}, "router-solicitation": {10, -1}, "ttl-zero-during-transit": {11, 0}}

var icmp6Types = map[string][2]int{"destination-unreachable": {1, -1}, "no-route": {1, 0}, "communication-prohibited": {1, 1},
	"address-unreachable": {1, 3}, "port-unreachable": {1, 4}, "packet-too-big": {2, -1}, "time-exceeded": {3, -1},
	"parameter-problem": {4, -1}, "echo-request": {128, -1}, "echo-reply": {129, -1}, "neighbour-solicitation": {135, -1},
	"neighbor-solicitation": {135, -1}, "neighbour-advertisement": {136, -1}, "neighbor-advertisement": {136, -1},
	"router-solicitation": {133, -1}, "router-advertisement": {134, -1}, "redirect": {137, -1}}

func parseICMPType(s string, v6 bool) (icmpMatch, error) {
	m := icmpMatch{v6: v6, code: -1}
	if s == "any" {
		m.any = true
		return m, nil
	}
	names := icmpTypes
	if v6 {
		names = icmp6Types
	}
	if tc, ok := names[s]; ok {
		m.typ, m.code = uint8(tc[0]), tc[1]
		return m, nil
	}
	t, c, hasCode := strings.Cut(s, "/")
	n, err := strconv.ParseUint(t, 10, 8)
	if err != nil {
		return m, fmt.Errorf("icmp type %q", s)
	}
	m.typ = uint8(n)
	if hasCode {
		k, err := strconv.ParseUint(c, 10, 8)
		if err != nil {
			return m, fmt.Errorf("icmp code %q", s)
		}
		m.code = int(k)
	}
	return m, nil
}

var ctStateNames = map[string]uint16{"NEW": uint16(packet.CtNew), "ESTABLISHED": uint16(packet.CtEstablished),
	"RELATED": uint16(packet.CtRelated), "INVALID": uint16(packet.CtInvalid), "UNTRACKED": uint16(packet.CtUntracked),
	"SNAT": ctSNAT, "DNAT": ctDNAT}

// compile turns one option into a predicate. Modules and options netsim does not
// evaluate compile to unknown (explored both ways), never to "match".
func compile(ipv6 bool, module, option string, args []string) (predicate, error) {
	arg := ""
	if len(args) > 0 {
		arg = args[0]
	}
	switch module {
	case "":
		switch option {
		case "-s", "-d":
			p, err := parsePrefix(arg, ipv6)
			if err != nil {
				return nil, err
			}
			return netMatch{dst: option == "-d", prefix: p}, nil
		case "-i", "-o":
			return ifaceMatch{out: option == "-o", name: arg}, nil
		case "-p":
			n, err := parseProto(arg)
			return protoMatch{n}, err
		case "-f":
			return fragMatch{}, nil
		}
	case "comment", "nfacct":
		return matchAll{}, nil
	case "tcp", "udp", "sctp", "udplite":
		proto, _ := parseProto(module)
		switch option {
		case "": // -m tcp alone: the protocol only
			return portMatch{proto: proto, ranges: []portRange{{0, 65535}}}, nil
		case "--sport", "--source-port", "--dport", "--destination-port":
			r, err := parsePortRanges(arg, ":")
			return portMatch{proto: proto, src: option == "--sport" || option == "--source-port", ranges: r}, err
		case "--tcp-flags":
			mask, err := parseTCPFlags(args[0])
			if err != nil {
				return nil, err
			}
			comp, err := parseTCPFlags(args[1])
			return tcpFlagsMatch{mask, comp}, err
		case "--syn":
			return tcpFlagsMatch{packet.SYN | packet.RST | packet.ACK | packet.FIN, packet.SYN}, nil
		}
	case "multiport":
		proto := uint8(0) // the rule's -p decides; multiport requires one of tcp/udp/sctp
		r, err := parsePortRanges(arg, ":")
		if err != nil {
			return nil, err
		}
		switch option {
		case "--sports", "--source-ports":
			return multiport{portMatch{proto: proto, src: true, ranges: r}}, nil
		case "--dports", "--destination-ports":
			return multiport{portMatch{proto: proto, ranges: r}}, nil
		case "--ports":
			return multiport{portMatch{proto: proto, src: true, dst: true, ranges: r}}, nil
		}
	case "icmp", "icmp6", "icmpv6":
		if option == "--icmp-type" || option == "--icmpv6-type" {
			m, err := parseICMPType(arg, module != "icmp")
			return m, err
		}
	case "mark", "connmark":
		if option == "--mark" {
			v, m, err := parseMark(arg)
			return markMatch{conn: module == "connmark", val: v & m, mask: m}, err
		}
	case "conntrack", "state":
		switch option {
		case "--ctstate", "--state":
			var bits uint16
			for _, s := range strings.Split(arg, ",") {
				b, ok := ctStateNames[s]
				if !ok {
					return nil, fmt.Errorf("conntrack state %q", s)
				}
				bits |= b
			}
			return ctStateMatch{bits}, nil
		case "--ctdir":
			return ctDirMatch{reply: arg == "REPLY"}, nil
		case "--ctorigsrc", "--ctorigdst":
			p, err := parsePrefix(arg, ipv6)
			return ctOrigMatch{dst: option == "--ctorigdst", prefix: p}, err
		}
		return unknown{"-m conntrack " + option + " is not modelled"}, nil
	case "addrtype":
		var m addrTypeMatch
		switch option {
		case "--src-type", "--dst-type":
			var bits uint16
			for _, s := range strings.Split(arg, ",") {
				b, ok := addrTypeNames[s]
				if !ok {
					return nil, fmt.Errorf("address type %q", s)
				}
				bits |= b
			}
			if option == "--src-type" {
				m.src = bits
			} else {
				m.dst = bits
			}
			return m, nil
		case "--limit-iface-in", "--limit-iface-out":
			return addrTypeLimit{out: option == "--limit-iface-out"}, nil
		}
	case "statistic":
		return statisticOpt{option: option, arg: arg}, nil
	case "set":
		if option == "--match-set" {
			return setMatch{name: args[0], dirs: strings.Split(args[1], ",")}, nil
		}
		if option == "--return-nomatch" {
			return setFlag{returnNomatch: true}, nil
		}
		if option == "--update-counters" || option == "--update-subcounters" {
			return matchAll{}, nil
		}
		return unknown{"-m set " + option + " depends on the set's counters"}, nil
	case "physdev":
		m := physdevMatch{}
		switch option {
		case "--physdev-in":
			m.in = arg
		case "--physdev-out":
			m.out = arg
		case "--physdev-is-in":
			m.isIn = true
		case "--physdev-is-out":
			m.isOut = true
		case "--physdev-is-bridged":
		default:
			return unknown{"-m physdev " + option}, nil
		}
		return m, nil
	case "ipvs":
		if option == "--ipvs" {
			return ipvsMatch{}, nil
		}
		return ipvsOpt{option: option, arg: arg}, nil
	case "rpfilter":
		return rpfilterOpt{option: option}, nil
	case "iprange":
		lo, hi, _ := strings.Cut(arg, "-")
		a, err1 := netip.ParseAddr(lo)
		b, err2 := netip.ParseAddr(hi)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("range %q", arg)
		}
		return iprangeMatch{dst: option == "--dst-range", lo: a, hi: b}, nil
	case "pkttype":
		return pktTypeMatch{arg}, nil
	case "length":
		lo, hi, isRange := strings.Cut(arg, ":")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, fmt.Errorf("length %q", arg)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				return nil, fmt.Errorf("length %q", arg)
			}
		}
		return lengthMatch{a, b}, nil
	case "u32":
		if option == "--u32" {
			m, err := parseU32(arg)
			return m, err
		}
	case "socket":
		return socketOpt{option: option}, nil
	case "recent", "limit", "connlimit", "hashlimit", "quota", "connbytes", "time":
		return unknown{"-m " + module + " depends on state a snapshot does not hold (both outcomes explored)"}, nil
	}
	return unknown{fmt.Sprintf("netsim cannot evaluate -m %s %s", module, option)}, nil
}

// multiport takes its protocol from the packet: the rule's -p has already matched it.
type multiport struct{ portMatch }

func (m multiport) eval(env Env, p *packet.Packet) (Tri, string) {
	if !p.HasPorts() {
		return False, ""
	}
	pm := m.portMatch
	pm.proto = p.Proto
	return pm.eval(env, p)
}

// addrTypeLimit marks an addrtype match as limited to the in or out interface; it is
// folded into the module's other conditions when the rule is finished (finishRule).
type addrTypeLimit struct{ out bool }

func (addrTypeLimit) eval(Env, *packet.Packet) (Tri, string) { return True, "" }

// setFlag modifies the preceding --match-set (folded by finishRule).
type setFlag struct{ returnNomatch bool }

func (setFlag) eval(Env, *packet.Packet) (Tri, string) { return True, "" }

// statisticOpt collects -m statistic's options (folded by finishRule).
type statisticOpt struct{ option, arg string }

func (statisticOpt) eval(Env, *packet.Packet) (Tri, string) { return True, "" }

// rpfilterOpt collects -m rpfilter's options (folded by finishRule).
type rpfilterOpt struct{ option string }

func (rpfilterOpt) eval(Env, *packet.Packet) (Tri, string) { return True, "" }

// socketOpt collects -m socket's options (folded by finishConds).
type socketOpt struct{ option string }

func (socketOpt) eval(Env, *packet.Packet) (Tri, string) { return True, "" }
