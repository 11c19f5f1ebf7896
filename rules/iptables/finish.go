package iptables

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// finishConds folds the options of modules whose options work together (addrtype,
// statistic, rpfilter, set's flags) into one condition each.
func (r *Rule) finishConds() error {
	folds := false
	for _, c := range r.Conds {
		switch c.Module {
		case "addrtype", "statistic", "rpfilter", "set", "socket", "ipvs":
			folds = true
		}
	}
	if !folds {
		return nil
	}
	var out []Cond
	for i := 0; i < len(r.Conds); i++ {
		c := r.Conds[i]
		// The options of one -m instance.
		j := i + 1
		for j < len(r.Conds) && r.Conds[j].group == c.group && c.group != 0 {
			j++
		}
		group := r.Conds[i:j]
		switch c.Module {
		case "addrtype":
			var m addrTypeMatch
			for _, g := range group {
				switch p := g.pred.(type) {
				case addrTypeMatch:
					if p.src != 0 {
						m.src, m.srcNeg = p.src, g.Neg
					}
					if p.dst != 0 {
						m.dst, m.dstNeg = p.dst, g.Neg
					}
				case addrTypeLimit:
					m.limitIn, m.limitOut = !p.out, p.out
				}
			}
			out = append(out, Cond{Module: "addrtype", Option: joinOpts(group), pred: m, group: c.group})
			i = j - 1
		case "statistic":
			desc, err := statisticDesc(group)
			if err != nil {
				return err
			}
			out = append(out, Cond{Module: "statistic", Option: joinOpts(group), pred: statisticMatch{desc}, group: c.group})
			i = j - 1
		case "rpfilter":
			var m rpfilterMatch
			for _, g := range group {
				switch g.Option {
				case "--loose":
					m.loose = true
				case "--validmark":
					m.validMark = true
				case "--accept-local":
					m.acceptLocal = true
				case "--invert":
					m.invert = true
				}
			}
			out = append(out, Cond{Module: "rpfilter", Option: joinOpts(group), pred: m, group: c.group})
			i = j - 1
		case "socket":
			var m socketMatch
			for _, g := range group {
				switch g.Option {
				case "--transparent":
					m.transparent = true
				case "--nowildcard":
					m.nowildcard = true
				}
			}
			out = append(out, Cond{Module: "socket", Option: joinOpts(group), pred: m, group: c.group})
			i = j - 1
		case "ipvs":
			m, err := foldIPVS(group)
			if err != nil {
				return err
			}
			if m == nil {
				out = append(out, group...)
			} else {
				out = append(out, Cond{Module: "ipvs", Option: joinOpts(group), pred: m, group: c.group})
			}
			i = j - 1
		case "set":
			for _, g := range group {
				if f, ok := g.pred.(setFlag); ok && f.returnNomatch {
					for k := len(out) - 1; k >= 0; k-- {
						if sm, ok := out[k].pred.(setMatch); ok {
							sm.returnNomatch = true
							out[k].pred = sm
							break
						}
					}
					continue
				}
				out = append(out, g)
			}
			i = j - 1
		default:
			out = append(out, c)
		}
	}
	r.Conds = out
	return nil
}

