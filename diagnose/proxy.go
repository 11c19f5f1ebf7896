package diagnose

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/netsim/netsim/model"
	"github.com/netsim/netsim/model/source"
	"github.com/netsim/netsim/rules/iptables"
)

// svcKey is a Service address, port and protocol as kube-proxy matches them.
type svcKey struct {
	addr  netip.Addr
	port  int
	proto string
}

func (k svcKey) String() string {
	return netip.AddrPortFrom(k.addr, uint16(k.port)).String() + "/" + k.proto
}

// kpDigest is kube-proxy's iptables-mode rules in one file: which Service addresses and
// ports it translates, and to which endpoints.
type kpDigest struct {
	present  bool // nat/KUBE-SERVICES exists
	ipvs     bool // IPVS mode: KUBE-SERVICES matches ipsets, the Services are in ipvs.txt
	chainPos int  // the line declaring nat/KUBE-SERVICES
	// nat are the KUBE-SERVICES rules that send a Service address on to its chain.
	nat map[svcKey]kpRule
	// reject are filter/KUBE-SERVICES' REJECTs for Services without endpoints (and DROPs
	// for internalTrafficPolicy Local without local endpoints).
	reject map[svcKey]kpRule
	// endpoints are each KUBE-SVC-/KUBE-SVL- chain's DNAT destinations, with the lines.
	endpoints map[string][]kpEndpoint
}

type kpRule struct {
	line  int
	chain string
	text  string
}

type kpEndpoint struct {
	addr netip.AddrPort
	line int
	// pos and text cite an nftables endpoint chain's dnat rule (nft.json is one line).
	pos  source.Pos
	text string
}

func kubeProxyDigest(rs *iptables.Ruleset) *kpDigest {
	d := &kpDigest{nat: map[svcKey]kpRule{}, reject: map[svcKey]kpRule{}, endpoints: map[string][]kpEndpoint{}}
	nat := rs.Tables["nat"]
	if nat == nil || nat.Chains["KUBE-SERVICES"] == nil {
		return d
	}
	ks := nat.Chains["KUBE-SERVICES"]
	d.present, d.chainPos = true, ks.Pos.Line
	for _, ru := range ks.Rules {
		if strings.Contains(ru.Text, "KUBE-CLUSTER-IP") {
			d.ipvs = true
		}
		if k, ok := serviceKeyOf(ru); ok && (ru.Target.Kind == iptables.TJump || ru.Target.Kind == iptables.TGoto) {
			d.nat[k] = kpRule{line: ru.Pos.Line, chain: ru.Target.Chain, text: strings.Clone(ru.Text)}
		}
	}
	if f := rs.Tables["filter"]; f != nil && f.Chains["KUBE-SERVICES"] != nil {
		for _, ru := range f.Chains["KUBE-SERVICES"].Rules {
			if k, ok := serviceKeyOf(ru); ok && (ru.Target.Kind == iptables.TReject || ru.Target.Kind == iptables.TDrop) {
				d.reject[k] = kpRule{line: ru.Pos.Line, text: strings.Clone(ru.Text)}
			}
		}
	}
	for name, ch := range nat.Chains {
		if !strings.HasPrefix(name, "KUBE-SVC-") && !strings.HasPrefix(name, "KUBE-SVL-") {
			continue
		}
		var eps []kpEndpoint
		for _, ru := range ch.Rules {
			if ru.Target.Kind != iptables.TJump || !strings.HasPrefix(ru.Target.Chain, "KUBE-SEP-") {
				continue
			}
			sep := nat.Chains[ru.Target.Chain]
			if sep == nil {
				continue
			}
			for _, sr := range sep.Rules {
				if sr.Target.Kind == iptables.TDNAT && len(sr.Target.NAT) > 0 && sr.Target.NAT[0].MinAddr.IsValid() {
					n := sr.Target.NAT[0]
					eps = append(eps, kpEndpoint{addr: netip.AddrPortFrom(n.MinAddr, n.MinPort), line: sr.Pos.Line})
				}
			}
		}
		d.endpoints[name] = eps
	}
	return d
}

// serviceKeyOf reads "-d ADDR/32 -p PROTO --dport PORT" from a KUBE-SERVICES rule.
func serviceKeyOf(ru *iptables.Rule) (svcKey, bool) {
	m := parseMatch(ru)
	if !m.dst.set || m.dst.neg || !m.dst.p.IsSingleIP() || !m.proto.set || m.proto.neg || !m.dport.set || len(m.dport.ranges) != 1 || m.dport.ranges[0][0] != m.dport.ranges[0][1] {
		return svcKey{}, false
	}
	return svcKey{addr: m.dst.p.Addr(), port: m.dport.ranges[0][0], proto: m.proto.name}, true
}

