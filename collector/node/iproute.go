package node

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// ipRoute is one entry of `ip -j route show table all`.
type ipRoute struct {
	Type     string           `json:"type,omitempty"`
	Dst      string           `json:"dst"`
	Gateway  string           `json:"gateway,omitempty"`
	Via      *ipVia           `json:"via,omitempty"`
	Dev      string           `json:"dev,omitempty"`
	Table    string           `json:"table,omitempty"`
	Protocol string           `json:"protocol,omitempty"`
	Scope    string           `json:"scope,omitempty"`
	PrefSrc  string           `json:"prefsrc,omitempty"`
	Metric   *int             `json:"metric,omitempty"`
	Flags    []string         `json:"flags"`
	Metrics  []map[string]int `json:"metrics,omitempty"`
	NextHops []ipNextHop      `json:"nexthops,omitempty"`
}

type ipVia struct {
	Family string `json:"family"`
	Host   string `json:"host"`
}

type ipNextHop struct {
	Gateway string   `json:"gateway,omitempty"`
	Via     *ipVia   `json:"via,omitempty"`
	Dev     string   `json:"dev,omitempty"`
	Weight  int      `json:"weight"`
	Flags   []string `json:"flags"`
}

// routeTypeNames are RTN_* as ip prints them.
var routeTypeNames = []string{"none", "unicast", "local", "broadcast", "anycast", "multicast", "blackhole",
	"unreachable", "prohibit", "throw", "nat", "xresolve"}

func routeType(t int) string {
	if t >= 0 && t < len(routeTypeNames) {
		return routeTypeNames[t]
	}
	return strconv.Itoa(t)
}

// tableName is rtnl_rttable_n2a without /etc/iproute2/rt_tables.
func tableName(t int) string {
	switch t {
	case unix.RT_TABLE_MAIN:
		return "main"
	case unix.RT_TABLE_LOCAL:
		return "local"
	case unix.RT_TABLE_DEFAULT:
		return "default"
	case 0:
		return "unspec"
	}
	return strconv.Itoa(t)
}

// protoNames are rtnl_rtprot_n2a's names.
var protoNames = map[int]string{0: "unspec", 1: "redirect", 2: "kernel", 3: "boot", 4: "static", 8: "gated", 9: "ra",
	10: "mrt", 11: "zebra", 12: "bird", 13: "dnrouted", 14: "xorp", 15: "ntk", 16: "dhcp", 17: "mrouted",
	18: "keepalived", 42: "babel", 99: "openr", 186: "bgp", 187: "isis", 188: "ospf", 189: "rip", 192: "eigrp"}

func protoName(p int) string {
	if n, ok := protoNames[p]; ok {
		return n
	}
	return strconv.Itoa(p)
}

// routeFlagNames are RTNH_F_* and RTM_F_* in the order ip prints them.
var routeFlagNames = []struct {
	bit  int
	name string
}{
	{unix.RTNH_F_DEAD, "dead"}, {unix.RTNH_F_ONLINK, "onlink"}, {unix.RTNH_F_PERVASIVE, "pervasive"},
	{unix.RTNH_F_OFFLOAD, "offload"}, {0x40, "trap"}, {unix.RTM_F_NOTIFY, "notify"},
	{unix.RTNH_F_LINKDOWN, "linkdown"}, {unix.RTNH_F_UNRESOLVED, "unresolved"},
	{0x2000, "rt_offload"}, {0x4000, "rt_trap"}, {0x8000, "rt_offload_failed"},
}

func routeFlags(f int) []string {
	out := []string{}
	for _, n := range routeFlagNames {
		if f&n.bit != 0 {
			out = append(out, n.name)
		}
	}
	return out
}

func familyName(ip net.IP) string {
	if ip.To4() != nil {
		return "inet"
	}
	return "inet6"
}

