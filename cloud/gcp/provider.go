package gcp

import (
	"fmt"
	"net/netip"
	"path"
	"strings"

	"github.com/netsim/netsim/cloud"
	"github.com/netsim/netsim/rules/packet"
)

// Provider is the GCP network for the walk: it maps the cluster's nodes to instances and
// judges packets with the VPC firewall rules and routes.
type Provider struct {
	X        *Export
	PodCIDRs []netip.Prefix
	nodes    []cloud.Node
	byInst   map[*Instance]string // instance -> node
	nodeNIC  map[string]*NIC      // node -> its interface
}

var _ cloud.Provider = (*Provider)(nil)

// New maps nodes to instances: by spec.providerID (gce://PROJECT/ZONE/NAME), else by a
// node address that is an interface's primary internal IP.
func New(x *Export, nodes []cloud.Node, podCIDRs []netip.Prefix) *Provider {
	p := &Provider{X: x, PodCIDRs: podCIDRs, nodes: nodes, byInst: map[*Instance]string{}, nodeNIC: map[string]*NIC{}}
	for _, n := range nodes {
		if strings.HasPrefix(n.ProviderID, "gce://") {
			name := path.Base(n.ProviderID)
			for _, in := range x.instancesNamed(name) {
				if len(in.NICs) > 0 {
					p.byInst[in], p.nodeNIC[n.Name] = n.Name, in.NICs[0]
				}
			}
			if p.nodeNIC[n.Name] != nil {
				continue
			}
		}
		for _, a := range n.Addrs {
			if nic := x.NICWith(a); nic != nil && nic.IP == a {
				p.byInst[nic.Inst], p.nodeNIC[n.Name] = n.Name, nic
				break
			}
		}
	}
	return p
}

// Name implements cloud.Provider.
func (p *Provider) Name() string { return "gcp" }

func (p *Provider) gap(step, file, what, cmd string) cloud.Decision {
	f := path.Join(p.X.Dir, file)
	return cloud.Decision{Verdict: cloud.Unknown, Step: step, Action: "unknown", Code: "cloud-missing-data",
		Message: fmt.Sprintf("%s: the bundle has no %s, so this is not known (netsim never assumes a cloud check allows)", what, f),
		Fix:     fmt.Sprintf("add the output of `gcloud compute %s list --format=json` to the bundle as %s", cmd, f)}
}

// nicOf is the interface a node sends or receives an address with.
func (p *Provider) nicOf(node string, a netip.Addr) (*NIC, *cloud.Decision) {
	if p.X.Has[FileInstances] == "" {
		d := p.gap("gcp instance", FileInstances, "which instance node "+node+" is", "instances")
		return nil, &d
	}
	if n := p.X.NICWith(a); n != nil && (node == "" || p.byInst[n.Inst] == node) {
		return n, nil
	}
	if n := p.nodeNIC[node]; n != nil {
		return n, nil
	}
	return nil, &cloud.Decision{Verdict: cloud.Unknown, Step: "gcp instance", Action: "unknown", Code: "cloud-node-unmapped",
		Message: fmt.Sprintf("node %s is no instance of the GCP exports (by providerID or internal IP): its firewall rules and routes are not known", node),
		Fix:     "export `gcloud compute instances list --format=json` from the project the node runs in"}
}

func (p *Provider) label(n *NIC) string {
	if node := p.byInst[n.Inst]; node != "" {
		return fmt.Sprintf("node %s (instance %s %s)", node, n.Inst.Name, n.Name)
	}
	return fmt.Sprintf("instance %s %s", n.Inst.Name, n.Name)
}

