// Package sockets decodes `ss` output (ss -Htuanp and the forms people paste) into the
// sockets of a network namespace, so that delivery can be decided and "what does listen
// there" can be said.
package sockets

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/netsim/netsim/model/source"
)

// Socket is one socket line of ss.
type Socket struct {
	Proto string // tcp, udp, sctp, raw, ...
	State string // LISTEN, UNCONN, ESTAB, ...
	// Local is the bound address and port. For a wildcard the address is 0.0.0.0 or ::.
	Local netip.AddrPort
	// DualStack is set for ss's "*" address: an IPv6 socket bound to :: without
	// IPV6_V6ONLY, which also receives IPv4 ("[::]" means IPv6 only).
	DualStack bool
	// Iface is the device the socket is bound to (ss's "%lo" suffix), "" for none.
	Iface   string
	Peer    string
	Process string
	Pos     source.Pos
}

// Listening reports whether the socket accepts new flows: a TCP/SCTP listener or an
// unconnected UDP socket.
func (s *Socket) Listening() bool {
	return s.State == "LISTEN" || (s.State == "UNCONN" && (s.Proto == "udp" || s.Proto == "sctp"))
}

// Accepts reports whether this socket would receive a new flow to dst:port on proto
// arriving on device iface ("" when unknown).
func (s *Socket) Accepts(proto string, dst netip.AddrPort, iface string) bool {
	if !s.Listening() || s.Proto != proto || s.Local.Port() != dst.Port() {
		return false
	}
	if s.Iface != "" && iface != "" && s.Iface != iface {
		return false
	}
	la, da := s.Local.Addr(), dst.Addr().Unmap()
	switch {
	case s.DualStack:
		return true
	case la.IsUnspecified():
		return la.Is4() == da.Is4()
	default:
		return la == da
	}
}

// String renders the socket as "tcp LISTEN 0.0.0.0:8080".
func (s *Socket) String() string {
	local := s.Local.String()
	if s.DualStack {
		local = fmt.Sprintf("*:%d", s.Local.Port())
	} else if s.Iface != "" {
		local = fmt.Sprintf("%s%%%s:%d", s.Local.Addr(), s.Iface, s.Local.Port())
	}
	return fmt.Sprintf("%s %s %s", s.Proto, s.State, local)
}

var states = map[string]bool{"LISTEN": true, "UNCONN": true, "ESTAB": true, "SYN-SENT": true, "SYN-RECV": true,
	"FIN-WAIT-1": true, "FIN-WAIT-2": true, "TIME-WAIT": true, "CLOSE-WAIT": true, "LAST-ACK": true,
	"CLOSING": true, "CLOSED": true, "UNKNOWN": true, "BOUND": true}

var protos = map[string]bool{"tcp": true, "udp": true, "sctp": true, "raw": true, "u_str": true, "u_dgr": true,
	"u_seq": true, "nl": true, "p_raw": true, "p_dgr": true, "mptcp": true, "tipc": true, "v_str": true, "v_dgr": true, "xdp": true, "icmp6": true}

// Parse decodes ss output with or without the header and the Netid column. Without
// Netid (ss -t or -u alone) the protocol is inferred: LISTEN is tcp, UNCONN is udp.
// Continuation lines of -e/-m/-i output and non-IP sockets are skipped.
func Parse(f *source.File) ([]Socket, error) {
	var out []Socket
	var err error
	f.Lines(func(n int, text string) bool {
		if text == "" || text[0] == ' ' || text[0] == '\t' {
			return true // blank, or a detail line of -e/-m/-i
		}
		fields := strings.Fields(text)
		if len(fields) == 0 || fields[0] == "Netid" || fields[0] == "State" {
			return true
		}
		pos := f.Pos(n)
		s := Socket{Pos: pos}
		k := 0
		if protos[fields[0]] {
			s.Proto = fields[0]
			k = 1
		}
		if k >= len(fields) || !states[fields[k]] {
			err = source.Errorf(pos, "want an ss socket line (Netid State Recv-Q Send-Q Local Peer), found %q", trunc(text))
			return false
		}
		s.State = fields[k]
		k++
		if s.Proto == "" {
			switch s.State {
			case "UNCONN":
				s.Proto = "udp"
			default:
				s.Proto = "tcp"
			}
		}
		if s.Proto != "tcp" && s.Proto != "udp" && s.Proto != "sctp" && s.Proto != "raw" && s.Proto != "mptcp" {
			return true // unix, netlink, packet sockets carry no IP flows
		}
		if len(fields) < k+4 {
			err = source.Errorf(pos, "ss line has %d columns, want Recv-Q Send-Q Local Peer after the state", len(fields))
			return false
		}
		local := fields[k+2]
		s.Peer = fields[k+3]
		if len(fields) > k+4 {
			s.Process = strings.Join(fields[k+4:], " ")
		}
		if err = parseLocal(&s, local); err != nil {
			err = source.Errorf(pos, "local address %q: %v", local, err)
			return false
		}
		out = append(out, s)
		return true
	})
	return out, err
}

func parseLocal(s *Socket, local string) error {
	i := strings.LastIndexByte(local, ':')
	if i < 0 {
		return fmt.Errorf("no port")
	}
	host, portText := local[:i], local[i+1:]
	port := 0
	if portText != "*" {
		p, err := strconv.ParseUint(portText, 10, 16)
		if err != nil {
			return fmt.Errorf("port %q", portText)
		}
		port = int(p)
	}
	if h, iface, ok := strings.Cut(host, "%"); ok {
		host, s.Iface = h, iface
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if h, iface, ok := strings.Cut(host, "%"); ok { // [fe80::1%eth0]
		host, s.Iface = h, iface
	}
	var addr netip.Addr
	switch host {
	case "*":
		addr, s.DualStack = netip.IPv6Unspecified(), true
		if s.Proto == "raw" {
			addr, s.DualStack = netip.IPv4Unspecified(), false
		}
	default:
		a, err := netip.ParseAddr(host)
		if err != nil {
			return err
		}
		addr = a.Unmap()
	}
	s.Local = netip.AddrPortFrom(addr, uint16(port))
	return nil
}

func trunc(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}
