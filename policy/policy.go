// Package policy decides what the cluster's NetworkPolicies, AdminNetworkPolicies and
// BaselineAdminNetworkPolicy say about one connection, as the Kubernetes API defines them:
// AdminNetworkPolicies by priority (Allow and Deny decide, Pass hands over), then the
// NetworkPolicies selecting the pod (any rule of any of them admits; a pod no policy
// selects is not isolated), then the BaselineAdminNetworkPolicy. It says which policy and
// which rule decided, and why the others did not.
package policy

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	anp "sigs.k8s.io/network-policy-api/apis/v1alpha1"

	"github.com/netsim/netsim/model"
	"github.com/netsim/netsim/model/source"
)

// Direction is the side of the connection a policy is checked for.
type Direction int

// Directions.
const (
	Ingress Direction = iota // traffic into the subject pod
	Egress                   // traffic out of the subject pod
)

func (d Direction) String() string { return [...]string{"ingress", "egress"}[d] }

// Peer is the other end of a connection, as policies see it: a pod (selectable by pod
// and namespace selectors), or only an address (a node, a host-network pod, outside),
// which only ipBlock, networks and nodes peers can match.
type Peer struct {
	Addr netip.Addr
	Pod  *model.Pod  // nil unless a pod with its own network namespace
	Node *model.Node // the node whose address Addr is, if any
}

// Decision is what the policies say about a connection in one direction.
type Decision struct {
	Allowed bool
	// Layer is adminnetworkpolicy, networkpolicy, baselineadminnetworkpolicy, or "" when no
	// policy selects the subject in this direction (allowed).
	Layer string
	// Rule names what decided: "networkpolicy/NS/NAME ingress rule 0",
	// "adminnetworkpolicy/NAME egress rule 2 (deny-all)", or the policies that isolated the
	// pod when none admitted the connection.
	Rule string
	Pos  source.Pos
	// Why explains the decision in a sentence.
	Why string
	// Unknown is set when a rule that could decide cannot be evaluated from the bundle (an
	// AdminNetworkPolicy peer by domain name, for a destination outside the cluster).
	Unknown bool
}

// Engine holds the cluster's policies, compiled and indexed by namespace.
type Engine struct {
	c      *model.Cluster
	byNS   map[string][]*netpol
	admins []*adminPolicy // AdminNetworkPolicies by priority, then name
	base   *adminPolicy   // the BaselineAdminNetworkPolicy, if any
	// Problems are policies that could not be compiled (a selector no API server would
	// accept); they are left out, and listed here.
	Problems []error
}

type netpol struct {
	np               *model.NetworkPolicy
	sel              labels.Selector
	ingress, egress  bool
	inRules, egRules []npRule
}

type npRule struct {
	all   bool // no from/to: every peer
	peers []npPeer
	ports []networkingv1.NetworkPolicyPort
}

type npPeer struct {
	podSel, nsSel labels.Selector // nil when unset
	block         *ipBlock
	desc          string
}

type ipBlock struct {
	cidr   netip.Prefix
	except []netip.Prefix
}

func (b *ipBlock) contains(a netip.Addr) bool {
	if !b.cidr.Contains(a) {
		return false
	}
	for _, e := range b.except {
		if e.Contains(a) {
			return false
		}
	}
	return true
}

// New compiles the cluster's policies.
func New(c *model.Cluster) *Engine {
	e := &Engine{c: c, byNS: map[string][]*netpol{}}
	for _, np := range c.NetworkPolicies {
		p, err := compileNP(np)
		if err != nil {
			e.Problems = append(e.Problems, source.Errorf(np.Pos, "networkpolicy %s/%s: %v", np.Namespace, np.Name, err))
			continue
		}
		e.byNS[np.Namespace] = append(e.byNS[np.Namespace], p)
	}
	for _, a := range c.AdminPolicies {
		p, err := compileANP(a)
		if err != nil {
			e.Problems = append(e.Problems, source.Errorf(a.Pos, "adminnetworkpolicy %s: %v", a.Name, err))
			continue
		}
		e.admins = append(e.admins, p)
	}
	sort.SliceStable(e.admins, func(i, j int) bool {
		if e.admins[i].priority != e.admins[j].priority {
			return e.admins[i].priority < e.admins[j].priority
		}
		return e.admins[i].name < e.admins[j].name
	})
	for _, b := range c.BaselinePolicy {
		p, err := compileBANP(b)
		if err != nil {
			e.Problems = append(e.Problems, source.Errorf(b.Pos, "baselineadminnetworkpolicy %s: %v", b.Name, err))
			continue
		}
		if b.Name == "default" || e.base == nil {
			e.base = p // the API admits only one, named default
		}
	}
	return e
}

