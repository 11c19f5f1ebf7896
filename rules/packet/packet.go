// Package packet is the value a netfilter or routing engine decides about: one packet's
// headers and the kernel's metadata that rules match on. It is a leaf package: engines
// import it, never the other way round.
package packet

import (
	"fmt"
	"net/netip"
	"strings"
)

// IP protocol numbers netsim names.
const (
	ICMP   uint8 = 1
	TCP    uint8 = 6
	UDP    uint8 = 17
	ICMPv6 uint8 = 58
	SCTP   uint8 = 132
)

// ProtoName names an IP protocol as iptables prints it.
func ProtoName(p uint8) string {
	switch p {
	case ICMP:
		return "icmp"
	case TCP:
		return "tcp"
	case UDP:
		return "udp"
	case ICMPv6:
		return "ipv6-icmp"
	case SCTP:
		return "sctp"
	}
	return fmt.Sprint(p)
}

// TCP flag bits.
const (
	FIN uint8 = 1 << iota
	SYN
	RST
	PSH
	ACK
	URG
	ECE
	CWR
)

// CtState is conntrack's view of the packet's connection, as --ctstate names it.
type CtState uint8

// Conntrack states.
const (
	CtNew CtState = 1 << iota
	CtEstablished
	CtRelated
	CtInvalid
	CtUntracked
)

// Packet is one packet as a netfilter hook sees it. It is a value: engines copy and
// change it, never share it.
type Packet struct {
	Src, Dst     netip.Addr
	Proto        uint8
	SPort, DPort uint16 // TCP, UDP, SCTP
	TCPFlags     uint8  // for TCP; a connection's first packet is SYN
	ICMPType     uint8
	ICMPCode     uint8
	Len          int // IP length in bytes; 0 when unknown

	// Kernel metadata.
	Mark   uint32
	CtMark uint32
	// CtState is the connection's state: a first packet is New; a reply is Established.
	CtState CtState
	// Reply is set for packets of the reply direction (conntrack's REPLY).
	Reply bool
	// OrigDst and OrigSrc are the connection's original addresses before NAT; with DNAT
	// (or SNAT) set, --ctstate DNAT (SNAT) matches.
	OrigSrc, OrigDst  netip.AddrPort
	DNATed, SNATed    bool
	Untracked         bool
	InIface, OutIface string // "" when not known at this hook
	PhysIn, PhysOut   string // bridge ports, when the packet is bridged
	Bridged           bool
	IPVS              bool // the packet belongs to an IPVS connection
	// IPVSVAddr is the virtual address and port of the IPVS connection the packet is in,
	// as IPVS's own connection table finds it for the packet where it is now: set on a
	// request IPVS has sent to its real server (until it leaves the namespace) and on a
	// reply from that real server until IPVS un-NATs it; invalid otherwise. It does not
	// depend on conntrack (net.ipv4.vs.conntrack=0 leaves the table intact).
	IPVSVAddr netip.AddrPort
	// IPVSMethod is that connection's forwarding method (IPVSMasq, ...), when IPVSVAddr is set.
	IPVSMethod uint8
}

// IPVS forwarding methods of a connection (IP_VS_CONN_F_FWD_MASK), as -m ipvs --vmethod
// names three of them.
const (
	IPVSMethodUnknown uint8 = iota
	IPVSMasq                // MASQ
	IPVSGate                // GATE (direct routing)
	IPVSTunnel              // IPIP
	IPVSLocal               // a real server on the director itself (LOCALNODE)
)

// Is6 reports whether the packet is IPv6.
func (p Packet) Is6() bool { return p.Dst.Is6() && !p.Dst.Is4In6() }

// HasPorts reports whether the protocol carries ports.
func (p Packet) HasPorts() bool { return p.Proto == TCP || p.Proto == UDP || p.Proto == SCTP }

// SrcAP and DstAP are the addresses with ports.
func (p Packet) SrcAP() netip.AddrPort { return netip.AddrPortFrom(p.Src, p.SPort) }

// DstAP is the destination address with port.
func (p Packet) DstAP() netip.AddrPort { return netip.AddrPortFrom(p.Dst, p.DPort) }

// String renders "tcp 10.0.0.1:40000 -> 10.0.0.2:80 mark 0x4000".
func (p Packet) String() string {
	var b strings.Builder
	b.WriteString(ProtoName(p.Proto) + " ")
	if p.HasPorts() {
		fmt.Fprintf(&b, "%s -> %s", p.SrcAP(), p.DstAP())
	} else {
		fmt.Fprintf(&b, "%s -> %s", p.Src, p.Dst)
		if p.Proto == ICMP || p.Proto == ICMPv6 {
			fmt.Fprintf(&b, " type %d code %d", p.ICMPType, p.ICMPCode)
		}
	}
	if p.Mark != 0 {
		fmt.Fprintf(&b, " mark %#x", p.Mark)
	}
	if p.InIface != "" {
		b.WriteString(" in " + p.InIface)
	}
	if p.OutIface != "" {
		b.WriteString(" out " + p.OutIface)
	}
	return b.String()
}
