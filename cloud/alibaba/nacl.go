package alibaba

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/netsim/netsim/cloud"
	"github.com/netsim/netsim/model/source"
	"github.com/netsim/netsim/rules/packet"
)

// FileNetworkACLs is the optional export of the VPC's network ACLs (`aliyun vpc
// DescribeNetworkAcls`): without it the vSwitch checks are not made, and the trace says so.
const FileNetworkACLs = "DescribeNetworkAcls.json"

// NetworkACL is a VPC network ACL, bound to vSwitches (Resources). It is stateless and
// filters the traffic of the interfaces in its vSwitches ("Network ACLs", VPC docs).
type NetworkACL struct {
	ID, Name, VpcID, Status string
	VSwitches               []string
	Ingress, Egress         []*NACLEntry // in evaluation order (priority 1 first)
	Pos                     source.Pos
}

// NACLEntry is one ingress or egress entry of a network ACL.
type NACLEntry struct {
	ACL                  *NetworkACL
	ID, Name, Type, Desc string // Type: custom or system
	Index                int    // 1-based place in its direction (its priority)
	Egress, Accept       bool
	Proto                string // tcp, udp, icmp, gre, all (lower case)
	From, To             int    // Port; -1/-1 is all
	CIDR                 netip.Prefix
	Pos                  source.Pos
}

// NetworkACLFor returns the network ACL bound to a vSwitch; nil when none is (a vSwitch
// has at most one, and without one no ACL filters it).
func (x *Export) NetworkACLFor(vsw string) *NetworkACL {
	for _, a := range x.NetworkACLs {
		for _, v := range a.VSwitches {
			if v == vsw {
				return a
			}
		}
	}
	return nil
}

// Eval judges a packet in one direction: entries in order of priority, the first that
// matches decides (Accept or Drop). Ingress entries match the source, egress entries
// the destination; the port range always matches the destination port (VPC docs,
// "Network ACLs": rule mechanism). A nil entry: none matched.
func (a *NetworkACL) Eval(egress bool, pk packet.Packet) *NACLEntry {
	ents := a.Ingress
	peer := pk.Src
	if egress {
		ents, peer = a.Egress, pk.Dst
	}
	for _, e := range ents {
		if e.matches(pk, peer) {
			return e
		}
	}
	return nil
}

func (e *NACLEntry) matches(pk packet.Packet, peer netip.Addr) bool {
	if !e.CIDR.Contains(peer) {
		return false
	}
	switch e.Proto {
	case "all":
		return true
	case "tcp":
		if pk.Proto != packet.TCP {
			return false
		}
	case "udp":
		if pk.Proto != packet.UDP {
			return false
		}
	case "icmp":
		return pk.Proto == packet.ICMP
	case "icmpv6":
		return pk.Proto == packet.ICMPv6
	case "gre":
		return pk.Proto == GRE
	default:
		return false
	}
	return e.From == -1 || (int(pk.DPort) >= e.From && int(pk.DPort) <= e.To)
}

// Label renders the entry: "drop tcp 30000/32767 from 0.0.0.0/0".
func (e *NACLEntry) Label() string {
	word := "from"
	if e.Egress {
		word = "to"
	}
	pol := "drop"
	if e.Accept {
		pol = "accept"
	}
	return fmt.Sprintf("%s %s %d/%d %s %s", pol, e.Proto, e.From, e.To, word, e.CIDR)
}

// Object is how the entry is cited: "networkacl/nacl-x ingress entry 2 (name)".
func (e *NACLEntry) Object() string {
	dir := "ingress"
	if e.Egress {
		dir = "egress"
	}
	s := fmt.Sprintf("networkacl/%s %s entry %d", e.ACL.ID, dir, e.Index)
	switch {
	case e.ID != "":
		s += " (" + e.ID + ")"
	case e.Name != "":
		s += " (" + e.Name + ")"
	}
	if e.Type == "system" {
		s += " [system]"
	}
	return s
}

