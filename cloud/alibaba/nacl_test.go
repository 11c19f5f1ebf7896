package alibaba

import (
	"fmt"
	"strings"
	"testing"

	"github.com/netsim/netsim/cloud"
	"github.com/netsim/netsim/model/source"
	"github.com/netsim/netsim/rules/packet"
)

// nacl renders a DescribeNetworkAcls response with one ACL bound to vsw: ingress and
// egress are the entry objects, in order.
func nacl(vsw string, ingress, egress []string) string {
	return fmt.Sprintf("{\"NetworkAcls\": {\"NetworkAcl\": [\n{\"NetworkAclId\": \"nacl-1\", \"VpcId\": \"vpc-1\",\n \"Resources\": {\"Resource\": [{\"ResourceId\": %q, \"ResourceType\": \"VSwitch\", \"Status\": \"BINDED\"}]},\n \"IngressAclEntries\": {\"IngressAclEntry\": [\n%s\n]},\n \"EgressAclEntries\": {\"EgressAclEntry\": [\n%s\n]}}\n]}}",
		vsw, strings.Join(ingress, ",\n"), strings.Join(egress, ",\n"))
}

// nentry renders one entry: "accept tcp 1/200 10.0.0.0/8 custom".
func nentry(egress bool, policy, proto, port, cidr, typ string) string {
	key := "SourceCidrIp"
	if egress {
		key = "DestinationCidrIp"
	}
	return fmt.Sprintf(`{"NetworkAclEntryId": "nae-%s-%s", "Policy": %q, "Protocol": %q, "Port": %q, %q: %q, "EntryType": %q}`, policy, strings.ReplaceAll(port, "/", "-"), policy, proto, port, key, cidr, typ)
}

var (
	sysIn  = nentry(false, "accept", "all", "-1/-1", "0.0.0.0/0", "system")
	sysOut = nentry(true, "accept", "all", "-1/-1", "0.0.0.0/0", "system")
	openSG = group("sg-a", "Accept", "", rule("ingress", "accept", "ALL", "-1/-1", "cidr", "0.0.0.0/0", 1))
	podSG  = group("sg-pod", "", "", rule("ingress", "accept", "ALL", "-1/-1", "cidr", "0.0.0.0/0", 1))
)