// forwardCheck: GCP drops a packet an instance sends from, or receives for, an address
// that is neither its primary internal IP nor in its alias ranges, unless the instance
// has canIpForward (routes-based clusters, host-gw). ok is false when the address is its own.
func (p *Provider) forwardCheck(n *NIC, pk packet.Packet, sending bool) (cloud.Decision, bool) {
	a, what := pk.Dst, "destination"
	if sending {
		a, what = pk.Src, "source"
	}
	if n.Holds(a) {
		return cloud.Decision{}, false
	}
	d := cloud.Decision{Step: "gcp ip forwarding", Object: "instance/" + n.Inst.Name, Pos: n.Inst.Pos, Text: fmt.Sprintf("canIpForward %v", n.Inst.CanIPForward)}
	if n.Inst.CanIPForward {
		d.Action, d.Note = "allow", fmt.Sprintf("%s forwards: the %s %s is not its own, and it has canIpForward", p.label(n), what, a)
		return d, true
	}
	d.Verdict, d.Action, d.Code = cloud.Deny, "drop", "gcp-can-ip-forward"
	d.Message = fmt.Sprintf("the %s %s of %s is neither %s's internal IP nor in its alias IP ranges, and the instance has no canIpForward: GCP drops the packet",
		what, a, flowText(pk), p.label(n))
	d.Fix = fmt.Sprintf("give instance %s canIpForward (its instance template's --can-ip-forward; an existing instance through `gcloud compute instances update-from-file` while stopped), or give it the pod range as an alias IP range (VPC-native)", n.Inst.Name)
	return d, true
}

// firewall judges a packet at an interface; a reply passes (rules are stateful).
func (p *Provider) firewall(n *NIC, ingress bool, pk packet.Packet, reply bool) cloud.Decision {
	dir, other := "egress", pk.Dst
	if ingress {
		dir, other = "ingress", pk.Src
	}
	step := "gcp firewall " + dir
	if p.X.Has[FileFirewalls] == "" {
		return p.gap(step, FileFirewalls, "which firewall rules apply to "+p.label(n), "firewall-rules")
	}
	if reply {
		return cloud.Decision{Step: step, Action: "allow", Object: "instance/" + n.Inst.Name, Pos: n.Inst.Pos,
			Note: "the reply of an allowed connection: VPC firewall rules are stateful"}
	}
	var peer *Instance
	if pn := p.X.NICWith(other); pn != nil && pn.Network == n.Network {
		peer = pn.Inst
	}
	fw := p.X.Decide(n, ingress, pk, peer)
	if fw != nil {
		d := cloud.Decision{Step: step, Object: "firewall/" + fw.Name, Pos: fw.Pos, Text: fw.String(), Note: "judged at " + p.label(n)}
		if !fw.Deny {
			d.Action = "allow"
			return d
		}
		d.Verdict, d.Action, d.Code = cloud.Deny, "drop", "gcp-firewall-deny"
		d.Message = fmt.Sprintf("firewall rule %s (%s) denies %s at %s", fw.Name, fw.String(), flowText(pk), p.label(n))
		d.Fix = fmt.Sprintf("%s at a lower priority number than %d (or narrow %s)", p.needed(n, ingress, pk), fw.Priority, fw.Name)
		return d
	}
	if !ingress {
		return cloud.Decision{Step: step, Action: "allow", Object: "implied egress rule", Text: "egress allow all priority 65535 to 0.0.0.0/0",
			Note: "no rule of network " + n.Network + " matched at " + p.label(n) + ": the implied rule allows all egress"}
	}
	return cloud.Decision{Verdict: cloud.Deny, Step: step, Action: "drop", Object: "implied ingress rule", Text: "ingress deny all priority 65535 from 0.0.0.0/0",
		Code:    "gcp-firewall-ingress",
		Message: fmt.Sprintf("no firewall rule of network %s admits %s to %s: the implied ingress rule denies it", n.Network, flowText(pk), p.label(n)),
		Fix:     p.needed(n, true, pk)}
}