func (x *Export) parseNetworkACLs(f *source.File) error {
	els, err := listAt(f, "NetworkAcls", "NetworkAcl")
	if err != nil {
		return err
	}
	for _, e := range els {
		var v struct {
			ID        string `json:"NetworkAclId"`
			Name      string `json:"NetworkAclName"`
			VpcID     string `json:"VpcId"`
			Status    string `json:"Status"`
			Resources struct {
				Resource []struct {
					ID     string `json:"ResourceId"`
					Type   string `json:"ResourceType"`
					Status string `json:"Status"`
				} `json:"Resource"`
			} `json:"Resources"`
		}
		if err := decodeAt(f, e.raw, e.off, &v); err != nil {
			return err
		}
		a := &NetworkACL{ID: v.ID, Name: v.Name, VpcID: v.VpcID, Status: v.Status, Pos: f.PosAt(e.off)}
		if a.ID == "" {
			return source.Errorf(a.Pos, "a network ACL without NetworkAclId")
		}
		for _, r := range v.Resources.Resource {
			if r.ID == "" {
				return source.Errorf(a.Pos, "network ACL %s: a resource without ResourceId", a.ID)
			}
			// Only vSwitches can be bound; an unbinding resource no longer filters.
			if (r.Type == "" || strings.EqualFold(r.Type, "VSwitch")) && !strings.EqualFold(r.Status, "UNBINDING") {
				a.VSwitches = append(a.VSwitches, r.ID)
			}
		}
		for _, d := range []struct {
			outer, inner, cidr string
			egress             bool
		}{{"IngressAclEntries", "IngressAclEntry", "SourceCidrIp", false}, {"EgressAclEntries", "EgressAclEntry", "DestinationCidrIp", true}} {
			ents, _, err := arrayAt(f, e.raw, e.off, []string{d.outer, d.inner})
			if err != nil {
				return err
			}
			var out []*NACLEntry
			for i, el := range ents {
				en, err := parseNACLEntry(f, el, a, d.cidr, d.egress, i+1)
				if err != nil {
					return err
				}
				out = append(out, en)
			}
			// The list is in priority order; an explicit Priority (newer API versions)
			// orders it where present.
			sort.SliceStable(out, func(i, j int) bool { return out[i].Index < out[j].Index })
			if d.egress {
				a.Egress = out
			} else {
				a.Ingress = out
			}
		}
		x.NetworkACLs = append(x.NetworkACLs, a)
	}
	return nil
}

func parseNACLEntry(f *source.File, el element, a *NetworkACL, cidrKey string, egress bool, index int) (*NACLEntry, error) {
	var m map[string]any
	if err := decodeAt(f, el.raw, el.off, &m); err != nil {
		return nil, err
	}
	pos := f.PosAt(el.off)
	str := func(k string) string { s, _ := m[k].(string); return s }
	en := &NACLEntry{ACL: a, ID: str("NetworkAclEntryId"), Name: str("NetworkAclEntryName"), Type: strings.ToLower(str("EntryType")),
		Desc: str("Description"), Index: index, Egress: egress, Proto: strings.ToLower(str("Protocol")), Pos: pos}
	if pr, ok := m["Priority"]; ok {
		n, err := strconv.Atoi(strings.Trim(fmt.Sprint(pr), `"`))
		if err != nil || n < 1 {
			return nil, source.Errorf(pos, "network ACL %s entry: Priority %v is not a positive number", a.ID, pr)
		}
		en.Index = n
	}
	switch strings.ToLower(str("Policy")) {
	case "accept":
		en.Accept = true
	case "drop":
	default:
		return nil, source.Errorf(pos, "network ACL %s entry %d: Policy %q is not accept or drop", a.ID, index, str("Policy"))
	}
	switch en.Proto {
	case "tcp", "udp", "icmp", "icmpv6", "gre", "all":
	default:
		return nil, source.Errorf(pos, "network ACL %s entry %d: Protocol %q is not tcp, udp, icmp, gre or all", a.ID, index, str("Protocol"))
	}
	from, to := -1, -1
	if p := str("Port"); p != "" {
		a1, b1, ok := strings.Cut(p, "/")
		x1, err1 := strconv.Atoi(a1)
		x2, err2 := strconv.Atoi(b1)
		if !ok || err1 != nil || err2 != nil || (x1 == -1) != (x2 == -1) || x1 > x2 || x2 > 65535 || x1 < -1 || x1 == 0 {
			return nil, source.Errorf(pos, "network ACL %s entry %d: Port %q is not FROM/TO (1/200, -1/-1)", a.ID, index, p)
		}
		from, to = x1, x2
	}
	en.From, en.To = from, to
	c := str(cidrKey)
	if c == "" {
		return nil, source.Errorf(pos, "network ACL %s entry %d has no %s", a.ID, index, cidrKey)
	}
	var err error
	if en.CIDR, err = prefix(f, el.off, c, "network ACL "+a.ID+" "+cidrKey); err != nil {
		return nil, err
	}
	return en, nil
}

