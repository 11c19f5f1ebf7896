package aws

import (
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	cloudaws "github.com/netsim/netsim/cloud/aws"
	"github.com/netsim/netsim/collector/cloudexport"
	"github.com/netsim/netsim/collector/cloudexport/replay"
)

// The responses below are in the shapes of the EC2 API reference's examples
// (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeSecurityGroups.html
// and the like: the EC2 query protocol's lowerCamel XML, lists as <item>) and of the
// Elastic Load Balancing API reference (awsquery: <XResult>, lists as <member>).

const ec2NS = `xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"`

func ec2XML(action, inner string) string {
	return `<?xml version="1.0" encoding="UTF-8"?><` + action + `Response ` + ec2NS + `><requestId>r-1</requestId>` + inner + `</` + action + `Response>`
}

func elbXML(action, inner string) string {
	return `<` + action + `Response xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"><` + action + `Result>` + inner +
		`</` + action + `Result><ResponseMetadata><RequestId>r-2</RequestId></ResponseMetadata></` + action + `Response>`
}

const (
	ec2Throttle  = `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>t-1</RequestID></Response>`
	ec2Denied    = `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized to perform this operation.</Message></Error></Errors><RequestID>d-1</RequestID></Response>`
	elbThrottled = `<ErrorResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>t-2</RequestId></ErrorResponse>`

	instance1 = `<item><instanceId>i-1</instanceId><instanceState><code>16</code><name>running</name></instanceState>
<privateIpAddress>10.0.1.10</privateIpAddress><subnetId>subnet-a</subnetId><vpcId>vpc-1</vpcId><sourceDestCheck>true</sourceDestCheck>
<placement><availabilityZone>us-east-1a</availabilityZone></placement>
<groupSet><item><groupId>sg-nodes</groupId><groupName>nodes</groupName></item></groupSet>
<networkInterfaceSet><item><networkInterfaceId>eni-1</networkInterfaceId><subnetId>subnet-a</subnetId><vpcId>vpc-1</vpcId>
<privateIpAddress>10.0.1.10</privateIpAddress><sourceDestCheck>true</sourceDestCheck><interfaceType>interface</interfaceType>
<groupSet><item><groupId>sg-nodes</groupId><groupName>nodes</groupName></item></groupSet>
<attachment><attachmentId>eni-attach-1</attachmentId><deviceIndex>0</deviceIndex><status>attached</status></attachment>
<privateIpAddressesSet><item><privateIpAddress>10.0.1.10</privateIpAddress><primary>true</primary></item>
<item><privateIpAddress>10.0.1.11</privateIpAddress><primary>false</primary></item></privateIpAddressesSet>
</item></networkInterfaceSet></item>`
	instance2 = `<item><instanceId>i-2</instanceId><instanceState><code>16</code><name>running</name></instanceState>
<privateIpAddress>10.0.2.20</privateIpAddress><subnetId>subnet-b</subnetId><vpcId>vpc-1</vpcId><sourceDestCheck>false</sourceDestCheck>
<groupSet><item><groupId>sg-nodes</groupId><groupName>nodes</groupName></item></groupSet></item>`

	groups = `<securityGroupInfo><item><ownerId>111122223333</ownerId><groupId>sg-nodes</groupId><groupName>nodes</groupName>
<groupDescription>worker nodes</groupDescription><vpcId>vpc-1</vpcId>
<ipPermissions><item><ipProtocol>tcp</ipProtocol><fromPort>30000</fromPort><toPort>32767</toPort>
<groups><item><userId>111122223333</userId><groupId>sg-lb</groupId></item></groups>
<ipRanges><item><cidrIp>10.0.0.0/16</cidrIp><description>vpc</description></item></ipRanges><ipv6Ranges/><prefixListIds/></item></ipPermissions>
<ipPermissionsEgress><item><ipProtocol>-1</ipProtocol><groups/><ipRanges><item><cidrIp>0.0.0.0/0</cidrIp></item></ipRanges><prefixListIds/></item></ipPermissionsEgress>
</item></securityGroupInfo>`

	routeTables = `<routeTableSet><item><routeTableId>rtb-1</routeTableId><vpcId>vpc-1</vpcId><ownerId>111122223333</ownerId>
<routeSet><item><destinationCidrBlock>10.0.0.0/16</destinationCidrBlock><gatewayId>local</gatewayId><state>active</state><origin>CreateRouteTable</origin></item>
<item><destinationCidrBlock>0.0.0.0/0</destinationCidrBlock><natGatewayId>nat-1</natGatewayId><state>active</state><origin>CreateRoute</origin></item>
<item><destinationPrefixListId>pl-1</destinationPrefixListId><gatewayId>vpce-1</gatewayId><state>active</state><origin>CreateRoute</origin></item></routeSet>
<associationSet><item><routeTableAssociationId>rtbassoc-1</routeTableAssociationId><routeTableId>rtb-1</routeTableId><subnetId>subnet-a</subnetId><main>false</main></item></associationSet>
</item></routeTableSet>`

	lbARN       = "arn:aws:elasticloadbalancing:us-east-1:111122223333:loadbalancer/app/web/50dc6c495c0c9188"
	listenerARN = "arn:aws:elasticloadbalancing:us-east-1:111122223333:listener/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2"
	// nlbListenerARN is a Network Load Balancer's listener: it has no rules, so
	// DescribeRules must not be asked for it (the check on DescribeRules below).
	nlbListenerARN = "arn:aws:elasticloadbalancing:us-east-1:111122223333:listener/net/edge/73e2d6bc24d8a067/d4f3a1b2c3d4e5f6"
	tgARN          = "arn:aws:elasticloadbalancing:us-east-1:111122223333:targetgroup/web-tg/73e2d6bc24d8a067"
)

