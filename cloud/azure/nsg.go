package azure

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/netsim/netsim/rules/packet"
)

// AzureLoadBalancerIP is what the AzureLoadBalancer service tag stands for: the virtual
// IP of the host, where load balancer health probes come from
// (learn.microsoft.com, "Azure IP address 168.63.129.16").
var AzureLoadBalancerIP = netip.MustParseAddr("168.63.129.16")

// match is a tri-state answer: the exports say yes, no, or cannot say.
type match uint8

const (
	no match = iota
	yes
	maybe
)

// VirtualNetwork is what the VirtualNetwork service tag stands for, seen from a VNet
// (learn.microsoft.com, "Virtual network service tags"): the VNet's address space, the
// address spaces of VNets peered with it (peering Connected), and the address prefixes
// of the user-defined routes of its subnets' route tables. The on-premises ranges a
// virtual network gateway connects are not in the exports: with a GatewaySubnet in the
// VNet, an address outside the known ranges may belong to the tag (maybe).
func (x *Export) VirtualNetwork(v *VNet) (prefixes []netip.Prefix, gateway bool) {
	if v == nil {
		return nil, false
	}
	prefixes = append(prefixes, v.Space...)
	for _, p := range v.Peerings {
		if strings.EqualFold(p.State, "Connected") {
			prefixes = append(prefixes, p.RemoteSpace...)
		}
	}
	for _, s := range v.Subnets {
		if rt := x.routeTableOf(s); rt != nil {
			for _, r := range rt.Routes {
				if r.Prefix.IsValid() {
					prefixes = append(prefixes, r.Prefix)
				}
			}
		}
	}
	return prefixes, v.HasGateway()
}

// publicAddr reports whether a is on the public internet (not private, shared,
// loopback or link-local).
func publicAddr(a netip.Addr) bool {
	return !(a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsUnspecified() || cgnat.Contains(a) || a.IsMulticast())
}

var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// inTag says whether an address is in a service tag, seen from a VNet.
func (x *Export) inTag(tag string, a netip.Addr, v *VNet) match {
	switch strings.ToLower(tag) {
	case "*", "any":
		return yes
	case "azureloadbalancer":
		if a == AzureLoadBalancerIP {
			return yes
		}
		return no
	case "virtualnetwork":
		in, gw := x.inVirtualNetwork(a, v)
		if in {
			return yes
		}
		if v == nil || (gw && a.IsPrivate()) {
			return maybe
		}
		return no
	case "internet":
		// The address space outside the virtual network reachable by the public internet.
		if !publicAddr(a) {
			return no
		}
		if x.inTag("VirtualNetwork", a, v) == yes {
			return no
		}
		return yes
	}
	return maybe // a tag whose prefixes Microsoft publishes outside the exports
}

// side matches one side of a rule against an address.
func (x *Export) side(s Addr, a netip.Addr, v *VNet) (match, string) {
	if len(s.ASGs) > 0 {
		c := x.ConfigWith(a)
		if c == nil {
			return no, ""
		}
		for _, want := range s.ASGs {
			for _, have := range c.ASGs {
				if normID(want) == normID(have) {
					return yes, ""
				}
			}
		}
		return no, ""
	}
	res, why := no, ""
	for _, p := range s.Prefixes {
		if isTag(p) {
			switch x.inTag(p, a, v) {
			case yes:
				return yes, ""
			case maybe:
				res = maybe
				if why == "" {
					why = fmt.Sprintf("whether %s is in service tag %s is not in the exports", a, p)
					if strings.EqualFold(p, "VirtualNetwork") {
						why = fmt.Sprintf("whether %s is in service tag VirtualNetwork is not known: the VNet has a virtual network gateway whose on-premises ranges are not exported", a)
						if v == nil {
							why = fmt.Sprintf("the VNet of the NIC is not in %s, so service tag VirtualNetwork cannot be expanded", FileVNets)
						}
					}
				}
			}
			continue
		}
		if c, err := parseCIDR(p); err == nil && c.Contains(a) {
			return yes, ""
		}
	}
	return res, why
}

func protoMatch(rule string, p uint8) bool {
	switch rule {
	case "*":
		return true
	case "tcp":
		return p == packet.TCP
	case "udp":
		return p == packet.UDP
	case "icmp":
		return p == packet.ICMP || p == 58
	case "esp":
		return p == 50
	case "ah":
		return p == 51
	}
	return false
}

func portsMatch(rs []PortRange, port uint16, hasPorts bool) bool {
	for _, r := range rs {
		if r.From == 0 && r.To == 65535 {
			return true
		}
		if hasPorts && int(port) >= r.From && int(port) <= r.To {
			return true
		}
	}
	return false
}

// Verdict of an NSG for a packet: the rule that decided, or why none can be named.
type Verdict struct {
	Rule    *Rule
	Unknown string
}

// Eval runs an NSG's rules of one direction over a packet, lowest priority number
// first; the first rule that matches decides, allow or deny. v is the VNet the NSG's
// NIC or subnet is in (for the VirtualNetwork tag). A rule the exports cannot decide
// (a service tag netsim cannot expand) stops the evaluation as unknown.
func (x *Export) Eval(g *NSG, inbound bool, pk packet.Packet, v *VNet) Verdict {
	for _, r := range g.Rules {
		if r.Inbound != inbound || !protoMatch(r.Protocol, pk.Proto) {
			continue
		}
		if !portsMatch(r.DstPorts, pk.DPort, pk.HasPorts()) || !portsMatch(r.SrcPorts, pk.SPort, pk.HasPorts()) {
			continue
		}
		sm, why1 := x.side(r.Src, pk.Src, v)
		if sm == no {
			continue
		}
		dm, why2 := x.side(r.Dst, pk.Dst, v)
		if dm == no {
			continue
		}
		if sm == maybe || dm == maybe {
			why := why1
			if why == "" {
				why = why2
			}
			return Verdict{Rule: r, Unknown: why}
		}
		return Verdict{Rule: r}
	}
	return Verdict{}
}

// Label renders a rule as the portal shows it.
func (r *Rule) Label() string {
	dir, acc := "Outbound", "Deny"
	if r.Inbound {
		dir = "Inbound"
	}
	if r.Allow {
		acc = "Allow"
	}
	proto := r.Protocol
	if proto != "*" {
		proto = strings.ToUpper(proto[:1]) + proto[1:]
	}
	s := fmt.Sprintf("%d %s %s %s %s from %s port %s to %s port %s", r.Priority, r.Name, dir, acc, proto, addrLabel(r.Src), portsLabel(r.SrcPorts), addrLabel(r.Dst), portsLabel(r.DstPorts))
	if r.Synthetic {
		s += " (default rule, not listed in the export)"
	}
	return s
}

func addrLabel(a Addr) string {
	if len(a.ASGs) > 0 {
		var ns []string
		for _, id := range a.ASGs {
			ns = append(ns, "ASG "+lastSeg(id))
		}
		return strings.Join(ns, ",")
	}
	if len(a.Prefixes) == 0 {
		return "*"
	}
	return strings.Join(a.Prefixes, ",")
}

func portsLabel(rs []PortRange) string {
	var out []string
	for _, r := range rs {
		switch {
		case r.From == 0 && r.To == 65535:
			out = append(out, "*")
		case r.From == r.To:
			out = append(out, fmt.Sprint(r.From))
		default:
			out = append(out, fmt.Sprintf("%d-%d", r.From, r.To))
		}
	}
	return strings.Join(out, ",")
}
