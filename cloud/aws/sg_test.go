package aws

import (
	"net/netip"
	"testing"

	"github.com/netsim/netsim/rules/packet"
)

const sgExport = `{"SecurityGroups": [
 {"GroupId": "sg-web", "GroupName": "web",
  "IpPermissions": [
   {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
   {"IpProtocol": "tcp", "FromPort": 8000, "ToPort": 8080, "UserIdGroupPairs": [{"GroupId": "sg-app"}]},
   {"IpProtocol": "icmp", "FromPort": 8, "ToPort": -1, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
   {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "PrefixListIds": [{"PrefixListId": "pl-office"}]},
   {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "Ipv6Ranges": [{"CidrIpv6": "2001:db8::/32"}]}],
  "IpPermissionsEgress": [
   {"IpProtocol": "udp", "FromPort": 53, "ToPort": 53, "IpRanges": [{"CidrIp": "10.0.0.2/32"}]}]},
 {"GroupId": "sg-dns", "GroupName": "dns",
  "IpPermissions": [{"IpProtocol": "udp", "FromPort": 53, "ToPort": 53, "IpRanges": [{"CidrIp": "10.0.0.0/16"}]}],
  "IpPermissionsEgress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "192.168.0.0/16"}]}]},
 {"GroupId": "sg-lists", "IpPermissions": [
   {"IpProtocol": "6", "FromPort": 5432, "ToPort": 5432, "PrefixListIds": [{"PrefixListId": "pl-unexported"}]}]}
]}`

const eniExport = `{"NetworkInterfaces": [
 {"NetworkInterfaceId": "eni-app", "SubnetId": "subnet-a", "VpcId": "vpc-1", "PrivateIpAddress": "10.0.1.5",
  "PrivateIpAddresses": [{"PrivateIpAddress": "10.0.1.5", "Primary": true}, {"PrivateIpAddress": "10.0.1.6"}],
  "Groups": [{"GroupId": "sg-app"}]},
 {"NetworkInterfaceId": "eni-other", "SubnetId": "subnet-a", "VpcId": "vpc-1", "PrivateIpAddress": "10.0.1.9",
  "Groups": [{"GroupId": "sg-dns"}]}
]}`

func TestSecurityGroups(t *testing.T) {
	x := parse(t, map[string]string{
		FileGroups: sgExport, FileENIs: eniExport,
		DirPLEntries + "/pl-office.json": `{"Entries": [{"Cidr": "192.0.2.0/24"}]}`,
	})
	web := []GroupRef{{ID: "sg-web"}}
	both := []GroupRef{{ID: "sg-web"}, {ID: "sg-dns"}}
	cases := []struct {
		name    string
		groups  []GroupRef
		ingress bool
		p       packet.Packet
		peer    Peer
		allowed bool
		rule    int
		unknown bool
	}{
		{"cidr rule", web, true, tcp("198.51.100.1", "10.0.1.1", 80), Peer{}, true, 1, false},
		{"other port", web, true, tcp("198.51.100.1", "10.0.1.1", 81), Peer{}, false, 0, false},
		{"udp is not tcp", web, true, udp("198.51.100.1", "10.0.1.1", 80), Peer{}, false, 0, false},
		{"union: the second group admits", both, true, udp("10.0.3.3", "10.0.1.1", 53), Peer{}, true, 1, false},
		{"union: neither admits", both, true, udp("10.1.3.3", "10.0.1.1", 53), Peer{}, false, 0, false},
		{"group reference: an interface's primary IP", web, true, tcp("10.0.1.5", "10.0.1.1", 8080), Peer{}, true, 2, false},
		{"group reference: its secondary IP", web, true, tcp("10.0.1.6", "10.0.1.1", 8000), Peer{}, true, 2, false},
		{"group reference: port range edge", web, true, tcp("10.0.1.6", "10.0.1.1", 8081), Peer{}, false, 0, false},
		{"group reference: an interface without the group", web, true, tcp("10.0.1.9", "10.0.1.1", 8080), Peer{}, false, 0, false},
		{"group reference: an address no interface holds (a pod)", web, true, tcp("10.244.1.2", "10.0.1.1", 8080), Peer{}, false, 0, false},
		{"group reference: groups the peer is known to carry", web, true, tcp("10.0.200.1", "10.0.1.1", 8080), Peer{Groups: []string{"sg-app"}}, true, 2, false},
		{"icmp echo request, any code", web, true, icmp("10.9.9.9", "10.0.1.1", 8, 0), Peer{}, true, 3, false},
		{"icmp other type", web, true, icmp("10.9.9.9", "10.0.1.1", 3, 3), Peer{}, false, 0, false},
		{"prefix list entry", web, true, tcp("192.0.2.7", "10.0.1.1", 22), Peer{}, true, 4, false},
		{"prefix list, outside its entries", web, true, tcp("192.0.3.7", "10.0.1.1", 22), Peer{}, false, 0, false},
		{"prefix list without exported entries is unknown", []GroupRef{{ID: "sg-lists"}}, true, tcp("192.0.3.7", "10.0.1.1", 5432), Peer{}, false, 0, true},
		{"ipv6 range", web, true, tcp("2001:db8::1", "2001:db8:1::1", 443), Peer{}, true, 5, false},
		{"egress matches the destination", web, false, udp("10.0.1.1", "10.0.0.2", 53), Peer{}, true, 1, false},
		{"egress to another address", web, false, udp("10.0.1.1", "10.0.0.3", 53), Peer{}, false, 0, false},
		{"egress all traffic (-1)", both, false, tcp("10.0.1.1", "192.168.4.4", 5000), Peer{}, true, 1, false},
		{"a group not exported is unknown", []GroupRef{{ID: "sg-gone"}}, true, tcp("1.1.1.1", "10.0.1.1", 80), Peer{}, false, 0, true},
	}
	for _, c := range cases {
		peer := c.peer
		if c.ingress {
			peer.Addr = c.p.Src
		} else {
			peer.Addr = c.p.Dst
		}
		r := x.EvalGroups(c.groups, c.ingress, c.p, peer)
		if r.Allowed != c.allowed || (r.Unknown != "") != c.unknown || (c.allowed && r.Rule.Index != c.rule) {
			t.Errorf("%s: allowed %v unknown %q rule %+v; want allowed %v unknown %v rule %d", c.name, r.Allowed, r.Unknown, r.Rule, c.allowed, c.unknown, c.rule)
		}
	}
}

func TestPermissionLabel(t *testing.T) {
	x := parse(t, map[string]string{FileGroups: sgExport})
	g := x.Groups["sg-web"]
	for i, want := range []string{"TCP 80 from 0.0.0.0/0", "TCP 8000-8080 from sg-app", "ICMP type 8 from 10.0.0.0/8", "TCP 22 from pl-office", "TCP 443 from 2001:db8::/32"} {
		if got := g.Ingress[i].Label(true); got != want {
			t.Errorf("rule %d: %q, want %q", i+1, got, want)
		}
	}
	if !netip.MustParsePrefix("2001:db8::/32").IsValid() {
		t.Fatal()
	}
}
