// Package alibaba reads an Alibaba Cloud VPC from the bundle's cloud/alibaba/ exports
// (the JSON the aliyun CLI prints for ECS, VPC and SLB Describe calls) and judges
// packets with its security groups, route tables, NAT gateways and Server Load
// Balancers (CLB), for the walk's cloud hop (cloud.Provider).
package alibaba

import (
	"encoding/json"
	"net/netip"
	"path"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/netsim/netsim/model/source"
)

// The export files under cloud/alibaba/, each the JSON `aliyun <product> <Call>` prints
// (pages merged into one response). The calls about one object go in a directory named
// after the call, one file per object ID.
const (
	FileInstances    = "DescribeInstances.json"         // aliyun ecs DescribeInstances
	FileNICs         = "DescribeNetworkInterfaces.json" // aliyun ecs DescribeNetworkInterfaces
	DirGroups        = "DescribeSecurityGroupAttribute" // aliyun ecs DescribeSecurityGroupAttribute --SecurityGroupId ID --Direction all
	DirPrefixLists   = "DescribePrefixListAttributes"   // aliyun ecs DescribePrefixListAttributes --PrefixListId ID (optional)
	FileVSwitches    = "DescribeVSwitches.json"         // aliyun vpc DescribeVSwitches
	FileRouteTables  = "DescribeRouteTableList.json"    // aliyun vpc DescribeRouteTableList
	DirRouteEntries  = "DescribeRouteEntryList"         // aliyun vpc DescribeRouteEntryList --RouteTableId ID
	FileNATs         = "DescribeNatGateways.json"       // aliyun vpc DescribeNatGateways
	DirSnatEntries   = "DescribeSnatTableEntries"       // aliyun vpc DescribeSnatTableEntries --SnatTableId ID
	FileLBs          = "DescribeLoadBalancers.json"     // aliyun slb DescribeLoadBalancers
	DirListeners     = "DescribeLoadBalancerListeners"  // aliyun slb DescribeLoadBalancerListeners --LoadBalancerId.1 ID
	DirHealth        = "DescribeHealthStatus"           // aliyun slb DescribeHealthStatus --LoadBalancerId ID
	DirAccessControl = "DescribeAccessControlListAttribute"
)

// Instance is an ECS instance.
type Instance struct {
	ID, Name, Status, VpcID, VSwitchID string
	IPs                                []netip.Addr // VpcAttributes.PrivateIpAddress, primary first
	Groups                             []string
	Public                             netip.Addr // PublicIpAddress or EipAddress
	Pos                                source.Pos
}

// NIC is an elastic network interface (the primary one of an instance, or a secondary
// one such as Terway's, whose secondary private IPs are pods' addresses).
type NIC struct {
	ID, InstanceID, VpcID, VSwitchID, Type string
	IPs                                    []netip.Addr // primary first
	Prefixes                               []netip.Prefix
	Groups                                 []string
	Public                                 map[netip.Addr]netip.Addr // private -> public
	Pos                                    source.Pos
}

