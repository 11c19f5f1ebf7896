package alibaba

import (
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	cloudali "github.com/netsim/netsim/cloud/alibaba"
	"github.com/netsim/netsim/collector/cloudexport"
	"github.com/netsim/netsim/collector/cloudexport/replay"
)

const jsonCT = "application/json;charset=utf-8"

// action matches the darabonba core's ACS3 requests: the action is the x-acs-action
// header, the parameters are the query.
func action(a string) replay.Matcher { return replay.Header("x-acs-action", a) }

func ok(body string) replay.Response { return replay.Response{ContentType: jsonCT, Body: body} }

// The API's documented error bodies: 400 Throttling.User when the user's flow control
// refuses the call, 403 Forbidden.RAM when the RAM policy lacks the action.
var (
	throttled = replay.Response{Status: 400, ContentType: jsonCT,
		Body: `{"RequestId":"r-t","HostId":"ecs-cn-hangzhou.aliyuncs.com","Code":"Throttling.User","Message":"Request was denied due to user flow control."}`}
	unavailable = replay.Response{Status: 503, ContentType: jsonCT,
		Body: `{"RequestId":"r-u","Code":"ServiceUnavailable","Message":"The request has failed due to a temporary failure of the server."}`}
	forbidden = replay.Response{Status: 403, ContentType: jsonCT,
		Body: `{"RequestId":"r-f","HostId":"ecs-cn-hangzhou.aliyuncs.com","Code":"Forbidden.RAM","Message":"User not authorized to operate on the specified resource, or this API doesn't support RAM."}`}
)

