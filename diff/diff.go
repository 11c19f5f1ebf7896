package diff

import (
	"fmt"
	"io/fs"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/netsim/netsim/model"
	"github.com/netsim/netsim/policy"
	"github.com/netsim/netsim/report"
	"github.com/netsim/netsim/rules/packet"
	"github.com/netsim/netsim/simulate"
)

// Change is a flow class whose verdict differs between the bundles.
type Change struct {
	From, To string // a class of pods ("shop/app=web on node1") or a Service (svc/NS/NAME)
	// FromPod and ToPod are the pods (or Service) traced, in the new bundle.
	FromPod, ToPod string
	Port           uint16
	Protocol       string
	Old, New       string // verdicts
	// OldBlocker and NewBlocker are the first blocker of each side, when not delivered.
	OldBlocker, NewBlocker string
	// Cause is the changed input that made the flow worth tracing.
	Cause string
}

// Result is the diff of two bundles.
type Result struct {
	// Inputs are the inputs that differ: policy/..., namespace/..., service/..., node/...
	Inputs  []string
	Changes []Change
	// Traced is how many flows were traced in each bundle; Decided how many policy
	// decisions were compared without a trace.
	Traced, Decided int
	// Classes is how many classes of pods (namespace, labels, node) both bundles have;
	// OnlyOld and OnlyNew count those in one of them (pods added or removed), which are
	// not compared.
	Classes, OnlyOld, OnlyNew int
}

// side is one bundle, indexed for the diff.
type side struct {
	c       *model.Cluster
	sim     *simulate.Simulator
	eng     *policy.Engine
	in      *inputs
	classes map[string]*model.Pod // class key -> first pod
	pclass  map[string]*model.Pod // policy class key -> first pod
	traces  map[string]*report.Trace
}