// wantedPort is a Service port kube-proxy should have rules for.
type wantedPort struct {
	svc   *model.Service
	sp    *corev1.ServicePort
	key   svcKey
	ready bool
	// endpoints are the ready endpoints (address and target port) for this port.
	endpoints map[netip.AddrPort]string // -> node name
}

// wantedPorts lists every ClusterIP Service port with what kube-proxy should do with it.
func (r *run) wantedPorts() []*wantedPort {
	r.wantOnce.Do(func() {
		for _, svc := range r.c.Services {
			if svc.Spec.Type == corev1.ServiceTypeExternalName {
				continue
			}
			eps, _ := r.c.ServiceEndpoints(svc)
			for i := range svc.Spec.Ports {
				sp := &svc.Spec.Ports[i]
				for _, ip := range svc.ClusterIPs {
					if !ip.Is4() {
						continue // the v4 rules only, for now
					}
					w := &wantedPort{svc: svc, sp: sp, key: svcKey{ip, int(sp.Port), lower(sp.Protocol)}, endpoints: map[netip.AddrPort]string{}}
					for _, ep := range eps {
						if !ep.Ready || !ep.Addr.Is4() {
							continue
						}
						for _, epp := range ep.Ports {
							if epp.Name == sp.Name && lower(epp.Protocol) == lower(sp.Protocol) {
								w.endpoints[netip.AddrPortFrom(ep.Addr, uint16(epp.Port))] = ep.NodeName
								w.ready = true
							}
						}
					}
					r.wanted = append(r.wanted, w)
				}
			}
		}
	})
	return r.wanted
}

// checkKubeProxy compares a node's kube-proxy rules with the API objects (FIELD-GUIDE 10):
// Service ports missing, endpoints that differ from the EndpointSlices, rules for
// Services that no longer exist.
func (r *run) checkKubeProxy(nd *nodeDump, file string, kp *kpDigest) {
	if kp == nil || !kp.present || kp.ipvs {
		return
	}
	want := r.compareProxy(nd, iptProxy{kp, file}, proxyTerms{ports: "rules", chains: "rules", head: at(nodeFilePos(file, kp.chainPos), "")})
	var orphans []string
	var orphanEv []Evidence
	for _, m := range []map[svcKey]kpRule{kp.nat, kp.reject} {
		for k, ru := range m {
			if want[k] || r.serviceAnswers(k) {
				continue
			}
			orphans = append(orphans, k.String())
			if len(orphanEv) < 3 {
				orphanEv = append(orphanEv, at(nodeFilePos(file, ru.line), ru.text))
			}
		}
	}
	if len(orphans) > 0 {
		sort.Strings(orphans)
		r.add(Finding{Code: "kube-proxy-orphan-rules", Severity: Warning, Node: nd.name,
			Message:  fmt.Sprintf("%s's kube-proxy rules still translate %d addresses no Service has: %s", nd.name, len(orphans), listSome(orphans, 5)),
			Evidence: orphanEv,
			Fix:      "check kube-proxy on " + nd.name + ": its rules lag the API (deleted Services)"})
	}
}

// iptProxy is kube-proxy's iptables-mode rules as compareProxy reads them.
type iptProxy struct {
	kp   *kpDigest
	file string
}

func (p iptProxy) translates(k svcKey) (string, bool) {
	ru, ok := p.kp.nat[k]
	return ru.chain, ok
}

func (p iptProxy) refuses(k svcKey) bool {
	_, ok := p.kp.reject[k]
	return ok
}

func (p iptProxy) endpoints(chain string) []kpEndpoint { return p.kp.endpoints[chain] }
func (p iptProxy) local(chain string) bool             { return strings.HasPrefix(chain, "KUBE-SVL-") }
func (p iptProxy) endpointEv(ep kpEndpoint) Evidence {
	return at(nodeFilePos(p.file, ep.line), "")
}
func (p iptProxy) chainEv(string) (Evidence, bool) { return Evidence{}, false }

// serviceAnswers reports whether some Service answers on an address and port (as an
// external or load-balancer IP too).
func (r *run) serviceAnswers(k svcKey) bool {
	for _, sip := range r.c.ServicesByIP(k.addr) {
		for _, sp := range sip.Service.Spec.Ports {
			if int(sp.Port) == k.port && lower(sp.Protocol) == k.proto {
				return true
			}
		}
	}
	return false
}

// localOnly reports internalTrafficPolicy: Local.
func localOnly(svc *model.Service) bool {
	p := svc.Spec.InternalTrafficPolicy
	return p != nil && *p == corev1.ServiceInternalTrafficPolicyLocal
}
