package aws

import (
	"net/netip"
	"path"
	"sort"
	"strings"

	"github.com/netsim/netsim/model/source"
)

// The export files, as cloud/aws/<command>.json holds them. The commands whose output
// does not name what it is about (target health, prefix list entries, transit gateway
// routes) go in a directory per command, one file per target group name, prefix list ID
// or transit gateway route table ID.
const (
	FileInstances   = "describe-instances.json"
	FileENIs        = "describe-network-interfaces.json"
	FileGroups      = "describe-security-groups.json"
	FileRouteTables = "describe-route-tables.json"
	FileACLs        = "describe-network-acls.json"
	FileNATs        = "describe-nat-gateways.json"
	FilePeerings    = "describe-vpc-peering-connections.json"
	FileTGWTables   = "describe-transit-gateway-route-tables.json"
	DirTGWRoutes    = "search-transit-gateway-routes"
	FilePrefixLists = "describe-managed-prefix-lists.json"
	DirPLEntries    = "get-managed-prefix-list-entries"
	FileLBs         = "describe-load-balancers.json"
	FileListeners   = "describe-listeners.json"
	FileTGs         = "describe-target-groups.json"
	DirTargetHealth = "describe-target-health"
)

// Export is an AWS account's network as the bundle's exports show it, parsed once.
type Export struct {
	Instances   map[string]*Instance
	ENIs        []*ENI
	Groups      map[string]*SecurityGroup
	ACLs        []*NetworkACL
	RouteTables []*RouteTable
	NATs        map[string]*NATGateway
	Peerings    map[string]*Peering
	TGWRoutes   map[string][]TGWRoute // by transit gateway route table
	TGWTables   map[string][]string   // transit gateway -> its route tables
	PrefixLists map[string]*PrefixList
	LBs         []*LoadBalancer
	Listeners   []*Listener
	TGs         map[string]*TargetGroup
	Health      map[string][]TargetHealth // by target group ARN
	// Rules are describe-rules/<listener id>.json by listener ARN, in evaluation order.
	Rules map[string][]*ListenerRule
	// Has says which export files (by name above) were in the bundle: a check whose file
	// is missing is unknown, never allowed.
	Has map[string]string // name -> bundle path
	// Dir is the bundle directory the exports were read from (cloud/aws).
	Dir string

	// Indexes of ENIs, built while parsing, so that finding an interface by ID or by
	// address does not scan the account's every interface for each packet: eniPos is
	// an ENI's place by ID, eniAt the places of the ENIs holding an address, prefixed
	// the places (ascending) of those with delegated prefixes. Nil for an Export built
	// without Parse: lookups then scan.
	eniPos   map[string]int
	eniAt    map[netip.Addr][]int
	prefixed []int
	// publicAt is the first ENI (place) mapping each public IP, for Inbound.
	publicAt map[netip.Addr]int
}

