package diagnose

import (
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/netsim/netsim/model/source"
	"github.com/netsim/netsim/rules/nft"
)

// kube-proxy's nftables mode (pkg/proxy/nftables) keeps its state in the tables
// "ip kube-proxy" and "ip6 kube-proxy": the base chains nat-prerouting and nat-output jump
// to the chain "services", which looks the destination up in the verdict map service-ips
// (key ipv4_addr . inet_proto . inet_service, data "goto service-HASH-ns/name/proto/port",
// or local-… for internalTrafficPolicy Local, external-… for external and load-balancer
// IPs) and, for NodePorts, in service-nodeports. A Service port without usable endpoints
// is an element of no-endpoint-services instead (goto reject-chain, or drop). A
// service-… / local-… chain picks an endpoint with a numgen verdict map whose data are
// "goto endpoint-HASH-ns/name/proto/port__ADDR/PORT"; each endpoint chain DNATs.

// nftEndpointRE finds the endpoint chains of a numgen verdict map as the rule renders.
var nftEndpointRE = regexp.MustCompile(`(?:goto|jump) (endpoint-[^\s,}]+)`)

// nftDNATRE reads an endpoint chain's "dnat to 10.244.1.2:8080" (or "dnat ip to …").
var nftDNATRE = regexp.MustCompile(`dnat (?:ip6? )?to (\S+)`)

// nftElem is a service-ips or no-endpoint-services element.
type nftElem struct {
	verdict nft.Verdict
	text    string
	pos     source.Pos // the set's: nft.json entries are sets, not elements
}

// nftKP is one kube-proxy table of a node's nft.json.
type nftKP struct {
	t    *nft.Table
	file string
	svc  map[svcKey]nftElem // service-ips
	noep map[svcKey]nftElem // no-endpoint-services
	// eps memoises the endpoints behind a service-/local- chain.
	eps map[string][]kpEndpoint
	// byPort indexes the endpoint chains by the Service port they serve, built only
	// when a numgen map is too long for its rendered text to list every chain.
	byPort map[string][]*nft.Chain
}

var nftProtoNames = map[uint64]string{6: "tcp", 17: "udp", 132: "sctp"}

// nftElems reads a verdict map keyed "addr . proto . port" into svcKeys.
func nftElems(s *nft.Set) map[svcKey]nftElem {
	out := map[svcKey]nftElem{}
	if s == nil || !s.Verdict || len(s.Key) != 3 {
		return out
	}
	for _, e := range s.Elems {
		if len(e.Lo) != 3 || len(e.Hi) != 3 || e.Lo[0] != e.Hi[0] || e.Lo[1] != e.Hi[1] || e.Lo[2] != e.Hi[2] || !e.Lo[0].Addr.IsValid() {
			continue
		}
		proto, ok := nftProtoNames[e.Lo[1].Num]
		if !ok {
			continue
		}
		k := svcKey{addr: e.Lo[0].Addr.Unmap(), port: int(e.Lo[2].Num), proto: proto}
		if _, dup := out[k]; !dup {
			out[k] = nftElem{verdict: e.Verdict, pos: s.Pos,
				text: fmt.Sprintf("@%s element %s . %s . %d : %s", s.Name, k.addr, proto, k.port, e.Verdict)}
		}
	}
	return out
}

// checkKubeProxyNFT compares kube-proxy's nftables-mode tables on a node with the API
// objects (FIELD-GUIDE 10), as checkKubeProxy does for iptables mode.
func (r *run) checkKubeProxyNFT(nd *nodeDump, rs *nft.Ruleset) {
	if rs == nil {
		return
	}
	for _, t := range rs.Tables {
		if t.Name != "kube-proxy" || (t.Family != "ip" && t.Family != "ip6") {
			continue
		}
		kp := &nftKP{t: t, file: rs.File.Name, svc: nftElems(t.Sets["service-ips"]), noep: nftElems(t.Sets["no-endpoint-services"]), eps: map[string][]kpEndpoint{}}
		r.checkNFTServicesChain(nd, kp)
		if t.Family == "ip" {
			r.compareNFTServices(nd, kp)
		} else {
			r.nftOrphans(nd, kp, nil)
		}
	}
}

