package node

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// procSocket is one line of /proc/net/{tcp,tcp6,udp,udp6} (or an endpoint address of
// /proc/net/sctp/eps), with what sock_diag adds where it answered.
type procSocket struct {
	Proto          string // tcp, udp, sctp
	State          int    // the kernel's TCP_* state number
	Local, Peer    netip.AddrPort
	RecvQ, SendQ   uint64
	Inode          uint64
	V6Only         bool   // IPV6_V6ONLY, from sock_diag
	BoundIfindex   uint32 // SO_BINDTODEVICE, from sock_diag
	BoundIfname    string
	Users          []sockUser
	FromProcLineNo int
}

// sockUser is a process holding a socket: ss's ("name",pid=N,fd=N).
type sockUser struct {
	Comm    string
	PID, FD int
}

// tcpStates are ss's names for the kernel's TCP_* states (include/net/tcp_states.h).
var tcpStates = map[int]string{1: "ESTAB", 2: "SYN-SENT", 3: "SYN-RECV", 4: "FIN-WAIT-1", 5: "FIN-WAIT-2",
	6: "TIME-WAIT", 7: "UNCONN", 8: "CLOSE-WAIT", 9: "LAST-ACK", 10: "LISTEN", 11: "CLOSING", 12: "NEW-SYN-RECV"}

// parseProcNet decodes /proc/net/tcp, tcp6, udp or udp6 text.
func parseProcNet(proto string, data []byte) ([]procSocket, error) {
	var out []procSocket
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		f := strings.Fields(sc.Text())
		if n == 1 || len(f) == 0 {
			continue // header
		}
		if len(f) < 10 {
			return nil, fmt.Errorf("line %d: %d fields, want at least 10", n, len(f))
		}
		local, err := parseHexAddrPort(f[1])
		if err != nil {
			return nil, fmt.Errorf("line %d: local address %q: %w", n, f[1], err)
		}
		peer, err := parseHexAddrPort(f[2])
		if err != nil {
			return nil, fmt.Errorf("line %d: remote address %q: %w", n, f[2], err)
		}
		st, err := strconv.ParseUint(f[3], 16, 8)
		if err != nil {
			return nil, fmt.Errorf("line %d: state %q: %w", n, f[3], err)
		}
		txq, rxq, ok := strings.Cut(f[4], ":")
		if !ok {
			return nil, fmt.Errorf("line %d: queues %q: want TX:RX", n, f[4])
		}
		tx, err1 := strconv.ParseUint(txq, 16, 64)
		rx, err2 := strconv.ParseUint(rxq, 16, 64)
		inode, err3 := strconv.ParseUint(f[9], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			return nil, fmt.Errorf("line %d: queues %q or inode %q are not numbers", n, f[4], f[9])
		}
		out = append(out, procSocket{Proto: proto, State: int(st), Local: local, Peer: peer, RecvQ: rx, SendQ: tx, Inode: inode, FromProcLineNo: n})
	}
	return out, sc.Err()
}

// parseHexAddrPort decodes /proc/net's "0100007F:1F90": the address as the kernel's
// 32-bit words in host byte order, the port in hex.
func parseHexAddrPort(s string) (netip.AddrPort, error) {
	a, p, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("no port")
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("port %q", p)
	}
	raw, err := hex.DecodeString(a)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.AddrPort{}, fmt.Errorf("address %q: want 8 or 32 hex digits", a)
	}
	var b [16]byte
	for i := 0; i < len(raw); i += 4 {
		w := binary.BigEndian.Uint32(raw[i : i+4])
		binary.NativeEndian.PutUint32(b[i:i+4], w)
	}
	var addr netip.Addr
	if len(raw) == 4 {
		addr = netip.AddrFrom4([4]byte(b[:4]))
	} else {
		addr = netip.AddrFrom16(b)
	}
	return netip.AddrPortFrom(addr, uint16(port)), nil
}

