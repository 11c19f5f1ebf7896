package azure

import (
	"fmt"
	"net/netip"
	"path"
	"strings"

	"github.com/netsim/netsim/cloud"
	"github.com/netsim/netsim/model/source"
	"github.com/netsim/netsim/rules/packet"
)

// Provider is the Azure network for the walk: it maps the cluster's nodes to NICs and
// judges packets with the exports' NSGs, routes, NAT gateways, public IPs and load
// balancers.
type Provider struct {
	X        *Export
	PodCIDRs []netip.Prefix
	nodes    []cloud.Node
	byNIC    map[*NIC]string
	nodeNIC  map[string]*NIC
}

var _ cloud.Provider = (*Provider)(nil)

// New maps nodes to NICs: by spec.providerID (azure:///subscriptions/.../virtualMachines/
// NAME, or a scale set instance .../virtualMachineScaleSets/SET/virtualMachines/N) against
// the NICs' virtualMachine.id, else by a node address a NIC's IP configuration holds.
func New(x *Export, nodes []cloud.Node, podCIDRs []netip.Prefix) *Provider {
	p := &Provider{X: x, PodCIDRs: podCIDRs, nodes: nodes, byNIC: map[*NIC]string{}, nodeNIC: map[string]*NIC{}}
	// The NICs by their VM, in export order: matching each node against every NIC would
	// make New quadratic in the subscription's size.
	byVM := map[string][]*NIC{}
	for _, nic := range x.NICs {
		if nic.VM != "" {
			id := normID(nic.VM)
			byVM[id] = append(byVM[id], nic)
		}
	}
	for _, n := range nodes {
		var found *NIC
		if vm := strings.TrimPrefix(n.ProviderID, "azure://"); vm != n.ProviderID && vm != "" {
			for _, nic := range byVM[normID(vm)] {
				if found == nil {
					found = nic
				}
				for _, a := range n.Addrs {
					if nic.Holds(a) {
						found = nic
					}
				}
			}
		}
		if found == nil {
			for _, a := range n.Addrs {
				if nic := x.NICWith(a); nic != nil {
					found = nic
					break
				}
			}
		}
		if found != nil {
			p.byNIC[found], p.nodeNIC[n.Name] = n.Name, found
		}
	}
	return p
}

// Name implements cloud.Provider.
func (p *Provider) Name() string { return "azure" }

func (p *Provider) file(name string) string { return path.Join(p.X.Dir, name) }

func (p *Provider) gap(step, name, what string) cloud.Decision {
	return cloud.Decision{Verdict: cloud.Unknown, Step: step, Action: "unknown", Code: "cloud-missing-data",
		Message: fmt.Sprintf("%s: the bundle has no %s, so this is not known (netsim never assumes a cloud check allows)", what, p.file(name)),
		Fix:     fmt.Sprintf("add the output of `%s` to the bundle as %s", Commands[name], p.file(name))}
}

// nodeOf is the node a NIC belongs to ("" for none).
func (p *Provider) nodeOf(n *NIC) string { return p.byNIC[n] }

func (p *Provider) label(n *NIC) string {
	if node := p.nodeOf(n); node != "" {
		return fmt.Sprintf("node %s's NIC %s", node, n.Name)
	}
	return "NIC " + n.Name
}