// exchanges replays one region: two nodes (one on each page of DescribeInstances, the
// first page throttled once), a Terway ENI, two security groups (the first one's rules
// refused by RAM), a custom route table, a NAT gateway with its SNAT table, and a CLB
// with a listener and backends.
func exchanges() []replay.Exchange {
	return []replay.Exchange{
		{Name: "instances-1", Match: replay.All(action("DescribeInstances"), replay.Param("NextToken", "")),
			Responses: []replay.Response{throttled, ok(`{"RequestId":"r1","NextToken":"t2","MaxResults":100,
				"Instances":{"Instance":[{"InstanceId":"i-node1","InstanceName":"node1","Status":"Running",
				"VpcAttributes":{"VpcId":"vpc-1","VSwitchId":"vsw-1","PrivateIpAddress":{"IpAddress":["10.0.1.10"]}},
				"SecurityGroupIds":{"SecurityGroupId":["sg-nodes"]},"PublicIpAddress":{"IpAddress":[]},"EipAddress":{"IpAddress":""}}]}}`)}},
		{Name: "instances-2", Match: replay.All(action("DescribeInstances"), replay.Param("NextToken", "t2")),
			Responses: []replay.Response{ok(`{"RequestId":"r2","NextToken":"","MaxResults":100,
				"Instances":{"Instance":[{"InstanceId":"i-node2","InstanceName":"node2","Status":"Running",
				"VpcAttributes":{"VpcId":"vpc-1","VSwitchId":"vsw-1","PrivateIpAddress":{"IpAddress":["10.0.1.11"]}},
				"SecurityGroupIds":{"SecurityGroupId":["sg-nodes"]},"PublicIpAddress":{"IpAddress":["47.1.2.3"]},"EipAddress":{"IpAddress":""}}]}}`)}},
		{Name: "enis", Match: action("DescribeNetworkInterfaces"),
			Responses: []replay.Response{ok(`{"RequestId":"r3","NextToken":"",
				"NetworkInterfaceSets":{"NetworkInterfaceSet":[{"NetworkInterfaceId":"eni-pods","InstanceId":"i-node1","Type":"Secondary",
				"VpcId":"vpc-1","VSwitchId":"vsw-1","PrivateIpAddress":"10.0.1.20",
				"PrivateIpSets":{"PrivateIpSet":[{"PrivateIpAddress":"10.0.1.20","Primary":true},{"PrivateIpAddress":"10.0.1.21","Primary":false}]},
				"SecurityGroupIds":{"SecurityGroupId":["sg-pods"]}}]}}`)}},
		{Name: "sg-nodes", Match: replay.All(action("DescribeSecurityGroupAttribute"), replay.Param("SecurityGroupId", "sg-nodes"), replay.Param("Direction", "all")),
			Responses: []replay.Response{forbidden}},
		{Name: "sg-pods", Match: replay.All(action("DescribeSecurityGroupAttribute"), replay.Param("SecurityGroupId", "sg-pods"), replay.Param("Direction", "all")),
			Responses: []replay.Response{ok(`{"RequestId":"r4","SecurityGroupId":"sg-pods","SecurityGroupName":"pods","VpcId":"vpc-1",
				"InnerAccessPolicy":"Accept","Permissions":{"Permission":[{"SecurityGroupRuleId":"sgr-1","Direction":"ingress",
				"Policy":"Accept","Priority":1,"IpProtocol":"TCP","PortRange":"80/80","SourceCidrIp":"10.0.0.0/8","NicType":"intranet"},
				{"SecurityGroupRuleId":"sgr-2","Direction":"ingress","Policy":"Accept","Priority":1,"IpProtocol":"TCP","PortRange":"443/443",
				"SourcePrefixListId":"pl-office","NicType":"intranet"}]}}`)}},
		{Name: "prefix-list", Match: replay.All(action("DescribePrefixListAttributes"), replay.Param("PrefixListId", "pl-office")),
			Responses: []replay.Response{ok(`{"RequestId":"r4b","PrefixListId":"pl-office","AddressFamily":"IPv4","MaxEntries":10,
				"Entries":{"Entry":[{"Cidr":"192.0.2.0/24","Description":"office"}]}}`)}},
		// DescribeVSwitches pages by number: two on the first page, one on the second.
		{Name: "vsw-1", Match: replay.All(action("DescribeVSwitches"), replay.Param("PageNumber", "1")),
			Responses: []replay.Response{unavailable, ok(`{"RequestId":"r5","TotalCount":3,"PageNumber":1,"PageSize":50,"VSwitches":{"VSwitch":[
				{"VSwitchId":"vsw-1","VpcId":"vpc-1","CidrBlock":"10.0.1.0/24","RouteTable":{"RouteTableId":"vtb-custom","RouteTableType":"Custom"}},
				{"VSwitchId":"vsw-2","VpcId":"vpc-1","CidrBlock":"10.0.2.0/24","RouteTable":{"RouteTableId":"vtb-sys","RouteTableType":"System"}}]}}`)}},
		{Name: "vsw-2", Match: replay.All(action("DescribeVSwitches"), replay.Param("PageNumber", "2")),
			Responses: []replay.Response{ok(`{"RequestId":"r6","TotalCount":3,"PageNumber":2,"PageSize":50,"VSwitches":{"VSwitch":[
				{"VSwitchId":"vsw-3","VpcId":"vpc-1","CidrBlock":"10.0.3.0/24","RouteTable":{"RouteTableId":"vtb-sys","RouteTableType":"System"}}]}}`)}},
		// DescribeNetworkAcls pages by number too: one ACL a page here.
		{Name: "nacl-1", Match: replay.All(action("DescribeNetworkAcls"), replay.Param("PageNumber", "1")),
			Responses: []replay.Response{ok(`{"RequestId":"r6a","TotalCount":"2","PageNumber":"1","PageSize":"50","NetworkAcls":{"NetworkAcl":[
				{"NetworkAclId":"nacl-nodes","VpcId":"vpc-1","Status":"Available","Resources":{"Resource":[{"ResourceId":"vsw-1","ResourceType":"VSwitch","Status":"BINDED"}]},
				"IngressAclEntries":{"IngressAclEntry":[{"NetworkAclEntryId":"nae-1","Policy":"drop","Protocol":"tcp","Port":"30000/32767","SourceCidrIp":"0.0.0.0/0","EntryType":"custom"},
				{"NetworkAclEntryId":"nae-sys-in","Policy":"accept","Protocol":"all","Port":"-1/-1","SourceCidrIp":"0.0.0.0/0","EntryType":"system"}]},
				"EgressAclEntries":{"EgressAclEntry":[{"NetworkAclEntryId":"nae-sys-out","Policy":"accept","Protocol":"all","Port":"-1/-1","DestinationCidrIp":"0.0.0.0/0","EntryType":"system"}]}}]}}`)}},
		{Name: "nacl-2", Match: replay.All(action("DescribeNetworkAcls"), replay.Param("PageNumber", "2")),
			Responses: []replay.Response{ok(`{"RequestId":"r6b","TotalCount":"2","PageNumber":"2","PageSize":"50","NetworkAcls":{"NetworkAcl":[
				{"NetworkAclId":"nacl-free","VpcId":"vpc-1","Status":"Available","Resources":{"Resource":[]},
				"IngressAclEntries":{"IngressAclEntry":[]},"EgressAclEntries":{"EgressAclEntry":[]}}]}}`)}},
		{Name: "tables", Match: action("DescribeRouteTableList"),
			Responses: []replay.Response{ok(`{"RequestId":"r7","TotalCount":1,"PageNumber":1,"PageSize":50,"RouterTableList":{"RouterTableListType":[
				{"RouteTableId":"vtb-custom","VpcId":"vpc-1","RouteTableType":"Custom","VSwitchIds":{"VSwitchId":["vsw-1"]}}]}}`)}},
		{Name: "entries", Match: replay.All(action("DescribeRouteEntryList"), replay.Param("RouteTableId", "vtb-custom")),
			Responses: []replay.Response{ok(`{"RequestId":"r8","NextToken":"","RouteEntrys":{"RouteEntry":[
				{"RouteEntryId":"rte-1","RouteTableId":"vtb-custom","DestinationCidrBlock":"0.0.0.0/0","Type":"Custom","Status":"Available",
				"NextHops":{"NextHop":[{"NextHopType":"NatGateway","NextHopId":"ngw-1","Enabled":1}]}}]}}`)}},
		{Name: "nats", Match: action("DescribeNatGateways"),
			Responses: []replay.Response{ok(`{"RequestId":"r9","TotalCount":1,"PageNumber":1,"PageSize":50,"NatGateways":{"NatGateway":[
				{"NatGatewayId":"ngw-1","VpcId":"vpc-1","Status":"Available","SnatTableIds":{"SnatTableId":["stb-1"]}}]}}`)}},
		{Name: "snat", Match: replay.All(action("DescribeSnatTableEntries"), replay.Param("SnatTableId", "stb-1")),
			Responses: []replay.Response{ok(`{"RequestId":"r10","TotalCount":1,"PageNumber":1,"PageSize":50,"SnatTableEntries":{"SnatTableEntry":[
				{"SnatEntryId":"snat-1","SnatTableId":"stb-1","SourceCIDR":"10.0.1.0/24","SnatIp":"47.9.9.9","Status":"Available"}]}}`)}},
		{Name: "lbs", Match: action("DescribeLoadBalancers"),
			Responses: []replay.Response{ok(`{"RequestId":"r11","TotalCount":1,"PageNumber":1,"PageSize":50,"LoadBalancers":{"LoadBalancer":[
				{"LoadBalancerId":"lb-1","LoadBalancerName":"web","Address":"47.8.8.8","AddressType":"internet","LoadBalancerStatus":"active","VpcId":"vpc-1"}]}}`)}},
		{Name: "listeners", Match: replay.All(action("DescribeLoadBalancerListeners"), replay.Param("LoadBalancerId.1", "lb-1")),
			Responses: []replay.Response{ok(`{"RequestId":"r12","NextToken":"","Listeners":[
				{"LoadBalancerId":"lb-1","ListenerPort":80,"ListenerProtocol":"tcp","Status":"running","BackendServerPort":30080,
				"AclStatus":"on","AclType":"white","AclId":"acl-office"},
				{"LoadBalancerId":"lb-1","ListenerPort":8080,"ListenerProtocol":"tcp","Status":"running","BackendServerPort":30081,
				"AclStatus":"off","AclType":"white","AclId":"acl-unused"}]}`)}},
		// Page/PageSize until TotalAclEntry: the API's default page is 10 entries.
		{Name: "acl-1", Match: replay.All(action("DescribeAccessControlListAttribute"), replay.Param("AclId", "acl-office"), replay.Param("Page", "1"), replay.Param("PageSize", "50")),
			Responses: []replay.Response{ok(`{"RequestId":"r14","AclId":"acl-office","AddressIPVersion":"ipv4","TotalAclEntry":2,
				"AclEntrys":{"AclEntry":[{"AclEntryIP":"192.0.2.0/24","AclEntryComment":"office"}]}}`)}},
		{Name: "acl-2", Match: replay.All(action("DescribeAccessControlListAttribute"), replay.Param("AclId", "acl-office"), replay.Param("Page", "2")),
			Responses: []replay.Response{ok(`{"RequestId":"r15","AclId":"acl-office","AddressIPVersion":"ipv4","TotalAclEntry":2,
				"AclEntrys":{"AclEntry":[{"AclEntryIP":"198.51.100.7","AclEntryComment":"vpn"}]}}`)}},
		{Name: "health", Match: replay.All(action("DescribeHealthStatus"), replay.Param("LoadBalancerId", "lb-1")),
			Responses: []replay.Response{ok(`{"RequestId":"r13","BackendServers":{"BackendServer":[
				{"ServerId":"i-node1","ServerIp":"10.0.1.10","Port":30080,"ListenerPort":80,"Protocol":"tcp","ServerHealthStatus":"normal"}]}}`)}},
	}
}

