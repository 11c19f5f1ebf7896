package diagnose

import (
	"fmt"
	"net/netip"
	"sort"

	"github.com/netsim/netsim/model"
	"github.com/netsim/netsim/model/iproute"
	"github.com/netsim/netsim/model/source"
	"github.com/netsim/netsim/rules/routing"
)

// probe is the address a check looks up for a pod CIDR: its first host address.
func probe(p netip.Prefix) netip.Addr { return p.Addr().Next() }

// checkRoutes looks up, from the node's host namespace, the route to every other node's
// pod CIDR (FIELD-GUIDE 5, 7, 8): none (or only the default route), a blackhole, or a
// tunnel without the neighbour and forwarding entries that carry it. Gateways are kept
// for the cross-node check of where they lead.
func (r *run) checkRoutes(nd *nodeDump) {
	info := nd.info
	n := len(r.c.Nodes)
	info.gateways = make([]netip.Addr, n)
	info.gwPos = make([]source.Pos, n)
	info.gwDev = make([]string, n)
	if len(info.strict) > 0 {
		info.back = make([]string, n)
	}
	if !nd.host.Has("route") {
		return
	}
	var missing []string
	var missingEv []Evidence
	for i, m := range r.c.Nodes {
		if m.Name == nd.name {
			continue
		}
		for _, p := range m.PodCIDRs {
			if !p.Addr().Is4() {
				continue
			}
			d := nd.router.Lookup(routing.Query{Dst: probe(p)})
			if info.back != nil && len(d.Hops) > 0 {
				info.back[i] = d.Hops[0].Dev
			}
			switch d.Kind {
			case routing.Blackhole, routing.Unreachable, routing.Prohibit:
				r.add(Finding{Code: "route-blackhole", Severity: Error, Node: nd.name,
					Message:  fmt.Sprintf("%s's route to %s's pod CIDR %s is %s: its pods cannot be reached from %s", nd.name, m.Name, p, routeWhat(d), nd.name),
					Evidence: routeEvidence(d, nd),
					Fix:      fmt.Sprintf("on %s: delete the %s route or rule, and route %s via %s", nd.name, d.Kind, p, nodeAddrText(m))})
			case routing.NoRoute:
				missing = append(missing, fmt.Sprintf("%s %s (no route)", m.Name, p))
				if len(missingEv) == 0 {
					missingEv = append(missingEv, Evidence{File: fileOf(nd.host, "route")})
				}
			case routing.Unicast:
				if d.Route != nil && d.Route.Dst.Bits() == 0 {
					missing = append(missing, fmt.Sprintf("%s %s (only the default route)", m.Name, p))
					if len(missingEv) < 2 {
						missingEv = append(missingEv, at(d.Route.Pos, d.Route.String()))
					}
					continue
				}
				if len(d.Hops) == 0 {
					continue
				}
				h := d.Hops[0]
				if l := nd.host.Link(h.Dev); l != nil && l.Kind == "vxlan" {
					r.checkVXLAN(nd, m, p, h, l, d.Route)
					continue
				}
				if h.Gateway.IsValid() {
					info.gateways[i], info.gwPos[i], info.gwDev[i] = h.Gateway, d.Route.Pos, h.Dev
				}
			}
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		r.add(Finding{Code: "route-missing", Severity: Error, Node: nd.name,
			Message:  fmt.Sprintf("%s has no route to the pod CIDRs of %d other node(s): %s; packets to their pods go nowhere (or to the default gateway, which does not know pod addresses)", nd.name, len(missing), listSome(missing, 5)),
			Evidence: missingEv,
			Fix:      fmt.Sprintf("check the CNI on %s (host-gw/flannel/calico agent, its logs): it should route each node's pod CIDR via that node", nd.name)})
	}
}

func routeWhat(d routing.Decision) string {
	if d.Route != nil {
		return fmt.Sprintf("a %s route (%s)", d.Kind, d.Route.String())
	}
	if d.Rule != nil {
		return fmt.Sprintf("a %s policy rule (%s)", d.Kind, d.Rule.String())
	}
	return d.Kind.String()
}

func routeEvidence(d routing.Decision, nd *nodeDump) []Evidence {
	var ev []Evidence
	if d.Route != nil {
		ev = append(ev, at(d.Route.Pos, d.Route.String()))
	}
	if d.Rule != nil && !d.Rule.Pos.IsZero() {
		ev = append(ev, at(d.Rule.Pos, d.Rule.String()))
	}
	if len(ev) == 0 {
		ev = append(ev, Evidence{File: fileOf(nd.host, "route")})
	}
	return ev
}

// fileOf names the file a namespace's state was read from ("route" -> .../route.json).
func fileOf(ns *model.NetNS, state string) string {
	for _, f := range ns.Read {
		base := f[len(ns.Dir)+1:]
		if len(base) > len(state) && base[:len(state)] == state && base[len(state)] == '.' {
			return f
		}
	}
	return ns.Dir + "/" + state + ".json"
}

func nodeAddrText(m *model.Node) string {
	if len(m.Addrs) > 0 {
		return m.Addrs[0].String()
	}
	return "node " + m.Name
}

// checkVXLAN checks that a VXLAN route to another node's pod CIDR can be encapsulated:
// a neighbour entry for its next hop (the remote VTEP's MAC) and a forwarding entry
// saying which node that MAC is behind.
func (r *run) checkVXLAN(nd *nodeDump, m *model.Node, p netip.Prefix, h routing.Hop, l *iproute.Link, rt *iproute.Route) {
	routeEv := at(rt.Pos, rt.String())
	var neigh *iproute.Neigh
	for i := range nd.host.Neighs {
		n := &nd.host.Neighs[i]
		if n.Dev == l.Name && n.Dst == h.Gateway && n.Usable() {
			neigh = n
			break
		}
	}
	if neigh == nil {
		r.add(Finding{Code: "vxlan-neighbour-missing", Severity: Error, Node: nd.name,
			Message:  fmt.Sprintf("%s routes %s's pod CIDR %s into %s via %s, but has no neighbour entry for %s there: the remote VTEP's MAC is unknown, so packets to %s's pods are not encapsulated", nd.name, m.Name, p, l.Name, h.Gateway, h.Gateway, m.Name),
			Evidence: []Evidence{routeEv, {File: fileOf(nd.host, "neigh")}},
			Fix:      "restart the CNI agent (flanneld) on " + nd.name + ": it writes the neighbour and fdb entries of every other node"})
		return
	}
	var fdb *iproute.FDB
	for i := range nd.host.FDB {
		f := &nd.host.FDB[i]
		if f.Dev == l.Name && f.MAC == neigh.LLAddr && f.Dst.IsValid() {
			fdb = f
			break
		}
	}
	if fdb == nil {
		r.add(Finding{Code: "vxlan-fdb-missing", Severity: Error, Node: nd.name,
			Message:  fmt.Sprintf("%s routes %s's pod CIDR %s into %s via %s (MAC %s), but no forwarding entry says which node that MAC is behind: packets to %s's pods are not sent", nd.name, m.Name, p, l.Name, h.Gateway, neigh.LLAddr, m.Name),
			Evidence: []Evidence{routeEv, at(neigh.Pos, neigh.String()), {File: fileOf(nd.host, "fdb")}},
			Fix:      fmt.Sprintf("on %s: bridge fdb append %s dev %s dst %s (or restart the CNI agent)", nd.name, neigh.LLAddr, l.Name, nodeAddrText(m))})
		return
	}
	for _, a := range m.Addrs {
		if a == fdb.Dst {
			return
		}
	}
	nd.info.fdbs = append(nd.info.fdbs, fdbCheck{target: m.Name, dst: fdb.Dst, pos: fdb.Pos})
}

// checkBlackholes reports blackhole, unreachable and prohibit routes that catch addresses
// of this node's pods or of other nodes (FIELD-GUIDE 7); those that are shadowed by more
// specific routes (as Calico's per-block blackholes are) are not reported.
func (r *run) checkBlackholes(nd *nodeDump) {
	for i := range nd.host.Routes {
		rt := &nd.host.Routes[i]
		if rt.Type != "blackhole" && rt.Type != "unreachable" && rt.Type != "prohibit" {
			continue
		}
		var victims []string
		check := func(a netip.Addr, who string) {
			if !rt.Dst.Contains(a) {
				return
			}
			d := nd.router.Lookup(routing.Query{Dst: a})
			if d.Route == rt {
				victims = append(victims, who)
			}
		}
		for _, m := range r.c.Nodes {
			if m.Name == nd.name {
				continue
			}
			for _, a := range m.Addrs {
				check(a, "node "+m.Name+" ("+a.String()+")")
			}
			for _, pc := range m.PodCIDRs {
				if rt.Dst.Overlaps(pc) {
					for _, pod := range r.c.PodsOnNode(m.Name) {
						for _, a := range pod.IPs {
							check(a, "pod "+pod.Key()+" ("+a.String()+")")
						}
					}
				}
			}
		}
		for _, pod := range r.c.PodsOnNode(nd.name) {
			for _, a := range pod.IPs {
				if !pod.HostNetwork() {
					check(a, "pod "+pod.Key()+" ("+a.String()+")")
				}
			}
		}
		if len(victims) == 0 {
			continue
		}
		sort.Strings(victims)
		victims = dedup(victims)
		r.add(Finding{Code: "route-blackhole", Severity: Error, Node: nd.name,
			Message:  fmt.Sprintf("%s's %s route %s catches %s: packets from %s to them are dropped", nd.name, rt.Type, rt.Dst, listSome(victims, 5), nd.name),
			Evidence: []Evidence{at(rt.Pos, rt.String())},
			Fix:      fmt.Sprintf("on %s: ip route del %s %s", nd.name, rt.Type, rt.Dst)})
	}
}
