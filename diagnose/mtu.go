package diagnose

import (
	"fmt"
	"sort"

	"github.com/netsim/netsim/model/iproute"
)

// checkMTU compares the MTU pods send with against the devices their traffic crosses
// between nodes (FIELD-GUIDE 25): a tunnel device (VXLAN, IP-in-IP, ...) or, without one,
// the underlay device; and a tunnel's own MTU against the underlay's minus its overhead.
// Small packets pass; larger ones are dropped unless path MTU discovery gets its ICMP
// errors back, so these are warnings.
func (r *run) checkMTU(nd *nodeDump) {
	under := r.underlay(nd)
	var tunnels []*iproute.Link
	for i := range nd.host.Links {
		l := &nd.host.Links[i]
		if _, ok := tunnelKinds[l.Kind]; ok && l.MTU > 0 && l.Up() {
			tunnels = append(tunnels, l)
		}
	}
	if under != nil {
		for _, t := range tunnels {
			if over := tunnelKinds[t.Kind]; t.MTU > under.MTU-over {
				r.add(Finding{Code: "mtu-tunnel-exceeds-underlay", Severity: Warning, Node: nd.name,
					Message:  fmt.Sprintf("%s: %s device %s has MTU %d, but the underlay %s has MTU %d and %s adds %d bytes: encapsulated packets over %d bytes do not fit", nd.name, t.Kind, t.Name, t.MTU, under.Name, under.MTU, t.Kind, over, under.MTU-over),
					Evidence: []Evidence{at(t.Pos, fmt.Sprintf("%s mtu %d", t.Name, t.MTU)), at(under.Pos, fmt.Sprintf("%s mtu %d", under.Name, under.MTU))},
					Fix:      fmt.Sprintf("set %s's MTU to %d on %s (the CNI's MTU setting)", t.Name, under.MTU-over, nd.name)})
			}
		}
	}
	limit, via := 0, (*iproute.Link)(nil)
	for _, t := range tunnels {
		if limit == 0 || t.MTU < limit {
			limit, via = t.MTU, t
		}
	}
	if via == nil && under != nil {
		limit, via = under.MTU, under
	}
	if via == nil {
		return
	}
	var pods []string
	var ev []Evidence
	max := 0
	for _, key := range sortedKeys(nd.pods) {
		ns := nd.pods[key]
		i := podEth0(ns)
		if i < 0 || ns.Links[i].MTU <= limit {
			continue
		}
		pods = append(pods, key)
		if ns.Links[i].MTU > max {
			max = ns.Links[i].MTU
		}
		if len(ev) < 2 {
			ev = append(ev, at(ns.Links[i].Pos, fmt.Sprintf("%s mtu %d", ns.Links[i].Name, ns.Links[i].MTU)))
		}
	}
	if len(pods) == 0 {
		return
	}
	sort.Strings(pods)
	what := "the underlay device"
	if via != under {
		what = via.Kind + " device"
	}
	ev = append(ev, at(via.Pos, fmt.Sprintf("%s mtu %d", via.Name, via.MTU)))
	r.add(Finding{Code: "mtu-mismatch", Severity: Warning, Node: nd.name,
		Message: fmt.Sprintf("%s: %d pod(s) send with MTU up to %d (%s), but their traffic to other nodes crosses %s %s with MTU %d: packets over %d bytes are dropped unless path MTU discovery works end to end",
			nd.name, len(pods), max, listSome(pods, 3), what, via.Name, limit, limit),
		Evidence: ev,
		Fix:      fmt.Sprintf("set the pods' MTU to at most %d (the CNI's MTU setting), or raise %s's MTU", limit, via.Name)})
}

// underlay is the host device holding the node's address (its Node object's, else the
// default route's device).
func (r *run) underlay(nd *nodeDump) *iproute.Link {
	if n := r.c.Node(nd.name); n != nil {
		for _, a := range n.Addrs {
			for i := range nd.host.Links {
				for _, la := range nd.host.Links[i].Addrs {
					if la.Prefix.Addr() == a && nd.host.Links[i].MTU > 0 {
						return &nd.host.Links[i]
					}
				}
			}
		}
	}
	for _, rt := range nd.host.Routes {
		if rt.Dst.Bits() == 0 && rt.Dst.Addr().Is4() && rt.Dev != "" && (rt.Table == "main" || rt.Table == "") {
			if l := nd.host.Link(rt.Dev); l != nil && l.MTU > 0 {
				return l
			}
		}
	}
	return nil
}
