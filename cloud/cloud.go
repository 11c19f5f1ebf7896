// Package cloud is the provider-neutral face of a cloud network for the walk: where a
// packet leaves a node for another node or the outside, simulate asks the bundle's
// provider (cloud/aws, and later GCP, Azure, Alibaba, Tencent) what its network does
// with it: security groups, network ACLs, route tables, NAT and internet gateways, load
// balancers. Each answer is a list of Decisions, one per thing that decided, each citing
// the exported object (and its file and line) that decided it.
package cloud

import (
	"net/netip"

	"github.com/netsim/netsim/model/source"
	"github.com/netsim/netsim/rules/packet"
)

// Verdict is what one cloud decision does to the packet.
type Verdict uint8

// Verdicts. Unknown is never an allow: a check whose data the bundle lacks says so.
const (
	Allow    Verdict = iota // the packet goes on
	Deny                    // silently dropped (security group, ACL, source/dest check)
	NoRoute                 // no route, a blackhole route, a gateway that is not there
	Misroute                // routed somewhere else than where the cluster meant it to go
	Unknown                 // the exports needed to decide are missing
)

func (v Verdict) String() string {
	switch v {
	case Allow:
		return "allow"
	case Deny:
		return "deny"
	case NoRoute:
		return "no-route"
	case Misroute:
		return "misroute"
	}
	return "unknown"
}

// Decision is one check of the cloud network: a security group's rules, an ACL's rule, a
// route, a gateway's translation.
type Decision struct {
	Verdict Verdict
	// Step names the check ("aws security group egress", "aws route table").
	Step string
	// Action is what the hop shows: allow, deny, route, snat, dnat, forward, unknown.
	Action string
	// Object cites what decided: "securitygroup/sg-0abc ingress rule 2",
	// "networkacl/acl-0abc rule 100", "routetable/rtb-0abc route 10.0.0.0/16".
	Object string
	// Pos is the export file and line of that object or rule.
	Pos source.Pos
	// Text renders the rule that decided (or, for a blocker, what was consulted).
	Text string
	// Note adds a fact (the NIC judged, the translation made).
	Note string
	// Packet is the packet after the decision (changed by NAT); the zero value means unchanged.
	// For a Reply decision it is the reply judged, and the request goes on unchanged.
	Packet packet.Packet
	// Reply marks a check of the way back made while following the request (a stateless
	// ACL, a route back) where the walk will not pass again: a NAT gateway's replies.
	Reply bool
	// Code, Message and Fix explain a decision that is not Allow, and warnings.
	Code, Message, Fix string
	// Warning marks an Allow that deserves a finding (a load balancer failing open).
	Warning bool
}

// Blocks reports whether the decision stops the packet.
func (d Decision) Blocks() bool { return d.Verdict != Allow }

// Node is what a provider needs to know of a cluster node to find its machine.
type Node struct {
	Name       string
	ProviderID string         // spec.providerID, e.g. aws:///us-east-1a/i-0abc
	Addrs      []netip.Addr   // InternalIP and ExternalIP addresses
	PodCIDRs   []netip.Prefix // spec.podCIDRs
}

// Leg is a packet crossing the provider's network: from a node (or the outside) to a
// node (or the outside).
type Leg struct {
	// From and To are node names; "" is an address outside the cluster's nodes.
	From, To string
	// Via is the next hop the sending node's kernel chose (a node address for host-gw
	// routes); it equals the packet's destination for a directly addressed packet.
	Via    netip.Addr
	Packet packet.Packet
	// Reply marks the packet going back: stateful checks (security groups) let it
	// through as part of the connection; stateless ones (ACLs) judge it again.
	Reply bool
}

// Landing is where the provider's network hands a packet over.
type Landing struct {
	// Node is the cluster node whose NIC receives it; "" when it leaves the cluster's
	// machines (the internet, a peered network, an on-premises range).
	Node string
	// Beyond describes where the packet went when Node is "" ("the internet through
	// igw-0abc", "vpc-0abc through pcx-0abc").
	Beyond string
}