// Parse reads the exports. files maps names relative to cloud/aws (e.g.
// "describe-security-groups.json", "describe-target-health/web.json") to their text;
// files it does not know are ignored. Errors name the file and line.
func Parse(dir string, files map[string]*source.File) (*Export, error) {
	x := &Export{
		Instances: map[string]*Instance{}, Groups: map[string]*SecurityGroup{}, NATs: map[string]*NATGateway{},
		Peerings: map[string]*Peering{}, TGWRoutes: map[string][]TGWRoute{}, TGWTables: map[string][]string{},
		PrefixLists: map[string]*PrefixList{}, TGs: map[string]*TargetGroup{}, Health: map[string][]TargetHealth{},
		Rules: map[string][]*ListenerRule{}, Has: map[string]string{}, Dir: dir,
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	type step struct {
		name  string
		parse func(*source.File) error
	}
	// The order matters: interfaces after instances (an interface listed in both is
	// read from describe-network-interfaces), target health after target groups.
	steps := []step{
		{FileInstances, x.parseInstances}, {FileENIs, x.parseENIs}, {FileGroups, x.parseGroups},
		{FileACLs, x.parseACLs}, {FileRouteTables, x.parseRouteTables}, {FileNATs, x.parseNATs},
		{FilePeerings, x.parsePeerings}, {FileTGWTables, x.parseTGWTables}, {FilePrefixLists, x.parsePrefixLists},
		{FileLBs, x.parseLBs}, {FileListeners, x.parseListeners}, {FileTGs, x.parseTGs},
	}
	for _, s := range steps {
		if f := files[s.name]; f != nil {
			x.Has[s.name] = f.Name
			if err := s.parse(f); err != nil {
				return nil, err
			}
		}
	}
	for _, n := range names {
		d, base := path.Split(n)
		d = strings.TrimSuffix(d, "/")
		id := strings.TrimSuffix(base, ".json")
		if d == "" || !strings.HasSuffix(base, ".json") {
			continue
		}
		var err error
		switch d {
		case DirTGWRoutes:
			x.Has[DirTGWRoutes] = path.Join(dir, DirTGWRoutes)
			err = x.parseTGWRoutes(id, files[n])
		case DirPLEntries:
			err = x.parsePLEntries(id, files[n])
		case DirTargetHealth:
			x.Has[DirTargetHealth] = path.Join(dir, DirTargetHealth)
			err = x.parseHealth(id, files[n])
		case DirRules:
			x.Has[DirRules] = path.Join(dir, DirRules)
			err = x.parseRules(id, files[n])
		}
		if err != nil {
			return nil, err
		}
	}
	x.indexENIs()
	for _, rt := range x.RouteTables {
		rt.index()
	}
	return x, nil
}

func addr(f *source.File, e element, s, what string) (netip.Addr, error) {
	if s == "" {
		return netip.Addr{}, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, source.Errorf(f.PosAt(e.off), "%s %q is not an IP address", what, s)
	}
	return a.Unmap(), nil
}

func prefix(f *source.File, e element, s, what string) (netip.Prefix, error) {
	if s == "" {
		return netip.Prefix{}, nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, source.Errorf(f.PosAt(e.off), "%s %q is not a CIDR", what, s)
	}
	return p.Masked(), nil
}

type rawGroupRef struct{ GroupId, GroupName string }

type rawENI struct {
	NetworkInterfaceId, SubnetId, VpcId, PrivateIpAddress, InterfaceType, Description string
	SourceDestCheck                                                                   *bool
	Groups                                                                            []rawGroupRef
	Attachment                                                                        *struct {
		InstanceId  string
		DeviceIndex int
	}
	Association        *struct{ PublicIp string }
	PrivateIpAddresses []struct {
		PrivateIpAddress string
		Primary          bool
		Association      *struct{ PublicIp string }
	}
	Ipv6Addresses []struct{ Ipv6Address string }
	Ipv4Prefixes  []struct{ Ipv4Prefix string }
	Ipv6Prefixes  []struct{ Ipv6Prefix string }
}

func (x *Export) eni(f *source.File, e element, r rawENI, instance string) (*ENI, error) {
	n := &ENI{ID: r.NetworkInterfaceId, SubnetID: r.SubnetId, VpcID: r.VpcId, InstanceID: instance, Type: r.InterfaceType, Description: r.Description,
		SourceDestCheck: r.SourceDestCheck == nil || *r.SourceDestCheck, Public: map[netip.Addr]netip.Addr{}, Pos: f.PosAt(e.off)}
	if n.ID == "" {
		return nil, source.Errorf(n.Pos, "a network interface without NetworkInterfaceId")
	}
	if r.Attachment != nil {
		n.DeviceIndex = r.Attachment.DeviceIndex
		if r.Attachment.InstanceId != "" {
			n.InstanceID = r.Attachment.InstanceId
		}
	}
	for _, g := range r.Groups {
		n.Groups = append(n.Groups, GroupRef{g.GroupId, g.GroupName})
	}
	primary, err := addr(f, e, r.PrivateIpAddress, "PrivateIpAddress")
	if err != nil {
		return nil, err
	}
	if primary.IsValid() {
		n.IPs = append(n.IPs, primary)
		if r.Association != nil {
			if pub, err := addr(f, e, r.Association.PublicIp, "PublicIp"); err != nil {
				return nil, err
			} else if pub.IsValid() {
				n.Public[primary] = pub
			}
		}
	}
	for _, p := range r.PrivateIpAddresses {
		a, err := addr(f, e, p.PrivateIpAddress, "PrivateIpAddress")
		if err != nil {
			return nil, err
		}
		if !a.IsValid() {
			continue
		}
		if a != primary {
			n.IPs = append(n.IPs, a)
		}
		if p.Association != nil {
			if pub, err := addr(f, e, p.Association.PublicIp, "PublicIp"); err != nil {
				return nil, err
			} else if pub.IsValid() {
				n.Public[a] = pub
			}
		}
	}
	for _, p := range r.Ipv6Addresses {
		a, err := addr(f, e, p.Ipv6Address, "Ipv6Address")
		if err != nil {
			return nil, err
		}
		if a.IsValid() {
			n.IPs = append(n.IPs, a)
		}
	}
	for _, p := range r.Ipv4Prefixes {
		pf, err := prefix(f, e, p.Ipv4Prefix, "Ipv4Prefix")
		if err != nil {
			return nil, err
		}
		n.Prefixes = append(n.Prefixes, pf)
	}
	for _, p := range r.Ipv6Prefixes {
		pf, err := prefix(f, e, p.Ipv6Prefix, "Ipv6Prefix")
		if err != nil {
			return nil, err
		}
		n.Prefixes = append(n.Prefixes, pf)
	}
	return n, nil
}

func (x *Export) addENI(n *ENI) {
	if x.eniPos == nil {
		x.eniPos = map[string]int{}
	}
	if i, ok := x.eniPos[n.ID]; ok {
		x.ENIs[i] = n
		return
	}
	x.eniPos[n.ID] = len(x.ENIs)
	x.ENIs = append(x.ENIs, n)
}

// indexENIs indexes the interfaces by the addresses they hold, once they are all read.
func (x *Export) indexENIs() {
	if x.eniPos == nil {
		x.eniPos = map[string]int{}
	}
	x.eniAt = map[netip.Addr][]int{}
	x.publicAt = map[netip.Addr]int{}
	for i, n := range x.ENIs {
		for _, pub := range n.Public {
			if _, ok := x.publicAt[pub]; !ok {
				x.publicAt[pub] = i
			}
		}
		for _, a := range n.IPs {
			if l := x.eniAt[a]; len(l) == 0 || l[len(l)-1] != i {
				x.eniAt[a] = append(l, i)
			}
		}
		if len(n.Prefixes) > 0 {
			x.prefixed = append(x.prefixed, i)
		}
	}
}

func (x *Export) parseInstances(f *source.File) error {
	res, err := listOf(f, "Reservations")
	if err != nil {
		return err
	}
	for _, r := range res {
		insts, err := sub(f, r, "Instances")
		if err != nil {
			return err
		}
		for _, e := range insts {
			var raw struct {
				InstanceId, SubnetId, VpcId, PrivateIpAddress, PublicIpAddress string
				SourceDestCheck                                                *bool
				Placement                                                      struct{ AvailabilityZone string }
				State                                                          struct{ Name string }
			}
			if err := decodeAt(f, e, &raw); err != nil {
				return err
			}
			in := &Instance{ID: raw.InstanceId, Zone: raw.Placement.AvailabilityZone, State: raw.State.Name, SubnetID: raw.SubnetId, VpcID: raw.VpcId,
				SourceDestCheck: raw.SourceDestCheck, Pos: f.PosAt(e.off)}
			if in.ID == "" {
				return source.Errorf(in.Pos, "an instance without InstanceId")
			}
			if in.PrivateIP, err = addr(f, e, raw.PrivateIpAddress, "PrivateIpAddress"); err != nil {
				return err
			}
			if in.PublicIP, err = addr(f, e, raw.PublicIpAddress, "PublicIpAddress"); err != nil {
				return err
			}
			nics, err := sub(f, e, "NetworkInterfaces")
			if err != nil {
				return err
			}
			for _, ne := range nics {
				var rn rawENI
				if err := decodeAt(f, ne, &rn); err != nil {
					return err
				}
				n, err := x.eni(f, ne, rn, in.ID)
				if err != nil {
					return err
				}
				if n.SubnetID == "" {
					n.SubnetID = in.SubnetID
				}
				if n.VpcID == "" {
					n.VpcID = in.VpcID
				}
				x.addENI(n)
				in.ENIs = append(in.ENIs, n.ID)
			}
			x.Instances[in.ID] = in
		}
	}
	return nil
}

func (x *Export) parseENIs(f *source.File) error {
	els, err := listOf(f, "NetworkInterfaces")
	if err != nil {
		return err
	}
	for _, e := range els {
		var rn rawENI
		if err := decodeAt(f, e, &rn); err != nil {
			return err
		}
		n, err := x.eni(f, e, rn, "")
		if err != nil {
			return err
		}
		x.addENI(n)
		if in := x.Instances[n.InstanceID]; in != nil && !contains(in.ENIs, n.ID) {
			in.ENIs = append(in.ENIs, n.ID)
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (x *Export) parseGroups(f *source.File) error {
	els, err := listOf(f, "SecurityGroups")
	if err != nil {
		return err
	}
	for _, e := range els {
		var raw struct{ GroupId, GroupName, VpcId string }
		if err := decodeAt(f, e, &raw); err != nil {
			return err
		}
		g := &SecurityGroup{ID: raw.GroupId, Name: raw.GroupName, VpcID: raw.VpcId, Pos: f.PosAt(e.off)}
		if g.ID == "" {
			return source.Errorf(g.Pos, "a security group without GroupId")
		}
		if g.Ingress, err = permissions(f, e, "IpPermissions"); err != nil {
			return err
		}
		if g.Egress, err = permissions(f, e, "IpPermissionsEgress"); err != nil {
			return err
		}
		x.Groups[g.ID] = g
	}
	return nil
}

func permissions(f *source.File, g element, key string) ([]Permission, error) {
	els, err := sub(f, g, key)
	if err != nil {
		return nil, err
	}
	var out []Permission
	for i, e := range els {
		var raw struct {
			IpProtocol       string
			FromPort, ToPort *int
			IpRanges         []struct{ CidrIp string }
			Ipv6Ranges       []struct{ CidrIpv6 string }
			UserIdGroupPairs []struct{ GroupId string }
			PrefixListIds    []struct{ PrefixListId string }
		}
		if err := decodeAt(f, e, &raw); err != nil {
			return nil, err
		}
		p := Permission{Index: i + 1, Protocol: strings.ToLower(raw.IpProtocol), From: -1, To: -1, Pos: f.PosAt(e.off)}
		if raw.FromPort != nil {
			p.From = *raw.FromPort
		}
		if raw.ToPort != nil {
			p.To = *raw.ToPort
		}
		if p.Protocol == "" {
			return nil, source.Errorf(p.Pos, "a permission without IpProtocol")
		}
		for _, r := range raw.IpRanges {
			c, err := prefix(f, e, r.CidrIp, "CidrIp")
			if err != nil {
				return nil, err
			}
			p.CIDRs = append(p.CIDRs, c)
		}
		for _, r := range raw.Ipv6Ranges {
			c, err := prefix(f, e, r.CidrIpv6, "CidrIpv6")
			if err != nil {
				return nil, err
			}
			p.CIDRs = append(p.CIDRs, c)
		}
		for _, r := range raw.UserIdGroupPairs {
			p.Groups = append(p.Groups, r.GroupId)
		}
		for _, r := range raw.PrefixListIds {
			p.Lists = append(p.Lists, r.PrefixListId)
		}
		out = append(out, p)
	}
	return out, nil
}

func (x *Export) parseACLs(f *source.File) error {
	els, err := listOf(f, "NetworkAcls")
	if err != nil {
		return err
	}
	for _, e := range els {
		var raw struct {
			NetworkAclId, VpcId string
			IsDefault           bool
			Associations        []struct{ SubnetId string }
		}
		if err := decodeAt(f, e, &raw); err != nil {
			return err
		}
		a := &NetworkACL{ID: raw.NetworkAclId, VpcID: raw.VpcId, Default: raw.IsDefault, Pos: f.PosAt(e.off)}
		if a.ID == "" {
			return source.Errorf(a.Pos, "a network ACL without NetworkAclId")
		}
		for _, s := range raw.Associations {
			a.Subnets = append(a.Subnets, s.SubnetId)
		}
		ents, err := sub(f, e, "Entries")
		if err != nil {
			return err
		}
		for _, ee := range ents {
			var re struct {
				RuleNumber               int
				Protocol, RuleAction     string
				Egress                   bool
				CidrBlock, Ipv6CidrBlock string
				PortRange                *struct{ From, To int }
				IcmpTypeCode             *struct{ Type, Code int }
			}
			if err := decodeAt(f, ee, &re); err != nil {
				return err
			}
			en := ACLEntry{Number: re.RuleNumber, Egress: re.Egress, Allow: strings.EqualFold(re.RuleAction, "allow"), Protocol: re.Protocol,
				FromPort: -1, ToPort: -1, ICMPType: -1, ICMPCode: -1, Pos: f.PosAt(ee.off)}
			if !en.Allow && !strings.EqualFold(re.RuleAction, "deny") {
				return source.Errorf(en.Pos, "RuleAction %q: want allow or deny", re.RuleAction)
			}
			c := re.CidrBlock
			if c == "" {
				c = re.Ipv6CidrBlock
			}
			if en.CIDR, err = prefix(f, ee, c, "CidrBlock"); err != nil {
				return err
			}
			if !en.CIDR.IsValid() {
				return source.Errorf(en.Pos, "ACL rule %d has no CidrBlock", en.Number)
			}
			if re.PortRange != nil {
				en.FromPort, en.ToPort = re.PortRange.From, re.PortRange.To
			}
			if re.IcmpTypeCode != nil {
				en.ICMPType, en.ICMPCode = re.IcmpTypeCode.Type, re.IcmpTypeCode.Code
			}
			a.Entries = append(a.Entries, en)
		}
		x.ACLs = append(x.ACLs, a)
	}
	return nil
}

func (x *Export) parseRouteTables(f *source.File) error {
	els, err := listOf(f, "RouteTables")
	if err != nil {
		return err
	}
	for _, e := range els {
		var raw struct {
			RouteTableId, VpcId string
			Associations        []struct {
				Main                bool
				SubnetId, GatewayId string
			}
		}
		if err := decodeAt(f, e, &raw); err != nil {
			return err
		}
		t := &RouteTable{ID: raw.RouteTableId, VpcID: raw.VpcId, Pos: f.PosAt(e.off)}
		if t.ID == "" {
			return source.Errorf(t.Pos, "a route table without RouteTableId")
		}
		for _, a := range raw.Associations {
			t.Main = t.Main || a.Main
			if a.SubnetId != "" {
				t.Subnets = append(t.Subnets, a.SubnetId)
			}
			if a.GatewayId != "" {
				t.Gateways = append(t.Gateways, a.GatewayId)
			}
		}
		routes, err := sub(f, e, "Routes")
		if err != nil {
			return err
		}
		for _, re := range routes {
			var r struct {
				DestinationCidrBlock, DestinationIpv6CidrBlock, DestinationPrefixListId                           string
				GatewayId, NatGatewayId, InstanceId, NetworkInterfaceId, VpcPeeringConnectionId, TransitGatewayId string
				LocalGatewayId, CarrierGatewayId, EgressOnlyInternetGatewayId, CoreNetworkArn, State              string
			}
			if err := decodeAt(f, re, &r); err != nil {
				return err
			}
			rt := Route{PrefixList: r.DestinationPrefixListId, Blackhole: r.State == "blackhole", Pos: f.PosAt(re.off)}
			d := r.DestinationCidrBlock
			if d == "" {
				d = r.DestinationIpv6CidrBlock
			}
			if rt.Dst, err = prefix(f, re, d, "DestinationCidrBlock"); err != nil {
				return err
			}
			if !rt.Dst.IsValid() && rt.PrefixList == "" {
				return source.Errorf(rt.Pos, "a route without a destination")
			}
			switch {
			case r.NatGatewayId != "":
				rt.Target, rt.Kind = r.NatGatewayId, TargetNAT
			case r.VpcPeeringConnectionId != "":
				rt.Target, rt.Kind = r.VpcPeeringConnectionId, TargetPeering
			case r.TransitGatewayId != "":
				rt.Target, rt.Kind = r.TransitGatewayId, TargetTGW
			case r.NetworkInterfaceId != "":
				rt.Target, rt.Kind = r.NetworkInterfaceId, TargetENI
			case r.InstanceId != "":
				rt.Target, rt.Kind = r.InstanceId, TargetInstance
			case r.EgressOnlyInternetGatewayId != "":
				rt.Target, rt.Kind = r.EgressOnlyInternetGatewayId, TargetEgressIG
			case r.GatewayId == "local":
				rt.Target, rt.Kind = "local", TargetLocal
			case strings.HasPrefix(r.GatewayId, "igw-"):
				rt.Target, rt.Kind = r.GatewayId, TargetIGW
			case strings.HasPrefix(r.GatewayId, "vgw-"):
				rt.Target, rt.Kind = r.GatewayId, TargetVGW
			case strings.HasPrefix(r.GatewayId, "vpce-"):
				rt.Target, rt.Kind = r.GatewayId, TargetEndpoint
			default:
				rt.Target, rt.Kind = firstOf(r.GatewayId, r.LocalGatewayId, r.CarrierGatewayId, r.CoreNetworkArn), TargetOther
			}
			t.Routes = append(t.Routes, rt)
		}
		x.RouteTables = append(x.RouteTables, t)
	}
	return nil
}

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func (x *Export) parseNATs(f *source.File) error {
	els, err := listOf(f, "NatGateways")
	if err != nil {
		return err
	}
	for _, e := range els {
		var raw struct {
			NatGatewayId, SubnetId, VpcId, State, ConnectivityType string
			NatGatewayAddresses                                    []struct{ PublicIp, PrivateIp string }
		}
		if err := decodeAt(f, e, &raw); err != nil {
			return err
		}
		n := &NATGateway{ID: raw.NatGatewayId, SubnetID: raw.SubnetId, VpcID: raw.VpcId, State: raw.State, Public: raw.ConnectivityType != "private", Pos: f.PosAt(e.off)}
		if n.ID == "" {
			return source.Errorf(n.Pos, "a NAT gateway without NatGatewayId")
		}
		if len(raw.NatGatewayAddresses) > 0 {
			a := raw.NatGatewayAddresses[0]
			if n.PrivateIP, err = addr(f, e, a.PrivateIp, "PrivateIp"); err != nil {
				return err
			}
			if n.PublicIP, err = addr(f, e, a.PublicIp, "PublicIp"); err != nil {
				return err
			}
		}
		x.NATs[n.ID] = n
	}
	return nil
}

type rawVpcInfo struct {
	VpcId, CidrBlock string
	CidrBlockSet     []struct{ CidrBlock string }
}

func (x *Export) parsePeerings(f *source.File) error {
	els, err := listOf(f, "VpcPeeringConnections")
	if err != nil {
		return err
	}
	for _, e := range els {
		var raw struct {
			VpcPeeringConnectionId            string
			Status                            struct{ Code string }
			AccepterVpcInfo, RequesterVpcInfo rawVpcInfo
		}
		if err := decodeAt(f, e, &raw); err != nil {
			return err
		}
		p := &Peering{ID: raw.VpcPeeringConnectionId, Status: raw.Status.Code, Requester: raw.RequesterVpcInfo.VpcId, Accepter: raw.AccepterVpcInfo.VpcId, Pos: f.PosAt(e.off)}
		if p.RequesterCIDRs, err = vpcCIDRs(f, e, raw.RequesterVpcInfo); err != nil {
			return err
		}
		if p.AccCIDR, err = vpcCIDRs(f, e, raw.AccepterVpcInfo); err != nil {
			return err
		}
		x.Peerings[p.ID] = p
	}
	return nil
}

func vpcCIDRs(f *source.File, e element, v rawVpcInfo) ([]netip.Prefix, error) {
	var out []netip.Prefix
	add := func(s string) error {
		p, err := prefix(f, e, s, "CidrBlock")
		if err == nil && p.IsValid() {
			for _, o := range out {
				if o == p {
					return nil
				}
			}
			out = append(out, p)
		}
		return err
	}
	if err := add(v.CidrBlock); err != nil {
		return nil, err
	}
	for _, c := range v.CidrBlockSet {
		if err := add(c.CidrBlock); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (x *Export) parseTGWTables(f *source.File) error {
	els, err := listOf(f, "TransitGatewayRouteTables")
	if err != nil {
		return err
	}
	for _, e := range els {
		var raw struct{ TransitGatewayRouteTableId, TransitGatewayId string }
		if err := decodeAt(f, e, &raw); err != nil {
			return err
		}
		x.TGWTables[raw.TransitGatewayId] = append(x.TGWTables[raw.TransitGatewayId], raw.TransitGatewayRouteTableId)
	}
	return nil
}

func (x *Export) parseTGWRoutes(table string, f *source.File) error {
	els, err := listOf(f, "Routes")
	if err != nil {
		return err
	}
	for _, e := range els {
		var raw struct {
			DestinationCidrBlock, State string
			TransitGatewayAttachments   []struct{ TransitGatewayAttachmentId, ResourceId, ResourceType string }
		}
		if err := decodeAt(f, e, &raw); err != nil {
			return err
		}
		r := TGWRoute{Table: table, Blackhole: raw.State == "blackhole", Pos: f.PosAt(e.off)}
		if r.Dst, err = prefix(f, e, raw.DestinationCidrBlock, "DestinationCidrBlock"); err != nil {
			return err
		}
		if len(raw.TransitGatewayAttachments) > 0 {
			a := raw.TransitGatewayAttachments[0]
			r.Attachment, r.Resource, r.Type = a.TransitGatewayAttachmentId, a.ResourceId, a.ResourceType
		}
		x.TGWRoutes[table] = append(x.TGWRoutes[table], r)
	}
	return nil
}

func (x *Export) parsePrefixLists(f *source.File) error {
	els, err := listOf(f, "PrefixLists")
	if err != nil {
		return err
	}
	for _, e := range els {
		var raw struct{ PrefixListId, PrefixListName string }
		if err := decodeAt(f, e, &raw); err != nil {
			return err
		}
		pl := x.prefixList(raw.PrefixListId)
		pl.Name, pl.Pos = raw.PrefixListName, f.PosAt(e.off)
	}
	return nil
}

func (x *Export) prefixList(id string) *PrefixList {
	pl := x.PrefixLists[id]
	if pl == nil {
		pl = &PrefixList{ID: id}
		x.PrefixLists[id] = pl
	}
	return pl
}

func (x *Export) parsePLEntries(id string, f *source.File) error {
	els, err := listOf(f, "Entries")
	if err != nil {
		return err
	}
	pl := x.prefixList(id)
	pl.HasEntries = true
	if pl.Pos.IsZero() {
		pl.Pos = f.Pos(1)
	}
	for _, e := range els {
		var raw struct{ Cidr string }
		if err := decodeAt(f, e, &raw); err != nil {
			return err
		}
		c, err := prefix(f, e, raw.Cidr, "Cidr")
		if err != nil {
			return err
		}
		pl.CIDRs = append(pl.CIDRs, c)
	}
	return nil
}

func (x *Export) parseLBs(f *source.File) error {
	els, err := listOf(f, "LoadBalancers")
	if err != nil {
		return err
	}
	for _, e := range els {
		var raw struct {
			LoadBalancerArn, LoadBalancerName, DNSName, Type, Scheme, VpcId string
			State                                                           struct{ Code string }
			SecurityGroups                                                  *[]string
			AvailabilityZones                                               []struct {
				SubnetId              string
				LoadBalancerAddresses []struct{ IpAddress, PrivateIPv4Address string }
			}
		}
		if err := decodeAt(f, e, &raw); err != nil {
			return err
		}
		lb := &LoadBalancer{ARN: raw.LoadBalancerArn, Name: raw.LoadBalancerName, DNSName: raw.DNSName, Type: raw.Type, Scheme: raw.Scheme,
			State: raw.State.Code, VpcID: raw.VpcId, Pos: f.PosAt(e.off)}
		if lb.ARN == "" {
			return source.Errorf(lb.Pos, "a load balancer without LoadBalancerArn")
		}
		if raw.SecurityGroups != nil {
			lb.Groups, lb.HasGroups = *raw.SecurityGroups, len(*raw.SecurityGroups) > 0
		}
		for _, z := range raw.AvailabilityZones {
			lb.Subnets = append(lb.Subnets, z.SubnetId)
			for _, a := range z.LoadBalancerAddresses {
				for _, s := range []string{a.IpAddress, a.PrivateIPv4Address} {
					ip, err := addr(f, e, s, "IpAddress")
					if err != nil {
						return err
					}
					if ip.IsValid() {
						lb.Addrs = append(lb.Addrs, ip)
					}
				}
			}
		}
		x.LBs = append(x.LBs, lb)
	}
	return nil
}

func (x *Export) parseListeners(f *source.File) error {
	els, err := listOf(f, "Listeners")
	if err != nil {
		return err
	}
	for _, e := range els {
		var raw struct {
			ListenerArn, LoadBalancerArn, Protocol string
			Port                                   int
			DefaultActions                         []rawAction
		}
		if err := decodeAt(f, e, &raw); err != nil {
			return err
		}
		l := &Listener{ARN: raw.ListenerArn, LB: raw.LoadBalancerArn, Port: raw.Port, Protocol: raw.Protocol, Pos: f.PosAt(e.off)}
		l.Actions = actions(raw.DefaultActions)
		for _, a := range l.Actions {
			if l.Action == "" || strings.HasPrefix(l.Action, "authenticate-") {
				l.Action = a.Type
			}
			for _, g := range a.Groups {
				if !contains(l.TargetGroups, g.ARN) {
					l.TargetGroups = append(l.TargetGroups, g.ARN)
				}
			}
		}
		x.Listeners = append(x.Listeners, l)
	}
	return nil
}

func (x *Export) parseTGs(f *source.File) error {
	els, err := listOf(f, "TargetGroups")
	if err != nil {
		return err
	}
	for _, e := range els {
		var raw struct {
			TargetGroupArn, TargetGroupName, Protocol, TargetType, VpcId string
			Port                                                         int
			LoadBalancerArns                                             []string
		}
		if err := decodeAt(f, e, &raw); err != nil {
			return err
		}
		tg := &TargetGroup{ARN: raw.TargetGroupArn, Name: raw.TargetGroupName, Protocol: raw.Protocol, Port: raw.Port, TargetType: raw.TargetType,
			VpcID: raw.VpcId, LBs: raw.LoadBalancerArns, Pos: f.PosAt(e.off)}
		if tg.ARN == "" {
			return source.Errorf(tg.Pos, "a target group without TargetGroupArn")
		}
		x.TGs[tg.ARN] = tg
	}
	return nil
}

// parseHealth reads describe-target-health/<target group name>.json.
func (x *Export) parseHealth(name string, f *source.File) error {
	var tg *TargetGroup
	for _, g := range x.TGs {
		if g.Name == name || g.ARN == name {
			tg = g
		}
	}
	if tg == nil {
		return source.Errorf(f.Pos(1), "target health of %q, which describe-target-groups does not list (name the file after the target group)", name)
	}
	els, err := listOf(f, "TargetHealthDescriptions")
	if err != nil {
		return err
	}
	for _, e := range els {
		var raw struct {
			Target struct {
				Id   string
				Port int
			}
			TargetHealth struct{ State, Reason, Description string }
		}
		if err := decodeAt(f, e, &raw); err != nil {
			return err
		}
		x.Health[tg.ARN] = append(x.Health[tg.ARN], TargetHealth{Group: tg.ARN, ID: raw.Target.Id, Port: raw.Target.Port, State: raw.TargetHealth.State,
			Reason: raw.TargetHealth.Reason, Description: raw.TargetHealth.Description, Pos: f.PosAt(e.off)})
	}
	return nil
}
