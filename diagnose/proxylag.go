package diagnose

import (
	"fmt"
	"net/netip"
	"sort"
)

// proxyRules is one node's kube-proxy rules, in iptables or nftables mode, as far as the
// comparison with the API objects needs them.
type proxyRules interface {
	// translates says whether the rules send a Service port on, and to which chain ("" when
	// the rule names no endpoint chain to follow).
	translates(k svcKey) (chain string, ok bool)
	// refuses says whether the rules list the port as having no endpoints (REJECT or DROP).
	refuses(k svcKey) bool
	// endpoints are the DNAT destinations a chain chooses among.
	endpoints(chain string) []kpEndpoint
	// local says whether a chain serves only the node's own endpoints (traffic policy Local).
	local(chain string) bool
	endpointEv(ep kpEndpoint) Evidence
	// chainEv cites a chain, where the rules can.
	chainEv(chain string) (Evidence, bool)
}

// proxyTerms are the words a mode's findings use.
type proxyTerms struct {
	ports, chains string // "rules", or "nftables maps (...)" and "nftables chains"
	head          Evidence
}

// compareProxy compares a node's kube-proxy rules with the Service ports the API objects
// want, reports missing ports and stale or missing endpoints, and returns the ports it
// wanted (for the orphan checks).
func (r *run) compareProxy(nd *nodeDump, pr proxyRules, terms proxyTerms) map[svcKey]bool {
	var missing, stale, lacking []string
	var missingEv, staleEv, lackingEv []Evidence
	want := map[svcKey]bool{}
	for _, w := range r.wantedPorts() {
		want[w.key] = true
		name := w.svc.Key()
		if w.sp.Name != "" {
			name += ":" + w.sp.Name
		}
		chain, ok := pr.translates(w.key)
		refused := pr.refuses(w.key)
		switch {
		case !w.ready && (ok || refused):
			continue
		case ok:
		case refused && localOnly(w.svc):
			continue // no local endpoint on this node: kube-proxy drops it, as it should
		default:
			missing = append(missing, name+" "+w.key.String())
			if len(missingEv) < 3 {
				missingEv = append(missingEv, object("service", w.svc.Key(), w.svc.Pos))
			}
			continue
		}
		if !w.ready || chain == "" {
			continue
		}
		local := pr.local(chain)
		have := map[netip.AddrPort]bool{}
		for _, ep := range pr.endpoints(chain) {
			have[ep.addr] = true
			if _, ok := w.endpoints[ep.addr]; !ok {
				stale = append(stale, fmt.Sprintf("%s -> %s", name, ep.addr))
				if len(staleEv) < 3 {
					staleEv = append(staleEv, pr.endpointEv(ep))
				}
			}
		}
		for a, node := range w.endpoints {
			if !have[a] && (!local || node == nd.name) {
				lacking = append(lacking, fmt.Sprintf("%s -> %s", name, a))
				if ev, ok := pr.chainEv(chain); ok && len(lackingEv) < 3 {
					lackingEv = append(lackingEv, ev)
				}
			}
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		r.add(Finding{Code: "kube-proxy-stale", Severity: Error, Node: nd.name,
			Message: fmt.Sprintf("%s's kube-proxy %s lack %d of %d Service ports: %s — packets to them leave %s untranslated and die on the underlay (is kube-proxy running and synced there?)",
				nd.name, terms.ports, len(missing), len(r.wantedPorts()), listSome(missing, 5), nd.name),
			Evidence: append([]Evidence{terms.head}, missingEv...),
			Fix:      "check kube-proxy on " + nd.name + " (its pod, its logs, its sync errors); restart it to resync its rules"})
	}
	if len(stale) > 0 {
		sort.Strings(stale)
		r.add(Finding{Code: "kube-proxy-stale-endpoints", Severity: Error, Node: nd.name,
			Message:  fmt.Sprintf("%s's kube-proxy %s send %d Service ports to endpoints the EndpointSlices no longer list: %s", nd.name, terms.chains, len(stale), listSome(stale, 5)),
			Evidence: staleEv,
			Fix:      "check kube-proxy on " + nd.name + ": its rules lag the API"})
	}
	if len(lacking) > 0 {
		sort.Strings(lacking)
		if len(lackingEv) == 0 {
			lackingEv = []Evidence{terms.head}
		}
		r.add(Finding{Code: "kube-proxy-missing-endpoints", Severity: Warning, Node: nd.name,
			Message:  fmt.Sprintf("%s's kube-proxy %s lack %d ready endpoints the EndpointSlices list: %s", nd.name, terms.chains, len(lacking), listSome(lacking, 5)),
			Evidence: lackingEv,
			Fix:      "check kube-proxy on " + nd.name + ": its rules lag the API"})
	}
	return want
}