// setup points the exporter at s with static credentials from the environment, a home
// without aliyun CLI files, and a short backoff.
func setup(t *testing.T) {
	t.Helper()
	t.Setenv("HOME", t.TempDir())
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "secret")
	t.Setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
	p := retryPeriodMs
	retryPeriodMs = 1
	t.Cleanup(func() { retryPeriodMs = p })
}

func export(t *testing.T, s *replay.Server) (*replay.Sink, []string) {
	t.Helper()
	out := replay.NewSink(t)
	gaps, err := Export(context.Background(), cloudexport.Options{Region: "cn-hangzhou", Endpoint: s.URL, HTTPClient: s.Client()},
		out.Put)
	if err != nil {
		t.Fatal(err)
	}
	var gs []string
	for _, g := range gaps {
		gs = append(gs, g.Scope+": "+g.Reason)
	}
	return out, gs
}

func TestExport(t *testing.T) {
	setup(t)
	s := replay.New(t, exchanges()...)
	out, gaps := export(t, s)
	files := out.Files

	names := out.Names()
	want := []string{
		"DescribeAccessControlListAttribute/acl-office.json",
		"DescribeHealthStatus/lb-1.json", "DescribeInstances.json", "DescribeLoadBalancerListeners/lb-1.json",
		"DescribeLoadBalancers.json", "DescribeNatGateways.json", "DescribeNetworkAcls.json", "DescribeNetworkInterfaces.json", "DescribePrefixListAttributes/pl-office.json",
		"DescribeRouteEntryList/vtb-custom.json", "DescribeRouteTableList.json",
		"DescribeSecurityGroupAttribute/sg-pods.json", "DescribeSnatTableEntries/stb-1.json", "DescribeVSwitches.json",
	}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("files:\n got %q\nwant %q", names, want)
	}

	// The refused group is a gap naming the file, the call and the RAM action; nothing
	// else failed.
	if len(gaps) != 1 || !strings.HasPrefix(gaps[0], "cloud/alibaba/DescribeSecurityGroupAttribute/sg-nodes.json: ") ||
		!strings.Contains(gaps[0], "ecs:DescribeSecurityGroupAttribute") || !strings.Contains(gaps[0], "Forbidden.RAM") {
		t.Errorf("gaps = %q", gaps)
	}

	// Both pages of each paged call, in one response.
	var inst struct {
		NextToken *string
		Instances struct{ Instance []struct{ InstanceId string } }
	}
	if err := json.Unmarshal(files["DescribeInstances.json"], &inst); err != nil {
		t.Fatal(err)
	}
	if len(inst.Instances.Instance) != 2 || inst.Instances.Instance[0].InstanceId != "i-node1" || inst.Instances.Instance[1].InstanceId != "i-node2" || inst.NextToken != nil {
		t.Errorf("DescribeInstances.json merged = %s", files["DescribeInstances.json"])
	}
	var vsw struct {
		VSwitches struct{ VSwitch []struct{ VSwitchId string } }
	}
	if err := json.Unmarshal(files["DescribeVSwitches.json"], &vsw); err != nil {
		t.Fatal(err)
	}
	if len(vsw.VSwitches.VSwitch) != 3 {
		t.Errorf("DescribeVSwitches.json merged %d vSwitches, want 3", len(vsw.VSwitches.VSwitch))
	}
	// The pages asked for: NextToken from the first answer, PageNumber counting up.
	if got := tokens(s.Served("instances-2"), "NextToken"); !reflect.DeepEqual(got, []string{"t2"}) {
		t.Errorf("second DescribeInstances page asked with NextToken %q", got)
	}
	if got := tokens(s.Served("vsw-2"), "PageSize"); !reflect.DeepEqual(got, []string{"50"}) {
		t.Errorf("DescribeVSwitches page 2 asked with PageSize %q", got)
	}

	// Throttling.User (400) and ServiceUnavailable (503) were retried, then succeeded.
	for _, ex := range []string{"instances-1", "vsw-1"} {
		rs := s.Served(ex)
		if len(rs) != 2 || rs[0].Status < 400 || rs[1].Status != http.StatusOK {
			t.Errorf("%s: %d requests %+v, want the refusal then the success", ex, len(rs), statuses(rs))
		}
	}
	// Forbidden is not retried.
	if rs := s.Served("sg-nodes"); len(rs) != 1 {
		t.Errorf("Forbidden.RAM asked %d times, want once", len(rs))
	}

	// Only the policy's actions were called, every one a Describe, each in the
	// region, signed.
	allowed := map[string]bool{}
	for _, p := range Permissions {
		allowed[p[strings.Index(p, ":")+1:]] = true
	}
	called := map[string]bool{}
	for _, r := range s.Requests() {
		called[r.Header.Get("x-acs-action")] = true
	}
	for p := range allowed {
		if !called[p] {
			t.Errorf("%s is in the policy but never called: the policy grants more than the code uses", p)
		}
	}
	for _, r := range s.Requests() {
		a := r.Header.Get("x-acs-action")
		if !allowed[a] || !strings.HasPrefix(a, "Describe") {
			t.Errorf("called %q, not a read-only action of the policy", a)
		}
		if r.Param("RegionId") != "cn-hangzhou" || !strings.Contains(r.Header.Get("Authorization"), "AKIDTEST") {
			t.Errorf("%s: RegionId %q, Authorization %q", a, r.Param("RegionId"), r.Header.Get("Authorization"))
		}
	}
	if u := s.Unmatched(); len(u) != 0 {
		t.Errorf("%d unexpected requests", len(u))
	}

	// Parse-through: cloud/alibaba reads what was written.
	sf := out.Sources("cloud/alibaba")
	x, err := cloudali.Parse("cloud/alibaba", sf)
	if err != nil {
		t.Fatalf("cloud/alibaba cannot read the export: %v", err)
	}
	if n := len(x.Instances); n != 2 {
		t.Errorf("parsed %d instances, want 2", n)
	}
	if in := x.Instances["i-node2"]; in == nil || len(in.IPs) != 1 || in.IPs[0] != netip.MustParseAddr("10.0.1.11") {
		t.Errorf("i-node2 parsed as %+v", in)
	}
	if g := x.Groups["sg-pods"]; g == nil || len(g.Rules) != 2 {
		t.Errorf("sg-pods parsed as %+v", g)
	}
	if x.Has["DescribeSecurityGroupAttribute/sg-nodes.json"] != "" {
		t.Errorf("the refused group's file is there")
	}
	if len(x.PrefixLists["pl-office"]) != 1 || len(x.ACLs["acl-office"]) != 2 {
		t.Errorf("parsed prefix list %v, ACL %v; want 1 and 2 entries", x.PrefixLists, x.ACLs)
	}
	if _, ok := x.ACLs["acl-unused"]; ok {
		t.Errorf("the ACL of a listener with access control off was read")
	}
	if len(x.Snat["stb-1"]) != 1 || len(x.Listeners["lb-1"]) != 2 || len(x.Health["lb-1"]) != 1 {
		t.Errorf("parsed SNAT %d, listeners %d, health %d; want 1 each", len(x.Snat["stb-1"]), len(x.Listeners["lb-1"]), len(x.Health["lb-1"]))
	}
	if len(x.NetworkACLs) != 2 || len(s.Served("nacl-2")) != 1 {
		t.Errorf("parsed %d network ACLs (page 2 asked %d times), want 2 from two pages", len(x.NetworkACLs), len(s.Served("nacl-2")))
	} else if a := x.NetworkACLFor("vsw-1"); a == nil || a.ID != "nacl-nodes" || len(a.Ingress) != 2 || a.Ingress[0].Accept || a.Ingress[1].Type != "system" || len(a.Egress) != 1 {
		t.Errorf("vsw-1's network ACL parsed as %+v", a)
	}
	var custom *cloudali.RouteTable
	for _, rt := range x.Tables {
		if rt.ID == "vtb-custom" {
			custom = rt
		}
	}
	if custom == nil || !custom.HasEntries {
		t.Errorf("vtb-custom parsed as %+v", custom)
	}
}

