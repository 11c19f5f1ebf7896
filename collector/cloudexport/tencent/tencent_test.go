package tencent

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	cloudtc "github.com/netsim/netsim/cloud/tencent"
	"github.com/netsim/netsim/collector/cloudexport"
	"github.com/netsim/netsim/collector/cloudexport/replay"
)

// action matches API 3.0's X-TC-Action header.
func action(a string) replay.Matcher { return replay.Header("X-TC-Action", a) }

// resp wraps a Response's content as the API sends it.
func resp(content string) replay.Response {
	return replay.Response{ContentType: "application/json", Body: `{"Response":` + content + `}`}
}

// API 3.0 answers errors with HTTP 200 and Response.Error: RequestLimitExceeded when the
// action's frequency limit is hit, UnauthorizedOperation when CAM refuses.
var (
	limited = resp(`{"Error":{"Code":"RequestLimitExceeded","Message":"Your current request times equals to 21 in a second, which exceeds the frequency limit 20 for a second."},"RequestId":"r-l"}`)
	// A documented sub-code of the frequency limit, per account.
	limitedUin = resp(`{"Error":{"Code":"RequestLimitExceeded.UinLimitExceeded","Message":"Your request frequency exceeds the account's limit."},"RequestId":"r-l2"}`)
	refused    = resp(`{"Error":{"Code":"UnauthorizedOperation","Message":"you are not authorized to perform operation (vpc:DescribeSecurityGroupPolicies)"},"RequestId":"r-u"}`)
)