// normLabels drops the labels that differ between pods of one workload without
// changing how anything selects them.
func normLabels(l map[string]string) string {
	var kv []string
	for k, v := range l {
		switch k {
		case "pod-template-hash", "controller-revision-hash", "statefulset.kubernetes.io/pod-name", "pod-template-generation",
			"apps.kubernetes.io/pod-index", "batch.kubernetes.io/job-completion-index":
			continue
		}
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	return strings.Join(kv, ",")
}

func classKey(p *model.Pod) string {
	return p.Namespace + "/" + normLabels(p.Labels) + " on " + p.Spec.NodeName
}

func pclassKey(p *model.Pod, byNode bool) string {
	if byNode {
		return classKey(p)
	}
	return p.Namespace + "/" + normLabels(p.Labels)
}

func newSide(c *model.Cluster, fsys fs.FS, byNode bool) (*side, error) {
	in, err := readInputs(c, fsys)
	if err != nil {
		return nil, err
	}
	s := &side{c: c, sim: simulate.New(c), eng: policy.New(c), in: in, classes: map[string]*model.Pod{}, pclass: map[string]*model.Pod{}, traces: map[string]*report.Trace{}}
	pods := append([]*model.Pod(nil), c.Pods...)
	sort.Slice(pods, func(i, j int) bool { return pods[i].Key() < pods[j].Key() })
	for _, p := range pods {
		if p.Terminal() || p.HostNetwork() || len(p.IPs) == 0 {
			continue
		}
		if _, ok := s.classes[classKey(p)]; !ok {
			s.classes[classKey(p)] = p
		}
		if _, ok := s.pclass[pclassKey(p, byNode)]; !ok {
			s.pclass[pclassKey(p, byNode)] = p
		}
	}
	return s, nil
}

// trace traces one flow, once per bundle.
func (s *side) trace(src, dst string, port uint16, proto uint8) (*report.Trace, error) {
	key := fmt.Sprintf("%s>%s:%d/%d", src, dst, port, proto)
	if t, ok := s.traces[key]; ok {
		return t, nil
	}
	from, err := simulate.Resolve(s.c, src)
	if err != nil {
		return nil, err
	}
	to, err := simulate.Resolve(s.c, dst)
	if err != nil {
		return nil, err
	}
	res, err := s.sim.Trace(simulate.Query{Src: from, Dst: to, Port: port, Proto: proto})
	if err != nil {
		return nil, err
	}
	t := report.FromResult(res)
	s.traces[key] = t
	return t, nil
}

// decide is the policies' verdict on a pod-to-pod connection: egress of the client, then
// ingress of the server.
func (s *side) decide(src, dst *model.Pod, port uint16, proto corev1.Protocol) bool {
	eg := s.eng.Check(policy.Egress, src, policy.Peer{Addr: dst.IPs[0], Pod: dst}, port, proto)
	if !eg.Allowed {
		return false
	}
	return s.eng.Check(policy.Ingress, dst, policy.Peer{Addr: src.IPs[0], Pod: src}, port, proto).Allowed
}

// ports are the container ports a pod declares.
func ports(p *model.Pod) []portProto {
	var out []portProto
	seen := map[portProto]bool{}
	for _, c := range p.Spec.Containers {
		for _, cp := range c.Ports {
			if cp.ContainerPort < 1 || cp.ContainerPort > 65535 {
				continue
			}
			proto := strings.ToLower(string(cp.Protocol))
			if proto == "" {
				proto = "tcp"
			}
			pp := portProto{uint16(cp.ContainerPort), proto}
			if !seen[pp] {
				seen[pp] = true
				out = append(out, pp)
			}
		}
	}
	return out
}

type portProto struct {
	port  uint16
	proto string
}

var protos = map[string]uint8{"tcp": packet.TCP, "udp": packet.UDP, "sctp": packet.SCTP}

// flow is a candidate: the same class of source and destination in both bundles.
type flow struct {
	from, to       string // class keys, or svc/NS/NAME for a Service
	oldSrc, oldDst string // what to trace in each bundle
	newSrc, newDst string
	pp             portProto
	cause          string
	// policy is set for flows found by their policy decision: old and new decisions.
	policy *[2]bool
}

func podRef(p *model.Pod) string { return "pod/" + p.Namespace + "/" + p.Name }

// Compute diffs two bundles.
func Compute(oldC, newC *model.Cluster, oldFS, newFS fs.FS) (*Result, error) {
	o0, err := readInputs(oldC, oldFS)
	if err != nil {
		return nil, err
	}
	n0, err := readInputs(newC, newFS)
	if err != nil {
		return nil, err
	}
	changedPolicies := changed(o0.policies, n0.policies)
	// A changed policy that admits by address decides by IP, so its classes keep the node.
	byNode := false
	for _, k := range changedPolicies {
		byNode = byNode || o0.ipBlocks[k] || n0.ipBlocks[k]
	}
	old, err := newSide(oldC, oldFS, byNode)
	if err != nil {
		return nil, err
	}
	cur, err := newSide(newC, newFS, byNode)
	if err != nil {
		return nil, err
	}
	r := &Result{}
	for _, k := range changedPolicies {
		r.Inputs = append(r.Inputs, "policy "+k)
	}
	changedNS := changed(o0.nsLabels, n0.nsLabels)
	for _, k := range changedNS {
		r.Inputs = append(r.Inputs, "namespace "+k+" labels")
	}
	changedSvcs := changed(o0.services, n0.services)
	for _, k := range changedSvcs {
		r.Inputs = append(r.Inputs, "service "+k+" (spec or endpoints)")
	}
	changedNodes := changed(o0.nodes, n0.nodes)
	for _, k := range changedNodes {
		r.Inputs = append(r.Inputs, "node "+k+" dumps")
	}
	for k := range old.classes {
		if _, ok := cur.classes[k]; ok {
			r.Classes++
		} else {
			r.OnlyOld++
		}
	}
	for k := range cur.classes {
		if _, ok := old.classes[k]; !ok {
			r.OnlyNew++
		}
	}

	var flows []flow
	seen := map[string]bool{}
	add := func(f flow) {
		k := fmt.Sprintf("%s>%s:%d/%s", f.from, f.to, f.pp.port, f.pp.proto)
		if !seen[k] {
			seen[k] = true
			flows = append(flows, f)
		}
	}

	// Policies: the classes a changed policy selects (in either bundle), or every class when
	// an admin policy changed or namespace labels changed under a namespaceSelector.
	if len(changedPolicies) > 0 || len(changedNS) > 0 {
		all := false
		changedSet := map[string]bool{}
		for _, k := range changedPolicies {
			changedSet[k] = true
			all = all || !strings.HasPrefix(k, "networkpolicy/")
		}
		if len(changedNS) > 0 && (anyTrue(o0.nsSelector) || anyTrue(n0.nsSelector)) {
			all = true
		}
		// cause names the changed policy selecting a class in a direction, in either bundle.
		cause := func(k string, dir policy.Direction) string {
			if all {
				return "admin policies or namespace labels"
			}
			for _, s := range []*side{old, cur} {
				ing, egr := s.eng.Selecting(s.pclass[k])
				list := ing
				if dir == policy.Egress {
					list = egr
				}
				for _, np := range list {
					if k := "networkpolicy/" + np.Namespace + "/" + np.Name; changedSet[k] {
						return k
					}
				}
			}
			return ""
		}
		keys := commonKeys(old.pclass, cur.pclass)
		compare := func(sk, dk, why string) {
			os, ns, od, nd := old.pclass[sk], cur.pclass[sk], old.pclass[dk], cur.pclass[dk]
			if ns == nd || os == od {
				return
			}
			for _, pp := range ports(nd) {
				proto := corev1.Protocol(strings.ToUpper(pp.proto))
				r.Decided++
				if a, b := old.decide(os, od, pp.port, proto), cur.decide(ns, nd, pp.port, proto); a != b {
					add(flow{from: sk, to: dk, oldSrc: podRef(os), oldDst: podRef(od), newSrc: podRef(ns), newDst: podRef(nd), pp: pp, cause: why, policy: &[2]bool{a, b}})
				}
			}
		}
		for _, k := range keys {
			if why := cause(k, policy.Ingress); why != "" {
				for _, sk := range keys {
					compare(sk, k, why)
				}
			}
			if why := cause(k, policy.Egress); why != "" {
				for _, dk := range keys {
					compare(k, dk, why)
				}
			}
		}
	}

	// Nodes and Services: flows from a pod of each node (one class per node stands for the
	// node's dataplane) to a pod of each node per port, and to every changed Service.
	nodeReps := func(s *side) (src map[string]string, dst map[string]map[portProto]string) {
		src, dst = map[string]string{}, map[string]map[portProto]string{}
		for _, k := range sortedKeys(s.classes) {
			p := s.classes[k]
			n := p.Spec.NodeName
			if _, ok := src[n]; !ok {
				src[n] = k
			}
			if dst[n] == nil {
				dst[n] = map[portProto]string{}
			}
			for _, pp := range ports(p) {
				if _, ok := dst[n][pp]; !ok {
					dst[n][pp] = k
				}
			}
		}
		return
	}
	srcRep, dstRep := nodeReps(cur)
	nodes := sortedKeys(srcRep)
	podFlow := func(sk, dk string, pp portProto, cause string) {
		os, ns, od, nd := old.classes[sk], cur.classes[sk], old.classes[dk], cur.classes[dk]
		if os == nil || ns == nil || od == nil || nd == nil || ns == nd {
			return
		}
		add(flow{from: sk, to: dk, oldSrc: podRef(os), oldDst: podRef(od), newSrc: podRef(ns), newDst: podRef(nd), pp: pp, cause: cause})
	}
	svcFlow := func(sk string, svc *model.Service, cause string) {
		os, ns := old.classes[sk], cur.classes[sk]
		if os == nil || ns == nil || oldC.Service(svc.Namespace, svc.Name) == nil {
			return
		}
		ref := "svc/" + svc.Namespace + "/" + svc.Name
		for _, sp := range svc.Spec.Ports {
			proto := strings.ToLower(string(sp.Protocol))
			if proto == "" {
				proto = "tcp"
			}
			if protos[proto] == 0 || sp.Port < 1 || sp.Port > 65535 {
				continue
			}
			add(flow{from: sk, to: ref, oldSrc: podRef(os), oldDst: ref, newSrc: podRef(ns), newDst: ref, pp: portProto{uint16(sp.Port), proto}, cause: cause})
		}
	}
	for _, x := range changedNodes {
		cause := "node " + x + " dumps"
		for _, y := range nodes {
			for _, pp := range sortedPorts(dstRep[y]) {
				podFlow(srcRep[x], dstRep[y][pp], pp, cause)
			}
			for _, pp := range sortedPorts(dstRep[x]) {
				podFlow(srcRep[y], dstRep[x][pp], pp, cause)
			}
		}
		if srcRep[x] != "" {
			for _, svc := range newC.Services {
				svcFlow(srcRep[x], svc, cause)
			}
		}
		// From every node to the Services with an endpoint on x: their packets reach x.
		for _, svc := range newC.Services {
			if hasEndpointOn(oldC, svc, x) || hasEndpointOn(newC, svc, x) {
				for _, y := range nodes {
					svcFlow(srcRep[y], svc, cause)
				}
			}
		}
	}
	for _, k := range changedSvcs {
		ns, name, _ := strings.Cut(k, "/")
		svc := newC.Service(ns, name)
		if svc == nil {
			continue // removed: flows to it are not compared
		}
		for _, y := range nodes {
			svcFlow(srcRep[y], svc, "service "+k)
		}
	}

	for _, f := range flows {
		proto := protos[f.pp.proto]
		ot, err := old.trace(f.oldSrc, f.oldDst, f.pp.port, proto)
		if err != nil {
			return nil, fmt.Errorf("old bundle: %w", err)
		}
		nt, err := cur.trace(f.newSrc, f.newDst, f.pp.port, proto)
		if err != nil {
			return nil, fmt.Errorf("new bundle: %w", err)
		}
		r.Traced++
		if ot.Verdict == nt.Verdict {
			// Both walks stop before the destination (nodes without dumps): the policy
			// decision is the change the bundles show.
			if f.policy != nil && ot.Verdict == string(simulate.VUnknown) {
				word := map[bool]string{true: "allowed", false: "denied"}
				r.Changes = append(r.Changes, Change{From: f.from, To: f.to, FromPod: f.newSrc, ToPod: f.newDst, Port: f.pp.port, Protocol: f.pp.proto,
					Old: ot.Verdict, New: nt.Verdict, Cause: f.cause + fmt.Sprintf(" (policy: %s -> %s; the dumps cannot confirm the dataplane)", word[f.policy[0]], word[f.policy[1]])})
			}
			continue
		}
		r.Changes = append(r.Changes, Change{From: f.from, To: f.to, FromPod: f.newSrc, ToPod: f.newDst, Port: f.pp.port, Protocol: f.pp.proto,
			Old: ot.Verdict, New: nt.Verdict, OldBlocker: ot.BlockerText(), NewBlocker: nt.BlockerText(), Cause: f.cause})
	}
	sort.SliceStable(r.Changes, func(i, j int) bool {
		a, b := r.Changes[i], r.Changes[j]
		if a.From != b.From {
			return a.From < b.From
		}
		if a.To != b.To {
			return a.To < b.To
		}
		return a.Port < b.Port
	})
	return r, nil
}

// hasEndpointOn reports whether a Service has an endpoint on a node (in a bundle that may
// not have the Service at all).
func hasEndpointOn(c *model.Cluster, svc *model.Service, node string) bool {
	s := c.Service(svc.Namespace, svc.Name)
	if s == nil {
		return false
	}
	eps, _ := c.ServiceEndpoints(s)
	for _, e := range eps {
		if e.NodeName == node {
			return true
		}
		if e.NodeName == "" && e.Pod != "" {
			ns, name, _ := strings.Cut(e.Pod, "/")
			if p := c.Pod(ns, name); p != nil && p.Spec.NodeName == node {
				return true
			}
		}
	}
	return false
}

func anyTrue(m map[string]bool) bool {
	for _, v := range m {
		if v {
			return true
		}
	}
	return false
}

func commonKeys(a, b map[string]*model.Pod) []string {
	var out []string
	for k := range a {
		if _, ok := b[k]; ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedPorts(m map[portProto]string) []portProto {
	out := make([]portProto, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].port != out[j].port {
			return out[i].port < out[j].port
		}
		return out[i].proto < out[j].proto
	})
	return out
}
