package simulate

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/netsim/netsim/model"
	"github.com/netsim/netsim/policy"
	"github.com/netsim/netsim/rules/packet"
)

// policies compiles the cluster's policies and finds their enforcer, once.
func (s *Simulator) policies() (*policy.Engine, policy.Enforcer) {
	if s.pol == nil {
		s.pol = policy.New(s.C)
		dumps := map[string][]byte{}
		for _, n := range s.C.LoadedNodes() {
			if st, err := s.C.NodeState(n); err == nil && st.Host.RuleFiles[model.IPTablesV4] != nil {
				dumps[st.Host.RuleFiles[model.IPTablesV4].Name] = st.Host.RuleFiles[model.IPTablesV4].Data
			}
		}
		e := policy.DetectEnforcer(s.C, dumps)
		s.enf = &e
	}
	return s.pol, *s.enf
}

// peerOf is a namespace's end of a connection as policies see it.
func (s *Simulator) peerOf(sp *Space, addr packet.Packet, src bool) policy.Peer {
	a := addr.Dst
	if src {
		a = addr.Src
	}
	p := policy.Peer{Addr: a}
	if sp != nil && sp.Pod != nil && !sp.Pod.HostNetwork() {
		p.Pod = sp.Pod
	} else if pod := s.C.PodByIP(a); pod != nil && !pod.HostNetwork() && sp == nil {
		p.Pod = pod
	}
	p.Node = s.C.NodeByAddr(a)
	return p
}

// checkPolicy applies the policies to the request once, where it reaches its destination
// (a pod, after any Service DNAT; a node; the outside): egress of the client pod, then
// ingress of the server pod. Replies are never checked: the connection admits them.
//
// How a denial counts depends on the enforcer: none in the bundle, and the policies are not
// enforced (a finding, not a blocker); one whose rules are iptables chains in the dumps,
// and the dataplane already decided (the intent is a cross-check); one whose rules the
// bundle cannot show (eBPF, OVS), and the API's intent decides.
func (t *tracer) checkPolicy(w *walk, dst *Space, p packet.Packet) {
	if w.policyDone || w.reply {
		return
	}
	w.policyDone = true
	eng, enf := t.s.policies()
	if !eng.HasPolicies() && !enf.InDataplane {
		return
	}
	proto := corev1.Protocol(strings.ToUpper(packet.ProtoName(p.Proto)))
	var client *model.Pod
	if w.client != nil && w.client.Pod != nil {
		client = w.client.Pod
	}
	var server *model.Pod
	if dst != nil && dst.Pod != nil {
		server = dst.Pod
	}
	type check struct {
		dir     policy.Direction
		subject *model.Pod
		peer    policy.Peer
		node    string
		netns   string
	}
	var checks []check
	if client != nil && !client.HostNetwork() {
		peer := t.s.peerOf(dst, p, false)
		checks = append(checks, check{policy.Egress, client, peer, w.client.Node, w.client.Name})
	}
	if server != nil && !server.HostNetwork() {
		peer := policy.Peer{Addr: p.Src, Node: t.s.C.NodeByAddr(p.Src)}
		if client != nil && !client.HostNetwork() && w.first.Src == p.Src {
			peer.Pod = client
		} else if pod := t.s.C.PodByIP(p.Src); pod != nil && !pod.HostNetwork() {
			peer.Pod = pod
		}
		checks = append(checks, check{policy.Ingress, server, peer, dst.Node, dst.Name})
	}
	if enf.InDataplane && len(checks) > 0 {
		w.intent = &intentCheck{allowed: true, chains: enf.Chains, name: enf.Name}
	}
	for _, c := range checks {
		d := eng.Check(c.dir, c.subject, c.peer, p.DPort, proto)
		if w.intent != nil && !d.Allowed && w.intent.allowed {
			w.intent.allowed, w.intent.why = false, d.Why
		}
		action := "allow"
		if !d.Allowed {
			action = "deny"
		}
		if d.Unknown {
			action = "unknown"
		}
		text := d.Rule
		if text == "" {
			text = "no policy selects " + c.subject.Key() + " for " + c.dir.String()
		}
		h := w.hop(Hop{Node: c.node, NetNS: c.netns, Step: "policy " + c.dir.String(), Action: action, Pos: d.Pos, Text: text, Note: d.Why, Packet: p})
		if w.intent != nil && !d.Allowed {
			w.intent.hop = h
		}
		if d.Unknown {
			if enf.Name != "" {
				w.blockAt(VUnknown, h, "policy-unknown", d.Why, "")
			}
			continue
		}
		if d.Allowed {
			continue
		}
		code := strings.TrimSuffix(d.Layer, "s") + "-deny"
		switch {
		case enf.Name == "":
			w.infos = append(w.infos, Finding{Code: "policy-not-enforced", Severity: "warning", Hop: h,
				Message: "not enforced: no NetworkPolicy enforcer in this cluster (no agent among the cluster objects, no policy chains in the dumps read), so this is not applied: " + d.Why,
				Fix:     "install a CNI or agent that enforces NetworkPolicy, or do not rely on the policy"})
		case enf.InDataplane:
			w.infos = append(w.infos, Finding{Code: "policy-intent", Severity: "info", Hop: h,
				Message: fmt.Sprintf("the API objects deny this (%s); %s enforces policy with iptables rules (%s), which the walk evaluates as the dataplane", d.Why, enf.Name, enf.Evidence)})
		default:
			w.blockAt(VDenied, h, code, "denied: "+d.Why+fmt.Sprintf(" (enforced by %s, seen as %s; its rules are not in the dumps, so the API objects decide)", enf.Name, enf.Evidence),
				"change the policy, or the labels of the pods and namespaces it selects")
		}
	}
}

// intentDisagrees compares, at the end of a path, the API objects' policy verdict with what
// an enforcer whose rules are in the dumps did: the request delivered though the objects
// deny it, or dropped or rejected in the enforcer's own chains though the objects allow it. Either is
// a finding of its own (stale rules, an agent that is not syncing, a policy the objects do
// not show).
func intentDisagrees(w *walk, v Verdict) (Finding, bool) {
	in := w.intent
	if in == nil {
		return Finding{}, false
	}
	if !in.allowed && v == VDelivered {
		return Finding{Code: "policy-disagreement", Severity: "warning", Hop: in.hop,
			Message: fmt.Sprintf("the API objects deny this (%s), but %s's rules in the dumps let it through: are its rules stale, or is its agent not syncing?", in.why, in.name),
			Fix:     "check " + in.name + "'s agent on the nodes of this path"}, true
	}
	if in.allowed && len(w.blocks) > 0 && (w.blocks[0].v == VDenied || w.blocks[0].v == VRejected) {
		h := w.hops[w.blocks[0].f.Hop]
		for _, ch := range in.chains {
			if strings.Contains(h.Step, " "+ch) || strings.Contains(h.Step, "/"+ch) {
				return Finding{Code: "policy-disagreement", Severity: "warning", Hop: w.blocks[0].f.Hop,
					Message: fmt.Sprintf("%s's rules drop or reject this (%s), though no policy among the API objects denies it: are its rules stale, or does it enforce a policy the bundle does not hold (its own CRDs)?", in.name, h.Step),
					Fix:     "compare " + in.name + "'s policies (its CRDs) with the NetworkPolicies"}, true
			}
		}
	}
	return Finding{}, false
}

// Problems lists the policies that could not be compiled.
func (s *Simulator) PolicyProblems() []string {
	eng, _ := s.policies()
	var out []string
	for _, p := range eng.Problems {
		out = append(out, p.Error())
	}
	sort.Strings(out)
	return out
}
