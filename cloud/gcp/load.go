// Package gcp reads a Google Cloud VPC network from the bundle's cloud/gcp/ exports
// (`gcloud compute ... list --format=json`) and judges packets with its firewall rules
// and routes, for the walk's cloud hop (cloud.Provider).
package gcp

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/netip"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/netsim/netsim/cloud"
	"github.com/netsim/netsim/model/source"
)

// The export files: cloud/gcp/<file>, each the JSON list gcloud prints.
const (
	FileInstances = "instances.json"      // gcloud compute instances list --format=json
	FileFirewalls = "firewall-rules.json" // gcloud compute firewall-rules list --format=json
	FileRoutes    = "routes.json"         // gcloud compute routes list --format=json
	FileNetworks  = "networks.json"       // gcloud compute networks list --format=json (optional)
	FileSubnets   = "subnets.json"        // gcloud compute networks subnets list --format=json (optional)
	// Cloud NAT and load balancers (see nat.go and lb.go).
	FileRouters         = "routers.json"           // gcloud compute routers list --format=json
	DirNATMapping       = "nat-mapping"            // nat-mapping/ROUTER.json: gcloud compute routers get-nat-mapping-info ROUTER --format=json (optional)
	FileForwardingRules = "forwarding-rules.json"  // gcloud compute forwarding-rules list --format=json
	FileTargetPools     = "target-pools.json"      // gcloud compute target-pools list --format=json
	DirTargetPoolHealth = "target-pool-health"     // target-pool-health/POOL.json: gcloud compute target-pools get-health POOL --format=json
	FileBackendServices = "backend-services.json"  // gcloud compute backend-services list --format=json
	DirBackendSvcHealth = "backend-service-health" // backend-service-health/NAME.json: gcloud compute backend-services get-health NAME --format=json
	FileHealthChecks    = "health-checks.json"     // gcloud compute health-checks list --format=json (optional)
)

// Subnet is a subnetwork: its primary range and secondary ranges (GKE's pod and
// Service ranges), each with an implied local route.
type Subnet struct {
	Name, Network, Region string
	Ranges                []netip.Prefix // primary first
	RangeNames            []string       // parallel to Ranges: "" for the primary, else the secondary range's name
	Pos                   source.Pos
}

// Instance is a VM: its network tags, service accounts and interfaces.
type Instance struct {
	Name, Zone   string
	Tags         []string
	SAs          []string
	CanIPForward bool
	NICs         []*NIC
	Pos          source.Pos
}

// NIC is one network interface of an instance.
type NIC struct {
	Name, Network, Subnetwork string
	IP                        netip.Addr
	Aliases                   []netip.Prefix // aliasIpRanges (GKE VPC-native pod ranges)
	// AliasRange names the subnetwork's secondary range an alias range comes from
	// (subnetworkRangeName); an alias without one is from the primary range.
	AliasRange map[netip.Prefix]string
	// Region is the subnetwork's region (from its URL), for Cloud NAT, which is regional.
	Region string
	NatIP  netip.Addr // accessConfigs[].natIP, the external address
	Inst   *Instance
	Pos    source.Pos
}

