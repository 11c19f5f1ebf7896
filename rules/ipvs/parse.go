package ipvs

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/netsim/netsim/model/source"
)

// Parse reads IPVS state in any of the forms netsim knows, deciding the form from the
// text: `ipvsadm -Sn` (what CONTRACT §3 puts in ipvs.txt and what netsim collect
// writes), `ipvsadm -Ln` with or without --stats/--rate, or /proc/net/ip_vs. An empty
// file is an empty table (no virtual services). Errors name the file and line.
func Parse(f *source.File) (*Table, error) {
	t := &Table{File: f}
	p := &parser{f: f, t: t}
	f.Lines(func(n int, text string) bool {
		p.err = p.line(n, text)
		return p.err == nil
	})
	if p.err != nil {
		return nil, p.err
	}
	if t.Form == "" {
		t.Form = FormSave
	}
	t.index()
	return t, nil
}

type parser struct {
	f   *source.File
	t   *Table
	cur *Service
	err error
	// fields is the current line's fields (fieldsOf reuses it); reals and svcs are
	// slabs the parsed values are carved from, so a 40,000-line dump allocates little.
	fields []string
	reals  []Real
	svcs   []Service
	ptrs   []*Real
}

// fieldsOf splits a line at spaces and tabs like strings.Fields, into a reused slice.
func (p *parser) fieldsOf(t string) []string {
	f := p.fields[:0]
	for i := 0; i < len(t); {
		for i < len(t) && (t[i] == ' ' || t[i] == '\t') {
			i++
		}
		j := i
		for j < len(t) && t[j] != ' ' && t[j] != '\t' {
			j++
		}
		if j > i {
			f = append(f, t[i:j])
		}
		i = j
	}
	p.fields = f
	return f
}

func (p *parser) newReal() *Real {
	if len(p.reals) == 0 {
		p.reals = make([]Real, 256)
	}
	r := &p.reals[0]
	p.reals = p.reals[1:]
	return r
}

func (p *parser) newService() *Service {
	if len(p.svcs) == 0 {
		p.svcs = make([]Service, 64)
	}
	s := &p.svcs[0]
	p.svcs = p.svcs[1:]
	return s
}

// realsSlice is room for a service's first four real servers (kube-proxy's usual count);
// more grow it as append does.
func (p *parser) realsSlice() []*Real {
	if len(p.ptrs) < 4 {
		p.ptrs = make([]*Real, 1024)
	}
	r := p.ptrs[0:0:4]
	p.ptrs = p.ptrs[4:]
	return r
}

func (p *parser) errorf(n int, format string, args ...any) error {
	return source.Errorf(p.f.Pos(n), format, args...)
}

func (p *parser) setForm(n int, form Form) error {
	if p.t.Form == "" {
		p.t.Form = form
		return nil
	}
	if p.t.Form != form && !(p.t.Form == FormList && form == FormStats) {
		return p.errorf(n, "want a line of %s (as the file began), found one of %s", p.t.Form, form)
	}
	return nil
}

func (p *parser) line(n int, text string) error {
	t := strings.TrimSpace(text)
	if t == "" || strings.HasPrefix(t, "#") {
		return nil
	}
	fields := p.fieldsOf(t)
	switch {
	case fields[0] == "-A" || fields[0] == "-a" || fields[0] == "--add-service" || fields[0] == "--add-server":
		if err := p.setForm(n, FormSave); err != nil {
			return err
		}
		return p.saveLine(n, t, fields)
	case strings.HasPrefix(t, "IP Virtual Server version"):
		return nil
	case fields[0] == "Prot":
		// The header says which listing this is.
		if len(fields) > 2 && (fields[2] == "Conns" || fields[2] == "CPS") {
			p.t.Form = FormStats
		}
		return nil
	case fields[0] == "->" && len(fields) >= 2 && (fields[1] == "RemoteAddress:Port"):
		return nil
	case fields[0] == "->":
		return p.listReal(n, t, fields)
	case fields[0] == "TCP" || fields[0] == "UDP" || fields[0] == "SCTP" || fields[0] == "FWM":
		return p.listService(n, t, fields)
	}
	return p.errorf(n, "want an ipvsadm -Sn line (-A/-a ...), an ipvsadm -Ln line or a /proc/net/ip_vs line, found %q", short(t))
}

