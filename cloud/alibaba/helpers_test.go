package alibaba

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/netsim/netsim/cloud"
	"github.com/netsim/netsim/cloud/cloudtest"
	"github.com/netsim/netsim/rules/packet"
)

// The fixture: VPC vpc-1 with vSwitches vsw-1 (10.0.0.0/24, nodes) and vsw-2
// (10.0.1.0/24, Terway pods). Instance i-a (node na, 10.0.0.2, groups sg-a and sg-b),
// i-b (node nb, 10.0.0.3, group sg-a; its Terway ENI eni-t holds pod 10.0.1.10 in
// sg-pod), i-c (no node, 10.0.0.4, group sg-c; public IP 47.0.0.4).
const instancesJSON = `{"Instances": {"Instance": [
 {"InstanceId": "i-a", "VpcAttributes": {"VpcId": "vpc-1", "VSwitchId": "vsw-1", "PrivateIpAddress": {"IpAddress": ["10.0.0.2"]}},
  "SecurityGroupIds": {"SecurityGroupId": ["sg-a", "sg-b"]}},
 {"InstanceId": "i-b", "VpcAttributes": {"VpcId": "vpc-1", "VSwitchId": "vsw-1", "PrivateIpAddress": {"IpAddress": ["10.0.0.3"]}},
  "SecurityGroupIds": {"SecurityGroupId": ["sg-a"]}},
 {"InstanceId": "i-c", "VpcAttributes": {"VpcId": "vpc-1", "VSwitchId": "vsw-1", "PrivateIpAddress": {"IpAddress": ["10.0.0.4"]}},
  "SecurityGroupIds": {"SecurityGroupId": ["sg-c"]}, "PublicIpAddress": {"IpAddress": ["47.0.0.4"]}}
]}}`

const nicsJSON = `{"NetworkInterfaceSets": {"NetworkInterfaceSet": [
 {"NetworkInterfaceId": "eni-a", "InstanceId": "i-a", "Type": "Primary", "VpcId": "vpc-1", "VSwitchId": "vsw-1", "PrivateIpAddress": "10.0.0.2",
  "SecurityGroupIds": {"SecurityGroupId": ["sg-a", "sg-b"]}},
 {"NetworkInterfaceId": "eni-b", "InstanceId": "i-b", "Type": "Primary", "VpcId": "vpc-1", "VSwitchId": "vsw-1", "PrivateIpAddress": "10.0.0.3",
  "SecurityGroupIds": {"SecurityGroupId": ["sg-a"]}},
 {"NetworkInterfaceId": "eni-t", "InstanceId": "i-b", "Type": "Secondary", "VpcId": "vpc-1", "VSwitchId": "vsw-2", "PrivateIpAddress": "10.0.1.9",
  "PrivateIpSets": {"PrivateIpSet": [{"PrivateIpAddress": "10.0.1.9", "Primary": true}, {"PrivateIpAddress": "10.0.1.10", "Primary": false}]},
  "SecurityGroupIds": {"SecurityGroupId": ["sg-pod"]}},
 {"NetworkInterfaceId": "eni-c", "InstanceId": "i-c", "Type": "Primary", "VpcId": "vpc-1", "VSwitchId": "vsw-1", "PrivateIpAddress": "10.0.0.4",
  "SecurityGroupIds": {"SecurityGroupId": ["sg-c"]}}
]}}`

const vswitchesJSON = `{"VSwitches": {"VSwitch": [
 {"VSwitchId": "vsw-1", "VpcId": "vpc-1", "CidrBlock": "10.0.0.0/24"},
 {"VSwitchId": "vsw-2", "VpcId": "vpc-1", "CidrBlock": "10.0.1.0/24"}
]}}`

// group renders a DescribeSecurityGroupAttribute response: inner is the
// InnerAccessPolicy ("" to leave it out), typ the SecurityGroupType ("" likewise),
// rules the Permission objects.
func group(id, inner, typ string, rules ...string) string {
	extra := ""
	if inner != "" {
		extra += fmt.Sprintf(`"InnerAccessPolicy": %q, `, inner)
	}
	if typ != "" {
		extra += fmt.Sprintf(`"SecurityGroupType": %q, `, typ)
	}
	return fmt.Sprintf("{\"SecurityGroupId\": %q, %s\"VpcId\": \"vpc-1\",\n \"Permissions\": {\"Permission\": [\n%s\n]}}", id, extra, strings.Join(rules, ",\n"))
}

// rule renders one Permission: "ingress accept TCP 80/80 cidr 0.0.0.0/0 5".
func rule(dir, policy, proto, ports, kind, peer string, prio int) string {
	side := "Source"
	if dir == "egress" {
		side = "Dest"
	}
	key := map[string]string{"cidr": side + "CidrIp", "group": side + "GroupId", "prefix": side + "PrefixListId"}[kind]
	return fmt.Sprintf(`{"Direction": %q, "Policy": %q, "IpProtocol": %q, "PortRange": %q, %q: %q, "Priority": %d, "NicType": "intranet"}`, dir, policy, proto, ports, key, peer, prio)
}

func parse(t *testing.T, files map[string]string) *Export {
	t.Helper()
	return cloudtest.Parse(t, "cloud/alibaba", files, Parse)
}

func nodes() []cloud.Node {
	return []cloud.Node{
		{Name: "na", ProviderID: "cn-hangzhou.i-a", Addrs: []netip.Addr{netip.MustParseAddr("10.0.0.2")}, PodCIDRs: []netip.Prefix{netip.MustParsePrefix("10.244.1.0/24")}},
		{Name: "nb", Addrs: []netip.Addr{netip.MustParseAddr("10.0.0.3")}, PodCIDRs: []netip.Prefix{netip.MustParsePrefix("10.244.2.0/24")}},
	}
}

// provider builds the fixture with extra files (security groups and the like) laid
// over the instances, interfaces and vSwitches.
func provider(t *testing.T, extra map[string]string) *Provider {
	t.Helper()
	files := map[string]string{FileInstances: instancesJSON, FileNICs: nicsJSON, FileVSwitches: vswitchesJSON}
	for k, v := range extra {
		if v == "" {
			delete(files, k)
			continue
		}
		files[k] = v
	}
	return New(parse(t, files), nodes(), []netip.Prefix{netip.MustParsePrefix("10.244.0.0/16")})
}

func tcp(src, dst string, dport uint16) packet.Packet { return cloudtest.TCP(src, dst, dport) }

func verdicts(ds []cloud.Decision) string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Step+"="+d.Verdict.String()+" "+d.Object)
	}
	return strings.Join(out, "; ")
}

func last(ds []cloud.Decision) cloud.Decision {
	if len(ds) == 0 {
		return cloud.Decision{Verdict: 255}
	}
	return ds[len(ds)-1]
}

func legFrom(node string, pk packet.Packet) cloud.Leg { return cloud.Leg{From: node, Packet: pk} }