func selector(s *metav1.LabelSelector) (labels.Selector, error) {
	if s == nil {
		return nil, nil
	}
	return metav1.LabelSelectorAsSelector(s)
}

func compileNP(np *model.NetworkPolicy) (*netpol, error) {
	sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
	if err != nil {
		return nil, err
	}
	p := &netpol{np: np, sel: sel}
	if len(np.Spec.PolicyTypes) == 0 {
		// The API's defaults: Ingress always, Egress when there are egress rules.
		p.ingress, p.egress = true, len(np.Spec.Egress) > 0
	}
	for _, t := range np.Spec.PolicyTypes {
		switch t {
		case networkingv1.PolicyTypeIngress:
			p.ingress = true
		case networkingv1.PolicyTypeEgress:
			p.egress = true
		}
	}
	for _, r := range np.Spec.Ingress {
		cr, err := compileNPRule(r.From, r.Ports)
		if err != nil {
			return nil, err
		}
		p.inRules = append(p.inRules, cr)
	}
	for _, r := range np.Spec.Egress {
		cr, err := compileNPRule(r.To, r.Ports)
		if err != nil {
			return nil, err
		}
		p.egRules = append(p.egRules, cr)
	}
	return p, nil
}

func compileNPRule(peers []networkingv1.NetworkPolicyPeer, ports []networkingv1.NetworkPolicyPort) (npRule, error) {
	r := npRule{all: len(peers) == 0, ports: ports}
	for _, pe := range peers {
		var cp npPeer
		var err error
		if cp.podSel, err = selector(pe.PodSelector); err != nil {
			return r, err
		}
		if cp.nsSel, err = selector(pe.NamespaceSelector); err != nil {
			return r, err
		}
		if pe.IPBlock != nil {
			b := &ipBlock{}
			if b.cidr, err = netip.ParsePrefix(pe.IPBlock.CIDR); err != nil {
				return r, fmt.Errorf("ipBlock cidr %q: %v", pe.IPBlock.CIDR, err)
			}
			b.cidr = b.cidr.Masked()
			for _, ex := range pe.IPBlock.Except {
				x, err := netip.ParsePrefix(ex)
				if err != nil {
					return r, fmt.Errorf("ipBlock except %q: %v", ex, err)
				}
				b.except = append(b.except, x.Masked())
			}
			cp.block = b
		}
		cp.desc = describeNPPeer(pe)
		r.peers = append(r.peers, cp)
	}
	return r, nil
}

func describeNPPeer(pe networkingv1.NetworkPolicyPeer) string {
	var parts []string
	switch {
	case pe.NamespaceSelector != nil && pe.PodSelector != nil:
		parts = append(parts, "pods "+selString(pe.PodSelector)+" in namespaces "+selString(pe.NamespaceSelector))
	case pe.NamespaceSelector != nil:
		parts = append(parts, "every pod in namespaces "+selString(pe.NamespaceSelector))
	case pe.PodSelector != nil:
		parts = append(parts, "pods "+selString(pe.PodSelector)+" in its namespace")
	}
	if pe.IPBlock != nil {
		s := "ipBlock " + pe.IPBlock.CIDR
		if len(pe.IPBlock.Except) > 0 {
			s += " except " + strings.Join(pe.IPBlock.Except, ",")
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " in ")
}

func selString(s *metav1.LabelSelector) string {
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		return "(invalid)"
	}
	if sel.Empty() {
		return "(all)"
	}
	return "with " + sel.String()
}