// saveLine reads one `ipvsadm -Sn` command: -A (a virtual service) or -a (a real server).
func (p *parser) saveLine(n int, text string, f []string) error {
	isSvc := f[0] == "-A" || f[0] == "--add-service"
	var svc Service
	// ipvsadm's defaults for a real server: gatewaying, weight 1.
	r := Real{Weight: 1, WeightKnown: true, Method: Route, Pos: p.f.Pos(n), Text: text}
	var realAddr string
	seenSvc := false
	for i := 1; i < len(f); i++ {
		opt := f[i]
		arg := func() (string, error) {
			if i+1 >= len(f) {
				return "", p.errorf(n, "%s wants a value", opt)
			}
			i++
			return f[i], nil
		}
		switch opt {
		case "-t", "--tcp-service", "-u", "--udp-service", "--sctp-service":
			v, err := arg()
			if err != nil {
				return err
			}
			ap, err := parseAddrPort(v)
			if err != nil {
				return p.errorf(n, "%s %q: want ADDRESS:PORT with a numeric address and port (ipvsadm -n)", opt, v)
			}
			switch opt {
			case "-t", "--tcp-service":
				svc.Proto = 6
			case "-u", "--udp-service":
				svc.Proto = 17
			default:
				svc.Proto = 132
			}
			svc.Addr, seenSvc = ap, true
		case "-f", "--fwmark-service":
			v, err := arg()
			if err != nil {
				return err
			}
			m, err := strconv.ParseUint(v, 0, 32)
			if err != nil {
				return p.errorf(n, "%s %q: want a firewall mark number", opt, v)
			}
			svc.FWMark, seenSvc = uint32(m), true
		case "-6", "--ipv6":
			svc.V6 = true
		case "-s", "--scheduler":
			v, err := arg()
			if err != nil {
				return err
			}
			svc.Scheduler = v
		case "-p", "--persistent":
			svc.Persistent, svc.Timeout = true, 300
			if i+1 < len(f) && !strings.HasPrefix(f[i+1], "-") {
				v, _ := arg()
				t, err := strconv.Atoi(v)
				if err != nil || t < 0 {
					return p.errorf(n, "%s %q: want a timeout in seconds", opt, v)
				}
				svc.Timeout = t
			}
		case "-M", "--netmask":
			v, err := arg()
			if err != nil {
				return err
			}
			svc.Netmask = v
		case "-o", "--ops":
			svc.OnePacket = true
		case "-b", "--sched-flags":
			v, err := arg()
			if err != nil {
				return err
			}
			svc.SchedFlags = v
		case "--pe", "-j", "--tun-type", "--tun-port", "--tun-nocsum", "--tun-csum", "--tun-remcsum":
			// Persistence engines and tunnel encapsulation details: not needed to decide.
			if opt != "--tun-nocsum" && opt != "--tun-csum" && opt != "--tun-remcsum" {
				if _, err := arg(); err != nil {
					return err
				}
			}
		case "-r", "--real-server":
			v, err := arg()
			if err != nil {
				return err
			}
			realAddr = v
		case "-g", "--gatewaying":
			r.Method = Route
		case "-m", "--masquerading":
			r.Method = Masq
		case "-i", "--ipip":
			r.Method = Tunnel
		case "-w", "--weight":
			v, err := arg()
			if err != nil {
				return err
			}
			w, err := strconv.Atoi(v)
			if err != nil || w < 0 {
				return p.errorf(n, "%s %q: want a weight (0 or more)", opt, v)
			}
			r.Weight = w
		case "-x", "--u-threshold", "-y", "--l-threshold":
			if _, err := arg(); err != nil {
				return err
			}
		default:
			return p.errorf(n, "unknown ipvsadm option %q", short(opt))
		}
	}
	if !seenSvc {
		return p.errorf(n, "want the virtual service (-t, -u, --sctp-service ADDRESS:PORT or -f MARK)")
	}
	if isSvc {
		s := p.newService()
		*s = svc
		s.Pos, s.Text, s.Reals = p.f.Pos(n), text, p.realsSlice()
		if s.Proto != 0 {
			s.V6 = s.Addr.Addr().Is6()
		}
		p.t.Services = append(p.t.Services, s)
		return nil
	}
	owner := p.find(&svc)
	if owner == nil {
		return p.errorf(n, "real server for %s, which no earlier -A line adds", (&svc).Key())
	}
	if realAddr == "" {
		return p.errorf(n, "want -r ADDRESS[:PORT]")
	}
	ap, err := parseRealAddr(realAddr, owner.Addr.Port())
	if err != nil {
		return p.errorf(n, "-r %q: want a numeric ADDRESS[:PORT]", realAddr)
	}
	r.Addr = ap
	rp := p.newReal()
	*rp = r
	owner.Reals = append(owner.Reals, rp)
	return nil
}

