package tencent

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/netsim/netsim/model/source"
)

// Parse reads the exports: files maps names below dir (cloud/tencent) to their text;
// names it does not know are ignored. Errors name the file and line.
func Parse(dir string, files map[string]*source.File) (*Export, error) {
	x := &Export{Groups: map[string]*Group{}, NATs: map[string]*NAT{}, SNAT: map[string][]*SNATRule{},
		Listeners: map[string][]*Listener{}, Targets: map[string][]*Target{}, AddrTemplates: map[string][]AddrRange{},
		AddrPos: map[string]source.Pos{}, Has: map[string]string{}, Dir: dir}
	single := []struct {
		name  string
		parse func(*source.File) error
	}{
		{FileInstances, x.parseInstances}, {FileENIs, x.parseENIs}, {FileSubnets, x.parseSubnets},
		{FileRouteTables, x.parseRouteTables}, {FileNATs, x.parseNATs}, {FileLBs, x.parseLBs},
		{FileTargetHealth, x.parseTargetHealth}, {FileAddrTemplates, x.parseAddrTemplates}, {FileACLs, x.parseACLs},
	}
	for _, s := range single {
		if f := files[s.name]; f != nil {
			x.Has[s.name] = f.Name
			if err := s.parse(f); err != nil {
				return nil, err
			}
		}
	}
	// Template groups refer to templates: read them after.
	if f := files[FileAddrTmplGroups]; f != nil {
		x.Has[FileAddrTmplGroups] = f.Name
		if err := x.parseAddrGroups(f); err != nil {
			return nil, err
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
		if !strings.HasSuffix(base, ".json") {
			continue
		}
		id := strings.TrimSuffix(base, ".json")
		f := files[n]
		var err error
		switch d {
		case DirPolicies:
			x.Has[DirPolicies] = path.Join(dir, DirPolicies)
			err = x.parsePolicies(f, id)
		case DirSNAT:
			x.Has[DirSNAT] = path.Join(dir, DirSNAT)
			err = x.parseSNAT(f, id)
		case DirListeners:
			x.Has[DirListeners] = path.Join(dir, DirListeners)
			err = x.parseListeners(f, id)
		}
		if err != nil {
			return nil, err
		}
	}
	x.buildIndex()
	return x, nil
}

func parseAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%q is not an IP address", s)
	}
	return a.Unmap(), nil
}

// parsePrefix reads a CIDR or a bare address (a /32 or /128).
func parsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "/") {
		a, err := parseAddr(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a CIDR", s)
		}
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not a CIDR", s)
	}
	return p.Masked(), nil
}

func addrs(pos source.Pos, what string, ss []string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, s := range ss {
		if s == "" {
			continue
		}
		a, err := parseAddr(s)
		if err != nil {
			return nil, source.Errorf(pos, "%s: %v", what, err)
		}
		out = append(out, a)
	}
	return out, nil
}

func (x *Export) parseInstances(f *source.File) error {
	els, err := listOf(f, "InstanceSet")
	if err != nil {
		return err
	}
	for _, e := range els {
		var v struct {
			InstanceId, InstanceName string
			PrivateIpAddresses       []string
			PublicIpAddresses        []string
			SecurityGroupIds         []string
			VirtualPrivateCloud      struct{ VpcId, SubnetId string }
		}
		if err := decodeAt(f, e, &v); err != nil {
			return err
		}
		pos := f.PosAt(e.off)
		if v.InstanceId == "" {
			return source.Errorf(pos, "an instance without InstanceId")
		}
		in := &Instance{ID: v.InstanceId, Name: v.InstanceName, VpcID: v.VirtualPrivateCloud.VpcId, SubnetID: v.VirtualPrivateCloud.SubnetId, Groups: v.SecurityGroupIds, Pos: pos}
		if in.PrivateIPs, err = addrs(pos, "instance "+v.InstanceId+" PrivateIpAddresses", v.PrivateIpAddresses); err != nil {
			return err
		}
		if in.PublicIPs, err = addrs(pos, "instance "+v.InstanceId+" PublicIpAddresses", v.PublicIpAddresses); err != nil {
			return err
		}
		x.Instances = append(x.Instances, in)
	}
	return nil
}