// Check decides a connection in one direction for a subject pod. port and proto are the
// destination's (after DNAT): the subject's own for ingress, the peer's for egress.
func (e *Engine) Check(dir Direction, subject *model.Pod, peer Peer, port uint16, proto corev1.Protocol) Decision {
	if subject == nil || subject.HostNetwork() {
		return Decision{Allowed: true, Why: "host-network pods and nodes are not selected by policies"}
	}
	// The pod whose container ports name the destination port.
	dstPod := subject
	if dir == Egress {
		dstPod = peer.Pod
	}
	for _, a := range e.admins {
		if d, ok := a.decide(e, dir, subject, peer, port, proto, dstPod); ok {
			if d.passed {
				break
			}
			return d.Decision
		}
	}
	if d, selected := e.netpols(dir, subject, peer, port, proto, dstPod); selected {
		return d
	}
	if e.base != nil {
		if d, ok := e.base.decide(e, dir, subject, peer, port, proto, dstPod); ok && !d.passed {
			return d.Decision
		}
	}
	return Decision{Allowed: true, Why: fmt.Sprintf("no policy isolates pod %s for %s", subject.Key(), dir)}
}

// netpols applies the NetworkPolicies selecting the subject; selected is false when none
// selects it for this direction (it is not isolated).
func (e *Engine) netpols(dir Direction, subject *model.Pod, peer Peer, port uint16, proto corev1.Protocol, dstPod *model.Pod) (Decision, bool) {
	set := labels.Set(subject.Labels)
	var selecting []*netpol
	for _, p := range e.byNS[subject.Namespace] {
		if (dir == Ingress && !p.ingress) || (dir == Egress && !p.egress) {
			continue
		}
		if p.sel.Matches(set) {
			selecting = append(selecting, p)
		}
	}
	if len(selecting) == 0 {
		return Decision{}, false
	}
	var notes []string
	for _, p := range selecting {
		rules := p.inRules
		if dir == Egress {
			rules = p.egRules
		}
		for i, r := range rules {
			if e.npRuleAdmits(r, p.np.Namespace, peer) && npPortsMatch(r.ports, port, proto, dstPod) {
				return Decision{Allowed: true, Layer: "networkpolicy", Pos: p.np.Pos,
					Rule: fmt.Sprintf("networkpolicy/%s/%s %s rule %d", p.np.Namespace, p.np.Name, dir, i),
					Why:  fmt.Sprintf("networkpolicy %s/%s %s rule %d admits %s on %s %d", p.np.Namespace, p.np.Name, dir, i, peerString(peer), proto, port)}, true
			}
		}
		notes = append(notes, e.whyNot(p, rules, dir))
	}
	names := make([]string, len(selecting))
	for i, p := range selecting {
		names[i] = p.np.Namespace + "/" + p.np.Name
	}
	first := selecting[0]
	verb := "admits"
	if len(selecting) == 1 {
		verb = "admits"
	}
	why := fmt.Sprintf("pod %s is selected by networkpolicy %s (%s); none of the %d %s selecting it %s %s on %s %d (%s)",
		subject.Key(), names[0], dir, len(selecting), plural(len(selecting), "policy", "policies"), verb, peerString(peer), proto, port, strings.Join(notes, "; "))
	return Decision{Allowed: false, Layer: "networkpolicy", Pos: first.np.Pos, Rule: "networkpolicy/" + strings.Join(names, ", networkpolicy/"), Why: why}, true
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// whyNot summarises a policy's rules for an explanation.
func (e *Engine) whyNot(p *netpol, rules []npRule, dir Direction) string {
	name := p.np.Namespace + "/" + p.np.Name
	if len(rules) == 0 {
		return name + " has no " + dir.String() + " rules (default deny)"
	}
	var parts []string
	for i, r := range rules {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("and %d more", len(rules)-3))
			break
		}
		who := "every peer"
		if !r.all {
			var ds []string
			for _, pe := range r.peers {
				ds = append(ds, pe.desc)
			}
			who = strings.Join(ds, " or ")
		}
		parts = append(parts, fmt.Sprintf("rule %d admits %s%s", i, who, portsString(r.ports)))
	}
	return name + " " + strings.Join(parts, ", ")
}

