// Package azure reads an Azure subscription's network from `az network ... list -o json`
// exports (or the raw ARM resources an SDK collector writes) and judges packets with it
// for the walk: network security groups (the subnet's and the NIC's), route tables with
// Azure's system routes, IP forwarding, NAT gateways, public IPs and load balancers.
// docs/cloud-azure.md says what is read, the semantics and what stays unknown.
package azure

import (
	"net/netip"
	"path"
	"sort"
	"strings"

	"github.com/netsim/netsim/model/source"
)

// Export file names under cloud/azure.
const (
	FileNICs     = "nic-list.json"         // az network nic list -o json (and az vmss nic list for scale sets)
	FileNSGs     = "nsg-list.json"         // az network nsg list -o json
	FileVNets    = "vnet-list.json"        // az network vnet list -o json
	FileRoutes   = "route-table-list.json" // az network route-table list -o json
	FilePublicIP = "public-ip-list.json"   // az network public-ip list -o json
	FileNATs     = "nat-gateway-list.json" // az network nat gateway list -o json
	FileLBs      = "lb-list.json"          // az network lb list -o json
	DirHealth    = "lb-backend-health"     // lb-backend-health/<lb name>.json: health per rule
)

// Commands is the az command that writes each export.
var Commands = map[string]string{
	FileNICs:     "az network nic list -o json (plus az vmss nic list -g RG --vmss-name SCALESET -o json for scale-set nodes)",
	FileNSGs:     "az network nsg list -o json",
	FileVNets:    "az network vnet list -o json",
	FileRoutes:   "az network route-table list -o json",
	FilePublicIP: "az network public-ip list -o json",
	FileNATs:     "az network nat gateway list -o json",
	FileLBs:      "az network lb list -o json",
	DirHealth:    "Get-AzLoadBalancerRuleHealth -ResourceGroupName RG -LoadBalancerName LB -Name RULE | ConvertTo-Json (the REST POST <lb id>/loadBalancingRules/<rule>/health, a long-running operation) per rule, as one object keyed by rule name; netsim's Azure collector writes it",
}

// IPConfig is one IP configuration of a NIC: its private address, subnet, public IP,
// application security groups and load balancer pools. Azure CNI gives each pod an IP
// configuration of the node's NIC.
type IPConfig struct {
	ID, Name string
	IP       netip.Addr
	Primary  bool
	Subnet   string   // subnet ID
	PublicIP string   // public IP ID
	ASGs     []string // application security group IDs
	Pools    []string // load balancer backend pool IDs
	NIC      *NIC
	Pos      source.Pos
}

// NIC is a network interface.
type NIC struct {
	ID, Name     string
	VM           string // virtualMachine.id
	NSG          string // networkSecurityGroup.id
	IPForwarding bool
	IPConfigs    []*IPConfig
	Pos          source.Pos
}

// Holds reports whether a is one of the NIC's IP configurations' addresses.
func (n *NIC) Holds(a netip.Addr) bool { return n.Config(a) != nil }

// Config is the IP configuration holding a, else nil.
func (n *NIC) Config(a netip.Addr) *IPConfig {
	for _, c := range n.IPConfigs {
		if c.IP == a {
			return c
		}
	}
	return nil
}

// Primary is the primary IP configuration (the first when none says so).
func (n *NIC) Primary() *IPConfig {
	for _, c := range n.IPConfigs {
		if c.Primary {
			return c
		}
	}
	if len(n.IPConfigs) > 0 {
		return n.IPConfigs[0]
	}
	return nil
}

// Addr is one side of an NSG rule: address prefixes (CIDRs, service tags, "*") or
// application security groups.
type Addr struct {
	Prefixes []string
	ASGs     []string
}

// PortRange is an inclusive port range.
type PortRange struct{ From, To int }

// Rule is one NSG security rule.
type Rule struct {
	Name      string
	Priority  int
	Inbound   bool
	Allow     bool
	Protocol  string // lower case: tcp, udp, icmp, esp, ah, *
	Src, Dst  Addr
	SrcPorts  []PortRange
	DstPorts  []PortRange
	Default   bool
	Synthetic bool // a default rule the export did not list, added as Azure documents it
	Pos       source.Pos
}

// NSG is a network security group.
type NSG struct {
	ID, Name string
	Rules    []*Rule // custom then default, each direction sorted by priority
	Subnets  []string
	NICs     []string
	Pos      source.Pos
}

// Subnet is a subnet of a virtual network.
type Subnet struct {
	ID, Name   string
	Prefixes   []netip.Prefix
	NSG        string
	RouteTable string
	NATGateway string
	// DefaultOutbound is the subnet's defaultOutboundAccess: nil when the export does
	// not say.
	DefaultOutbound *bool
	VNet            *VNet
	Pos             source.Pos
}