// Holds reports whether a is one of the interface's private addresses or prefixes.
func (n *NIC) Holds(a netip.Addr) bool {
	for _, ip := range n.IPs {
		if ip == a {
			return true
		}
	}
	for _, p := range n.Prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Primary is the interface's primary private address.
func (n *NIC) Primary() netip.Addr {
	if len(n.IPs) > 0 {
		return n.IPs[0]
	}
	return netip.Addr{}
}

// Group is a security group and its rules (Direction=all).
type Group struct {
	ID, Name, VpcID string
	// Type is "normal" (basic) or "enterprise" when the export says (SecurityGroupType);
	// else it is inferred: InnerAccessPolicy Accept is only possible for a basic group.
	Type string
	// Inner is InnerAccessPolicy: Accept (instances of the basic group reach each
	// other) or Drop.
	Inner    string
	InnerPos source.Pos
	Rules    []*Rule
	Pos      source.Pos
}

// Basic reports whether the group is a basic security group, and whether that is known.
func (g *Group) Basic() (basic, known bool) {
	switch strings.ToLower(g.Type) {
	case "normal":
		return true, true
	case "enterprise":
		return false, true
	}
	if strings.EqualFold(g.Inner, "Accept") {
		return true, true
	}
	return false, false
}

// Rule is one security group rule.
type Rule struct {
	Group    *Group
	ID       string // SecurityGroupRuleId
	Index    int    // 1-based place in the group's Permissions
	Ingress  bool
	Accept   bool // Policy Accept (else Drop)
	Priority int
	Proto    string // TCP, UDP, ICMP, GRE, ALL (upper case)
	From, To int    // PortRange; -1/-1 is all
	// The other side: a CIDR (SourceCidrIp / DestCidrIp), a group (SourceGroupId /
	// DestGroupId) or a prefix list (SourcePrefixListId / DestPrefixListId).
	CIDR       netip.Prefix
	PeerGroup  string
	PrefixList string
	NicType    string
	Pos        source.Pos
}

// VSwitch is a vSwitch (subnet) of a VPC.
type VSwitch struct {
	ID, VpcID, Zone string
	CIDR            netip.Prefix
	Table           string // RouteTable.RouteTableId
	Pos             source.Pos
}

// RouteTable is a VPC route table: the system table of the VPC, or a custom one
// bound to vSwitches.
type RouteTable struct {
	ID, VpcID, Type string
	VSwitches       []string
	Entries         []*RouteEntry
	HasEntries      bool // DescribeRouteEntryList/<ID>.json was exported
	Pos             source.Pos
}

// Next-hop types of a route entry, as the VPC API names them.
const (
	HopLocal            = "local" // a system route of a vSwitch CIDR: delivered inside the VPC
	HopInstance         = "Instance"
	HopHaVip            = "HaVip"
	HopRouterInterface  = "RouterInterface"
	HopNetworkInterface = "NetworkInterface"
	HopVpnGateway       = "VpnGateway"
	HopIPv6Gateway      = "IPv6Gateway"
	HopNatGateway       = "NatGateway"
	HopAttachment       = "Attachment" // a transit router (CEN)
	HopVpcPeer          = "VpcPeer"
	HopIpv4Gateway      = "Ipv4Gateway"
)

// RouteEntry is one route of a table.
type RouteEntry struct {
	ID, Table, Type, Status string
	Dest                    netip.Prefix
	HopType, HopID          string // the first enabled next hop
	Hops                    int    // how many next hops (ECMP)
	Pos                     source.Pos
}

// NATGateway is a NAT gateway with its SNAT tables.
type NATGateway struct {
	ID, Name, Status, VpcID, VSwitchID, NetworkType string
	SnatTables                                      []string
	IPs                                             []netip.Addr
	Pos                                             source.Pos
}

// SnatEntry is one SNAT entry: a source range or vSwitch translated to SnatIp.
type SnatEntry struct {
	ID, Table, VSwitch, Status string
	Source                     netip.Prefix // SourceCIDR (invalid for a vSwitch entry)
	SnatIPs                    []netip.Addr
	Pos                        source.Pos
}

// LoadBalancer is a Classic Load Balancer (SLB) instance.
type LoadBalancer struct {
	ID, Name, AddressType, Status, VpcID string
	Addr                                 netip.Addr
	Pos                                  source.Pos
}

// Listener is one listener of a load balancer.
type Listener struct {
	LB, Protocol, Status      string
	Port, BackendPort         int
	VServerGroup              string
	AclStatus, AclType, AclID string
	Pos                       source.Pos
}

// Backend is one backend server's health, as DescribeHealthStatus reports it.
type Backend struct {
	ServerID, Protocol, Health string
	IP                         netip.Addr
	Port, ListenerPort         int
	Pos                        source.Pos
}

// ACLEntry is one entry of an access control list.
type ACLEntry struct {
	CIDR netip.Prefix
	Pos  source.Pos
}

// Export is an Alibaba Cloud region's network as the bundle's exports show it.
type Export struct {
	Instances   map[string]*Instance
	NICs        []*NIC
	Groups      map[string]*Group
	PrefixLists map[string][]ACLEntry
	VSwitches   map[string]*VSwitch
	Tables      []*RouteTable
	NATs        map[string]*NATGateway
	Snat        map[string][]*SnatEntry // by SNAT table
	LBs         []*LoadBalancer
	Listeners   map[string][]*Listener // by load balancer
	Health      map[string][]*Backend  // by load balancer
	ACLs        map[string][]ACLEntry  // by AclId
	// NetworkACLs are the VPC's network ACLs (DescribeNetworkAcls.json, optional).
	NetworkACLs []*NetworkACL
	// Has names the export files present (name -> bundle path): a check whose file is
	// missing is unknown, never allowed. Per-object files are keyed DIR/ID.json.
	Has map[string]string
	Dir string

	idx *index // lookups built by Parse (index.go)
}

// Parse reads the exports: files maps names below dir (cloud/alibaba) to their text;
// names it does not know are ignored. Errors name the file and line.
func Parse(dir string, files map[string]*source.File) (*Export, error) {
	x := &Export{Instances: map[string]*Instance{}, Groups: map[string]*Group{}, PrefixLists: map[string][]ACLEntry{},
		VSwitches: map[string]*VSwitch{}, NATs: map[string]*NATGateway{}, Snat: map[string][]*SnatEntry{},
		Listeners: map[string][]*Listener{}, Health: map[string][]*Backend{}, ACLs: map[string][]ACLEntry{},
		Has: map[string]string{}, Dir: dir}
	for _, s := range []struct {
		name  string
		parse func(*source.File) error
	}{{FileInstances, x.parseInstances}, {FileNICs, x.parseNICs}, {FileVSwitches, x.parseVSwitches},
		{FileRouteTables, x.parseRouteTables}, {FileNATs, x.parseNATs}, {FileLBs, x.parseLBs}, {FileNetworkACLs, x.parseNetworkACLs}} {
		if f := files[s.name]; f != nil {
			x.Has[s.name] = f.Name
			if err := s.parse(f); err != nil {
				return nil, err
			}
		}
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		d, base := path.Split(n)
		d = strings.TrimSuffix(d, "/")
		if d == "" || !strings.HasSuffix(base, ".json") {
			continue
		}
		id := strings.TrimSuffix(base, ".json")
		f := files[n]
		var err error
		switch d {
		case DirGroups:
			err = x.parseGroup(id, f)
		case DirPrefixLists:
			x.PrefixLists[id], err = parseEntries(f, []string{"Entries", "Entry"}, "Cidr")
		case DirRouteEntries:
			err = x.parseRouteEntries(id, f)
		case DirSnatEntries:
			err = x.parseSnat(id, f)
		case DirListeners:
			err = x.parseListeners(id, f)
		case DirHealth:
			err = x.parseHealth(id, f)
		case DirAccessControl:
			x.ACLs[id], err = parseEntries(f, []string{"AclEntrys", "AclEntry"}, "AclEntryIP")
		default:
			continue
		}
		if err != nil {
			return nil, err
		}
		x.Has[n] = f.Name
	}
	// A table's entries are exported per table; bind them to the table list's tables.
	byID := map[string]*RouteTable{}
	for _, t := range x.Tables {
		byID[t.ID] = t
	}
	for _, n := range names {
		if d, base := path.Split(n); d == DirRouteEntries+"/" {
			if t := byID[strings.TrimSuffix(base, ".json")]; t != nil {
				t.HasEntries = true
			}
		}
	}
	x.buildIndex()
	return x, nil
}

func (x *Export) file(name string) string { return path.Join(x.Dir, name) }

// addr parses an address field; "" is no address.
func addr(f *source.File, off int64, s, what string) (netip.Addr, error) {
	if s == "" {
		return netip.Addr{}, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, source.Errorf(f.PosAt(off), "%s %q is not an IP address", what, s)
	}
	return a, nil
}

// prefix parses a CIDR field; a bare address is its /32 (or /128).
func prefix(f *source.File, off int64, s, what string) (netip.Prefix, error) {
	if s == "" {
		return netip.Prefix{}, nil
	}
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, source.Errorf(f.PosAt(off), "%s %q is not a CIDR", what, s)
		}
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, source.Errorf(f.PosAt(off), "%s %q is not a CIDR", what, s)
	}
	return p.Masked(), nil
}

