package iproute

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/netsim/netsim/model/source"
)

// Route is one entry of a routing table.
type Route struct {
	// Type is unicast, local, broadcast, multicast, anycast, blackhole, unreachable,
	// prohibit, throw or nat.
	Type     string
	Dst      netip.Prefix // "default" is 0.0.0.0/0 or ::/0
	Table    string       // main, local, default, or the table's number
	Gateway  netip.Addr
	Dev      string
	Protocol string
	Scope    string
	PrefSrc  netip.Addr
	Metric   int
	MTU      int      // the route's mtu metric, 0 when unset
	Flags    []string // onlink, linkdown, dead, pervasive, ...
	NextHops []NextHop
	// NHID names a nexthop object (`ip nexthop`) that holds the route's gateways; they
	// are not in a route dump, so such a route's next hop is unknown from it alone.
	NHID int
	// Extra keeps attributes netsim does not model, so that they can be shown; the
	// routing engine must treat any that could change a decision as unknown.
	Extra []string
	Pos   source.Pos
}

// NextHop is one path of a multipath route.
type NextHop struct {
	Gateway netip.Addr
	Dev     string
	Weight  int
	Flags   []string
}

// IsV6 reports whether the route is an IPv6 route.
func (r *Route) IsV6() bool { return r.Dst.Addr().Is6() }

var routeTypes = map[string]bool{
	"unicast": true, "local": true, "broadcast": true, "multicast": true, "anycast": true,
	"blackhole": true, "unreachable": true, "prohibit": true, "throw": true, "nat": true,
}

// normTable names tables the way `ip` prints them.
func normTable(t string) string {
	switch t {
	case "", "254":
		return "main"
	case "255":
		return "local"
	case "253":
		return "default"
	}
	return t
}

// parseDst turns "default", an address or a prefix into a prefix of the given family
// (4 or 6; 0 = decide from the text, default meaning IPv4).
func parseDst(s string, family int) (netip.Prefix, error) {
	if s == "default" || s == "all" {
		if family == 6 {
			return netip.PrefixFrom(netip.IPv6Unspecified(), 0), nil
		}
		return netip.PrefixFrom(netip.IPv4Unspecified(), 0), nil
	}
	p, err := parsePrefixOrAddr(s)
	if err != nil {
		return p, err
	}
	return p.Masked(), nil
}

type jsonVia struct {
	Family string `json:"family"`
	Host   string `json:"host"`
}

type jsonNextHop struct {
	Gateway string   `json:"gateway"`
	Via     *jsonVia `json:"via"`
	Dev     string   `json:"dev"`
	Weight  int      `json:"weight"`
	Flags   []string `json:"flags"`
}

type jsonRoute struct {
	Type     string            `json:"type"`
	Dst      string            `json:"dst"`
	Gateway  string            `json:"gateway"`
	Via      *jsonVia          `json:"via"`
	Dev      string            `json:"dev"`
	Table    string            `json:"table"`
	Protocol string            `json:"protocol"`
	Scope    string            `json:"scope"`
	PrefSrc  string            `json:"prefsrc"`
	Metric   *int              `json:"metric"`
	Flags    []string          `json:"flags"`
	Metrics  []json.RawMessage `json:"metrics"`
	NHID     int               `json:"nhid"`
	NextHops []jsonNextHop     `json:"nexthops"`
}

// familyOf guesses a route's family from the addresses it names, falling back to hint.
func familyOf(hint int, addrs ...string) int {
	for _, a := range addrs {
		if a == "" || a == "default" || a == "all" {
			continue
		}
		if strings.Contains(a, ":") {
			return 6
		}
		if strings.Contains(a, ".") {
			return 4
		}
	}
	return hint
}