// needed names the rule that would admit the packet, and the gcloud command for it.
func (p *Provider) needed(n *NIC, ingress bool, pk packet.Packet) string {
	proto := packet.ProtoName(pk.Proto)
	port := ""
	if pk.HasPorts() {
		port = fmt.Sprintf(":%d", pk.DPort)
		if pk.DPort >= 30000 && pk.DPort <= 32767 {
			port = ":30000-32767"
		}
	}
	other, word, dirFlag, rangeFlag := pk.Src, "from", "INGRESS", "--source-ranges"
	if !ingress {
		other, word, dirFlag, rangeFlag = pk.Dst, "to", "EGRESS", "--destination-ranges"
	}
	cidr := netip.PrefixFrom(other, other.BitLen()).String()
	for _, pc := range p.PodCIDRs {
		if pc.Contains(other) {
			cidr = pc.String()
		}
	}
	if ingress && !other.IsPrivate() {
		cidr = "0.0.0.0/0" // a client on the internet
	}
	src := cidr
	if pn := p.X.NICWith(other); ingress && pn != nil && pn.IP == other && pn.Network == n.Network && len(pn.Inst.Tags) > 0 {
		// Another instance (its primary IP) of the network: admit it by its tag, as GKE does.
		src, rangeFlag, cidr = "source tag "+pn.Inst.Tags[len(pn.Inst.Tags)-1], "--source-tags", pn.Inst.Tags[len(pn.Inst.Tags)-1]
	}
	target, flag := "all instances", ""
	switch {
	case len(n.Inst.Tags) > 0:
		target, flag = "target tag "+n.Inst.Tags[0], " --target-tags "+n.Inst.Tags[0]
	case len(n.Inst.SAs) > 0:
		target, flag = "target service account "+n.Inst.SAs[0], " --target-service-accounts "+n.Inst.SAs[0]
	}
	dir := "egress"
	if ingress {
		dir = "ingress"
	}
	on := "to" // ingress: to the target; egress: from it
	if !ingress {
		on = "from"
	}
	return fmt.Sprintf("%s allow %s%s %s %s %s %s: gcloud compute firewall-rules create allow-%s-%s --network %s --direction %s --allow %s%s %s %s%s",
		dir, proto, port, word, src, on, target, proto, strings.TrimPrefix(port, ":"), n.Network, dirFlag, proto, port, rangeFlag, cidr, flag)
}

// Egress implements cloud.Provider: the sender's IP-forwarding check and its egress
// firewall rules (a reply passes: they are stateful).
func (p *Provider) Egress(l cloud.Leg) []cloud.Decision {
	n, gap := p.nicOf(l.From, l.Packet.Src)
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
	return append(out, p.firewall(n, false, l.Packet, l.Reply))
}

// Ingress implements cloud.Provider: the receiver's IP-forwarding check and its ingress
// firewall rules (a reply passes).
func (p *Provider) Ingress(l cloud.Leg) []cloud.Decision {
	n, gap := p.nicOf(l.To, l.Packet.Dst)
	if n == nil {
		return []cloud.Decision{*gap}
	}
	var out []cloud.Decision
	if d, ok := p.forwardCheck(n, l.Packet, false); ok {
		out = append(out, d)
		if d.Blocks() {
			return out
		}
	}
	return append(out, p.firewall(n, true, l.Packet, l.Reply))
}

