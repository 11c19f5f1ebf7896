package node

import (
	"encoding/binary"
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// diagInfo is what sock_diag tells about a socket beyond /proc/net: whether an IPv6
// socket is IPv6-only, the device it is bound to, and its queues as ss shows them (for a
// listener: the accept queue and the backlog).
type diagInfo struct {
	V6Only       bool
	Ifindex      uint32
	RecvQ, SendQ uint32
}

const (
	sockDiagByFamily = 20 // SOCK_DIAG_BY_FAMILY
	inetDiagReqLen   = 56 // struct inet_diag_req_v2
	inetDiagMsgLen   = 72 // struct inet_diag_msg
	inetDiagV6Only   = 11 // INET_DIAG_SKV6ONLY
)

// sockDiag dumps every socket of a family and protocol through NETLINK_SOCK_DIAG in the
// calling thread's network namespace, keyed by inode.
func sockDiag(family, proto uint8) (map[uint64]diagInfo, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return nil, fmt.Errorf("sock_diag socket: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("sock_diag bind: %w", err)
	}
	req := make([]byte, unix.NLMSG_HDRLEN+inetDiagReqLen)
	ne := binary.NativeEndian
	ne.PutUint32(req[0:], uint32(len(req)))
	ne.PutUint16(req[4:], sockDiagByFamily)
	ne.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	ne.PutUint32(req[8:], 1)
	body := req[unix.NLMSG_HDRLEN:]
	body[0], body[1] = family, proto
	ne.PutUint32(body[4:], 0xffffffff) // every state
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("sock_diag send: %w", err)
	}
	out := map[uint64]diagInfo{}
	buf := make([]byte, 64*1024)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return nil, fmt.Errorf("sock_diag receive: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return nil, fmt.Errorf("sock_diag parse: %w", err)
		}
		for _, m := range msgs {
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				return out, nil
			case unix.NLMSG_ERROR:
				if len(m.Data) >= 4 {
					if e := int32(ne.Uint32(m.Data)); e != 0 {
						return nil, fmt.Errorf("sock_diag: %w", unix.Errno(-e))
					}
				}
				return out, nil
			}
			inode, info, ok := parseInetDiagMsg(m.Data)
			if ok {
				out[inode] = info
			}
		}
	}
}

// parseInetDiagMsg decodes one struct inet_diag_msg and its attributes.
func parseInetDiagMsg(b []byte) (uint64, diagInfo, bool) {
	if len(b) < inetDiagMsgLen {
		return 0, diagInfo{}, false
	}
	ne := binary.NativeEndian
	info := diagInfo{Ifindex: ne.Uint32(b[40:]), RecvQ: ne.Uint32(b[56:]), SendQ: ne.Uint32(b[60:])}
	inode := uint64(ne.Uint32(b[68:]))
	for a := b[inetDiagMsgLen:]; len(a) >= 4; {
		l := int(ne.Uint16(a[0:]))
		t := ne.Uint16(a[2:])
		if l < 4 || l > len(a) {
			break
		}
		if t == inetDiagV6Only && l >= 5 {
			info.V6Only = a[4] != 0
		}
		adv := (l + 3) &^ 3
		if adv > len(a) {
			break
		}
		a = a[adv:]
	}
	return inode, info, true
}