// ParseRoutesJSON decodes `ip -j route show table all` (family 4 or 6 tells what
// "default" means when nothing else in an entry says; 0 means IPv4).
func ParseRoutesJSON(f *source.File, family int) ([]Route, error) {
	var out []Route
	err := eachJSONEntry(f, func(raw json.RawMessage, pos source.Pos) error {
		var j jsonRoute
		if err := unmarshalEntry(raw, pos, &j, "route"); err != nil {
			return err
		}
		if j.Dst == "" {
			return source.Errorf(pos, "route has no dst")
		}
		gw := j.Gateway
		if gw == "" && j.Via != nil {
			gw = j.Via.Host
		}
		fam := familyOf(family, j.Dst, gw, j.PrefSrc)
		for _, nh := range j.NextHops {
			fam = familyOf(fam, nh.Gateway)
		}
		r := Route{Type: j.Type, Dev: j.Dev, Table: normTable(j.Table), Protocol: j.Protocol, Scope: j.Scope, Flags: j.Flags, NHID: j.NHID, Pos: pos}
		if r.Type == "" {
			r.Type = "unicast"
		}
		var err error
		if r.Dst, err = parseDst(j.Dst, fam); err != nil {
			return source.Errorf(pos, "route dst %q: %v", j.Dst, err)
		}
		if gw != "" {
			if r.Gateway, err = netip.ParseAddr(gw); err != nil {
				return source.Errorf(pos, "route gateway %q: %v", gw, err)
			}
		}
		if j.PrefSrc != "" {
			if r.PrefSrc, err = netip.ParseAddr(j.PrefSrc); err != nil {
				return source.Errorf(pos, "route prefsrc %q: %v", j.PrefSrc, err)
			}
		}
		if j.Metric != nil {
			r.Metric = *j.Metric
		}
		for _, m := range j.Metrics {
			var mm map[string]json.RawMessage
			if json.Unmarshal(m, &mm) == nil {
				if v, ok := mm["mtu"]; ok {
					json.Unmarshal(v, &r.MTU)
				}
			}
		}
		for _, nh := range j.NextHops {
			h := NextHop{Dev: nh.Dev, Weight: nh.Weight, Flags: nh.Flags}
			g := nh.Gateway
			if g == "" && nh.Via != nil {
				g = nh.Via.Host
			}
			if g != "" {
				if h.Gateway, err = netip.ParseAddr(g); err != nil {
					return source.Errorf(pos, "nexthop gateway %q: %v", g, err)
				}
			}
			if h.Weight == 0 {
				h.Weight = 1
			}
			r.NextHops = append(r.NextHops, h)
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

// routeFlags are the one-word attributes `ip route` prints.
var routeFlags = map[string]bool{"onlink": true, "linkdown": true, "dead": true, "pervasive": true, "offload": true, "trap": true, "notify": true, "rt_offload": true, "rt_trap": true, "cache": true}

// ParseRoutesText decodes plain `ip route [show table all]` output.
func ParseRoutesText(f *source.File, family int) ([]Route, error) {
	var out []Route
	var err error
	f.Lines(func(n int, text string) bool {
		pos := f.Pos(n)
		fields := strings.Fields(text)
		if len(fields) == 0 {
			return true
		}
		if fields[0] == "nexthop" {
			if len(out) == 0 {
				err = source.Errorf(pos, "nexthop line before any route")
				return false
			}
			var nh NextHop
			nh, err = parseNextHop(fields[1:], pos)
			if err != nil {
				return false
			}
			out[len(out)-1].NextHops = append(out[len(out)-1].NextHops, nh)
			return true
		}
		var r Route
		r, err = parseRouteFields(fields, family, pos)
		if err != nil {
			return false
		}
		out = append(out, r)
		return true
	})
	return out, err
}

func parseNextHop(f []string, pos source.Pos) (NextHop, error) {
	nh := NextHop{Weight: 1}
	for k := 0; k < len(f); k++ {
		switch w := f[k]; {
		case w == "via":
			if k+1 < len(f) && (f[k+1] == "inet" || f[k+1] == "inet6") {
				k++
			}
			if k+1 >= len(f) {
				return nh, source.Errorf(pos, "nexthop: via without an address")
			}
			a, err := netip.ParseAddr(f[k+1])
			if err != nil {
				return nh, source.Errorf(pos, "nexthop via %q: %v", f[k+1], err)
			}
			nh.Gateway = a
			k++
		case w == "dev" && k+1 < len(f):
			nh.Dev = f[k+1]
			k++
		case w == "weight" && k+1 < len(f):
			v, err := strconv.Atoi(f[k+1])
			if err != nil {
				return nh, source.Errorf(pos, "nexthop weight %q is not a number", f[k+1])
			}
			nh.Weight = v
			k++
		case routeFlags[w]:
			nh.Flags = append(nh.Flags, w)
		}
	}
	return nh, nil
}

func parseRouteFields(f []string, family int, pos source.Pos) (Route, error) {
	r := Route{Type: "unicast", Table: "main", Pos: pos}
	k := 0
	if routeTypes[f[0]] {
		r.Type = f[0]
		k++
	}
	if k >= len(f) {
		return r, source.Errorf(pos, "route: no destination after %q", r.Type)
	}
	dst := f[k]
	k++
	// The family must be known before "default" is read: look ahead at the gateway.
	fam := family
	for i := k; i+1 < len(f); i++ {
		if f[i] == "via" || f[i] == "src" {
			fam = familyOf(fam, f[i+1])
		}
	}
	fam = familyOf(fam, dst)
	var err error
	if r.Dst, err = parseDst(dst, fam); err != nil {
		return r, source.Errorf(pos, "route destination %q: %v", dst, err)
	}
	arg := func(what string) (string, error) {
		if k+1 >= len(f) {
			return "", source.Errorf(pos, "route %s: %s without a value", dst, what)
		}
		k++
		return f[k], nil
	}
	for ; k < len(f); k++ {
		w := f[k]
		switch {
		case w == "via":
			if k+1 < len(f) && (f[k+1] == "inet" || f[k+1] == "inet6") {
				k++
			}
			v, err := arg("via")
			if err != nil {
				return r, err
			}
			if r.Gateway, err = netip.ParseAddr(v); err != nil {
				return r, source.Errorf(pos, "route %s: via %q: %v", dst, v, err)
			}
		case w == "src":
			v, err := arg("src")
			if err != nil {
				return r, err
			}
			if r.PrefSrc, err = netip.ParseAddr(v); err != nil {
				return r, source.Errorf(pos, "route %s: src %q: %v", dst, v, err)
			}
		case w == "dev" || w == "table" || w == "proto" || w == "scope":
			v, err := arg(w)
			if err != nil {
				return r, err
			}
			switch w {
			case "dev":
				r.Dev = v
			case "table":
				r.Table = normTable(v)
			case "proto":
				r.Protocol = v
			case "scope":
				r.Scope = v
			}
		case w == "metric" || w == "mtu":
			v, err := arg(w)
			if err != nil {
				return r, err
			}
			if v == "lock" {
				if v, err = arg(w); err != nil {
					return r, err
				}
			}
			num, err := strconv.Atoi(v)
			if err != nil {
				return r, source.Errorf(pos, "route %s: %s %q is not a number", dst, w, v)
			}
			if w == "metric" {
				r.Metric = num
			} else {
				r.MTU = num
			}
		case routeFlags[w]:
			r.Flags = append(r.Flags, w)
		case w == "nhid":
			v, err := arg(w)
			if err != nil {
				return r, err
			}
			if r.NHID, err = strconv.Atoi(v); err != nil {
				return r, source.Errorf(pos, "route %s: nhid %q is not a number", dst, v)
			}
		case w == "pref" || w == "expires" || w == "advmss" || w == "hoplimit" || w == "initcwnd" || w == "initrwnd" || w == "realm" || w == "rtt" || w == "rttvar" || w == "error" || w == "window" || w == "features" || w == "quickack" || w == "congctl" || w == "fastopen_no_cookie" || w == "tos" || w == "ssthresh" || w == "cwnd" || w == "reordering" || w == "rto_min":
			v, _ := arg(w)
			r.Extra = append(r.Extra, w+" "+v)
		default:
			r.Extra = append(r.Extra, w)
		}
	}
	return r, nil
}

// String renders the route like `ip route`.
func (r *Route) String() string {
	var b strings.Builder
	if r.Type != "unicast" && r.Type != "" {
		b.WriteString(r.Type + " ")
	}
	if r.Dst.Bits() == 0 {
		b.WriteString("default")
	} else if r.Dst.Bits() == r.Dst.Addr().BitLen() {
		b.WriteString(r.Dst.Addr().String())
	} else {
		b.WriteString(r.Dst.String())
	}
	if r.Gateway.IsValid() {
		b.WriteString(" via " + r.Gateway.String())
	}
	if r.Dev != "" {
		b.WriteString(" dev " + r.Dev)
	}
	if r.Table != "main" && r.Table != "" {
		b.WriteString(" table " + r.Table)
	}
	if r.Protocol != "" {
		b.WriteString(" proto " + r.Protocol)
	}
	if r.Scope != "" {
		b.WriteString(" scope " + r.Scope)
	}
	if r.PrefSrc.IsValid() {
		b.WriteString(" src " + r.PrefSrc.String())
	}
	if r.Metric != 0 {
		fmt.Fprintf(&b, " metric %d", r.Metric)
	}
	if r.MTU != 0 {
		fmt.Fprintf(&b, " mtu %d", r.MTU)
	}
	if r.NHID != 0 {
		fmt.Fprintf(&b, " nhid %d", r.NHID)
	}
	for _, fl := range r.Flags {
		b.WriteString(" " + fl)
	}
	for _, nh := range r.NextHops {
		b.WriteString(" nexthop")
		if nh.Gateway.IsValid() {
			b.WriteString(" via " + nh.Gateway.String())
		}
		if nh.Dev != "" {
			b.WriteString(" dev " + nh.Dev)
		}
		fmt.Fprintf(&b, " weight %d", nh.Weight)
	}
	return b.String()
}
