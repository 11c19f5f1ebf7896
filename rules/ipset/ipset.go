// Package ipset reads `ipset save` output and answers the lookups iptables' -m set makes,
// with the kernel's semantics: the most specific net entry wins, nomatch entries exclude,
// list:set sets match if a member does.
package ipset

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/netsim/netsim/model/source"
	"github.com/netsim/netsim/rules/packet"
)

// Set is one ipset.
type Set struct {
	Name    string
	Type    string   // hash:ip, hash:net,port, list:set, ...
	Dims    []string // per dimension: ip, net, port, iface, set, mac
	IPv6    bool
	Pos     source.Pos
	Entries []Entry
	// Members of a list:set, in order.
	Members []string
	// ipNetmask is hash:ip's netmask option (0 = host).
	netmask int
	// exact indexes a hash:ip or hash:ip,port set whose every entry is one address (and
	// one TCP/UDP/SCTP port) without nomatch: membership is then a map lookup, as in the
	// kernel's hash, instead of a scan (kube-proxy's ipvs mode keeps one entry per Service
	// in KUBE-CLUSTER-IP and KUBE-IPVS-IPS). nil when the set does not qualify.
	exact map[exactKey]struct{}
}

type exactKey struct {
	addr  netip.Addr
	proto uint8
	port  uint16
}

// buildExact fills exact when every entry qualifies.
func (set *Set) buildExact() {
	if (set.Type != "hash:ip" && set.Type != "hash:ip,port") || set.netmask != 0 || len(set.Entries) < 16 {
		return
	}
	withPort := set.Type == "hash:ip,port"
	idx := make(map[exactKey]struct{}, len(set.Entries))
	for _, e := range set.Entries {
		if e.NoMatch || len(e.Nets) != 1 || e.Nets[0].Bits() != e.Nets[0].Addr().BitLen() {
			return
		}
		k := exactKey{addr: e.Nets[0].Addr()}
		if withPort {
			if !e.HasPort || e.PortLo != e.PortHi || (e.Proto != packet.TCP && e.Proto != packet.UDP && e.Proto != packet.SCTP) {
				return
			}
			k.proto, k.port = e.Proto, e.PortLo
		}
		idx[k] = struct{}{}
	}
	set.exact = idx
}

// Entry is one add line.
type Entry struct {
	Nets    []netip.Prefix // for ip/net dimensions, in order
	Proto   uint8
	PortLo  uint16
	PortHi  uint16
	HasPort bool
	Iface   string
	NoMatch bool
	Pos     source.Pos
	Text    string
}

// Sets is a namespace's ipsets by name.
type Sets struct {
	ByName map[string]*Set
	File   *source.File
}

var supported = map[string][]string{
	"hash:ip": {"ip"}, "hash:net": {"net"}, "hash:ip,port": {"ip", "port"}, "hash:ip,port,ip": {"ip", "port", "ip"},
	"hash:ip,port,net": {"ip", "port", "net"}, "hash:net,port": {"net", "port"}, "hash:net,iface": {"net", "iface"},
	"hash:net,net": {"net", "net"}, "hash:net,port,net": {"net", "port", "net"}, "bitmap:port": {"port"}, "bitmap:ip": {"ip"},
	"list:set": {"set"}, "hash:ip,mark": {"ip", "mark"}, "hash:mac": {"mac"}, "hash:ip,mac": {"ip", "mac"}, "bitmap:ip,mac": {"ip", "mac"},
}

