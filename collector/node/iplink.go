package node

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// jsonNull is a key that `ip -j` prints with a null value when a flag is set ("not",
// "router", "proxy"); false leaves the key out.
type jsonNull bool

// MarshalJSON prints null.
func (jsonNull) MarshalJSON() ([]byte, error) { return []byte("null"), nil }

// ipLink is one entry of `ip -d -j addr`, keys in the order ip prints them.
type ipLink struct {
	IfIndex     int             `json:"ifindex"`
	Link        json.RawMessage `json:"link,omitempty"`
	LinkIndex   int             `json:"link_index,omitempty"`
	IfName      string          `json:"ifname"`
	Flags       []string        `json:"flags"`
	MTU         int             `json:"mtu"`
	Qdisc       string          `json:"qdisc,omitempty"`
	Master      string          `json:"master,omitempty"`
	OperState   string          `json:"operstate"`
	Group       string          `json:"group"`
	TxQLen      int             `json:"txqlen"`
	LinkType    string          `json:"link_type"`
	Address     string          `json:"address,omitempty"`
	Broadcast   string          `json:"broadcast,omitempty"`
	LinkNetNSID *int            `json:"link_netnsid,omitempty"`
	Promiscuity int             `json:"promiscuity"`
	Allmulti    int             `json:"allmulti"`
	MinMTU      int             `json:"min_mtu"`
	MaxMTU      int             `json:"max_mtu"`
	LinkInfo    *ipLinkInfo     `json:"linkinfo,omitempty"`
	NumTxQ      int             `json:"num_tx_queues"`
	NumRxQ      int             `json:"num_rx_queues"`
	GSOMaxSize  uint32          `json:"gso_max_size"`
	GSOMaxSegs  uint32          `json:"gso_max_segs"`
	TSOMaxSize  uint32          `json:"tso_max_size"`
	TSOMaxSegs  uint32          `json:"tso_max_segs"`
	GROMaxSize  uint32          `json:"gro_max_size"`
	ParentBus   string          `json:"parentbus,omitempty"`
	ParentDev   string          `json:"parentdev,omitempty"`
	AltNames    []string        `json:"altnames,omitempty"`
	AddrInfo    []ipAddr        `json:"addr_info"`
}

// ipLinkInfo is `ip -d`'s linkinfo object.
type ipLinkInfo struct {
	InfoKind      string         `json:"info_kind,omitempty"`
	InfoData      map[string]any `json:"info_data,omitempty"`
	InfoSlaveKind string         `json:"info_slave_kind,omitempty"`
	InfoSlaveData map[string]any `json:"info_slave_data,omitempty"`
}

// ipAddr is one addr_info entry.
type ipAddr struct {
	Family            string `json:"family"`
	Local             string `json:"local"`
	Address           string `json:"address,omitempty"`
	PrefixLen         int    `json:"prefixlen"`
	Broadcast         string `json:"broadcast,omitempty"`
	Scope             string `json:"scope"`
	Secondary         bool   `json:"secondary,omitempty"`
	Tentative         bool   `json:"tentative,omitempty"`
	Deprecated        bool   `json:"deprecated,omitempty"`
	DadFailed         bool   `json:"dadfailed,omitempty"`
	Home              bool   `json:"home,omitempty"`
	NoDad             bool   `json:"nodad,omitempty"`
	Optimistic        bool   `json:"optimistic,omitempty"`
	NoPrefixRoute     bool   `json:"noprefixroute,omitempty"`
	AutoJoin          bool   `json:"autojoin,omitempty"`
	MngTmpAddr        bool   `json:"mngtmpaddr,omitempty"`
	StablePrivacy     bool   `json:"stable-privacy,omitempty"`
	Dynamic           bool   `json:"dynamic,omitempty"`
	Label             string `json:"label,omitempty"`
	ValidLifeTime     uint32 `json:"valid_life_time"`
	PreferredLifeTime uint32 `json:"preferred_life_time"`
}