func TestNetworkACL(t *testing.T) {
	groups := map[string]string{sgFile("sg-a"): openSG, sgFile("sg-b"): group("sg-b", "", ""), sgFile("sg-pod"): podSG}
	with := func(acl string) map[string]string {
		m := map[string]string{FileNetworkACLs: acl}
		for k, v := range groups {
			m[k] = v
		}
		return m
	}
	dropPod := nacl("vsw-2", []string{nentry(false, "drop", "tcp", "8000/9000", "10.0.0.0/24", "custom"), sysIn}, []string{sysOut})
	for _, c := range []struct {
		name    string
		files   map[string]string
		leg     cloud.Leg
		ingress bool
		want    string // the verdicts, or "" for a deny naming want2
		deny    string // text the deny's message must hold
		note    string // text some decision's note must hold
	}{
		{name: "drop entry first by order", files: with(dropPod), leg: cloud.Leg{From: "na", To: "nb", Packet: tcp("10.0.0.2", "10.0.1.10", 8080)}, ingress: true,
			deny: "networkacl/nacl-1 ingress entry 1 (nae-drop-8000-9000)"},
		{name: "accept first wins over a later drop", files: with(nacl("vsw-2", []string{nentry(false, "accept", "tcp", "8080/8080", "10.0.0.2/32", "custom"), nentry(false, "drop", "all", "-1/-1", "0.0.0.0/0", "custom"), sysIn}, []string{sysOut})),
			leg: cloud.Leg{From: "na", To: "nb", Packet: tcp("10.0.0.2", "10.0.1.10", 8080)}, ingress: true,
			want: "alibaba network ACL ingress=allow networkacl/nacl-1 ingress entry 1 (nae-accept-8080-8080); alibaba security group ingress=allow securitygroup/sg-pod ingress rule 1"},
		{name: "system default entry admits", files: with(dropPod), leg: cloud.Leg{From: "na", To: "nb", Packet: tcp("10.0.0.2", "10.0.1.10", 443)}, ingress: true,
			want: "alibaba network ACL ingress=allow networkacl/nacl-1 ingress entry 2 (nae-accept--1--1) [system]; alibaba security group ingress=allow securitygroup/sg-pod ingress rule 1"},
		{name: "same vSwitch: not judged", files: with(nacl("vsw-1", []string{nentry(false, "drop", "all", "-1/-1", "0.0.0.0/0", "custom")}, []string{nentry(true, "drop", "all", "-1/-1", "0.0.0.0/0", "custom")})),
			leg: cloud.Leg{From: "na", To: "nb", Packet: tcp("10.0.0.2", "10.0.0.3", 8080)}, ingress: true,
			want: "alibaba security group ingress=allow securitygroup/sg-a ingress rule 1"},
		{name: "egress across vSwitches judged", files: with(nacl("vsw-1", []string{sysIn}, []string{nentry(true, "drop", "tcp", "1/65535", "10.0.1.0/24", "custom"), sysOut})),
			leg:  cloud.Leg{From: "na", To: "nb", Packet: tcp("10.0.0.2", "10.0.1.10", 8080)},
			deny: "drops the packet: TCP port 8080 to 10.0.1.10"},
		{name: "stateless: the reply is judged again", files: with(nacl("vsw-2", []string{sysIn}, []string{nentry(true, "drop", "tcp", "1024/65535", "0.0.0.0/0", "custom"), sysOut})),
			leg:  cloud.Leg{From: "nb", To: "na", Reply: true, Packet: reply(tcp("10.0.0.2", "10.0.1.10", 8080))},
			deny: "the reply (network ACLs are stateless"},
		{name: "no entry matches: unknown", files: with(nacl("vsw-2", []string{nentry(false, "accept", "udp", "53/53", "0.0.0.0/0", "custom")}, nil)),
			leg: cloud.Leg{From: "na", To: "nb", Packet: tcp("10.0.0.2", "10.0.1.10", 8080)}, ingress: true,
			want: "alibaba network ACL ingress=unknown networkacl/nacl-1; alibaba security group ingress=allow securitygroup/sg-pod ingress rule 1"},
		{name: "missing file: noted, not judged", files: groups, leg: cloud.Leg{From: "na", To: "nb", Packet: tcp("10.0.0.2", "10.0.1.10", 8080)},
			want: "alibaba security group egress=", note: "network ACLs not exported (cloud/alibaba/DescribeNetworkAcls.json): not judged"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := provider(t, c.files)
			var ds []cloud.Decision
			if c.ingress {
				ds = p.Ingress(c.leg)
			} else {
				ds = p.Egress(c.leg)
			}
			if c.deny != "" {
				var d *cloud.Decision
				for i := range ds {
					if ds[i].Verdict == cloud.Deny {
						d = &ds[i]
					}
				}
				if d == nil || d.Code != "alibaba-network-acl" || !strings.Contains(d.Object+" "+d.Message, c.deny) || !strings.Contains(d.Fix, "aliyun vpc UpdateNetworkAclEntries") || d.Pos.Line == 0 {
					t.Fatalf("want a network ACL deny with %q and an aliyun fix at a line; got %s\n%+v", c.deny, verdicts(ds), ds)
				}
				return
			}
			if got := verdicts(ds); !strings.HasPrefix(got, c.want) {
				t.Errorf("got %s\nwant %s", got, c.want)
			}
			if c.note != "" {
				found := false
				for _, d := range ds {
					found = found || strings.Contains(d.Note, c.note)
				}
				if !found {
					t.Errorf("no note %q in %+v", c.note, ds)
				}
			}
		})
	}
}

// TestNetworkACLFix: the proposed entry covers the node-port range for a node port, and
// the ephemeral ports for a reply.
func TestNetworkACLFix(t *testing.T) {
	p := provider(t, map[string]string{sgFile("sg-a"): openSG, sgFile("sg-b"): group("sg-b", "", ""),
		FileNetworkACLs: nacl("vsw-1", []string{nentry(false, "drop", "tcp", "30000/32767", "0.0.0.0/0", "custom"), sysIn}, []string{nentry(true, "drop", "tcp", "1/65535", "0.0.0.0/0", "custom"), sysOut})})
	ds := p.Ingress(cloud.Leg{To: "na", Packet: tcp("198.51.100.7", "10.0.0.2", 30080)})
	if d := ds[0]; d.Verdict != cloud.Deny || !strings.Contains(d.Fix, "accept tcp 30000/32767 from 0.0.0.0/0") || !strings.Contains(d.Fix, "--IngressAclEntries.1.Port 30000/32767") {
		t.Errorf("node port: %+v", d)
	}
	ds = p.Egress(cloud.Leg{From: "na", Reply: true, Packet: reply(tcp("198.51.100.7", "10.0.0.2", 30080))})
	if d := last(ds); d.Verdict != cloud.Deny || !strings.Contains(d.Fix, "accept tcp 1024/65535 to 0.0.0.0/0") {
		t.Errorf("reply: %+v", d)
	}
}