// flexInt reads a number the API prints as a number or a string ("Priority": "1").
type flexInt struct {
	N   int
	Set bool
}

func (v *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return &json.UnmarshalTypeError{Value: "string " + string(b), Type: reflectInt}
	}
	v.N, v.Set = n, true
	return nil
}

var reflectInt = reflect.TypeOf(0)

type ipList struct {
	IP []string `json:"IpAddress"`
}

type privateIPSets struct {
	Set []struct {
		IP         string `json:"PrivateIpAddress"`
		Primary    bool   `json:"Primary"`
		Associated struct {
			IP string `json:"PublicIpAddress"`
		} `json:"AssociatedPublicIp"`
	} `json:"PrivateIpSet"`
}

func (x *Export) parseInstances(f *source.File) error {
	els, err := listAt(f, "Instances", "Instance")
	if err != nil {
		return err
	}
	for _, e := range els {
		var v struct {
			InstanceID   string `json:"InstanceId"`
			InstanceName string `json:"InstanceName"`
			St           string `json:"Status"`
			Vpc          struct {
				VpcID     string `json:"VpcId"`
				VSwitchID string `json:"VSwitchId"`
				Private   ipList `json:"PrivateIpAddress"`
			} `json:"VpcAttributes"`
			Groups struct {
				IDs []string `json:"SecurityGroupId"`
			} `json:"SecurityGroupIds"`
			Public ipList `json:"PublicIpAddress"`
			EIP    struct {
				IP string `json:"IpAddress"`
			} `json:"EipAddress"`
			NICs struct {
				NIC []struct {
					ID      string        `json:"NetworkInterfaceId"`
					Type    string        `json:"Type"`
					Primary string        `json:"PrimaryIpAddress"`
					Sets    privateIPSets `json:"PrivateIpSets"`
				} `json:"NetworkInterface"`
			} `json:"NetworkInterfaces"`
		}
		if err := decodeAt(f, e.raw, e.off, &v); err != nil {
			return err
		}
		if v.InstanceID == "" {
			return source.Errorf(f.PosAt(e.off), "an instance without an InstanceId")
		}
		in := &Instance{ID: v.InstanceID, Name: v.InstanceName, Status: v.St, VpcID: v.Vpc.VpcID, VSwitchID: v.Vpc.VSwitchID, Groups: v.Groups.IDs, Pos: f.PosAt(e.off)}
		for _, s := range v.Vpc.Private.IP {
			a, err := addr(f, e.off, s, "instance "+in.ID+" private IP")
			if err != nil {
				return err
			}
			in.IPs = append(in.IPs, a)
		}
		pubs := append([]string{v.EIP.IP}, v.Public.IP...)
		for _, s := range pubs {
			a, err := addr(f, e.off, s, "instance "+in.ID+" public IP")
			if err != nil {
				return err
			}
			if a.IsValid() && !in.Public.IsValid() {
				in.Public = a
			}
		}
		x.Instances[in.ID] = in
		// The instance's own view of its interfaces; DescribeNetworkInterfaces, read
		// after, replaces an interface it lists (it has the groups and the vSwitch).
		for i, n := range v.NICs.NIC {
			nic := &NIC{ID: n.ID, InstanceID: in.ID, VpcID: in.VpcID, VSwitchID: in.VSwitchID, Type: n.Type, Groups: in.Groups, Public: map[netip.Addr]netip.Addr{}, Pos: in.Pos}
			if nic.Type == "" && i == 0 {
				nic.Type = "Primary"
			}
			if nic.Type != "Primary" {
				// The instance's SecurityGroupIds are its primary interface's; a
				// secondary one's (Terway's) are only in DescribeNetworkInterfaces.
				nic.Groups = nil
			}
			ips, err := setIPs(f, e.off, n.Primary, n.Sets, nic.Public)
			if err != nil {
				return err
			}
			nic.IPs = ips
			if nic.Type == "Primary" && len(nic.IPs) == 0 {
				nic.IPs = in.IPs
			}
			if nic.Type == "Primary" && in.Public.IsValid() && len(nic.IPs) > 0 {
				nic.Public[nic.IPs[0]] = in.Public
			}
			x.NICs = append(x.NICs, nic)
		}
		if len(v.NICs.NIC) == 0 && len(in.IPs) > 0 {
			nic := &NIC{ID: in.ID, InstanceID: in.ID, VpcID: in.VpcID, VSwitchID: in.VSwitchID, Type: "Primary", IPs: in.IPs, Groups: in.Groups, Public: map[netip.Addr]netip.Addr{}, Pos: in.Pos}
			if in.Public.IsValid() {
				nic.Public[in.IPs[0]] = in.Public
			}
			x.NICs = append(x.NICs, nic)
		}
	}
	return nil
}

