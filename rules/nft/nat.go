package nft

import (
	"fmt"
	"net/netip"
)

// nat applies dnat, snat, masquerade or redirect: the rule's last word for the packet
// (NAT statements are terminal). Only a connection's first packet reaches a nat chain;
// the hook order takes care of that.
func (w *walker) nat(st *state, r *Rule, o *natOp, c *ctx) []Result {
	p := st.p
	if r.Chain.Table.Family == "inet" && o.family != "" && (o.family == "ip6") != p.Is6() {
		return w.walkOn(st) // `dnat ip to ...` in an inet table applies to IPv4 only
	}
	if !p.OrigDst.IsValid() {
		p.OrigSrc, p.OrigDst = p.SrcAP(), p.DstAP()
	}
	var addrs []netip.Addr
	var portLo, portHi uint16
	note := ""
	if o.addr != nil {
		if o.addr.e != nil {
			v := o.addr.e.eval(c)
			switch {
			case v.st == sAbsent:
				return w.walkOn(st)
			case v.st == sUnknown || v.multi != nil:
				return w.unknown(st, r, o.String()+": the address cannot be computed ("+v.why+")")
			}
			if v.v.Kind != vAddr {
				return w.unknown(st, r, o.String()+": the map does not yield an address")
			}
			addrs = []netip.Addr{v.v.Addr}
			if len(v.data) == 2 && v.data[1].Kind == vNum {
				portLo, portHi = uint16(v.data[1].Num), uint16(v.data[1].Num)
			}
		} else {
			if o.addr.lo.Kind != vAddr {
				return w.unknown(st, r, o.String()+": the address is not one")
			}
			for a, n := o.addr.lo.Addr, 0; a.IsValid() && a.Compare(o.addr.hi.Addr) <= 0; a, n = a.Next(), n+1 {
				if n == 64 {
					return w.unknown(st, r, "NAT address range wider than 64 addresses")
				}
				addrs = append(addrs, a)
			}
		}
	}
	if o.port != nil {
		if o.port.e != nil {
			v := o.port.e.eval(c)
			switch {
			case v.st == sAbsent:
				return w.walkOn(st)
			case v.st == sUnknown || v.multi != nil || v.v.Kind != vNum:
				return w.unknown(st, r, o.String()+": the port cannot be computed ("+v.why+")")
			}
			portLo, portHi = uint16(v.v.Num), uint16(v.v.Num)
		} else {
			portLo, portHi = uint16(o.port.lo.Num), uint16(o.port.hi.Num)
		}
	}
	if len(addrs) == 0 {
		addrs = []netip.Addr{{}}
	}
	var out []Result
	for _, a := range addrs {
		q := p
		switch o.kind {
		case "dnat":
			if a.IsValid() {
				q.Dst = a
			}
			q.DNATed = true
		case "snat":
			if a.IsValid() {
				q.Src = a
			}
			q.SNATed = true
		case "masquerade":
			var src netip.Addr
			found := false
			if w.env != nil {
				src, found = w.env.SourceFor(q.OutIface, q.Dst)
			}
			if !found {
				return w.unknown(st, r, "masquerade: no address to masquerade as on "+q.OutIface)
			}
			q.Src, q.SNATed = src, true
		case "redirect":
			dst := netip.MustParseAddr("127.0.0.1")
			if q.Is6() {
				dst = netip.IPv6Loopback()
			}
			if q.InIface != "" {
				found := false
				if w.env != nil {
					dst, found = w.env.PrimaryAddr(q.InIface, q.Is6())
				}
				if !found {
					return w.unknown(st, r, "redirect: no address on "+q.InIface)
				}
			}
			q.Dst, q.DNATed = dst, true
		}
		if portLo != 0 && q.HasPorts() {
			port := &q.DPort
			if o.kind == "snat" || o.kind == "masquerade" {
				port = &q.SPort
			}
			if o.kind == "dnat" || o.kind == "redirect" {
				if portLo != portHi {
					note = fmt.Sprintf("port range %d-%d: netsim takes %d", portLo, portHi, portLo)
				}
				*port = portLo
			} else if *port < portLo || *port > portHi {
				*port = portLo
			}
		}
		br := st.br
		if len(addrs) > 1 {
			br = appendStr(br, fmt.Sprintf("rule %d: %s to %s", r.Handle, o.kind, a))
		}
		out = append(out, Result{Outcome: Accept, Packet: q, Branches: br, Steps: appendStep(st.steps, w.step(r, o.kind, note, q))})
	}
	return out
}

// walkOn continues after a rule that did not apply.
func (w *walker) walkOn(st *state) []Result { return w.walk(st.stack, st.p, st.steps, st.br) }