func (x *Export) parseENIs(f *source.File) error {
	els, err := listOf(f, "NetworkInterfaceSet")
	if err != nil {
		return err
	}
	for _, e := range els {
		var v struct {
			NetworkInterfaceId, VpcId, SubnetId string
			GroupSet                            []string
			Primary                             bool
			PrivateIpAddressSet                 []struct {
				PrivateIpAddress, PublicIpAddress string
				Primary                           bool
			}
			Attachment *struct{ InstanceId string }
		}
		if err := decodeAt(f, e, &v); err != nil {
			return err
		}
		pos := f.PosAt(e.off)
		if v.NetworkInterfaceId == "" {
			return source.Errorf(pos, "a network interface without NetworkInterfaceId")
		}
		n := &ENI{ID: v.NetworkInterfaceId, VpcID: v.VpcId, SubnetID: v.SubnetId, Groups: v.GroupSet, Primary: v.Primary, Public: map[netip.Addr]netip.Addr{}, Pos: pos}
		if v.Attachment != nil {
			n.InstanceID = v.Attachment.InstanceId
		}
		for _, ip := range v.PrivateIpAddressSet {
			a, err := parseAddr(ip.PrivateIpAddress)
			if err != nil {
				return source.Errorf(pos, "network interface %s PrivateIpAddress: %v", v.NetworkInterfaceId, err)
			}
			if ip.Primary {
				n.IPs = append([]netip.Addr{a}, n.IPs...)
			} else {
				n.IPs = append(n.IPs, a)
			}
			if ip.PublicIpAddress != "" {
				p, err := parseAddr(ip.PublicIpAddress)
				if err != nil {
					return source.Errorf(pos, "network interface %s PublicIpAddress: %v", v.NetworkInterfaceId, err)
				}
				n.Public[a] = p
			}
		}
		x.ENIs = append(x.ENIs, n)
	}
	return nil
}

// parsePorts reads a policy's Port: "ALL" (or empty), "80", "80,443", "3306-20000".
func parsePorts(s string) (ports []PortRange, all bool, err error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "ALL") {
		return nil, true, nil
	}
	for _, part := range strings.Split(s, ",") {
		a, b, ok := strings.Cut(strings.TrimSpace(part), "-")
		if !ok {
			b = a
		}
		from, err1 := strconv.ParseUint(strings.TrimSpace(a), 10, 16)
		to, err2 := strconv.ParseUint(strings.TrimSpace(b), 10, 16)
		if err1 != nil || err2 != nil || from > to {
			return nil, false, fmt.Errorf("Port %q is not ALL, a port, a list of ports or a range", s)
		}
		ports = append(ports, PortRange{uint16(from), uint16(to)})
	}
	return ports, false, nil
}

func (x *Export) parsePolicies(f *source.File, id string) error {
	docs, err := documents(f)
	if err != nil {
		return err
	}
	g := x.Groups[id]
	if g == nil {
		g = &Group{ID: id}
		x.Groups[id] = g
	}
	for _, d := range docs {
		set, ok, err := valueIn(f, d, "SecurityGroupPolicySet")
		if err != nil {
			return err
		}
		if !ok {
			return source.Errorf(f.PosAt(d.off), "no \"SecurityGroupPolicySet\": is this the output of tccli vpc DescribeSecurityGroupPolicies --SecurityGroupId %s?", id)
		}
		if g.Pos.IsZero() {
			g.Pos = f.PosAt(set.off)
		}
		var ver struct{ Version string }
		if err := decodeAt(f, set, &ver); err != nil {
			return err
		}
		g.Version = ver.Version
		for _, dir := range []string{"Ingress", "Egress"} {
			els, _, err := arrayIn(f, set, dir)
			if err != nil {
				return err
			}
			for i, e := range els {
				p, err := parsePolicy(f, e, id, dir == "Ingress", i)
				if err != nil {
					return err
				}
				if p.Ingress {
					g.Ingress = append(g.Ingress, p)
				} else {
					g.Egress = append(g.Egress, p)
				}
			}
		}
	}
	// PolicyIndex orders the policies (the export lists them in that order already).
	sort.SliceStable(g.Ingress, func(i, j int) bool { return g.Ingress[i].Index < g.Ingress[j].Index })
	sort.SliceStable(g.Egress, func(i, j int) bool { return g.Egress[i].Index < g.Egress[j].Index })
	return nil
}

