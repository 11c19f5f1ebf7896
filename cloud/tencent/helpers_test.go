package tencent

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/netsim/netsim/cloud"
	"github.com/netsim/netsim/cloud/cloudtest"
	"github.com/netsim/netsim/rules/packet"
)

// The fixture: a VPC with two node instances (ins-a 10.0.1.11 with a public IP, ins-b
// 10.0.1.12), a VPC-CNI pod ENI on ins-b (10.0.1.50), a database instance (10.0.2.20),
// GlobalRouter pod routes, a NAT gateway and a CLB.
const (
	instancesJSON = `{"InstanceSet": [
 {"InstanceId": "ins-a", "PrivateIpAddresses": ["10.0.1.11"], "PublicIpAddresses": ["203.0.113.11"], "SecurityGroupIds": ["sg-node", "sg-base"], "VirtualPrivateCloud": {"VpcId": "vpc-1", "SubnetId": "subnet-n"}},
 {"InstanceId": "ins-b", "PrivateIpAddresses": ["10.0.1.12"], "SecurityGroupIds": ["sg-node", "sg-base"], "VirtualPrivateCloud": {"VpcId": "vpc-1", "SubnetId": "subnet-n"}},
 {"InstanceId": "ins-db", "PrivateIpAddresses": ["10.0.2.20"], "SecurityGroupIds": ["sg-db"], "VirtualPrivateCloud": {"VpcId": "vpc-1", "SubnetId": "subnet-d"}}
]}`
	enisJSON = `{"NetworkInterfaceSet": [
 {"NetworkInterfaceId": "eni-pod", "VpcId": "vpc-1", "SubnetId": "subnet-n", "Primary": false, "GroupSet": ["sg-pod"],
  "PrivateIpAddressSet": [{"PrivateIpAddress": "10.0.1.50", "Primary": true}], "Attachment": {"InstanceId": "ins-b"}}
]}`
	subnetsJSON = `{"SubnetSet": [
 {"SubnetId": "subnet-n", "VpcId": "vpc-1", "CidrBlock": "10.0.1.0/24", "RouteTableId": "rtb-1"},
 {"SubnetId": "subnet-d", "VpcId": "vpc-1", "CidrBlock": "10.0.2.0/24", "RouteTableId": "rtb-1"}
]}`
	routesJSON = `{"RouteTableSet": [{"RouteTableId": "rtb-1", "VpcId": "vpc-1", "Main": true, "RouteSet": [
 {"RouteItemId": "rti-1", "DestinationCidrBlock": "172.20.1.0/24", "GatewayType": "NORMAL_CVM", "GatewayId": "10.0.1.11", "Enabled": true},
 {"RouteItemId": "rti-2", "DestinationCidrBlock": "172.20.2.0/24", "GatewayType": "NORMAL_CVM", "GatewayId": "10.0.1.12", "Enabled": true},
 {"RouteItemId": "rti-3", "DestinationCidrBlock": "192.168.0.0/16", "GatewayType": "VPN", "GatewayId": "vpngw-1", "Enabled": true},
 {"RouteItemId": "rti-4", "DestinationCidrBlock": "192.168.7.0/24", "GatewayType": "DIRECTCONNECT", "GatewayId": "dcg-1", "Enabled": false},
 {"RouteItemId": "rti-5", "DestinationCidrBlock": "10.8.0.0/16", "GatewayType": "PEERCONNECTION", "GatewayId": "pcx-1", "Enabled": true},
 {"RouteItemId": "rti-6", "DestinationCidrBlock": "10.9.0.0/16", "GatewayType": "CCN", "GatewayId": "ccn-1", "Enabled": true},
 {"RouteItemId": "rti-7", "DestinationCidrBlock": "10.10.0.0/16", "GatewayType": "HAVIP", "GatewayId": "havip-1", "Enabled": true},
 {"RouteItemId": "rti-8", "DestinationCidrBlock": "10.11.0.0/16", "GatewayType": "LOCAL_GATEWAY", "GatewayId": "lgw-1", "Enabled": true},
 {"RouteItemId": "rti-9", "DestinationCidrBlock": "10.12.0.0/16", "GatewayType": "INTRANAT", "GatewayId": "intranat-1", "Enabled": true},
 {"RouteItemId": "rti-gwlb", "DestinationCidrBlock": "10.15.0.0/16", "GatewayType": "GWLB", "GatewayId": "gwlb-1", "Enabled": true},
 {"RouteItemId": "rti-12", "DestinationCidrBlock": "10.13.0.0/16", "GatewayType": "CVM", "GatewayId": "10.0.2.20", "Enabled": true},
 {"RouteItemId": "rti-13", "DestinationCidrBlock": "10.14.0.0/16", "GatewayType": "NORMAL_CVM", "GatewayId": "10.0.2.99", "Enabled": true},
 {"RouteItemId": "rti-10", "DestinationCidrBlock": "198.18.0.0/15", "GatewayType": "EIP", "GatewayId": "0", "Enabled": true},
 {"RouteItemId": "rti-11", "DestinationCidrBlock": "0.0.0.0/0", "GatewayType": "NAT", "GatewayId": "nat-1", "Enabled": true}
]}]}`
	natsJSON = `{"NatGatewaySet": [{"NatGatewayId": "nat-1", "VpcId": "vpc-1", "State": "AVAILABLE", "PublicIpAddressSet": [{"PublicIpAddress": "203.0.113.100"}]}]}`
	snatJSON = `{"SourceIpTranslationNatRuleSet": [
 {"NatGatewaySnatId": "snat-1", "ResourceId": "ins-a", "ResourceType": "NETWORKINTERFACE", "PrivateIpAddress": "10.0.1.11", "PublicIpAddresses": ["203.0.113.101"]},
 {"NatGatewaySnatId": "snat-2", "ResourceId": "subnet-d", "ResourceType": "SUBNET", "PrivateIpAddress": "10.0.2.0/24", "PublicIpAddresses": ["203.0.113.102"]}
]}`
	sgNode = `{"SecurityGroupPolicySet": {"Version": "1",
 "Egress": [{"PolicyIndex": 0, "Protocol": "ALL", "Port": "ALL", "CidrBlock": "0.0.0.0/0", "Action": "ACCEPT"}],
 "Ingress": [
  {"PolicyIndex": 0, "Protocol": "TCP", "Port": "22", "CidrBlock": "0.0.0.0/0", "Action": "DROP"},
  {"PolicyIndex": 1, "Protocol": "ALL", "Port": "ALL", "SecurityGroupId": "sg-node", "Action": "ACCEPT"},
  {"PolicyIndex": 2, "Protocol": "TCP", "Port": "80,443", "CidrBlock": "0.0.0.0/0", "Action": "ACCEPT"},
  {"PolicyIndex": 3, "Protocol": "UDP", "Port": "3306-20000", "CidrBlock": "10.0.0.0/8", "Action": "ACCEPT"}]}}`
	sgBase = `{"SecurityGroupPolicySet": {"Version": "1",
 "Egress": [{"PolicyIndex": 0, "Protocol": "ALL", "Port": "ALL", "CidrBlock": "0.0.0.0/0", "Action": "DROP"}],
 "Ingress": [
  {"PolicyIndex": 0, "Protocol": "TCP", "Port": "22", "CidrBlock": "10.0.0.0/8", "Action": "ACCEPT"},
  {"PolicyIndex": 1, "Protocol": "ICMP", "Port": "ALL", "CidrBlock": "0.0.0.0/0", "Action": "ACCEPT"},
  {"PolicyIndex": 2, "Protocol": "TCP", "Port": "30000-32767", "CidrBlock": "0.0.0.0/0", "Action": "ACCEPT"},
  {"PolicyIndex": 3, "Protocol": "GRE", "Port": "ALL", "CidrBlock": "10.0.0.0/8", "Action": "ACCEPT"}]}}`
	sgPod = `{"SecurityGroupPolicySet": {"Version": "1",
 "Egress": [{"PolicyIndex": 0, "Protocol": "ALL", "Port": "ALL", "CidrBlock": "0.0.0.0/0", "Action": "ACCEPT"}],
 "Ingress": [{"PolicyIndex": 0, "Protocol": "TCP", "Port": "8080", "AddressTemplate": {"AddressId": "ipm-web", "AddressGroupId": ""}, "Action": "ACCEPT"}]}}`
	sgDB = `{"SecurityGroupPolicySet": {"Version": "1",
 "Egress": [{"PolicyIndex": 0, "Protocol": "ALL", "Port": "ALL", "CidrBlock": "0.0.0.0/0", "Action": "ACCEPT"}],
 "Ingress": [{"PolicyIndex": 0, "Protocol": "TCP", "Port": "5432", "SecurityGroupId": "sg-node", "Action": "ACCEPT"}]}}`
	lbsJSON = `{"LoadBalancerSet": [
 {"LoadBalancerId": "lb-1", "LoadBalancerName": "web", "LoadBalancerType": "OPEN", "Status": 1, "LoadBalancerVips": ["203.0.113.10"], "VpcId": "vpc-1", "SecureGroups": []},
 {"LoadBalancerId": "lb-in", "LoadBalancerName": "inner", "LoadBalancerType": "INTERNAL", "Status": 1, "LoadBalancerVips": ["10.0.1.200"], "VpcId": "vpc-1", "LoadBalancerPassToTarget": true}
]}`
	listenersJSON = `{"Listeners": [
 {"ListenerId": "lbl-80", "Protocol": "TCP", "Port": 80},
 {"ListenerId": "lbl-web", "Protocol": "HTTP", "Port": 8000, "Rules": [{"LocationId": "loc-a", "Domain": "a.example.com", "Url": "/"}, {"LocationId": "loc-b", "Domain": "b.example.com", "Url": "/api"}]}
]}`
	listenersInJSON = `{"Listeners": [{"ListenerId": "lbl-in", "Protocol": "UDP", "Port": 53}]}`
	healthJSON      = `{"LoadBalancers": [
 {"LoadBalancerId": "lb-1", "Listeners": [
  {"ListenerId": "lbl-80", "Protocol": "TCP", "Port": 80, "Rules": [{"LocationId": "", "Targets": [
   {"IP": "10.0.1.11", "Port": 30080, "HealthStatus": true, "TargetId": "ins-a", "HealthStatusDetail": "Alive"},
   {"IP": "10.0.1.12", "Port": 30080, "HealthStatus": false, "TargetId": "ins-b", "HealthStatusDetail": "Dead"}]}]},
  {"ListenerId": "lbl-web", "Protocol": "HTTP", "Port": 8000, "Rules": [
   {"LocationId": "loc-a", "Domain": "a.example.com", "Url": "/", "Targets": [
    {"IP": "10.0.1.11", "Port": 30081, "HealthStatus": false, "TargetId": "ins-a", "HealthStatusDetail": "Dead"},
    {"IP": "10.0.1.12", "Port": 30081, "HealthStatus": false, "TargetId": "ins-b", "HealthStatusDetail": "Dead"}]},
   {"LocationId": "loc-b", "Domain": "b.example.com", "Url": "/api", "Targets": [
    {"IP": "10.0.1.50", "Port": 8080, "HealthStatus": true, "TargetId": "", "HealthStatusDetail": "Alive"}]}]}]},
 {"LoadBalancerId": "lb-in", "Listeners": [{"ListenerId": "lbl-in", "Protocol": "UDP", "Port": 53, "Rules": [{"LocationId": "", "Targets": [
   {"IP": "10.0.1.12", "Port": 30053, "HealthStatus": true, "TargetId": "ins-b"}]}]}]}
]}`
)