// A profile's region is used when none is passed; no region at all is an error, not a
// silent default.
func TestRegion(t *testing.T) {
	setup(t)
	home := os.Getenv("HOME")
	noop := func(string, []byte) {}
	if _, err := Export(context.Background(), cloudexport.Options{Endpoint: "http://127.0.0.1:1"}, noop); err == nil || !strings.Contains(err.Error(), "no region") {
		t.Errorf("no region: err = %v", err)
	}
	if err := os.MkdirAll(filepath.Join(home, ".aliyun"), 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := `{"current":"work","profiles":[{"name":"default","region_id":"cn-beijing"},{"name":"work","region_id":"cn-shanghai"}]}`
	if err := os.WriteFile(filepath.Join(home, ".aliyun", "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ profile, want string }{{"", "cn-shanghai"}, {"default", "cn-beijing"}} {
		if got := cliProfile(tc.profile).Region; got != tc.want {
			t.Errorf("profile %q: region %q, want %q", tc.profile, got, tc.want)
		}
	}
}

// The policy file grants exactly the actions Export calls, read-only, on every resource.
func TestPolicy(t *testing.T) {
	data, err := os.ReadFile("../../../deploy/cloud/alibaba-ram-policy.json")
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Version   string
		Statement []struct {
			Effect   string
			Action   []string
			Resource any
		}
	}
	if err := json.Unmarshal(data, &p); err != nil {
		t.Fatal(err)
	}
	if p.Version != "1" || len(p.Statement) != 1 || p.Statement[0].Effect != "Allow" || p.Statement[0].Resource != "*" {
		t.Fatalf("policy shape: %+v", p)
	}
	replay.SameSet(t, "policy actions against Permissions", p.Statement[0].Action, Permissions)
}

func tokens(rs []replay.Request, name string) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Param(name))
	}
	return out
}