// ipRouteJSON renders one route as `ip -j route show table all` does.
func ipRouteJSON(r netlink.Route, names map[int]string) ipRoute {
	j := ipRoute{Flags: routeFlags(r.Flags)}
	if r.Type != unix.RTN_UNICAST {
		j.Type = routeType(r.Type)
	}
	v6 := r.Family == unix.AF_INET6
	switch {
	case r.Dst == nil:
		j.Dst = "default"
	default:
		ones, bits := r.Dst.Mask.Size()
		switch {
		case ones == 0 && bits != 0 && r.Dst.IP.IsUnspecified():
			j.Dst = "default"
		case ones == bits:
			j.Dst = r.Dst.IP.String()
		default:
			j.Dst = r.Dst.String()
		}
	}
	if r.Gw != nil {
		j.Gateway = r.Gw.String()
	}
	if v, ok := r.Via.(*netlink.Via); ok && v != nil && v.Addr != nil {
		j.Via = &ipVia{Family: familyName(v.Addr), Host: v.Addr.String()}
	}
	if r.LinkIndex != 0 {
		j.Dev = devName(names, r.LinkIndex)
	}
	if r.Table != unix.RT_TABLE_MAIN {
		j.Table = tableName(r.Table)
	}
	if r.Protocol != unix.RTPROT_BOOT {
		j.Protocol = protoName(int(r.Protocol))
	}
	if r.Scope != netlink.SCOPE_UNIVERSE {
		j.Scope = scopeName(uint8(r.Scope))
	}
	if r.Src != nil {
		j.PrefSrc = r.Src.String()
	}
	// The kernel sends RTA_PRIORITY for every IPv6 route, for IPv4 only when set.
	if v6 || r.Priority != 0 {
		m := r.Priority
		j.Metric = &m
	}
	metrics := map[string]int{}
	for k, v := range map[string]int{"mtu": r.MTU, "window": r.Window, "rtt": r.Rtt, "rttvar": r.RttVar, "ssthresh": r.Ssthresh,
		"cwnd": r.Cwnd, "advmss": r.AdvMSS, "reordering": r.Reordering, "hoplimit": r.Hoplimit, "initcwnd": r.InitCwnd,
		"features": r.Features, "rto_min": r.RtoMin, "initrwnd": r.InitRwnd, "quickack": r.QuickACK} {
		if v != 0 {
			metrics[k] = v
		}
	}
	if len(metrics) > 0 {
		j.Metrics = []map[string]int{metrics}
	}
	for _, nh := range r.MultiPath {
		h := ipNextHop{Weight: nh.Hops + 1, Flags: routeFlags(nh.Flags)}
		if nh.Gw != nil {
			h.Gateway = nh.Gw.String()
		}
		if v, ok := nh.Via.(*netlink.Via); ok && v != nil && v.Addr != nil {
			h.Via = &ipVia{Family: familyName(v.Addr), Host: v.Addr.String()}
		}
		if nh.LinkIndex != 0 {
			h.Dev = devName(names, nh.LinkIndex)
		}
		j.NextHops = append(j.NextHops, h)
	}
	return j
}

func devName(names map[int]string, idx int) string {
	if n, ok := names[idx]; ok {
		return n
	}
	return fmt.Sprintf("if%d", idx)
}

// linkNames maps ifindex to name in the calling thread's namespace.
func linkNames() (map[int]string, error) {
	links, err := dumpLinks()
	if err != nil {
		return nil, err
	}
	names := map[int]string{}
	for _, l := range links {
		names[l.link.Attrs().Index] = l.link.Attrs().Name
	}
	return names, nil
}

// collectRoutes returns `ip -j route show table all` for the calling thread's namespace.
func collectRoutes(names map[int]string) ([]byte, error) {
	var routes []netlink.Route
	err := retryDump(func() error {
		var err error
		routes, err = netlink.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
		return err
	})
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return nil, fmt.Errorf("route dump: %w", err)
	}
	out := make([]ipRoute, 0, len(routes))
	for _, r := range routes {
		out = append(out, ipRouteJSON(r, names))
	}
	return marshalIP(out)
}