// Peering is a virtual network peering.
type Peering struct {
	Name, State, Remote string
	RemoteSpace         []netip.Prefix
	Pos                 source.Pos
}

// VNet is a virtual network.
type VNet struct {
	ID, Name string
	Space    []netip.Prefix
	Subnets  []*Subnet
	Peerings []*Peering
	Pos      source.Pos
}

// HasGateway reports whether the VNet has a GatewaySubnet, where a virtual network
// gateway (VPN or ExpressRoute) lives.
func (v *VNet) HasGateway() bool {
	for _, s := range v.Subnets {
		if strings.EqualFold(s.Name, "GatewaySubnet") {
			return true
		}
	}
	return false
}

// Next hop types of routes.
const (
	HopVnetLocal  = "VnetLocal"
	HopInternet   = "Internet"
	HopAppliance  = "VirtualAppliance"
	HopGateway    = "VirtualNetworkGateway"
	HopNone       = "None"
	HopPeering    = "VNetPeering" // system routes only
	HopUnknownTag = ""
)

// Route is a user-defined route, or a system route netsim derives.
type Route struct {
	Name   string
	Prefix netip.Prefix
	Tag    string // a service tag as addressPrefix (its prefixes are not exported)
	Hop    string
	HopIP  netip.Addr
	System bool
	Pos    source.Pos
}

// RouteTable is a route table.
type RouteTable struct {
	ID, Name string
	Routes   []*Route
	NoBGP    bool // disableBgpRoutePropagation
	Subnets  []string
	Pos      source.Pos
}

// PublicIP is a public IP address resource.
type PublicIP struct {
	ID, Name string
	IP       netip.Addr
	Config   string // ipConfiguration.id: a NIC's IP configuration or an LB frontend
	SKU      string
	Pos      source.Pos
}

// NATGateway is a NAT gateway.
type NATGateway struct {
	ID, Name  string
	PublicIPs []string
	Prefixes  []string
	Subnets   []string
	State     string
	Pos       source.Pos
}

// Frontend is a load balancer frontend IP configuration.
type Frontend struct {
	ID, Name string
	Private  netip.Addr
	PublicIP string
	Pos      source.Pos
}

// LBRule is a load-balancing rule.
type LBRule struct {
	ID, Name       string
	Frontend       string
	Pools          []string
	Protocol       string // tcp, udp, all
	FrontendPort   int
	BackendPort    int
	Probe          string
	FloatingIP     bool
	NoOutboundSNAT bool
	Pos            source.Pos
}

// NatRule is an inbound NAT rule (a frontend port to one backend IP configuration).
type NatRule struct {
	Name                      string
	Frontend                  string
	Protocol                  string
	FrontendPort, BackendPort int
	Backend                   string // backendIPConfiguration.id
	FloatingIP                bool
	Pos                       source.Pos
}

// Probe is a health probe.
type Probe struct {
	ID, Name, Protocol, Path string
	Port                     int
	Pos                      source.Pos
}

// Pool is a backend address pool.
type Pool struct {
	ID, Name string
	Configs  []string     // backendIPConfigurations: NIC IP configuration IDs
	Addrs    []netip.Addr // loadBalancerBackendAddresses by IP
	Pos      source.Pos
}

// OutboundRule is a load balancer outbound rule: SNAT of a pool's members to frontends.
type OutboundRule struct {
	Name      string
	Frontends []string
	Pool      string
	Pos       source.Pos
}

// LB is a load balancer.
type LB struct {
	ID, Name  string
	SKU       string
	Frontends []*Frontend
	Rules     []*LBRule
	NatRules  []*NatRule
	Probes    []*Probe
	Pools     []*Pool
	Outbound  []*OutboundRule
	Pos       source.Pos
}

// Health is one backend's state in a rule's health (the Load Balancer health per rule
// API: loadBalancerBackendAddresses[]).
type Health struct {
	IP     netip.Addr
	Config string // networkInterfaceIPConfigurationId
	State  string // Up, Down
	Reason string
	Pos    source.Pos
}

// Export is a subscription's network as the exports show it.
type Export struct {
	NICs        []*NIC
	NSGs        map[string]*NSG // by normalized ID
	VNets       []*VNet
	RouteTables map[string]*RouteTable
	PublicIPs   map[string]*PublicIP
	NATs        map[string]*NATGateway
	LBs         []*LB
	// Health is, per load balancer name and rule name, the backends' states; a
	// load balancer without a file is absent.
	Health map[string]map[string][]Health
	// HealthPos is where each load balancer's health file starts.
	HealthPos map[string]source.Pos
	// Has names the export files present (name -> bundle path).
	Has map[string]string
	Dir string

	subnets map[string]*Subnet
	configs map[string]*IPConfig
	// vnetTags is each VNet's VirtualNetwork tag, built by Parse (index.go).
	vnetTags map[*VNet]*vnetTag
	// configAt indexes the IP configurations by address, rtIndex the route tables'
	// routes by destination, both built by Parse (index.go); nil without Parse.
	configAt map[netip.Addr]*IPConfig
	rtIndex  map[*RouteTable]*rtIndex
}