func (p *parser) find(s *Service) *Service {
	for i := len(p.t.Services) - 1; i >= 0; i-- {
		o := p.t.Services[i]
		if o.Proto == s.Proto && o.Addr == s.Addr && o.FWMark == s.FWMark && (s.Proto != 0 || o.V6 == s.V6) {
			return o
		}
	}
	return nil
}

// listService reads a service line of ipvsadm -Ln (plain, --stats or --rate) or of
// /proc/net/ip_vs: "TCP  10.96.0.1:443 rr", "TCP  0A600001:01BB rr", "FWM  5 rr".
func (p *parser) listService(n int, text string, f []string) error {
	if len(f) < 2 {
		return p.errorf(n, "want PROTOCOL ADDRESS:PORT after %q", f[0])
	}
	s := &Service{Pos: p.f.Pos(n), Text: text}
	form := FormList
	if f[0] == "FWM" {
		m, err := strconv.ParseUint(f[1], 10, 32)
		if err != nil {
			hm, herr := strconv.ParseUint(f[1], 16, 32)
			if herr != nil || len(f[1]) != 8 {
				return p.errorf(n, "FWM %q: want a firewall mark", f[1])
			}
			m, form = hm, FormProc
		}
		if len(f[1]) == 8 && p.t.Form == FormProc {
			hm, _ := strconv.ParseUint(f[1], 16, 32)
			m, form = hm, FormProc
		}
		s.FWMark = uint32(m)
	} else {
		s.Proto = map[string]uint8{"TCP": 6, "UDP": 17, "SCTP": 132}[f[0]]
		ap, err := parseAddrPort(f[1])
		if err != nil {
			ap, err = parseProcAddr(f[1])
			if err != nil {
				return p.errorf(n, "%q: want a numeric ADDRESS:PORT (ipvsadm -n) or /proc/net/ip_vs's hex form", short(f[1]))
			}
			form = FormProc
		}
		s.Addr, s.V6 = ap, ap.Addr().Is6()
	}
	rest := f[2:]
	if p.t.Form == FormStats || len(rest) > 0 && isCount(rest[0]) {
		form = FormStats
		rest = nil
	}
	if err := p.setForm(n, form); err != nil {
		return err
	}
	if len(rest) > 0 {
		s.Scheduler = rest[0]
		for k := 1; k < len(rest); k++ {
			switch {
			case rest[k] == "persistent" && k+1 < len(rest):
				t, err := strconv.Atoi(rest[k+1])
				if err != nil {
					return p.errorf(n, "persistent %q: want seconds", rest[k+1])
				}
				s.Persistent, s.Timeout = true, t
				k++
			case rest[k] == "persistent":
				s.Persistent, s.Timeout = true, 300
			case rest[k] == "mask" && k+1 < len(rest):
				s.Netmask = rest[k+1]
				k++
			case rest[k] == "pe" && k+1 < len(rest):
				k++
			case rest[k] == "ops":
				s.OnePacket = true
			case strings.HasPrefix(rest[k], "flag-") || strings.HasPrefix(rest[k], "("):
				s.SchedFlags = strings.Trim(rest[k], "()")
			default:
				return p.errorf(n, "unknown virtual service flag %q", short(rest[k]))
			}
		}
	}
	p.t.Services = append(p.t.Services, s)
	p.cur = s
	return nil
}