// setIPs lists an interface's private addresses, the primary first.
func setIPs(f *source.File, off int64, primary string, sets privateIPSets, public map[netip.Addr]netip.Addr) ([]netip.Addr, error) {
	var out []netip.Addr
	p, err := addr(f, off, primary, "primary IP")
	if err != nil {
		return nil, err
	}
	if p.IsValid() {
		out = append(out, p)
	}
	for _, s := range sets.Set {
		a, err := addr(f, off, s.IP, "private IP")
		if err != nil {
			return nil, err
		}
		if !a.IsValid() || a == p {
			if a.IsValid() && s.Associated.IP != "" {
				if pub, err := addr(f, off, s.Associated.IP, "public IP"); err == nil {
					public[a] = pub
				} else {
					return nil, err
				}
			}
			continue
		}
		if s.Primary && !p.IsValid() {
			out = append([]netip.Addr{a}, out...)
			p = a
		} else {
			out = append(out, a)
		}
		if s.Associated.IP != "" {
			pub, err := addr(f, off, s.Associated.IP, "public IP")
			if err != nil {
				return nil, err
			}
			public[a] = pub
		}
	}
	return out, nil
}

func (x *Export) parseNICs(f *source.File) error {
	els, err := listAt(f, "NetworkInterfaceSets", "NetworkInterfaceSet")
	if err != nil {
		return err
	}
	// The places of the ENIs read so far by ID, and of the placeholders the instances'
	// export made (ID = instance ID) by instance: an ENI replaces those, and finding
	// them by scanning would make reading N interfaces quadratic. A place may be stale
	// (replaced since); each is checked again below.
	at, placeholders := map[string][]int{}, map[string][]int{}
	note := func(i int, n *NIC) {
		at[n.ID] = append(at[n.ID], i)
		if n.ID == n.InstanceID {
			placeholders[n.InstanceID] = append(placeholders[n.InstanceID], i)
		}
	}
	for i, n := range x.NICs {
		note(i, n)
	}
	for _, e := range els {
		var v struct {
			ID        string        `json:"NetworkInterfaceId"`
			Instance  string        `json:"InstanceId"`
			Type      string        `json:"Type"`
			VpcID     string        `json:"VpcId"`
			VSwitchID string        `json:"VSwitchId"`
			Primary   string        `json:"PrivateIpAddress"`
			Sets      privateIPSets `json:"PrivateIpSets"`
			Prefixes  struct {
				Set []struct {
					Prefix string `json:"Ipv4Prefix"`
				} `json:"Ipv4PrefixSet"`
			} `json:"Ipv4PrefixSets"`
			Groups struct {
				IDs []string `json:"SecurityGroupId"`
			} `json:"SecurityGroupIds"`
			Associated struct {
				IP string `json:"PublicIpAddress"`
			} `json:"AssociatedPublicIp"`
		}
		if err := decodeAt(f, e.raw, e.off, &v); err != nil {
			return err
		}
		if v.ID == "" {
			return source.Errorf(f.PosAt(e.off), "a network interface without a NetworkInterfaceId")
		}
		nic := &NIC{ID: v.ID, InstanceID: v.Instance, VpcID: v.VpcID, VSwitchID: v.VSwitchID, Type: v.Type, Groups: v.Groups.IDs, Public: map[netip.Addr]netip.Addr{}, Pos: f.PosAt(e.off)}
		if nic.IPs, err = setIPs(f, e.off, v.Primary, v.Sets, nic.Public); err != nil {
			return err
		}
		if v.Associated.IP != "" && len(nic.IPs) > 0 {
			pub, err := addr(f, e.off, v.Associated.IP, "public IP")
			if err != nil {
				return err
			}
			nic.Public[nic.IPs[0]] = pub
		}
		for _, s := range v.Prefixes.Set {
			p, err := prefix(f, e.off, s.Prefix, "Ipv4Prefix")
			if err != nil {
				return err
			}
			nic.Prefixes = append(nic.Prefixes, p)
		}
		if in := x.Instances[nic.InstanceID]; in != nil && in.Public.IsValid() && nic.Type == "Primary" && len(nic.IPs) > 0 {
			if _, ok := nic.Public[nic.IPs[0]]; !ok {
				nic.Public[nic.IPs[0]] = in.Public
			}
		}
		replaced := false
		for _, i := range append(append([]int(nil), at[nic.ID]...), placeholders[nic.InstanceID]...) {
			if old := x.NICs[i]; old.ID == nic.ID || (old.ID == old.InstanceID && old.InstanceID == nic.InstanceID && nic.Type == "Primary") {
				x.NICs[i], replaced = nic, true
				note(i, nic)
			}
		}
		if !replaced {
			x.NICs = append(x.NICs, nic)
			note(len(x.NICs)-1, nic)
		}
	}
	return nil
}