// linkFlagNames are the device flags in the order `ip` prints them.
var linkFlagNames = []struct {
	bit  uint32
	name string
}{
	{unix.IFF_LOOPBACK, "LOOPBACK"}, {unix.IFF_BROADCAST, "BROADCAST"}, {unix.IFF_POINTOPOINT, "POINTOPOINT"},
	{unix.IFF_MULTICAST, "MULTICAST"}, {unix.IFF_NOARP, "NOARP"}, {unix.IFF_ALLMULTI, "ALLMULTI"},
	{unix.IFF_PROMISC, "PROMISC"}, {unix.IFF_NOTRAILERS, "NOTRAILERS"}, {unix.IFF_DEBUG, "DEBUG"},
	{unix.IFF_DYNAMIC, "DYNAMIC"}, {unix.IFF_AUTOMEDIA, "AUTOMEDIA"}, {unix.IFF_PORTSEL, "PORTSEL"},
	{unix.IFF_MASTER, "MASTER"}, {unix.IFF_SLAVE, "SLAVE"}, {unix.IFF_UP, "UP"},
	{unix.IFF_LOWER_UP, "LOWER_UP"}, {unix.IFF_DORMANT, "DORMANT"}, {unix.IFF_ECHO, "ECHO"},
}

// linkFlags renders ifi_flags as ip does: NO-CARRIER first when up without carrier, and
// M-DOWN last when mdown (the device named by IFLA_LINK in this namespace is not up).
func linkFlags(f uint32, mdown bool) []string {
	out := []string{}
	if f&unix.IFF_UP != 0 && f&unix.IFF_RUNNING == 0 {
		out = append(out, "NO-CARRIER")
	}
	for _, n := range linkFlagNames {
		if f&n.bit != 0 {
			out = append(out, n.name)
		}
	}
	if mdown {
		out = append(out, "M-DOWN")
	}
	return out
}

// operStates are IF_OPER_* as ip prints them.
var operStates = []string{"UNKNOWN", "NOTPRESENT", "DOWN", "LOWERLAYERDOWN", "TESTING", "DORMANT", "UP"}

func operState(s uint8) string {
	if int(s) < len(operStates) {
		return operStates[s]
	}
	return strconv.Itoa(int(s))
}

// scopeName is rtnl_rtscope_n2a.
func scopeName(s uint8) string {
	switch s {
	case 0:
		return "global"
	case 200:
		return "site"
	case 253:
		return "link"
	case 254:
		return "host"
	case 255:
		return "nowhere"
	}
	return strconv.Itoa(int(s))
}

// bridgePortStates are BR_STATE_* as ip prints them.
var bridgePortStates = []string{"disabled", "listening", "learning", "forwarding", "blocking"}

// rawLink is one RTM_NEWLINK message: the decoded link and the attributes netlink's
// decoder does not keep.
type rawLink struct {
	link      netlink.Link
	ifiType   uint16
	hasLink   bool
	qdisc     string
	minMTU    int
	maxMTU    int
	kind      string
	slaveKind string
	slaveData []byte
	address   []byte
	broadcast []byte
	promisc   int
	allmulti  int
}

// retryDump repeats a netlink dump that the kernel interrupted (the tables changed while
// it ran), up to five times; the last try's partial result is kept.
func retryDump(fn func() error) error {
	var err error
	for i := 0; i < 5; i++ {
		err = fn()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return err
		}
	}
	return err
}

// dumpLinks lists the calling thread's network namespace's devices.
func dumpLinks() ([]rawLink, error) {
	var msgs [][]byte
	err := retryDump(func() error {
		req := nl.NewNetlinkRequest(unix.RTM_GETLINK, unix.NLM_F_DUMP)
		req.AddData(nl.NewIfInfomsg(unix.AF_UNSPEC))
		var err error
		msgs, err = req.Execute(unix.NETLINK_ROUTE, unix.RTM_NEWLINK)
		return err
	})
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return nil, fmt.Errorf("link dump: %w", err)
	}
	var out []rawLink
	for _, m := range msgs {
		l, err := netlink.LinkDeserialize(nil, m)
		if err != nil {
			return nil, fmt.Errorf("link dump: decode: %w", err)
		}
		msg := nl.DeserializeIfInfomsg(m)
		rl := rawLink{link: l, ifiType: msg.Type}
		attrs, err := nl.ParseRouteAttr(m[msg.Len():])
		if err != nil {
			return nil, fmt.Errorf("link dump: attributes: %w", err)
		}
		for _, a := range attrs {
			switch a.Attr.Type {
			case unix.IFLA_LINK:
				rl.hasLink = true
			case unix.IFLA_QDISC:
				rl.qdisc = cString(a.Value)
			case unix.IFLA_MIN_MTU:
				rl.minMTU = int(binary.NativeEndian.Uint32(a.Value))
			case unix.IFLA_MAX_MTU:
				rl.maxMTU = int(binary.NativeEndian.Uint32(a.Value))
			case unix.IFLA_PROMISCUITY:
				rl.promisc = int(binary.NativeEndian.Uint32(a.Value))
			case unix.IFLA_ALLMULTI:
				rl.allmulti = int(binary.NativeEndian.Uint32(a.Value))
			case unix.IFLA_ADDRESS:
				rl.address = a.Value
			case unix.IFLA_BROADCAST:
				rl.broadcast = a.Value
			case unix.IFLA_LINKINFO:
				infos, err := nl.ParseRouteAttr(a.Value)
				if err != nil {
					continue
				}
				for _, in := range infos {
					switch in.Attr.Type {
					case unix.IFLA_INFO_KIND:
						rl.kind = cString(in.Value)
					case unix.IFLA_INFO_SLAVE_KIND:
						rl.slaveKind = cString(in.Value)
					case unix.IFLA_INFO_SLAVE_DATA:
						rl.slaveData = in.Value
					}
				}
			}
		}
		out = append(out, rl)
	}
	return out, err
}