// Holds reports whether a is the interface's primary internal IP or in its alias ranges.
func (n *NIC) Holds(a netip.Addr) bool {
	if n.IP == a {
		return true
	}
	for _, p := range n.Aliases {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// PortRange is an inclusive port range.
type PortRange struct{ From, To uint16 }

// Match is one allowed or denied entry: a protocol ("all", "tcp", a number) and ports
// (none means all).
type Match struct {
	Proto string
	Ports []PortRange
}

// Firewall is one VPC firewall rule.
type Firewall struct {
	Name, Network string
	Ingress       bool // direction INGRESS (else EGRESS)
	Priority      int
	Deny          bool // denied (else allowed)
	Disabled      bool
	Matches       []Match
	SrcRanges     []netip.Prefix
	DstRanges     []netip.Prefix
	SrcTags       []string
	SrcSAs        []string
	TargetTags    []string
	TargetSAs     []string
	Pos           source.Pos
}

// Hop kinds of a route.
const (
	HopGateway  = "gateway"
	HopInstance = "instance"
	HopIP       = "ip"
	HopILB      = "ilb"
	HopNetwork  = "network" // a subnet route of the route's own network
	HopPeering  = "peering"
	HopVPN      = "vpn"
	HopLocal    = "local" // implied from an instance's interface (no subnet route exported)
)

// Route is one VPC route.
type Route struct {
	Name, Network string
	Dest          netip.Prefix
	Priority      int
	Tags          []string
	Kind, Hop     string // the next hop's kind and its value (a URL's last element, or an IP)
	Pos           source.Pos
}

// Export is a GCP project's network as the exports show it, parsed once.
type Export struct {
	Instances []*Instance
	Firewalls []*Firewall
	Routes    []*Route
	Networks  map[string]source.Pos
	Subnets   []*Subnet
	Routers   []*Router
	// NATMappings are nat-mapping/ROUTER.json by router name.
	NATMappings map[string][]NATMapping
	Rules       []*ForwardingRule
	Pools       map[string]*TargetPool
	// PoolHealth and ServiceHealth are target-pool-health/POOL.json and
	// backend-service-health/NAME.json by pool or service name.
	PoolHealth    map[string][]BackendHealth
	Services      map[string]*BackendService
	ServiceHealth map[string][]BackendHealth
	HealthChecks  map[string]*HealthCheck
	// Has names the export files present (name -> bundle path): a check whose file is
	// missing is unknown, never allowed.
	Has map[string]string
	Dir string

	idx *index // lookups built by Parse (index.go)
}

// Parse reads the exports: files maps names below dir (cloud/gcp) to their text; names
// it does not know are ignored. Errors name the file and line.
func Parse(dir string, files map[string]*source.File) (*Export, error) {
	x := &Export{Networks: map[string]source.Pos{}, Has: map[string]string{}, Dir: dir,
		NATMappings: map[string][]NATMapping{}, Pools: map[string]*TargetPool{}, PoolHealth: map[string][]BackendHealth{},
		Services: map[string]*BackendService{}, ServiceHealth: map[string][]BackendHealth{}, HealthChecks: map[string]*HealthCheck{}}
	for _, s := range []struct {
		name  string
		parse func(*source.File) error
	}{{FileInstances, x.parseInstances}, {FileFirewalls, x.parseFirewalls}, {FileRoutes, x.parseRoutes}, {FileNetworks, x.parseNetworks}, {FileSubnets, x.parseSubnets},
		{FileRouters, x.parseRouters}, {FileForwardingRules, x.parseForwardingRules}, {FileTargetPools, x.parseTargetPools},
		{FileBackendServices, x.parseBackendServices}, {FileHealthChecks, x.parseHealthChecks}} {
		f := files[s.name]
		if f == nil {
			continue
		}
		x.Has[s.name] = f.Name
		if err := s.parse(f); err != nil {
			return nil, err
		}
	}
	if err := x.parseDirs(dir, files); err != nil {
		return nil, err
	}
	sort.SliceStable(x.Firewalls, func(i, j int) bool { return x.Firewalls[i].Priority < x.Firewalls[j].Priority })
	x.buildIndex()
	return x, nil
}

// element is one element of the export's top-level list, with its byte offset.
type element struct {
	raw json.RawMessage
	off int64
}

// listOf reads the top-level JSON list gcloud prints (several back to back read as one).
func listOf(f *source.File) ([]element, error) {
	var out []element
	dec := json.NewDecoder(bytes.NewReader(f.Data))
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, jsonErr(f, dec.InputOffset(), err)
		}
		if d, ok := tok.(json.Delim); !ok || d != '[' {
			return nil, source.Errorf(f.PosAt(dec.InputOffset()-1), "want the JSON list `gcloud compute ... list --format=json` prints")
		}
		for dec.More() {
			off := cloud.SkipJSONSpace(f.Data, dec.InputOffset())
			var el json.RawMessage
			if err := dec.Decode(&el); err != nil {
				return nil, jsonErr(f, dec.InputOffset(), err)
			}
			out = append(out, element{raw: el, off: off})
		}
		if _, err := dec.Token(); err != nil {
			return nil, jsonErr(f, dec.InputOffset(), err)
		}
	}
}

