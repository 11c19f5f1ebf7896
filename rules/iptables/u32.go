package iptables

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/netsim/netsim/rules/packet"
)

// u32 is -m u32 --u32 "TESTS": 32-bit reads from the packet, masked, shifted and
// followed through "@" to a new offset, compared with value ranges. netsim knows the
// header fields a packet value carries; a test that reads a field it does not know
// (IP id, TTL, checksums, TCP sequence numbers, options) is Maybe.
type u32Match struct{ tests []u32Test }

type u32Op struct {
	kind byte // 0: first read at number, '&', '<', '>', '@'
	n    uint32
}

type u32Test struct {
	ops    []u32Op
	ranges [][2]uint32
}

func parseU32(s string) (u32Match, error) {
	var m u32Match
	for _, t := range strings.Split(s, "&&") {
		loc, vals, ok := strings.Cut(strings.TrimSpace(t), "=")
		if !ok {
			return m, fmt.Errorf("u32 test %q has no =", t)
		}
		var test u32Test
		loc = strings.ReplaceAll(loc, " ", "")
		kind := byte(0)
		for loc != "" {
			i := strings.IndexAny(loc, "&<>@")
			tok := loc
			if i >= 0 {
				tok = loc[:i]
			}
			n, err := strconv.ParseUint(tok, 0, 32)
			if err != nil {
				return m, fmt.Errorf("u32 number %q", tok)
			}
			test.ops = append(test.ops, u32Op{kind, uint32(n)})
			if i < 0 {
				break
			}
			switch {
			case strings.HasPrefix(loc[i:], "<<"):
				kind, loc = '<', loc[i+2:]
			case strings.HasPrefix(loc[i:], ">>"):
				kind, loc = '>', loc[i+2:]
			default:
				kind, loc = loc[i], loc[i+1:]
			}
		}
		for _, r := range strings.Split(strings.ReplaceAll(vals, " ", ""), ",") {
			lo, hi, isRange := strings.Cut(r, ":")
			a, err := strconv.ParseUint(lo, 0, 32)
			if err != nil {
				return m, fmt.Errorf("u32 value %q", r)
			}
			b := a
			if isRange {
				if b, err = strconv.ParseUint(hi, 0, 32); err != nil {
					return m, fmt.Errorf("u32 value %q", r)
				}
			}
			test.ranges = append(test.ranges, [2]uint32{uint32(a), uint32(b)})
		}
		m.tests = append(m.tests, test)
	}
	return m, nil
}

// headerBytes lays out the packet's IPv4 header and the start of its transport header,
// with a mask of the bytes netsim knows.
func headerBytes(p *packet.Packet) (data []byte, known []bool) {
	data, known = make([]byte, 48), make([]bool, 48)
	set := func(off int, v byte) { data[off], known[off] = v, true }
	set(0, 0x45) // IPv4, no options
	if p.Len > 0 {
		set(2, byte(p.Len>>8))
		set(3, byte(p.Len))
	}
	set(9, p.Proto)
	s, d := p.Src.As4(), p.Dst.As4()
	for i := 0; i < 4; i++ {
		set(12+i, s[i])
		set(16+i, d[i])
	}
	switch p.Proto {
	case packet.TCP, packet.UDP, packet.SCTP:
		set(20, byte(p.SPort>>8))
		set(21, byte(p.SPort))
		set(22, byte(p.DPort>>8))
		set(23, byte(p.DPort))
		if p.Proto == packet.TCP {
			set(33, p.TCPFlags)
		}
	case packet.ICMP:
		set(20, p.ICMPType)
		set(21, p.ICMPCode)
	}
	return data, known
}

func (m u32Match) eval(_ Env, p *packet.Packet) (Tri, string) {
	if p.Is6() {
		return Maybe, "-m u32 on IPv6 is not modelled"
	}
	data, known := headerBytes(p)
	read := func(off uint32) (val, mask uint32, ok bool) {
		if off+4 > uint32(len(data)) {
			return 0, 0, false
		}
		for i := uint32(0); i < 4; i++ {
			val = val<<8 | uint32(data[off+i])
			mask <<= 8
			if known[off+i] {
				mask |= 0xff
			}
		}
		return val, mask, true
	}
	for _, t := range m.tests {
		var pos, val, mask uint32
		for _, op := range t.ops {
			var ok bool
			switch op.kind {
			case 0:
				if val, mask, ok = read(pos + op.n); !ok {
					return Maybe, "-m u32 reads beyond the headers netsim models"
				}
			case '&':
				val &= op.n
				mask |= ^op.n // bits masked out are known zeros
			case '<':
				val, mask = val<<op.n, mask<<op.n|(1<<op.n-1)
			case '>':
				val, mask = val>>op.n, mask>>op.n|^(^uint32(0)>>op.n)
			case '@':
				if mask != 0xffffffff {
					return Maybe, "-m u32 follows an offset netsim does not know"
				}
				pos += val
				if val, mask, ok = read(pos + op.n); !ok {
					return Maybe, "-m u32 reads beyond the headers netsim models"
				}
			}
		}
		if mask != 0xffffffff {
			return Maybe, "-m u32 tests header bits netsim does not know (IP id, TTL, checksums, TCP sequence numbers or options)"
		}
		in := false
		for _, r := range t.ranges {
			in = in || (val >= r[0] && val <= r[1])
		}
		if !in {
			return False, ""
		}
	}
	return True, ""
}

// socketMatch is -m socket: a local socket would take the packet.
type socketMatch struct{ transparent, nowildcard bool }

// SocketEnv answers -m socket from the namespace's sockets.
type SocketEnv interface {
	// SocketFor reports whether a socket would receive the packet: an established one for
	// its tuple, or a listener on its destination (wildcard-bound listeners only with
	// nowildcard). known is false when the namespace's sockets are not in the dump.
	SocketFor(p *packet.Packet, nowildcard bool) (found, known bool)
}

func (m socketMatch) eval(env Env, p *packet.Packet) (Tri, string) {
	se, ok := env.(SocketEnv)
	if !ok || env == nil {
		return Maybe, "-m socket needs the namespace's sockets"
	}
	found, known := se.SocketFor(p, m.nowildcard)
	switch {
	case !known:
		return Maybe, "-m socket: the dump has no sockets.txt"
	case !found:
		return False, ""
	case m.transparent:
		return Maybe, "-m socket --transparent: ss does not show whether the socket is IP_TRANSPARENT"
	}
	return True, ""
}