func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// hwAddr renders a link-layer address as ip does: an IP address for IP tunnels, else
// colon-separated hex.
func hwAddr(b []byte, linkType string) string {
	if len(b) == 0 {
		return ""
	}
	switch linkType {
	case "ipip", "sit", "gre", "tunnel6", "gre6":
		if len(b) == 4 || len(b) == 16 {
			return net.IP(b).String()
		}
	}
	return net.HardwareAddr(b).String()
}

// linkTypeName is ll_type_n2a for the types netsim meets, else netlink's name.
func linkTypeName(t uint16, l netlink.Link) string {
	switch t {
	case unix.ARPHRD_NONE:
		return "none"
	case unix.ARPHRD_IPGRE:
		return "gre"
	case unix.ARPHRD_IP6GRE:
		return "gre6"
	case unix.ARPHRD_VOID:
		return "void"
	}
	return l.Attrs().EncapType
}

// buildIPLinks renders links and their addresses as `ip -d -j addr` does.
func buildIPLinks(links []rawLink, addrs []netlink.Addr) []ipLink {
	names := map[int]string{}
	flags := map[int]uint32{}
	for _, l := range links {
		names[l.link.Attrs().Index] = l.link.Attrs().Name
		flags[l.link.Attrs().Index] = l.link.Attrs().RawFlags
	}
	byLink := map[int][]ipAddr{}
	for _, a := range addrs {
		byLink[a.LinkIndex] = append(byLink[a.LinkIndex], ipAddrJSON(a))
	}
	out := make([]ipLink, 0, len(links))
	for _, rl := range links {
		a := rl.link.Attrs()
		lt := linkTypeName(rl.ifiType, rl.link)
		j := ipLink{IfIndex: a.Index, IfName: a.Name, Flags: linkFlags(a.RawFlags, rl.hasLink && a.ParentIndex != 0 && a.NetNsID < 0 && flags[a.ParentIndex]&unix.IFF_UP == 0), MTU: a.MTU, Qdisc: rl.qdisc,
			OperState: operState(uint8(a.OperState)), Group: "default", TxQLen: a.TxQLen, LinkType: lt,
			Address: hwAddr(rl.address, lt), Broadcast: hwAddr(rl.broadcast, lt), Promiscuity: rl.promisc, Allmulti: rl.allmulti,
			MinMTU: rl.minMTU, MaxMTU: rl.maxMTU, NumTxQ: a.NumTxQueues, NumRxQ: a.NumRxQueues, AltNames: a.AltNames,
			GSOMaxSize: a.GSOMaxSize, GSOMaxSegs: a.GSOMaxSegs, TSOMaxSize: a.TSOMaxSize, TSOMaxSegs: a.TSOMaxSegs, GROMaxSize: a.GROMaxSize,
			ParentBus: a.ParentDevBus, ParentDev: a.ParentDev,
			AddrInfo: byLink[a.Index]}
		if j.AddrInfo == nil {
			j.AddrInfo = []ipAddr{}
		}
		if a.Group != 0 {
			j.Group = strconv.Itoa(int(a.Group))
		}
		if a.MasterIndex != 0 {
			j.Master = names[a.MasterIndex]
			if j.Master == "" {
				j.Master = fmt.Sprintf("if%d", a.MasterIndex)
			}
		}
		if rl.hasLink {
			switch {
			case a.ParentIndex == 0:
				j.Link = json.RawMessage("null")
			case a.NetNsID >= 0:
				j.LinkIndex = a.ParentIndex
			default:
				n := names[a.ParentIndex]
				if n == "" {
					n = fmt.Sprintf("if%d", a.ParentIndex)
				}
				j.Link, _ = json.Marshal(n)
			}
		}
		if a.NetNsID >= 0 {
			id := a.NetNsID
			j.LinkNetNSID = &id
		}
		if rl.kind != "" || rl.slaveKind != "" {
			j.LinkInfo = &ipLinkInfo{InfoKind: rl.kind, InfoData: infoData(rl.link, names),
				InfoSlaveKind: rl.slaveKind, InfoSlaveData: slaveData(rl.slaveKind, rl.slaveData)}
		}
		out = append(out, j)
	}
	return out
}

