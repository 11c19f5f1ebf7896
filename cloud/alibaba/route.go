package alibaba

import (
	"fmt"
	"net/netip"
	"strings"
)

// NICWith is the interface holding an address (its primary or a secondary private IP,
// or an IPv4 prefix of it); nil when none does.
func (x *Export) NICWith(a netip.Addr) *NIC {
	if x.idx != nil {
		return x.idx.nicWith(x, a)
	}
	for _, n := range x.NICs {
		if n.Holds(a) {
			return n
		}
	}
	return nil
}

// PrimaryNIC is an instance's primary interface.
func (x *Export) PrimaryNIC(id string) *NIC {
	var first *NIC
	for _, n := range x.nicsOf(id) {
		if n.Type == "Primary" {
			return n
		}
		if first == nil {
			first = n
		}
	}
	return first
}

// TableFor is the route table a vSwitch uses: the custom table bound to it, else the
// system table of its VPC. custom reports which.
func (x *Export) TableFor(vsw, vpc string) (t *RouteTable, custom bool) {
	if v := x.VSwitches[vsw]; v != nil && v.Table != "" {
		for _, rt := range x.Tables {
			if rt.ID == v.Table {
				return rt, !strings.EqualFold(rt.Type, "System")
			}
		}
	}
	for _, rt := range x.Tables {
		for _, id := range rt.VSwitches {
			if id == vsw && !strings.EqualFold(rt.Type, "System") {
				return rt, true
			}
		}
	}
	if vpc == "" {
		if v := x.VSwitches[vsw]; v != nil {
			vpc = v.VpcID
		}
	}
	for _, rt := range x.Tables {
		if strings.EqualFold(rt.Type, "System") && (rt.VpcID == "" || vpc == "" || rt.VpcID == vpc) {
			return rt, false
		}
	}
	return nil, false
}

// Lookup picks the route for dst in a table by longest prefix. The system routes of
// the VPC's vSwitch CIDRs exist in every table: when the exported entries lack one
// (and DescribeVSwitches.json is exported), it is implied from the vSwitch.
func (x *Export) Lookup(t *RouteTable, vpc string, dst netip.Addr) *RouteEntry {
	best, indexed := x.longestEntry(t, dst)
	if !indexed {
		for _, r := range t.Entries {
			if r.Dest.Contains(dst) && (best == nil || r.Dest.Bits() > best.Dest.Bits()) {
				best = r
			}
		}
	}
	if vpc == "" {
		vpc = t.VpcID
	}
	for _, v := range x.VSwitches {
		if v.CIDR.IsValid() && v.CIDR.Contains(dst) && (vpc == "" || v.VpcID == vpc) && (best == nil || v.CIDR.Bits() > best.Dest.Bits()) {
			best = &RouteEntry{ID: "system route of " + v.ID, Table: t.ID, Type: "System", Status: "Available", Dest: v.CIDR, HopType: HopLocal, HopID: v.ID, Pos: v.Pos}
		}
	}
	return best
}

// Label renders a route entry.
func (r *RouteEntry) Label() string {
	hop := r.HopType
	if r.HopID != "" {
		hop += " " + r.HopID
	}
	if r.Hops > 1 {
		hop += fmt.Sprintf(" (one of %d next hops)", r.Hops)
	}
	s := fmt.Sprintf("%s -> %s", r.Dest, hop)
	if r.Type != "" {
		s += " (" + r.Type
		if r.Status != "" {
			s += ", " + r.Status
		}
		s += ")"
	} else if r.Status != "" {
		s += " (" + r.Status + ")"
	}
	return s
}

// Available reports whether the route is in effect: Available (an export without a
// Status is taken as it); Pending, Modifying, Creating, Deleting and the like are not.
func (r *RouteEntry) Available() bool {
	return r.Status == "" || strings.EqualFold(r.Status, "Available")
}

// snatFor finds the SNAT entry of a NAT gateway that translates src: among the
// gateway's available entries whose source range (SourceCIDR, or the vSwitch's CIDR
// for a SourceVSwitchId entry) holds src, the most specific one (an ECS-granular /32
// entry before a vSwitch entry). missing names SNAT table files the bundle lacks.
func (x *Export) snatFor(n *NATGateway, src netip.Addr, srcVSwitch string) (best *SnatEntry, missing []string) {
	bits := -1
	for _, t := range n.SnatTables {
		es, ok := x.Snat[t]
		if !ok {
			missing = append(missing, x.file(DirSnatEntries+"/"+t+".json"))
			continue
		}
		for _, e := range es {
			if e.Status != "" && !strings.EqualFold(e.Status, "Available") {
				continue
			}
			p := e.Source
			if !p.IsValid() && e.VSwitch != "" {
				if v := x.VSwitches[e.VSwitch]; v != nil {
					p = v.CIDR
				} else if e.VSwitch == srcVSwitch {
					// The vSwitch's CIDR is not exported: it holds the interface's own address.
					p = netip.PrefixFrom(src, 0)
				}
			}
			if !p.IsValid() || !p.Contains(src) {
				continue
			}
			if p.Bits() > bits {
				best, bits = e, p.Bits()
			}
		}
	}
	return best, missing
}