func TestNetworkACLParseErrors(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{nacl("vsw-1", []string{nentry(false, "allow", "tcp", "1/2", "0.0.0.0/0", "custom")}, nil), `:5: network ACL nacl-1 entry 1: Policy "allow" is not accept or drop`},
		{nacl("vsw-1", []string{sysIn, nentry(false, "accept", "tcp", "0/2", "0.0.0.0/0", "custom")}, nil), `:6: network ACL nacl-1 entry 2: Port "0/2" is not FROM/TO`},
		{nacl("vsw-1", nil, []string{nentry(true, "accept", "sctp", "-1/-1", "0.0.0.0/0", "custom")}), `:8: network ACL nacl-1 entry 1: Protocol "sctp"`},
		{nacl("vsw-1", nil, []string{nentry(true, "accept", "all", "-1/-1", "10.0.0.300/8", "custom")}), `:8: network ACL nacl-1 DestinationCidrIp "10.0.0.300/8" is not a CIDR`},
		{nacl("vsw-1", []string{`{"Policy": "accept", "Protocol": "all", "Port": "-1/-1"}`}, nil), `:5: network ACL nacl-1 entry 1 has no SourceCidrIp`},
		{"{\"NetworkAcls\": {\"NetworkAcl\": [\n{\"VpcId\": \"vpc-1\"}]}}", ":2: a network ACL without NetworkAclId"},
		{"{\"NetworkAcls\": {\"NetworkAcl\": [\n{\"NetworkAclId\": 7}]}}", "DescribeNetworkAcls.json:2"},
	} {
		_, err := Parse("cloud/alibaba", map[string]*source.File{FileNetworkACLs: source.NewFile("cloud/alibaba/"+FileNetworkACLs, []byte(c.text))})
		if err == nil || !strings.Contains(err.Error(), "cloud/alibaba/DescribeNetworkAcls.json") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s\n: got %v, want %q", c.text, err, c.want)
		}
	}
}

// reply is the packet going back: addresses and ports swapped, on an ephemeral port.
func reply(pk packet.Packet) packet.Packet {
	pk.Src, pk.Dst = pk.Dst, pk.Src
	pk.SPort, pk.DPort = pk.DPort, 40000
	pk.Reply = true
	return pk
}

// TestNetworkACLNoteOnce: without the export the note is on the leg leaving the node (or
// arriving from outside), not on the reply nor on the receiving node's leg.
func TestNetworkACLNoteOnce(t *testing.T) {
	p := provider(t, map[string]string{sgFile("sg-a"): openSG, sgFile("sg-b"): group("sg-b", "", ""), sgFile("sg-pod"): podSG})
	noted := func(ds []cloud.Decision) bool {
		for _, d := range ds {
			if strings.Contains(d.Note, "network ACLs not exported") {
				return true
			}
		}
		return false
	}
	pk := tcp("10.0.0.2", "10.0.1.10", 8080)
	if !noted(p.Egress(cloud.Leg{From: "na", To: "nb", Packet: pk})) {
		t.Error("egress across vSwitches: no note")
	}
	if noted(p.Ingress(cloud.Leg{From: "na", To: "nb", Packet: pk})) {
		t.Error("ingress from a node: noted twice on the path")
	}
	if noted(p.Egress(cloud.Leg{From: "nb", To: "na", Reply: true, Packet: reply(pk)})) {
		t.Error("reply: noted again")
	}
	if !noted(p.Ingress(cloud.Leg{To: "na", Packet: tcp("198.51.100.7", "10.0.0.2", 30080)})) {
		t.Error("from outside the nodes: no note")
	}
}

// TestNetworkACLNoVSwitch: with ACLs exported, an interface whose vSwitch is not known is
// unknown at the ACL step, never allowed.
func TestNetworkACLNoVSwitch(t *testing.T) {
	nics := strings.Replace(nicsJSON, `"VSwitchId": "vsw-1", "PrivateIpAddress": "10.0.0.2"`, `"PrivateIpAddress": "10.0.0.2"`, 1)
	insts := strings.Replace(instancesJSON, `"VSwitchId": "vsw-1", "PrivateIpAddress": {"IpAddress": ["10.0.0.2"]}`, `"PrivateIpAddress": {"IpAddress": ["10.0.0.2"]}`, 1)
	p := provider(t, map[string]string{FileNICs: nics, FileInstances: insts, sgFile("sg-a"): openSG, sgFile("sg-b"): group("sg-b", "", ""),
		FileNetworkACLs: nacl("vsw-1", []string{sysIn}, []string{sysOut})})
	ds := p.Egress(cloud.Leg{From: "na", Packet: tcp("10.0.0.2", "10.0.1.10", 8080)})
	if d := last(ds); d.Verdict != cloud.Unknown || d.Step != "alibaba network ACL egress" || !strings.Contains(d.Message, "DescribeNetworkAcls.json") {
		t.Errorf("got %s", verdicts(ds))
	}
}
