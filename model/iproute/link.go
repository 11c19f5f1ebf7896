// Package iproute decodes a network namespace's links, addresses, routes, policy rules and
// neighbours from the output of iproute2's `ip`: the `ip -j` JSON forms and the plain text
// forms people paste into tickets. Every entry keeps its file and line.
package iproute

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/netsim/netsim/model/source"
)

// Link is a network device with its addresses.
type Link struct {
	Index     int
	Name      string
	Flags     []string // UP, LOWER_UP, NO-CARRIER, ...
	MTU       int
	Master    string // bridge or bond this device is enslaved to
	OperState string
	LinkType  string // ether, loopback, none, ...
	MAC       string
	// Kind is the driver kind shown by `ip -d` (veth, bridge, vxlan, ipip, dummy, ...);
	// empty when the dump was made without -d.
	Kind      string
	SlaveKind string // bridge_slave's "bridge", ...
	// PeerIndex is the ifindex of the other end of a veth (or the lower device of a vlan,
	// macvlan, ...): "eth0@if7" or "link_index": 7. PeerName is set instead when the peer
	// is in the same namespace ("veth0@veth1").
	PeerIndex   int
	PeerName    string
	PeerNetNSID int // -1 when the peer is in the same namespace or not shown
	// Hairpin is a bridge port's hairpin mode, when the dump shows it (ip -d).
	Hairpin *bool
	// VXLAN holds a vxlan device's parameters, when the dump shows them (ip -d).
	VXLAN *VXLAN
	Addrs []Addr
	Pos   source.Pos
}

// VXLAN is a vxlan device's configuration.
type VXLAN struct {
	ID    int
	Local netip.Addr
	Dev   string
	Port  int
}

// Addr is an address on a link.
type Addr struct {
	Prefix netip.Prefix // the address with its prefix length
	Scope  string       // global, link, host
	Label  string
	Flags  []string // secondary, tentative, dadfailed, deprecated, ...
	Pos    source.Pos
}

// Up reports whether the device is administratively up.
func (l *Link) Up() bool { return slices.Contains(l.Flags, "UP") }

// HasCarrier reports whether the device's lower layer is up.
func (l *Link) HasCarrier() bool { return slices.Contains(l.Flags, "LOWER_UP") }

type jsonAddrInfo struct {
	Family    string `json:"family"`
	Local     string `json:"local"`
	PrefixLen int    `json:"prefixlen"`
	Scope     string `json:"scope"`
	Label     string `json:"label"`
}

type jsonLink struct {
	IfIndex     int               `json:"ifindex"`
	IfName      string            `json:"ifname"`
	Link        string            `json:"link"`
	LinkIndex   int               `json:"link_index"`
	LinkNetNSID *int              `json:"link_netnsid"`
	Flags       []string          `json:"flags"`
	MTU         int               `json:"mtu"`
	Master      string            `json:"master"`
	OperState   string            `json:"operstate"`
	LinkType    string            `json:"link_type"`
	Address     string            `json:"address"`
	AddrInfo    []json.RawMessage `json:"addr_info"`
	LinkInfo    *struct {
		InfoKind      string          `json:"info_kind"`
		InfoSlaveKind string          `json:"info_slave_kind"`
		InfoData      json.RawMessage `json:"info_data"`
		InfoSlaveData json.RawMessage `json:"info_slave_data"`
	} `json:"linkinfo"`
}