// ipRule is one entry of `ip -j rule`.
type ipRule struct {
	Priority          int      `json:"priority"`
	Not               jsonNull `json:"not,omitempty"`
	Src               string   `json:"src"`
	SrcLen            *int     `json:"srclen,omitempty"`
	Dst               string   `json:"dst,omitempty"`
	DstLen            *int     `json:"dstlen,omitempty"`
	TOS               string   `json:"tos,omitempty"`
	FwMark            string   `json:"fwmark,omitempty"`
	FwMask            string   `json:"fwmask,omitempty"`
	IIf               string   `json:"iif,omitempty"`
	OIf               string   `json:"oif,omitempty"`
	L3MDev            jsonNull `json:"l3mdev,omitempty"`
	UIDRange          string   `json:"uidrange,omitempty"`
	IPProto           string   `json:"ipproto,omitempty"`
	SPort             *int     `json:"sport,omitempty"`
	SPortStart        *int     `json:"sport_start,omitempty"`
	SPortEnd          *int     `json:"sport_end,omitempty"`
	DPort             *int     `json:"dport,omitempty"`
	DPortStart        *int     `json:"dport_start,omitempty"`
	DPortEnd          *int     `json:"dport_end,omitempty"`
	Table             string   `json:"table,omitempty"`
	SuppressPrefixLen *int     `json:"suppress_prefixlen,omitempty"`
	SuppressIfGroup   *int     `json:"suppress_ifgroup,omitempty"`
	Action            string   `json:"action,omitempty"`
	Goto              *int     `json:"goto,omitempty"`
	Nop               jsonNull `json:"nop,omitempty"`
}

// fib rule actions (FR_ACT_*).
const (
	frActToTbl = 1
	frActGoto  = 2
	frActNop   = 3
)

// ipProtoNames names the IP protocols `ip rule` prints by name.
var ipProtoNames = map[int]string{1: "icmp", 6: "tcp", 17: "udp", 58: "ipv6-icmp", 132: "sctp"}

// ipRuleJSON renders one RTM_NEWRULE message as `ip -j rule` does. The message is decoded
// here: netlink's Rule drops the action and l3mdev.
func ipRuleJSON(m []byte) (ipRule, error) {
	hdr := nl.DeserializeRtMsg(m) // struct fib_rule_hdr has rtmsg's layout
	attrs, err := nl.ParseRouteAttr(m[hdr.Len():])
	if err != nil {
		return ipRule{}, err
	}
	ne := binary.NativeEndian
	hostLen := 32
	if hdr.Family == unix.AF_INET6 {
		hostLen = 128
	}
	j := ipRule{Not: jsonNull(hdr.Flags&unix.FIB_RULE_INVERT != 0)}
	table := int(hdr.Table)
	var src, dst net.IP
	var hasMark, hasMask bool
	var mark, mask uint32 = 0, 0xffffffff
	for _, a := range attrs {
		v := a.Value
		switch a.Attr.Type {
		case unix.FRA_PRIORITY:
			j.Priority = int(ne.Uint32(v))
		case unix.FRA_SRC:
			src = net.IP(v)
		case unix.FRA_DST:
			dst = net.IP(v)
		case unix.FRA_FWMARK:
			hasMark, mark = true, ne.Uint32(v)
		case unix.FRA_FWMASK:
			hasMask, mask = true, ne.Uint32(v)
		case unix.FRA_IIFNAME:
			j.IIf = cString(v)
		case unix.FRA_OIFNAME:
			j.OIf = cString(v)
		case unix.FRA_TABLE:
			table = int(ne.Uint32(v))
		case unix.FRA_SUPPRESS_PREFIXLEN:
			if n := int32(ne.Uint32(v)); n != -1 {
				x := int(n)
				j.SuppressPrefixLen = &x
			}
		case unix.FRA_SUPPRESS_IFGROUP:
			if n := int32(ne.Uint32(v)); n != -1 {
				x := int(n)
				j.SuppressIfGroup = &x
			}
		case unix.FRA_GOTO:
			g := int(ne.Uint32(v))
			j.Goto = &g
		case unix.FRA_L3MDEV:
			j.L3MDev = len(v) > 0 && v[0] != 0
		case unix.FRA_UID_RANGE:
			if len(v) >= 8 {
				j.UIDRange = fmt.Sprintf("%d-%d", ne.Uint32(v), ne.Uint32(v[4:]))
			}
		case unix.FRA_IP_PROTO:
			if len(v) >= 1 {
				if n, ok := ipProtoNames[int(v[0])]; ok {
					j.IPProto = n
				} else {
					j.IPProto = strconv.Itoa(int(v[0]))
				}
			}
		case unix.FRA_SPORT_RANGE, unix.FRA_DPORT_RANGE:
			if len(v) >= 4 {
				lo, hi := int(ne.Uint16(v)), int(ne.Uint16(v[2:]))
				one, start, end := &j.DPort, &j.DPortStart, &j.DPortEnd
				if a.Attr.Type == unix.FRA_SPORT_RANGE {
					one, start, end = &j.SPort, &j.SPortStart, &j.SPortEnd
				}
				if lo == hi {
					*one = &lo
				} else {
					*start, *end = &lo, &hi
				}
			}
		}
	}
	switch {
	case src != nil:
		j.Src = src.String()
		if int(hdr.Src_len) != hostLen {
			n := int(hdr.Src_len)
			j.SrcLen = &n
		}
	case hdr.Src_len != 0:
		j.Src = "0"
		n := int(hdr.Src_len)
		j.SrcLen = &n
	default:
		j.Src = "all"
	}
	if dst != nil {
		j.Dst = dst.String()
		if int(hdr.Dst_len) != hostLen {
			n := int(hdr.Dst_len)
			j.DstLen = &n
		}
	} else if hdr.Dst_len != 0 {
		j.Dst = "0"
		n := int(hdr.Dst_len)
		j.DstLen = &n
	}
	if hdr.Tos != 0 {
		j.TOS = fmt.Sprintf("%#x", hdr.Tos)
	}
	if hasMark || hasMask {
		j.FwMark = cHex(uint64(mark))
		if mask != 0xffffffff {
			j.FwMask = cHex(uint64(mask))
		}
	}
	if table != 0 && !bool(j.L3MDev) {
		j.Table = tableName(table)
	}
	switch hdr.Type {
	case frActToTbl:
	case frActGoto: // the goto key says it
	case frActNop:
		j.Nop = true
	default:
		j.Action = routeType(int(hdr.Type))
	}
	return j, nil
}