// infoData renders the driver data ip -d prints for the kinds netsim reads.
func infoData(l netlink.Link, names map[int]string) map[string]any {
	switch v := l.(type) {
	case *netlink.Vxlan:
		d := map[string]any{"id": v.VxlanId}
		if v.Group != nil {
			if v.Group.IsMulticast() {
				d["group"] = v.Group.String()
			} else {
				d["remote"] = v.Group.String()
			}
		}
		if v.SrcAddr != nil {
			d["local"] = v.SrcAddr.String()
		}
		if v.VtepDevIndex != 0 {
			d["link"] = names[v.VtepDevIndex]
		}
		d["port_range"] = map[string]int{"low": v.PortLow, "high": v.PortHigh}
		d["port"] = v.Port
		d["learning"] = v.Learning
		for k, on := range map[string]bool{"proxy": v.Proxy, "rsc": v.RSC, "l2miss": v.L2miss, "l3miss": v.L3miss} {
			if on {
				d[k] = true
			}
		}
		if v.TTL != 0 {
			d["ttl"] = v.TTL
		}
		d["ageing"] = v.Age
		d["udp_csum"] = v.UDPCSum
		d["udp_zero_csum6_tx"] = v.UDP6ZeroCSumTx
		d["udp_zero_csum6_rx"] = v.UDP6ZeroCSumRx
		if v.GBP {
			d["gbp"] = true
		}
		if v.FlowBased {
			d["external"] = true
		}
		return d
	case *netlink.Iptun:
		d := map[string]any{"remote": "any", "local": "any"}
		if v.Remote != nil && !v.Remote.IsUnspecified() {
			d["remote"] = v.Remote.String()
		}
		if v.Local != nil && !v.Local.IsUnspecified() {
			d["local"] = v.Local.String()
		}
		if v.Link != 0 {
			d["link"] = names[int(v.Link)]
		}
		if v.Ttl != 0 {
			d["ttl"] = int(v.Ttl)
		} else {
			d["ttl"] = "inherit"
		}
		d["pmtudisc"] = v.PMtuDisc != 0
		if v.FlowBased {
			d["external"] = true
		}
		return d
	case *netlink.Vlan:
		proto := "802.1Q"
		if v.VlanProtocol == netlink.VLAN_PROTOCOL_8021AD {
			proto = "802.1ad"
		}
		return map[string]any{"protocol": proto, "id": v.VlanId}
	case *netlink.Bridge:
		d := map[string]any{}
		if v.AgeingTime != nil {
			d["ageing_time"] = *v.AgeingTime
		}
		if v.HelloTime != nil {
			d["hello_time"] = *v.HelloTime
		}
		if v.VlanFiltering != nil {
			d["vlan_filtering"] = btoi(*v.VlanFiltering)
		}
		if v.VlanDefaultPVID != nil {
			d["vlan_default_pvid"] = *v.VlanDefaultPVID
		}
		if v.MulticastSnooping != nil {
			d["mcast_snooping"] = btoi(*v.MulticastSnooping)
		}
		if v.GroupFwdMask != nil {
			d["group_fwd_mask"] = cHex(uint64(*v.GroupFwdMask))
		}
		return d
	}
	return nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// slaveData renders a bridge port's IFLA_BRPORT_* attributes as ip -d does.
func slaveData(kind string, data []byte) map[string]any {
	if kind != "bridge" || len(data) == 0 {
		return nil
	}
	attrs, err := nl.ParseRouteAttr(data)
	if err != nil {
		return nil
	}
	d := map[string]any{}
	flag := map[uint16]string{nl.IFLA_BRPORT_MODE: "hairpin", nl.IFLA_BRPORT_GUARD: "guard", nl.IFLA_BRPORT_PROTECT: "root_block",
		nl.IFLA_BRPORT_FAST_LEAVE: "fastleave", nl.IFLA_BRPORT_LEARNING: "learning", nl.IFLA_BRPORT_UNICAST_FLOOD: "flood",
		nl.IFLA_BRPORT_PROXYARP: "proxy_arp", nl.IFLA_BRPORT_PROXYARP_WIFI: "proxy_arp_wifi"}
	for _, a := range attrs {
		t := a.Attr.Type
		switch {
		case t == nl.IFLA_BRPORT_STATE && len(a.Value) >= 1:
			if int(a.Value[0]) < len(bridgePortStates) {
				d["state"] = bridgePortStates[a.Value[0]]
			} else {
				d["state"] = int(a.Value[0])
			}
		case t == nl.IFLA_BRPORT_PRIORITY && len(a.Value) >= 2:
			d["priority"] = binary.NativeEndian.Uint16(a.Value)
		case t == nl.IFLA_BRPORT_COST && len(a.Value) >= 4:
			d["cost"] = binary.NativeEndian.Uint32(a.Value)
		case flag[t] != "" && len(a.Value) >= 1:
			d[flag[t]] = a.Value[0] != 0
		}
	}
	return d
}

// ipAddrJSON renders one address as an addr_info entry.
func ipAddrJSON(a netlink.Addr) ipAddr {
	fam := "inet"
	if a.IP.To4() == nil {
		fam = "inet6"
	}
	plen, _ := a.Mask.Size()
	j := ipAddr{Family: fam, Local: a.IP.String(), PrefixLen: plen, Scope: scopeName(uint8(a.Scope)), Label: a.Label,
		ValidLifeTime: uint32(a.ValidLft), PreferredLifeTime: uint32(a.PreferedLft)}
	if a.Peer != nil && !a.Peer.IP.Equal(a.IP) {
		j.Address = a.Peer.IP.String()
		plen, _ = a.Peer.Mask.Size()
		j.PrefixLen = plen
	}
	if a.Broadcast != nil {
		j.Broadcast = a.Broadcast.String()
	}
	f := a.Flags
	j.Secondary = f&unix.IFA_F_SECONDARY != 0
	j.Tentative = f&unix.IFA_F_TENTATIVE != 0
	j.Deprecated = f&unix.IFA_F_DEPRECATED != 0
	j.DadFailed = f&unix.IFA_F_DADFAILED != 0
	j.Home = f&unix.IFA_F_HOMEADDRESS != 0
	j.NoDad = f&unix.IFA_F_NODAD != 0
	j.Optimistic = f&unix.IFA_F_OPTIMISTIC != 0
	j.NoPrefixRoute = f&unix.IFA_F_NOPREFIXROUTE != 0
	j.AutoJoin = f&unix.IFA_F_MCAUTOJOIN != 0
	j.MngTmpAddr = f&unix.IFA_F_MANAGETEMPADDR != 0
	j.StablePrivacy = f&0x800 != 0 // IFA_F_STABLE_PRIVACY
	j.Dynamic = f&unix.IFA_F_PERMANENT == 0
	return j
}

// collectAddr returns `ip -d -j addr` for the calling thread's namespace.
func collectAddr() ([]byte, error) {
	links, err := dumpLinks()
	if err != nil {
		return nil, err
	}
	var addrs []netlink.Addr
	if err := retryDump(func() error {
		var err error
		addrs, err = netlink.AddrList(nil, netlink.FAMILY_ALL)
		return err
	}); err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return nil, fmt.Errorf("address dump: %w", err)
	}
	return marshalIP(buildIPLinks(links, addrs))
}

// marshalIP renders an ip -j array, indented like `ip -j -p`.
func marshalIP(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "    ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// cHex is C's "%#x": 0 prints as "0", others with a 0x prefix.
func cHex(v uint64) string {
	if v == 0 {
		return "0"
	}
	return fmt.Sprintf("%#x", v)
}