// checkNFTServicesChain reports a services chain that no longer looks Services up: what
// `nft flush chain ip kube-proxy services` (or a kube-proxy that died mid-sync) leaves.
func (r *run) checkNFTServicesChain(nd *nodeDump, kp *nftKP) {
	t := kp.t
	ch := t.Chains["services"]
	var lacks []string
	if ch == nil {
		lacks = append(lacks, "a services chain")
	} else {
		svcIPs, nodePorts := false, false
		for _, ru := range ch.Rules {
			text := ru.Text()
			svcIPs = svcIPs || strings.Contains(text, "vmap @service-ips")
			nodePorts = nodePorts || strings.Contains(text, "vmap @service-nodeports")
		}
		if !svcIPs {
			lacks = append(lacks, "its lookup of @service-ips")
		}
		if !nodePorts && r.hasNodePorts(t.Family == "ip6") {
			lacks = append(lacks, "its lookup of @service-nodeports")
		}
	}
	if len(lacks) == 0 {
		return
	}
	ev := at(t.Pos, "table "+t.Key())
	if ch != nil {
		ev = at(ch.Pos, strings.TrimSpace(firstLine(ch.Text())))
	}
	rules := 0
	if ch != nil {
		rules = len(ch.Rules)
	}
	what := "no Service address is translated"
	if len(lacks) == 1 && strings.Contains(lacks[0], "service-nodeports") {
		what = "no NodePort is translated"
	}
	r.add(Finding{Code: "kube-proxy-stale", Severity: Error, Node: nd.name,
		Message: fmt.Sprintf("%s's kube-proxy nftables table %s lacks %s (the services chain has %d rule(s); @service-ips holds %d Service ports): %s on %s, packets to them leave untranslated and die on the underlay (is kube-proxy running and synced there?)",
			nd.name, t.Key(), strings.Join(lacks, " and "), rules, len(kp.svc), what, nd.name),
		Evidence: []Evidence{ev},
		Fix:      "check kube-proxy on " + nd.name + " (its pod, its logs, its sync errors); restart it to rewrite its nftables tables"})
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// hasNodePorts reports whether some Service of the family has a NodePort.
func (r *run) hasNodePorts(v6 bool) bool {
	for _, svc := range r.c.Services {
		if svc.Spec.Type != corev1.ServiceTypeNodePort && svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
			continue
		}
		fam := false
		for _, ip := range svc.ClusterIPs {
			fam = fam || ip.Is6() == v6
		}
		if !fam {
			continue
		}
		for _, sp := range svc.Spec.Ports {
			if sp.NodePort != 0 {
				return true
			}
		}
	}
	return false
}

// compareNFTServices compares service-ips, no-endpoint-services and the endpoint chains
// with the Service ports and their ready endpoints.
func (r *run) compareNFTServices(nd *nodeDump, kp *nftKP) {
	head := at(kp.t.Pos, "table "+kp.t.Key())
	if set := kp.t.Sets["service-ips"]; set != nil {
		head = at(set.Pos, "map "+kp.t.Key()+" service-ips")
	}
	want := r.compareProxy(nd, kp, proxyTerms{ports: "nftables maps (service-ips, no-endpoint-services)", chains: "nftables chains", head: head})
	r.nftOrphans(nd, kp, want)
}

// translates follows a service-ips element to its service-… or local-… chain.
func (kp *nftKP) translates(k svcKey) (string, bool) {
	el, ok := kp.svc[k]
	if !ok || (el.verdict.Kind != nft.VGoto && el.verdict.Kind != nft.VJump) {
		return "", ok
	}
	if chain := el.verdict.Chain; strings.HasPrefix(chain, "service-") || strings.HasPrefix(chain, "local-") {
		return chain, true
	}
	return "", true
}

func (kp *nftKP) refuses(k svcKey) bool {
	_, ok := kp.noep[k]
	return ok
}

func (kp *nftKP) local(chain string) bool           { return strings.HasPrefix(chain, "local-") }
func (kp *nftKP) endpointEv(ep kpEndpoint) Evidence { return at(ep.pos, ep.text) }
func (kp *nftKP) chainEv(chain string) (Evidence, bool) {
	if ch := kp.t.Chains[chain]; ch != nil {
		return at(ch.Pos, "chain "+chain), true
	}
	return Evidence{}, false
}

