package diagnose

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/netsim/netsim/model"
	"github.com/netsim/netsim/rules/nft"
)

// nftPortRE finds "dport 8080" and "dport { 80, 443 }" in a rule as `nft list` prints it.
var nftPortRE = regexp.MustCompile(`(tcp|udp|sctp|th) dport (\{[^}]*\}|\d+)`)

// nftCounterRE is a counter statement, which matches every packet.
var nftCounterRE = regexp.MustCompile(`counter( packets \d+ bytes \d+)?`)

// iptablesTables are the tables iptables-nft writes.
var iptablesTables = map[string]bool{"filter": true, "nat": true, "mangle": true, "raw": true, "security": true}

// checkNFTFirewall reports drop and reject rules in the input and forward base chains of
// nftables tables that neither kube-proxy nor iptables-nft wrote (FIELD-GUIDE 1). Their
// conditions are read from the rule's text: only destination ports are compared, so a
// rule with other conditions is a warning.
func (r *run) checkNFTFirewall(nd *nodeDump, rs *nft.Ruleset) {
	if rs == nil {
		return
	}
	for _, t := range rs.Tables {
		if t.Name == "kube-proxy" || t.XT || (iptablesTables[t.Name] && (t.Family == "ip" || t.Family == "ip6") && nd.host.RuleFiles[model.IPTablesV4] != nil) {
			continue // kube-proxy's, or iptables-nft's: iptables-save shows those
		}
		for _, ch := range t.Order {
			if ch.Type != "filter" || (ch.Hook != "input" && ch.Hook != "forward") {
				continue
			}
			for _, ru := range ch.Rules {
				text := strings.TrimSpace(ru.Text())
				if i := strings.Index(text, " # handle"); i >= 0 {
					text = text[:i]
				}
				verb := ""
				switch {
				case strings.HasSuffix(text, "drop") || text == "drop":
					verb = "drops"
				case strings.Contains(" "+text, " reject"):
					verb = "rejects"
				default:
					continue
				}
				sev, why := r.nftHits(nd, ch.Hook, text)
				code, what := "firewall-forward-drop", "forwarded pod traffic"
				if ch.Hook == "input" {
					code, what = "firewall-input-drop", "traffic to the node"
				}
				r.add(Finding{Code: code, Severity: sev, Node: nd.name,
					Message:  fmt.Sprintf("%s: nftables %s chain %s (hook %s) %s %s: %s", nd.name, t.Key(), ch.Name, ch.Hook, verb, what, why),
					Evidence: []Evidence{at(ru.Pos, text)},
					Fix:      fmt.Sprintf("on %s: nft delete rule %s %s handle %d, or accept the cluster's traffic before it", nd.name, t.Key(), ch.Name, ru.Handle)})
			}
		}
	}
}

// parseNFT reads a node's nft.json once for the nftables checks; nil when there is none.
func parseNFT(nd *nodeDump) (*nft.Ruleset, error) {
	f := nd.host.RuleFiles[model.NFTables]
	if f == nil {
		return nil, nil
	}
	return nft.Parse(f)
}

// nftHits decides a drop rule's severity from the ports it names.
func (r *run) nftHits(nd *nodeDump, hook, text string) (Severity, string) {
	m := nftPortRE.FindStringSubmatch(text)
	rest := nftCounterRE.ReplaceAllString(nftPortRE.ReplaceAllString(text, ""), "")
	rest = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(strings.TrimSuffix(rest, "drop")), "reject"))
	sev := Error
	caveat := ""
	if rest != "" && !strings.HasPrefix(rest, "reject") {
		sev, caveat = Warning, " (depending on conditions netsim does not compare: "+rest+")"
	}
	if m == nil {
		return sev, "it matches every port" + caveat
	}
	proto := m[1]
	var hit []string
	for _, s := range strings.FieldsFunc(strings.Trim(m[2], "{}"), func(r rune) bool { return r == ',' || r == ' ' }) {
		port, err := strconv.Atoi(s)
		if err != nil {
			return Warning, "ports " + m[2] + " are not compared"
		}
		if hook == "forward" {
			for pp := range r.podPorts {
				if int(pp.port) == port && (proto == "th" || proto == pp.proto) {
					hit = append(hit, fmt.Sprintf("%d/%s", port, pp.proto))
				}
			}
			continue
		}
		for _, so := range nd.host.Sockets {
			if so.Listening() && int(so.Local.Port()) == port && (proto == "th" || proto == so.Proto) && !so.Local.Addr().IsLoopback() {
				hit = append(hit, so.String())
			}
		}
	}
	if len(hit) == 0 {
		return Warning, "nothing the bundle shows serves the ports it matches, so it may be intended"
	}
	if hook == "forward" {
		return sev, "pods serve " + listSome(dedup(hit), 5) + caveat
	}
	return sev, "the node listens there: " + listSome(dedup(hit), 3) + caveat
}