func statuses(rs []replay.Request) []int {
	var out []int
	for _, r := range rs {
		out = append(out, r.Status)
	}
	return out
}

// A cancelled context stops a call in flight.
func TestCancelInFlight(t *testing.T) {
	setup(t)
	replay.CancelInFlight(t, Export, cloudexport.Options{Region: "cn-hangzhou"})
}

// An API that answers the NextToken it was asked with would be paged for ever: the call
// is a gap after the repeat, not a hang.
func TestRepeatedToken(t *testing.T) {
	setup(t)
	s := replay.New(t,
		replay.Exchange{Name: "instances", Match: action("DescribeInstances"),
			Responses: []replay.Response{ok(`{"RequestId":"r","NextToken":"same","Instances":{"Instance":[{"InstanceId":"i-1"}]}}`)}},
		replay.Exchange{Name: "rest", Match: replay.Any(), Responses: []replay.Response{ok(`{"RequestId":"r"}`)}},
	)
	out, gaps := export(t, s)
	if n := len(s.Served("instances")); n != 2 {
		t.Errorf("DescribeInstances asked %d times, want 2 (the first page, then the repeat)", n)
	}
	if _, ok := out.Files["DescribeInstances.json"]; ok || len(gaps) != 1 || !strings.Contains(gaps[0], "DescribeInstances.json: DescribeInstances failed") ||
		!strings.Contains(gaps[0], "NextToken") {
		t.Errorf("gaps %q", gaps)
	}
}
