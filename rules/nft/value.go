package nft

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// dtype is an nftables datatype, as a set's "type" or an expression's result names it.
type dtype uint8

const (
	tUnknown dtype = iota
	tIPv4
	tIPv6
	tProto     // inet_proto
	tPort      // inet_service
	tMark      // mark, and plain integers
	tIfname    // ifname, iface_index (printed as names)
	tCtState   // bitmask
	tCtStatus  // bitmask
	tCtDir     // original, reply
	tNfProto   // ipv4, ipv6
	tFibType   // fib_addrtype
	tICMPType  // icmp_type
	tICMPCode  // icmp_code
	tICMP6Type // icmpv6_type
	tICMP6Code // icmpv6_code
	tTCPFlag   // bitmask
	tBool      // boolean (fib ... missing/exists)
	tEtherType // ether_type
	tPktType   // pkt_type
	tInteger   // integer, and anything numeric without names
)

var dtypeNames = map[string]dtype{
	"ipv4_addr": tIPv4, "ipv6_addr": tIPv6, "inet_proto": tProto, "inet_service": tPort, "mark": tMark,
	"ifname": tIfname, "iface_index": tIfname, "ct_state": tCtState, "ct_status": tCtStatus, "ct_dir": tCtDir,
	"nf_proto": tNfProto, "fib_addrtype": tFibType, "icmp_type": tICMPType, "icmp_code": tICMPCode,
	"icmpv6_type": tICMP6Type, "icmpv6_code": tICMP6Code, "icmpx_code": tICMPCode, "tcp_flag": tTCPFlag,
	"boolean": tBool, "ether_type": tEtherType, "pkt_type": tPktType, "integer": tInteger,
	"uid": tInteger, "gid": tInteger, "realm": tInteger, "devgroup": tInteger, "dscp": tInteger, "ecn": tInteger,
	"cgroupv2": tInteger, "day": tInteger, "hour": tInteger, "time": tInteger, "ct_label": tInteger,
}

// symbols are the names nft prints for values of the named datatypes.
var symbols = map[dtype]map[string]uint64{
	tProto: {"icmp": 1, "igmp": 2, "ipencap": 4, "tcp": 6, "egp": 8, "udp": 17, "ipv6": 41, "gre": 47, "esp": 50, "ah": 51,
		"icmpv6": 58, "ipv6-icmp": 58, "ospf": 89, "ipip": 94, "pim": 103, "vrrp": 112, "l2tp": 115, "sctp": 132, "udplite": 136},
	tCtState:  {"invalid": 1, "established": 2, "related": 4, "new": 8, "untracked": 64},
	tCtStatus: {"expected": 1, "seen-reply": 2, "assured": 4, "confirmed": 8, "snat": 16, "dnat": 32, "dying": 512},
	tCtDir:    {"original": 0, "reply": 1},
	tNfProto:  {"ipv4": 2, "ipv6": 10},
	tFibType: {"unspec": 0, "unicast": 1, "local": 2, "broadcast": 3, "anycast": 4, "multicast": 5, "blackhole": 6,
		"unreachable": 7, "prohibit": 8},
	tICMPType: {"echo-reply": 0, "destination-unreachable": 3, "source-quench": 4, "redirect": 5, "echo-request": 8,
		"router-advertisement": 9, "router-solicitation": 10, "time-exceeded": 11, "parameter-problem": 12,
		"timestamp-request": 13, "timestamp-reply": 14, "info-request": 15, "info-reply": 16,
		"address-mask-request": 17, "address-mask-reply": 18},
	tICMPCode: {"net-unreachable": 0, "host-unreachable": 1, "prot-unreachable": 2, "port-unreachable": 3,
		"frag-needed": 4, "net-prohibited": 9, "host-prohibited": 10, "admin-prohibited": 13},
	tICMP6Type: {"destination-unreachable": 1, "packet-too-big": 2, "time-exceeded": 3, "parameter-problem": 4,
		"echo-request": 128, "echo-reply": 129, "mld-listener-query": 130, "mld-listener-report": 131,
		"mld-listener-done": 132, "nd-router-solicit": 133, "nd-router-advert": 134, "nd-neighbor-solicit": 135,
		"nd-neighbor-advert": 136, "nd-redirect": 137, "mld2-listener-report": 143},
	tICMP6Code: {"no-route": 0, "admin-prohibited": 1, "addr-unreachable": 3, "port-unreachable": 4,
		"policy-fail": 5, "reject-route": 6},
	tTCPFlag:   {"fin": 1, "syn": 2, "rst": 4, "psh": 8, "ack": 16, "urg": 32, "ecn": 64, "cwr": 128},
	tBool:      {"false": 0, "true": 1, "missing": 0, "exists": 1},
	tEtherType: {"ip": 0x0800, "arp": 0x0806, "ip6": 0x86dd, "vlan": 0x8100, "8021q": 0x8100, "8021ad": 0x88a8},
	tPktType:   {"host": 0, "unicast": 0, "broadcast": 1, "multicast": 2, "other": 3},
}

// bitmask types match with "in" (any bit) and print as comma lists.
func (t dtype) bitmask() bool { return t == tCtState || t == tCtStatus || t == tTCPFlag }