func (x *Export) parseGroup(id string, f *source.File) error {
	docs, err := documents(f)
	if err != nil {
		return err
	}
	if len(docs) == 0 {
		return source.Errorf(f.Pos(1), "empty: want the JSON `aliyun ecs DescribeSecurityGroupAttribute` prints")
	}
	for _, d := range docs {
		var v struct {
			ID    string `json:"SecurityGroupId"`
			Name  string `json:"SecurityGroupName"`
			VpcID string `json:"VpcId"`
			Inner string `json:"InnerAccessPolicy"`
			Type  string `json:"SecurityGroupType"`
		}
		var probe json.RawMessage
		if err := decodeAt(f, d.raw, d.off, &probe); err != nil {
			return err
		}
		if len(probe) == 0 || probe[0] != '{' {
			return source.Errorf(f.PosAt(d.off), "want the JSON object `aliyun ecs DescribeSecurityGroupAttribute` prints")
		}
		if err := decodeAt(f, d.raw, d.off, &v); err != nil {
			return err
		}
		if v.ID == "" {
			v.ID = id
		}
		g := x.Groups[v.ID]
		if g == nil {
			g = &Group{ID: v.ID, Pos: f.PosAt(d.off)}
			x.Groups[v.ID] = g
		}
		g.Name, g.VpcID, g.Type = v.Name, v.VpcID, v.Type
		if v.Inner != "" {
			if !strings.EqualFold(v.Inner, "Accept") && !strings.EqualFold(v.Inner, "Drop") {
				_, at, _, _ := field(f, d.raw, d.off, "InnerAccessPolicy")
				return source.Errorf(f.PosAt(at), "security group %s: InnerAccessPolicy %q is neither Accept nor Drop", g.ID, v.Inner)
			}
			_, at, _, _ := field(f, d.raw, d.off, "InnerAccessPolicy")
			g.Inner, g.InnerPos = v.Inner, f.PosAt(at)
		}
		els, found, err := arrayAt(f, d.raw, d.off, []string{"Permissions", "Permission"})
		if err != nil {
			return err
		}
		if !found {
			return source.Errorf(f.PosAt(d.off), "security group %s: no \"Permissions.Permission\" list: is this the output of `aliyun ecs DescribeSecurityGroupAttribute --Direction all`?", g.ID)
		}
		for _, e := range els {
			r, err := parseRule(f, e, g)
			if err != nil {
				return err
			}
			r.Index = len(g.Rules) + 1
			g.Rules = append(g.Rules, r)
		}
	}
	return nil
}

func parseRule(f *source.File, e element, g *Group) (*Rule, error) {
	var v struct {
		ID          string  `json:"SecurityGroupRuleId"`
		Direction   string  `json:"Direction"`
		Policy      string  `json:"Policy"`
		Priority    flexInt `json:"Priority"`
		Proto       string  `json:"IpProtocol"`
		PortRange   string  `json:"PortRange"`
		SrcCIDR     string  `json:"SourceCidrIp"`
		DstCIDR     string  `json:"DestCidrIp"`
		SrcGroup    string  `json:"SourceGroupId"`
		DstGroup    string  `json:"DestGroupId"`
		SrcPrefixes string  `json:"SourcePrefixListId"`
		DstPrefixes string  `json:"DestPrefixListId"`
		SrcCIDR6    string  `json:"Ipv6SourceCidrIp"`
		DstCIDR6    string  `json:"Ipv6DestCidrIp"`
		NicType     string  `json:"NicType"`
	}
	if err := decodeAt(f, e.raw, e.off, &v); err != nil {
		return nil, err
	}
	pos := f.PosAt(e.off)
	r := &Rule{Group: g, ID: v.ID, NicType: v.NicType, Pos: pos, Proto: strings.ToUpper(v.Proto)}
	switch strings.ToLower(v.Direction) {
	case "ingress":
		r.Ingress = true
	case "egress":
	default:
		return nil, source.Errorf(pos, "security group %s rule: Direction %q is neither ingress nor egress", g.ID, v.Direction)
	}
	switch strings.ToLower(v.Policy) {
	case "accept", "":
		// The API's default Policy is accept.
		r.Accept = true
	case "drop":
	default:
		return nil, source.Errorf(pos, "security group %s rule: Policy %q is neither Accept nor Drop", g.ID, v.Policy)
	}
	r.Priority = 1 // the API's default priority
	if v.Priority.Set {
		r.Priority = v.Priority.N
	}
	if r.Priority < 1 || r.Priority > 100 {
		return nil, source.Errorf(pos, "security group %s rule: Priority %d is not in 1-100", g.ID, r.Priority)
	}
	switch r.Proto {
	case "TCP", "UDP", "ICMP", "GRE", "ALL", "ICMPV6":
	default:
		return nil, source.Errorf(pos, "security group %s rule: IpProtocol %q is not TCP, UDP, ICMP, ICMPv6, GRE or ALL", g.ID, v.Proto)
	}
	r.From, r.To = -1, -1
	if v.PortRange != "" {
		a, b, ok := strings.Cut(v.PortRange, "/")
		from, err1 := strconv.Atoi(a)
		to, err2 := strconv.Atoi(b)
		if !ok || err1 != nil || err2 != nil || (from == -1) != (to == -1) || from > to || to > 65535 || from < -1 || (from == 0 && to == 0) {
			return nil, source.Errorf(pos, "security group %s rule: PortRange %q is not FROM/TO (22/22, 1/65535, -1/-1)", g.ID, v.PortRange)
		}
		r.From, r.To = from, to
	}
	cidr, cidr6, peer, pl := v.DstCIDR, v.DstCIDR6, v.DstGroup, v.DstPrefixes
	if r.Ingress {
		cidr, cidr6, peer, pl = v.SrcCIDR, v.SrcCIDR6, v.SrcGroup, v.SrcPrefixes
	}
	// An IPv6 rule names its peer in Ipv6SourceCidrIp / Ipv6DestCidrIp; read as "no
	// peer" it would match every address, IPv4 included.
	if cidr == "" {
		cidr = cidr6
	}
	var err error
	if r.CIDR, err = prefix(f, e.off, cidr, "security group "+g.ID+" rule CIDR"); err != nil {
		return nil, err
	}
	r.PeerGroup, r.PrefixList = peer, pl
	return r, nil
}