func portsString(ports []networkingv1.NetworkPolicyPort) string {
	if len(ports) == 0 {
		return ""
	}
	var ps []string
	for _, p := range ports {
		proto := corev1.ProtocolTCP
		if p.Protocol != nil {
			proto = *p.Protocol
		}
		s := string(proto)
		if p.Port != nil {
			s += " " + p.Port.String()
			if p.EndPort != nil {
				s += fmt.Sprintf("-%d", *p.EndPort)
			}
		}
		ps = append(ps, s)
	}
	return " on " + strings.Join(ps, ", ")
}

func peerString(p Peer) string {
	switch {
	case p.Pod != nil:
		return "pod " + p.Pod.Key()
	case p.Node != nil:
		return "node " + p.Node.Name + " (" + p.Addr.String() + ")"
	}
	return p.Addr.String()
}

func (e *Engine) nsLabels(ns string) labels.Set {
	l, _ := e.c.NamespaceLabels(ns)
	return l
}

func (e *Engine) npRuleAdmits(r npRule, policyNS string, peer Peer) bool {
	if r.all {
		return true
	}
	for _, pe := range r.peers {
		if pe.block != nil {
			if peer.Addr.IsValid() && pe.block.contains(peer.Addr) {
				return true
			}
			continue
		}
		if peer.Pod == nil {
			continue // pod and namespace selectors select pods only
		}
		switch {
		case pe.nsSel != nil && pe.podSel != nil:
			if pe.nsSel.Matches(e.nsLabels(peer.Pod.Namespace)) && pe.podSel.Matches(labels.Set(peer.Pod.Labels)) {
				return true
			}
		case pe.nsSel != nil:
			if pe.nsSel.Matches(e.nsLabels(peer.Pod.Namespace)) {
				return true
			}
		case pe.podSel != nil:
			if peer.Pod.Namespace == policyNS && pe.podSel.Matches(labels.Set(peer.Pod.Labels)) {
				return true
			}
		}
	}
	return false
}

// npPortsMatch applies a rule's ports: none means every port; a named port is resolved
// against the destination pod's container ports.
func npPortsMatch(ports []networkingv1.NetworkPolicyPort, port uint16, proto corev1.Protocol, dstPod *model.Pod) bool {
	if len(ports) == 0 {
		return true
	}
	for _, p := range ports {
		pp := corev1.ProtocolTCP
		if p.Protocol != nil {
			pp = *p.Protocol
		}
		if pp != proto {
			continue
		}
		if p.Port == nil {
			return true
		}
		if p.Port.Type == intstr.String {
			if n, ok := namedPort(dstPod, p.Port.StrVal, proto); ok && n == port {
				return true
			}
			continue
		}
		lo := uint16(p.Port.IntVal)
		hi := lo
		if p.EndPort != nil {
			hi = uint16(*p.EndPort)
		}
		if port >= lo && port <= hi {
			return true
		}
	}
	return false
}

func namedPort(pod *model.Pod, name string, proto corev1.Protocol) (uint16, bool) {
	if pod == nil {
		return 0, false
	}
	for _, c := range pod.Spec.Containers {
		for _, cp := range c.Ports {
			p := cp.Protocol
			if p == "" {
				p = corev1.ProtocolTCP
			}
			if cp.Name == name && p == proto {
				return uint16(cp.ContainerPort), true
			}
		}
	}
	return 0, false
}

