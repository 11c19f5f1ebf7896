package gcp

import (
	"bytes"
	"fmt"
	"net/netip"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/netsim/netsim/cloud"
	"github.com/netsim/netsim/model/source"
	"github.com/netsim/netsim/rules/packet"
)

// Cloud NAT (https://cloud.google.com/nat/docs/overview, .../nat/docs/public-nat): a
// gateway on a Cloud Router, regional, serving the subnetwork ranges its configuration
// names. It translates only packets that take the default internet gateway route, and
// never the primary internal IP of an interface that has an external IP (that one goes
// out through its own one-to-one NAT); alias IP ranges (GKE's pod ranges) are served
// only when the configuration covers their secondary range.

// Source range selections of a NAT gateway (sourceSubnetworkIpRangesToNat).
const (
	NATAllRanges        = "ALL_SUBNETWORKS_ALL_IP_RANGES"
	NATAllPrimaryRanges = "ALL_SUBNETWORKS_ALL_PRIMARY_IP_RANGES"
	NATListOfSubnets    = "LIST_OF_SUBNETWORKS"
)

// Router is a Cloud Router with its NAT gateways.
type Router struct {
	Name, Network, Region string
	NATs                  []*NAT
	Pos                   source.Pos
}

// NAT is one Cloud NAT gateway of a router.
type NAT struct {
	Name string
	// Type is PUBLIC (the default: to the internet) or PRIVATE (between networks).
	Type string
	// Ranges is sourceSubnetworkIpRangesToNat.
	Ranges string
	// Subnets are the LIST_OF_SUBNETWORKS entries.
	Subnets []NATSubnet
	// IPs are natIps: addresses, or the names of reserved addresses (the API gives URLs).
	IPs      []string
	Allocate string // natIpAllocateOption: AUTO_ONLY, MANUAL_ONLY
	EIM      bool   // enableEndpointIndependentMapping
	Router   *Router
	Pos      source.Pos
}

// NATSubnet is one subnetwork a LIST_OF_SUBNETWORKS gateway serves, and which of its ranges.
type NATSubnet struct {
	Name string
	// Ranges are sourceIpRangesToNat: ALL_IP_RANGES, PRIMARY_IP_RANGE, LIST_OF_SECONDARY_IP_RANGES.
	Ranges    []string
	Secondary []string // secondaryIpRangeNames
}

// NATMapping is one interface's allocation (get-nat-mapping-info): its primary IP or
// alias range, and the NAT addresses and ports it was given.
type NATMapping struct {
	Instance string
	Source   netip.Prefix // sourceVirtualIp as a /32, or sourceAliasIpRange
	NatIPs   []netip.Addr
	Pos      source.Pos
}