// parseSCTPEps decodes /proc/net/sctp/eps: one listening endpoint per line, with its
// local addresses last. Each address becomes a socket.
func parseSCTPEps(data []byte) ([]procSocket, error) {
	var out []procSocket
	sc := bufio.NewScanner(bytes.NewReader(data))
	n := 0
	for sc.Scan() {
		n++
		f := strings.Fields(sc.Text())
		if n == 1 || len(f) == 0 {
			continue
		}
		// ENDPT SOCK STY SST HBKT LPORT UID INODE LADDRS...
		if len(f) < 9 {
			return nil, fmt.Errorf("line %d: %d fields, want ENDPT SOCK STY SST HBKT LPORT UID INODE LADDRS", n, len(f))
		}
		st, err1 := strconv.Atoi(f[3])
		port, err2 := strconv.ParseUint(f[5], 10, 16)
		inode, err3 := strconv.ParseUint(f[7], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			return nil, fmt.Errorf("line %d: state %q, port %q or inode %q is not a number", n, f[3], f[5], f[7])
		}
		for _, a := range f[8:] {
			addr, err := netip.ParseAddr(a)
			if err != nil {
				return nil, fmt.Errorf("line %d: local address %q: %w", n, a, err)
			}
			out = append(out, procSocket{Proto: "sctp", State: st, Local: netip.AddrPortFrom(addr, uint16(port)), Inode: inode, FromProcLineNo: n})
		}
	}
	return out, sc.Err()
}

// socketUsers maps socket inodes to the processes holding them, from /proc/PID/fd
// (procRoot is /proc). Processes that vanish or cannot be read are skipped.
func socketUsers(procRoot string) map[uint64][]sockUser {
	out := map[uint64][]sockUser{}
	pids, _ := os.ReadDir(procRoot)
	for _, p := range pids {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		fdDir := filepath.Join(procRoot, p.Name(), "fd")
		fds, err := os.ReadDir(fdDir)
		if err != nil {
			continue
		}
		comm := ""
		for _, fd := range fds {
			target, err := os.Readlink(filepath.Join(fdDir, fd.Name()))
			if err != nil || !strings.HasPrefix(target, "socket:[") {
				continue
			}
			inode, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]"), 10, 64)
			if err != nil {
				continue
			}
			fdn, _ := strconv.Atoi(fd.Name())
			if comm == "" {
				c, _ := os.ReadFile(filepath.Join(procRoot, p.Name(), "comm"))
				comm = strings.TrimSpace(string(c))
			}
			out[inode] = append(out[inode], sockUser{Comm: comm, PID: pid, FD: fdn})
		}
	}
	return out
}

// formatSS renders sockets as `ss -Htuanp` lines: udp before tcp before sctp, as ss
// prints them, each in the order the kernel listed them.
func formatSS(socks []procSocket) []byte {
	order := map[string]int{"udp": 0, "tcp": 1, "sctp": 2}
	sort.SliceStable(socks, func(i, j int) bool { return order[socks[i].Proto] < order[socks[j].Proto] })
	var b bytes.Buffer
	for i := range socks {
		b.WriteString(ssLine(&socks[i]))
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// ssLine renders one socket as ss does: Netid State Recv-Q Send-Q Local:Port Peer:Port
// users:(("comm",pid=N,fd=N),...).
func ssLine(s *procSocket) string {
	state, ok := tcpStates[s.State]
	if !ok {
		state = "UNKNOWN"
	}
	local := ssAddr(s.Local, s.V6Only, s.BoundIfname)
	peer := ssAddr(s.Peer, s.V6Only, "")
	line := fmt.Sprintf("%-5s %-6s %-6d %-6d %s %s", s.Proto, state, s.RecvQ, s.SendQ, pad(local, 27), pad(peer, 27))
	if len(s.Users) > 0 {
		var us []string
		for _, u := range s.Users {
			us = append(us, fmt.Sprintf("(%q,pid=%d,fd=%d)", u.Comm, u.PID, u.FD))
		}
		line += " users:(" + strings.Join(us, ",") + ")"
	}
	return strings.TrimRight(line, " ")
}

// ssAddr prints an address and port as ss does: IPv4 plain, IPv6 in brackets, the IPv6
// wildcard of a socket that also takes IPv4 as "*", port 0 as "*", and the bound device
// after a "%".
func ssAddr(ap netip.AddrPort, v6only bool, ifname string) string {
	a := ap.Addr()
	var host string
	switch {
	case !a.IsValid(): // an SCTP endpoint has no peer
		host = "*"
	case a.Is4():
		host = a.String()
	case a.IsUnspecified() && !v6only:
		host = "*"
	default:
		host = "[" + a.String() + "]"
	}
	if ifname != "" {
		host += "%" + ifname
	}
	port := strconv.Itoa(int(ap.Port()))
	if ap.Port() == 0 {
		port = "*"
	}
	return host + ":" + port
}

func pad(s string, n int) string {
	if len(s) >= n {
		return s
	}
	return s + strings.Repeat(" ", n-len(s))
}