// Route implements cloud.Provider: the VPC route the packet takes, and where it lands.
// A packet meant for a node that a route takes out of the network (a peering, a VPN
// tunnel, another network's range) is misrouted: when the destination is in a node's
// pod CIDR that is field-guide row 24, the pod range overlapping a range the VPC
// reaches elsewhere.
func (p *Provider) Route(l cloud.Leg) ([]cloud.Decision, cloud.Landing) {
	ds, land := p.route(l)
	if l.To == "" || land.Node != "" || land.Beyond == "" || len(ds) == 0 {
		return ds, land
	}
	for _, d := range ds {
		if d.Blocks() {
			return ds, land
		}
	}
	r := ds[len(ds)-1]
	m := cloud.Decision{Verdict: cloud.Misroute, Step: "gcp route", Action: "misroute", Code: "gcp-misroute", Object: r.Object, Pos: r.Pos, Text: r.Text}
	m.Message = fmt.Sprintf("node %s sends %s to node %s, but the VPC routes by destination address: %s takes it to %s", l.From, flowText(l.Packet), l.To, r.Object, land.Beyond)
	if node, c := p.podCIDROf(l.Packet.Dst); node != "" {
		m.Code = "gcp-cidr-overlap"
		m.Message += fmt.Sprintf("; node %s's pod CIDR %s overlaps %s (%s), a range the network reaches outside the cluster", node, c, r.Object, r.Text)
		m.Fix = fmt.Sprintf("give the cluster a pod range that overlaps no range the network routes (its subnets, peered networks, on-premises ranges); meanwhile a more specific route, %s with nextHopInstance of node %s (or an alias IP range), wins", c, node)
	}
	return append(ds[:len(ds)-1:len(ds)-1], m), cloud.Landing{}
}

// podCIDROf names the node whose pod CIDR holds an address.
func (p *Provider) podCIDROf(a netip.Addr) (string, netip.Prefix) {
	for _, n := range p.nodes {
		for _, c := range n.PodCIDRs {
			if c.Contains(a) {
				return n.Name, c
			}
		}
	}
	return "", netip.Prefix{}
}