// vSwitchOf is the vSwitch an address is in: its interface's, else the vSwitch whose
// CIDR holds it ("" outside the VPC's vSwitches).
func (p *Provider) vSwitchOf(node string, a netip.Addr) string {
	if node != "" {
		if n, _ := p.nicOf(node, a); n != nil {
			return n.VSwitchID
		}
	}
	if n := p.X.NICWith(a); n != nil {
		return n.VSwitchID
	}
	for _, v := range p.X.VSwitches {
		if v.CIDR.Contains(a) {
			return v.ID
		}
	}
	return ""
}

// naclNote is what a trace says when network ACLs were not exported.
func (p *Provider) naclNote() string {
	return fmt.Sprintf("network ACLs not exported (%s): not judged", p.X.file(FileNetworkACLs))
}

// naclCheck judges a packet at a vSwitch's network ACL in one direction. It is made only
// when the packet crosses the vSwitch's boundary, and for replies too: ACLs are
// stateless. ok is false when there is nothing to judge (no vSwitch, no ACL bound, or
// no export: the caller notes that).
func (p *Provider) naclCheck(nic *NIC, egress bool, pk packet.Packet, reply bool) (cloud.Decision, bool) {
	if nic == nil || nic.VSwitchID == "" || p.X.Has[FileNetworkACLs] == "" {
		return cloud.Decision{}, false
	}
	a := p.X.NetworkACLFor(nic.VSwitchID)
	if a == nil {
		return cloud.Decision{}, false
	}
	dir, word, peer := "ingress", "from", pk.Src
	if egress {
		dir, word, peer = "egress", "to", pk.Dst
	}
	step := "alibaba network ACL " + dir
	pk.Reply = reply
	e := a.Eval(egress, pk)
	d := cloud.Decision{Step: step, Object: "networkacl/" + a.ID, Pos: a.Pos, Note: fmt.Sprintf("vSwitch %s of %s", nic.VSwitchID, p.nicLabel(nic)), Packet: pk, Reply: reply}
	if e == nil {
		d.Verdict, d.Action, d.Code = cloud.Unknown, "unknown", "cloud-missing-data"
		d.Message = fmt.Sprintf("network ACL %s (of vSwitch %s) has no %s entry matching %s %s %s, not even a system entry: what it does is not known (%s)", a.ID, nic.VSwitchID, dir, flowLabel(pk), word, peer, p.X.file(FileNetworkACLs))
		d.Fix = fmt.Sprintf("export the ACL with its system entries: `%s`", command(FileNetworkACLs))
		return d, true
	}
	d.Object, d.Pos, d.Text = e.Object(), e.Pos, e.Label()
	if e.Accept {
		d.Action = "allow"
		return d, true
	}
	d.Verdict, d.Action, d.Code = cloud.Deny, "drop", "alibaba-network-acl"
	what := "the packet"
	if reply {
		what = "the reply (network ACLs are stateless: replies need their own entry, on the ephemeral ports)"
	}
	d.Message = fmt.Sprintf("%s (%s) of vSwitch %s drops %s: %s %s %s at %s: it is the first %s entry, in priority order, that matches",
		e.Object(), e.Label(), nic.VSwitchID, what, flowLabel(pk), word, peer, p.nicLabel(nic), dir)
	proto, rng := strings.ToLower(packet.ProtoName(pk.Proto)), "-1/-1"
	switch {
	case reply && pk.HasPorts():
		rng = "1024/65535"
	case pk.HasPorts() && !egress && pk.DPort >= 30000 && pk.DPort <= 32767 && p.nodeOf(nic) != "":
		rng = "30000/32767"
	case pk.HasPorts():
		rng = fmt.Sprintf("%d/%d", pk.DPort, pk.DPort)
	}
	if !pk.HasPorts() && pk.Proto != packet.ICMP && pk.Proto != GRE {
		proto = "all"
	}
	_, cidr, _ := p.peerObject(nic, !egress, pk)
	if strings.HasPrefix(cidr, "sg-") {
		cidr = netip.PrefixFrom(peer, peer.BitLen()).String()
	}
	entry := fmt.Sprintf("accept %s %s %s %s", proto, rng, word, cidr)
	call, key := "Ingress", "SourceCidrIp"
	if egress {
		call, key = "Egress", "DestinationCidrIp"
	}
	d.Fix = fmt.Sprintf("add the %s entry `%s` to %s before entry %d: aliyun vpc UpdateNetworkAclEntries --RegionId <region> --NetworkAclId %s --Update%sAclEntries true --%sAclEntries.1.Policy accept --%sAclEntries.1.Protocol %s --%sAclEntries.1.Port %s --%sAclEntries.1.%s %s (then list the existing entries after it, in order: the list replaces them)",
		dir, entry, a.ID, e.Index, a.ID, call, call, call, proto, call, rng, call, key, cidr)
	return d, true
}
