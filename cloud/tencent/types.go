// Package tencent reads a Tencent Cloud VPC from the bundle's cloud/tencent/ exports
// (the JSON `tccli` prints for each Describe action) and judges packets with its
// security groups, route tables, NAT gateways and Cloud Load Balancers, for the walk's
// cloud hop (cloud.Provider).
package tencent

import (
	"net/netip"

	"github.com/netsim/netsim/model/source"
)

// The export files under cloud/tencent/: each the Response content `tccli` prints for
// the action it is named after (or the whole {"Response": {...}}); pages back to back.
const (
	FileInstances      = "DescribeInstances.json"         // tccli cvm DescribeInstances
	FileENIs           = "DescribeNetworkInterfaces.json" // tccli vpc DescribeNetworkInterfaces
	DirPolicies        = "DescribeSecurityGroupPolicies"  // DIR/<SecurityGroupId>.json: tccli vpc DescribeSecurityGroupPolicies
	FileSubnets        = "DescribeSubnets.json"           // tccli vpc DescribeSubnets
	FileRouteTables    = "DescribeRouteTables.json"       // tccli vpc DescribeRouteTables
	FileNATs           = "DescribeNatGateways.json"       // tccli vpc DescribeNatGateways
	DirSNAT            = "DescribeNatGatewaySourceIpTranslationNatRules"
	FileLBs            = "DescribeLoadBalancers.json"         // tccli clb DescribeLoadBalancers
	DirListeners       = "DescribeListeners"                  // DIR/<LoadBalancerId>.json: tccli clb DescribeListeners
	FileTargetHealth   = "DescribeTargetHealth.json"          // tccli clb DescribeTargetHealth
	FileAddrTemplates  = "DescribeAddressTemplates.json"      // optional: tccli vpc DescribeAddressTemplates
	FileAddrTmplGroups = "DescribeAddressTemplateGroups.json" // optional: tccli vpc DescribeAddressTemplateGroups
)

// Instance is a CVM instance.
type Instance struct {
	ID, Name        string
	VpcID, SubnetID string
	PrivateIPs      []netip.Addr
	PublicIPs       []netip.Addr
	// Groups are its security groups in binding order: the first has the highest priority.
	Groups []string
	Pos    source.Pos
}

// ENI is an elastic network interface: a CVM's primary or secondary NIC, or a VPC-CNI
// pod's interface.
type ENI struct {
	ID, VpcID, SubnetID string
	InstanceID          string // Attachment.InstanceId ("" when not attached)
	Primary             bool
	IPs                 []netip.Addr              // PrivateIpAddressSet, the primary first
	Public              map[netip.Addr]netip.Addr // private -> its public IP
	// Groups are its security groups in binding order (GroupSet).
	Groups []string
	Pos    source.Pos
}

// Holds reports whether a is one of the interface's private addresses.
func (e *ENI) Holds(a netip.Addr) bool {
	for _, ip := range e.IPs {
		if ip == a {
			return true
		}
	}
	return false
}

// PortRange is an inclusive range of destination ports.
type PortRange struct{ From, To uint16 }

// Policy is one security group policy (rule).
type Policy struct {
	Group   string // the security group it belongs to
	Ingress bool
	Index   int    // PolicyIndex: its place in the group, 0 first
	Proto   string // TCP, UDP, ICMP, ICMPV6, GRE, ALL (upper case)
	Ports   []PortRange
	AllPort bool
	Cidr    netip.Prefix // CidrBlock or Ipv6CidrBlock
	RefSG   string       // SecurityGroupId: the members of another group
	// AddrTmpl is an address template (ipm-) or template group (ipmg-) ID; SvcTmpl a
	// service template (ppm-) or group (ppmg-) ID.
	AddrTmpl, SvcTmpl string
	Accept            bool // ACCEPT (else DROP)
	PortText          string
	Desc              string
	Pos               source.Pos
}

// Group is a security group's policies, each direction in PolicyIndex order.
type Group struct {
	ID              string
	Version         string
	Ingress, Egress []*Policy
	Pos             source.Pos
}

// Subnet is a VPC subnet and its route table.
type Subnet struct {
	ID, VpcID, RouteTableID string
	Cidr                    netip.Prefix
	Pos                     source.Pos
}