// Parse reads `ipset save` (or `ipset list -o save`) output.
func Parse(f *source.File) (*Sets, error) {
	s := &Sets{ByName: map[string]*Set{}, File: f}
	var err error
	f.Lines(func(n int, text string) bool {
		pos := f.Pos(n)
		fields := strings.Fields(text)
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			return true
		}
		switch fields[0] {
		case "create", "-N", "-exist":
			if len(fields) < 3 {
				err = source.Errorf(pos, "create wants a name and a type")
				return false
			}
			dims, ok := supported[fields[2]]
			if !ok {
				err = source.Errorf(pos, "set %s: type %q is not one ipset has", fields[1], fields[2])
				return false
			}
			set := &Set{Name: fields[1], Type: fields[2], Dims: dims, Pos: pos}
			for k := 3; k+1 < len(fields); k++ {
				switch fields[k] {
				case "family":
					set.IPv6 = fields[k+1] == "inet6"
					k++
				case "netmask":
					set.netmask, _ = strconv.Atoi(fields[k+1])
					k++
				}
			}
			if _, dup := s.ByName[set.Name]; dup {
				err = source.Errorf(pos, "set %s is created twice", set.Name)
				return false
			}
			s.ByName[set.Name] = set
		case "add", "-A":
			if len(fields) < 3 {
				err = source.Errorf(pos, "add wants a set and an element")
				return false
			}
			set := s.ByName[fields[1]]
			if set == nil {
				err = source.Errorf(pos, "add to set %s before it is created", fields[1])
				return false
			}
			if set.Type == "list:set" {
				set.Members = append(set.Members, fields[2])
				return true
			}
			e, perr := parseEntry(set, fields[2], pos)
			if perr != nil {
				err = source.Errorf(pos, "set %s: element %q: %v", set.Name, fields[2], perr)
				return false
			}
			for _, opt := range fields[3:] {
				if opt == "nomatch" {
					e.NoMatch = true
				}
			}
			e.Text = text
			set.Entries = append(set.Entries, e)
		default:
			err = source.Errorf(pos, "want create or add (ipset save output), found %q", fields[0])
			return false
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	for _, set := range s.ByName {
		for _, m := range set.Members {
			if s.ByName[m] == nil {
				return nil, source.Errorf(set.Pos, "list:set %s names set %s, which does not exist", set.Name, m)
			}
		}
		// The most specific net entries first, so the first hit is the kernel's.
		sort.SliceStable(set.Entries, func(i, j int) bool { return specificity(set.Entries[i]) > specificity(set.Entries[j]) })
		set.buildExact()
	}
	return s, nil
}

func specificity(e Entry) int {
	n := 0
	for _, p := range e.Nets {
		n += p.Bits()
	}
	return n
}

var protoByName = map[string]uint8{"tcp": packet.TCP, "udp": packet.UDP, "sctp": packet.SCTP, "icmp": packet.ICMP, "icmpv6": packet.ICMPv6, "udplite": 136}

func parseEntry(set *Set, elem string, pos source.Pos) (Entry, error) {
	e := Entry{Pos: pos}
	parts := strings.Split(elem, ",")
	if len(parts) != len(set.Dims) {
		return e, fmt.Errorf("want %d parts for %s", len(set.Dims), set.Type)
	}
	for i, dim := range set.Dims {
		part := parts[i]
		switch dim {
		case "ip", "net":
			var p netip.Prefix
			var err error
			if strings.Contains(part, "/") {
				p, err = netip.ParsePrefix(part)
				p = p.Masked()
			} else if strings.Contains(part, "-") && set.Type == "bitmap:ip" {
				return e, fmt.Errorf("ranges in bitmap:ip are not supported")
			} else {
				var a netip.Addr
				a, err = netip.ParseAddr(part)
				if err == nil {
					bits := a.BitLen()
					if dim == "ip" && set.netmask > 0 {
						bits = set.netmask
					}
					p, err = a.Prefix(bits)
				}
			}
			if err != nil {
				return e, err
			}
			e.Nets = append(e.Nets, p)
		case "port":
			proto, port, hasProto := strings.Cut(part, ":")
			if !hasProto {
				proto, port = "tcp", part
			}
			pn, ok := protoByName[proto]
			if !ok {
				n, err := strconv.Atoi(proto)
				if err != nil {
					return e, fmt.Errorf("protocol %q", proto)
				}
				pn = uint8(n)
			}
			e.Proto = pn
			lo, hi, isRange := strings.Cut(port, "-")
			a, err := strconv.ParseUint(lo, 10, 16)
			if err != nil && pn != packet.ICMP && pn != packet.ICMPv6 {
				return e, fmt.Errorf("port %q", port)
			}
			b := a
			if isRange {
				if b, err = strconv.ParseUint(hi, 10, 16); err != nil {
					return e, fmt.Errorf("port %q", port)
				}
			}
			e.PortLo, e.PortHi, e.HasPort = uint16(a), uint16(b), true
		case "iface":
			e.Iface = strings.TrimPrefix(part, "physdev:")
		}
	}
	return e, nil
}

// Tri is a lookup's outcome.
type Tri uint8

// Outcomes.
const (
	No Tri = iota
	Yes
	Maybe
)

// Match looks a packet up in a set by the -m set directions (src/dst per dimension).
func (s *Sets) Match(name string, p *packet.Packet, dirs []string, returnNomatch bool) (Tri, string) {
	set := s.ByName[name]
	if set == nil {
		return Maybe, "ipset " + name + " is not in the dump"
	}
	return s.match(set, p, dirs, returnNomatch, 0)
}

func (s *Sets) match(set *Set, p *packet.Packet, dirs []string, returnNomatch bool, depth int) (Tri, string) {
	if set.Type == "list:set" {
		if depth > 4 {
			return Maybe, "list:set nesting too deep"
		}
		for _, m := range set.Members {
			t, why := s.match(s.ByName[m], p, dirs, returnNomatch, depth+1)
			if t != No {
				return t, why
			}
		}
		return No, ""
	}
	if set.IPv6 != p.Is6() {
		return No, "" // the kernel skips sets of the other family
	}
	if len(dirs) < len(set.Dims) {
		// Fewer directions than dimensions: the kernel reuses the last direction.
		for len(dirs) < len(set.Dims) {
			dirs = append(dirs, dirs[len(dirs)-1])
		}
	}
	for _, d := range set.Dims {
		if d == "mac" || d == "mark" {
			return Maybe, "ipset " + set.Name + " (" + set.Type + ") matches on data netsim does not model"
		}
	}
	if set.exact != nil {
		// No entry has nomatch: found is a hit, or, with --return-nomatch, not one.
		k := exactKey{addr: p.Dst}
		if dirs[0] == "src" {
			k.addr = p.Src
		}
		if len(set.Dims) == 2 {
			k.proto, k.port = p.Proto, p.DPort
			if dirs[1] == "src" {
				k.port = p.SPort
			}
		}
		if _, ok := set.exact[k]; ok && !returnNomatch {
			return Yes, ""
		}
		return No, ""
	}
	for _, e := range set.Entries {
		if entryMatches(set, e, p, dirs) {
			hit := !e.NoMatch
			if returnNomatch {
				hit = e.NoMatch
			}
			if hit {
				return Yes, ""
			}
			return No, ""
		}
	}
	return No, ""
}

func entryMatches(set *Set, e Entry, p *packet.Packet, dirs []string) bool {
	ni := 0
	for i, dim := range set.Dims {
		src := dirs[i] == "src"
		switch dim {
		case "ip", "net":
			a := p.Dst
			if src {
				a = p.Src
			}
			if !e.Nets[ni].Contains(a) {
				return false
			}
			ni++
		case "port":
			if e.Proto != p.Proto {
				return false
			}
			if p.Proto == packet.ICMP || p.Proto == packet.ICMPv6 {
				continue
			}
			port := p.DPort
			if src {
				port = p.SPort
			}
			if port < e.PortLo || port > e.PortHi {
				return false
			}
		case "iface":
			name := p.OutIface
			if src {
				name = p.InIface
			}
			if name != e.Iface {
				return false
			}
		}
	}
	return true
}
