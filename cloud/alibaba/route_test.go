package alibaba

import (
	"fmt"
	"strings"
	"testing"

	"github.com/netsim/netsim/cloud"
)

// tables is a system table vtb-sys bound to vsw-1 and vsw-2 of vpc-1, and a custom
// table vtb-custom bound to nothing unless bind says.
func tables(bind string) string {
	return fmt.Sprintf(`{"RouterTableList": {"RouterTableListType": [
 {"RouteTableId": "vtb-sys", "RouteTableType": "System", "VpcId": "vpc-1", "VSwitchIds": {"VSwitchId": ["vsw-1", "vsw-2"]}},
 {"RouteTableId": "vtb-custom", "RouteTableType": "Custom", "VpcId": "vpc-1", "VSwitchIds": {"VSwitchId": [%s]}}
]}}`, bind)
}

// entry renders a route entry.
func entry(dest, hopType, hopID, status string) string {
	hops := `{"NextHop": []}`
	if hopType != "" {
		hops = fmt.Sprintf(`{"NextHop": [{"NextHopType": %q, "NextHopId": %q, "Enabled": 1}]}`, hopType, hopID)
	}
	typ := "Custom"
	if hopType == "" {
		typ = "System"
	}
	return fmt.Sprintf(`{"RouteEntryId": "rte-%s", "DestinationCidrBlock": %q, "Type": %q, "Status": %q, "NextHops": %s}`, strings.NewReplacer("/", "-", ".", "-").Replace(dest), dest, typ, status, hops)
}

func entries(es ...string) string {
	return "{\"RouteEntrys\": {\"RouteEntry\": [\n" + strings.Join(es, ",\n") + "\n]}}"
}

const natsJSON = `{"NatGateways": {"NatGateway": [
 {"NatGatewayId": "ngw-1", "Status": "Available", "VpcId": "vpc-1", "NetworkType": "internet", "SnatTableIds": {"SnatTableId": ["stb-1"]},
  "IpLists": {"IpList": [{"IpAddress": "47.0.0.100"}, {"IpAddress": "47.0.0.101"}]}},
 {"NatGatewayId": "ngw-down", "Status": "Creating", "VpcId": "vpc-1", "SnatTableIds": {"SnatTableId": []}}
]}}`

func snat(es ...string) string {
	return "{\"SnatTableEntries\": {\"SnatTableEntry\": [\n" + strings.Join(es, ",\n") + "\n]}}"
}