// nicOf finds the NIC and IP configuration a node sends or receives an address with:
// the configuration holding the address (an Azure CNI pod IP is judged as itself), else
// the node's primary one (kubenet and overlay pods are behind the node's address).
func (p *Provider) nicOf(node string, a netip.Addr) (*NIC, *IPConfig, *cloud.Decision) {
	if p.X.Has[FileNICs] == "" {
		d := p.gap("azure network interface", FileNICs, "which NIC node "+node+" is")
		return nil, nil, &d
	}
	if c := p.X.ConfigWith(a); c != nil && (node == "" || p.nodeOf(c.NIC) == node) {
		return c.NIC, c, nil
	}
	if n := p.nodeNIC[node]; n != nil && n.Primary() != nil {
		return n, n.Primary(), nil
	}
	pid := cloud.ProviderIDNote(p.nodes, node)
	who := "node " + node + pid
	if node == "" {
		who = a.String()
	}
	return nil, nil, &cloud.Decision{Verdict: cloud.Unknown, Step: "azure network interface", Action: "unknown", Code: "cloud-node-unmapped",
		Message: fmt.Sprintf("%s is no NIC of %s (by providerID or private IP): its NSGs and routes are not known", who, p.file(FileNICs)),
		Fix:     "export `" + Commands[FileNICs] + "` from the subscription the node runs in"}
}

// forwardCheck: Azure delivers to a NIC only packets for its IP configurations'
// addresses, and lets it send only from them, unless IP forwarding is enabled on the NIC
// (learn.microsoft.com, "Create, change, or delete a network interface", IP forwarding).
// ok is false when the address is the NIC's own.
func (p *Provider) forwardCheck(n *NIC, pk packet.Packet, sending bool) (cloud.Decision, bool) {
	a, what := pk.Dst, "destination"
	if sending {
		a, what = pk.Src, "source"
	}
	if n.Holds(a) {
		return cloud.Decision{}, false
	}
	d := cloud.Decision{Step: "azure ip forwarding", Object: "networkinterface/" + n.Name, Pos: n.Pos, Text: fmt.Sprintf("enableIPForwarding %v", n.IPForwarding)}
	if n.IPForwarding {
		d.Action, d.Note = "allow", fmt.Sprintf("%s forwards: the %s %s is not its own, and IP forwarding is on", p.label(n), what, a)
		return d, true
	}
	d.Verdict, d.Action, d.Code = cloud.Deny, "drop", "azure-ip-forwarding"
	d.Message = fmt.Sprintf("the %s %s of %s is no IP configuration of %s, and the NIC has IP forwarding off: Azure drops the packet (kubenet routes pod CIDRs to the nodes, which needs it on)",
		what, a, flowText(pk), p.label(n))
	d.Fix = fmt.Sprintf("az network nic update -g %s -n %s --ip-forwarding true", rg(n.ID), n.Name)
	return d, true
}

// rg is the resource group in an ARM ID.
func rg(id string) string {
	parts := strings.Split(id, "/")
	for i := 0; i+1 < len(parts); i++ {
		if strings.EqualFold(parts[i], "resourceGroups") {
			return parts[i+1]
		}
	}
	return "<resource group>"
}

// subnetOf is the subnet of an IP configuration.
func (p *Provider) subnetOf(c *IPConfig) *Subnet { return p.X.Subnet(c.Subnet) }

// nsgOfSubnet and nsgOfNIC find the NSG associated at each level: the resource's own
// reference, else an NSG listing it.
func (p *Provider) nsgOfSubnet(c *IPConfig) (id string, known bool) {
	if s := p.subnetOf(c); s != nil && s.NSG != "" {
		return s.NSG, true
	}
	for _, g := range p.X.NSGs {
		for _, sid := range g.Subnets {
			if normID(sid) == normID(c.Subnet) {
				return g.ID, true
			}
		}
	}
	return "", p.subnetOf(c) != nil
}

func (p *Provider) nsgOfNIC(n *NIC) string {
	if n.NSG != "" {
		return n.NSG
	}
	for _, g := range p.X.NSGs {
		for _, id := range g.NICs {
			if normID(id) == normID(n.ID) {
				return g.ID
			}
		}
	}
	return ""
}

// level is one NSG a packet meets: the subnet's or the NIC's.
type level struct {
	what string // "subnet snet-nodes", "NIC node1-nic"
	id   string
	// pos cites the subnet or NIC, for a level without an NSG.
	pos source.Pos
	// gap is set when whether the level has an NSG is not known.
	gap *cloud.Decision
}

