package simulate

import (
	"fmt"
	"net/netip"

	"github.com/netsim/netsim/model"
	"github.com/netsim/netsim/rules/ipvs"
	"github.com/netsim/netsim/rules/packet"
	"github.com/netsim/netsim/rules/routing"
)

// IPVS in the hook order, where the kernel registers it (net/netfilter/ipvs/ip_vs_core.c):
//   - LOCAL_IN 98 (ip_vs_reply4) un-NATs replies of its connections to a local client,
//     and LOCAL_IN 99 (ip_vs_remote_request4) schedules a new connection to a virtual
//     service: after filter INPUT (0) and security (50), before the NAT core (100). A
//     scheduled packet is sent to its real server at once (NAT xmit: new destination,
//     routed to the real server, then the LOCAL_OUT hooks except nat — conntrack's
//     destination binding is already made — then POSTROUTING, where kube-proxy's
//     MASQUERADE rules apply); a local real server continues at LOCAL_IN instead.
//   - LOCAL_OUT -99 (ip_vs_local_reply4) un-NATs replies from a local real server, and
//     LOCAL_OUT -98 (ip_vs_local_request4) schedules connections the namespace itself
//     opens, after nat OUTPUT (-100).
//   - FORWARD 100 (ip_vs_reply4) un-NATs replies that pass through, after filter FORWARD.
//
// Every available real server (weight > 0) is a path of its own, like iptables'
// statistic branches. A virtual service without one answers ICMP port unreachable
// (ip_vs_leave). IPVS's own connection table un-NATs the reply: a reply whose connection
// was scheduled from a virtual service (its original destination) by one of its real
// servers gets the virtual address back as its source. With net.ipv4.vs.conntrack=0 the
// packet IPVS sends is untracked, so nat POSTROUTING (masquerade) never sees it.

const (
	prioIPVSReplyIn  = 98
	prioIPVSIn       = 99
	prioIPVSReplyOut = -99
	prioIPVSOut      = -98
	prioIPVSFwdReply = 100
)

// ipvsState is a namespace's IPVS: its virtual services and the settings that matter.
type ipvsState struct {
	t *ipvs.Table
	// conntrack is net.ipv4.vs.conntrack: whether IPVS's packets keep their conntrack
	// entry (kube-proxy sets 1; 0 leaves them untracked).
	conntrack bool
	setting   string
}

// loadIPVS reads the namespace's ipvs.txt; nil without one.
func loadIPVS(ns *model.NetNS) (*ipvsState, error) {
	f := ns.RuleFiles[model.IPVS]
	if f == nil {
		return nil, nil
	}
	t, err := ipvs.Parse(f)
	if err != nil {
		return nil, err
	}
	st := &ipvsState{t: t, conntrack: true, setting: "net.ipv4.vs.conntrack (not in the dump)"}
	if s, ok := ns.Sysctls.Get("net.ipv4.vs.conntrack"); ok {
		st.conntrack = s.Value == "1"
		st.setting = "net.ipv4.vs.conntrack = " + s.Value
	}
	return st, nil
}

// ipvsHook runs INPUT, OUTPUT or FORWARD in a namespace with IPVS state, IPVS's stages
// among the other base chains by priority. ok is false where IPVS has nothing to do
// (no ipvs.txt, another hook, no rules dump at all), and the hook runs as usual.
func (e *NetNS) ipvsHook(name string, o Outcome) ([]Outcome, bool) {
	if e.ipvs == nil || len(e.ipvs.t.Services) == 0 || (name != "INPUT" && name != "OUTPUT" && name != "FORWARD") {
		return nil, false
	}
	if e.rules(o.Packet) == nil && e.nft == nil {
		return nil, false
	}
	switch name {
	case "INPUT":
		return e.ipvsInput(o), true
	case "OUTPUT":
		return e.ipvsOutput(o), true
	}
	var out []Outcome
	for _, r := range e.runRange(name, o, func(h *hookEntry) bool { return h.prio < prioIPVSFwdReply }) {
		if r.Kind == Deliver {
			r = e.ipvsUnNAT(r)
		}
		out = append(out, e.continueAfter(name, r, prioIPVSFwdReply)...)
	}
	return out, true
}

