package diagnose

import (
	"fmt"
	"sort"
	"strings"

	"github.com/netsim/netsim/rules/iptables"
)

// shadowPair is a rule no packet can reach, and the earlier rule that takes all its packets.
type shadowPair struct {
	table, chain     string
	line, byLine     int
	text, byText     string
	target, byTarget string
}

// maxShadowChain bounds the rules compared in one chain: the analysis is quadratic in a
// chain's length, and chains not written by Kubernetes are short.
const maxShadowChain = 5000

// shadowed finds, in every chain not written by Kubernetes or a policy enforcer, the rules
// that an earlier rule with a terminal target (ACCEPT, DROP, REJECT, RETURN) makes
// unreachable: the earlier rule matches every packet the later one does. Only conditions
// that can be compared exactly count (addresses, protocol, ports, interfaces, and
// conditions identical in both); any other condition on the earlier rule means it is not
// known to match a superset.
func shadowed(rs *iptables.Ruleset) []shadowPair {
	var out []shadowPair
	for _, tname := range sortedKeys(rs.Tables) {
		t := rs.Tables[tname]
		for _, cname := range sortedKeys(t.Chains) {
			ch := t.Chains[cname]
			if k8sChain(cname) || len(ch.Rules) > maxShadowChain {
				continue
			}
			var earlier []struct {
				ru *iptables.Rule
				m  match
			}
			for _, ru := range ch.Rules {
				m := parseMatch(ru)
				for _, e := range earlier {
					if e.m.covers(m) {
						out = append(out, shadowPair{table: tname, chain: cname, line: ru.Pos.Line, byLine: e.ru.Pos.Line,
							text: strings.Clone(ru.Text), byText: strings.Clone(e.ru.Text), target: ru.Target.Name, byTarget: e.ru.Target.Name})
						break
					}
				}
				if terminal(ru.Target) {
					earlier = append(earlier, struct {
						ru *iptables.Rule
						m  match
					}{ru, m})
				}
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].line < out[j].line })
	return out
}

// reportShadows turns a node's shadowed rules into findings: a warning when the hidden
// rule would have done something else (its intent is lost), info when it is redundant.
func (r *run) reportShadows(nd *nodeDump, file string, pairs []shadowPair) {
	for _, p := range pairs {
		sev, what := Warning, "its intent is lost"
		if p.target == p.byTarget {
			sev, what = Info, "it is redundant"
		}
		target := p.target
		if target == "" {
			target = "(no target)"
		}
		r.add(Finding{Code: "iptables-rule-shadowed", Severity: sev, Node: nd.name,
			Message: fmt.Sprintf("%s %s/%s: the rule at line %d (-j %s) is never reached: the rule at line %d matches every packet it matches and ends with -j %s; %s",
				nd.name, p.table, p.chain, p.line, target, p.byLine, p.byTarget, what),
			Evidence: []Evidence{at(nodeFilePos(file, p.line), p.text), at(nodeFilePos(file, p.byLine), p.byText)},
			Fix:      fmt.Sprintf("on %s: move the rule at line %d above line %d, narrow the earlier rule, or delete the unreachable one", nd.name, p.line, p.byLine)})
	}
}