// vkind is what a Value holds.
type vkind uint8

const (
	vNum vkind = iota
	vAddr
	vStr
)

// Value is one datum: a number (ports, protocols, marks, enums, bitmasks), an address,
// or a string (interface names; a trailing * is a wildcard in a pattern).
type Value struct {
	Kind vkind
	Num  uint64
	Addr netip.Addr
	Str  string
}

func num(n uint64) Value      { return Value{Num: n} }
func addr(a netip.Addr) Value { return Value{Kind: vAddr, Addr: a.Unmap()} }
func str(s string) Value      { return Value{Kind: vStr, Str: s} }
func (v Value) String() string {
	switch v.Kind {
	case vAddr:
		return v.Addr.String()
	case vStr:
		return strconv.Quote(v.Str)
	}
	return strconv.FormatUint(v.Num, 10)
}

// cmp orders two values of one kind.
func cmp(a, b Value) int {
	switch a.Kind {
	case vAddr:
		return a.Addr.Compare(b.Addr)
	case vStr:
		return strings.Compare(a.Str, b.Str)
	}
	switch {
	case a.Num < b.Num:
		return -1
	case a.Num > b.Num:
		return 1
	}
	return 0
}

// eq compares a packet's value with a pattern's, honouring interface wildcards.
func eq(x, pat Value) bool {
	if x.Kind != pat.Kind {
		return false
	}
	if pat.Kind == vStr && strings.HasSuffix(pat.Str, "*") && !strings.HasSuffix(pat.Str, `\*`) {
		return strings.HasPrefix(x.Str, strings.TrimSuffix(pat.Str, "*"))
	}
	return cmp(x, pat) == 0
}

// appendKey encodes a value for exact-key lookups.
func appendKey(b []byte, v Value) []byte {
	switch v.Kind {
	case vAddr:
		a := v.Addr.As16()
		b = append(b, 'a')
		return append(b, a[:]...)
	case vStr:
		b = append(b, 's')
		b = append(b, v.Str...)
		return append(b, 0)
	}
	b = append(b, 'n')
	return binary.BigEndian.AppendUint64(b, v.Num)
}

// parseScalar decodes one JSON scalar (string, number, bool) as a value of type t.
func parseScalar(x jv, t dtype) (Value, error) {
	switch x.k {
	case 'n':
		n, err := strconv.ParseUint(x.s, 10, 64)
		if err != nil {
			f, ferr := strconv.ParseFloat(x.s, 64)
			if ferr != nil || f < 0 || f != float64(uint64(f)) {
				return Value{}, fmt.Errorf("%s is not a non-negative integer", x.s)
			}
			n = uint64(f)
		}
		if t == tIfname {
			return str(strconv.FormatUint(n, 10)), nil
		}
		return num(n), nil
	case 't':
		return num(1), nil
	case 'f':
		return num(0), nil
	case 's':
		return parseString(x.s, t)
	}
	return Value{}, fmt.Errorf("want a value, got %s", describe(x))
}

func parseString(s string, t dtype) (Value, error) {
	switch t {
	case tIPv4, tIPv6:
		a, err := netip.ParseAddr(s)
		if err != nil {
			return Value{}, fmt.Errorf("%q is not an address", s)
		}
		return addr(a), nil
	case tIfname:
		return str(s), nil
	}
	if names := symbols[t]; names != nil {
		if n, ok := names[s]; ok {
			return num(n), nil
		}
	}
	if t == tUnknown {
		if a, err := netip.ParseAddr(s); err == nil {
			return addr(a), nil
		}
		for _, names := range symbols {
			if n, ok := names[s]; ok {
				return num(n), nil
			}
		}
	}
	if n, err := strconv.ParseUint(s, 0, 64); err == nil {
		return num(n), nil
	}
	if t == tUnknown || t == tInteger {
		return str(s), nil
	}
	return Value{}, fmt.Errorf("%q is not a value of this type", s)
}

func describe(x jv) string {
	switch x.k {
	case 0:
		return "nothing"
	case 'z':
		return "null"
	case 'o':
		if len(x.els) > 0 {
			return "an object {" + strconv.Quote(x.els[0].s) + ": ...}"
		}
		return "an empty object"
	case 'a':
		return "an array"
	case 's':
		return "a string"
	case 'n':
		return "a number"
	}
	return "a boolean"
}

var dtypeTitles = [...]string{tUnknown: "", tIPv4: "ipv4_addr", tIPv6: "ipv6_addr", tProto: "inet_proto", tPort: "inet_service",
	tMark: "mark", tIfname: "ifname", tCtState: "ct_state", tCtStatus: "ct_status", tCtDir: "ct_dir", tNfProto: "nf_proto",
	tFibType: "fib_addrtype", tICMPType: "icmp_type", tICMPCode: "icmp_code", tICMP6Type: "icmpv6_type", tICMP6Code: "icmpv6_code",
	tTCPFlag: "tcp_flag", tBool: "boolean", tEtherType: "ether_type", tPktType: "pkt_type", tInteger: "integer"}

func (t dtype) String() string { return dtypeTitles[t] }