func parsePolicy(f *source.File, e element, group string, ingress bool, i int) (*Policy, error) {
	var v struct {
		PolicyIndex               *int
		Protocol, Port            string
		CidrBlock, Ipv6CidrBlock  string
		SecurityGroupId           string
		Action, PolicyDescription string
		ServiceTemplate           *struct{ ServiceId, ServiceGroupId string }
		AddressTemplate           *struct{ AddressId, AddressGroupId string }
	}
	if err := decodeAt(f, e, &v); err != nil {
		return nil, err
	}
	pos := f.PosAt(e.off)
	p := &Policy{Group: group, Ingress: ingress, Index: i, Proto: strings.ToUpper(strings.TrimSpace(v.Protocol)), PortText: v.Port, RefSG: v.SecurityGroupId, Desc: v.PolicyDescription, Pos: pos}
	if v.PolicyIndex != nil {
		p.Index = *v.PolicyIndex
	}
	if v.ServiceTemplate != nil {
		p.SvcTmpl = v.ServiceTemplate.ServiceId + v.ServiceTemplate.ServiceGroupId
	}
	if v.AddressTemplate != nil {
		p.AddrTmpl = v.AddressTemplate.AddressId + v.AddressTemplate.AddressGroupId
	}
	what := fmt.Sprintf("security group %s policy %d", group, p.Index)
	switch strings.ToUpper(v.Action) {
	case "ACCEPT":
		p.Accept = true
	case "DROP":
	default:
		return nil, source.Errorf(pos, "%s: Action %q is neither ACCEPT nor DROP", what, v.Action)
	}
	switch p.Proto {
	case "TCP", "UDP", "ICMP", "ICMPV6", "GRE", "ALL":
	case "":
		if p.SvcTmpl == "" {
			p.Proto = "ALL"
		}
	default:
		return nil, source.Errorf(pos, "%s: Protocol %q is none of TCP, UDP, ICMP, ICMPV6, GRE, ALL", what, v.Protocol)
	}
	var err error
	if p.Ports, p.AllPort, err = parsePorts(v.Port); err != nil {
		return nil, source.Errorf(pos, "%s: %v", what, err)
	}
	cidr := v.CidrBlock
	if cidr == "" {
		cidr = v.Ipv6CidrBlock
	}
	if cidr != "" {
		if p.Cidr, err = parsePrefix(cidr); err != nil {
			return nil, source.Errorf(pos, "%s: CidrBlock %v", what, err)
		}
	}
	if cidr == "" && p.RefSG == "" && p.AddrTmpl == "" {
		return nil, source.Errorf(pos, "%s names no CidrBlock, Ipv6CidrBlock, SecurityGroupId or AddressTemplate", what)
	}
	return p, nil
}

func (x *Export) parseSubnets(f *source.File) error {
	els, err := listOf(f, "SubnetSet")
	if err != nil {
		return err
	}
	for _, e := range els {
		var v struct{ SubnetId, VpcId, CidrBlock, RouteTableId string }
		if err := decodeAt(f, e, &v); err != nil {
			return err
		}
		pos := f.PosAt(e.off)
		if v.SubnetId == "" {
			return source.Errorf(pos, "a subnet without SubnetId")
		}
		c, err := parsePrefix(v.CidrBlock)
		if err != nil {
			return source.Errorf(pos, "subnet %s CidrBlock %v", v.SubnetId, err)
		}
		x.Subnets = append(x.Subnets, &Subnet{ID: v.SubnetId, VpcID: v.VpcId, RouteTableID: v.RouteTableId, Cidr: c, Pos: pos})
	}
	return nil
}

