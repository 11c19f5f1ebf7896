package aws

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/netsim/netsim/cloud"
	"github.com/netsim/netsim/model/source"
	"github.com/netsim/netsim/rules/packet"
)

// Inbound implements cloud.Provider: a packet from outside to a load balancer's address
// (its listener, its security groups, its target group and the targets' health), or to
// an interface's public IP (the internet gateway's translation).
func (p *Provider) Inbound(pk packet.Packet) ([]cloud.Entry, bool) {
	for _, lb := range p.X.LBs {
		for _, a := range lb.Addrs {
			if a == pk.Dst {
				return p.viaLB(lb, pk), true
			}
		}
	}
	// An Application Load Balancer lists no addresses (clients find it by DNS): its
	// interfaces ("ELB app/NAME/ID") hold its private and public addresses.
	for _, lb := range p.X.LBs {
		if p.lbHolds(lb, pk.Dst) {
			return p.viaLB(lb, pk), true
		}
	}
	if e, priv := p.X.PublicOwner(pk.Dst); e != nil {
		return []cloud.Entry{p.viaPublicIP(e, priv, pk)}, true
	}
	return nil, false
}

func blockedEntry(ds ...cloud.Decision) []cloud.Entry { return []cloud.Entry{{Decisions: ds}} }

// listenerProto reports whether a listener's protocol carries the packet's.
func listenerProto(lp string, proto uint8) bool {
	switch strings.ToUpper(lp) {
	case "TCP", "TLS", "HTTP", "HTTPS":
		return proto == packet.TCP
	case "UDP":
		return proto == packet.UDP
	case "TCP_UDP":
		return proto == packet.TCP || proto == packet.UDP
	}
	return false
}

// viaLB follows a packet to a load balancer and on to each target it would pick.
func (p *Provider) viaLB(lb *LoadBalancer, pk packet.Packet) []cloud.Entry {
	obj := "loadbalancer/" + lb.Name
	lbHop := cloud.Decision{Step: "aws load balancer", Action: "accept", Object: obj, Pos: lb.Pos, Text: fmt.Sprintf("%s %s %s, state %s", lb.Type, lb.Scheme, lb.DNSName, lb.State)}
	if lb.State != "active" {
		lbHop.Verdict, lbHop.Action, lbHop.Code = cloud.Deny, "drop", "aws-lb-state"
		lbHop.Message = fmt.Sprintf("load balancer %s is %s, not active", lb.Name, lb.State)
		return blockedEntry(lbHop)
	}
	if lb.Scheme == "internal" && !pk.Src.IsPrivate() {
		lbHop.Verdict, lbHop.Action, lbHop.Code = cloud.Deny, "drop", "aws-lb-internal"
		lbHop.Message = fmt.Sprintf("load balancer %s is internal: %s, outside the VPC, cannot reach it", lb.Name, pk.Src)
		lbHop.Fix = "annotate the Service for an internet-facing load balancer (service.beta.kubernetes.io/aws-load-balancer-scheme: internet-facing)"
		return blockedEntry(lbHop)
	}
	if p.X.Has[FileListeners] == "" {
		return blockedEntry(lbHop, p.gap("aws load balancer listener", FileListeners, "which listeners "+lb.Name+" has"))
	}
	var ln *Listener
	var others []string
	for _, l := range p.X.Listeners {
		if l.LB != lb.ARN {
			continue
		}
		if l.Port == int(pk.DPort) && listenerProto(l.Protocol, pk.Proto) {
			ln = l
		} else {
			others = append(others, fmt.Sprintf("%d/%s", l.Port, l.Protocol))
		}
	}
	if ln == nil {
		lbHop.Verdict, lbHop.Action, lbHop.Code = cloud.Deny, "drop", "aws-lb-no-listener"
		lis := "none"
		if len(others) > 0 {
			lis = strings.Join(others, ", ")
		}
		lbHop.Message = fmt.Sprintf("load balancer %s has no listener on %s (its listeners: %s): the connection is dropped", lb.Name, flowLabel(pk), lis)
		lbHop.Fix = fmt.Sprintf("add a listener on %s forwarding to the target group of the Service's node port (the AWS load balancer controller or cloud provider adds one per Service port: check its events)", flowLabel(pk))
		return blockedEntry(lbHop)
	}
	lnHop := cloud.Decision{Step: "aws listener", Action: "allow", Object: "listener/" + lb.Name + fmt.Sprintf(":%d", ln.Port), Pos: ln.Pos, Text: strings.TrimSpace(fmt.Sprintf("%d/%s %s %s", ln.Port, ln.Protocol, ln.Action, strings.Join(tgNames(p.X, ln.TargetGroups), ", ")))}
	head := []cloud.Decision{lbHop, lnHop}
	if lb.HasGroups {
		var refs []GroupRef
		for _, g := range lb.Groups {
			refs = append(refs, GroupRef{ID: g})
		}
		head = append(head, p.groupsCheck(refs, "load balancer "+lb.Name, pk, Peer{Addr: pk.Src}))
	}
	return p.viaListener(lb, ln, pk, head)
}