func (p *Provider) route(l cloud.Leg) ([]cloud.Decision, cloud.Landing) {
	const step = "gcp route"
	n, gap := p.nicOf(l.From, l.Packet.Src)
	if n == nil {
		return []cloud.Decision{*gap}, cloud.Landing{}
	}
	dst := l.Packet.Dst
	r := p.X.Lookup(n, dst)
	if r == nil {
		if p.X.Has[FileRoutes] == "" {
			return []cloud.Decision{p.gap(step, FileRoutes, "which route network "+n.Network+" takes to "+dst.String(), "routes")}, cloud.Landing{}
		}
		return []cloud.Decision{{Verdict: cloud.NoRoute, Step: step, Action: "no-route", Object: "network/" + n.Network, Code: "gcp-no-route",
			Message: fmt.Sprintf("network %s has no route to %s that applies to %s", n.Network, dst, p.label(n)),
			Fix:     p.routeFix(n, dst)}}, cloud.Landing{}
	}
	d := cloud.Decision{Step: step, Action: "route", Object: "route/" + r.Name, Pos: r.Pos, Text: r.String()}
	if r.Kind == HopLocal {
		d.Object, d.Note = "network/"+n.Network, "no subnet route (nextHopNetwork) of "+path.Join(p.X.Dir, FileRoutes)+" covers it: the implied local route is taken from the instance's interface ("+path.Join(p.X.Dir, FileSubnets)+" is not exported)"
		if p.X.Has[FileSubnets] != "" {
			d.Object, d.Note = "subnetwork/"+r.Hop, "no subnet route (nextHopNetwork) of "+path.Join(p.X.Dir, FileRoutes)+" covers it: the implied local route of the subnetwork's range"
		}
	}
	land := func(in *Instance) ([]cloud.Decision, cloud.Landing) {
		node := p.byInst[in]
		if node == "" {
			return []cloud.Decision{d}, cloud.Landing{Beyond: "instance " + in.Name + ", no node of the cluster"}
		}
		if l.To != "" && node != l.To {
			m := d
			m.Verdict, m.Action, m.Code = cloud.Misroute, "misroute", "gcp-misroute"
			m.Message = fmt.Sprintf("route %s sends %s to node %s, not to node %s where the cluster meant it to go", r.Name, dst, node, l.To)
			m.Fix = "route the range to the node that holds it (an alias IP range, or a route with nextHopInstance)"
			return []cloud.Decision{m}, cloud.Landing{Node: node}
		}
		return []cloud.Decision{d}, cloud.Landing{Node: node}
	}
	switch r.Kind {
	case HopLocal, HopNetwork:
		if r.Kind == HopNetwork && r.Hop != n.Network {
			return []cloud.Decision{d}, cloud.Landing{Beyond: "network " + r.Hop}
		}
		if h := p.X.NICWith(dst); h != nil && h.Network == n.Network {
			return land(h.Inst)
		}
		if l.To != "" {
			if h := p.nodeNIC[l.To]; h != nil {
				// Not an address the exports list: the node's own (a host-gw pod range).
				m := d
				m.Verdict, m.Action, m.Code = cloud.NoRoute, "no-route", "gcp-no-route"
				m.Message = fmt.Sprintf("%s is in the subnet route %s of network %s but is neither an internal IP nor an alias range of any instance: GCP delivers it to no VM (node %s would need it as an alias IP range, or a route with nextHopInstance %s)", dst, r.Dest, n.Network, l.To, h.Inst.Name)
				if node, c := p.podCIDROf(dst); node != "" {
					// The pod CIDR lies in a subnet range of the network (row 24): GCP
					// accepts no static route as specific as or more specific than a
					// subnet route (https://cloud.google.com/vpc/docs/routes#subnet-routes).
					m.Code = "gcp-cidr-overlap"
					m.Message += fmt.Sprintf("; node %s's pod CIDR %s overlaps the subnet range %s (%s): the network delivers addresses in it only to the VM holding them, and no static route can take them elsewhere", node, c, r.Dest, r.Name)
					m.Fix = fmt.Sprintf("give the cluster a pod range outside network %s's subnet ranges (and outside peered and on-premises ranges), or make it node %s's alias IP range (VPC-native)", n.Network, node)
				}
				m.Fix = fmt.Sprintf("gcloud compute routes create ... --network %s --destination-range <pod CIDR of %s> --next-hop-instance %s (and --can-ip-forward), or use alias IP ranges", n.Network, l.To, h.Inst.Name)
				return []cloud.Decision{m}, cloud.Landing{}
			}
		}
		return []cloud.Decision{d}, cloud.Landing{Beyond: dst.String() + " in network " + n.Network}
	case HopInstance:
		if in := p.X.instanceNamed(r.Hop); in != nil {
			return land(in)
		}
		return []cloud.Decision{{Verdict: cloud.NoRoute, Step: step, Action: "no-route", Object: d.Object, Pos: d.Pos, Text: d.Text, Code: "gcp-no-route",
			Message: fmt.Sprintf("route %s's next hop instance %s is not in %s: GCP drops the packet", r.Name, r.Hop, path.Join(p.X.Dir, FileInstances))}}, cloud.Landing{}
	case HopIP:
		a := netip.MustParseAddr(r.Hop)
		if h := p.X.NICWith(a); h != nil {
			return land(h.Inst)
		}
		return []cloud.Decision{d}, cloud.Landing{Beyond: "next hop " + r.Hop}
	case HopGateway:
		if dst.IsPrivate() {
			m := d
			m.Verdict, m.Action, m.Code = cloud.NoRoute, "no-route", "gcp-no-route"
			m.Message = fmt.Sprintf("only route %s (to the internet gateway) covers the private address %s: GCP does not send private addresses to the internet", r.Name, dst)
			m.Fix = fmt.Sprintf("a route for %s's range through the peering, VPN tunnel or instance that reaches it", dst)
			return []cloud.Decision{m}, cloud.Landing{}
		}
		// The external IP's one-to-one NAT translates only the interface's primary
		// internal IP; alias ranges (pods) need Cloud NAT.
		if n.NatIP.IsValid() && l.Packet.Src == n.IP {
			out := l.Packet
			out.Src = n.NatIP
			s := cloud.Decision{Step: "gcp external ip", Action: "snat", Object: "instance/" + n.Inst.Name, Pos: n.Inst.Pos, Text: fmt.Sprintf("%s <-> %s", n.IP, n.NatIP), Packet: out}
			return []cloud.Decision{d, s}, cloud.Landing{Beyond: "the internet through " + r.Hop}
		}
		return p.cloudNAT(n, d, l.Packet)
	case HopILB:
		return []cloud.Decision{d}, cloud.Landing{Beyond: "internal load balancer " + r.Hop}
	case HopPeering:
		return []cloud.Decision{d}, cloud.Landing{Beyond: "the peered network through peering " + r.Hop}
	case HopVPN:
		return []cloud.Decision{d}, cloud.Landing{Beyond: "VPN tunnel " + r.Hop}
	}
	return []cloud.Decision{d}, cloud.Landing{}
}