func exchanges() []replay.Exchange {
	return []replay.Exchange{
		// Two pages of instances, the first throttled once.
		{Name: "instances-0", Match: replay.All(action("DescribeInstances"), replay.JSONField("Offset", "0"), replay.JSONField("Limit", "100")),
			Responses: []replay.Response{limited, resp(`{"TotalCount":2,"RequestId":"r1","InstanceSet":[{"InstanceId":"ins-1","InstanceName":"node1",
				"PrivateIpAddresses":["10.0.1.10"],"PublicIpAddresses":null,"SecurityGroupIds":["sg-nodes"],
				"VirtualPrivateCloud":{"VpcId":"vpc-1","SubnetId":"subnet-1"}}]}`)}},
		{Name: "instances-1", Match: replay.All(action("DescribeInstances"), replay.JSONField("Offset", "1")),
			Responses: []replay.Response{resp(`{"TotalCount":2,"RequestId":"r2","InstanceSet":[{"InstanceId":"ins-2","InstanceName":"node2",
				"PrivateIpAddresses":["10.0.1.11"],"PublicIpAddresses":["43.1.2.3"],"SecurityGroupIds":["sg-nodes","sg-extra"],
				"VirtualPrivateCloud":{"VpcId":"vpc-1","SubnetId":"subnet-1"}}]}`)}},
		{Name: "enis", Match: action("DescribeNetworkInterfaces"),
			Responses: []replay.Response{resp(`{"TotalCount":1,"RequestId":"r3","NetworkInterfaceSet":[{"NetworkInterfaceId":"eni-1","VpcId":"vpc-1","SubnetId":"subnet-1",
				"Primary":false,"GroupSet":["sg-pods"],"Attachment":{"InstanceId":"ins-1"},
				"PrivateIpAddressSet":[{"PrivateIpAddress":"10.0.1.20","Primary":true},{"PrivateIpAddress":"10.0.1.21","Primary":false}]}]}`)}},
		{Name: "pol-nodes", Match: replay.All(action("DescribeSecurityGroupPolicies"), replay.JSONField("SecurityGroupId", "sg-nodes")),
			Responses: []replay.Response{resp(`{"RequestId":"r4","SecurityGroupPolicySet":{"Version":"3","Ingress":[
				{"PolicyIndex":0,"Protocol":"TCP","Port":"80,443","CidrBlock":"0.0.0.0/0","Action":"ACCEPT"}],"Egress":[
				{"PolicyIndex":0,"Protocol":"ALL","Port":"ALL","CidrBlock":"0.0.0.0/0","Action":"ACCEPT"}]}}`)}},
		{Name: "pol-extra", Match: replay.All(action("DescribeSecurityGroupPolicies"), replay.JSONField("SecurityGroupId", "sg-extra")),
			Responses: []replay.Response{resp(`{"RequestId":"r5","SecurityGroupPolicySet":{"Version":"1","Ingress":[],"Egress":[]}}`)}},
		{Name: "pol-pods", Match: replay.All(action("DescribeSecurityGroupPolicies"), replay.JSONField("SecurityGroupId", "sg-pods")),
			Responses: []replay.Response{refused}},
		{Name: "templates", Match: action("DescribeAddressTemplates"),
			Responses: []replay.Response{resp(`{"TotalCount":0,"RequestId":"r6","AddressTemplateSet":[]}`)}},
		{Name: "template-groups", Match: action("DescribeAddressTemplateGroups"),
			Responses: []replay.Response{resp(`{"TotalCount":0,"RequestId":"r7","AddressTemplateGroupSet":[]}`)}},
		// DescribeSubnets takes Offset and Limit as strings.
		{Name: "subnets", Match: replay.All(action("DescribeSubnets"), replay.JSONField("Offset", "0"), replay.JSONField("Limit", "100")),
			Responses: []replay.Response{limitedUin, resp(`{"TotalCount":1,"RequestId":"r8","SubnetSet":[{"SubnetId":"subnet-1","VpcId":"vpc-1","CidrBlock":"10.0.1.0/24","RouteTableId":"rtb-1"}]}`)}},
		{Name: "tables", Match: action("DescribeRouteTables"),
			Responses: []replay.Response{resp(`{"TotalCount":1,"RequestId":"r9","RouteTableSet":[{"RouteTableId":"rtb-1","VpcId":"vpc-1","Main":true,
				"AssociationSet":[{"SubnetId":"subnet-1","RouteTableId":"rtb-1"}],
				"RouteSet":[{"RouteId":1,"DestinationCidrBlock":"0.0.0.0/0","GatewayType":"NAT","GatewayId":"nat-1","Enabled":true,"RouteType":"USER"}]}]}`)}},
		// Two pages of network ACLs, by integer Offset/Limit.
		{Name: "acls-0", Match: replay.All(action("DescribeNetworkAcls"), replay.JSONField("Offset", "0"), replay.JSONField("Limit", "100")),
			Responses: []replay.Response{resp(`{"TotalCount":2,"RequestId":"r15","NetworkAclSet":[{"NetworkAclId":"acl-1","VpcId":"vpc-1","NetworkAclName":"nodes",
				"NetworkAclType":"TRIPLE","SubnetSet":[{"SubnetId":"subnet-1","VpcId":"vpc-1","CidrBlock":"10.0.1.0/24"}],
				"IngressEntries":[{"Protocol":"TCP","Port":"30000-32767","CidrBlock":"0.0.0.0/0","Action":"ACCEPT","Description":"node ports"}],
				"EgressEntries":[{"Protocol":"ALL","Port":"","CidrBlock":"0.0.0.0/0","Action":"ACCEPT"}]}]}`)}},
		{Name: "acls-1", Match: replay.All(action("DescribeNetworkAcls"), replay.JSONField("Offset", "1")),
			Responses: []replay.Response{resp(`{"TotalCount":2,"RequestId":"r16","NetworkAclSet":[{"NetworkAclId":"acl-2","VpcId":"vpc-1","SubnetSet":[],
				"IngressEntries":[],"EgressEntries":[]}]}`)}},
		{Name: "nats", Match: action("DescribeNatGateways"),
			Responses: []replay.Response{resp(`{"TotalCount":1,"RequestId":"r10","NatGatewaySet":[{"NatGatewayId":"nat-1","VpcId":"vpc-1","State":"AVAILABLE",
				"PublicIpAddressSet":[{"PublicIpAddress":"43.9.9.9","AddressId":"eip-1"}]}]}`)}},
		{Name: "snat", Match: replay.All(action("DescribeNatGatewaySourceIpTranslationNatRules"), replay.JSONField("NatGatewayId", "nat-1")),
			Responses: []replay.Response{resp(`{"TotalCount":1,"RequestId":"r11","SourceIpTranslationNatRuleSet":[{"NatGatewaySnatId":"snat-1","ResourceType":"SUBNET",
				"ResourceId":"subnet-1","PublicIpAddresses":["43.9.9.9"],"NatGatewayId":"nat-1","VpcId":"vpc-1"}]}`)}},
		{Name: "lbs", Match: action("DescribeLoadBalancers"),
			Responses: []replay.Response{resp(`{"TotalCount":1,"RequestId":"r12","LoadBalancerSet":[{"LoadBalancerId":"lb-1","LoadBalancerName":"web",
				"LoadBalancerType":"OPEN","LoadBalancerVips":["43.8.8.8"],"VpcId":"vpc-1","Status":1}]}`)}},
		{Name: "listeners", Match: replay.All(action("DescribeListeners"), replay.JSONField("LoadBalancerId", "lb-1")),
			Responses: []replay.Response{resp(`{"TotalCount":1,"RequestId":"r13","Listeners":[{"ListenerId":"lbl-1","ListenerName":"http","Protocol":"TCP","Port":80}]}`)}},
		{Name: "health", Match: replay.All(action("DescribeTargetHealth"), replay.JSONField("LoadBalancerIds", "[lb-1]")),
			Responses: []replay.Response{resp(`{"RequestId":"r14","LoadBalancers":[{"LoadBalancerId":"lb-1","LoadBalancerName":"web","Listeners":[
				{"ListenerId":"lbl-1","ListenerName":"http","Protocol":"TCP","Port":80,"Rules":[{"LocationId":"loc-1","Domain":"","Url":"","Targets":[
				{"IP":"10.0.1.10","Port":30080,"HealthStatus":true,"TargetId":"ins-1","HealthStatusDetail":"Alive"}]}]}]}]}`)}},
	}
}