func jsonErr(f *source.File, off int64, err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF // a file that ends where a value should start
	}
	return cloud.JSONError(f, 0, off, err)
}

// decode decodes one element, with type errors at their line.
func decode(f *source.File, e element, v any) error {
	if err := json.Unmarshal(e.raw, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return source.Errorf(f.PosAt(e.off+te.Offset), "%s: want %s, got %s", te.Field, te.Type, te.Value)
		}
		return jsonErr(f, e.off, err)
	}
	return nil
}

// regionOf is the region a URL names (".../regions/europe-west1/subnetworks/x"), else "".
func regionOf(url string) string {
	parts := strings.Split(url, "/")
	for i := 0; i+1 < len(parts); i++ {
		if parts[i] == "regions" {
			return parts[i+1]
		}
	}
	return ""
}

// last is a URL's last element (".../global/networks/default" -> "default").
func last(s string) string { return path.Base(strings.TrimRight(s, "/")) }

func (x *Export) parseInstances(f *source.File) error {
	els, err := listOf(f)
	if err != nil {
		return err
	}
	for _, e := range els {
		var v struct {
			Name         string `json:"name"`
			Zone         string `json:"zone"`
			CanIPForward bool   `json:"canIpForward"`
			Tags         struct {
				Items []string `json:"items"`
			} `json:"tags"`
			ServiceAccounts []struct {
				Email string `json:"email"`
			} `json:"serviceAccounts"`
			NICs []struct {
				Name          string `json:"name"`
				Network       string `json:"network"`
				Subnetwork    string `json:"subnetwork"`
				NetworkIP     string `json:"networkIP"`
				AliasIPRanges []struct {
					IPCidrRange         string `json:"ipCidrRange"`
					SubnetworkRangeName string `json:"subnetworkRangeName"`
				} `json:"aliasIpRanges"`
				AccessConfigs []struct {
					NatIP string `json:"natIP"`
				} `json:"accessConfigs"`
			} `json:"networkInterfaces"`
		}
		if err := decode(f, e, &v); err != nil {
			return err
		}
		pos := f.PosAt(e.off)
		if v.Name == "" {
			return source.Errorf(pos, "an instance without a name")
		}
		in := &Instance{Name: v.Name, Zone: last(v.Zone), Tags: v.Tags.Items, CanIPForward: v.CanIPForward, Pos: pos}
		for _, sa := range v.ServiceAccounts {
			in.SAs = append(in.SAs, sa.Email)
		}
		for i, n := range v.NICs {
			nic := &NIC{Name: n.Name, Network: last(n.Network), Subnetwork: last(n.Subnetwork), Region: regionOf(n.Subnetwork), Inst: in, Pos: pos}
			if nic.Name == "" {
				nic.Name = "nic" + strconv.Itoa(i)
			}
			if n.NetworkIP != "" {
				a, err := netip.ParseAddr(n.NetworkIP)
				if err != nil {
					return source.Errorf(pos, "instance %s: networkIP %q is not an IP address", v.Name, n.NetworkIP)
				}
				nic.IP = a
			}
			for _, r := range n.AliasIPRanges {
				p, err := parsePrefix(r.IPCidrRange)
				if err != nil {
					return source.Errorf(pos, "instance %s: aliasIpRanges %q: %v", v.Name, r.IPCidrRange, err)
				}
				nic.Aliases = append(nic.Aliases, p)
				if r.SubnetworkRangeName != "" {
					if nic.AliasRange == nil {
						nic.AliasRange = map[netip.Prefix]string{}
					}
					nic.AliasRange[p] = r.SubnetworkRangeName
				}
			}
			for _, ac := range n.AccessConfigs {
				if ac.NatIP == "" {
					continue
				}
				a, err := netip.ParseAddr(ac.NatIP)
				if err != nil {
					return source.Errorf(pos, "instance %s: natIP %q is not an IP address", v.Name, ac.NatIP)
				}
				nic.NatIP = a
			}
			in.NICs = append(in.NICs, nic)
		}
		x.Instances = append(x.Instances, in)
	}
	return nil
}