// levels is the NSGs a packet meets at an IP configuration, in order: inbound the
// subnet's then the NIC's, outbound the NIC's then the subnet's
// (learn.microsoft.com, "How network security groups filter network traffic").
func (p *Provider) levels(n *NIC, c *IPConfig, inbound bool) []level {
	dir := "outbound"
	if inbound {
		dir = "inbound"
	}
	sub := level{what: "subnet " + lastSeg(c.Subnet)}
	if s := p.subnetOf(c); s != nil {
		sub.pos = s.Pos
	}
	if id, known := p.nsgOfSubnet(c); id != "" {
		sub.id = id
	} else if !known {
		d := p.gap("azure nsg "+dir, FileVNets, "which NSG subnet "+lastSeg(c.Subnet)+" has")
		sub.gap = &d
	}
	nic := level{what: "NIC " + n.Name, id: p.nsgOfNIC(n), pos: n.Pos}
	if inbound {
		return []level{sub, nic}
	}
	return []level{nic, sub}
}

// nsgCheck judges a packet at both NSGs of an IP configuration; the packet needs both
// to allow. A reply passes: NSGs are stateful. secure makes "no NSG at all" a deny
// (Standard load balancers and public IPs are closed to inbound unless an NSG opens them).
func (p *Provider) nsgCheck(n *NIC, c *IPConfig, inbound bool, pk packet.Packet, reply, secure bool) []cloud.Decision {
	dir := "outbound"
	if inbound {
		dir = "inbound"
	}
	step := "azure nsg " + dir
	if p.X.Has[FileNSGs] == "" {
		return []cloud.Decision{p.gap(step, FileNSGs, "the network security groups of "+p.label(n))}
	}
	var out []cloud.Decision
	any := false
	for _, lv := range p.levels(n, c, inbound) {
		if lv.gap != nil {
			out = append(out, *lv.gap)
			return out
		}
		if lv.id == "" {
			out = append(out, cloud.Decision{Step: step, Action: "allow", Object: lv.what, Pos: lv.pos, Text: "no network security group", Note: "a level without an NSG lets everything through"})
			continue
		}
		any = true
		g := p.X.NSG(lv.id)
		if g == nil {
			out = append(out, cloud.Decision{Verdict: cloud.Unknown, Step: step, Action: "unknown", Code: "cloud-missing-data", Object: "networksecuritygroup/" + lastSeg(lv.id),
				Message: fmt.Sprintf("%s has network security group %s, which %s does not list: its rules are not known", lv.what, lastSeg(lv.id), p.file(FileNSGs))})
			return out
		}
		obj := "networksecuritygroup/" + g.Name
		if reply {
			out = append(out, cloud.Decision{Step: step, Action: "allow", Object: obj, Pos: g.Pos, Text: "on " + lv.what, Note: "the reply of an allowed connection: network security groups are stateful"})
			continue
		}
		v := p.X.Eval(g, inbound, pk, p.vnetOf(c))
		if v.Rule == nil {
			// Every NSG ends in DenyAll; reaching here means an export without it.
			out = append(out, cloud.Decision{Verdict: cloud.Unknown, Step: step, Action: "unknown", Code: "cloud-missing-data", Object: obj, Pos: g.Pos,
				Message: fmt.Sprintf("no rule of %s (on %s) matches %s, not even a default rule: the export is incomplete", g.Name, lv.what, flowText(pk))})
			return out
		}
		d := cloud.Decision{Step: step, Object: obj + " rule " + v.Rule.Name, Pos: v.Rule.Pos, Text: v.Rule.Label(), Note: "on " + lv.what}
		if v.Unknown != "" {
			d.Verdict, d.Action, d.Code = cloud.Unknown, "unknown", "cloud-missing-data"
			d.Message = fmt.Sprintf("rule %s of %s (on %s) may match %s: %s", v.Rule.Name, g.Name, lv.what, flowText(pk), v.Unknown)
			out = append(out, d)
			return out
		}
		if v.Rule.Allow {
			d.Action = "allow"
			out = append(out, d)
			continue
		}
		d.Verdict, d.Action, d.Code = cloud.Deny, "drop", "azure-nsg"
		d.Message = fmt.Sprintf("network security group %s (on %s) denies %s %s: rule %s decides first%s", g.Name, lv.what, dir, flowText(pk), v.Rule.Label(), p.asgNote(g, inbound, pk))
		d.Fix = p.needed(g, v.Rule, inbound, pk)
		out = append(out, d)
		return out
	}
	if secure && !any && !reply {
		out = append(out, cloud.Decision{Verdict: cloud.Deny, Step: step, Action: "drop", Code: "azure-nsg-secure-default", Object: "NIC " + n.Name,
			Message: fmt.Sprintf("neither %s nor its subnet has a network security group: a Standard SKU load balancer or public IP is closed to inbound traffic until an NSG allows it", p.label(n)),
			Fix:     fmt.Sprintf("associate an NSG with subnet %s allowing %s", lastSeg(c.Subnet), flowText(pk))})
	}
	return out
}