// parseEntries reads a list of CIDR entries (a prefix list's, an access control list's).
func parseEntries(f *source.File, keys []string, cidrKey string) ([]ACLEntry, error) {
	els, err := listAt(f, keys...)
	if err != nil {
		return nil, err
	}
	out := []ACLEntry{}
	for _, e := range els {
		var v map[string]any
		if err := decodeAt(f, e.raw, e.off, &v); err != nil {
			return nil, err
		}
		s, _ := v[cidrKey].(string)
		p, err := prefix(f, e.off, s, cidrKey)
		if err != nil {
			return nil, err
		}
		if !p.IsValid() {
			return nil, source.Errorf(f.PosAt(e.off), "an entry without %s", cidrKey)
		}
		out = append(out, ACLEntry{CIDR: p, Pos: f.PosAt(e.off)})
	}
	return out, nil
}

func (x *Export) parseVSwitches(f *source.File) error {
	els, err := listAt(f, "VSwitches", "VSwitch")
	if err != nil {
		return err
	}
	for _, e := range els {
		var v struct {
			ID    string `json:"VSwitchId"`
			VpcID string `json:"VpcId"`
			Zone  string `json:"ZoneId"`
			CIDR  string `json:"CidrBlock"`
			Table struct {
				ID string `json:"RouteTableId"`
			} `json:"RouteTable"`
		}
		if err := decodeAt(f, e.raw, e.off, &v); err != nil {
			return err
		}
		if v.ID == "" {
			return source.Errorf(f.PosAt(e.off), "a vSwitch without a VSwitchId")
		}
		p, err := prefix(f, e.off, v.CIDR, "vSwitch "+v.ID+" CidrBlock")
		if err != nil {
			return err
		}
		x.VSwitches[v.ID] = &VSwitch{ID: v.ID, VpcID: v.VpcID, Zone: v.Zone, CIDR: p, Table: v.Table.ID, Pos: f.PosAt(e.off)}
	}
	return nil
}

func (x *Export) parseRouteTables(f *source.File) error {
	els, err := listAt(f, "RouterTableList", "RouterTableListType")
	if err != nil {
		return err
	}
	for _, e := range els {
		var v struct {
			ID        string `json:"RouteTableId"`
			VpcID     string `json:"VpcId"`
			Type      string `json:"RouteTableType"`
			VSwitches struct {
				IDs []string `json:"VSwitchId"`
			} `json:"VSwitchIds"`
		}
		if err := decodeAt(f, e.raw, e.off, &v); err != nil {
			return err
		}
		if v.ID == "" {
			return source.Errorf(f.PosAt(e.off), "a route table without a RouteTableId")
		}
		x.Tables = append(x.Tables, &RouteTable{ID: v.ID, VpcID: v.VpcID, Type: v.Type, VSwitches: v.VSwitches.IDs, Pos: f.PosAt(e.off)})
	}
	return nil
}