func (x *Export) parseRouters(f *source.File) error {
	els, err := listOf(f)
	if err != nil {
		return err
	}
	for _, e := range els {
		var v struct {
			Name, Network, Region string
			Nats                  []struct {
				Name                          string
				Type                          string
				SourceSubnetworkIPRangesToNat string   `json:"sourceSubnetworkIpRangesToNat"`
				NatIPs                        []string `json:"natIps"`
				NatIPAllocateOption           string   `json:"natIpAllocateOption"`
				EnableEndpointIndependentMap  bool     `json:"enableEndpointIndependentMapping"`
				Subnetworks                   []struct {
					Name                  string
					SourceIPRangesToNat   []string `json:"sourceIpRangesToNat"`
					SecondaryIPRangeNames []string `json:"secondaryIpRangeNames"`
				}
			}
		}
		if err := decode(f, e, &v); err != nil {
			return err
		}
		pos := f.PosAt(e.off)
		if v.Name == "" {
			return source.Errorf(pos, "a router without a name")
		}
		r := &Router{Name: v.Name, Network: last(v.Network), Region: last(v.Region), Pos: pos}
		from := bytes.Index(e.raw, []byte(`"nats"`))
		for _, n := range v.Nats {
			nat := &NAT{Name: n.Name, Type: strings.ToUpper(n.Type), Ranges: n.SourceSubnetworkIPRangesToNat, IPs: n.NatIPs,
				Allocate: n.NatIPAllocateOption, EIM: n.EnableEndpointIndependentMap, Router: r, Pos: pos}
			// Cite the gateway's own line: where its name is, after the "nats" key.
			if from >= 0 && n.Name != "" {
				if i := bytes.Index(e.raw[from:], []byte(strconv.Quote(n.Name))); i >= 0 {
					nat.Pos = f.PosAt(e.off + int64(from+i))
					from += i + 1
				}
			}
			if nat.Type == "" {
				nat.Type = "PUBLIC"
			}
			switch nat.Ranges {
			case NATAllRanges, NATAllPrimaryRanges, NATListOfSubnets:
			default:
				return source.Errorf(nat.Pos, "router %s nat %s: sourceSubnetworkIpRangesToNat %q is none of %s, %s, %s", v.Name, n.Name, n.SourceSubnetworkIPRangesToNat, NATAllRanges, NATAllPrimaryRanges, NATListOfSubnets)
			}
			for i, ip := range nat.IPs {
				nat.IPs[i] = last(ip)
			}
			for _, s := range n.Subnetworks {
				for _, o := range s.SourceIPRangesToNat {
					switch o {
					case "ALL_IP_RANGES", "PRIMARY_IP_RANGE", "LIST_OF_SECONDARY_IP_RANGES":
					default:
						return source.Errorf(nat.Pos, "router %s nat %s subnetwork %s: sourceIpRangesToNat %q is none of ALL_IP_RANGES, PRIMARY_IP_RANGE, LIST_OF_SECONDARY_IP_RANGES", v.Name, n.Name, last(s.Name), o)
					}
				}
				nat.Subnets = append(nat.Subnets, NATSubnet{Name: last(s.Name), Ranges: s.SourceIPRangesToNat, Secondary: s.SecondaryIPRangeNames})
			}
			r.NATs = append(r.NATs, nat)
		}
		x.Routers = append(x.Routers, r)
	}
	return nil
}

// parseNATMapping reads nat-mapping/ROUTER.json: the list get-nat-mapping-info prints
// (each element an instance's mappings, or a page with them under "result").
func (x *Export) parseNATMapping(router string, f *source.File) error {
	els, err := listOf(f)
	if err != nil {
		return err
	}
	type vm struct {
		InstanceName         string
		InterfaceNatMappings []struct {
			SourceVirtualIP    string   `json:"sourceVirtualIp"`
			SourceAliasIPRange string   `json:"sourceAliasIpRange"`
			NatIPPortRanges    []string `json:"natIpPortRanges"`
		}
	}
	for _, e := range els {
		var v struct {
			vm
			Result []vm
		}
		if err := decode(f, e, &v); err != nil {
			return err
		}
		pos := f.PosAt(e.off)
		for _, m := range append([]vm{v.vm}, v.Result...) {
			for _, im := range m.InterfaceNatMappings {
				src := im.SourceAliasIPRange
				if src == "" {
					src = im.SourceVirtualIP
				}
				if src == "" {
					continue
				}
				p, err := parsePrefix(src)
				if err != nil {
					return source.Errorf(pos, "instance %s: source %q is not an address or CIDR", m.InstanceName, src)
				}
				nm := NATMapping{Instance: m.InstanceName, Source: p, Pos: pos}
				for _, r := range im.NatIPPortRanges {
					ip, _, _ := strings.Cut(r, ":")
					a, err := netip.ParseAddr(ip)
					if err != nil {
						return source.Errorf(pos, "instance %s: natIpPortRanges %q does not start with an IP address", m.InstanceName, r)
					}
					nm.NatIPs = append(nm.NatIPs, a)
				}
				x.NATMappings[router] = append(x.NATMappings[router], nm)
			}
		}
	}
	return nil
}

