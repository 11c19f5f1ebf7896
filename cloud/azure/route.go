package azure

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
)

// reserved are the prefixes Azure gives a None (drop) system route unless the VNet's
// address space covers them (learn.microsoft.com, "Virtual network traffic routing",
// Default system routes).
var reserved = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("100.64.0.0/10"),
}

// routeTableOf is the route table associated with a subnet: the subnet's routeTable,
// else a table that lists the subnet.
func (x *Export) routeTableOf(s *Subnet) *RouteTable {
	if s == nil {
		return nil
	}
	if s.RouteTable != "" {
		if rt := x.RouteTables[normID(s.RouteTable)]; rt != nil {
			return rt
		}
	}
	for _, rt := range x.RouteTables {
		for _, id := range rt.Subnets {
			if s.ID != "" && normID(id) == normID(s.ID) {
				return rt
			}
		}
	}
	return nil
}

// SystemRoutes are the routes Azure creates for every subnet of a VNet: one per address
// range of the VNet (next hop virtual network), one per connected peering's remote
// range, 0.0.0.0/0 to the Internet, and None for the reserved private ranges the
// address space does not cover.
func SystemRoutes(v *VNet) []*Route {
	var out []*Route
	for _, p := range v.Space {
		out = append(out, &Route{Name: "VNet address space", Prefix: p, Hop: HopVnetLocal, System: true, Pos: v.Pos})
	}
	for _, pe := range v.Peerings {
		if !strings.EqualFold(pe.State, "Connected") {
			continue // a peering not Connected adds no route
		}
		for _, p := range pe.RemoteSpace {
			out = append(out, &Route{Name: "peering " + pe.Name, Prefix: p, Hop: HopPeering, System: true, Pos: pe.Pos})
		}
	}
	out = append(out, &Route{Name: "default", Prefix: netip.MustParsePrefix("0.0.0.0/0"), Hop: HopInternet, System: true, Pos: v.Pos})
	for _, r := range reserved {
		covered := false
		for _, p := range v.Space {
			// A space that is the range, or holds it, replaces the None route.
			covered = covered || (p.Bits() <= r.Bits() && p.Contains(r.Addr()))
		}
		if !covered {
			out = append(out, &Route{Name: "default", Prefix: r, Hop: HopNone, System: true, Pos: v.Pos})
		}
	}
	return out
}

// Lookup picks the route a subnet uses for dst: the longest prefix among the subnet's
// user-defined routes and the VNet's system routes; at an equal prefix a user-defined
// route wins over a BGP route, which wins over a system route. BGP routes are not in the
// exports: when the VNet has a gateway and the table does not disable propagation, a
// choice that a BGP route could override is unknown (why says so).
func (x *Export) Lookup(s *Subnet, dst netip.Addr) (r *Route, rt *RouteTable, why string) {
	rt = x.routeTableOf(s)
	var cands []*Route
	if c, tag, ok := x.udrCandidates(rt, dst); ok {
		if tag != nil {
			return nil, rt, fmt.Sprintf("route %s of route table %s goes to service tag %s, whose prefixes are not in the exports", tag.Name, rt.Name, tag.Tag)
		}
		cands = c
	} else if rt != nil {
		for _, u := range rt.Routes {
			if u.Tag != "" {
				if publicAddr(dst) {
					return nil, rt, fmt.Sprintf("route %s of route table %s goes to service tag %s, whose prefixes are not in the exports", u.Name, rt.Name, u.Tag)
				}
				continue
			}
			if u.Prefix.Contains(dst) {
				cands = append(cands, u)
			}
		}
	}
	for _, sr := range SystemRoutes(s.VNet) {
		if sr.Prefix.Contains(dst) {
			cands = append(cands, sr)
		}
	}
	if len(cands) == 0 {
		return nil, rt, ""
	}
	sort.SliceStable(cands, func(i, j int) bool {
		if cands[i].Prefix.Bits() != cands[j].Prefix.Bits() {
			return cands[i].Prefix.Bits() > cands[j].Prefix.Bits()
		}
		return !cands[i].System && cands[j].System
	})
	r = cands[0]
	bgp := s.VNet.HasGateway() && (rt == nil || !rt.NoBGP)
	// System routes of the VNet and its peerings are preferred even over a more
	// specific BGP route; other system routes yield to BGP.
	if bgp && r.System && r.Hop != HopVnetLocal && r.Hop != HopPeering {
		return r, rt, fmt.Sprintf("the VNet's virtual network gateway may have learned a BGP route for %s, which would win over system route %s; BGP routes are not in the exports (az network nic show-effective-route-table shows them)", dst, r.Name)
	}
	return r, rt, ""
}

// Label renders a route.
func (r *Route) Label() string {
	dst := r.Prefix.String()
	if r.Tag != "" {
		dst = r.Tag
	}
	hop := r.Hop
	switch r.Hop {
	case HopAppliance:
		hop += " " + r.HopIP.String()
	case HopPeering:
		hop = "VNetPeering"
	case HopVnetLocal:
		if r.System {
			hop = "VirtualNetwork"
		}
	}
	if r.System {
		return fmt.Sprintf("%s -> %s (system route: %s)", dst, hop, r.Name)
	}
	return fmt.Sprintf("%s -> %s (user route %s)", dst, hop, r.Name)
}