// alternative is one way a listener may send a packet: the rule that takes it (none
// for the default actions of a listener without rules) and its actions.
type alternative struct {
	hops    []cloud.Decision
	actions []Action
	branch  string
	// obj and pos cite what holds the actions: the rule, else the listener.
	obj string
	pos source.Pos
}

// viaListener follows the packet through a listener: an Application Load Balancer's
// listener evaluates its rules in priority order, the default rule last; a rule on the
// HTTP request (host, path, header, method, query) is a may-match netsim cannot decide
// at layer 4, so it is one branch and the rules after it others; a source-ip rule is
// decided by the client's address. A Network Load Balancer's listener has its default
// actions only.
func (p *Provider) viaListener(lb *LoadBalancer, ln *Listener, pk packet.Packet, head []cloud.Decision) []cloud.Entry {
	alts := []alternative{{actions: ln.Actions, obj: fmt.Sprintf("listener/%s:%d", lb.Name, ln.Port), pos: ln.Pos}}
	if lb.Type == "application" {
		rules, ok := p.X.Rules[ln.ARN]
		if !ok {
			name := DirRules + "/" + listenerID(ln.ARN) + ".json"
			d := p.gap("aws listener rule", name, fmt.Sprintf("which rule of listener %d of %s takes the request", ln.Port, lb.Name))
			d.Fix = fmt.Sprintf("add the output of `aws elbv2 describe-rules --listener-arn %s` to the bundle as %s", ln.ARN, p.file(name))
			d.Object, d.Pos = fmt.Sprintf("listener/%s:%d", lb.Name, ln.Port), ln.Pos
			return blockedEntry(append(head, d)...)
		}
		alts = alts[:0]
		for _, r := range rules {
			m, unseen := r.Eval(pk)
			if m == NoMatch {
				continue
			}
			d := cloud.Decision{Step: "aws listener rule", Action: "match", Object: fmt.Sprintf("listener/%s:%d %s", lb.Name, ln.Port, r.Label()), Pos: r.Pos, Text: actionsLabel(p.X, r.Actions)}
			if m == MayMatch {
				d.Action = "may match"
				d.Note = "the request's " + strings.Join(unseen, " and ") + " decide whether this rule takes it: netsim sees the packet, not the HTTP request, so this is one possible way"
			}
			alts = append(alts, alternative{hops: []cloud.Decision{d}, actions: r.Actions, branch: r.Label(), obj: d.Object, pos: r.Pos})
			if m == Matches {
				break
			}
		}
		if len(alts) == 0 {
			// describe-rules always lists the default rule; an export without it is cut.
			return blockedEntry(append(head, cloud.Decision{Verdict: cloud.Unknown, Step: "aws listener rule", Action: "unknown", Code: "cloud-missing-data",
				Object: fmt.Sprintf("listener/%s:%d", lb.Name, ln.Port), Pos: ln.Pos,
				Message: fmt.Sprintf("no rule of listener %d of %s takes %s and %s lists no default rule", ln.Port, lb.Name, flowLabel(pk), p.file(DirRules+"/"+listenerID(ln.ARN)+".json"))})...)
		}
	}
	var out []cloud.Entry
	for _, a := range alts {
		h := append(append([]cloud.Decision(nil), head...), a.hops...)
		for _, e := range p.viaActions(lb, ln, a, pk, h) {
			if len(alts) > 1 && a.branch != "" {
				e.Branch = joinBranch(a.branch, e.Branch)
			}
			out = append(out, e)
		}
	}
	return out
}

func joinBranch(a, b string) string {
	if b == "" {
		return a
	}
	return a + ", " + b
}

