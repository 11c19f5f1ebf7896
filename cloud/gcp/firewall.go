package gcp

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/netsim/netsim/rules/packet"
)

// protoMatches reports whether a firewall entry's protocol and ports cover the packet.
func (m Match) covers(pk packet.Packet) bool {
	switch m.Proto {
	case "all":
		return true
	case "tcp", "udp", "sctp":
		if packet.ProtoName(pk.Proto) != m.Proto {
			return false
		}
	case "icmp":
		if pk.Proto != packet.ICMP {
			return false
		}
	default:
		n, err := strconv.Atoi(m.Proto)
		if err != nil || n != int(pk.Proto) {
			return false
		}
	}
	if len(m.Ports) == 0 || !pk.HasPorts() {
		return len(m.Ports) == 0
	}
	for _, r := range m.Ports {
		if pk.DPort >= r.From && pk.DPort <= r.To {
			return true
		}
	}
	return false
}

// Targets reports whether the rule applies to the instance: all instances when it names
// no target tags or service accounts, else an instance carrying one of them.
func (fw *Firewall) Targets(in *Instance) bool {
	if len(fw.TargetTags) == 0 && len(fw.TargetSAs) == 0 {
		return true
	}
	return in != nil && (overlap(fw.TargetTags, in.Tags) || overlap(fw.TargetSAs, in.SAs))
}

func overlap(a, b []string) bool {
	for _, s := range a {
		if slices.Contains(b, s) {
			return true
		}
	}
	return false
}

// peerMatches reports whether the rule's other side matches: for an ingress rule the
// source (sourceRanges, or the sending instance's tags or service accounts; with none,
// any source), for an egress rule the destination (destinationRanges, default all).
// peer is the instance whose primary internal IP or alias range holds the other address.
func (fw *Firewall) peerMatches(a netip.Addr, peer *Instance) bool {
	ranges := fw.DstRanges
	if fw.Ingress {
		ranges = fw.SrcRanges
		if len(ranges) == 0 && len(fw.SrcTags) == 0 && len(fw.SrcSAs) == 0 {
			return true
		}
		if peer != nil && (overlap(fw.SrcTags, peer.Tags) || overlap(fw.SrcSAs, peer.SAs)) {
			return true
		}
	} else if len(ranges) == 0 {
		return true
	}
	for _, p := range ranges {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ownMatches applies the ranges of the target's side: an ingress rule's
// destinationRanges (the packet's destination: a load balancer's address in GKE's
// k8s-fw-* rules) and an egress rule's sourceRanges; none means any
// (https://cloud.google.com/firewall/docs/firewalls#sources_for_ingress_rules,
// ...#destinations-for-egress-rules).
func (fw *Firewall) ownMatches(pk packet.Packet, ingress bool) bool {
	ranges, a := fw.SrcRanges, pk.Src
	if ingress {
		ranges, a = fw.DstRanges, pk.Dst
	}
	if len(ranges) == 0 {
		return true
	}
	for _, p := range ranges {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Covers reports whether the rule's protocols and ports cover the packet.
func (fw *Firewall) Covers(pk packet.Packet) bool {
	for _, m := range fw.Matches {
		if m.covers(pk) {
			return true
		}
	}
	return false
}

// Decide finds the rule deciding a packet at an instance's interface: the enabled rules
// of its network in that direction that target it and match the peer and the packet,
// the lowest priority number first, a deny before an allow at the same priority. nil
// means none matched: the implied rule (allow egress, deny ingress, priority 65535).
func (x *Export) Decide(nic *NIC, ingress bool, pk packet.Packet, peer *Instance) *Firewall {
	other := pk.Dst
	if ingress {
		other = pk.Src
	}
	var best *Firewall
	for _, fw := range x.firewallsFor(nic.Inst) {
		if fw.Disabled || fw.Ingress != ingress || (fw.Network != "" && nic.Network != "" && fw.Network != nic.Network) {
			continue
		}
		if !fw.Targets(nic.Inst) || !fw.peerMatches(other, peer) || !fw.ownMatches(pk, ingress) || !fw.Covers(pk) {
			continue
		}
		if best == nil || fw.Priority < best.Priority || (fw.Priority == best.Priority && fw.Deny && !best.Deny) {
			best = fw
		}
	}
	return best
}

// String renders the rule as gcloud would describe it.
func (fw *Firewall) String() string {
	var b strings.Builder
	dir := "egress"
	if fw.Ingress {
		dir = "ingress"
	}
	act := "allow"
	if fw.Deny {
		act = "deny"
	}
	fmt.Fprintf(&b, "%s %s %s priority %d", dir, act, matchText(fw.Matches), fw.Priority)
	if fw.Ingress {
		var from []string
		for _, p := range fw.SrcRanges {
			from = append(from, p.String())
		}
		for _, t := range fw.SrcTags {
			from = append(from, "tag "+t)
		}
		for _, s := range fw.SrcSAs {
			from = append(from, "service account "+s)
		}
		if len(from) == 0 {
			from = []string{"0.0.0.0/0"}
		}
		b.WriteString(" from " + strings.Join(from, ", "))
		if len(fw.DstRanges) > 0 {
			var to []string
			for _, p := range fw.DstRanges {
				to = append(to, p.String())
			}
			b.WriteString(" to " + strings.Join(to, ", "))
		}
	} else {
		if len(fw.SrcRanges) > 0 {
			var from []string
			for _, p := range fw.SrcRanges {
				from = append(from, p.String())
			}
			b.WriteString(" from " + strings.Join(from, ", "))
		}
		to := []string{"0.0.0.0/0"}
		if len(fw.DstRanges) > 0 {
			to = to[:0]
			for _, p := range fw.DstRanges {
				to = append(to, p.String())
			}
		}
		b.WriteString(" to " + strings.Join(to, ", "))
	}
	switch {
	case len(fw.TargetTags) > 0:
		b.WriteString(" for target tags " + strings.Join(fw.TargetTags, ", "))
	case len(fw.TargetSAs) > 0:
		b.WriteString(" for target service accounts " + strings.Join(fw.TargetSAs, ", "))
	default:
		b.WriteString(" for all instances")
	}
	return b.String()
}

func matchText(ms []Match) string {
	var out []string
	for _, m := range ms {
		if len(m.Ports) == 0 {
			out = append(out, m.Proto)
			continue
		}
		var ps []string
		for _, r := range m.Ports {
			if r.From == r.To {
				ps = append(ps, strconv.Itoa(int(r.From)))
			} else {
				ps = append(ps, fmt.Sprintf("%d-%d", r.From, r.To))
			}
		}
		out = append(out, m.Proto+":"+strings.Join(ps, ","))
	}
	return strings.Join(out, ",")
}