// collectRules returns `ip -j rule` for a family (unix.AF_INET or AF_INET6).
func collectRules(family int) ([]byte, error) {
	var msgs [][]byte
	err := retryDump(func() error {
		req := nl.NewNetlinkRequest(unix.RTM_GETRULE, unix.NLM_F_DUMP)
		req.AddData(nl.NewRtMsg())
		req.Data[0].(*nl.RtMsg).Family = uint8(family)
		var err error
		msgs, err = req.Execute(unix.NETLINK_ROUTE, unix.RTM_NEWRULE)
		return err
	})
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return nil, fmt.Errorf("rule dump: %w", err)
	}
	out := []ipRule{}
	for _, m := range msgs {
		r, err := ipRuleJSON(m)
		if err != nil {
			return nil, fmt.Errorf("rule dump: %w", err)
		}
		out = append(out, r)
	}
	return marshalIP(out)
}

// ipNeigh is one entry of `ip -j neigh`.
type ipNeigh struct {
	Dst    string   `json:"dst"`
	Dev    string   `json:"dev"`
	LLAddr string   `json:"lladdr,omitempty"`
	Router jsonNull `json:"router,omitempty"`
	Proxy  jsonNull `json:"proxy,omitempty"`
	State  []string `json:"state"`
}

// neighStateNames are NUD_* as ip prints them.
var neighStateNames = []struct {
	bit  int
	name string
}{
	{unix.NUD_INCOMPLETE, "INCOMPLETE"}, {unix.NUD_REACHABLE, "REACHABLE"}, {unix.NUD_STALE, "STALE"},
	{unix.NUD_DELAY, "DELAY"}, {unix.NUD_PROBE, "PROBE"}, {unix.NUD_FAILED, "FAILED"},
	{unix.NUD_NOARP, "NOARP"}, {unix.NUD_PERMANENT, "PERMANENT"},
}