// listReal reads a real server line: "-> 10.244.1.2:8080 Masq 1 0 0" (-Ln, /proc) or
// "-> 10.244.1.2:8080 0 0 0 0 0" (--stats, --rate: no method or weight).
func (p *parser) listReal(n int, text string, f []string) error {
	if p.cur == nil {
		return p.errorf(n, "real server before any virtual service")
	}
	if len(f) < 2 {
		return p.errorf(n, "want -> ADDRESS:PORT")
	}
	ap, err := parseAddrPort(f[1])
	if err != nil {
		if ap, err = parseProcAddr(f[1]); err != nil {
			return p.errorf(n, "%q: want a numeric ADDRESS:PORT (ipvsadm -n) or /proc/net/ip_vs's hex form", short(f[1]))
		}
	}
	r := &Real{Addr: ap, Pos: p.f.Pos(n), Text: text}
	if p.t.Form != FormStats && len(f) >= 4 && !isCount(f[2]) {
		m, ok := map[string]Method{"Masq": Masq, "Route": Route, "Local": Local, "Tunnel": Tunnel}[f[2]]
		if !ok {
			return p.errorf(n, "unknown forwarding method %q (want Masq, Route, Local or Tunnel)", short(f[2]))
		}
		w, err := strconv.Atoi(f[3])
		if err != nil || w < 0 {
			return p.errorf(n, "weight %q: want a number", short(f[3]))
		}
		r.Method, r.Weight, r.WeightKnown = m, w, true
	}
	p.cur.Reals = append(p.cur.Reals, r)
	return nil
}

// isCount reports whether a field is one of --stats/--rate's counters (123, 4K, 5M).
func isCount(s string) bool {
	s = strings.TrimRight(s, "KMGT")
	_, err := strconv.ParseUint(s, 10, 64)
	return err == nil
}

func parseAddrPort(s string) (netip.AddrPort, error) {
	return netip.ParseAddrPort(s)
}

// parseRealAddr reads -r's ADDRESS[:PORT]; without a port the service's is used.
func parseRealAddr(s string, port uint16) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap, nil
	}
	a, err := netip.ParseAddr(strings.Trim(s, "[]"))
	if err != nil {
		return netip.AddrPort{}, err
	}
	return netip.AddrPortFrom(a, port), nil
}

// parseProcAddr reads /proc/net/ip_vs's "0A600001:01BB" (IPv4, host order as printed)
// or "[fd00:0000:...:0001]:0050" (IPv6).
func parseProcAddr(s string) (netip.AddrPort, error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 || len(s)-i-1 != 4 {
		return netip.AddrPort{}, fmt.Errorf("not a /proc/net/ip_vs address")
	}
	port, err := strconv.ParseUint(s[i+1:], 16, 16)
	if err != nil {
		return netip.AddrPort{}, err
	}
	host := s[:i]
	if strings.HasPrefix(host, "[") {
		a, err := netip.ParseAddr(strings.Trim(host, "[]"))
		if err != nil {
			return netip.AddrPort{}, err
		}
		return netip.AddrPortFrom(a, uint16(port)), nil
	}
	if len(host) != 8 {
		return netip.AddrPort{}, fmt.Errorf("not a /proc/net/ip_vs address")
	}
	b, err := hex.DecodeString(host)
	if err != nil {
		return netip.AddrPort{}, err
	}
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b)), uint16(port)), nil
}

func short(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

func itoa(i int) string { return strconv.Itoa(i) }

func protoName(p uint8) string {
	switch p {
	case 6:
		return "TCP"
	case 17:
		return "UDP"
	case 132:
		return "SCTP"
	}
	return "proto " + itoa(int(p))
}