// asgNote explains, when rules of the NSG admit application security groups, which
// groups the peer's IP configuration is in (row 18: the nodes share no group).
func (p *Provider) asgNote(g *NSG, inbound bool, pk packet.Packet) string {
	other := pk.Src
	if !inbound {
		other = pk.Dst
	}
	var rules []string
	for _, r := range g.Rules {
		side := r.Src
		if !inbound {
			side = r.Dst
		}
		if r.Inbound == inbound && r.Allow && len(side.ASGs) > 0 {
			rules = append(rules, fmt.Sprintf("%s admits %s", r.Name, addrLabel(side)))
		}
	}
	if len(rules) == 0 {
		return ""
	}
	in := "no application security group"
	if c := p.X.ConfigWith(other); c != nil && len(c.ASGs) > 0 {
		var ns []string
		for _, id := range c.ASGs {
			ns = append(ns, lastSeg(id))
		}
		in = "application security groups " + strings.Join(ns, ", ") + fmt.Sprintf(" (%s)", p.label(c.NIC))
	}
	return fmt.Sprintf("; %s is in %s, and %s", other, in, strings.Join(rules, "; "))
}

// vnetOf is the VNet of an IP configuration.
func (p *Provider) vnetOf(c *IPConfig) *VNet {
	if s := p.subnetOf(c); s != nil {
		return s.VNet
	}
	return nil
}

// needed proposes the rule that would let the packet through, as an az command.
func (p *Provider) needed(g *NSG, denier *Rule, inbound bool, pk packet.Packet) string {
	dir, other := "Outbound", pk.Dst
	if inbound {
		dir, other = "Inbound", pk.Src
	}
	proto := "*"
	switch pk.Proto {
	case packet.TCP:
		proto = "Tcp"
	case packet.UDP:
		proto = "Udp"
	case packet.ICMP:
		proto = "Icmp"
	}
	port := "*"
	what := ""
	if pk.HasPorts() {
		port = fmt.Sprint(pk.DPort)
		if inbound && pk.DPort >= 30000 && pk.DPort <= 32767 {
			port, what = "30000-32767", " (the node ports)"
		}
	}
	addr := netip.PrefixFrom(other, other.BitLen()).String()
	flag := "--source-address-prefixes"
	if !inbound {
		flag = "--destination-address-prefixes"
	}
	switch {
	case publicAddr(other) && inbound:
		addr, what = "Internet", what+" (or the clients' ranges)"
	case p.podRange(other).IsValid():
		addr, what = p.podRange(other).String(), what+" (the pod CIDR)"
	default:
		if c := p.X.ConfigWith(other); c != nil && len(c.ASGs) > 0 {
			addr, what = lastSeg(c.ASGs[0]), what+fmt.Sprintf(" (application security group of %s)", p.label(c.NIC))
			flag = "--source-asgs"
			if !inbound {
				flag = "--destination-asgs"
			}
		}
	}
	prio := freePriority(g, denier, inbound)
	name := fmt.Sprintf("allow-%s-%s", strings.ToLower(proto), strings.ReplaceAll(port, "*", "any"))
	return fmt.Sprintf("allow %s %s from %s to port %s%s at a priority below %d: az network nsg rule create -g %s --nsg-name %s -n %s --priority %d --direction %s --access Allow --protocol %s %s %s --destination-port-ranges %s",
		strings.ToLower(dir), proto, addr, port, what, denier.Priority, rg(g.ID), g.Name, name, prio, dir, proto, flag, addr, port)
}