// parsePrefix reads a CIDR or a bare address (gcloud prints "10.4.0.5/32" and, for alias
// ranges, sometimes "/24" relative forms are not exported, so a bare address is a /32).
func parsePrefix(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, errors.New("not a CIDR")
		}
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, errors.New("not a CIDR")
	}
	return p.Masked(), nil
}

func prefixes(f *source.File, pos source.Pos, what, name string, ss []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range ss {
		p, err := parsePrefix(s)
		if err != nil {
			return nil, source.Errorf(pos, "%s %s: %q is not a CIDR", what, name, s)
		}
		out = append(out, p)
	}
	return out, nil
}

func (x *Export) parseFirewalls(f *source.File) error {
	els, err := listOf(f)
	if err != nil {
		return err
	}
	type entry struct {
		IPProtocol string   `json:"IPProtocol"`
		Ports      []string `json:"ports"`
	}
	for _, e := range els {
		var v struct {
			Name, Network, Direction string
			Priority                 *int
			Disabled                 bool
			Allowed, Denied          []entry
			SourceRanges             []string
			DestinationRanges        []string
			SourceTags               []string
			TargetTags               []string
			SourceServiceAccounts    []string
			TargetServiceAccounts    []string
		}
		if err := decode(f, e, &v); err != nil {
			return err
		}
		pos := f.PosAt(e.off)
		if v.Name == "" {
			return source.Errorf(pos, "a firewall rule without a name")
		}
		fw := &Firewall{Name: v.Name, Network: last(v.Network), Priority: 1000, Disabled: v.Disabled,
			SrcTags: v.SourceTags, TargetTags: v.TargetTags, SrcSAs: v.SourceServiceAccounts, TargetSAs: v.TargetServiceAccounts, Pos: pos}
		if v.Priority != nil {
			fw.Priority = *v.Priority
		}
		if fw.Priority < 0 || fw.Priority > 65535 {
			return source.Errorf(pos, "firewall rule %s: priority %d is not in 0-65535", v.Name, fw.Priority)
		}
		switch strings.ToUpper(v.Direction) {
		case "", "INGRESS":
			fw.Ingress = true
		case "EGRESS":
		default:
			return source.Errorf(pos, "firewall rule %s: direction %q is neither INGRESS nor EGRESS", v.Name, v.Direction)
		}
		list := v.Allowed
		if len(v.Denied) > 0 {
			if len(v.Allowed) > 0 {
				return source.Errorf(pos, "firewall rule %s has both allowed and denied", v.Name)
			}
			fw.Deny, list = true, v.Denied
		}
		for _, m := range list {
			mt := Match{Proto: strings.ToLower(m.IPProtocol)}
			for _, ps := range m.Ports {
				a, b, ok := strings.Cut(ps, "-")
				if !ok {
					b = a
				}
				from, err1 := strconv.ParseUint(a, 10, 16)
				to, err2 := strconv.ParseUint(b, 10, 16)
				if err1 != nil || err2 != nil || from > to {
					return source.Errorf(pos, "firewall rule %s: port %q is not a port or range", v.Name, ps)
				}
				mt.Ports = append(mt.Ports, PortRange{uint16(from), uint16(to)})
			}
			fw.Matches = append(fw.Matches, mt)
		}
		if fw.SrcRanges, err = prefixes(f, pos, "firewall rule", v.Name, v.SourceRanges); err != nil {
			return err
		}
		if fw.DstRanges, err = prefixes(f, pos, "firewall rule", v.Name, v.DestinationRanges); err != nil {
			return err
		}
		x.Firewalls = append(x.Firewalls, fw)
	}
	return nil
}