// fixture is every file of the fixture; tests drop or replace some.
func fixture() map[string]string {
	return map[string]string{
		FileInstances: instancesJSON, FileENIs: enisJSON, FileSubnets: subnetsJSON, FileRouteTables: routesJSON,
		FileNATs: natsJSON, DirSNAT + "/nat-1.json": snatJSON,
		DirPolicies + "/sg-node.json": sgNode, DirPolicies + "/sg-base.json": sgBase, DirPolicies + "/sg-pod.json": sgPod, DirPolicies + "/sg-db.json": sgDB,
		FileLBs: lbsJSON, DirListeners + "/lb-1.json": listenersJSON, DirListeners + "/lb-in.json": listenersInJSON, FileTargetHealth: healthJSON,
	}
}

// parse builds an export from inline files (name -> JSON).
func parse(t *testing.T, files map[string]string) *Export {
	t.Helper()
	return cloudtest.Parse(t, "cloud/tencent", files, Parse)
}

// provider maps node a (by providerID) and node b (by address) with pod CIDRs
// 172.20.1.0/24 and 172.20.2.0/24.
func provider(t *testing.T, files map[string]string) *Provider {
	t.Helper()
	nodes := []cloud.Node{
		{Name: "a", ProviderID: "qcloud:///800002/ins-a", Addrs: []netip.Addr{netip.MustParseAddr("10.0.1.11")}, PodCIDRs: []netip.Prefix{netip.MustParsePrefix("172.20.1.0/24")}},
		{Name: "b", Addrs: []netip.Addr{netip.MustParseAddr("10.0.1.12")}, PodCIDRs: []netip.Prefix{netip.MustParsePrefix("172.20.2.0/24")}},
	}
	return New(parse(t, files), nodes, []netip.Prefix{netip.MustParsePrefix("172.20.0.0/16")})
}

func tcp(src, dst string, dport uint16) packet.Packet { return cloudtest.TCP(src, dst, dport) }

func udp(src, dst string, dport uint16) packet.Packet { return cloudtest.UDP(src, dst, dport) }

func proto(src, dst string, n uint8) packet.Packet {
	return packet.Packet{Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst), Proto: n}
}

// last is the last decision, which decides.
func last(t *testing.T, ds []cloud.Decision) cloud.Decision {
	t.Helper()
	if len(ds) == 0 {
		t.Fatal("no decisions")
	}
	return ds[len(ds)-1]
}

func has(s, sub string) bool { return strings.Contains(s, sub) }

func netipAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

func cloudLeg(pk packet.Packet) cloud.Leg { return cloud.Leg{Packet: pk} }