// nftOrphans reports service-ips and no-endpoint-services elements for addresses and
// ports no Service has.
func (r *run) nftOrphans(nd *nodeDump, kp *nftKP, want map[svcKey]bool) {
	var orphans []string
	var ev []Evidence
	for _, m := range []map[svcKey]nftElem{kp.svc, kp.noep} {
		for k, el := range m {
			if want[k] || r.serviceAnswers(k) {
				continue
			}
			orphans = append(orphans, k.String())
			ev = append(ev, at(el.pos, el.text))
		}
	}
	if len(orphans) == 0 {
		return
	}
	sort.Strings(orphans)
	sort.Slice(ev, func(i, j int) bool { return ev[i].Text < ev[j].Text })
	if len(ev) > 3 {
		ev = ev[:3]
	}
	r.add(Finding{Code: "kube-proxy-orphan-rules", Severity: Warning, Node: nd.name,
		Message:  fmt.Sprintf("%s's kube-proxy nftables maps (%s) still hold %d addresses no Service has: %s", nd.name, kp.t.Key(), len(orphans), listSome(orphans, 5)),
		Evidence: ev,
		Fix:      "check kube-proxy on " + nd.name + ": its rules lag the API (deleted Services)"})
}

// endpoints reads the endpoints a service-/local- chain picks from: the chains its numgen
// verdict map goes to, and their DNATs.
func (kp *nftKP) endpoints(chain string) []kpEndpoint {
	if eps, ok := kp.eps[chain]; ok {
		return eps
	}
	var eps []kpEndpoint
	ch := kp.t.Chains[chain]
	if ch != nil {
		seen := map[string]bool{}
		var targets []*nft.Chain
		for _, ru := range ch.Rules {
			text := ru.Text()
			if !strings.Contains(text, " vmap ") && !strings.Contains(text, "goto endpoint-") && !strings.Contains(text, "jump endpoint-") {
				continue
			}
			for _, m := range nftEndpointRE.FindAllStringSubmatch(text, -1) {
				if ec := kp.t.Chains[m[1]]; ec != nil && !seen[m[1]] {
					seen[m[1]] = true
					targets = append(targets, ec)
				}
			}
			if strings.Contains(text, " more) }") {
				// The rendered map stops after a few elements: the rest are the endpoint
				// chains named for the same Service port.
				for _, ec := range kp.chainsFor(chain) {
					if !seen[ec.Name] {
						seen[ec.Name] = true
						targets = append(targets, ec)
					}
				}
			}
		}
		for _, ec := range targets {
			for _, ru := range ec.Rules {
				text := ru.Text()
				m := nftDNATRE.FindStringSubmatch(text)
				if m == nil {
					continue
				}
				if ap, err := netip.ParseAddrPort(m[1]); err == nil {
					eps = append(eps, kpEndpoint{addr: netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), pos: ru.Pos, text: nftRuleText(text)})
				}
			}
		}
	}
	kp.eps[chain] = eps
	return eps
}

// nftRuleText drops the "# handle N" that `nft -a` appends.
func nftRuleText(text string) string {
	if i := strings.Index(text, " # handle"); i >= 0 {
		text = text[:i]
	}
	return strings.TrimSpace(text)
}

// portOfChain is the "ns/name/proto/port" part of a service-, local- or endpoint- chain
// name ("service-HASH-ns/name/proto/port", "endpoint-HASH-ns/name/proto/port__ADDR/PORT").
func portOfChain(name string) string {
	_, rest, ok := strings.Cut(name, "-")
	if !ok {
		return ""
	}
	_, rest, ok = strings.Cut(rest, "-")
	if !ok {
		return ""
	}
	if i := strings.LastIndex(rest, "__"); i >= 0 && strings.HasPrefix(name, "endpoint-") {
		rest = rest[:i]
	}
	return rest
}

// chainsFor lists the endpoint chains of a service or local chain's Service port.
func (kp *nftKP) chainsFor(chain string) []*nft.Chain {
	if kp.byPort == nil {
		kp.byPort = map[string][]*nft.Chain{}
		for _, ch := range kp.t.Order {
			if strings.HasPrefix(ch.Name, "endpoint-") {
				p := portOfChain(ch.Name)
				kp.byPort[p] = append(kp.byPort[p], ch)
			}
		}
	}
	return kp.byPort[portOfChain(chain)]
}