func (x *Export) parseRoutes(f *source.File) error {
	els, err := listOf(f)
	if err != nil {
		return err
	}
	for _, e := range els {
		var v struct {
			Name, Network, DestRange string
			Priority                 *int
			Tags                     []string
			NextHopGateway           string
			NextHopInstance          string
			NextHopIP                string `json:"nextHopIp"`
			NextHopIlb               string
			NextHopNetwork           string
			NextHopPeering           string
			NextHopVpnTunnel         string
		}
		if err := decode(f, e, &v); err != nil {
			return err
		}
		pos := f.PosAt(e.off)
		if v.Name == "" {
			return source.Errorf(pos, "a route without a name")
		}
		dst, err := parsePrefix(v.DestRange)
		if err != nil {
			return source.Errorf(pos, "route %s: destRange %q is not a CIDR", v.Name, v.DestRange)
		}
		r := &Route{Name: v.Name, Network: last(v.Network), Dest: dst, Priority: 1000, Tags: v.Tags, Pos: pos}
		if v.Priority != nil {
			r.Priority = *v.Priority
		}
		switch {
		case v.NextHopGateway != "":
			r.Kind, r.Hop = HopGateway, last(v.NextHopGateway)
		case v.NextHopInstance != "":
			r.Kind, r.Hop = HopInstance, last(v.NextHopInstance)
		case v.NextHopIP != "":
			if _, err := netip.ParseAddr(v.NextHopIP); err != nil {
				return source.Errorf(pos, "route %s: nextHopIp %q is not an IP address", v.Name, v.NextHopIP)
			}
			r.Kind, r.Hop = HopIP, v.NextHopIP
		case v.NextHopIlb != "":
			r.Kind, r.Hop = HopILB, last(v.NextHopIlb)
		case v.NextHopPeering != "":
			r.Kind, r.Hop = HopPeering, v.NextHopPeering
		case v.NextHopVpnTunnel != "":
			r.Kind, r.Hop = HopVPN, last(v.NextHopVpnTunnel)
		case v.NextHopNetwork != "":
			r.Kind, r.Hop = HopNetwork, last(v.NextHopNetwork)
		default:
			return source.Errorf(pos, "route %s has no next hop", v.Name)
		}
		x.Routes = append(x.Routes, r)
	}
	return nil
}

func (x *Export) parseNetworks(f *source.File) error {
	els, err := listOf(f)
	if err != nil {
		return err
	}
	for _, e := range els {
		var v struct{ Name string }
		if err := decode(f, e, &v); err != nil {
			return err
		}
		x.Networks[v.Name] = f.PosAt(e.off)
	}
	return nil
}

// NICWith is the interface holding a (its primary IP or an alias range), else nil.
func (x *Export) NICWith(a netip.Addr) *NIC {
	if x.idx != nil {
		if l := x.idx.holding(a); len(l) > 0 {
			return x.idx.nics[l[0]]
		}
		return nil
	}
	for _, in := range x.Instances {
		for _, n := range in.NICs {
			if n.Holds(a) {
				return n
			}
		}
	}
	return nil
}

func (x *Export) parseSubnets(f *source.File) error {
	els, err := listOf(f)
	if err != nil {
		return err
	}
	for _, e := range els {
		var v struct {
			Name, Network, Region, IPCidrRange string
			SecondaryIPRanges                  []struct {
				RangeName, IPCidrRange string
			} `json:"secondaryIpRanges"`
		}
		if err := decode(f, e, &v); err != nil {
			return err
		}
		pos := f.PosAt(e.off)
		sn := &Subnet{Name: v.Name, Network: last(v.Network), Region: last(v.Region), Pos: pos}
		ranges := []string{v.IPCidrRange}
		sn.RangeNames = []string{""}
		for _, r := range v.SecondaryIPRanges {
			ranges = append(ranges, r.IPCidrRange)
			sn.RangeNames = append(sn.RangeNames, r.RangeName)
		}
		if sn.Ranges, err = prefixes(f, pos, "subnetwork", v.Name, ranges); err != nil {
			return err
		}
		x.Subnets = append(x.Subnets, sn)
	}
	return nil
}