// fixture is a replayed account: two pages of instances (the first throttled once), a
// security group, a route table, a transit gateway table, a prefix list, a load
// balancer with a listener, its rules, a target group (throttled once) and its health;
// DescribeNatGateways is denied.
func fixture(t *testing.T) *replay.Server {
	xml := func(b string) []replay.Response {
		return []replay.Response{{ContentType: "text/xml;charset=UTF-8", Body: b}}
	}
	ec2 := func(action, inner string) replay.Exchange {
		return replay.Exchange{Name: action, Match: replay.Action(action), Responses: xml(ec2XML(action, inner))}
	}
	elb := func(action, inner string) replay.Exchange {
		return replay.Exchange{Name: action, Match: replay.Action(action), Responses: xml(elbXML(action, inner))}
	}
	return replay.New(t,
		replay.Exchange{Name: "DescribeInstances/1", Match: replay.All(replay.Action("DescribeInstances"), replay.Param("NextToken", "")),
			Responses: []replay.Response{
				{Status: 503, ContentType: "text/xml", Body: ec2Throttle},
				{ContentType: "text/xml", Body: ec2XML("DescribeInstances", `<reservationSet><item><reservationId>r-a</reservationId><ownerId>111122223333</ownerId><instancesSet>`+instance1+`</instancesSet></item></reservationSet><nextToken>page2</nextToken>`)},
			}},
		replay.Exchange{Name: "DescribeInstances/2", Match: replay.All(replay.Action("DescribeInstances"), replay.Param("NextToken", "page2")),
			Responses: xml(ec2XML("DescribeInstances", `<reservationSet><item><reservationId>r-b</reservationId><instancesSet>`+instance2+`</instancesSet></item></reservationSet>`))},
		ec2("DescribeNetworkInterfaces", `<networkInterfaceSet/>`),
		ec2("DescribeSecurityGroups", groups),
		ec2("DescribeRouteTables", routeTables),
		ec2("DescribeNetworkAcls", `<networkAclSet/>`),
		replay.Exchange{Name: "DescribeNatGateways", Match: replay.Action("DescribeNatGateways"),
			Responses: []replay.Response{{Status: 403, ContentType: "text/xml", Body: ec2Denied}}},
		ec2("DescribeVpcPeeringConnections", `<vpcPeeringConnectionSet/>`),
		ec2("DescribeTransitGatewayRouteTables", `<transitGatewayRouteTables><item><transitGatewayRouteTableId>tgw-rtb-1</transitGatewayRouteTableId><transitGatewayId>tgw-1</transitGatewayId><state>available</state></item></transitGatewayRouteTables>`),
		ec2("SearchTransitGatewayRoutes", `<routeSet><item><destinationCidrBlock>10.1.0.0/16</destinationCidrBlock><type>propagated</type><state>active</state>
<transitGatewayAttachments><item><transitGatewayAttachmentId>tgw-attach-1</transitGatewayAttachmentId><resourceId>vpc-2</resourceId><resourceType>vpc</resourceType></item></transitGatewayAttachments></item></routeSet><additionalRoutesAvailable>false</additionalRoutesAvailable>`),
		ec2("DescribeManagedPrefixLists", `<prefixListSet><item><prefixListId>pl-1</prefixListId><prefixListName>com.amazonaws.us-east-1.s3</prefixListName><addressFamily>IPv4</addressFamily><maxEntries>10</maxEntries></item></prefixListSet>`),
		ec2("GetManagedPrefixListEntries", `<entrySet><item><cidr>52.216.0.0/15</cidr></item></entrySet>`),
		elb("DescribeLoadBalancers", `<LoadBalancers><member><LoadBalancerArn>`+lbARN+`</LoadBalancerArn><LoadBalancerName>web</LoadBalancerName>
<DNSName>web-1.us-east-1.elb.amazonaws.com</DNSName><Scheme>internet-facing</Scheme><VpcId>vpc-1</VpcId><Type>application</Type><State><Code>active</Code></State>
<AvailabilityZones><member><ZoneName>us-east-1a</ZoneName><SubnetId>subnet-a</SubnetId></member></AvailabilityZones>
<SecurityGroups><member>sg-lb</member></SecurityGroups></member></LoadBalancers>`),
		elb("DescribeListeners", `<Listeners><member><ListenerArn>`+listenerARN+`</ListenerArn><LoadBalancerArn>`+lbARN+`</LoadBalancerArn><Port>80</Port><Protocol>HTTP</Protocol>
<DefaultActions><member><Type>forward</Type><TargetGroupArn>`+tgARN+`</TargetGroupArn></member></DefaultActions></member>
<member><ListenerArn>`+nlbListenerARN+`</ListenerArn><LoadBalancerArn>`+lbARN+`</LoadBalancerArn><Port>443</Port><Protocol>TCP</Protocol>
<DefaultActions><member><Type>forward</Type><TargetGroupArn>`+tgARN+`</TargetGroupArn></member></DefaultActions></member></Listeners>`),
		elb("DescribeRules", `<Rules><member><RuleArn>arn:aws:elasticloadbalancing:us-east-1:111122223333:listener-rule/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee</RuleArn>
<Priority>default</Priority><IsDefault>true</IsDefault><Conditions/><Actions><member><Type>forward</Type><TargetGroupArn>`+tgARN+`</TargetGroupArn></member></Actions></member></Rules>`),
		replay.Exchange{Name: "DescribeTargetGroups", Match: replay.Action("DescribeTargetGroups"), Responses: []replay.Response{
			{Status: 400, ContentType: "text/xml", Body: elbThrottled},
			{ContentType: "text/xml", Body: elbXML("DescribeTargetGroups", `<TargetGroups><member><TargetGroupArn>`+tgARN+`</TargetGroupArn><TargetGroupName>web-tg</TargetGroupName>
<Protocol>HTTP</Protocol><Port>30080</Port><VpcId>vpc-1</VpcId><TargetType>instance</TargetType><LoadBalancerArns><member>`+lbARN+`</member></LoadBalancerArns></member></TargetGroups>`)},
		}},
		elb("DescribeTargetHealth", `<TargetHealthDescriptions><member><Target><Id>i-1</Id><Port>30080</Port></Target><HealthCheckPort>30080</HealthCheckPort>
<TargetHealth><State>healthy</State></TargetHealth></member><member><Target><Id>i-2</Id><Port>30080</Port></Target>
<TargetHealth><State>unhealthy</State><Reason>Target.FailedHealthChecks</Reason><Description>Health checks failed</Description></TargetHealth></member></TargetHealthDescriptions>`),
	)
}