func (x *Export) parseRouteTables(f *source.File) error {
	els, err := listOf(f, "RouteTableSet")
	if err != nil {
		return err
	}
	for _, e := range els {
		var v struct {
			RouteTableId, VpcId, RouteTableName string
			Main                                bool
			AssociationSet                      []struct{ SubnetId string }
		}
		if err := decodeAt(f, e, &v); err != nil {
			return err
		}
		pos := f.PosAt(e.off)
		if v.RouteTableId == "" {
			return source.Errorf(pos, "a route table without RouteTableId")
		}
		rt := &RouteTable{ID: v.RouteTableId, VpcID: v.VpcId, Name: v.RouteTableName, Main: v.Main, Pos: pos}
		for _, a := range v.AssociationSet {
			rt.Subnets = append(rt.Subnets, a.SubnetId)
		}
		rs, _, err := arrayIn(f, e, "RouteSet")
		if err != nil {
			return err
		}
		for _, re := range rs {
			var r struct {
				DestinationCidrBlock, DestinationIpv6CidrBlock string
				GatewayType, GatewayId, RouteType, RouteItemId string
				RouteId                                        json.RawMessage
				Enabled                                        *bool
			}
			if err := decodeAt(f, re, &r); err != nil {
				return err
			}
			rpos := f.PosAt(re.off)
			dst := r.DestinationCidrBlock
			if dst == "" {
				dst = r.DestinationIpv6CidrBlock
			}
			p, err := parsePrefix(dst)
			if err != nil {
				return source.Errorf(rpos, "route table %s: DestinationCidrBlock %v", v.RouteTableId, err)
			}
			rr := &Route{ID: r.RouteItemId, Dst: p, GatewayType: strings.ToUpper(r.GatewayType), GatewayID: r.GatewayId, Enabled: r.Enabled == nil || *r.Enabled, RouteType: r.RouteType, Table: v.RouteTableId, Pos: rpos}
			if rr.ID == "" {
				rr.ID = strings.Trim(string(r.RouteId), `"`)
			}
			if rr.GatewayType == "" {
				return source.Errorf(rpos, "route table %s: route %s has no GatewayType", v.RouteTableId, dst)
			}
			rt.Routes = append(rt.Routes, rr)
		}
		x.RouteTables = append(x.RouteTables, rt)
	}
	return nil
}

func (x *Export) parseNATs(f *source.File) error {
	els, err := listOf(f, "NatGatewaySet")
	if err != nil {
		return err
	}
	for _, e := range els {
		var v struct {
			NatGatewayId, VpcId, State string
			PublicIpAddressSet         []struct{ PublicIpAddress string }
		}
		if err := decodeAt(f, e, &v); err != nil {
			return err
		}
		pos := f.PosAt(e.off)
		if v.NatGatewayId == "" {
			return source.Errorf(pos, "a NAT gateway without NatGatewayId")
		}
		n := &NAT{ID: v.NatGatewayId, VpcID: v.VpcId, State: strings.ToUpper(v.State), Pos: pos}
		for _, a := range v.PublicIpAddressSet {
			ip, err := parseAddr(a.PublicIpAddress)
			if err != nil {
				return source.Errorf(pos, "NAT gateway %s PublicIpAddress: %v", v.NatGatewayId, err)
			}
			n.PublicIPs = append(n.PublicIPs, ip)
		}
		x.NATs[n.ID] = n
	}
	return nil
}

func (x *Export) parseSNAT(f *source.File, nat string) error {
	els, err := listOf(f, "SourceIpTranslationNatRuleSet")
	if err != nil {
		return err
	}
	x.SNAT[nat] = []*SNATRule{} // exported, even when empty
	for _, e := range els {
		var v struct {
			ResourceId, ResourceType, PrivateIpAddress, NatGatewaySnatId string
			PublicIpAddresses                                            []string
		}
		if err := decodeAt(f, e, &v); err != nil {
			return err
		}
		pos := f.PosAt(e.off)
		r := &SNATRule{NAT: nat, ID: v.NatGatewaySnatId, ResourceType: strings.ToUpper(v.ResourceType), ResourceID: v.ResourceId, Pos: pos}
		switch r.ResourceType {
		case "SUBNET", "NETWORKINTERFACE", "USERDEFINED":
		default:
			return source.Errorf(pos, "SNAT rule of %s: ResourceType %q is none of SUBNET, NETWORKINTERFACE, USERDEFINED", nat, v.ResourceType)
		}
		if v.PrivateIpAddress != "" {
			if r.Source, err = parsePrefix(v.PrivateIpAddress); err != nil {
				return source.Errorf(pos, "SNAT rule of %s: PrivateIpAddress %v", nat, err)
			}
		}
		if r.PublicIPs, err = addrs(pos, "SNAT rule of "+nat+" PublicIpAddresses", v.PublicIpAddresses); err != nil {
			return err
		}
		x.SNAT[nat] = append(x.SNAT[nat], r)
	}
	return nil
}