// runRange runs the hook's base chains that keep selects, in the kernel's order.
func (e *NetNS) runRange(name string, o Outcome, keep func(*hookEntry) bool) []Outcome {
	rs := e.rules(o.Packet)
	results := []Outcome{o}
	for _, ent := range e.hookOrder(name, rs, e.nftChains(name, o.Packet.Is6()), o.Packet.Is6()) {
		if !keep(ent) {
			continue
		}
		var next []Outcome
		for _, r := range results {
			if r.Kind != Deliver {
				next = append(next, r)
				continue
			}
			next = append(next, e.runEntry(name, ent, rs, r)...)
		}
		results = next
	}
	return results
}

// continueAfter runs the rest of a hook, from a priority on, for an outcome still going.
func (e *NetNS) continueAfter(name string, o Outcome, prio int) []Outcome {
	if o.Kind != Deliver {
		return []Outcome{o}
	}
	return e.runRange(name, o, func(h *hookEntry) bool { return h.prio >= prio })
}

func (e *NetNS) ipvsInput(o Outcome) []Outcome {
	var out []Outcome
	for _, r := range e.runRange("INPUT", o, func(h *hookEntry) bool { return h.prio < prioIPVSReplyIn }) {
		if r.Kind != Deliver {
			out = append(out, r)
			continue
		}
		if r.Packet.Reply || ipvsReplyPending(r.Packet) {
			out = append(out, e.continueAfter("INPUT", e.ipvsUnNAT(r), prioIPVSIn)...)
			continue
		}
		sched, handled := e.ipvsSchedule(r)
		if !handled {
			out = append(out, e.continueAfter("INPUT", r, prioIPVSIn)...)
			continue
		}
		for _, s := range sched {
			if s.Kind != Deliver {
				out = append(out, s)
				continue
			}
			if e.Router.IsLocal(s.Packet.Dst) {
				// A local real server: the packet goes on at LOCAL_IN.
				out = append(out, e.continueAfter("INPUT", s, prioIPVSIn+1)...)
				continue
			}
			out = append(out, e.ipvsXmit(s)...)
		}
	}
	return out
}

func (e *NetNS) ipvsOutput(o Outcome) []Outcome {
	var out []Outcome
	for _, r := range e.runRange("OUTPUT", o, func(h *hookEntry) bool { return h.prio < prioIPVSReplyOut }) {
		if r.Kind != Deliver {
			out = append(out, r)
			continue
		}
		if r.Packet.Reply || ipvsReplyPending(r.Packet) {
			out = append(out, e.continueAfter("OUTPUT", e.ipvsUnNAT(r), prioIPVSOut)...)
			continue
		}
		sched, handled := e.ipvsSchedule(r)
		if !handled {
			out = append(out, e.continueAfter("OUTPUT", r, prioIPVSOut)...)
			continue
		}
		for _, s := range sched {
			// The translated packet passes LOCAL_OUT again (nat excepted); Send routes
			// it afresh because its destination changed.
			out = append(out, e.runRange("OUTPUT", s, func(h *hookEntry) bool { return !h.core })...)
		}
	}
	return out
}