func (x *Export) parseRouteEntries(table string, f *source.File) error {
	els, err := listAt(f, "RouteEntrys", "RouteEntry")
	if err != nil {
		return err
	}
	var t *RouteTable
	for _, rt := range x.Tables {
		if rt.ID == table {
			t = rt
		}
	}
	if t == nil {
		// Entries of a table the table list lacks: kept, so they are cited when found.
		t = &RouteTable{ID: table, Pos: f.Pos(1)}
		x.Tables = append(x.Tables, t)
	}
	for _, e := range els {
		var v struct {
			ID     string `json:"RouteEntryId"`
			Table  string `json:"RouteTableId"`
			Dest   string `json:"DestinationCidrBlock"`
			Type   string `json:"Type"`
			Status string `json:"Status"`
			Hops   struct {
				Hop []struct {
					Type    string   `json:"NextHopType"`
					ID      string   `json:"NextHopId"`
					Enabled *flexInt `json:"Enabled"`
				} `json:"NextHop"`
			} `json:"NextHops"`
			// Older responses name a single next hop at the top.
			InstanceID string `json:"InstanceId"`
			HopType    string `json:"NextHopType"`
		}
		if err := decodeAt(f, e.raw, e.off, &v); err != nil {
			return err
		}
		p, err := prefix(f, e.off, v.Dest, "DestinationCidrBlock")
		if err != nil {
			return err
		}
		if !p.IsValid() {
			return source.Errorf(f.PosAt(e.off), "route entry %s has no DestinationCidrBlock", v.ID)
		}
		r := &RouteEntry{ID: v.ID, Table: table, Type: v.Type, Status: v.Status, Dest: p, Hops: len(v.Hops.Hop), Pos: f.PosAt(e.off)}
		for _, h := range v.Hops.Hop {
			if h.Enabled != nil && h.Enabled.Set && h.Enabled.N == 0 {
				continue
			}
			if r.HopType == "" {
				r.HopType, r.HopID = h.Type, h.ID
			}
		}
		if r.HopType == "" && v.HopType != "" {
			r.HopType, r.HopID = v.HopType, v.InstanceID
		}
		if r.HopType == "" && strings.EqualFold(r.Type, "System") {
			r.HopType = HopLocal
		}
		if r.HopType == "" && r.Hops == 0 {
			return source.Errorf(f.PosAt(e.off), "route entry %s (%s) has no next hop", v.ID, p)
		}
		t.Entries = append(t.Entries, r)
	}
	return nil
}

func (x *Export) parseNATs(f *source.File) error {
	els, err := listAt(f, "NatGateways", "NatGateway")
	if err != nil {
		return err
	}
	for _, e := range els {
		var v struct {
			ID          string `json:"NatGatewayId"`
			Name        string `json:"Name"`
			Status      string `json:"Status"`
			VpcID       string `json:"VpcId"`
			NetworkType string `json:"NetworkType"`
			Snat        struct {
				IDs []string `json:"SnatTableId"`
			} `json:"SnatTableIds"`
			IPs struct {
				List []struct {
					IP string `json:"IpAddress"`
				} `json:"IpList"`
			} `json:"IpLists"`
			Private struct {
				VSwitchID string `json:"VswitchId"`
			} `json:"NatGatewayPrivateInfo"`
		}
		if err := decodeAt(f, e.raw, e.off, &v); err != nil {
			return err
		}
		if v.ID == "" {
			return source.Errorf(f.PosAt(e.off), "a NAT gateway without a NatGatewayId")
		}
		n := &NATGateway{ID: v.ID, Name: v.Name, Status: v.Status, VpcID: v.VpcID, VSwitchID: v.Private.VSwitchID, NetworkType: v.NetworkType, SnatTables: v.Snat.IDs, Pos: f.PosAt(e.off)}
		for _, ip := range v.IPs.List {
			a, err := addr(f, e.off, ip.IP, "NAT gateway "+v.ID+" IpAddress")
			if err != nil {
				return err
			}
			if a.IsValid() {
				n.IPs = append(n.IPs, a)
			}
		}
		x.NATs[n.ID] = n
	}
	return nil
}

func (x *Export) parseSnat(table string, f *source.File) error {
	els, err := listAt(f, "SnatTableEntries", "SnatTableEntry")
	if err != nil {
		return err
	}
	x.Snat[table] = []*SnatEntry{}
	for _, e := range els {
		var v struct {
			ID      string `json:"SnatEntryId"`
			Source  string `json:"SourceCIDR"`
			VSwitch string `json:"SourceVSwitchId"`
			SnatIP  string `json:"SnatIp"`
			Status  string `json:"Status"`
		}
		if err := decodeAt(f, e.raw, e.off, &v); err != nil {
			return err
		}
		s := &SnatEntry{ID: v.ID, Table: table, VSwitch: v.VSwitch, Status: v.Status, Pos: f.PosAt(e.off)}
		if s.Source, err = prefix(f, e.off, v.Source, "SNAT entry "+v.ID+" SourceCIDR"); err != nil {
			return err
		}
		if !s.Source.IsValid() && s.VSwitch == "" {
			return source.Errorf(f.PosAt(e.off), "SNAT entry %s has neither SourceCIDR nor SourceVSwitchId", v.ID)
		}
		// SnatIp may list several addresses, comma-separated (an address pool).
		for _, ip := range strings.Split(v.SnatIP, ",") {
			a, err := addr(f, e.off, strings.TrimSpace(ip), "SNAT entry "+v.ID+" SnatIp")
			if err != nil {
				return err
			}
			if a.IsValid() {
				s.SnatIPs = append(s.SnatIPs, a)
			}
		}
		x.Snat[table] = append(x.Snat[table], s)
	}
	return nil
}