// TestRoute follows packets from node na (i-a in vsw-1) through the route tables.
func TestAlibabaRoute(t *testing.T) {
	sys := func(es ...string) map[string]string {
		return map[string]string{FileRouteTables: tables(""), DirRouteEntries + "/vtb-sys.json": entries(es...), FileNATs: natsJSON,
			DirSnatEntries + "/stb-1.json": snat(`{"SnatEntryId": "snat-vsw", "SourceVSwitchId": "vsw-1", "SnatIp": "47.0.0.100", "Status": "Available"}`,
				`{"SnatEntryId": "snat-ecs", "SourceCIDR": "10.0.0.2/32", "SnatIp": "47.0.0.101", "Status": "Available"}`,
				`{"SnatEntryId": "snat-pending", "SourceCIDR": "10.0.0.3/32", "SnatIp": "47.0.0.101", "Status": "Pending"}`)}
	}
	base := []string{entry("10.0.0.0/24", "", "", "Available"), entry("0.0.0.0/0", "NatGateway", "ngw-1", "Available")}
	with := func(es ...string) map[string]string { return sys(append(append([]string{}, base...), es...)...) }
	cases := []struct {
		name   string
		files  map[string]string
		leg    cloud.Leg
		want   cloud.Verdict
		node   string // landing node
		beyond string // landing Beyond contains
		msg    string // the last decision's Message+Text+Object contains
	}{
		{name: "system route of the vSwitch: local delivery", files: with(), leg: cloud.Leg{From: "na", To: "nb", Packet: tcp("10.0.0.2", "10.0.0.3", 80)}, want: cloud.Allow, node: "nb", msg: "local"},
		{name: "implied system route of vsw-2 (DescribeVSwitches) to a Terway pod", files: with(), leg: cloud.Leg{From: "na", To: "nb", Packet: tcp("10.0.0.2", "10.0.1.10", 80)}, want: cloud.Allow, node: "nb", msg: "10.0.1.0/24 -> local vsw-2"},
		{name: "longest prefix: Instance route for a pod CIDR", files: with(entry("10.244.2.0/24", "Instance", "i-b", "Available"), entry("10.244.0.0/16", "Instance", "i-c", "Available")),
			leg: cloud.Leg{From: "na", To: "nb", Packet: tcp("10.244.1.5", "10.244.2.7", 80)}, want: cloud.Allow, node: "nb", msg: "10.244.2.0/24 -> Instance i-b"},
		{name: "NetworkInterface next hop", files: with(entry("10.244.2.0/24", "NetworkInterface", "eni-b", "Available")),
			leg: cloud.Leg{From: "na", To: "nb", Packet: tcp("10.244.1.5", "10.244.2.7", 80)}, want: cloud.Allow, node: "nb"},
		{name: "Instance route to the wrong node: misroute", files: with(entry("10.244.2.0/24", "Instance", "i-a", "Available")),
			leg: cloud.Leg{From: "na", To: "nb", Packet: tcp("10.244.1.5", "10.244.2.7", 80)}, want: cloud.Misroute, msg: "not by the next hop the node chose"},
		{name: "Instance next hop released", files: with(entry("10.244.2.0/24", "Instance", "i-gone", "Available")),
			leg: cloud.Leg{From: "na", To: "nb", Packet: tcp("10.244.1.5", "10.244.2.7", 80)}, want: cloud.NoRoute, msg: "i-gone"},
		{name: "pod CIDR with no route: the default route sends it to the internet", files: with(),
			leg: cloud.Leg{From: "na", To: "nb", Packet: tcp("10.244.1.5", "10.244.2.7", 80)}, want: cloud.Misroute, msg: "NextHopType Instance --NextHopId i-b"},
		{name: "a route not Available", files: with(entry("10.244.2.0/24", "Instance", "i-b", "Pending")),
			leg: cloud.Leg{From: "na", To: "nb", Packet: tcp("10.244.1.5", "10.244.2.7", 80)}, want: cloud.NoRoute, msg: "is Pending, not Available"},
		{name: "HaVip", files: with(entry("192.168.9.0/24", "HaVip", "havip-1", "Available")), leg: cloud.Leg{From: "na", Packet: tcp("10.0.0.2", "192.168.9.1", 80)}, want: cloud.Allow, beyond: "HaVip havip-1"},
		{name: "RouterInterface (Express Connect, VBR)", files: with(entry("172.16.0.0/12", "RouterInterface", "ri-1", "Available")), leg: cloud.Leg{From: "na", Packet: tcp("10.0.0.2", "172.16.5.10", 443)}, want: cloud.Allow, beyond: "RouterInterface ri-1"},
		{name: "VpcPeer", files: with(entry("10.50.0.0/16", "VpcPeer", "pcc-1", "Available")), leg: cloud.Leg{From: "na", Packet: tcp("10.0.0.2", "10.50.1.20", 5432)}, want: cloud.Allow, beyond: "the peer VPC"},
		{name: "VpnGateway", files: with(entry("172.16.0.0/12", "VpnGateway", "vpn-1", "Available")), leg: cloud.Leg{From: "na", Packet: tcp("10.0.0.2", "172.16.5.10", 443)}, want: cloud.Allow, beyond: "VPN"},
		{name: "transit router (CEN)", files: with(entry("10.60.0.0/16", "Attachment", "tr-attach-1", "Available")), leg: cloud.Leg{From: "na", Packet: tcp("10.0.0.2", "10.60.0.9", 443)}, want: cloud.Allow, beyond: "transit router"},
		{name: "a next hop type netsim does not know: unknown, not beyond the VPC", files: with(entry("10.70.0.0/16", "GatewayEndpoint", "vpce-1", "Available")), leg: cloud.Leg{From: "na", Packet: tcp("10.0.0.2", "10.70.0.9", 443)}, want: cloud.Unknown, msg: `next hop type "GatewayEndpoint"`},
		{name: "an ECMP route whose hops are all disabled: unknown", files: with(strings.Replace(entry("10.70.0.0/16", "VpnGateway", "vpn-1", "Available"), `"Enabled": 1`, `"Enabled": 0`, 1)), leg: cloud.Leg{From: "na", Packet: tcp("10.0.0.2", "10.70.0.9", 443)}, want: cloud.Unknown, msg: "no enabled next hop"},
		{name: "private address only the default route covers", files: with(), leg: cloud.Leg{From: "na", Packet: tcp("10.0.0.2", "172.16.5.10", 443)}, want: cloud.NoRoute, msg: "does not route private addresses"},
		{name: "no route at all", files: sys(entry("10.0.0.0/24", "", "", "Available")), leg: cloud.Leg{From: "na", Packet: tcp("10.0.0.2", "93.184.216.34", 443)}, want: cloud.NoRoute, msg: "CreateRouteEntry"},
		{name: "NAT gateway: the ECS-granular entry beats the vSwitch entry", files: with(), leg: cloud.Leg{From: "na", Packet: tcp("10.0.0.2", "93.184.216.34", 443)}, want: cloud.Allow, beyond: "internet through ngw-1", msg: "snat-ecs"},
		{name: "NAT gateway: the vSwitch entry (a Pending /32 is skipped)", files: with(), leg: cloud.Leg{From: "nb", Packet: tcp("10.0.0.3", "93.184.216.34", 443)}, want: cloud.Allow, msg: "snat-vsw"},
		{name: "NAT gateway: no entry covers a pod address", files: with(), leg: cloud.Leg{From: "na", Packet: tcp("10.244.1.5", "93.184.216.34", 443)}, want: cloud.NoRoute, msg: "no SNAT entry"},
		{name: "NAT gateway not Available", files: sys(entry("0.0.0.0/0", "NatGateway", "ngw-down", "Available")), leg: cloud.Leg{From: "na", Packet: tcp("10.0.0.2", "93.184.216.34", 443)}, want: cloud.NoRoute, msg: "Creating"},
		{name: "NAT gateway's SNAT table not exported", files: func() map[string]string {
			f := with()
			f[DirSnatEntries+"/stb-1.json"] = ""
			return f
		}(), leg: cloud.Leg{From: "na", Packet: tcp("10.0.0.2", "93.184.216.34", 443)}, want: cloud.Unknown, msg: "DescribeSnatTableEntries/stb-1.json"},
		{name: "NAT gateways not exported", files: func() map[string]string {
			f := with()
			f[FileNATs] = ""
			return f
		}(), leg: cloud.Leg{From: "na", Packet: tcp("10.0.0.2", "93.184.216.34", 443)}, want: cloud.Unknown, msg: "DescribeNatGateways.json"},
		{name: "Ipv4Gateway: a source without a public IP", files: sys(entry("0.0.0.0/0", "Ipv4Gateway", "ipv4gw-1", "Available")), leg: cloud.Leg{From: "na", Packet: tcp("10.0.0.2", "93.184.216.34", 443)}, want: cloud.Deny, msg: "has none"},
		{name: "a public IP goes out by itself", files: sys(entry("0.0.0.0/0", "Ipv4Gateway", "ipv4gw-1", "Available")), leg: cloud.Leg{Packet: tcp("10.0.0.4", "93.184.216.34", 443)}, want: cloud.Allow, beyond: "47.0.0.4"},
		{name: "the custom table bound to the vSwitch wins over the system table", files: map[string]string{FileRouteTables: tables(`"vsw-1"`),
			DirRouteEntries + "/vtb-sys.json": entries(base...), DirRouteEntries + "/vtb-custom.json": entries(entry("10.0.0.0/24", "", "", "Available"))},
			leg: cloud.Leg{From: "na", Packet: tcp("10.0.0.2", "93.184.216.34", 443)}, want: cloud.NoRoute, msg: "vsw-1's custom table"},
		{name: "route entries not exported", files: map[string]string{FileRouteTables: tables("")},
			leg: cloud.Leg{From: "na", Packet: tcp("10.0.0.2", "93.184.216.34", 443)}, want: cloud.Unknown, msg: "DescribeRouteEntryList/vtb-sys.json"},
		{name: "route tables not exported", files: map[string]string{},
			leg: cloud.Leg{From: "na", Packet: tcp("10.0.0.2", "93.184.216.34", 443)}, want: cloud.Unknown, msg: "DescribeRouteTableList.json"},
		{name: "pod CIDR inside a vSwitch CIDR: overlap", files: with(entry("10.244.0.0/17", "", "", "Available")),
			leg: cloud.Leg{From: "na", To: "nb", Packet: tcp("10.244.1.5", "10.244.2.7", 80)}, want: cloud.NoRoute, msg: "overlaps the vSwitch CIDR 10.244.0.0/17"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := provider(t, c.files)
			ds, land := p.Route(c.leg)
			v := cloud.Allow
			for _, d := range ds {
				if d.Blocks() {
					v = d.Verdict
					break
				}
			}
			d := last(ds)
			text := d.Message + " " + d.Text + " " + d.Object + " " + d.Fix + " " + d.Note
			if v != c.want || land.Node != c.node || !strings.Contains(land.Beyond, c.beyond) || !strings.Contains(text, c.msg) {
				t.Errorf("got %s landing %+v: %s\n%s\nwant %s node %q beyond %q msg %q", v, land, verdicts(ds), text, c.want, c.node, c.beyond, c.msg)
			}
		})
	}
}

// TestSnatPacket: the NAT gateway's translation changes the packet's source.
func TestAlibabaSnatPacket(t *testing.T) {
	p := provider(t, map[string]string{FileRouteTables: tables(""), DirRouteEntries + "/vtb-sys.json": entries(entry("0.0.0.0/0", "NatGateway", "ngw-1", "")), FileNATs: natsJSON,
		DirSnatEntries + "/stb-1.json": snat(`{"SnatEntryId": "snat-wide", "SourceCIDR": "10.0.0.0/16", "SnatIp": "47.0.0.100,47.0.0.101"}`)})
	ds, _ := p.Route(cloud.Leg{From: "na", Packet: tcp("10.0.0.2", "93.184.216.34", 443)})
	d := last(ds)
	if d.Action != "snat" || d.Packet.Src.String() != "47.0.0.100" || d.Pos.Line != 2 {
		t.Errorf("snat decision %+v", d)
	}
}