// ParseLinksJSON decodes `ip -j [-d] addr` or `ip -j [-d] link`.
func ParseLinksJSON(f *source.File) ([]Link, error) {
	var out []Link
	err := eachJSONEntry(f, func(raw json.RawMessage, pos source.Pos) error {
		var j jsonLink
		if err := unmarshalEntry(raw, pos, &j, "link"); err != nil {
			return err
		}
		if j.IfName == "" {
			// `ip -j addr` can print address-only entries for a filtered query; they name no link.
			if len(j.AddrInfo) == 0 {
				return source.Errorf(pos, "link entry has no ifname")
			}
			return source.Errorf(pos, "address entry has no ifname")
		}
		l := Link{Index: j.IfIndex, Name: j.IfName, Flags: j.Flags, MTU: j.MTU, Master: j.Master,
			OperState: j.OperState, LinkType: j.LinkType, MAC: j.Address, PeerIndex: j.LinkIndex,
			PeerName: j.Link, PeerNetNSID: -1, Pos: pos}
		if j.LinkNetNSID != nil {
			l.PeerNetNSID = *j.LinkNetNSID
		}
		if li := j.LinkInfo; li != nil {
			l.Kind = li.InfoKind
			l.SlaveKind = li.InfoSlaveKind
			if len(li.InfoSlaveData) > 0 && l.SlaveKind == "bridge" {
				var sd struct {
					Hairpin *bool `json:"hairpin"`
				}
				if json.Unmarshal(li.InfoSlaveData, &sd) == nil {
					l.Hairpin = sd.Hairpin
				}
			}
			if len(li.InfoData) > 0 && l.Kind == "vxlan" {
				var vd struct {
					ID    int    `json:"id"`
					Local string `json:"local"`
					Link  string `json:"link"`
					Port  int    `json:"port"`
				}
				if json.Unmarshal(li.InfoData, &vd) == nil {
					v := &VXLAN{ID: vd.ID, Dev: vd.Link, Port: vd.Port}
					v.Local, _ = netip.ParseAddr(vd.Local)
					l.VXLAN = v
				}
			}
		}
		for _, rawAddr := range j.AddrInfo {
			var a jsonAddrInfo
			if err := unmarshalEntry(rawAddr, pos, &a, "link "+j.IfName+" address"); err != nil {
				return err
			}
			addr, err := netip.ParseAddr(a.Local)
			if err != nil {
				return source.Errorf(pos, "link %s: address %q: %v", j.IfName, a.Local, err)
			}
			if a.PrefixLen < 0 || a.PrefixLen > addr.BitLen() {
				return source.Errorf(pos, "link %s: prefix length %d for %s", j.IfName, a.PrefixLen, a.Local)
			}
			ad := Addr{Prefix: netip.PrefixFrom(addr, a.PrefixLen), Scope: a.Scope, Label: a.Label, Pos: pos}
			// Address flags are printed as boolean keys ("secondary": true, "nodad": true).
			var all map[string]json.RawMessage
			json.Unmarshal(rawAddr, &all)
			for k, v := range all {
				if string(v) == "true" {
					ad.Flags = append(ad.Flags, k)
				}
			}
			slices.Sort(ad.Flags)
			l.Addrs = append(l.Addrs, ad)
		}
		out = append(out, l)
		return nil
	})
	return out, err
}

// knownKinds are the driver kinds `ip -d` prints at the start of a details line.
var knownKinds = map[string]bool{
	"veth": true, "bridge": true, "vxlan": true, "ipip": true, "dummy": true, "vlan": true,
	"macvlan": true, "macvtap": true, "ipvlan": true, "tun": true, "geneve": true, "wireguard": true,
	"gre": true, "gretap": true, "sit": true, "ip6tnl": true, "ip6gre": true, "bond": true,
	"team": true, "vrf": true, "nlmon": true, "ifb": true, "vti": true, "xfrm": true, "netkit": true,
}

// ParseLinksText decodes plain `ip [-d] addr` or `ip [-d] link` output.
func ParseLinksText(f *source.File) ([]Link, error) {
	var out []Link
	var cur *Link
	var err error
	f.Lines(func(n int, text string) bool {
		pos := f.Pos(n)
		trim := strings.TrimSpace(text)
		if trim == "" {
			return true
		}
		if text[0] != ' ' && text[0] != '\t' {
			var l Link
			l, err = parseLinkHeader(trim, pos)
			if err != nil {
				return false
			}
			out = append(out, l)
			cur = &out[len(out)-1]
			return true
		}
		if cur == nil {
			err = source.Errorf(pos, "indented line before any link header (want \"N: NAME: <FLAGS> mtu ...\")")
			return false
		}
		err = parseLinkDetail(cur, strings.Fields(trim), pos)
		return err == nil
	})
	return out, err
}

func parseLinkHeader(line string, pos source.Pos) (Link, error) {
	// 3: veth0@if5: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue master cni0 state UP ...
	l := Link{PeerNetNSID: -1, Pos: pos}
	idx, rest, ok := strings.Cut(line, ": ")
	if !ok {
		return l, source.Errorf(pos, "link header: want \"N: NAME: <FLAGS> ...\", found %q", truncate(line, 60))
	}
	i, err := strconv.Atoi(idx)
	if err != nil {
		return l, source.Errorf(pos, "link header: index %q is not a number", idx)
	}
	l.Index = i
	name, rest, ok := strings.Cut(rest, ": ")
	if !ok {
		return l, source.Errorf(pos, "link header: no name after the index")
	}
	if base, peer, ok := strings.Cut(name, "@"); ok {
		l.Name = base
		if strings.HasPrefix(peer, "if") {
			if n, err := strconv.Atoi(peer[2:]); err == nil {
				l.PeerIndex = n
			} else {
				l.PeerName = peer
			}
		} else if peer != "NONE" {
			l.PeerName = peer
		}
	} else {
		l.Name = name
	}
	f := strings.Fields(rest)
	if len(f) == 0 || !strings.HasPrefix(f[0], "<") || !strings.HasSuffix(f[0], ">") {
		return l, source.Errorf(pos, "link %s: want <FLAGS> after the name", l.Name)
	}
	if inner := strings.Trim(f[0], "<>"); inner != "" {
		l.Flags = strings.Split(inner, ",")
	}
	for k := 1; k+1 < len(f); k++ {
		switch f[k] {
		case "mtu":
			v, err := strconv.Atoi(f[k+1])
			if err != nil {
				return l, source.Errorf(pos, "link %s: mtu %q is not a number", l.Name, f[k+1])
			}
			l.MTU = v
			k++
		case "master":
			l.Master = f[k+1]
			k++
		case "state":
			l.OperState = f[k+1]
			k++
		case "qdisc", "group", "qlen", "mode", "link-netnsid", "link-netns":
			k++
		}
	}
	return l, nil
}