// Route is one entry of a route table.
type Route struct {
	ID          string
	Dst         netip.Prefix
	GatewayType string // CVM, VPN, DIRECTCONNECT, PEERCONNECTION, HAVIP, NAT, NORMAL_CVM, EIP, LOCAL_GATEWAY, CCN, INTRANAT, LOCAL...
	GatewayID   string
	Enabled     bool
	RouteType   string // USER, NETD (system), CCN
	Table       string
	// Local is an implied local route of a subnet (Pos is the subnet's).
	Local bool
	Pos   source.Pos
}

// RouteTable is a VPC route table.
type RouteTable struct {
	ID, VpcID, Name string
	Main            bool
	Subnets         []string // AssociationSet
	Routes          []*Route
	Pos             source.Pos
}

// NAT is a NAT gateway.
type NAT struct {
	ID, VpcID, State string
	PublicIPs        []netip.Addr
	Pos              source.Pos
}

// SNATRule is a NAT gateway's source translation rule.
type SNATRule struct {
	NAT, ID      string // ID: NatGatewaySnatId
	ResourceType string // SUBNET, NETWORKINTERFACE, USERDEFINED
	ResourceID   string
	Source       netip.Prefix // PrivateIpAddress: the subnet's CIDR, an address, a range
	PublicIPs    []netip.Addr
	Pos          source.Pos
}

// LoadBalancer is a CLB instance.
type LoadBalancer struct {
	ID, Name, Type string // Type: OPEN (public) or INTERNAL
	VIPs           []netip.Addr
	Status         int // 1 normal, 0 creating
	VpcID          string
	Groups         []string
	// PassToTarget: the backends' security groups do not judge traffic from the CLB
	// (LoadBalancerPassToTarget); only the CLB's own groups do.
	PassToTarget bool
	Pos          source.Pos
}

// Listener is a CLB listener; layer-7 ones have forwarding rules.
type Listener struct {
	LB, ID, Name, Protocol string
	Port                   int
	// EndPort ends a port range listener (Port-EndPort); 0 for a single port.
	EndPort int
	Rules   []ListenerRule
	Pos     source.Pos
}

// ListenerRule is a layer-7 forwarding rule (domain and URL).
type ListenerRule struct {
	LocationID, Domain, URL string
	Pos                     source.Pos
}

// Target is a backend of a listener (or of one of its layer-7 rules) with its health.
type Target struct {
	LB, Listener, Location, Rule string // Rule: "domain url" of a layer-7 rule
	TargetID                     string // ins- for a CVM, else the ENI IP's owner
	IP                           netip.Addr
	Port                         int
	Healthy                      bool
	Detail                       string // HealthStatusDetail: Alive, Dead, Unknown, Close
	Pos                          source.Pos
}

// AddrRange is an inclusive address range of a parameter template ("10.0.0.1",
// "10.0.1.0/24", "10.0.0.1-10.0.0.100").
type AddrRange struct{ From, To netip.Addr }

// Contains reports whether a is in the range.
func (r AddrRange) Contains(a netip.Addr) bool {
	return a.BitLen() == r.From.BitLen() && r.From.Compare(a) <= 0 && a.Compare(r.To) <= 0
}

// Export is a Tencent Cloud region's network as the exports show it, parsed once.
type Export struct {
	Instances   []*Instance
	ENIs        []*ENI
	Groups      map[string]*Group
	Subnets     []*Subnet
	RouteTables []*RouteTable
	NATs        map[string]*NAT
	SNAT        map[string][]*SNATRule // NAT gateway -> rules
	LBs         []*LoadBalancer
	Listeners   map[string][]*Listener // LB -> listeners
	Targets     map[string][]*Target   // LB -> targets
	// ACLs are the subnet network ACLs (optional: FileACLs).
	ACLs []*NetworkACL
	// AddrTemplates maps an address template (ipm-) to its ranges and a template group
	// (ipmg-) to its templates' ranges.
	AddrTemplates map[string][]AddrRange
	AddrPos       map[string]source.Pos
	// Has names the export files present (name -> bundle path); a check whose file is
	// missing is unknown, never allowed.
	Has map[string]string
	Dir string

	idx *exportIndex // lookups built by Parse (index.go)
}