// Parse reads the exports: files maps names below dir (cloud/azure) to their text.
// Errors name the file and line.
func Parse(dir string, files map[string]*source.File) (*Export, error) {
	x := &Export{NSGs: map[string]*NSG{}, RouteTables: map[string]*RouteTable{}, PublicIPs: map[string]*PublicIP{}, NATs: map[string]*NATGateway{},
		Health: map[string]map[string][]Health{}, HealthPos: map[string]source.Pos{}, Has: map[string]string{}, Dir: dir,
		subnets: map[string]*Subnet{}, configs: map[string]*IPConfig{}}
	for _, s := range []struct {
		name  string
		parse func(*source.File) error
	}{{FileNICs, x.parseNICs}, {FileNSGs, x.parseNSGs}, {FileVNets, x.parseVNets}, {FileRoutes, x.parseRouteTables},
		{FilePublicIP, x.parsePublicIPs}, {FileNATs, x.parseNATs}, {FileLBs, x.parseLBs}} {
		f := files[s.name]
		if f == nil {
			continue
		}
		x.Has[s.name] = f.Name
		if err := s.parse(f); err != nil {
			return nil, err
		}
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if path.Dir(n) != DirHealth || path.Ext(n) != ".json" {
			continue
		}
		x.Has[DirHealth] = path.Join(dir, DirHealth)
		if err := x.parseHealth(strings.TrimSuffix(path.Base(n), ".json"), files[n]); err != nil {
			return nil, err
		}
	}
	x.indexVNetTags()
	x.indexConfigs()
	x.indexRouteTables()
	return x, nil
}

func parseAddr(v *node, key, s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, v.errf("%s %q is not an IP address", key, s)
	}
	return a, nil
}

func parsePrefixes(v *node, key string, ss []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range ss {
		p, err := parseCIDR(s)
		if err != nil {
			return nil, v.errf("%s %q is not a CIDR", key, s)
		}
		out = append(out, p)
	}
	return out, nil
}

// parseCIDR reads a CIDR, or a bare address as a host prefix.
func parseCIDR(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return p.Masked(), nil
}

// one reads several fields of an element, stopping at the first error.
type reader struct {
	n   *node
	err error
}

func (r *reader) str(k string) string {
	if r.err != nil {
		return ""
	}
	s, err := r.n.str(k)
	r.err = err
	return s
}

func (r *reader) ref(k string) string {
	if r.err != nil {
		return ""
	}
	s, err := r.n.ref(k)
	r.err = err
	return s
}

func (r *reader) refs(k string) []string {
	if r.err != nil {
		return nil
	}
	s, err := r.n.refs(k)
	r.err = err
	return s
}

func (r *reader) strs(k string) []string {
	if r.err != nil {
		return nil
	}
	s, err := r.n.strs(k)
	r.err = err
	return s
}

func (r *reader) flag(k string) bool {
	if r.err != nil {
		return false
	}
	b, err := r.n.flag(k)
	r.err = err
	return b
}

func (r *reader) num(k string) (int, bool) {
	if r.err != nil {
		return 0, false
	}
	x, ok, err := r.n.num(k)
	r.err = err
	return x, ok
}

func (r *reader) objs(k string) []*node {
	if r.err != nil {
		return nil
	}
	l, err := r.n.objs(k)
	r.err = err
	return l
}

func (r *reader) object(k string) *node {
	if r.err != nil {
		return nil
	}
	o, err := r.n.object(k)
	r.err = err
	return o
}

// need fails when a required field is empty.
func (r *reader) need(v, what string) {
	if r.err == nil && v == "" {
		r.err = r.n.errf("%s without %s", what, "a name or id")
	}
}