// ipvsSchedule is ip_vs_in for a connection's first packet: the virtual service it is
// for, and a packet per real server the scheduler may pick. handled is false when no
// virtual service takes the packet.
func (e *NetNS) ipvsSchedule(o Outcome) ([]Outcome, bool) {
	p := o.Packet
	if p.IPVS || p.CtState != packet.CtNew || !p.HasPorts() {
		return nil, false
	}
	svc := e.ipvs.t.Lookup(p.Proto, p.DstAP(), p.Mark)
	if svc == nil {
		return nil, false
	}
	note := fmt.Sprintf("IPVS virtual service %s, scheduler %s", svc.Key(), svc.Scheduler)
	if svc.Persistent {
		note += fmt.Sprintf(", persistent %d s (session affinity: a client keeps its real server)", svc.Timeout)
	}
	avail := svc.Available()
	if len(avail) == 0 {
		why := fmt.Sprintf("IPVS virtual service %s has no real server", svc.Key())
		if len(svc.Reals) > 0 {
			why = fmt.Sprintf("IPVS virtual service %s has only drained real servers (weight 0): no new connection is scheduled", svc.Key())
		}
		o.Steps = append(o.Steps, Step{What: "ipvs", Action: "reject", Pos: svc.Pos, Text: svc.Text, Packet: p,
			Note: why + "; IPVS answers ICMP port unreachable (ip_vs_leave)"})
		// Final even when the walk goes on past blockers: "as if allowed" has no real
		// server to go to (it would only reach the director's own sockets).
		o.Kind, o.Reject, o.Why = Rejected, "icmp-port-unreachable", why
		return []Outcome{o}, true
	}
	var out []Outcome
	for _, r := range avail {
		n := o
		n.Steps = append(append([]Step{}, o.Steps...), Step{What: "ipvs", Action: "schedule", Pos: svc.Pos, Text: svc.Text, Packet: p, Note: note})
		q := p
		if !q.OrigDst.IsValid() {
			q.OrigDst = p.DstAP()
		}
		if !q.OrigSrc.IsValid() {
			q.OrigSrc = p.SrcAP()
		}
		q.Dst = r.Addr.Addr()
		if r.Addr.Port() != 0 {
			q.DPort = r.Addr.Port()
		}
		q.IPVS = true
		action := "masq"
		switch r.Method {
		case ipvs.Route, ipvs.Local:
			q.Dst, q.DPort, action = p.Dst, p.DPort, "route"
		}
		if q.DstAP() == r.Addr || (r.Addr.Port() == 0 && q.Dst == r.Addr.Addr()) {
			// The connection IPVS's table finds for the packet as sent (what -m ipvs's
			// --vaddr and friends look up): the virtual address it was scheduled from.
			q.IPVSVAddr, q.IPVSMethod = p.DstAP(), ipvsMethod(r.Method)
		}
		switch r.Method {
		case ipvs.Tunnel, ipvs.MethodUnknown:
			n.Steps = append(n.Steps, Step{What: "ipvs", Action: "unknown", Pos: r.Pos, Text: r.Text, Packet: q})
			if e.block(&n, Unknown, "", fmt.Sprintf("real server %s of %s is forwarded by %s, which netsim does not model", r.Addr, svc.Key(), r.Method)) {
				out = append(out, n)
				continue
			}
		}
		rnote := fmt.Sprintf("real server %s, weight %d", r.Addr, r.Weight)
		if !e.ipvs.conntrack {
			q.Untracked = true
			rnote += "; " + e.ipvs.setting + ": the packet leaves untracked, so nat POSTROUTING (masquerade) does not see it"
		}
		n.Steps = append(n.Steps, Step{What: "ipvs", Action: action, Pos: r.Pos, Text: r.Text, Packet: q, Note: rnote})
		n.Packet = q
		if len(avail) > 1 {
			n.Branches = append(append([]string{}, o.Branches...), "ipvs "+svc.Key()+" real server "+r.Addr.String())
		}
		out = append(out, n)
	}
	return out, true
}

// ipvsXmit sends a scheduled packet to its remote real server: routed to it, through
// LOCAL_OUT without nat, then POSTROUTING.
func (e *NetNS) ipvsXmit(o Outcome) []Outcome {
	bad, ok := e.localRouteFailureFor(&o)
	if !ok {
		return []Outcome{bad}
	}
	var out []Outcome
	for _, r := range e.runRange("OUTPUT", o, func(h *hookEntry) bool { return !h.core }) {
		if r.Kind != Deliver {
			out = append(out, r)
			continue
		}
		out = append(out, e.postrouting(r)...)
	}
	return out
}

// localRouteFailureFor routes the packet to its new destination and sets its device and
// next hop; false with the outcome when there is no route.
func (e *NetNS) localRouteFailureFor(o *Outcome) (Outcome, bool) {
	p := o.Packet
	d := e.Router.Lookup(routingQueryFor(p))
	o.Steps = append(o.Steps, routeStep(d, p))
	if bad, ok := e.localRouteFailure(d, *o); !ok {
		return bad, false
	}
	if len(d.Hops) > 0 {
		o.Packet.OutIface, o.NextHop = d.Hops[0].Dev, d.Hops[0].Gateway
	}
	return *o, true
}

