// Package ipvs reads IPVS's state — `ipvsadm -Sn`, `ipvsadm -Ln` (with or without --stats
// or --rate) and /proc/net/ip_vs — into virtual services and their real servers, and
// answers the lookup the kernel makes for a packet (ip_vs_service_find): by firewall mark
// first, then by protocol, address and port, then the service's catch-all port 0.
package ipvs

import (
	"net/netip"

	"github.com/netsim/netsim/model/source"
)

// Method is a real server's forwarding method.
type Method uint8

// Forwarding methods (ipvsadm's -m, -g, -i; IP_VS_CONN_F_MASQ, _DROUTE, _TUNNEL).
const (
	// MethodUnknown: the form read does not say (ipvsadm -Ln --stats or --rate).
	MethodUnknown Method = iota
	Masq
	Route
	Tunnel
	// Local is -Ln's name for a real server on the director itself (shown for -g).
	Local
)

func (m Method) String() string {
	return [...]string{"unknown", "masq", "route", "tunnel", "local"}[m]
}

// Form is which dump a table was read from.
type Form string

// The forms Parse reads.
const (
	FormSave  Form = "ipvsadm -Sn"
	FormList  Form = "ipvsadm -Ln"
	FormStats Form = "ipvsadm -Ln --stats/--rate"
	FormProc  Form = "/proc/net/ip_vs"
)

// Service is one virtual service: an address, port and protocol, or a firewall mark.
type Service struct {
	// Proto is the IP protocol (packet.TCP, UDP, SCTP); 0 for a fwmark service.
	Proto uint8
	// Addr is the virtual address and port (port 0: every port); invalid for fwmark.
	Addr netip.AddrPort
	// FWMark is the firewall mark of a fwmark service (0 otherwise); V6 says its family.
	FWMark uint32
	V6     bool
	// Scheduler is the scheduling method (rr, wrr, lc, sh, ...); "" when not shown.
	Scheduler string
	// Persistent is set with -p: a client sticks to its real server for Timeout seconds
	// (the Service's sessionAffinity ClientIP); Netmask groups clients (-M).
	Persistent bool
	Timeout    int
	Netmask    string
	OnePacket  bool
	SchedFlags string
	Reals      []*Real
	Pos        source.Pos
	Text       string
}

// Key names the service as ipvsadm does: "TCP 10.96.0.1:80", "FWM 5".
func (s *Service) Key() string {
	if s.Proto == 0 {
		return "FWM " + itoa(int(s.FWMark))
	}
	return protoName(s.Proto) + " " + s.Addr.String()
}

// Real is one real server of a virtual service.
type Real struct {
	Addr   netip.AddrPort
	Method Method
	// Weight is the scheduling weight; 0 means drained: no new connections. WeightKnown
	// is false where the form does not show it.
	Weight      int
	WeightKnown bool
	Pos         source.Pos
	Text        string
}

// Available reports whether the scheduler may send new connections to the real server
// (weight > 0, or not shown).
func (r *Real) Available() bool { return !r.WeightKnown || r.Weight > 0 }

// Table is the virtual services of one network namespace.
type Table struct {
	Form     Form
	File     *source.File
	Services []*Service
	byAddr   map[svcKey]*Service
	byMark   map[markKey]*Service
}

type svcKey struct {
	proto uint8
	addr  netip.AddrPort
}

type markKey struct {
	mark uint32
	v6   bool
}

func (t *Table) index() {
	t.byAddr = map[svcKey]*Service{}
	t.byMark = map[markKey]*Service{}
	for _, s := range t.Services {
		if s.Proto == 0 {
			t.byMark[markKey{s.FWMark, s.V6}] = s
			continue
		}
		t.byAddr[svcKey{s.Proto, s.Addr}] = s
	}
}

// Lookup finds the virtual service a packet to dst belongs to, as ip_vs_service_find
// does: a fwmark service for a non-zero mark first, then the exact protocol, address and
// port, then the address's catch-all port 0.
func (t *Table) Lookup(proto uint8, dst netip.AddrPort, mark uint32) *Service {
	if t == nil {
		return nil
	}
	if mark != 0 {
		if s := t.byMark[markKey{mark, dst.Addr().Is6() && !dst.Addr().Is4In6()}]; s != nil {
			return s
		}
	}
	if s := t.byAddr[svcKey{proto, dst}]; s != nil {
		return s
	}
	return t.byAddr[svcKey{proto, netip.AddrPortFrom(dst.Addr(), 0)}]
}

// HasAddr reports whether any virtual service is on an address.
func (t *Table) HasAddr(a netip.Addr) bool {
	if t == nil {
		return false
	}
	for _, s := range t.Services {
		if s.Proto != 0 && s.Addr.Addr() == a {
			return true
		}
	}
	return false
}

// Available lists the real servers the scheduler may pick for a new connection.
func (s *Service) Available() []*Real {
	var out []*Real
	for _, r := range s.Reals {
		if r.Available() {
			out = append(out, r)
		}
	}
	return out
}
