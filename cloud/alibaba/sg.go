package alibaba

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/netsim/netsim/rules/packet"
)

// GRE is IP protocol 47, which security group rules name.
const GRE uint8 = 47

// covers reports whether the rule's protocol and port range cover the packet. The port
// range applies to TCP and UDP; ICMP, GRE and ALL rules are written with -1/-1.
func (r *Rule) covers(pk packet.Packet) bool {
	switch r.Proto {
	case "ALL":
		return true
	case "TCP", "UDP":
		if (r.Proto == "TCP" && pk.Proto != packet.TCP) || (r.Proto == "UDP" && pk.Proto != packet.UDP) {
			return false
		}
		return r.From == -1 || (int(pk.DPort) >= r.From && int(pk.DPort) <= r.To)
	case "ICMP":
		return pk.Proto == packet.ICMP
	case "ICMPV6":
		return pk.Proto == packet.ICMPv6
	case "GRE":
		return pk.Proto == GRE
	}
	return false
}

// Members are the private addresses (primary and secondary) of the interfaces in a
// security group: what a rule naming the group as its source or destination matches.
func (x *Export) Members(group string) []*NIC {
	var out []*NIC
	for _, n := range x.NICs {
		for _, g := range n.Groups {
			if g == group {
				out = append(out, n)
				break
			}
		}
	}
	return out
}

// peerMatches reports whether the rule's other side holds a; known is false when that
// cannot be told (a prefix list that is not exported).
func (x *Export) peerMatches(r *Rule, a netip.Addr) (match, known bool) {
	switch {
	case r.CIDR.IsValid():
		return r.CIDR.Contains(a), true
	case r.PeerGroup != "":
		// Group references are for the internal network: the members' private addresses.
		for _, n := range x.Members(r.PeerGroup) {
			if n.Holds(a) {
				return true, true
			}
		}
		return false, true
	case r.PrefixList != "":
		entries, ok := x.PrefixLists[r.PrefixList]
		if !ok {
			return false, false
		}
		for _, e := range entries {
			if e.CIDR.Contains(a) {
				return true, true
			}
		}
		return false, true
	}
	// No authorization object the exports show (the API requires one): which addresses
	// the rule covers is not known, never read as all of them.
	return false, false
}

// unknownPeer says why a rule's peer cannot be matched.
func (x *Export) unknownPeer(r *Rule) string {
	if r.PrefixList != "" {
		return fmt.Sprintf("rule %d of %s (priority %d) names prefix list %s, which the bundle does not have (%s)",
			r.Index, r.Group.ID, r.Priority, r.PrefixList, x.file(DirPrefixLists+"/"+r.PrefixList+".json"))
	}
	return fmt.Sprintf("rule %d of %s (priority %d, %s) names no peer netsim reads: no CIDR, Ipv6 CIDR, security group or PrefixListId (%s)",
		r.Index, r.Group.ID, r.Priority, r.Pos, x.file(DirGroups+"/"+r.Group.ID+".json"))
}

// Result is what a NIC's security groups decide for a packet.
type Result struct {
	// Rule is the custom rule that decided (nil when a default rule did).
	Rule *Rule
	// Allowed is the decision.
	Allowed bool
	// Inner is the basic group whose InnerAccessPolicy Accept admitted the packet (the
	// default rule for instances of the same group), when that decided.
	Inner *Group
	// Default names the default rule that decided when no custom rule matched.
	Default string
	// Unknown says why the decision cannot be made ("" when it can).
	Unknown string
}