// actionsLabel renders actions: "forward web (weight 3), api (weight 1)", "fixed-response 503".
func actionsLabel(x *Export, as []Action) string {
	var out []string
	for _, a := range as {
		s := a.Type
		if len(a.Groups) > 0 {
			var gs []string
			for _, g := range a.Groups {
				n := tgNames(x, []string{g.ARN})[0]
				if len(a.Groups) > 1 {
					n += fmt.Sprintf(" (weight %d)", g.Weight)
				}
				gs = append(gs, n)
			}
			s += " " + strings.Join(gs, ", ")
		}
		if a.Detail != "" {
			s += " " + a.Detail
		}
		out = append(out, s)
	}
	return strings.Join(out, "; ")
}

// viaActions follows a rule's (or a listener's default) actions: an authenticate action
// needs a login netsim cannot see; the terminal action forwards (one branch per target
// group of weight above 0), redirects or answers itself.
func (p *Provider) viaActions(lb *LoadBalancer, ln *Listener, alt alternative, pk packet.Packet, head []cloud.Decision) []cloud.Entry {
	step, as := "aws listener", alt.actions
	if len(as) == 0 {
		return blockedEntry(append(head, cloud.Decision{Verdict: cloud.Unknown, Step: step, Action: "unknown", Code: "cloud-missing-data",
			Object: alt.obj, Pos: alt.pos,
			Message: fmt.Sprintf("listener %d of %s: the exports show no action for %s", ln.Port, lb.Name, flowLabel(pk))})...)
	}
	for _, a := range as[:len(as)-1] {
		if strings.HasPrefix(a.Type, "authenticate-") {
			return blockedEntry(append(head, cloud.Decision{Verdict: cloud.Unknown, Step: step, Action: "unknown", Code: "cloud-unsupported",
				Object: alt.obj, Pos: alt.pos, Text: actionsLabel(p.X, []Action{a}),
				Message: fmt.Sprintf("listener %d of %s first does %s: whether the client logs in is not in the bundle", ln.Port, lb.Name, a.Type)})...)
		}
	}
	a := as[len(as)-1]
	switch a.Type {
	case "forward":
	case "fixed-response", "redirect":
		return blockedEntry(append(head, cloud.Decision{Verdict: cloud.Deny, Step: step, Action: "drop", Code: "aws-lb-" + a.Type,
			Object: alt.obj, Pos: alt.pos, Text: actionsLabel(p.X, []Action{a}),
			Message: fmt.Sprintf("load balancer %s answers %s itself (%s %s): the request never reaches the cluster", lb.Name, flowLabel(pk), a.Type, a.Detail),
			Fix:     "forward the path or host to the Service's target group (the Ingress's rules feed the listener's rules)"})...)
	default:
		return blockedEntry(append(head, cloud.Decision{Verdict: cloud.Unknown, Step: step, Action: "unknown", Code: "cloud-unsupported",
			Object: alt.obj, Pos: alt.pos, Text: actionsLabel(p.X, []Action{a}),
			Message: fmt.Sprintf("listener %d of %s does %q, not a forward to a target group: netsim does not follow it", ln.Port, lb.Name, a.Type)})...)
	}
	var live []WeightedGroup
	var idle []string
	total := 0
	for _, g := range a.Groups {
		if g.Weight > 0 {
			live = append(live, g)
			total += g.Weight
		} else {
			idle = append(idle, tgNames(p.X, []string{g.ARN})[0])
		}
	}
	if len(live) == 0 {
		return blockedEntry(append(head, cloud.Decision{Verdict: cloud.Deny, Step: step, Action: "drop", Code: "aws-lb-no-targets",
			Object: alt.obj, Pos: alt.pos, Text: actionsLabel(p.X, []Action{a}),
			Message: fmt.Sprintf("listener %d of %s forwards to no target group of weight above 0", ln.Port, lb.Name),
			Fix:     "give the Service's target group a weight above 0"})...)
	}
	if p.X.Has[FileTGs] == "" {
		return blockedEntry(append(head, p.gap("aws target group", FileTGs, "the target group of "+lb.Name))...)
	}
	var out []cloud.Entry
	for _, g := range live {
		note := ""
		if len(live) > 1 || len(idle) > 0 {
			note = fmt.Sprintf("weight %d of %d", g.Weight, total)
			if len(idle) > 0 {
				note += "; weight 0, not chosen: " + strings.Join(idle, ", ")
			}
		}
		for _, e := range p.viaTG(lb, ln, g.ARN, note, pk, head) {
			if len(live) > 1 {
				e.Branch = joinBranch("target group "+tgNames(p.X, []string{g.ARN})[0], e.Branch)
			}
			out = append(out, e)
		}
	}
	return out
}

