package simulate

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/netsim/netsim/cloud"
	"github.com/netsim/netsim/cloud/aws"
	"github.com/netsim/netsim/cloud/gcp"
	"github.com/netsim/netsim/model"
	"github.com/netsim/netsim/model/source"
	"github.com/netsim/netsim/rules/packet"
)

// The cloud stage of the walk: where a packet leaves a node for another node or the
// outside (the underlay hop), the bundle's cloud provider judges it (security groups,
// network ACLs, route tables, NAT and internet gateways, load balancers). Without
// cloud/ exports the walk is as it always was, with no cloud hop.

// cloudState is the bundle's cloud provider, opened once per Simulator.
type cloudState struct {
	opened bool
	p      cloud.Provider
	// unread names provider directories netsim did not read: ones it cannot read yet
	// (their checks are unknown when no provider was read), and, when p is set, further
	// providers beside p's.
	unread []string
}

// cloudOpeners are the providers netsim reads, by their directory under cloud/.
var cloudOpeners = map[string]func(c *model.Cluster, files map[string]*source.File) (cloud.Provider, error){
	"aws": openAWS,
	// Google Cloud: VPC firewall rules and routes from cloud/gcp's gcloud exports.
	"gcp": func(c *model.Cluster, files map[string]*source.File) (cloud.Provider, error) {
		x, err := gcp.Parse("cloud/gcp", files)
		if err != nil {
			return nil, err
		}
		return gcp.New(x, cloudNodes(c), manifestPodCIDRs(c)), nil
	},
}

// Further providers add themselves to cloudOpeners from their own file
// (simulate/cloud_PROVIDER.go, in an init function).

func openAWS(c *model.Cluster, files map[string]*source.File) (cloud.Provider, error) {
	x, err := aws.Parse("cloud/aws", files)
	if err != nil {
		return nil, err
	}
	return aws.New(x, cloudNodes(c), manifestPodCIDRs(c)), nil
}

// manifestPodCIDRs is the manifest's pod ranges: providers use them to propose the rule
// a fix needs ("ingress from 10.244.0.0/16").
func manifestPodCIDRs(c *model.Cluster) []netip.Prefix {
	var pods []netip.Prefix
	if c.Manifest != nil {
		for _, s := range c.Manifest.PodCIDRs {
			if p, err := netip.ParsePrefix(s); err == nil {
				pods = append(pods, p.Masked())
			}
		}
	}
	return pods
}

// cloudNodes is what providers need of the cluster's nodes.
func cloudNodes(c *model.Cluster) []cloud.Node {
	out := make([]cloud.Node, 0, len(c.Nodes))
	for _, n := range c.Nodes {
		out = append(out, cloud.Node{Name: n.Name, ProviderID: n.Spec.ProviderID, Addrs: n.Addrs, PodCIDRs: n.PodCIDRs})
	}
	return out
}

// openCloud reads the bundle's cloud exports, once; a malformed export is a bundle error
// naming its file and line.
func (s *Simulator) openCloud() error {
	if s.cloud.opened {
		return nil
	}
	s.cloud.opened = true
	for _, name := range s.C.CloudProviders() {
		open := cloudOpeners[name]
		if open == nil || s.cloud.p != nil {
			// Not read: netsim cannot read it yet, or it is a second provider (the walk
			// judges with one; the first, in name order, is kept).
			s.cloud.unread = append(s.cloud.unread, name)
			continue
		}
		files, err := s.C.CloudFiles(name)
		if err != nil {
			return err
		}
		if len(files) == 0 {
			continue
		}
		p, err := open(s.C, files)
		if err != nil {
			return err
		}
		s.cloud.p = p
	}
	return nil
}

// cloudVerdict is what a blocking cloud decision shows the client.
func cloudVerdict(v cloud.Verdict) Verdict {
	switch v {
	case cloud.NoRoute:
		return VNoRoute
	case cloud.Unknown:
		return VUnknown
	}
	return VDenied
}