func (x *Export) parseLBs(f *source.File) error {
	els, err := listOf(f, "LoadBalancerSet")
	if err != nil {
		return err
	}
	for _, e := range els {
		var v struct {
			LoadBalancerId, LoadBalancerName, LoadBalancerType, VpcId string
			LoadBalancerVips                                          []string
			Status                                                    *int
			SecureGroups                                              []string
			LoadBalancerPassToTarget                                  bool
		}
		if err := decodeAt(f, e, &v); err != nil {
			return err
		}
		pos := f.PosAt(e.off)
		if v.LoadBalancerId == "" {
			return source.Errorf(pos, "a load balancer without LoadBalancerId")
		}
		lb := &LoadBalancer{ID: v.LoadBalancerId, Name: v.LoadBalancerName, Type: strings.ToUpper(v.LoadBalancerType), VpcID: v.VpcId, Status: 1, Groups: v.SecureGroups, PassToTarget: v.LoadBalancerPassToTarget, Pos: pos}
		if v.Status != nil {
			lb.Status = *v.Status
		}
		if lb.VIPs, err = addrs(pos, "load balancer "+v.LoadBalancerId+" LoadBalancerVips", v.LoadBalancerVips); err != nil {
			return err
		}
		x.LBs = append(x.LBs, lb)
	}
	return nil
}

func (x *Export) parseListeners(f *source.File, lb string) error {
	els, err := listOf(f, "Listeners")
	if err != nil {
		return err
	}
	x.Listeners[lb] = []*Listener{}
	for _, e := range els {
		var v struct {
			ListenerId, ListenerName, Protocol string
			Port, EndPort                      int
		}
		if err := decodeAt(f, e, &v); err != nil {
			return err
		}
		pos := f.PosAt(e.off)
		if v.Port < 1 || v.Port > 65535 {
			return source.Errorf(pos, "listener %s of %s: Port %d is not a port", v.ListenerId, lb, v.Port)
		}
		if v.EndPort != 0 && (v.EndPort < v.Port || v.EndPort > 65535) {
			return source.Errorf(pos, "listener %s of %s: EndPort %d does not end a range from Port %d", v.ListenerId, lb, v.EndPort, v.Port)
		}
		l := &Listener{LB: lb, ID: v.ListenerId, Name: v.ListenerName, Protocol: strings.ToUpper(v.Protocol), Port: v.Port, EndPort: v.EndPort, Pos: pos}
		// A protocol netsim does not know would read as "no listener": refuse it here.
		switch l.Protocol {
		case "TCP", "UDP", "TCP_SSL", "HTTP", "HTTPS", "QUIC":
		default:
			return source.Errorf(pos, "listener %s of %s: Protocol %q is none of TCP, UDP, TCP_SSL, QUIC, HTTP, HTTPS", v.ListenerId, lb, v.Protocol)
		}
		rs, _, err := arrayIn(f, e, "Rules")
		if err != nil {
			return err
		}
		for _, re := range rs {
			var r struct{ LocationId, Domain, Url string }
			if err := decodeAt(f, re, &r); err != nil {
				return err
			}
			l.Rules = append(l.Rules, ListenerRule{LocationID: r.LocationId, Domain: r.Domain, URL: r.Url, Pos: f.PosAt(re.off)})
		}
		x.Listeners[lb] = append(x.Listeners[lb], l)
	}
	return nil
}