// viaTG follows a packet into one target group: its targets' health picks the targets
// (all of them when none is healthy: the load balancer fails open), then each target.
func (p *Provider) viaTG(lb *LoadBalancer, ln *Listener, arn, note string, pk packet.Packet, head []cloud.Decision) []cloud.Entry {
	tg := p.X.TGs[arn]
	if tg == nil {
		return blockedEntry(append(head, cloud.Decision{Verdict: cloud.Unknown, Step: "aws target group", Action: "unknown", Code: "cloud-missing-data",
			Message: fmt.Sprintf("listener %d forwards to %s, which %s does not list", ln.Port, arn, p.file(FileTGs))})...)
	}
	hs, ok := p.X.Health[tg.ARN]
	if !ok {
		return blockedEntry(append(head, p.gap("aws target health", DirTargetHealth+"/"+tg.Name+".json", "which targets of "+tg.Name+" are healthy"))...)
	}
	var live, sick []TargetHealth
	for _, h := range hs {
		switch h.State {
		case "healthy":
			live = append(live, h)
		case "unhealthy", "initial", "unavailable":
			sick = append(sick, h)
		}
	}
	tgHop := cloud.Decision{Step: "aws target group", Action: "forward", Object: "targetgroup/" + tg.Name, Pos: tg.Pos, Text: fmt.Sprintf("%s %s port %d, %d of %d targets healthy", tg.TargetType, tg.Protocol, tg.Port, len(live), len(hs)), Note: note}
	chosen := live
	if len(live) == 0 {
		if len(sick) == 0 {
			tgHop.Verdict, tgHop.Action, tgHop.Code = cloud.Deny, "drop", "aws-lb-no-targets"
			tgHop.Message = fmt.Sprintf("target group %s of %s has no registered target that can serve", tg.Name, lb.Name)
			tgHop.Fix = "register the nodes (or pods) as targets: check the load balancer controller's logs and the nodes' labels it selects by"
			return blockedEntry(append(head, tgHop)...)
		}
		chosen = sick
		tgHop.Warning, tgHop.Code = true, "aws-lb-fail-open"
		tgHop.Message = fmt.Sprintf("no target of %s is healthy: the load balancer fails open and sends to all of them (%s)", tg.Name, healthSummary(sick))
	}
	head = append(append([]cloud.Decision(nil), head...), tgHop)
	var out []cloud.Entry
	for _, h := range chosen {
		out = append(out, p.toTarget(lb, ln, tg, h, pk, head, sick))
	}
	return out
}

func tgNames(x *Export, arns []string) []string {
	var out []string
	for _, a := range arns {
		if tg := x.TGs[a]; tg != nil {
			out = append(out, tg.Name)
		} else {
			out = append(out, a)
		}
	}
	return out
}