// Evaluate judges a packet at an interface with the rules of all its security groups
// together: the rules of every group are sorted by priority (1 is the highest) and the
// first that matches decides; at equal priority a Drop rule wins over an Accept rule.
// When no custom rule matches, the default rules decide: a basic group admits ingress
// only from instances of a basic group it shares whose InnerAccessPolicy is Accept and
// allows all egress; an enterprise group denies both (Alibaba Cloud ECS docs, "Security
// group rules" and "Basic security groups and enterprise security groups").
func (x *Export) Evaluate(nic *NIC, ingress bool, pk packet.Packet) Result {
	other := pk.Dst
	if ingress {
		other = pk.Src
	}
	var missing []string
	var groups []*Group
	for _, id := range nic.Groups {
		g := x.Groups[id]
		if g == nil {
			missing = append(missing, x.file(DirGroups+"/"+id+".json"))
			continue
		}
		groups = append(groups, g)
	}
	var best *Rule
	var unsure *Rule
	for _, g := range groups {
		for _, r := range g.Rules {
			if r.Ingress != ingress || (r.NicType != "" && !strings.EqualFold(r.NicType, "intranet")) || !r.covers(pk) {
				continue
			}
			m, known := x.peerMatches(r, other)
			if !known {
				if unsure == nil || r.Priority < unsure.Priority {
					unsure = r
				}
				continue
			}
			if !m {
				continue
			}
			if best == nil || r.Priority < best.Priority || (r.Priority == best.Priority && !r.Accept && best.Accept) {
				best = r
			}
		}
	}
	if unsure != nil && (best == nil || unsure.Priority <= best.Priority) {
		return Result{Unknown: x.unknownPeer(unsure)}
	}
	if best != nil {
		if len(missing) > 0 && (best.Accept || best.Priority > 1) {
			// A group we cannot read might hold a rule that takes precedence: any rule of
			// a higher priority, or a Drop rule of the same.
			return Result{Unknown: "the bundle lacks " + strings.Join(missing, ", ") + ", whose rules might take precedence"}
		}
		return Result{Rule: best, Allowed: best.Accept}
	}
	if len(missing) > 0 {
		return Result{Unknown: "the bundle lacks " + strings.Join(missing, ", ")}
	}
	if len(groups) == 0 {
		return Result{Unknown: "the exports name no security group of the interface (" + x.file(FileNICs) + " lists every interface's groups)"}
	}
	enterprise, unknownType := false, false
	for _, g := range groups {
		basic, known := g.Basic()
		enterprise = enterprise || (known && !basic)
		unknownType = unknownType || !known
	}
	if ingress {
		// The default inner access rule: an instance of the same basic group with
		// InnerAccessPolicy Accept.
		for _, g := range groups {
			if basic, _ := g.Basic(); !basic || !strings.EqualFold(g.Inner, "Accept") {
				continue
			}
			for _, n := range x.Members(g.ID) {
				if n.Holds(other) {
					return Result{Allowed: true, Inner: g, Default: "InnerAccessPolicy Accept of " + g.ID}
				}
			}
		}
		return Result{Default: "the default ingress rule denies what no rule allows"}
	}
	switch {
	case enterprise:
		return Result{Default: "an enterprise security group denies egress no rule allows"}
	case unknownType:
		return Result{Unknown: "no rule decides egress, and the default depends on whether the groups are basic (allow) or enterprise (deny), which their exports do not say (InnerAccessPolicy Drop, no SecurityGroupType)"}
	}
	return Result{Allowed: true, Default: "a basic security group allows all egress by default"}
}

// Label renders a rule as the console lists it.
func (r *Rule) Label() string {
	dir, word := "egress", "to"
	if r.Ingress {
		dir, word = "ingress", "from"
	}
	pol := "accept"
	if !r.Accept {
		pol = "drop"
	}
	other := "0.0.0.0/0"
	switch {
	case r.CIDR.IsValid():
		other = r.CIDR.String()
	case r.PeerGroup != "":
		other = "group " + r.PeerGroup
	case r.PrefixList != "":
		other = "prefix list " + r.PrefixList
	}
	return fmt.Sprintf("%s %s %s %d/%d %s %s priority %d", dir, pol, r.Proto, r.From, r.To, word, other, r.Priority)
}
