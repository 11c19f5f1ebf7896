package iproute

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/netsim/netsim/model/source"
)

// Rule is a routing policy rule (`ip rule`).
type Rule struct {
	Priority int
	Family   int  // 4 or 6
	Not      bool // the selector is inverted
	// Src and Dst are the selector's prefixes; the zero Prefix means "all".
	Src, Dst netip.Prefix
	FwMark   uint32
	FwMask   uint32 // 0xffffffff when the rule names a mark without a mask
	HasMark  bool
	IIf, OIf string
	// Action is lookup, goto, blackhole, unreachable, prohibit, nop or l3mdev.
	Action            string
	Table             string // for lookup
	Goto              int    // for goto
	SuppressPrefixLen int    // -1 when unset
	SuppressIfGroup   int    // -1 when unset
	TOS               string
	IPProto           string
	SPort, DPort      string
	UIDRange          string
	L3MDev            bool
	Pos               source.Pos
}

type jsonRule struct {
	Priority          int             `json:"priority"`
	Src               string          `json:"src"`
	SrcLen            *int            `json:"srclen"`
	Dst               string          `json:"dst"`
	DstLen            *int            `json:"dstlen"`
	FwMark            string          `json:"fwmark"`
	FwMask            string          `json:"fwmask"`
	IIf               string          `json:"iif"`
	OIf               string          `json:"oif"`
	Table             string          `json:"table"`
	Action            string          `json:"action"`
	Goto              *int            `json:"goto"`
	SuppressPrefixLen *int            `json:"suppress_prefixlen"`
	SuppressIfGroup   *int            `json:"suppress_ifgroup"`
	TOS               string          `json:"tos"`
	IPProto           string          `json:"ipproto"`
	SPort             json.RawMessage `json:"sport"`
	DPort             json.RawMessage `json:"dport"`
	UIDRange          string          `json:"uidrange"`
}

func selector(addr string, plen *int, fam int) (netip.Prefix, error) {
	if addr == "" || addr == "all" {
		return netip.Prefix{}, nil
	}
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return netip.Prefix{}, err
	}
	bits := a.BitLen()
	if plen != nil {
		bits = *plen
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return netip.Prefix{}, err
	}
	return p, nil
}

func parseMark(s string) (uint32, error) {
	v, err := strconv.ParseUint(s, 0, 32)
	return uint32(v), err
}