// testEnv gives the SDK the aws CLI's environment credentials and nothing else: no
// shared files, no instance metadata.
func testEnv(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", path.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", path.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CA_BUNDLE", "") // a custom CA cannot be added to the test server's client
}

func TestExportParsesThrough(t *testing.T) {
	testEnv(t)
	srv := fixture(t)
	out := replay.NewSink(t)
	gaps, err := Export(context.Background(), cloudexport.Options{Region: "us-east-1", Endpoint: srv.URL, HTTPClient: srv.Client()}, out.Put)
	if err != nil {
		t.Fatal(err)
	}

	// Every call was a read; the throttled ones were retried by the SDK; page 2 was asked for.
	for _, a := range srv.Params("Action") {
		if !strings.HasPrefix(a, "Describe") && !strings.HasPrefix(a, "Get") && !strings.HasPrefix(a, "Search") {
			t.Errorf("a call that is not a read: %s", a)
		}
		if !slices.ContainsFunc(Permissions, func(p string) bool { return strings.HasSuffix(p, ":"+a) }) {
			t.Errorf("%s is called but not in Permissions", a)
		}
	}
	// ...and every action of the policy is called: it grants nothing more than the code uses.
	for _, p := range Permissions {
		if _, a, _ := strings.Cut(p, ":"); !slices.Contains(srv.Params("Action"), a) {
			t.Errorf("%s is in the policy but never called", p)
		}
	}
	if r := srv.Served("DescribeInstances/1"); len(r) != 2 || r[0].Status != 503 || r[1].Status != 200 {
		t.Errorf("DescribeInstances page 1: want a throttled answer then a retry, got %d requests", len(r))
	}
	if r := srv.Served("DescribeInstances/2"); len(r) != 1 {
		t.Errorf("DescribeInstances page 2 asked for %d times, want 1", len(r))
	}
	if r := srv.Served("DescribeTargetGroups"); len(r) != 2 || r[0].Status != 400 {
		t.Errorf("DescribeTargetGroups: want Throttling then a retry, got %d requests", len(r))
	}
	if r := srv.Served("SearchTransitGatewayRoutes"); len(r) != 1 || r[0].Param("TransitGatewayRouteTableId") != "tgw-rtb-1" ||
		r[0].Param("Filter.1.Name") != "type" {
		t.Errorf("SearchTransitGatewayRoutes asked %+v", r)
	}
	if r := srv.Served("DescribeRules"); len(r) != 1 || r[0].Param("ListenerArn") != listenerARN {
		t.Errorf("DescribeRules asked %+v", r)
	}

	// The denied call is a gap naming the call and the permission; nothing is written for it.
	if len(gaps) != 1 || gaps[0].Scope != "cloud/aws/describe-nat-gateways.json" ||
		!strings.Contains(gaps[0].Reason, "ec2:DescribeNatGateways") || !strings.Contains(gaps[0].Reason, "UnauthorizedOperation") {
		t.Errorf("gaps = %+v", gaps)
	}
	want := []string{"describe-instances.json", "describe-listeners.json", "describe-load-balancers.json", "describe-managed-prefix-lists.json",
		"describe-network-acls.json", "describe-network-interfaces.json", "describe-route-tables.json", "describe-rules/f2f7dc8efc522ab2.json",
		"describe-security-groups.json", "describe-target-groups.json", "describe-target-health/web-tg.json",
		"describe-transit-gateway-route-tables.json", "describe-vpc-peering-connections.json",
		"get-managed-prefix-list-entries/pl-1.json", "search-transit-gateway-routes/tgw-rtb-1.json"}
	for n, d := range out.Files {
		if strings.Contains(string(d), "null") || strings.Contains(string(d), "AKIDEXAMPLE") {
			t.Errorf("%s holds a null or the credentials:\n%s", n, d)
		}
	}
	files := out.Sources("cloud/aws")
	if got := out.Names(); !slices.Equal(got, want) {
		t.Errorf("files:\n got %q\nwant %q", got, want)
	}

	// What the exporter wrote reads back through cloud/aws as the account is.
	x, err := cloudaws.Parse("cloud/aws", files)
	if err != nil {
		t.Fatal(err)
	}
	i1, i2 := x.Instances["i-1"], x.Instances["i-2"]
	if i1 == nil || i2 == nil || i1.PrivateIP != netip.MustParseAddr("10.0.1.10") || i2.SubnetID != "subnet-b" ||
		i2.SourceDestCheck == nil || *i2.SourceDestCheck {
		t.Errorf("instances: %+v %+v", i1, i2)
	}
	var eniIPs []netip.Addr
	for _, e := range x.ENIs {
		if e.ID == "eni-1" {
			eniIPs = e.IPs
		}
	}
	if len(eniIPs) != 2 || eniIPs[1] != netip.MustParseAddr("10.0.1.11") {
		t.Errorf("eni-1 addresses %v, want the primary and the secondary", eniIPs)
	}
	sg := x.Groups["sg-nodes"]
	if sg == nil || len(sg.Ingress) != 1 || len(sg.Egress) != 1 {
		t.Fatalf("sg-nodes: %+v", sg)
	}
	in := sg.Ingress[0]
	if in.Protocol != "tcp" || in.From != 30000 || in.To != 32767 || len(in.CIDRs) != 1 || in.CIDRs[0] != netip.MustParsePrefix("10.0.0.0/16") ||
		!slices.Equal(in.Groups, []string{"sg-lb"}) {
		t.Errorf("ingress %+v", in)
	}
	if e := sg.Egress[0]; e.Protocol != "-1" || e.CIDRs[0] != netip.MustParsePrefix("0.0.0.0/0") {
		t.Errorf("egress %+v", e)
	}
	if len(x.RouteTables) != 1 || len(x.RouteTables[0].Routes) != 3 || !slices.Equal(x.RouteTables[0].Subnets, []string{"subnet-a"}) {
		t.Fatalf("route tables %+v", x.RouteTables)
	}
	if r := x.RouteTables[0].Routes[1]; r.Dst != netip.MustParsePrefix("0.0.0.0/0") || r.Target != "nat-1" {
		t.Errorf("default route %+v", r)
	}
	if r := x.RouteTables[0].Routes[2]; r.PrefixList != "pl-1" {
		t.Errorf("prefix list route %+v", r)
	}
	if pl := x.PrefixLists["pl-1"]; pl == nil || len(pl.CIDRs) != 1 {
		t.Errorf("prefix list %+v", pl)
	}
	if r := x.TGWRoutes["tgw-rtb-1"]; len(r) != 1 || r[0].Resource != "vpc-2" || r[0].Dst != netip.MustParsePrefix("10.1.0.0/16") {
		t.Errorf("transit gateway routes %+v", r)
	}
	if len(x.Listeners) != 2 || x.Listeners[0].Port != 80 || !slices.Equal(x.Listeners[0].TargetGroups, []string{tgARN}) || x.Listeners[1].Port != 443 {
		t.Errorf("listeners %+v", x.Listeners)
	}
	h := x.Health[tgARN]
	if tg := x.TGs[tgARN]; tg == nil || tg.Port != 30080 || len(h) != 2 || h[0].ID != "i-1" || h[0].State != "healthy" ||
		h[1].State != "unhealthy" || h[1].Reason != "Target.FailedHealthChecks" {
		t.Errorf("target group %+v health %+v", x.TGs[tgARN], h)
	}
	if _, has := x.Has[cloudaws.FileNATs]; has {
		t.Error("describe-nat-gateways.json read though its call was denied")
	}
	// The rules file is in the CLI's shape: {"Rules": [...]} with the forward action.
	var rules struct {
		Rules []struct {
			IsDefault bool
			Actions   []struct{ Type, TargetGroupArn string }
		}
	}
	if err := json.Unmarshal(out.Files["describe-rules/f2f7dc8efc522ab2.json"], &rules); err != nil || len(rules.Rules) != 1 ||
		!rules.Rules[0].IsDefault || rules.Rules[0].Actions[0].TargetGroupArn != tgARN {
		t.Errorf("rules %s (%v)", out.Files["describe-rules/f2f7dc8efc522ab2.json"], err)
	}
}