// adminPolicy is an AdminNetworkPolicy or the BaselineAdminNetworkPolicy, compiled.
type adminPolicy struct {
	kind              string // adminnetworkpolicy or baselineadminnetworkpolicy
	name              string
	priority          int32
	pos               source.Pos
	subjNS            labels.Selector // subject.namespaces
	subjPodNS, subjPo labels.Selector // subject.pods
	ingress, egress   []adminRule
}

type adminRule struct {
	name    string
	action  string // Allow, Deny, Pass
	peers   []adminPeer
	ports   *[]anp.AdminNetworkPolicyPort
	peerDoc string
}

type adminPeer struct {
	namespaces      labels.Selector
	podNS, podSel   labels.Selector
	nodes           labels.Selector
	networks        []netip.Prefix
	hasPods, hasNet bool
	domains         []string
}

type adminDecision struct {
	Decision
	passed bool
}

func compileSubject(s anp.AdminNetworkPolicySubject, p *adminPolicy) error {
	var err error
	if p.subjNS, err = selector(s.Namespaces); err != nil {
		return err
	}
	if s.Pods != nil {
		if p.subjPodNS, err = metav1.LabelSelectorAsSelector(&s.Pods.NamespaceSelector); err != nil {
			return err
		}
		if p.subjPo, err = metav1.LabelSelectorAsSelector(&s.Pods.PodSelector); err != nil {
			return err
		}
	}
	return nil
}

func compileAdminPeer(namespaces *metav1.LabelSelector, pods *anp.NamespacedPod, nodes *metav1.LabelSelector, networks []anp.CIDR) (adminPeer, string, error) {
	var ap adminPeer
	var err error
	var desc []string
	if ap.namespaces, err = selector(namespaces); err != nil {
		return ap, "", err
	}
	if namespaces != nil {
		desc = append(desc, "namespaces "+selString(namespaces))
	}
	if pods != nil {
		ap.hasPods = true
		if ap.podNS, err = metav1.LabelSelectorAsSelector(&pods.NamespaceSelector); err != nil {
			return ap, "", err
		}
		if ap.podSel, err = metav1.LabelSelectorAsSelector(&pods.PodSelector); err != nil {
			return ap, "", err
		}
		desc = append(desc, "pods "+selString(&pods.PodSelector)+" in namespaces "+selString(&pods.NamespaceSelector))
	}
	if ap.nodes, err = selector(nodes); err != nil {
		return ap, "", err
	}
	if nodes != nil {
		desc = append(desc, "nodes "+selString(nodes))
	}
	for _, n := range networks {
		pf, err := netip.ParsePrefix(string(n))
		if err != nil {
			return ap, "", fmt.Errorf("network %q: %v", n, err)
		}
		ap.networks = append(ap.networks, pf.Masked())
		ap.hasNet = true
		desc = append(desc, "network "+string(n))
	}
	return ap, strings.Join(desc, ", "), nil
}

func compileANP(a *model.AdminNetworkPolicy) (*adminPolicy, error) {
	p := &adminPolicy{kind: "adminnetworkpolicy", name: a.Name, priority: a.Spec.Priority, pos: a.Pos}
	if err := compileSubject(a.Spec.Subject, p); err != nil {
		return nil, err
	}
	for _, r := range a.Spec.Ingress {
		ar := adminRule{name: r.Name, action: string(r.Action), ports: r.Ports}
		var docs []string
		for _, pe := range r.From {
			ap, d, err := compileAdminPeer(pe.Namespaces, pe.Pods, nil, nil)
			if err != nil {
				return nil, err
			}
			ar.peers, docs = append(ar.peers, ap), append(docs, d)
		}
		ar.peerDoc = strings.Join(docs, " or ")
		p.ingress = append(p.ingress, ar)
	}
	for _, r := range a.Spec.Egress {
		ar := adminRule{name: r.Name, action: string(r.Action), ports: r.Ports}
		var docs []string
		for _, pe := range r.To {
			ap, d, err := compileAdminPeer(pe.Namespaces, pe.Pods, pe.Nodes, pe.Networks)
			if err != nil {
				return nil, err
			}
			for _, dn := range pe.DomainNames {
				ap.domains = append(ap.domains, string(dn))
			}
			if len(ap.domains) > 0 {
				d = strings.TrimPrefix(d+", domains "+strings.Join(ap.domains, ","), ", ")
			}
			ar.peers, docs = append(ar.peers, ap), append(docs, d)
		}
		ar.peerDoc = strings.Join(docs, " or ")
		p.egress = append(p.egress, ar)
	}
	return p, nil
}