func (x *Export) parseNICs(f *source.File) error {
	els, err := elements(f, "az network nic list")
	if err != nil {
		return err
	}
	for _, e := range els {
		r := &reader{n: e}
		nic := &NIC{ID: r.str("id"), Name: r.str("name"), VM: r.ref("virtualMachine"), NSG: r.ref("networkSecurityGroup"), Pos: e.pos()}
		// az (aaz) prints enableIPForwarding; the case-insensitive lookup also takes
		// enableIpForwarding from older releases.
		nic.IPForwarding = r.flag("enableIPForwarding")
		r.need(nic.Name, "a network interface")
		for _, c := range r.objs("ipConfigurations") {
			cr := &reader{n: c}
			ic := &IPConfig{ID: cr.str("id"), Name: cr.str("name"), Primary: cr.flag("primary"), Subnet: cr.ref("subnet"), PublicIP: cr.ref("publicIPAddress"),
				ASGs: cr.refs("applicationSecurityGroups"), Pools: cr.refs("loadBalancerBackendAddressPools"), NIC: nic, Pos: c.pos()}
			ip := cr.str("privateIPAddress")
			if cr.err != nil {
				return cr.err
			}
			if ip != "" {
				a, err := parseAddr(c, "privateIPAddress", ip)
				if err != nil {
					return err
				}
				ic.IP = a
			}
			nic.IPConfigs = append(nic.IPConfigs, ic)
			if ic.ID != "" {
				x.configs[normID(ic.ID)] = ic
			}
		}
		if r.err != nil {
			return r.err
		}
		x.NICs = append(x.NICs, nic)
	}
	return nil
}

// parsePorts reads portRange/portRanges ("*", "80", "30000-32767").
func parsePorts(v *node, one string, many []string) ([]PortRange, error) {
	all := many
	if one != "" {
		all = append([]string{one}, many...)
	}
	var out []PortRange
	for _, s := range all {
		s = strings.TrimSpace(s)
		if s == "*" {
			out = append(out, PortRange{0, 65535})
			continue
		}
		a, b, ok := strings.Cut(s, "-")
		if !ok {
			b = a
		}
		from, err1 := atoiPort(a)
		to, err2 := atoiPort(b)
		if !err1 || !err2 || from > to {
			return nil, v.errf("port range %q is not a port, a range or *", s)
		}
		out = append(out, PortRange{from, to})
	}
	if len(out) == 0 {
		out = []PortRange{{0, 65535}}
	}
	return out, nil
}

func atoiPort(s string) (int, bool) {
	if s == "" || len(s) > 5 {
		return 0, false
	}
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, n <= 65535
}

func (x *Export) parseRule(e *node, def bool) (*Rule, error) {
	r := &reader{n: e}
	ru := &Rule{Name: r.str("name"), Default: def, Pos: e.pos()}
	prio, ok := r.num("priority")
	dir, acc, proto := r.str("direction"), r.str("access"), r.str("protocol")
	srcP, srcPs := r.str("sourceAddressPrefix"), r.strs("sourceAddressPrefixes")
	dstP, dstPs := r.str("destinationAddressPrefix"), r.strs("destinationAddressPrefixes")
	srcASG, dstASG := r.refs("sourceApplicationSecurityGroups"), r.refs("destinationApplicationSecurityGroups")
	sp, sps := r.str("sourcePortRange"), r.strs("sourcePortRanges")
	dp, dps := r.str("destinationPortRange"), r.strs("destinationPortRanges")
	if r.err != nil {
		return nil, r.err
	}
	if ru.Name == "" {
		return nil, e.errf("a security rule without a name")
	}
	if !ok {
		return nil, e.errf("security rule %s has no priority", ru.Name)
	}
	// Custom rules take 100-4096; default rules sit at 65000-65500.
	if (!def && (prio < 100 || prio > 4096)) || (def && (prio < 100 || prio > 65500)) {
		return nil, e.errf("security rule %s: priority %d is not in 100-4096", ru.Name, prio)
	}
	ru.Priority = prio
	switch strings.ToLower(dir) {
	case "inbound":
		ru.Inbound = true
	case "outbound":
	default:
		return nil, e.errf("security rule %s: direction %q is neither Inbound nor Outbound", ru.Name, dir)
	}
	switch strings.ToLower(acc) {
	case "allow":
		ru.Allow = true
	case "deny":
	default:
		return nil, e.errf("security rule %s: access %q is neither Allow nor Deny", ru.Name, acc)
	}
	ru.Protocol = strings.ToLower(proto)
	switch ru.Protocol {
	case "tcp", "udp", "icmp", "esp", "ah", "*":
	case "":
		ru.Protocol = "*"
	default:
		return nil, e.errf("security rule %s: protocol %q is not Tcp, Udp, Icmp, Esp, Ah or *", ru.Name, proto)
	}
	ru.Src = Addr{Prefixes: joinPrefixes(srcP, srcPs), ASGs: srcASG}
	ru.Dst = Addr{Prefixes: joinPrefixes(dstP, dstPs), ASGs: dstASG}
	for _, side := range []Addr{ru.Src, ru.Dst} {
		for _, p := range side.Prefixes {
			if isTag(p) {
				continue
			}
			if _, err := parseCIDR(p); err != nil {
				return nil, e.errf("security rule %s: address prefix %q is neither a CIDR nor a service tag", ru.Name, p)
			}
		}
	}
	var err error
	if ru.SrcPorts, err = parsePorts(e, sp, sps); err != nil {
		return nil, err
	}
	if ru.DstPorts, err = parsePorts(e, dp, dps); err != nil {
		return nil, err
	}
	// A side with neither prefixes nor application security groups would match no
	// address, and a Deny rule read so would silently let everything by.
	for _, side := range []struct {
		a    Addr
		name string
	}{{ru.Src, "source"}, {ru.Dst, "destination"}} {
		if len(side.a.Prefixes) == 0 && len(side.a.ASGs) == 0 {
			return nil, e.errf("security rule %s has no %sAddressPrefix, %sAddressPrefixes or %sApplicationSecurityGroups", ru.Name, side.name, side.name, side.name)
		}
	}
	return ru, nil
}