// sourceRange says which range of its subnetwork an interface sends a source from: ""
// for the primary range (the primary IP, or an alias range taken from the primary),
// the secondary range's name, or ok false when the address is none of the interface's.
func (x *Export) sourceRange(n *NIC, src netip.Addr) (name string, ok bool) {
	if n.IP == src {
		return "", true
	}
	for _, a := range n.Aliases {
		if !a.Contains(src) {
			continue
		}
		if rn := n.AliasRange[a]; rn != "" {
			return rn, true
		}
		for _, sn := range x.Subnets {
			if sn.Name != n.Subnetwork || sn.Network != n.Network {
				continue
			}
			for i, r := range sn.Ranges {
				if r.Contains(src) {
					return sn.RangeNames[i], true
				}
			}
		}
		return "", true
	}
	return "", false
}

// serves reports whether a NAT gateway's configuration covers a source of an interface.
func (nat *NAT) serves(n *NIC, rangeName string) bool {
	switch nat.Ranges {
	case NATAllRanges:
		return true
	case NATAllPrimaryRanges:
		return rangeName == ""
	}
	for _, s := range nat.Subnets {
		if s.Name != n.Subnetwork {
			continue
		}
		for _, o := range s.Ranges {
			switch {
			case o == "ALL_IP_RANGES":
				return true
			case o == "PRIMARY_IP_RANGE" && rangeName == "":
				return true
			case o == "LIST_OF_SECONDARY_IP_RANGES" && rangeName != "" && slices.Contains(s.Secondary, rangeName):
				return true
			}
		}
	}
	return false
}

func (nat *NAT) label() string {
	s := nat.Ranges
	if nat.Ranges == NATListOfSubnets {
		var subs []string
		for _, sn := range nat.Subnets {
			t := sn.Name + " " + strings.Join(sn.Ranges, "+")
			if len(sn.Secondary) > 0 {
				t += " " + strings.Join(sn.Secondary, ",")
			}
			subs = append(subs, t)
		}
		s += " (" + strings.Join(subs, "; ") + ")"
	}
	if nat.Allocate != "" {
		s += ", " + nat.Allocate
	}
	if len(nat.IPs) > 0 {
		s += " " + strings.Join(nat.IPs, ",")
	}
	if nat.EIM {
		s += ", endpoint-independent mapping"
	}
	return s
}

// nicRegion is the interface's region: its subnetwork's, else its instance's zone's.
func nicRegion(n *NIC) string {
	if n.Region != "" {
		return n.Region
	}
	if i := strings.LastIndex(n.Inst.Zone, "-"); i > 0 {
		return n.Inst.Zone[:i]
	}
	return ""
}