func (x *Export) parseLBs(f *source.File) error {
	els, err := listAt(f, "LoadBalancers", "LoadBalancer")
	if err != nil {
		return err
	}
	for _, e := range els {
		var v struct {
			ID          string `json:"LoadBalancerId"`
			Name        string `json:"LoadBalancerName"`
			Address     string `json:"Address"`
			AddressType string `json:"AddressType"`
			Status      string `json:"LoadBalancerStatus"`
			VpcID       string `json:"VpcId"`
		}
		if err := decodeAt(f, e.raw, e.off, &v); err != nil {
			return err
		}
		if v.ID == "" {
			return source.Errorf(f.PosAt(e.off), "a load balancer without a LoadBalancerId")
		}
		a, err := addr(f, e.off, v.Address, "load balancer "+v.ID+" Address")
		if err != nil {
			return err
		}
		// An address type or status read wrong turns into an allow (an internal load
		// balancer taken as public, an inactive one as active): refuse what is unknown.
		if t := v.AddressType; t != "internet" && t != "intranet" {
			return source.Errorf(f.PosAt(e.off), "load balancer %s: AddressType %q is neither internet nor intranet", v.ID, t)
		}
		switch v.Status {
		case "active", "inactive", "locked":
		default:
			return source.Errorf(f.PosAt(e.off), "load balancer %s: LoadBalancerStatus %q is none of active, inactive, locked", v.ID, v.Status)
		}
		x.LBs = append(x.LBs, &LoadBalancer{ID: v.ID, Name: v.Name, AddressType: v.AddressType, Status: v.Status, VpcID: v.VpcID, Addr: a, Pos: f.PosAt(e.off)})
	}
	return nil
}

func (x *Export) parseListeners(lb string, f *source.File) error {
	els, err := listAt(f, "Listeners")
	if err != nil {
		return err
	}
	x.Listeners[lb] = []*Listener{}
	for _, e := range els {
		var v struct {
			LB           string  `json:"LoadBalancerId"`
			Port         flexInt `json:"ListenerPort"`
			Protocol     string  `json:"ListenerProtocol"`
			Status       string  `json:"Status"`
			BackendPort  flexInt `json:"BackendServerPort"`
			VServerGroup string  `json:"VServerGroupId"`
			AclStatus    string  `json:"AclStatus"`
			AclType      string  `json:"AclType"`
			AclID        string  `json:"AclId"`
		}
		if err := decodeAt(f, e.raw, e.off, &v); err != nil {
			return err
		}
		if v.Port.N < 1 || v.Port.N > 65535 {
			return source.Errorf(f.PosAt(e.off), "listener of %s: ListenerPort %d is not in 1-65535", lb, v.Port.N)
		}
		pos := f.PosAt(e.off)
		// Each of these read wrong would turn into an allow (an access control list read
		// as a blacklist) or a false "no listener": refuse what netsim does not know.
		switch strings.ToLower(v.Protocol) {
		case "tcp", "udp", "http", "https":
		default:
			return source.Errorf(pos, "listener %d of %s: ListenerProtocol %q is none of tcp, udp, http, https", v.Port.N, lb, v.Protocol)
		}
		switch strings.ToLower(v.AclStatus) {
		case "", "off":
		case "on":
			if t := strings.ToLower(v.AclType); t != "white" && t != "black" {
				return source.Errorf(pos, "listener %d of %s: AclStatus on with AclType %q, neither white nor black", v.Port.N, lb, v.AclType)
			}
			if v.AclID == "" {
				return source.Errorf(pos, "listener %d of %s: AclStatus on without an AclId", v.Port.N, lb)
			}
		default:
			return source.Errorf(pos, "listener %d of %s: AclStatus %q is neither on nor off", v.Port.N, lb, v.AclStatus)
		}
		id := lb
		if v.LB != "" {
			id = v.LB
		}
		l := &Listener{LB: id, Protocol: strings.ToLower(v.Protocol), Status: v.Status, Port: v.Port.N, BackendPort: v.BackendPort.N, VServerGroup: v.VServerGroup,
			AclStatus: v.AclStatus, AclType: v.AclType, AclID: v.AclID, Pos: f.PosAt(e.off)}
		x.Listeners[id] = append(x.Listeners[id], l)
	}
	return nil
}

func (x *Export) parseHealth(lb string, f *source.File) error {
	els, err := listAt(f, "BackendServers", "BackendServer")
	if err != nil {
		return err
	}
	x.Health[lb] = []*Backend{}
	for _, e := range els {
		var v struct {
			ServerID     string  `json:"ServerId"`
			ServerIP     string  `json:"ServerIp"`
			EniHost      string  `json:"EniHost"`
			Port         flexInt `json:"Port"`
			ListenerPort flexInt `json:"ListenerPort"`
			Protocol     string  `json:"Protocol"`
			Health       string  `json:"ServerHealthStatus"`
		}
		if err := decodeAt(f, e.raw, e.off, &v); err != nil {
			return err
		}
		switch v.Health {
		case "normal", "abnormal", "unavailable":
		default:
			return source.Errorf(f.PosAt(e.off), "backend %s: ServerHealthStatus %q is not normal, abnormal or unavailable", v.ServerID, v.Health)
		}
		ipText := v.ServerIP
		if ipText == "" {
			ipText = v.EniHost
		}
		a, err := addr(f, e.off, ipText, "backend "+v.ServerID+" ServerIp")
		if err != nil {
			return err
		}
		x.Health[lb] = append(x.Health[lb], &Backend{ServerID: v.ServerID, Protocol: strings.ToLower(v.Protocol), Health: v.Health, IP: a, Port: v.Port.N, ListenerPort: v.ListenerPort.N, Pos: f.PosAt(e.off)})
	}
	return nil
}