func joinPrefixes(one string, many []string) []string {
	if one != "" {
		return append([]string{one}, many...)
	}
	return many
}

// isTag reports whether a prefix is a service tag (or "*"), not an address.
func isTag(s string) bool {
	if s == "*" {
		return true
	}
	_, err := parseCIDR(s)
	if err == nil {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return s != ""
}

// defaultRules are the rules every NSG has (learn.microsoft.com, "Network security
// groups", Default security rules); used when an export does not list them.
var defaultRules = []Rule{
	{Name: "AllowVnetInBound", Priority: 65000, Inbound: true, Allow: true, Protocol: "*", Src: Addr{Prefixes: []string{"VirtualNetwork"}}, Dst: Addr{Prefixes: []string{"VirtualNetwork"}}},
	{Name: "AllowAzureLoadBalancerInBound", Priority: 65001, Inbound: true, Allow: true, Protocol: "*", Src: Addr{Prefixes: []string{"AzureLoadBalancer"}}, Dst: Addr{Prefixes: []string{"*"}}},
	{Name: "DenyAllInBound", Priority: 65500, Inbound: true, Protocol: "*", Src: Addr{Prefixes: []string{"*"}}, Dst: Addr{Prefixes: []string{"*"}}},
	{Name: "AllowVnetOutBound", Priority: 65000, Allow: true, Protocol: "*", Src: Addr{Prefixes: []string{"VirtualNetwork"}}, Dst: Addr{Prefixes: []string{"VirtualNetwork"}}},
	{Name: "AllowInternetOutBound", Priority: 65001, Allow: true, Protocol: "*", Src: Addr{Prefixes: []string{"*"}}, Dst: Addr{Prefixes: []string{"Internet"}}},
	{Name: "DenyAllOutBound", Priority: 65500, Protocol: "*", Src: Addr{Prefixes: []string{"*"}}, Dst: Addr{Prefixes: []string{"*"}}},
}

func (x *Export) parseNSGs(f *source.File) error {
	els, err := elements(f, "az network nsg list")
	if err != nil {
		return err
	}
	for _, e := range els {
		r := &reader{n: e}
		g := &NSG{ID: r.str("id"), Name: r.str("name"), Subnets: r.refs("subnets"), NICs: r.refs("networkInterfaces"), Pos: e.pos()}
		r.need(g.Name, "a network security group")
		custom, defs := r.objs("securityRules"), r.objs("defaultSecurityRules")
		if r.err != nil {
			return r.err
		}
		for _, c := range custom {
			ru, err := x.parseRule(c, false)
			if err != nil {
				return err
			}
			g.Rules = append(g.Rules, ru)
		}
		if len(defs) == 0 {
			for i := range defaultRules {
				d := defaultRules[i]
				d.Default, d.Synthetic, d.Pos = true, true, g.Pos
				d.SrcPorts, d.DstPorts = []PortRange{{0, 65535}}, []PortRange{{0, 65535}}
				g.Rules = append(g.Rules, &d)
			}
		}
		for _, c := range defs {
			ru, err := x.parseRule(c, true)
			if err != nil {
				return err
			}
			g.Rules = append(g.Rules, ru)
		}
		sortRules(g)
		if g.ID == "" {
			g.ID = g.Name
		}
		x.NSGs[normID(g.ID)] = g
	}
	return nil
}

// sortRules orders an NSG's rules by priority (directions are apart by Inbound).
func sortRules(g *NSG) {
	sort.SliceStable(g.Rules, func(i, j int) bool { return g.Rules[i].Priority < g.Rules[j].Priority })
}

func (x *Export) parseVNets(f *source.File) error {
	els, err := elements(f, "az network vnet list")
	if err != nil {
		return err
	}
	for _, e := range els {
		r := &reader{n: e}
		v := &VNet{ID: r.str("id"), Name: r.str("name"), Pos: e.pos()}
		r.need(v.Name, "a virtual network")
		space := r.object("addressSpace")
		subs, peers := r.objs("subnets"), r.objs("virtualNetworkPeerings")
		if r.err != nil {
			return r.err
		}
		if space != nil {
			ss, err := space.strs("addressPrefixes")
			if err != nil {
				return err
			}
			if v.Space, err = parsePrefixes(space, "addressPrefixes", ss); err != nil {
				return err
			}
		}
		for _, s := range subs {
			sr := &reader{n: s}
			sn := &Subnet{ID: sr.str("id"), Name: sr.str("name"), NSG: sr.ref("networkSecurityGroup"), RouteTable: sr.ref("routeTable"), NATGateway: sr.ref("natGateway"), VNet: v, Pos: s.pos()}
			ps := joinPrefixes(sr.str("addressPrefix"), sr.strs("addressPrefixes"))
			if s.get("defaultOutboundAccess") != nil {
				b := sr.flag("defaultOutboundAccess")
				sn.DefaultOutbound = &b
			}
			if sr.err != nil {
				return sr.err
			}
			if sn.Prefixes, err = parsePrefixes(s, "addressPrefix", ps); err != nil {
				return err
			}
			v.Subnets = append(v.Subnets, sn)
			if sn.ID != "" {
				x.subnets[normID(sn.ID)] = sn
			}
		}
		for _, p := range peers {
			pr := &reader{n: p}
			pe := &Peering{Name: pr.str("name"), State: pr.str("peeringState"), Remote: pr.ref("remoteVirtualNetwork"), Pos: p.pos()}
			rs := pr.object("remoteAddressSpace")
			if pr.err != nil {
				return pr.err
			}
			if rs != nil {
				ss, err := rs.strs("addressPrefixes")
				if err != nil {
					return err
				}
				if pe.RemoteSpace, err = parsePrefixes(rs, "addressPrefixes", ss); err != nil {
					return err
				}
			}
			v.Peerings = append(v.Peerings, pe)
		}
		x.VNets = append(x.VNets, v)
	}
	return nil
}

func (x *Export) parseRouteTables(f *source.File) error {
	els, err := elements(f, "az network route-table list")
	if err != nil {
		return err
	}
	for _, e := range els {
		r := &reader{n: e}
		rt := &RouteTable{ID: r.str("id"), Name: r.str("name"), NoBGP: r.flag("disableBgpRoutePropagation"), Subnets: r.refs("subnets"), Pos: e.pos()}
		r.need(rt.Name, "a route table")
		routes := r.objs("routes")
		if r.err != nil {
			return r.err
		}
		for _, c := range routes {
			cr := &reader{n: c}
			ro := &Route{Name: cr.str("name"), Pos: c.pos()}
			prefix, hop, hopIP := cr.str("addressPrefix"), cr.str("nextHopType"), cr.str("nextHopIpAddress")
			if cr.err != nil {
				return cr.err
			}
			if p, err := parseCIDR(prefix); err == nil {
				ro.Prefix = p
			} else if isTag(prefix) && prefix != "*" {
				ro.Tag = prefix
			} else {
				return c.errf("route %s: addressPrefix %q is neither a CIDR nor a service tag", ro.Name, prefix)
			}
			switch strings.ToLower(hop) {
			case "vnetlocal":
				ro.Hop = HopVnetLocal
			case "internet":
				ro.Hop = HopInternet
			case "virtualappliance":
				ro.Hop = HopAppliance
				a, err := parseAddr(c, "nextHopIpAddress", hopIP)
				if err != nil {
					return err
				}
				ro.HopIP = a
			case "virtualnetworkgateway":
				ro.Hop = HopGateway
			case "none":
				ro.Hop = HopNone
			default:
				return c.errf("route %s: nextHopType %q is not VirtualAppliance, VnetLocal, Internet, VirtualNetworkGateway or None", ro.Name, hop)
			}
			rt.Routes = append(rt.Routes, ro)
		}
		if rt.ID == "" {
			rt.ID = rt.Name
		}
		x.RouteTables[normID(rt.ID)] = rt
	}
	return nil
}

func (x *Export) parsePublicIPs(f *source.File) error {
	els, err := elements(f, "az network public-ip list")
	if err != nil {
		return err
	}
	for _, e := range els {
		r := &reader{n: e}
		p := &PublicIP{ID: r.str("id"), Name: r.str("name"), Config: r.ref("ipConfiguration"), Pos: e.pos()}
		r.need(p.Name, "a public IP")
		ip := r.str("ipAddress")
		if sku := r.object("sku"); sku != nil {
			p.SKU, r.err = sku.str("name")
		}
		if r.err != nil {
			return r.err
		}
		if ip != "" {
			if p.IP, err = parseAddr(e, "ipAddress", ip); err != nil {
				return err
			}
		}
		if p.ID == "" {
			p.ID = p.Name
		}
		x.PublicIPs[normID(p.ID)] = p
	}
	return nil
}

func (x *Export) parseNATs(f *source.File) error {
	els, err := elements(f, "az network nat gateway list")
	if err != nil {
		return err
	}
	for _, e := range els {
		r := &reader{n: e}
		n := &NATGateway{ID: r.str("id"), Name: r.str("name"), PublicIPs: r.refs("publicIpAddresses"), Prefixes: r.refs("publicIpPrefixes"),
			Subnets: r.refs("subnets"), State: r.str("provisioningState"), Pos: e.pos()}
		r.need(n.Name, "a NAT gateway")
		if r.err != nil {
			return r.err
		}
		if n.ID == "" {
			n.ID = n.Name
		}
		x.NATs[normID(n.ID)] = n
	}
	return nil
}

func lbProto(v *node, name, s string) (string, error) {
	switch p := strings.ToLower(s); p {
	case "tcp", "udp", "all":
		return p, nil
	}
	return "", v.errf("%s: protocol %q is not Tcp, Udp or All", name, s)
}

func (x *Export) parseLBs(f *source.File) error {
	els, err := elements(f, "az network lb list")
	if err != nil {
		return err
	}
	for _, e := range els {
		r := &reader{n: e}
		lb := &LB{ID: r.str("id"), Name: r.str("name"), Pos: e.pos()}
		r.need(lb.Name, "a load balancer")
		if sku := r.object("sku"); sku != nil && r.err == nil {
			lb.SKU, r.err = sku.str("name")
		}
		fes, rules, nats, probes, pools, outs := r.objs("frontendIPConfigurations"), r.objs("loadBalancingRules"), r.objs("inboundNatRules"), r.objs("probes"), r.objs("backendAddressPools"), r.objs("outboundRules")
		if r.err != nil {
			return r.err
		}
		for _, c := range fes {
			cr := &reader{n: c}
			fe := &Frontend{ID: cr.str("id"), Name: cr.str("name"), PublicIP: cr.ref("publicIPAddress"), Pos: c.pos()}
			ip := cr.str("privateIPAddress")
			if cr.err != nil {
				return cr.err
			}
			if ip != "" {
				if fe.Private, err = parseAddr(c, "privateIPAddress", ip); err != nil {
					return err
				}
			}
			lb.Frontends = append(lb.Frontends, fe)
		}
		for _, c := range rules {
			cr := &reader{n: c}
			ru := &LBRule{ID: cr.str("id"), Name: cr.str("name"), Frontend: cr.ref("frontendIPConfiguration"), Probe: cr.ref("probe"),
				FloatingIP: cr.flag("enableFloatingIP"), NoOutboundSNAT: cr.flag("disableOutboundSnat"), Pos: c.pos()}
			if p := cr.ref("backendAddressPool"); p != "" {
				ru.Pools = append(ru.Pools, p)
			}
			ru.Pools = append(ru.Pools, cr.refs("backendAddressPools")...)
			proto := cr.str("protocol")
			fp, _ := cr.num("frontendPort")
			bp, _ := cr.num("backendPort")
			if cr.err != nil {
				return cr.err
			}
			if ru.Protocol, err = lbProto(c, "load-balancing rule "+ru.Name, proto); err != nil {
				return err
			}
			if fp < 0 || fp > 65535 || bp < 0 || bp > 65535 {
				return c.errf("load-balancing rule %s: ports %d/%d are not 0-65535", ru.Name, fp, bp)
			}
			ru.FrontendPort, ru.BackendPort = fp, bp
			lb.Rules = append(lb.Rules, ru)
		}
		for _, c := range nats {
			cr := &reader{n: c}
			nr := &NatRule{Name: cr.str("name"), Frontend: cr.ref("frontendIPConfiguration"), Backend: cr.ref("backendIPConfiguration"), FloatingIP: cr.flag("enableFloatingIP"), Pos: c.pos()}
			proto := cr.str("protocol")
			fp, _ := cr.num("frontendPort")
			bp, _ := cr.num("backendPort")
			if cr.err != nil {
				return cr.err
			}
			if nr.Protocol, err = lbProto(c, "inbound NAT rule "+nr.Name, proto); err != nil {
				return err
			}
			nr.FrontendPort, nr.BackendPort = fp, bp
			lb.NatRules = append(lb.NatRules, nr)
		}
		for _, c := range probes {
			cr := &reader{n: c}
			pr := &Probe{ID: cr.str("id"), Name: cr.str("name"), Protocol: cr.str("protocol"), Path: cr.str("requestPath"), Pos: c.pos()}
			pr.Port, _ = cr.num("port")
			if cr.err != nil {
				return cr.err
			}
			lb.Probes = append(lb.Probes, pr)
		}
		for _, c := range pools {
			cr := &reader{n: c}
			po := &Pool{ID: cr.str("id"), Name: cr.str("name"), Configs: cr.refs("backendIPConfigurations"), Pos: c.pos()}
			addrs := cr.objs("loadBalancerBackendAddresses")
			if cr.err != nil {
				return cr.err
			}
			for _, a := range addrs {
				ar := &reader{n: a}
				ip, cfg := ar.str("ipAddress"), ar.ref("networkInterfaceIPConfiguration")
				if ar.err != nil {
					return ar.err
				}
				if ip != "" {
					ad, err := parseAddr(a, "ipAddress", ip)
					if err != nil {
						return err
					}
					po.Addrs = append(po.Addrs, ad)
				} else if cfg != "" {
					po.Configs = append(po.Configs, cfg)
				}
			}
			lb.Pools = append(lb.Pools, po)
		}
		for _, c := range outs {
			cr := &reader{n: c}
			o := &OutboundRule{Name: cr.str("name"), Frontends: cr.refs("frontendIPConfigurations"), Pool: cr.ref("backendAddressPool"), Pos: c.pos()}
			if cr.err != nil {
				return cr.err
			}
			lb.Outbound = append(lb.Outbound, o)
		}
		x.LBs = append(x.LBs, lb)
	}
	return nil
}

// parseHealth reads lb-backend-health/<lb>.json: an object keyed by load-balancing rule
// name, each value the health-per-rule API's result ({"up", "down",
// "loadBalancerBackendAddresses": [{"ipAddress", "networkInterfaceIPConfigurationId",
// "state", "reason"}]}).
func (x *Export) parseHealth(lb string, f *source.File) error {
	docs, err := parseTree(f)
	if err != nil {
		return err
	}
	if len(docs) != 1 || docs[0].k != kObj {
		pos := f.PosAt(0)
		if len(docs) > 0 {
			pos = docs[0].pos()
		}
		return source.Errorf(pos, "want one JSON object keyed by load-balancing rule name, each the rule's health (loadBalancingRules/RULE/health)")
	}
	d := docs[0]
	x.HealthPos[lb] = d.pos()
	m := map[string][]Health{}
	for _, rule := range d.keys {
		v := d.obj[rule]
		if v.k != kObj {
			return v.errf("rule %s: want the health object, got %s", rule, v.k)
		}
		addrs, err := v.objs("loadBalancerBackendAddresses")
		if err != nil {
			return err
		}
		hs := []Health{}
		for _, a := range addrs {
			r := &reader{n: a}
			h := Health{State: r.str("state"), Reason: r.str("reason"), Pos: a.pos()}
			ip := r.str("ipAddress")
			// The API documents networkInterfaceIPConfigurationId as a string; the .NET
			// SDK models it as a reference object. Take both.
			if c := a.get("networkInterfaceIPConfigurationId"); c != nil && c.k == kObj {
				h.Config = r.ref("networkInterfaceIPConfigurationId")
			} else {
				h.Config = r.str("networkInterfaceIPConfigurationId")
			}
			if r.err != nil {
				return r.err
			}
			if ip != "" {
				if h.IP, err = parseAddr(a, "ipAddress", ip); err != nil {
					return err
				}
			}
			if !h.IP.IsValid() && h.Config == "" {
				return a.errf("rule %s: a backend address with neither ipAddress nor networkInterfaceIPConfigurationId", rule)
			}
			hs = append(hs, h)
		}
		m[rule] = hs
	}
	x.Health[lb] = m
	return nil
}

// NICWith is the NIC an IP configuration of which holds a, else nil.
func (x *Export) NICWith(a netip.Addr) *NIC {
	if c := x.ConfigWith(a); c != nil {
		return c.NIC
	}
	return nil
}

// ConfigWith is the IP configuration holding a, else nil.
func (x *Export) ConfigWith(a netip.Addr) *IPConfig {
	if x.configAt != nil {
		return x.configAt[a]
	}
	for _, n := range x.NICs {
		if c := n.Config(a); c != nil {
			return c
		}
	}
	return nil
}

// Config is the IP configuration with an ID.
func (x *Export) Config(id string) *IPConfig { return x.configs[normID(id)] }

// Subnet is the subnet with an ID.
func (x *Export) Subnet(id string) *Subnet { return x.subnets[normID(id)] }

// NSG is the network security group with an ID.
func (x *Export) NSG(id string) *NSG { return x.NSGs[normID(id)] }