func joinOpts(cs []Cond) string {
	var parts []string
	for _, c := range cs {
		s := c.Option
		if c.Neg {
			s = "! " + s
		}
		if len(c.Args) > 0 {
			s += " " + strings.Join(c.Args, " ")
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

func statisticDesc(group []Cond) (string, error) {
	opts := map[string]string{}
	for _, g := range group {
		if so, ok := g.pred.(statisticOpt); ok {
			opts[so.option] = so.arg
		}
	}
	switch opts["--mode"] {
	case "random":
		p, err := strconv.ParseFloat(opts["--probability"], 64)
		if err != nil || p < 0 || p > 1 {
			return "", fmt.Errorf("-m statistic --probability %q", opts["--probability"])
		}
		return fmt.Sprintf("statistic random %.5f", p), nil
	case "nth":
		every, err := strconv.Atoi(opts["--every"])
		if err != nil || every < 1 {
			return "", fmt.Errorf("-m statistic --every %q", opts["--every"])
		}
		return fmt.Sprintf("statistic nth every %d packet %s", every, opts["--packet"]), nil
	}
	return "", fmt.Errorf("-m statistic --mode %q (want random or nth)", opts["--mode"])
}

// compileTarget reads the target and its options into their typed form.
func (r *Rule) compileTarget(ipv6 bool) error {
	t := &r.Target
	opts := map[string][]string{}
	for i := 0; i < len(t.Args); i++ {
		if strings.HasPrefix(t.Args[i], "--") {
			var vals []string
			for i+1 < len(t.Args) && !strings.HasPrefix(t.Args[i+1], "--") {
				vals = append(vals, t.Args[i+1])
				i++
			}
			opts[t.Args[i-len(vals)]] = vals
		}
	}
	one := func(name string) string {
		if v := opts[name]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	if t.Kind == TGoto {
		return nil
	}
	switch t.Name {
	case "":
		t.Kind = TNone
	case "ACCEPT":
		t.Kind = TAccept
	case "DROP":
		t.Kind = TDrop
	case "RETURN":
		t.Kind = TReturn
	case "REJECT":
		t.Kind, t.RejectWith = TReject, one("--reject-with")
		if t.RejectWith == "" {
			t.RejectWith = "icmp-port-unreachable"
			if ipv6 {
				t.RejectWith = "icmp6-port-unreachable"
			}
		}
	case "MARK":
		t.Kind = TMark
		return markOp(t, opts)
	case "CONNMARK":
		t.Kind = TConnmark
		if _, ok := opts["--save-mark"]; ok {
			t.ConnmarkSave = true
		}
		if _, ok := opts["--restore-mark"]; ok {
			t.ConnmarkRestore = true
		}
		if t.ConnmarkSave || t.ConnmarkRestore {
			t.NfMask, t.CtMask = 0xffffffff, 0xffffffff
			for name, dst := range map[string]*uint32{"--nfmask": &t.NfMask, "--ctmask": &t.CtMask, "--mask": nil} {
				if v := one(name); v != "" {
					x, err := strconv.ParseUint(v, 0, 32)
					if err != nil {
						return fmt.Errorf("CONNMARK %s %q", name, v)
					}
					if dst == nil {
						t.NfMask, t.CtMask = uint32(x), uint32(x)
					} else {
						*dst = uint32(x)
					}
				}
			}
			return nil
		}
		return markOp(t, opts)
	case "DNAT", "SNAT":
		t.Kind = map[string]TargetKind{"DNAT": TDNAT, "SNAT": TSNAT}[t.Name]
		spec := one("--to-destination")
		if t.Kind == TSNAT {
			spec = one("--to-source")
		}
		if spec == "" {
			return fmt.Errorf("%s without --to-%s", t.Name, map[TargetKind]string{TDNAT: "destination", TSNAT: "source"}[t.Kind])
		}
		rg, err := parseNATRange(spec, ipv6)
		if err != nil {
			return fmt.Errorf("%s %s: %v", t.Name, spec, err)
		}
		t.NAT = []NATRange{rg}
	case "MASQUERADE", "REDIRECT":
		t.Kind = map[string]TargetKind{"MASQUERADE": TMasquerade, "REDIRECT": TRedirect}[t.Name]
		if p := one("--to-ports"); p != "" {
			rg, err := parsePortRanges(p, "-")
			if err != nil || len(rg) != 1 {
				return fmt.Errorf("%s --to-ports %q", t.Name, p)
			}
			t.NAT = []NATRange{{MinPort: rg[0].lo, MaxPort: rg[0].hi}}
		}
	case "NOTRACK":
		t.Kind = TNotrack
	case "CT":
		t.Kind = TCT
		if _, ok := opts["--notrack"]; ok {
			t.Kind = TNotrack
		}
	case "TPROXY":
		t.Kind = TTProxy
		p, err := parsePort(one("--on-port"), 0)
		if err != nil {
			return fmt.Errorf("TPROXY --on-port: %v", err)
		}
		t.TProxyPort = p
		if ip := one("--on-ip"); ip != "" {
			a, err := netip.ParseAddr(ip)
			if err != nil {
				return fmt.Errorf("TPROXY --on-ip: %v", err)
			}
			t.TProxyIP = a
		}
		if v := one("--tproxy-mark"); v != "" {
			x, m, err := parseMark(v)
			if err != nil {
				return err
			}
			t.MarkXor, t.MarkMask = x, m
		}
	case "LOG", "NFLOG", "ULOG", "TCPMSS", "CHECKSUM", "TRACE", "AUDIT", "CLASSIFY", "DSCP", "TOS", "TTL", "HL", "ECN", "IDLETIMER", "LED", "SECMARK", "CONNSECMARK", "RATEEST", "TEE", "SET", "SYNPROXY", "NETMAP", "HMARK":
		t.Kind = TContinue
		switch t.Name {
		case "NETMAP", "HMARK", "SYNPROXY", "TEE":
			t.Kind = TUnknown // these change the packet or its fate in ways netsim does not model
		}
	case "NFQUEUE", "QUEUE":
		t.Kind = TUnknown // a userspace program decides
	default:
		t.Kind, t.Chain = TJump, t.Name
		if strings.ToUpper(t.Name) == t.Name && !strings.Contains(t.Name, "-") && len(t.Args) > 0 {
			// An extension target with options that netsim does not know.
			t.Kind, t.Chain = TUnknown, ""
		}
	}
	return nil
}

// markOp converts every MARK/CONNMARK spelling to the kernel's (old & ^mask) ^ xor.
func markOp(t *Target, opts map[string][]string) error {
	get := func(name string) (uint32, uint32, bool, error) {
		v, ok := opts[name]
		if !ok || len(v) == 0 {
			return 0, 0, false, nil
		}
		x, m, err := parseMark(v[0])
		return x, m, true, err
	}
	if x, m, ok, err := get("--set-xmark"); ok || err != nil {
		t.MarkXor, t.MarkMask = x, m
		return err
	}
	if x, m, ok, err := get("--set-mark"); ok || err != nil {
		// --set-mark v/m is --set-xmark v/(m|v)... the kernel: new = (old & ~m) | v.
		t.MarkXor, t.MarkMask = x, m|x
		return err
	}
	if x, _, ok, err := get("--and-mark"); ok || err != nil {
		t.MarkXor, t.MarkMask = 0, ^x
		return err
	}
	if x, _, ok, err := get("--or-mark"); ok || err != nil {
		t.MarkXor, t.MarkMask = x, x
		return err
	}
	if x, _, ok, err := get("--xor-mark"); ok || err != nil {
		t.MarkXor, t.MarkMask = x, 0
		return err
	}
	return fmt.Errorf("%s without a mark operation", t.Name)
}

// parseNATRange reads [ip[-ip]][:port[-port]] ([ip6]:port for IPv6).
func parseNATRange(s string, ipv6 bool) (NATRange, error) {
	var r NATRange
	addrPart, portPart := s, ""
	if ipv6 {
		if strings.HasPrefix(s, "[") {
			end := strings.Index(s, "]")
			if end < 0 {
				return r, fmt.Errorf("unclosed [")
			}
			addrPart = s[1:end]
			portPart = strings.TrimPrefix(s[end+1:], ":")
		}
	} else if i := strings.Index(s, ":"); i >= 0 {
		addrPart, portPart = s[:i], s[i+1:]
	}
	if addrPart != "" {
		lo, hi, isRange := strings.Cut(addrPart, "-")
		a, err := netip.ParseAddr(lo)
		if err != nil {
			return r, err
		}
		b := a
		if isRange {
			if b, err = netip.ParseAddr(hi); err != nil {
				return r, err
			}
		}
		r.MinAddr, r.MaxAddr = a, b
	}
	if portPart != "" {
		pr, err := parsePortRanges(portPart, "-")
		if err != nil || len(pr) != 1 {
			return r, fmt.Errorf("ports %q", portPart)
		}
		r.MinPort, r.MaxPort = pr[0].lo, pr[0].hi
	}
	return r, nil
}