func (x *Export) parseTargetHealth(f *source.File) error {
	els, err := listOf(f, "LoadBalancers")
	if err != nil {
		return err
	}
	for _, e := range els {
		var lb struct{ LoadBalancerId string }
		if err := decodeAt(f, e, &lb); err != nil {
			return err
		}
		if lb.LoadBalancerId == "" {
			return source.Errorf(f.PosAt(e.off), "a load balancer without LoadBalancerId")
		}
		if x.Targets[lb.LoadBalancerId] == nil {
			x.Targets[lb.LoadBalancerId] = []*Target{}
		}
		ls, _, err := arrayIn(f, e, "Listeners")
		if err != nil {
			return err
		}
		for _, le := range ls {
			var l struct{ ListenerId string }
			if err := decodeAt(f, le, &l); err != nil {
				return err
			}
			rs, _, err := arrayIn(f, le, "Rules")
			if err != nil {
				return err
			}
			for _, re := range rs {
				var r struct{ LocationId, Domain, Url string }
				if err := decodeAt(f, re, &r); err != nil {
					return err
				}
				ts, _, err := arrayIn(f, re, "Targets")
				if err != nil {
					return err
				}
				for _, te := range ts {
					var t struct {
						IP, TargetId, HealthStatusDetail string
						Port                             int
						HealthStatus                     bool
					}
					if err := decodeAt(f, te, &t); err != nil {
						return err
					}
					pos := f.PosAt(te.off)
					tg := &Target{LB: lb.LoadBalancerId, Listener: l.ListenerId, Location: r.LocationId, TargetID: t.TargetId, Port: t.Port, Healthy: t.HealthStatus, Detail: t.HealthStatusDetail, Pos: pos}
					if r.Domain != "" || r.Url != "" {
						tg.Rule = strings.TrimSpace(r.Domain + " " + r.Url)
					}
					if t.IP != "" {
						if tg.IP, err = parseAddr(t.IP); err != nil {
							return source.Errorf(pos, "target of %s: IP %v", lb.LoadBalancerId, err)
						}
					}
					if t.Port < 0 || t.Port > 65535 {
						return source.Errorf(pos, "target of %s: Port %d is not a port", lb.LoadBalancerId, t.Port)
					}
					x.Targets[lb.LoadBalancerId] = append(x.Targets[lb.LoadBalancerId], tg)
				}
			}
		}
	}
	return nil
}

// parseRange reads a template address: an IP, a CIDR or "FROM-TO".
func parseRange(s string) (AddrRange, error) {
	if a, b, ok := strings.Cut(s, "-"); ok {
		from, err1 := parseAddr(a)
		to, err2 := parseAddr(b)
		if err1 != nil || err2 != nil || from.BitLen() != to.BitLen() || to.Less(from) {
			return AddrRange{}, fmt.Errorf("%q is not an address range", s)
		}
		return AddrRange{from, to}, nil
	}
	p, err := parsePrefix(s)
	if err != nil {
		return AddrRange{}, err
	}
	return AddrRange{p.Addr(), lastAddr(p)}, nil
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

func (x *Export) parseAddrTemplates(f *source.File) error {
	els, err := listOf(f, "AddressTemplateSet")
	if err != nil {
		return err
	}
	for _, e := range els {
		var v struct {
			AddressTemplateId string
			AddressSet        []string
			AddressExtraSet   []struct{ Address string }
		}
		if err := decodeAt(f, e, &v); err != nil {
			return err
		}
		pos := f.PosAt(e.off)
		if v.AddressTemplateId == "" {
			return source.Errorf(pos, "an address template without AddressTemplateId")
		}
		set := v.AddressSet
		for _, a := range v.AddressExtraSet {
			set = append(set, a.Address)
		}
		rs := []AddrRange{}
		for _, s := range set {
			r, err := parseRange(s)
			if err != nil {
				return source.Errorf(pos, "address template %s: %v", v.AddressTemplateId, err)
			}
			rs = append(rs, r)
		}
		x.AddrTemplates[v.AddressTemplateId], x.AddrPos[v.AddressTemplateId] = rs, pos
	}
	return nil
}

func (x *Export) parseAddrGroups(f *source.File) error {
	els, err := listOf(f, "AddressTemplateGroupSet")
	if err != nil {
		return err
	}
	for _, e := range els {
		var v struct {
			AddressTemplateGroupId string
			AddressTemplateIdSet   []string
		}
		if err := decodeAt(f, e, &v); err != nil {
			return err
		}
		pos := f.PosAt(e.off)
		if v.AddressTemplateGroupId == "" {
			return source.Errorf(pos, "an address template group without AddressTemplateGroupId")
		}
		rs := []AddrRange{}
		for _, id := range v.AddressTemplateIdSet {
			t, ok := x.AddrTemplates[id]
			if !ok {
				// Its template is not exported: the group cannot be evaluated.
				rs = nil
				break
			}
			rs = append(rs, t...)
		}
		if rs != nil {
			x.AddrTemplates[v.AddressTemplateGroupId] = rs
		}
		x.AddrPos[v.AddressTemplateGroupId] = pos
	}
	return nil
}