// cloudHops records the provider's decisions as hops (and blockers), and returns the
// packet as they leave it.
func (t *tracer) cloudHops(w *walk, node string, ds []cloud.Decision, p packet.Packet) packet.Packet {
	for _, d := range ds {
		shown := p
		if d.Packet.Src.IsValid() {
			shown = d.Packet
			if !d.Reply {
				p = d.Packet
			}
		}
		text := d.Object
		if d.Text != "" {
			text += ": " + d.Text
		}
		i := w.hop(Hop{Node: node, NetNS: "cloud", Step: d.Step, Action: d.Action, Pos: d.Pos, Text: text, Note: d.Note, Packet: shown})
		if d.Reply {
			w.hops[i].Reply = true
		}
		switch {
		case d.Blocks():
			fix := d.Fix
			why := t.masqueradedWhy(w, d, p)
			if why != "" {
				fix += "; or, if the peer should see pod addresses, stop masquerading towards it (add its range to ip-masq-agent's nonMasqueradeCIDRs)"
			}
			w.blockAt(cloudVerdict(d.Verdict), i, d.Code, d.Message+why+cite(d.Pos), fix)
		case d.Warning:
			w.infos = append(w.infos, Finding{Code: d.Code, Severity: "warning", Hop: i, Message: d.Message + cite(d.Pos), Fix: d.Fix})
		}
	}
	return p
}

func cite(pos source.Pos) string {
	if pos.IsZero() {
		return ""
	}
	return " (" + pos.String() + ")"
}

// masqueradedWhy explains, for a packet that a cloud rule judged by its source, that the
// node translated the source on the way (ip-masq-agent, the CNI's masquerade): the peer
// sees the node's address, not the pod's.
func (t *tracer) masqueradedWhy(w *walk, d cloud.Decision, p packet.Packet) string {
	if w.reply || d.Verdict != cloud.Deny || !w.first.Src.IsValid() || p.Src == w.first.Src || !strings.Contains(d.Message, p.Src.String()) {
		return ""
	}
	for i := len(w.hops) - 1; i >= 0; i-- {
		h := w.hops[i]
		if h.Reply || (h.Action != "masquerade" && h.Action != "snat") || h.NetNS == "cloud" {
			continue
		}
		return fmt.Sprintf("; the packet left %s as %s: %s %s translated it (%s %s), so the peer sees the node's address, not the pod's",
			w.first.Src, h.Packet.Src, h.Node, h.Step, h.Pos, h.Text)
	}
	return ""
}

// unreadCloud ends a cloud crossing that netsim cannot judge: exports of a provider it
// does not read yet are never taken to allow.
func (t *tracer) unreadCloud(w *walk, node string, p packet.Packet) bool {
	if len(t.s.cloud.unread) == 0 || t.s.cloud.p != nil {
		return true
	}
	i := w.hop(Hop{Node: node, NetNS: "cloud", Step: "cloud", Action: "unknown", Packet: p})
	w.blockAt(VUnknown, i, "cloud-unsupported", fmt.Sprintf("the bundle has cloud/%s exports, which netsim does not read yet: whether that network lets %s through is unknown", strings.Join(t.s.cloud.unread, ", cloud/"), flow(p)), "")
	return true
}

// cloudCross judges a packet crossing the cloud network from one node to another (the
// underlay hop): the sender's egress checks, the route, the receiver's ingress checks.
// It returns false when the path ended there (no route, or a route elsewhere).
func (t *tracer) cloudCross(w *walk, sp *Space, owner *Device, target netip.Addr, p *packet.Packet) bool {
	prov := t.s.cloud.p
	if prov == nil {
		return t.unreadCloud(w, sp.Node, *p)
	}
	// A reply inside a UDP tunnel (VXLAN) is a new flow to the cloud: its outer packet
	// goes to the tunnel's well-known port from a source port hashed from the inner flow,
	// not back to the request's outer source port, so a stateful group does not see it as
	// the request's reply and judges it afresh. IP-in-IP has no ports: its outer reply is
	// the reverse of the request's, tracked as the same connection.
	reply := w.reply
	if reply && len(w.tunnel) > 0 && p.Proto == packet.UDP {
		reply = false
	}
	l := cloud.Leg{From: sp.Node, To: owner.Space.Node, Via: target, Packet: *p, Reply: reply}
	ds := prov.Egress(l)
	rds, land := prov.Route(l)
	ds = append(ds, rds...)
	if land.Node != l.To {
		t.cloudHops(w, sp.Node, ds, *p)
		t.end(w)
		return false
	}
	ds = append(ds, prov.Ingress(l)...)
	*p = t.cloudHops(w, sp.Node, ds, *p)
	return true
}

