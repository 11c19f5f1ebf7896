package importer

import (
	"fmt"
	"sort"
	"strings"

	"github.com/netsim/netsim/model/source"
)

// builtinChains are the built-in chains of each iptables table; `iptables -S` prints
// their policies first, which is how a section's table is recognised.
var builtinChains = map[string][]string{
	"raw":    {"OUTPUT", "PREROUTING"},
	"nat":    {"INPUT", "OUTPUT", "POSTROUTING", "PREROUTING"},
	"filter": {"FORWARD", "INPUT", "OUTPUT"},
	"mangle": {"FORWARD", "INPUT", "OUTPUT", "POSTROUTING", "PREROUTING"},
}

type sSection struct {
	policies []string // "-P CHAIN POLICY" lines
	chains   []string
	rules    []string
	start    int
}

// ConvertIPTablesS turns `iptables -S` output (one or more tables, as printed by
// `iptables -S; iptables -t nat -S; ...`) into iptables-save form. Each section's table
// is recognised by its built-in chains; a section without policies (`iptables -S CHAIN`)
// cannot be placed in a table and is an error.
func ConvertIPTablesS(f *source.File, sourceName string) ([]byte, error) {
	var secs []*sSection
	var cur *sSection
	var err error
	f.Lines(func(n int, text string) bool {
		t := strings.TrimSpace(text)
		if t == "" || strings.HasPrefix(t, "#") {
			return true
		}
		switch {
		case strings.HasPrefix(t, "-P "):
			if cur == nil || len(cur.chains)+len(cur.rules) > 0 {
				cur = &sSection{start: n}
				secs = append(secs, cur)
			}
			cur.policies = append(cur.policies, t)
		case strings.HasPrefix(t, "-N "), strings.HasPrefix(t, "-A "):
			if cur == nil {
				cur = &sSection{start: n}
				secs = append(secs, cur)
			}
			if t[1] == 'N' {
				cur.chains = append(cur.chains, strings.TrimSpace(t[3:]))
			} else {
				cur.rules = append(cur.rules, t)
			}
		default:
			err = source.Errorf(f.Pos(n), "want an iptables -S line (-P, -N or -A), found %q", trunc(t))
			return false
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Converted by netsim import from %s (iptables -S): line numbers are this file's\n", sourceName)
	seen := map[string]bool{}
	for _, s := range secs {
		var builtins []string
		for _, p := range s.policies {
			fields := strings.Fields(p)
			if len(fields) != 3 {
				return nil, source.Errorf(f.Pos(s.start), "policy line %q: want -P CHAIN POLICY", p)
			}
			builtins = append(builtins, fields[1])
		}
		sort.Strings(builtins)
		table := ""
		for name, chains := range builtinChains {
			if strings.Join(chains, ",") == strings.Join(builtins, ",") {
				table = name
			}
		}
		if table == "" {
			return nil, source.Errorf(f.Pos(s.start), "cannot tell which table this iptables -S section is (built-in chains %v); attach iptables-save", builtins)
		}
		if seen[table] {
			return nil, source.Errorf(f.Pos(s.start), "table %s appears twice", table)
		}
		seen[table] = true
		fmt.Fprintf(&b, "*%s\n", table)
		for _, p := range s.policies {
			fields := strings.Fields(p)
			fmt.Fprintf(&b, ":%s %s [0:0]\n", fields[1], fields[2])
		}
		for _, c := range s.chains {
			fmt.Fprintf(&b, ":%s - [0:0]\n", c)
		}
		for _, r := range s.rules {
			b.WriteString(r + "\n")
		}
		b.WriteString("COMMIT\n")
	}
	return []byte(b.String()), nil
}

// ConvertIPVSList turns `ipvsadm -Ln` output into `ipvsadm -Sn` form.
func ConvertIPVSList(f *source.File, sourceName string) ([]byte, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "# Converted by netsim import from %s (ipvsadm -Ln): line numbers are this file's\n", sourceName)
	var svc string // "-t 10.96.0.1:443"
	var err error
	f.Lines(func(n int, text string) bool {
		t := strings.TrimSpace(text)
		fields := strings.Fields(t)
		switch {
		case t == "" || strings.HasPrefix(t, "IP Virtual Server") || strings.HasPrefix(t, "Prot ") || strings.HasPrefix(t, "-> RemoteAddress"):
		case len(fields) >= 3 && (fields[0] == "TCP" || fields[0] == "UDP" || fields[0] == "SCTP" || fields[0] == "FWM"):
			flag := map[string]string{"TCP": "-t", "UDP": "-u", "SCTP": "--sctp-service", "FWM": "-f"}[fields[0]]
			svc = flag + " " + fields[1]
			line := "-A " + svc + " -s " + fields[2]
			for k := 3; k < len(fields); k++ {
				switch fields[k] {
				case "persistent":
					if k+1 < len(fields) {
						line += " -p " + fields[k+1]
						k++
					}
				case "mask":
					if k+1 < len(fields) {
						line += " -M " + fields[k+1]
						k++
					}
				case "ops":
					line += " -o"
				}
			}
			b.WriteString(line + "\n")
		case len(fields) >= 3 && fields[0] == "->":
			if svc == "" {
				err = source.Errorf(f.Pos(n), "real server before any virtual service")
				return false
			}
			method := map[string]string{"Masq": "-m", "Route": "-g", "Local": "-g", "Tunnel": "-i"}[fields[2]]
			if method == "" {
				err = source.Errorf(f.Pos(n), "unknown forwarding method %q (want Masq, Route, Local or Tunnel)", fields[2])
				return false
			}
			weight := "1"
			if len(fields) > 3 {
				weight = fields[3]
			}
			fmt.Fprintf(&b, "-a %s -r %s %s -w %s\n", svc, fields[1], method, weight)
		default:
			err = source.Errorf(f.Pos(n), "want an ipvsadm -Ln line, found %q", trunc(t))
			return false
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	return []byte(b.String()), nil
}

func trunc(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}