func compileBANP(b *model.BaselineAdminNetworkPolicy) (*adminPolicy, error) {
	p := &adminPolicy{kind: "baselineadminnetworkpolicy", name: b.Name, pos: b.Pos}
	if err := compileSubject(b.Spec.Subject, p); err != nil {
		return nil, err
	}
	for _, r := range b.Spec.Ingress {
		ar := adminRule{name: r.Name, action: string(r.Action), ports: r.Ports}
		var docs []string
		for _, pe := range r.From {
			ap, d, err := compileAdminPeer(pe.Namespaces, pe.Pods, nil, nil)
			if err != nil {
				return nil, err
			}
			ar.peers, docs = append(ar.peers, ap), append(docs, d)
		}
		ar.peerDoc = strings.Join(docs, " or ")
		p.ingress = append(p.ingress, ar)
	}
	for _, r := range b.Spec.Egress {
		ar := adminRule{name: r.Name, action: string(r.Action), ports: r.Ports}
		var docs []string
		for _, pe := range r.To {
			ap, d, err := compileAdminPeer(pe.Namespaces, pe.Pods, pe.Nodes, pe.Networks)
			if err != nil {
				return nil, err
			}
			ar.peers, docs = append(ar.peers, ap), append(docs, d)
		}
		ar.peerDoc = strings.Join(docs, " or ")
		p.egress = append(p.egress, ar)
	}
	return p, nil
}

func (a *adminPolicy) selects(e *Engine, pod *model.Pod) bool {
	switch {
	case a.subjNS != nil:
		return a.subjNS.Matches(e.nsLabels(pod.Namespace))
	case a.subjPo != nil:
		return a.subjPodNS.Matches(e.nsLabels(pod.Namespace)) && a.subjPo.Matches(labels.Set(pod.Labels))
	}
	return false
}

func (a *adminPolicy) decide(e *Engine, dir Direction, subject *model.Pod, peer Peer, port uint16, proto corev1.Protocol, dstPod *model.Pod) (adminDecision, bool) {
	if !a.selects(e, subject) {
		return adminDecision{}, false
	}
	rules := a.ingress
	if dir == Egress {
		rules = a.egress
	}
	for i, r := range rules {
		if !adminPortsMatch(r.ports, port, proto, dstPod) {
			continue
		}
		if !e.adminPeersMatch(r.peers, peer) {
			if dir == Egress && peer.Pod == nil && peer.Node == nil && hasDomains(r.peers) {
				// Whether the address is one the domain names resolve to is not in the bundle.
				return adminDecision{Decision: Decision{Unknown: true, Layer: a.kind, Pos: a.pos,
					Rule: fmt.Sprintf("%s/%s egress rule %d", a.kind, a.name, i),
					Why:  fmt.Sprintf("%s %s egress rule %d (%s) names domains; whether %s is one of their addresses is not in the bundle", a.kind, a.name, i, r.action, peer.Addr)}}, true
			}
			continue
		}
		name := fmt.Sprintf("%s/%s %s rule %d", a.kind, a.name, dir, i)
		if r.name != "" {
			name += " (" + r.name + ")"
		}
		what := fmt.Sprintf("%s %s", peerString(peer), fmt.Sprintf("on %s %d", proto, port))
		prio := ""
		if a.kind == "adminnetworkpolicy" {
			prio = fmt.Sprintf(" (priority %d)", a.priority)
		}
		d := adminDecision{Decision: Decision{Layer: a.kind, Rule: name, Pos: a.pos}}
		switch r.action {
		case "Allow":
			d.Allowed, d.Why = true, fmt.Sprintf("%s%s %s rule %d allows %s", a.kind+" "+a.name, prio, dir, i, what)
		case "Deny":
			d.Allowed, d.Why = false, fmt.Sprintf("%s%s %s rule %d denies %s (it matches %s)", a.kind+" "+a.name, prio, dir, i, what, r.peerDoc)
		case "Pass":
			d.passed = true
		default:
			continue
		}
		return d, true
	}
	return adminDecision{}, false
}