// cloudNAT follows a packet that takes the default internet gateway route from an
// interface without an external IP for its source: a public Cloud NAT gateway of the
// interface's network and region that serves the source's range translates it, else
// GCP drops it (the VM has no way to the internet).
func (p *Provider) cloudNAT(n *NIC, route cloud.Decision, pk packet.Packet) ([]cloud.Decision, cloud.Landing) {
	const step = "gcp cloud nat"
	if p.X.Has[FileRouters] == "" {
		d := p.gap(step, FileRouters, p.label(n)+" has no external IP for "+pk.Src.String()+": whether Cloud NAT translates it", "routers")
		return []cloud.Decision{route, d}, cloud.Landing{}
	}
	region := nicRegion(n)
	rangeName, own := p.X.sourceRange(n, pk.Src)
	var what string
	switch {
	case !own:
		what = "no range of subnetwork " + n.Subnetwork + " (not the interface's address nor its alias ranges)"
	case rangeName != "":
		what = fmt.Sprintf("the secondary range %s of subnetwork %s", rangeName, n.Subnetwork)
	case pk.Src != n.IP:
		what = "an alias range from the primary range of subnetwork " + n.Subnetwork
	default:
		what = "the primary range of subnetwork " + n.Subnetwork
	}
	var considered []string
	var pos source.Pos
	for _, r := range p.X.Routers {
		if r.Network != n.Network || (region != "" && r.Region != region) {
			continue
		}
		for _, nat := range r.NATs {
			if nat.Type != "PUBLIC" {
				continue
			}
			considered = append(considered, fmt.Sprintf("%s on router %s (%s)", nat.Name, r.Name, nat.label()))
			if pos.IsZero() {
				pos = nat.Pos
			}
			if !own || !nat.serves(n, rangeName) {
				continue
			}
			out := pk
			note := fmt.Sprintf("%s (%s) is served by %s", pk.Src, what, nat.Name)
			if ip, mpos, ok := p.natIP(r, n, pk.Src); ok {
				out.Src = ip
				note += fmt.Sprintf("; %s gives it %s (%s)", path.Join(p.X.Dir, DirNATMapping, r.Name+".json"), ip, mpos)
			} else if len(nat.IPs) > 0 {
				if a, err := netip.ParseAddr(nat.IPs[0]); err == nil {
					out.Src = a
				} else {
					note += "; translated to the reserved address " + nat.IPs[0] + " (its IP is not in the exports)"
				}
			} else {
				note += "; translated to an address Cloud NAT allocates (AUTO_ONLY: nat-mapping/" + r.Name + ".json would name it)"
			}
			d := cloud.Decision{Step: step, Action: "snat", Object: "router/" + r.Name + " nat " + nat.Name, Pos: nat.Pos, Text: nat.label(), Note: note}
			if out.Src != pk.Src {
				d.Packet = out
			}
			return []cloud.Decision{route, d}, cloud.Landing{Beyond: "the internet through Cloud NAT " + nat.Name + " (router " + r.Name + ")"}
		}
	}
	d := cloud.Decision{Verdict: cloud.NoRoute, Step: step, Action: "no-route", Code: "gcp-cloud-nat", Object: "network/" + n.Network, Pos: pos,
		Text: strings.Join(considered, "; ")}
	if len(considered) == 0 {
		// Cite the export that lists no gateway for the network and region.
		d.Pos = source.Pos{File: p.X.Has[FileRouters], Line: 1}
		d.Text = "no Cloud NAT gateway"
		d.Message = fmt.Sprintf("%s has no external IP for %s, and no Cloud NAT gateway of %s serves network %s in region %s: GCP sends nothing of it to the internet",
			p.label(n), pk.Src, path.Join(p.X.Dir, FileRouters), n.Network, region)
		d.Fix = fmt.Sprintf("gcloud compute routers nats create NAT --router ROUTER --region %s --auto-allocate-nat-external-ips --nat-all-subnet-ip-ranges (a router of network %s)", region, n.Network)
		return []cloud.Decision{route, d}, cloud.Landing{}
	}
	d.Message = fmt.Sprintf("%s has no external IP for %s, which is in %s, and no Cloud NAT gateway of network %s in region %s serves it (%s): GCP sends nothing of it to the internet",
		p.label(n), pk.Src, what, n.Network, region, strings.Join(considered, "; "))
	if rangeName != "" {
		d.Fix = fmt.Sprintf("serve the pod range too: gcloud compute routers nats update NAT --router ROUTER --region %s --nat-all-subnet-ip-ranges (or list subnetwork %s with ALL_IP_RANGES, or LIST_OF_SECONDARY_IP_RANGES naming %s); or masquerade pod traffic to the internet to the node's address (ip-masq-agent)", region, n.Subnetwork, rangeName)
	} else {
		d.Fix = fmt.Sprintf("serve subnetwork %s: gcloud compute routers nats update NAT --router ROUTER --region %s --nat-all-subnet-ip-ranges", n.Subnetwork, region)
	}
	if !own {
		d.Fix = "Cloud NAT translates only subnetwork ranges the interface holds: masquerade the packet to the node's address before it leaves (the CNI's or ip-masq-agent's masquerade), or use alias IP ranges (VPC-native)"
	}
	return []cloud.Decision{route, d}, cloud.Landing{}
}

// natIP is the NAT address nat-mapping/ROUTER.json gives a source of an instance.
func (p *Provider) natIP(r *Router, n *NIC, src netip.Addr) (netip.Addr, source.Pos, bool) {
	for _, m := range p.X.NATMappings[r.Name] {
		if m.Instance == n.Inst.Name && m.Source.Contains(src) && len(m.NatIPs) > 0 {
			return m.NatIPs[0], m.Pos, true
		}
	}
	return netip.Addr{}, source.Pos{}, false
}