func setup(t *testing.T) {
	t.Helper()
	t.Setenv("HOME", t.TempDir())
	t.Setenv("TENCENTCLOUD_SECRET_ID", "AKIDTEST")
	t.Setenv("TENCENTCLOUD_SECRET_KEY", "secret")
	t.Setenv("TENCENTCLOUD_REGION", "")
	t.Setenv("TCCLI_PROFILE", "")
	b := retryBase
	retryBase = time.Millisecond
	t.Cleanup(func() { retryBase = b })
}

func TestExport(t *testing.T) {
	setup(t)
	s := replay.New(t, exchanges()...)
	out := replay.NewSink(t)
	files := out.Files
	gaps, err := Export(context.Background(), cloudexport.Options{Region: "ap-guangzhou", Endpoint: s.URL, HTTPClient: s.Client()},
		out.Put)
	if err != nil {
		t.Fatal(err)
	}

	names := out.Names()
	want := []string{
		"DescribeAddressTemplateGroups.json", "DescribeAddressTemplates.json", "DescribeInstances.json",
		"DescribeListeners/lb-1.json", "DescribeLoadBalancers.json", "DescribeNatGatewaySourceIpTranslationNatRules/nat-1.json",
		"DescribeNatGateways.json", "DescribeNetworkAcls.json", "DescribeNetworkInterfaces.json", "DescribeRouteTables.json",
		"DescribeSecurityGroupPolicies/sg-extra.json", "DescribeSecurityGroupPolicies/sg-nodes.json",
		"DescribeSubnets.json", "DescribeTargetHealth.json",
	}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("files:\n got %q\nwant %q", names, want)
	}

	// The refused group is a gap naming its file, the call and the CAM action.
	if len(gaps) != 1 || gaps[0].Scope != "cloud/tencent/DescribeSecurityGroupPolicies/sg-pods.json" ||
		!strings.Contains(gaps[0].Reason, "vpc:DescribeSecurityGroupPolicies") || !strings.Contains(gaps[0].Reason, "UnauthorizedOperation") {
		t.Errorf("gaps = %+v", gaps)
	}

	// The Response content, both pages merged, without the envelope.
	var inst struct {
		Response    any
		TotalCount  int
		InstanceSet []struct{ InstanceId string }
	}
	if err := json.Unmarshal(files["DescribeInstances.json"], &inst); err != nil {
		t.Fatal(err)
	}
	if inst.Response != nil || inst.TotalCount != 2 || len(inst.InstanceSet) != 2 || inst.InstanceSet[1].InstanceId != "ins-2" {
		t.Errorf("DescribeInstances.json = %s", files["DescribeInstances.json"])
	}

	// RequestLimitExceeded was retried, then the page succeeded; the refusal was not.
	if rs := s.Served("instances-0"); len(rs) != 2 {
		t.Errorf("first DescribeInstances page asked %d times, want 2 (throttled, then answered)", len(rs))
	}
	if rs := s.Served("pol-pods"); len(rs) != 1 {
		t.Errorf("UnauthorizedOperation asked %d times, want once", len(rs))
	}
	// The second page asked from where the first ended; strings where the API takes them.
	if rs := s.Served("instances-1"); len(rs) != 1 || !reflect.DeepEqual(rs[0].JSON("Limit"), float64(100)) {
		t.Errorf("second page: %+v", rs)
	}
	if rs := s.Served("acls-1"); len(rs) != 1 || !reflect.DeepEqual(rs[0].JSON("Limit"), float64(100)) {
		t.Errorf("second DescribeNetworkAcls page: %+v", rs)
	}
	if rs := s.Served("subnets"); len(rs) != 2 || rs[1].JSON("Offset") != "0" {
		t.Errorf("DescribeSubnets: %+v", rs)
	}

	// Only the policy's actions, read-only, in the region, signed with TC3.
	allowed := map[string]bool{}
	for _, p := range Permissions {
		svc, a, _ := strings.Cut(p, ":")
		allowed[svc+"/"+a] = true
	}
	called := map[string]bool{}
	for _, r := range s.Requests() {
		called[strings.Split(r.Header.Get("Authorization"), "/")[2]+"/"+r.Header.Get("X-TC-Action")] = true
	}
	for p := range allowed {
		if !called[p] {
			t.Errorf("%s is in the policy but never called: the policy grants more than the code uses", p)
		}
	}
	for _, r := range s.Requests() {
		a := r.Header.Get("X-TC-Action")
		// Credential=ID/DATE/SERVICE/tc3_request names the service.
		svc := strings.Split(r.Header.Get("Authorization"), "/")[2]
		if !allowed[svc+"/"+a] || !strings.HasPrefix(a, "Describe") {
			t.Errorf("called %s %s, not a read-only action of the policy", svc, a)
		}
		if r.Header.Get("X-TC-Region") != "ap-guangzhou" || !strings.HasPrefix(r.Header.Get("Authorization"), "TC3-HMAC-SHA256 Credential=AKIDTEST/") {
			t.Errorf("%s: region %q, authorization %q", a, r.Header.Get("X-TC-Region"), r.Header.Get("Authorization"))
		}
	}

	// Parse-through: cloud/tencent reads what was written.
	sf := out.Sources("cloud/tencent")
	x, err := cloudtc.Parse("cloud/tencent", sf)
	if err != nil {
		t.Fatalf("cloud/tencent cannot read the export: %v", err)
	}
	if len(x.Instances) != 2 || len(x.ENIs) != 1 || len(x.ENIs[0].IPs) != 2 {
		t.Errorf("parsed %d instances, %d ENIs", len(x.Instances), len(x.ENIs))
	}
	if g := x.Groups["sg-nodes"]; g == nil {
		t.Errorf("sg-nodes not parsed")
	}
	if _, ok := x.Groups["sg-pods"]; ok {
		t.Errorf("the refused group sg-pods was parsed from somewhere")
	}
	if len(x.ACLs) != 2 || x.ACLs[0].Subnets[0] != "subnet-1" || len(x.ACLs[0].Ingress) != 1 || x.ACLs[0].Ingress[0].Ports[0].From != 30000 || x.ACLs[1].ID != "acl-2" {
		t.Errorf("parsed ACLs %+v", x.ACLs)
	}
	if len(x.Subnets) != 1 || len(x.RouteTables) != 1 || len(x.SNAT["nat-1"]) != 1 || len(x.Listeners["lb-1"]) != 1 || len(x.Targets["lb-1"]) != 1 {
		t.Errorf("parsed subnets %d, tables %d, SNAT %d, listeners %d, targets %d", len(x.Subnets), len(x.RouteTables),
			len(x.SNAT["nat-1"]), len(x.Listeners["lb-1"]), len(x.Targets["lb-1"]))
	}
}

