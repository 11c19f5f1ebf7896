package node

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"

	"github.com/moby/ipvs"
	"golang.org/x/sys/unix"
)

// errNoIPVS says the kernel has no IPVS (the ip_vs module is not loaded): there is
// nothing to collect, and the collector does not load modules on a node.
var errNoIPVS = errors.New("IPVS not available: /proc/net/ip_vs missing (ip_vs module not loaded)")

// IPVSService is one virtual service and its real servers, as IPVS reports them.
type IPVSService struct {
	Service      ipvs.Service
	Destinations []ipvs.Destination
}

// collectIPVS reads the IPVS table of the calling thread's namespace and renders it as
// `ipvsadm -Sn` does.
func collectIPVS() ([]byte, error) {
	if _, err := os.Stat("/proc/thread-self/net/ip_vs"); err != nil {
		return nil, errNoIPVS
	}
	h, err := ipvs.New("")
	if err != nil {
		return nil, fmt.Errorf("ipvs: %w", err)
	}
	defer h.Close()
	svcs, err := h.GetServices()
	if err != nil {
		return nil, fmt.Errorf("ipvs services: %w", err)
	}
	var all []IPVSService
	for _, s := range svcs {
		ds, err := h.GetDestinations(s)
		if err != nil {
			return nil, fmt.Errorf("ipvs destinations of %s: %w", ipvsServiceName(s), err)
		}
		e := IPVSService{Service: *s}
		for _, d := range ds {
			e.Destinations = append(e.Destinations, *d)
		}
		all = append(all, e)
	}
	return FormatIPVS(all), nil
}

// FormatIPVS renders services the way `ipvsadm -Sn` saves them: an -A line per service,
// then an -a line per real server.
func FormatIPVS(svcs []IPVSService) []byte {
	var b bytes.Buffer
	for i := range svcs {
		s := &svcs[i].Service
		name := ipvsServiceName(s)
		fmt.Fprintf(&b, "-A %s -s %s", name, s.SchedName)
		if s.Flags&ipvsSvcPersistent != 0 {
			fmt.Fprintf(&b, " -p %d", s.Timeout)
			if s.AddressFamily == unix.AF_INET6 {
				if s.Netmask != 128 {
					fmt.Fprintf(&b, " -M %d", s.Netmask)
				}
			} else if s.Netmask != 0xffffffff {
				fmt.Fprintf(&b, " -M %s", net.IP{byte(s.Netmask >> 24), byte(s.Netmask >> 16), byte(s.Netmask >> 8), byte(s.Netmask)})
			}
		}
		if s.Flags&ipvsSvcOnePacket != 0 {
			b.WriteString(" -o")
		}
		if fl := ipvsSchedFlags(s.Flags); fl != "" {
			b.WriteString(" -b " + fl)
		}
		b.WriteByte('\n')
		for _, d := range svcs[i].Destinations {
			fmt.Fprintf(&b, "-a %s -r %s %s -w %d", name, ipvsAddrPort(d.Address, d.Port), ipvsFwd(d.ConnectionFlags), d.Weight)
			if d.UpperThreshold != 0 {
				fmt.Fprintf(&b, " -x %d", d.UpperThreshold)
			}
			if d.LowerThreshold != 0 {
				fmt.Fprintf(&b, " -y %d", d.LowerThreshold)
			}
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// IPVS service flags (IP_VS_SVC_F_*).
const (
	ipvsSvcPersistent = 0x0001
	ipvsSvcOnePacket  = 0x0004
	ipvsSvcSchedFlag1 = 0x0008
	ipvsSvcSchedFlag2 = 0x0010
	ipvsSvcSchedFlag3 = 0x0020
)

func ipvsSchedFlags(f uint32) string {
	var out []string
	for _, x := range []struct {
		bit  uint32
		name string
	}{{ipvsSvcSchedFlag1, "flag-1"}, {ipvsSvcSchedFlag2, "flag-2"}, {ipvsSvcSchedFlag3, "flag-3"}} {
		if f&x.bit != 0 {
			out = append(out, x.name)
		}
	}
	s := ""
	for i, o := range out {
		if i > 0 {
			s += ","
		}
		s += o
	}
	return s
}

// ipvsServiceName is ipvsadm's service designation: -f MARK, -t, -u or --sctp-service ADDR:PORT.
func ipvsServiceName(s *ipvs.Service) string {
	if s.FWMark != 0 {
		return "-f " + strconv.FormatUint(uint64(s.FWMark), 10)
	}
	ap := ipvsAddrPort(s.Address, s.Port)
	switch s.Protocol {
	case unix.IPPROTO_TCP:
		return "-t " + ap
	case unix.IPPROTO_UDP:
		return "-u " + ap
	case unix.IPPROTO_SCTP:
		return "--sctp-service " + ap
	}
	return fmt.Sprintf("--protocol-%d %s", s.Protocol, ap)
}

// ipvsAddrPort prints ADDR:PORT, IPv6 in brackets.
func ipvsAddrPort(ip net.IP, port uint16) string {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return fmt.Sprintf("?:%d", port)
	}
	return netip.AddrPortFrom(a.Unmap(), port).String()
}

// ipvsFwd is ipvsadm's forwarding method switch.
func ipvsFwd(flags uint32) string {
	switch flags & ipvs.ConnFwdMask {
	case ipvs.ConnFwdTunnel:
		return "-i"
	case ipvs.ConnFwdLocalNode, ipvs.ConnFwdDirectRoute:
		return "-g"
	}
	return "-m"
}