// Entry is one way a packet from the outside enters the cluster through the provider: a
// load balancer's target, or a node's public address.
type Entry struct {
	Decisions []Decision
	// Node receives the packet (rewritten as Packet: a node port, the node's private
	// address); "" when the entry was blocked before reaching a node.
	Node   string
	Packet packet.Packet
	// Branch names the way, for the path's branches ("target i-0abc of tg web").
	Branch string
	// Back is the translation undone on the reply, on its way to the client: the load
	// balancer's address replaces the node's. Nil when nothing is undone.
	Back func(packet.Packet) (packet.Packet, []Decision)
}

// Provider is one cloud's network, read from the bundle's exports. The walk calls it at
// the underlay hop; every method returns the decisions in the order the packet meets
// them, and stops after the first that blocks.
type Provider interface {
	// Name is the provider's directory under cloud/ ("aws").
	Name() string
	// Egress judges the packet leaving the sending NIC: source/destination check, its
	// security groups' egress rules, its subnet's outbound ACL.
	Egress(l Leg) []Decision
	// Route follows the packet through the provider's routing (route tables, peering,
	// gateways, NAT) and says where it lands.
	Route(l Leg) ([]Decision, Landing)
	// Ingress judges the packet arriving at the receiving node's NIC: its subnet's
	// inbound ACL, source/destination check, its security groups' ingress rules.
	Ingress(l Leg) []Decision
	// Inbound finds the ways a packet from the outside to an address the provider
	// answers for (a load balancer, a public IP) enters; ok is false when the provider
	// does not know the address.
	Inbound(p packet.Packet) (entries []Entry, ok bool)
}

// CloudIdentifier is optional: a provider implements it when it can say which cloud
// attributes decide a node's traffic (its network and subnet, which pick its route table;
// its security groups, network tags or NSGs; whether it has a public address). Nodes with
// the same identity meet the same rules, so diagnose judges them once, as one class, in
// clusters beyond its exact limit (64 nodes). ok is false for a node the exports do not
// map; diagnose groups such nodes by their zone, node-pool and role labels, and says so.
type CloudIdentifier interface {
	CloudIdentity(node string) (id string, ok bool)
}

// CloudRanges is optional: a provider implements it when it can list the address ranges
// its network routes: its own (Local: the VPC's or VNet's ranges and subnets) and those it
// sends elsewhere (peered networks, VPNs, on-premises ranges, transit gateways, CEN/CCN).
// Diagnose compares them with the cluster's pod and Service CIDRs (FIELD-GUIDE row 24): a
// pod or Service CIDR overlapping a range routed elsewhere, or a Service CIDR overlapping
// the network's own ranges, is an error citing the route; a pod CIDR overlapping the
// network's own range is one unless the pods are VPC-native there (a Pods range, or the
// provider's Route delivers a pod address in it to the pod's node). Default routes (a /0)
// and the routes the cluster's own nodes receive (a node's pod CIDR to its interface) are
// not listed: they overlap by design.
type CloudRanges interface {
	RoutedRanges() []RoutedRange
}

// RoutedRange is one range a cloud network routes.
type RoutedRange struct {
	Prefix netip.Prefix
	// Local marks the network's own range (a VPC's CIDR, a subnet's range).
	Local bool
	// Pods marks a Local range the network reserves for the cluster's pods or Services (a
	// GKE subnet's secondary ranges, alias IP ranges): a cluster range inside it is
	// VPC-native, not an overlap. Providers whose pods take addresses from ordinary
	// subnets (the AWS VPC CNI, Azure CNI, Terway, VPC-CNI) leave it false: diagnose asks
	// their Route where a pod's address goes instead.
	Pods bool
	// Where says where it leads ("vpc-0abc through pcx-0abc", "the VPC vpc-0abc").
	Where string
	// Object and Pos cite the route or range.
	Object string
	Pos    source.Pos
}