// cloudOut judges a packet leaving the cluster's nodes for an address no node holds. It
// returns false when there is no cloud provider (the walk goes on as before); otherwise
// it ends the path, or carries the packet on to the node the cloud's routes lead to.
func (t *tracer) cloudOut(w *walk, sp *Space, target netip.Addr, p packet.Packet) bool {
	prov := t.s.cloud.p
	if prov == nil {
		if len(t.s.cloud.unread) > 0 {
			t.unreadCloud(w, sp.Node, p)
		}
		return false
	}
	l := cloud.Leg{From: sp.Node, Via: target, Packet: p}
	ds := prov.Egress(l)
	rds, land := prov.Route(l)
	ds = append(ds, rds...)
	if land.Node != "" {
		l.To = land.Node
		ds = append(ds, prov.Ingress(l)...)
	}
	p = t.cloudHops(w, sp.Node, ds, p)
	switch {
	case land.Node != "":
		dev := t.underlayDevice(land.Node, p.Dst)
		if dev == nil {
			t.endUnknown(w, Hop{Node: land.Node, NetNS: "cloud", Step: "underlay", Action: "unknown", Packet: p}, "missing-data",
				fmt.Sprintf("the cloud delivers %s to node %s, which has no dump in the bundle", flow(p), land.Node), "collect node "+land.Node)
			return true
		}
		w.hop(Hop{Node: sp.Node, NetNS: "underlay", Step: "underlay", Action: "forward", Packet: p, Note: "through the cloud's route to " + dev.String()})
		t.arrive(w, dev, p)
	case land.Beyond != "":
		i := w.hop(Hop{Node: sp.Node, NetNS: "outside", Step: "underlay", Action: "forward", Packet: p, Note: "to " + land.Beyond})
		w.blockAt(VUnknown, i, "outside", fmt.Sprintf("the packet leaves for %s: what happens beyond is not in the bundle", land.Beyond), "")
		t.end(w)
	default:
		t.end(w)
	}
	return true
}

// underlayDevice is a node's device on the underlay holding an address, else its first.
func (t *tracer) underlayDevice(node string, a netip.Addr) *Device {
	if err := t.s.G.LoadNode(node); err != nil {
		return nil
	}
	if d := t.s.G.hostDeviceWith(node, a); d != nil {
		return d
	}
	host := t.s.G.Space(node, "host")
	if host == nil {
		return nil
	}
	for _, d := range t.s.G.devicesOf(host) {
		if t.s.G.OnUnderlay(d) {
			return d
		}
	}
	return nil
}

// cloudIn brings a packet from outside to an address the cloud answers for (a load
// balancer, a node's public IP), one path per target. It returns false when the cloud
// does not know the address (the walk goes on as before).
func (t *tracer) cloudIn(w *walk, p packet.Packet) bool {
	prov := t.s.cloud.p
	if prov == nil {
		return false
	}
	entries, ok := prov.Inbound(p)
	if !ok {
		if n := t.s.C.NodeByAddr(p.Dst); n != nil {
			// A node's private address, reached from outside the VPC (a VPN, a peer).
			t.cloudHops(w, n.Name, prov.Ingress(cloud.Leg{To: n.Name, Packet: p}), p)
		}
		return false
	}
	for i, e := range entries {
		b := w
		if i < len(entries)-1 {
			b = w.clone()
		}
		if e.Branch != "" && len(entries) > 1 {
			b.branches = append(b.branches, e.Branch)
		}
		q := t.cloudHops(b, e.Node, e.Decisions, p)
		if e.Node == "" {
			t.end(b)
			continue
		}
		dev := t.underlayDevice(e.Node, e.Packet.Dst)
		if dev == nil {
			t.endUnknown(b, Hop{Node: e.Node, NetNS: "cloud", Step: "underlay", Action: "unknown", Packet: q}, "missing-data",
				fmt.Sprintf("the cloud sends %s to node %s, which has no dump in the bundle", flow(q), e.Node), "collect node "+e.Node)
			continue
		}
		b.cloudBack = e.Back
		b.endpoint = e.Packet.DstAP().String()
		b.hop(Hop{Node: e.Node, NetNS: "underlay", Step: "underlay", Action: "forward", Packet: e.Packet, Note: "to " + dev.String()})
		t.arrive(b, dev, e.Packet)
	}
	return true
}

// cloudReply undoes on a reply leaving for the outside client what the cloud did to the
// request (a load balancer's or an internet gateway's translation).
func (t *tracer) cloudReply(w *walk, sp *Space, p packet.Packet) packet.Packet {
	if w.cloudBack == nil {
		return p
	}
	r, ds := w.cloudBack(p)
	t.cloudHops(w, sp.Node, ds, p)
	return r
}

// cloudUndo is a cloud translation undone on the reply (cloud.Entry.Back).
type cloudUndo = func(packet.Packet) (packet.Packet, []cloud.Decision)