// Without credentials the export fails as a whole, naming the chain it looked in.
func TestNoCredentials(t *testing.T) {
	testEnv(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	srv := replay.New(t) // any call fails the test
	_, err := Export(context.Background(), cloudexport.Options{Region: "us-east-1", Endpoint: srv.URL, HTTPClient: srv.Client()}, func(string, []byte) {
		t.Error("a file was written")
	})
	if err == nil || !strings.Contains(err.Error(), "no credentials") {
		t.Errorf("err = %v", err)
	}
	_, err = Export(context.Background(), cloudexport.Options{Endpoint: srv.URL}, nil)
	if err == nil || !strings.Contains(err.Error(), "no region") {
		t.Errorf("without a region: err = %v", err)
	}
}

// deploy/cloud/aws-iam-policy.json grants exactly what Export calls.
func TestPolicyFile(t *testing.T) {
	data, err := os.ReadFile("../../../deploy/cloud/aws-iam-policy.json")
	if err != nil {
		t.Fatal(err)
	}
	var pol struct {
		Statement []struct {
			Effect, Resource string
			Action           []string
		}
	}
	if err := json.Unmarshal(data, &pol); err != nil {
		t.Fatal(err)
	}
	if len(pol.Statement) != 1 || pol.Statement[0].Effect != "Allow" {
		t.Fatalf("policy %s", data)
	}
	replay.SameSet(t, "policy actions against Permissions", pol.Statement[0].Action, Permissions)
}

// A stalled endpoint fails each try after tryTimeout: the calls are gaps, nothing hangs.
func TestStalledTries(t *testing.T) {
	testEnv(t)
	t.Setenv("AWS_MAX_ATTEMPTS", "1")
	old := tryTimeout
	tryTimeout = 50 * time.Millisecond
	t.Cleanup(func() { tryTimeout = old })
	srv := replay.Stalled(t)
	gaps, err := Export(context.Background(), cloudexport.Options{Region: "us-east-1", Endpoint: srv.URL, HTTPClient: srv.Client()}, func(string, []byte) {
		t.Error("a file was written")
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(gaps) == 0 || gaps[0].Scope != "cloud/aws/describe-instances.json" {
		t.Errorf("gaps %+v", gaps)
	}
}