// Inbound implements cloud.Provider: a packet to a forwarding rule's address goes to the
// load balancer's backends (lb.go); a packet to an instance's external IP is translated
// to its internal IP and judged by its ingress firewall rules.
func (p *Provider) Inbound(pk packet.Packet) ([]cloud.Entry, bool) {
	var rules []*ForwardingRule
	for _, fr := range p.X.Rules {
		if fr.Range.Contains(pk.Dst) {
			rules = append(rules, fr)
		}
	}
	if len(rules) > 0 {
		return p.viaForwardingRule(rules, pk), true
	}
	for _, in := range p.X.withExternalIP(pk.Dst) {
		for _, n := range in.NICs {
			if !n.NatIP.IsValid() || n.NatIP != pk.Dst {
				continue
			}
			fwd := pk
			fwd.Dst = n.IP
			ds := []cloud.Decision{{Step: "gcp external ip", Action: "dnat", Object: "instance/" + in.Name, Pos: in.Pos, Text: fmt.Sprintf("%s <-> %s", pk.Dst, n.IP), Packet: fwd}}
			node := p.byInst[in]
			if node == "" {
				ds = append(ds, cloud.Decision{Verdict: cloud.Unknown, Step: "gcp external ip", Action: "unknown", Code: "cloud-node-unmapped",
					Message: fmt.Sprintf("%s belongs to instance %s, which is no node of the cluster", pk.Dst, in.Name)})
				return []cloud.Entry{{Decisions: ds}}, true
			}
			ds = append(ds, p.firewall(n, true, fwd, false))
			pub, priv, nic := n.NatIP, n.IP, n
			back := func(r packet.Packet) (packet.Packet, []cloud.Decision) {
				out := r
				out.Src = pub
				return out, []cloud.Decision{{Step: "gcp external ip", Action: "snat", Object: "instance/" + nic.Inst.Name, Pos: nic.Inst.Pos, Text: fmt.Sprintf("%s <-> %s", priv, pub), Packet: out}}
			}
			e := cloud.Entry{Decisions: ds, Node: node, Packet: fwd, Branch: "external IP " + pub.String() + " of node " + node, Back: back}
			if ds[len(ds)-1].Blocks() {
				e.Node = ""
			}
			return []cloud.Entry{e}, true
		}
	}
	return nil, false
}

func flowText(p packet.Packet) string {
	if p.HasPorts() {
		return fmt.Sprintf("%s %s -> %s", packet.ProtoName(p.Proto), p.SrcAP(), p.DstAP())
	}
	return fmt.Sprintf("%s %s -> %s", packet.ProtoName(p.Proto), p.Src, p.Dst)
}

// routeFix proposes the route a destination needs: the default internet route for a
// public address, else a route through whatever reaches the range.
func (p *Provider) routeFix(n *NIC, dst netip.Addr) string {
	if !dst.IsPrivate() {
		return fmt.Sprintf("gcloud compute routes create default-internet --network %s --destination-range 0.0.0.0/0 --next-hop-gateway default-internet-gateway (and Cloud NAT or an external IP for %s)", n.Network, p.label(n))
	}
	return fmt.Sprintf("gcloud compute routes create ... --network %s --destination-range <range of %s> with the next hop that reaches it (a VPN tunnel, an instance, an internal load balancer)", n.Network, dst)
}