// ipvsUnNAT is ip_vs_out: a reply from a real server of a connection IPVS scheduled gets
// the virtual address and port back as its source. IPVS finds the connection in its own
// table (the walk puts it on the packet as IPVSVAddr), whether conntrack has an entry or not.
func (e *NetNS) ipvsUnNAT(o Outcome) Outcome {
	p := o.Packet
	if !ipvsReplyPending(p) || !p.HasPorts() {
		return o
	}
	svc := e.ipvs.t.Lookup(p.Proto, p.IPVSVAddr, 0)
	if svc == nil {
		return o
	}
	for _, r := range svc.Reals {
		if r.Addr.Addr() == p.Src && (r.Addr.Port() == 0 || r.Addr.Port() == p.SPort) {
			q := p
			q.Src, q.SPort, q.IPVS = p.IPVSVAddr.Addr(), p.IPVSVAddr.Port(), true
			// Un-NATed, the packet no longer matches the connection (ip_vs_conn_out_get).
			q.IPVSVAddr, q.IPVSMethod = netip.AddrPort{}, 0
			note := "IPVS's connection table: the reply from real server " + r.Addr.String() + " leaves as " + p.IPVSVAddr.String()
			if !e.ipvs.conntrack {
				// handle_response: without IP_VS_CONN_F_NFCT the reply is marked untracked
				// (ip_vs_notrack), so nat POSTROUTING does not see it either.
				q.Untracked = true
				note += "; " + e.ipvs.setting + ": conntrack has no entry for the connection (IPVS untracked the request), so " +
					"the reply came in as " + ctStateName(p) + " to conntrack and leaves untracked"
			}
			o.Packet = q
			o.Steps = append(o.Steps, Step{What: "ipvs", Action: "unnat", Pos: r.Pos, Text: r.Text, Packet: q, Note: note})
			return o
		}
	}
	return o
}

// ipvsReplyPending reports whether IPVS's table holds the packet as the reply of one of
// its connections, not yet un-NATed.
func ipvsReplyPending(p packet.Packet) bool { return p.IPVSVAddr.IsValid() && !p.IPVS }

// ipvsUntracked reports whether a request left a namespace untracked by IPVS: with
// net.ipv4.vs.conntrack=0 the connection has no IP_VS_CONN_F_NFCT, and
// ip_vs_nat_send_or_cont calls ip_vs_notrack, which releases the conntrack entry PREROUTING
// had begun (unconfirmed, it is never inserted). That namespace's conntrack therefore has
// no entry for the connection: the reply is looked up afresh there, and a TCP SYN-ACK
// without an entry is INVALID (tcp_new refuses to start a connection from it), a UDP
// reply a NEW connection of its own. kube-proxy's ipvs mode has no rule dropping INVALID
// packets, but a FORWARD policy DROP that relied on KUBE-FORWARD's RELATED,ESTABLISHED
// accept now drops the reply. IPVS's own table still un-NATs it (ipvsUnNAT).
func ipvsUntracked(req packet.Packet) bool { return req.IPVS && req.Untracked }

func ctStateName(p packet.Packet) string {
	switch p.CtState {
	case packet.CtInvalid:
		return "INVALID"
	case packet.CtNew:
		return "NEW"
	case packet.CtEstablished:
		return "ESTABLISHED"
	case packet.CtRelated:
		return "RELATED"
	}
	return "UNTRACKED"
}

// ipvsMethod is a real server's forwarding method as the packet carries it.
func ipvsMethod(m ipvs.Method) uint8 {
	switch m {
	case ipvs.Masq:
		return packet.IPVSMasq
	case ipvs.Route:
		return packet.IPVSGate
	case ipvs.Tunnel:
		return packet.IPVSTunnel
	case ipvs.Local:
		return packet.IPVSLocal
	}
	return packet.IPVSMethodUnknown
}

// routingQueryFor is the lookup IPVS makes for a real server (__ip_vs_get_out_rt): by
// destination alone.
func routingQueryFor(p packet.Packet) routing.Query { return routing.Query{Dst: p.Dst} }