func healthSummary(hs []TargetHealth) string {
	var out []string
	for _, h := range hs {
		s := h.ID + " " + h.State
		if h.Reason != "" {
			s += " (" + h.Reason + ")"
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// groupsCheck judges a load balancer's own security groups (ingress, from the client).
func (p *Provider) groupsCheck(refs []GroupRef, who string, pk packet.Packet, peer Peer) cloud.Decision {
	step := "aws security group ingress"
	if p.X.Has[FileGroups] == "" {
		return p.gap(step, FileGroups, "the security groups of "+who)
	}
	r := p.X.EvalGroups(refs, true, pk, peer)
	if r.Allowed {
		return cloud.Decision{Step: step, Action: "allow", Object: fmt.Sprintf("securitygroup/%s ingress rule %d", r.Group.ID, r.Rule.Index), Pos: r.Rule.Pos, Text: r.Rule.Label(true), Note: who}
	}
	d := cloud.Decision{Verdict: cloud.Deny, Step: step, Action: "drop", Code: "aws-security-group", Object: "securitygroup/" + refs[0].ID, Text: p.X.groupNames(refs)}
	if g := p.X.Groups[refs[0].ID]; g != nil {
		d.Pos = g.Pos
	}
	if r.Unknown != "" {
		d.Verdict, d.Action, d.Code = cloud.Unknown, "unknown", "cloud-missing-data"
	}
	d.Message = fmt.Sprintf("%s on %s admits nothing on %s from %s%s", p.X.groupNames(refs), who, flowLabel(pk), pk.Src, suffix(r.Unknown))
	d.Fix = fmt.Sprintf("add ingress %s from 0.0.0.0/0 (or the clients' range) on %s (the Service's loadBalancerSourceRanges feed it)", flowLabel(pk), refs[0].ID)
	return d
}

func suffix(s string) string {
	if s == "" {
		return ""
	}
	return "; " + s
}

// lbHolds reports whether one of a load balancer's interfaces ("ELB app/NAME/ID")
// holds the address, privately or as its public IP.
func (p *Provider) lbHolds(lb *LoadBalancer, a netip.Addr) bool {
	kind := map[string]string{"application": "app", "network": "net", "gateway": "gwy"}[lb.Type]
	if kind == "" {
		return false
	}
	for _, e := range p.X.ENIs {
		if !strings.HasPrefix(e.Description, "ELB "+kind+"/"+lb.Name+"/") {
			continue
		}
		if e.Holds(a) {
			return true
		}
		for _, pub := range e.Public {
			if pub == a {
				return true
			}
		}
	}
	return false
}

// lbSource is the address a load balancer sends to targets from when it does not keep
// the client's: its interface in the VPC.
func (p *Provider) lbSource(lb *LoadBalancer) netip.Addr {
	kind := map[string]string{"application": "app", "network": "net", "gateway": "gwy"}[lb.Type]
	for _, e := range p.X.ENIs {
		if strings.HasPrefix(e.Description, "ELB "+kind+"/"+lb.Name+"/") && len(e.IPs) > 0 {
			return e.IPs[0]
		}
	}
	for _, a := range lb.Addrs {
		if a.IsPrivate() {
			return a
		}
	}
	return netip.Addr{}
}

// toTarget is the way to one target: the load balancer's translation, then the
// target's subnet ACL and security groups.
func (p *Provider) toTarget(lb *LoadBalancer, ln *Listener, tg *TargetGroup, h TargetHealth, pk packet.Packet, head []cloud.Decision, sick []TargetHealth) cloud.Entry {
	port := h.Port
	if port == 0 {
		port = tg.Port
	}
	var node string
	var dst netip.Addr
	if tg.TargetType == "instance" {
		node = p.byInstance[h.ID]
		if e := p.nodeNIC[node]; e != nil && len(e.IPs) > 0 {
			dst = e.IPs[0]
		} else if in := p.X.Instances[h.ID]; in != nil {
			dst = in.PrivateIP
		}
	} else if a, err := netip.ParseAddr(h.ID); err == nil {
		dst = a
		if e := p.X.ENIWith(a); e != nil {
			node = p.nodeOf(e)
		}
	}
	fwd := pk
	fwd.Dst, fwd.DPort = dst, uint16(port)
	peer := Peer{Addr: pk.Src}
	// NLB targets see the client's address when client IP preservation is on: always for
	// instance targets and for IP targets over UDP, TCP_UDP, QUIC and TCP_QUIC; off by
	// default for IP targets over TCP and TLS (preserve_client_ip.enabled, which
	// describe-target-group-attributes would show). ALB targets see the ALB's own address
	// (https://docs.aws.amazon.com/elasticloadbalancing/latest/network/edit-target-group-attributes.html#client-ip-preservation).
	preserve := lb.Type == "network" && (tg.TargetType == "instance" || !(strings.EqualFold(tg.Protocol, "TCP") || strings.EqualFold(tg.Protocol, "TLS")))
	if !preserve {
		if src := p.lbSource(lb); src.IsValid() {
			fwd.Src = src
			peer = Peer{Addr: src, Groups: lb.Groups}
		} else {
			peer = Peer{Addr: pk.Src, Groups: lb.Groups}
		}
	}
	ds := append([]cloud.Decision(nil), head...)
	th := cloud.Decision{Step: "aws target", Action: "dnat", Object: "targetgroup/" + tg.Name + " target " + h.ID, Pos: h.Pos,
		Text: fmt.Sprintf("%s:%d %s", h.ID, port, h.State), Packet: fwd}
	if node != "" {
		th.Note = "node " + node
	}
	if len(sick) > 0 && h.State == "healthy" {
		th.Note += "; not chosen: " + healthSummary(sick)
	}
	ds = append(ds, th)
	if !dst.IsValid() || node == "" {
		ds = append(ds, cloud.Decision{Verdict: cloud.Unknown, Step: "aws target", Action: "unknown", Code: "cloud-node-unmapped",
			Message: fmt.Sprintf("target %s of %s is no node of the cluster (by instance or address): where it goes is not in the bundle", h.ID, tg.Name)})
		return cloud.Entry{Decisions: ds, Branch: "target " + h.ID}
	}
	ds = append(ds, p.ingress(cloud.Leg{To: node, Packet: fwd}, peer)...)
	nic := p.nodeNIC[node]
	lbAddr, lbPort := pk.Dst, pk.DPort
	back := func(r packet.Packet) (packet.Packet, []cloud.Decision) {
		var bd []cloud.Decision
		if nic != nil {
			bd = append(bd, p.aclCheck(nic.SubnetID, nic.VpcID, true, r)...)
		}
		out := r
		out.Src, out.SPort = lbAddr, lbPort
		out.Dst = pk.Src
		out.DPort = pk.SPort
		bd = append(bd, cloud.Decision{Step: "aws load balancer", Action: "snat", Object: "loadbalancer/" + lb.Name, Pos: lb.Pos, Text: lb.DNSName, Note: "the reply leaves from the load balancer's address", Packet: out})
		return out, bd
	}
	return cloud.Entry{Decisions: ds, Node: node, Packet: fwd, Branch: fmt.Sprintf("load balancer %s target %s (node %s)", lb.Name, h.ID, node), Back: back}
}

// viaPublicIP follows a packet to an interface's public IP: the internet gateway
// translates it to the private address, the subnet's ACL and the interface's groups
// judge it, and the subnet must route the client back through the internet gateway.
func (p *Provider) viaPublicIP(e *ENI, priv netip.Addr, pk packet.Packet) cloud.Entry {
	fwd := pk
	fwd.Dst = priv
	ds := []cloud.Decision{{Step: "aws internet gateway", Action: "dnat", Object: "networkinterface/" + e.ID, Pos: e.Pos, Text: fmt.Sprintf("%s <-> %s", pk.Dst, priv), Packet: fwd}}
	node := p.nodeOf(e)
	if node == "" {
		ds = append(ds, cloud.Decision{Verdict: cloud.Unknown, Step: "aws internet gateway", Action: "unknown", Code: "cloud-node-unmapped",
			Message: fmt.Sprintf("%s belongs to %s, which is no node of the cluster", pk.Dst, p.nicLabel(e))})
		return cloud.Entry{Decisions: ds}
	}
	if d, r, ok := p.lookup(e.SubnetID, e.VpcID, pk.Src, cloud.Leg{}); !ok || r.Kind != TargetIGW {
		d.Step, d.Reply = "aws route table (reply)", true
		d.Packet = packet.Packet{Src: priv, Dst: pk.Src, Proto: pk.Proto, SPort: pk.DPort, DPort: pk.SPort, Reply: true}
		if d.Verdict != cloud.Unknown {
			d.Verdict, d.Action, d.Code = cloud.Deny, "drop", "aws-return-route"
			d.Message = fmt.Sprintf("the replies to %s are lost: %s (%s's table) does not send them to an internet gateway", pk.Src, objectID(d.Object), e.SubnetID)
			d.Fix = "route 0.0.0.0/0 of the node's subnet to the internet gateway, or reach the node through a load balancer"
		}
		ds = append(ds, d)
	}
	ds = append(ds, p.ingress(cloud.Leg{To: node, Packet: fwd}, Peer{Addr: pk.Src})...)
	pub := pk.Dst
	back := func(r packet.Packet) (packet.Packet, []cloud.Decision) {
		bd := p.aclCheck(e.SubnetID, e.VpcID, true, r)
		out := r
		out.Src = pub
		bd = append(bd, cloud.Decision{Step: "aws internet gateway", Action: "snat", Object: "networkinterface/" + e.ID, Pos: e.Pos, Text: fmt.Sprintf("%s <-> %s", priv, pub), Packet: out})
		return out, bd
	}
	return cloud.Entry{Decisions: ds, Node: node, Packet: fwd, Branch: "public IP " + pk.Dst.String() + " of node " + node, Back: back}
}