func parseLinkDetail(l *Link, f []string, pos source.Pos) error {
	head := f[0]
	switch {
	case head == "inet" || head == "inet6":
		if len(f) < 2 {
			return source.Errorf(pos, "link %s: %s without an address", l.Name, head)
		}
		p, err := parsePrefixOrAddr(f[1])
		if err != nil {
			return source.Errorf(pos, "link %s: address %q: %v", l.Name, f[1], err)
		}
		a := Addr{Prefix: p, Pos: pos}
		for k := 2; k < len(f); k++ {
			switch f[k] {
			case "scope":
				if k+1 < len(f) {
					a.Scope = f[k+1]
					k++
				}
			case "brd", "peer", "metric", "valid_lft", "preferred_lft":
				k++
			case "secondary", "tentative", "dadfailed", "deprecated", "noprefixroute", "dynamic", "permanent", "mngtmpaddr", "home", "nodad", "optimistic", "temporary", "stable-privacy", "autojoin":
				a.Flags = append(a.Flags, f[k])
			default:
				if k == len(f)-1 && a.Scope != "" {
					a.Label = f[k]
				}
			}
		}
		slices.Sort(a.Flags)
		l.Addrs = append(l.Addrs, a)
	case strings.HasPrefix(head, "link/"):
		l.LinkType = strings.TrimPrefix(head, "link/")
		if len(f) > 1 && strings.Count(f[1], ":") == 5 {
			l.MAC = f[1]
		}
		for k := 1; k+1 < len(f); k++ {
			if f[k] == "link-netnsid" {
				if v, err := strconv.Atoi(f[k+1]); err == nil {
					l.PeerNetNSID = v
				}
			}
		}
	case head == "valid_lft" || head == "altname" || head == "promiscuity" || head == "RX:" || head == "TX:":
	case head == "bridge_slave":
		l.SlaveKind = "bridge"
		for k := 1; k+1 < len(f); k++ {
			if f[k] == "hairpin" {
				on := f[k+1] == "on"
				l.Hairpin = &on
			}
		}
	case knownKinds[head]:
		if l.Kind == "" {
			l.Kind = head
		}
		if head == "vxlan" {
			v := &VXLAN{}
			for k := 1; k+1 < len(f); k++ {
				switch f[k] {
				case "id":
					v.ID, _ = strconv.Atoi(f[k+1])
				case "local":
					v.Local, _ = netip.ParseAddr(f[k+1])
				case "dev":
					v.Dev = f[k+1]
				case "dstport":
					v.Port, _ = strconv.Atoi(f[k+1])
				}
			}
			l.VXLAN = v
		}
	}
	return nil
}

func parsePrefixOrAddr(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return p, nil // keep the host bits: this is an address with its prefix length
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// String renders the link like the first line of `ip link`.
func (l *Link) String() string {
	name := l.Name
	switch {
	case l.PeerName != "":
		name += "@" + l.PeerName
	case l.PeerIndex > 0:
		name += fmt.Sprintf("@if%d", l.PeerIndex)
	}
	s := fmt.Sprintf("%d: %s: <%s> mtu %d", l.Index, name, strings.Join(l.Flags, ","), l.MTU)
	if l.Master != "" {
		s += " master " + l.Master
	}
	if l.OperState != "" {
		s += " state " + l.OperState
	}
	return s
}

// String renders the address like `ip addr`'s inet lines.
func (a Addr) String() string {
	fam := "inet"
	if a.Prefix.Addr().Is6() {
		fam = "inet6"
	}
	s := fam + " " + a.Prefix.String()
	if a.Scope != "" {
		s += " scope " + a.Scope
	}
	for _, fl := range a.Flags {
		s += " " + fl
	}
	return s
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