func hasDomains(peers []adminPeer) bool {
	for _, p := range peers {
		if len(p.domains) > 0 {
			return true
		}
	}
	return false
}

func (e *Engine) adminPeersMatch(peers []adminPeer, peer Peer) bool {
	for _, pe := range peers {
		switch {
		case pe.namespaces != nil:
			if peer.Pod != nil && pe.namespaces.Matches(e.nsLabels(peer.Pod.Namespace)) {
				return true
			}
		case pe.hasPods:
			if peer.Pod != nil && pe.podNS.Matches(e.nsLabels(peer.Pod.Namespace)) && pe.podSel.Matches(labels.Set(peer.Pod.Labels)) {
				return true
			}
		case pe.nodes != nil:
			if peer.Node != nil && peer.Pod == nil && pe.nodes.Matches(labels.Set(peer.Node.Labels)) {
				return true
			}
		case pe.hasNet:
			for _, n := range pe.networks {
				if peer.Addr.IsValid() && n.Contains(peer.Addr) {
					return true
				}
			}
		}
	}
	return false
}

func adminPortsMatch(ports *[]anp.AdminNetworkPolicyPort, port uint16, proto corev1.Protocol, dstPod *model.Pod) bool {
	if ports == nil || len(*ports) == 0 {
		return true
	}
	for _, p := range *ports {
		switch {
		case p.PortNumber != nil:
			if p.PortNumber.Protocol == proto && uint16(p.PortNumber.Port) == port {
				return true
			}
		case p.NamedPort != nil:
			if n, ok := namedPort(dstPod, *p.NamedPort, proto); ok && n == port {
				return true
			}
		case p.PortRange != nil:
			pp := p.PortRange.Protocol
			if pp == "" {
				pp = corev1.ProtocolTCP
			}
			if pp == proto && int32(port) >= p.PortRange.Start && int32(port) <= p.PortRange.End {
				return true
			}
		}
	}
	return false
}

// Selecting lists the NetworkPolicies that select a pod, per direction (for `netsim policy`).
func (e *Engine) Selecting(pod *model.Pod) (ingress, egress []*model.NetworkPolicy) {
	if pod.HostNetwork() {
		return nil, nil
	}
	set := labels.Set(pod.Labels)
	for _, p := range e.byNS[pod.Namespace] {
		if !p.sel.Matches(set) {
			continue
		}
		if p.ingress {
			ingress = append(ingress, p.np)
		}
		if p.egress {
			egress = append(egress, p.np)
		}
	}
	return ingress, egress
}

// PodReport is what the policies say about one pod, per direction (`netsim policy`).
type PodReport struct {
	Pod      string          `json:"pod"`
	Note     string          `json:"note,omitempty"`
	Ingress  DirectionReport `json:"ingress"`
	Egress   DirectionReport `json:"egress"`
	Enforcer string          `json:"enforcer"`
}

// DirectionReport lists, for one direction, the admin policies that select the pod (in
// the order they apply), whether NetworkPolicies isolate it and which, with the peers and
// ports each rule admits, and the baseline.
type DirectionReport struct {
	Admin    []PolicyRules `json:"adminNetworkPolicies,omitempty"`
	Isolated bool          `json:"isolated"`
	Policies []PolicyRules `json:"networkPolicies,omitempty"`
	Baseline *PolicyRules  `json:"baselineAdminNetworkPolicy,omitempty"`
	Summary  string        `json:"summary"`
}

// PolicyRules is one policy and its rules in words.
type PolicyRules struct {
	Name  string   `json:"name"`
	File  string   `json:"file,omitempty"`
	Line  int      `json:"line,omitempty"`
	Rules []string `json:"rules"`
}

