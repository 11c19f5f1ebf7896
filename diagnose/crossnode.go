package diagnose

import (
	"fmt"
	"net/netip"
	"sort"
)

// hostHolder returns the node whose host namespace holds an address, and the device.
func hostHolder(idx map[netip.Addr][]heldAddr, a netip.Addr) (heldAddr, bool) {
	for _, h := range idx[a] {
		if h.netns == "host" {
			return h, true
		}
	}
	return heldAddr{}, false
}

// checkGateways checks where each node's routes to the other nodes' pod CIDRs lead
// (FIELD-GUIDE 5, 9): the next hop must be the node that holds the CIDR; a VXLAN forwarding
// entry must send to that node.
func (r *run) checkGateways(idx map[netip.Addr][]heldAddr) {
	for _, name := range sortedKeys(r.nodes) {
		info := r.nodes[name]
		var wrong, unknown []string
		var wrongEv, unknownEv []Evidence
		for i, gw := range info.gateways {
			if !gw.IsValid() {
				continue
			}
			m := r.c.Nodes[i]
			if containsAddr(m.Addrs, gw) {
				continue
			}
			h, ok := hostHolder(idx, gw)
			switch {
			case ok && h.node == m.Name:
			case ok:
				wrong = append(wrong, fmt.Sprintf("%s's pod CIDR via %s, which is %s's", m.Name, gw, h.node))
				if len(wrongEv) < 3 {
					wrongEv = append(wrongEv, at(info.gwPos[i], ""))
				}
			default:
				if _, dumped := r.nodes[m.Name]; !dumped {
					continue // that node's addresses are not known
				}
				unknown = append(unknown, fmt.Sprintf("%s's pod CIDR via %s", m.Name, gw))
				if len(unknownEv) < 3 {
					unknownEv = append(unknownEv, at(info.gwPos[i], ""))
				}
			}
		}
		if len(wrong) > 0 {
			sort.Strings(wrong)
			r.add(Finding{Code: "route-wrong-gateway", Severity: Error, Node: name,
				Message:  fmt.Sprintf("%s routes %d other node(s)' pod CIDRs to the wrong node: %s", name, len(wrong), listSome(wrong, 5)),
				Evidence: wrongEv,
				Fix:      "route each node's pod CIDR via that node's address (check the CNI agent on " + name + ")"})
		}
		if len(unknown) > 0 {
			sort.Strings(unknown)
			r.add(Finding{Code: "route-gateway-unknown", Severity: Warning, Node: name,
				Message:  fmt.Sprintf("%s routes %d other node(s)' pod CIDRs via addresses no node in the bundle holds: %s; that router must know the pod CIDRs", name, len(unknown), listSome(unknown, 5)),
				Evidence: unknownEv,
				Fix:      "route each node's pod CIDR via that node's address, or check the router's (cloud route table's) routes for the pod CIDRs"})
		}
		for _, f := range info.fdbs {
			if h, ok := hostHolder(idx, f.dst); ok && h.node == f.target {
				continue
			}
			who := "no node in the bundle"
			if h, ok := hostHolder(idx, f.dst); ok {
				who = "node " + h.node
			}
			m := r.c.Node(f.target)
			r.add(Finding{Code: "vxlan-fdb-wrong-dst", Severity: Error, Node: name,
				Message:  fmt.Sprintf("%s's VXLAN forwarding entry for %s's tunnel endpoint sends to %s, which %s holds: packets to %s's pods are encapsulated to the wrong host", name, f.target, f.dst, who, f.target),
				Evidence: []Evidence{at(f.pos, "")},
				Fix:      fmt.Sprintf("on %s: fix the fdb entry to dst %s (or restart the CNI agent)", name, nodeAddrText(m))})
		}
	}
}

func containsAddr(as []netip.Addr, a netip.Addr) bool {
	for _, x := range as {
		if x == a {
			return true
		}
	}
	return false
}

// checkRPFilter finds strict reverse-path filtering on an asymmetric path (FIELD-GUIDE 4):
// node M routes node N's pod CIDR to an address on N's device X, N's route back to M's
// pod CIDR leaves through another device, and X has rp_filter = 1: N drops M's pods'
// packets as spoofed.
func (r *run) checkRPFilter(idx map[netip.Addr][]heldAddr) {
	for _, nName := range sortedKeys(r.nodes) {
		n := r.nodes[nName]
		if len(n.strict) == 0 || n.back == nil {
			continue
		}
		ni, ok := r.nodeIdx[nName]
		if !ok {
			continue
		}
		for _, mName := range sortedKeys(r.nodes) {
			m := r.nodes[mName]
			mi, ok := r.nodeIdx[mName]
			if mName == nName || !ok || m.gateways == nil {
				continue
			}
			gw := m.gateways[ni]
			if !gw.IsValid() {
				continue
			}
			h, ok := hostHolder(idx, gw)
			if !ok || h.node != nName {
				continue
			}
			ev, strict := n.strict[h.dev]
			back := n.back[mi]
			if !strict || back == "" || back == h.dev {
				continue
			}
			r.add(Finding{Code: "rp-filter-asymmetric", Severity: Error, Node: nName,
				Message: fmt.Sprintf("%s routes %s's pod CIDR via %s, so %s's pods' packets reach %s on %s; but %s's route back to %s's pod CIDR leaves through %s, and %s has strict rp_filter: %s drops them as spoofed",
					mName, nName, gw, mName, nName, h.dev, nName, mName, back, h.dev, nName),
				Evidence: []Evidence{ev, at(m.gwPos[ni], ""), at(h.pos, gw.String()+" on "+h.dev)},
				Fix:      fmt.Sprintf("on %s: set net.ipv4.conf.%s.rp_filter=2 (loose), or make %s route %s's pod CIDR via the address on %s", nName, h.dev, mName, nName, back)})
		}
	}
}