// ipNeighJSON renders a neighbour entry; ok is false for entries `ip neigh` hides by
// default (NOARP and NONE states).
func ipNeighJSON(n netlink.Neigh, names map[int]string) (ipNeigh, bool) {
	if n.State&unix.NUD_NOARP != 0 || (n.State == unix.NUD_NONE && n.Flags&unix.NTF_PROXY == 0) {
		return ipNeigh{}, false
	}
	j := ipNeigh{Dst: n.IP.String(), Dev: devName(names, n.LinkIndex), State: []string{},
		Router: jsonNull(n.Flags&unix.NTF_ROUTER != 0), Proxy: jsonNull(n.Flags&unix.NTF_PROXY != 0)}
	if len(n.HardwareAddr) > 0 {
		j.LLAddr = n.HardwareAddr.String()
	}
	for _, s := range neighStateNames {
		if n.State&s.bit != 0 {
			j.State = append(j.State, s.name)
		}
	}
	return j, true
}

// collectNeigh returns `ip -j neigh` (IPv4 and IPv6) for the calling thread's namespace.
func collectNeigh(names map[int]string) ([]byte, error) {
	out := []ipNeigh{}
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		var ns []netlink.Neigh
		err := retryDump(func() error {
			var err error
			ns, err = netlink.NeighList(0, fam)
			return err
		})
		if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
			return nil, fmt.Errorf("neighbour dump: %w", err)
		}
		for _, n := range ns {
			if j, ok := ipNeighJSON(n, names); ok {
				out = append(out, j)
			}
		}
	}
	return marshalIP(out)
}

// bridgeFDB is one entry of `bridge -j fdb show`.
type bridgeFDB struct {
	MAC    string   `json:"mac"`
	IfName string   `json:"ifname,omitempty"`
	Vlan   int      `json:"vlan,omitempty"`
	Dst    string   `json:"dst,omitempty"`
	VNI    int      `json:"vni,omitempty"`
	Flags  []string `json:"flags"`
	Master string   `json:"master,omitempty"`
	State  string   `json:"state"`
}

// fdbFlagNames are NTF_* in the order bridge prints them.
var fdbFlagNames = []struct {
	bit  int
	name string
}{
	{unix.NTF_SELF, "self"}, {unix.NTF_ROUTER, "router"}, {unix.NTF_EXT_LEARNED, "extern_learn"},
	{unix.NTF_OFFLOADED, "offload"}, {unix.NTF_MASTER, "master"}, {0x40, "sticky"},
}

// fdbState is bridge's state_n2a.
func fdbState(s int) string {
	switch {
	case s&unix.NUD_PERMANENT != 0:
		return "permanent"
	case s&unix.NUD_NOARP != 0:
		return "static"
	case s&unix.NUD_STALE != 0:
		return "stale"
	}
	return ""
}

// bridgeFDBJSON renders one AF_BRIDGE neighbour entry as `bridge -j fdb show` does.
func bridgeFDBJSON(n netlink.Neigh, names map[int]string) bridgeFDB {
	j := bridgeFDB{MAC: n.HardwareAddr.String(), Vlan: n.Vlan, VNI: n.VNI, Flags: []string{}, State: fdbState(n.State)}
	if n.LinkIndex != 0 {
		j.IfName = devName(names, n.LinkIndex)
	}
	if n.IP != nil {
		j.Dst = n.IP.String()
	}
	for _, f := range fdbFlagNames {
		if n.Flags&f.bit != 0 {
			j.Flags = append(j.Flags, f.name)
		}
	}
	if n.MasterIndex != 0 {
		j.Master = devName(names, n.MasterIndex)
	}
	return j
}

// collectFDB returns `bridge -j fdb show` for the calling thread's namespace.
func collectFDB(names map[int]string) ([]byte, error) {
	var ns []netlink.Neigh
	err := retryDump(func() error {
		var err error
		ns, err = netlink.NeighList(0, unix.AF_BRIDGE)
		return err
	})
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return nil, fmt.Errorf("fdb dump: %w", err)
	}
	out := make([]bridgeFDB, 0, len(ns))
	for _, n := range ns {
		out = append(out, bridgeFDBJSON(n, names))
	}
	return marshalIP(out)
}