// Report describes the policies that apply to a pod.
func (e *Engine) Report(pod *model.Pod) PodReport {
	r := PodReport{Pod: pod.Key()}
	if pod.HostNetwork() {
		r.Note = "the pod uses its node's network namespace: no policy selects it, and peers see it only by ipBlock (its node's address)"
		return r
	}
	for _, dir := range []Direction{Ingress, Egress} {
		dr := DirectionReport{}
		for _, a := range e.admins {
			if a.selects(e, pod) {
				dr.Admin = append(dr.Admin, a.describe(dir))
			}
		}
		set := labels.Set(pod.Labels)
		for _, p := range e.byNS[pod.Namespace] {
			if (dir == Ingress && !p.ingress) || (dir == Egress && !p.egress) || !p.sel.Matches(set) {
				continue
			}
			dr.Isolated = true
			rules := p.inRules
			if dir == Egress {
				rules = p.egRules
			}
			pr := PolicyRules{Name: "networkpolicy/" + p.np.Namespace + "/" + p.np.Name, File: p.np.Pos.File, Line: p.np.Pos.Line}
			for i, ru := range rules {
				who := "every peer"
				if !ru.all {
					var ds []string
					for _, pe := range ru.peers {
						ds = append(ds, pe.desc)
					}
					who = strings.Join(ds, " or ")
				}
				pr.Rules = append(pr.Rules, fmt.Sprintf("rule %d admits %s%s", i, who, portsString(ru.ports)))
			}
			if len(rules) == 0 {
				pr.Rules = []string{"no rules: denies all " + dir.String()}
			}
			dr.Policies = append(dr.Policies, pr)
		}
		if e.base != nil && e.base.selects(e, pod) {
			d := e.base.describe(dir)
			dr.Baseline = &d
		}
		switch {
		case dr.Isolated:
			dr.Summary = fmt.Sprintf("isolated by %d %s: only what the rules admit is allowed (after the admin policies)", len(dr.Policies), plural(len(dr.Policies), "NetworkPolicy", "NetworkPolicies"))
		case dr.Baseline != nil:
			dr.Summary = "not isolated by any NetworkPolicy: the baseline admin policy applies, then everything is allowed"
		default:
			dr.Summary = "not isolated: everything the admin policies do not deny is allowed"
		}
		if dir == Ingress {
			r.Ingress = dr
		} else {
			r.Egress = dr
		}
	}
	return r
}

func (a *adminPolicy) describe(dir Direction) PolicyRules {
	name := a.kind + "/" + a.name
	if a.kind == "adminnetworkpolicy" {
		name += fmt.Sprintf(" (priority %d)", a.priority)
	}
	pr := PolicyRules{Name: name, File: a.pos.File, Line: a.pos.Line}
	rules := a.ingress
	if dir == Egress {
		rules = a.egress
	}
	for i, r := range rules {
		s := fmt.Sprintf("rule %d", i)
		if r.name != "" {
			s += " (" + r.name + ")"
		}
		pr.Rules = append(pr.Rules, fmt.Sprintf("%s: %s %s%s", s, r.action, r.peerDoc, adminPortsString(r.ports)))
	}
	return pr
}

func adminPortsString(ports *[]anp.AdminNetworkPolicyPort) string {
	if ports == nil || len(*ports) == 0 {
		return ""
	}
	var ps []string
	for _, p := range *ports {
		switch {
		case p.PortNumber != nil:
			ps = append(ps, fmt.Sprintf("%s %d", p.PortNumber.Protocol, p.PortNumber.Port))
		case p.NamedPort != nil:
			ps = append(ps, "port "+*p.NamedPort)
		case p.PortRange != nil:
			ps = append(ps, fmt.Sprintf("%s %d-%d", p.PortRange.Protocol, p.PortRange.Start, p.PortRange.End))
		}
	}
	return " on " + strings.Join(ps, ", ")
}