// The tccli profile's region is read when none is passed; none at all is an error.
func TestRegion(t *testing.T) {
	setup(t)
	noop := func(string, []byte) {}
	if _, err := Export(context.Background(), cloudexport.Options{}, noop); err == nil || !strings.Contains(err.Error(), "no region") {
		t.Errorf("no region: err = %v", err)
	}
	dir := filepath.Join(os.Getenv("HOME"), ".tccli")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "work.configure"), []byte(`{"_sys_param":{"region":"ap-shanghai","output":"json"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := tccliRegion("work"); got != "ap-shanghai" {
		t.Errorf("tccli region %q, want ap-shanghai", got)
	}
}

// The policy file grants exactly the actions Export calls, on every resource.
func TestPolicy(t *testing.T) {
	data, err := os.ReadFile("../../../deploy/cloud/tencent-cam-policy.json")
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Version   string `json:"version"`
		Statement []struct {
			Effect   string   `json:"effect"`
			Action   []string `json:"action"`
			Resource any      `json:"resource"`
		} `json:"statement"`
	}
	if err := json.Unmarshal(data, &p); err != nil {
		t.Fatal(err)
	}
	if p.Version != "2.0" || len(p.Statement) != 1 || p.Statement[0].Effect != "allow" || p.Statement[0].Resource != "*" {
		t.Fatalf("policy shape: %+v", p)
	}
	replay.SameSet(t, "policy actions against Permissions", p.Statement[0].Action, Permissions)
}

// DescribeTargetHealth takes at most 20 LoadBalancerIds: 21 load balancers are two
// calls, merged into one file; an empty region still writes every list, empty.
func TestTargetHealthBatches(t *testing.T) {
	setup(t)
	var lbs, health []string
	for i := 0; i < 21; i++ {
		id := fmt.Sprintf("lb-%02d", i)
		lbs = append(lbs, `{"LoadBalancerId":"`+id+`","LoadBalancerType":"INTERNAL","LoadBalancerVips":["10.0.0.`+fmt.Sprint(i+1)+`"],"VpcId":"vpc-1"}`)
		health = append(health, `{"LoadBalancerId":"`+id+`","Listeners":[]}`)
	}
	empty := func(a, list string) replay.Exchange {
		return replay.Exchange{Name: a, Match: action(a), Responses: []replay.Response{resp(`{"TotalCount":0,"RequestId":"r","` + list + `":[]}`)}}
	}
	s := replay.New(t,
		empty("DescribeInstances", "InstanceSet"), empty("DescribeNetworkInterfaces", "NetworkInterfaceSet"),
		empty("DescribeAddressTemplates", "AddressTemplateSet"), empty("DescribeAddressTemplateGroups", "AddressTemplateGroupSet"),
		empty("DescribeSubnets", "SubnetSet"), empty("DescribeRouteTables", "RouteTableSet"), empty("DescribeNetworkAcls", "NetworkAclSet"),
		empty("DescribeNatGateways", "NatGatewaySet"),
		empty("DescribeListeners", "Listeners"),
		replay.Exchange{Name: "lbs", Match: action("DescribeLoadBalancers"),
			Responses: []replay.Response{resp(`{"TotalCount":21,"RequestId":"r","LoadBalancerSet":[` + strings.Join(lbs, ",") + `]}`)}},
		replay.Exchange{Name: "health", Match: action("DescribeTargetHealth"),
			Responses: []replay.Response{{ContentType: "application/json", BodyFunc: func(r *replay.Request) string {
				ids, _ := r.JSON("LoadBalancerIds").([]any)
				var out []string
				for _, id := range ids {
					out = append(out, health[mustIndex(t, id)])
				}
				return `{"Response":{"RequestId":"r","LoadBalancers":[` + strings.Join(out, ",") + `]}}`
			}}}},
	)
	out := replay.NewSink(t)
	files := out.Files
	gaps, err := Export(context.Background(), cloudexport.Options{Region: "ap-guangzhou", Endpoint: s.URL, HTTPClient: s.Client()},
		out.Put)
	if err != nil || len(gaps) != 0 {
		t.Fatalf("err %v, gaps %+v", err, gaps)
	}
	var sizes []int
	for _, r := range s.Served("health") {
		ids, _ := r.JSON("LoadBalancerIds").([]any)
		sizes = append(sizes, len(ids))
	}
	if !reflect.DeepEqual(sizes, []int{20, 1}) {
		t.Errorf("DescribeTargetHealth batches %v, want [20 1]", sizes)
	}
	var th struct {
		LoadBalancers []struct{ LoadBalancerId string }
	}
	if err := json.Unmarshal(files[cloudtc.FileTargetHealth], &th); err != nil {
		t.Fatal(err)
	}
	if len(th.LoadBalancers) != 21 || th.LoadBalancers[20].LoadBalancerId != "lb-20" {
		t.Errorf("DescribeTargetHealth.json holds %d load balancers", len(th.LoadBalancers))
	}
	if got := strings.TrimSpace(string(files[cloudtc.FileSubnets])); !strings.Contains(got, `"SubnetSet": []`) {
		t.Errorf("empty subnets written as %s", got)
	}
	sf := out.Sources("cloud/tencent")
	if _, err := cloudtc.Parse("cloud/tencent", sf); err != nil {
		t.Errorf("cloud/tencent cannot read the export: %v", err)
	}
}

func mustIndex(t *testing.T, id any) int {
	s, _ := id.(string)
	var n int
	if _, err := fmt.Sscanf(s, "lb-%d", &n); err != nil {
		t.Errorf("LoadBalancerIds holds %v", id)
	}
	return n
}

// A cancelled context stops a call in flight.
func TestCancelInFlight(t *testing.T) {
	setup(t)
	replay.CancelInFlight(t, Export, cloudexport.Options{Region: "ap-guangzhou"})
}
