package aws

import (
	"net/netip"

	"github.com/netsim/netsim/model/source"
)

// Instance is an EC2 instance (describe-instances).
type Instance struct {
	ID              string
	Zone            string
	State           string
	SubnetID, VpcID string
	PrivateIP       netip.Addr
	PublicIP        netip.Addr
	SourceDestCheck *bool
	ENIs            []string // its network interfaces, primary (device index 0) first
	Pos             source.Pos
}

// ENI is an elastic network interface (describe-network-interfaces, or the interfaces
// describe-instances lists).
type ENI struct {
	ID              string
	SubnetID, VpcID string
	InstanceID      string
	DeviceIndex     int
	// IPs are its private addresses, primary first (secondary ones are pods' with the VPC CNI).
	IPs []netip.Addr
	// Prefixes are delegated IPv4/IPv6 prefixes (VPC CNI prefix mode).
	Prefixes []netip.Prefix
	// Public maps a private address to its public (or Elastic) IP.
	Public          map[netip.Addr]netip.Addr
	Groups          []GroupRef
	SourceDestCheck bool
	Type            string // interface, nat_gateway, network_load_balancer, ...
	Description     string // "ELB app/NAME/ID" on a load balancer's interfaces
	Pos             source.Pos
}

// GroupRef names a security group on an interface.
type GroupRef struct{ ID, Name string }

// Holds reports whether the interface has the address as one of its own.
func (e *ENI) Holds(a netip.Addr) bool {
	for _, ip := range e.IPs {
		if ip == a {
			return true
		}
	}
	for _, p := range e.Prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// SecurityGroup is a VPC security group (describe-security-groups).
type SecurityGroup struct {
	ID, Name, VpcID string
	Ingress, Egress []Permission
	Pos             source.Pos
}

// Permission is one IpPermissions element: a protocol and port range from (ingress) or
// to (egress) a set of peers.
type Permission struct {
	Index    int    // 1-based, in the group's ingress or egress list
	Protocol string // -1, tcp, udp, icmp, icmpv6 or a number
	From, To int    // ports; for ICMP the type and code; -1 = all
	CIDRs    []netip.Prefix
	Groups   []string // peer groups (UserIdGroupPairs)
	Lists    []string // managed prefix lists
	Pos      source.Pos
}

// NetworkACL is a subnet network ACL (describe-network-acls).
type NetworkACL struct {
	ID, VpcID string
	Default   bool
	Subnets   []string
	Entries   []ACLEntry // in export order; evaluation sorts by number
	Pos       source.Pos
}

// ACLEntry is one numbered rule of an ACL.
type ACLEntry struct {
	Number   int
	Egress   bool
	Allow    bool
	Protocol string // -1, or a protocol number
	CIDR     netip.Prefix
	FromPort int // -1 when the rule has no port range
	ToPort   int
	ICMPType int // -1 = all
	ICMPCode int
	Pos      source.Pos
}

// RouteTable is a VPC route table (describe-route-tables).
type RouteTable struct {
	ID, VpcID string
	Main      bool
	Subnets   []string
	Gateways  []string // edge associations (an internet or virtual private gateway)
	Routes    []Route
	Pos       source.Pos

	// byDst is the first route to each destination CIDR and lists the routes to
	// prefix lists, both built by Parse so that a lookup is a longest-prefix match
	// rather than a scan of every route; nil for a table built without Parse.
	byDst map[netip.Prefix]int
	lists []int
}

// Route is one route of a table.
type Route struct {
	Dst        netip.Prefix // invalid when the route names a prefix list
	PrefixList string
	// Target is the route's target ID: local, igw-, vgw-, nat-, pcx-, tgw-, eni-, i-, ...
	Target    string
	Kind      TargetKind
	Blackhole bool
	Pos       source.Pos
}

// TargetKind is what a route sends packets to.
type TargetKind string

// Route target kinds.
const (
	TargetLocal    TargetKind = "local"
	TargetIGW      TargetKind = "internet gateway"
	TargetEgressIG TargetKind = "egress-only internet gateway"
	TargetVGW      TargetKind = "virtual private gateway"
	TargetNAT      TargetKind = "NAT gateway"
	TargetPeering  TargetKind = "VPC peering"
	TargetTGW      TargetKind = "transit gateway"
	TargetENI      TargetKind = "network interface"
	TargetInstance TargetKind = "instance"
	TargetEndpoint TargetKind = "VPC endpoint"
	TargetOther    TargetKind = "gateway"
)

// NATGateway is a NAT gateway (describe-nat-gateways).
type NATGateway struct {
	ID, SubnetID, VpcID string
	State               string
	Public              bool // connectivity type public (private NAT gateways do not reach the internet)
	PrivateIP, PublicIP netip.Addr
	Pos                 source.Pos
}

// Peering is a VPC peering connection (describe-vpc-peering-connections).
type Peering struct {
	ID                      string
	Status                  string
	Requester, Accepter     string // VPC IDs
	RequesterCIDRs, AccCIDR []netip.Prefix
	Pos                     source.Pos
}

// TGWRoute is a transit gateway route (search-transit-gateway-routes).
type TGWRoute struct {
	Table      string
	Dst        netip.Prefix
	Blackhole  bool
	Attachment string
	Resource   string // the attached VPC, VPN, direct-connect gateway or peering
	Type       string // vpc, vpn, direct-connect-gateway, peering
	Pos        source.Pos
}

// PrefixList is a managed prefix list with its entries.
type PrefixList struct {
	ID, Name string
	CIDRs    []netip.Prefix
	Pos      source.Pos
	// HasEntries is false when get-managed-prefix-list-entries for it is not exported.
	HasEntries bool
}

// LoadBalancer is an elbv2 load balancer (describe-load-balancers).
type LoadBalancer struct {
	ARN, Name, DNSName string
	Type               string // network, application, gateway
	Scheme             string
	State              string
	VpcID              string
	Subnets            []string
	Addrs              []netip.Addr // the addresses it answers on (Elastic IPs, private IPv4)
	Groups             []string
	HasGroups          bool // the export lists security groups (an NLB created without has none)
	Pos                source.Pos
}

// Listener is a load balancer listener (describe-listeners).
type Listener struct {
	ARN, LB      string
	Port         int
	Protocol     string
	TargetGroups []string // of its default forward action
	Action       string   // the default action's type
	// Actions are its default actions in their order (authenticate actions before the
	// terminal forward, redirect or fixed-response).
	Actions []Action
	Pos     source.Pos
}

// TargetGroup is a target group (describe-target-groups).
type TargetGroup struct {
	ARN, Name  string
	Protocol   string
	Port       int
	TargetType string // instance, ip, lambda, alb
	VpcID      string
	LBs        []string
	// PreserveClientIP says whether targets see the client's address; by default true
	// for NLB instance targets, false for NLB ip targets of TCP/TLS... and ALB never.
	Pos source.Pos
}

// TargetHealth is one target's registration and health (describe-target-health).
type TargetHealth struct {
	Group       string // target group ARN
	ID          string // instance ID or IP
	Port        int
	State       string
	Reason      string
	Description string
	Pos         source.Pos
}