// ParseRulesJSON decodes `ip -j rule` (family 4 or 6; 0 means IPv4).
func ParseRulesJSON(f *source.File, family int) ([]Rule, error) {
	var out []Rule
	err := eachJSONEntry(f, func(raw json.RawMessage, pos source.Pos) error {
		var j jsonRule
		if err := unmarshalEntry(raw, pos, &j, "rule"); err != nil {
			return err
		}
		r := Rule{Priority: j.Priority, Not: hasKey(raw, "not"), IIf: j.IIf, OIf: j.OIf, TOS: j.TOS, IPProto: j.IPProto,
			UIDRange: j.UIDRange, L3MDev: hasKey(raw, "l3mdev"), SuppressPrefixLen: -1, SuppressIfGroup: -1, Pos: pos}
		r.Family = familyOf(family, j.Src, j.Dst)
		if r.Family == 0 {
			r.Family = 4
		}
		var err error
		if r.Src, err = selector(j.Src, j.SrcLen, r.Family); err != nil {
			return source.Errorf(pos, "rule %d: src %q: %v", j.Priority, j.Src, err)
		}
		if r.Dst, err = selector(j.Dst, j.DstLen, r.Family); err != nil {
			return source.Errorf(pos, "rule %d: dst %q: %v", j.Priority, j.Dst, err)
		}
		if j.FwMark != "" {
			r.HasMark = true
			if r.FwMark, err = parseMark(j.FwMark); err != nil {
				return source.Errorf(pos, "rule %d: fwmark %q: %v", j.Priority, j.FwMark, err)
			}
			r.FwMask = 0xffffffff
			if j.FwMask != "" {
				if r.FwMask, err = parseMark(j.FwMask); err != nil {
					return source.Errorf(pos, "rule %d: fwmask %q: %v", j.Priority, j.FwMask, err)
				}
			}
		}
		r.SPort, r.DPort = portText(j.SPort), portText(j.DPort)
		switch {
		case r.L3MDev:
			// l3mdev rules look up the table of the packet's VRF device, not a named table.
			r.Action = "l3mdev"
		case j.Goto != nil:
			r.Action, r.Goto = "goto", *j.Goto
		case j.Action != "":
			r.Action = j.Action
		default:
			r.Action, r.Table = "lookup", normTable(j.Table)
		}
		if j.SuppressPrefixLen != nil {
			r.SuppressPrefixLen = *j.SuppressPrefixLen
		}
		if j.SuppressIfGroup != nil {
			r.SuppressIfGroup = *j.SuppressIfGroup
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

func portText(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var n int
	if json.Unmarshal(raw, &n) == nil {
		return strconv.Itoa(n)
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return strings.Trim(string(raw), `"`)
}

// ParseRulesText decodes plain `ip rule` output ("100:\tfrom all fwmark 0x1/0x1 lookup 100").
func ParseRulesText(f *source.File, family int) ([]Rule, error) {
	var out []Rule
	var err error
	f.Lines(func(n int, text string) bool {
		pos := f.Pos(n)
		text = strings.TrimSpace(text)
		if text == "" {
			return true
		}
		prio, rest, ok := strings.Cut(text, ":")
		p, perr := strconv.Atoi(prio)
		if !ok || perr != nil {
			err = source.Errorf(pos, "rule: want \"PRIORITY: selector action\", found %q", truncate(text, 60))
			return false
		}
		r := Rule{Priority: p, Action: "lookup", Table: "main", SuppressPrefixLen: -1, SuppressIfGroup: -1, Pos: pos}
		fields := strings.Fields(rest)
		fam := family
		for i := 0; i+1 < len(fields); i++ {
			if fields[i] == "from" || fields[i] == "to" {
				fam = familyOf(fam, fields[i+1])
			}
		}
		if fam == 0 {
			fam = 4
		}
		r.Family = fam
		if err = parseRuleFields(&r, fields, pos); err != nil {
			return false
		}
		out = append(out, r)
		return true
	})
	return out, err
}

func parseRuleFields(r *Rule, f []string, pos source.Pos) error {
	for k := 0; k < len(f); k++ {
		w := f[k]
		val := func() (string, error) {
			if k+1 >= len(f) {
				return "", source.Errorf(pos, "rule %d: %s without a value", r.Priority, w)
			}
			k++
			return f[k], nil
		}
		switch w {
		case "not":
			r.Not = true
		case "from", "to":
			v, err := val()
			if err != nil {
				return err
			}
			var p netip.Prefix
			if v != "all" {
				pp, err := parsePrefixOrAddr(v)
				if err != nil {
					return source.Errorf(pos, "rule %d: %s %q: %v", r.Priority, w, v, err)
				}
				p = pp.Masked()
			}
			if w == "from" {
				r.Src = p
			} else {
				r.Dst = p
			}
		case "fwmark":
			v, err := val()
			if err != nil {
				return err
			}
			mark, mask, hasMask := strings.Cut(v, "/")
			r.HasMark, r.FwMask = true, 0xffffffff
			if r.FwMark, err = parseMark(mark); err != nil {
				return source.Errorf(pos, "rule %d: fwmark %q: %v", r.Priority, v, err)
			}
			if hasMask {
				if r.FwMask, err = parseMark(mask); err != nil {
					return source.Errorf(pos, "rule %d: fwmark mask %q: %v", r.Priority, v, err)
				}
			}
		case "iif", "oif", "tos", "dsfield", "ipproto", "sport", "dport", "uidrange", "realms", "protocol", "table", "lookup", "goto", "suppress_prefixlength", "suppress_ifgroup", "nat", "map-to", "pref", "priority":
			v, err := val()
			if err != nil {
				return err
			}
			switch w {
			case "iif":
				r.IIf = v
			case "oif":
				r.OIf = v
			case "tos", "dsfield":
				r.TOS = v
			case "ipproto":
				r.IPProto = v
			case "sport":
				r.SPort = v
			case "dport":
				r.DPort = v
			case "uidrange":
				r.UIDRange = v
			case "table", "lookup":
				r.Action, r.Table = "lookup", normTable(v)
				if v == "[l3mdev-table]" { // how `ip rule` prints an l3mdev rule
					r.Action, r.Table, r.L3MDev = "l3mdev", "", true
				}
			case "goto":
				g, err := strconv.Atoi(v)
				if err != nil {
					return source.Errorf(pos, "rule %d: goto %q is not a priority", r.Priority, v)
				}
				r.Action, r.Goto = "goto", g
			case "suppress_prefixlength", "suppress_ifgroup":
				num, err := strconv.Atoi(v)
				if err != nil {
					return source.Errorf(pos, "rule %d: %s %q is not a number", r.Priority, w, v)
				}
				if w == "suppress_prefixlength" {
					r.SuppressPrefixLen = num
				} else {
					r.SuppressIfGroup = num
				}
			}
		case "blackhole", "unreachable", "prohibit", "nop":
			r.Action, r.Table = w, ""
		case "l3mdev":
			r.L3MDev, r.Action, r.Table = true, "l3mdev", ""
		case "[detached]", "[unresolved]", "all":
		default:
			return source.Errorf(pos, "rule %d: unknown word %q", r.Priority, w)
		}
	}
	return nil
}

// String renders the rule like `ip rule`.
func (r *Rule) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d:\t", r.Priority)
	if r.Not {
		b.WriteString("not ")
	}
	b.WriteString("from ")
	if r.Src.IsValid() {
		b.WriteString(r.Src.String())
	} else {
		b.WriteString("all")
	}
	if r.Dst.IsValid() {
		b.WriteString(" to " + r.Dst.String())
	}
	if r.HasMark {
		if r.FwMask == 0xffffffff {
			fmt.Fprintf(&b, " fwmark %#x", r.FwMark)
		} else {
			fmt.Fprintf(&b, " fwmark %#x/%#x", r.FwMark, r.FwMask)
		}
	}
	if r.IIf != "" {
		b.WriteString(" iif " + r.IIf)
	}
	if r.OIf != "" {
		b.WriteString(" oif " + r.OIf)
	}
	switch r.Action {
	case "lookup":
		b.WriteString(" lookup " + r.Table)
	case "goto":
		fmt.Fprintf(&b, " goto %d", r.Goto)
	default:
		b.WriteString(" " + r.Action)
	}
	if r.SuppressPrefixLen >= 0 {
		fmt.Fprintf(&b, " suppress_prefixlength %d", r.SuppressPrefixLen)
	}
	return b.String()
}