// podRange is the pod CIDR (the manifest's, else a node's) holding a, if any.
func (p *Provider) podRange(a netip.Addr) netip.Prefix {
	for _, c := range p.PodCIDRs {
		if c.Contains(a) {
			return c
		}
	}
	for _, n := range p.nodes {
		for _, c := range n.PodCIDRs {
			if c.Contains(a) {
				return c
			}
		}
	}
	return netip.Prefix{}
}

// freePriority is an unused custom priority (100-4096) below the denying rule's.
func freePriority(g *NSG, denier *Rule, inbound bool) int {
	used := map[int]bool{}
	for _, r := range g.Rules {
		if r.Inbound == inbound {
			used[r.Priority] = true
		}
	}
	limit := denier.Priority
	if limit > 4097 {
		limit = 4097
	}
	for n := (limit - 1) / 10 * 10; n >= 100; n -= 10 {
		if !used[n] && n < limit {
			return n
		}
	}
	for n := limit - 1; n >= 100; n-- {
		if !used[n] {
			return n
		}
	}
	return 100
}

// Egress implements cloud.Provider: the sending NIC's IP forwarding, then its NSGs
// outbound (the NIC's, then the subnet's).
func (p *Provider) Egress(l cloud.Leg) []cloud.Decision {
	n, c, gap := p.nicOf(l.From, l.Packet.Src)
	if n == nil {
		return []cloud.Decision{*gap}
	}
	var out []cloud.Decision
	if d, ok := p.forwardCheck(n, l.Packet, true); ok {
		out = append(out, d)
		if d.Blocks() {
			return out
		}
	}
	return append(out, p.nsgCheck(n, c, false, l.Packet, l.Reply, false)...)
}

// Ingress implements cloud.Provider: the receiving NIC's IP forwarding, then its NSGs
// inbound (the subnet's, then the NIC's).
func (p *Provider) Ingress(l cloud.Leg) []cloud.Decision {
	return p.ingress(l, true, false)
}

func (p *Provider) ingress(l cloud.Leg, forward, secure bool) []cloud.Decision {
	n, c, gap := p.nicOf(l.To, l.Packet.Dst)
	if n == nil {
		return []cloud.Decision{*gap}
	}
	var out []cloud.Decision
	if forward {
		if d, ok := p.forwardCheck(n, l.Packet, false); ok {
			out = append(out, d)
			if d.Blocks() {
				return out
			}
		}
	}
	return append(out, p.nsgCheck(n, c, true, l.Packet, l.Reply, secure)...)
}

func flowText(p packet.Packet) string {
	if p.HasPorts() {
		return fmt.Sprintf("%s %s -> %s", packet.ProtoName(p.Proto), p.SrcAP(), p.DstAP())
	}
	return fmt.Sprintf("%s %s -> %s", packet.ProtoName(p.Proto), p.Src, p.Dst)
}

func blocked(ds []cloud.Decision) bool {
	for _, d := range ds {
		if d.Blocks() {
			return true
		}
	}
	return false
}
