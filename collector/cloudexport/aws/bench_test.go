package aws

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/netsim/netsim/collector/cloudexport"
	"github.com/netsim/netsim/collector/cloudexport/replay"
)

// BenchmarkExport1000 exports a replayed account of 1,000 instances (each with its
// interface, five pages of 200), 1,000 interfaces, 50 security groups, 10 route tables,
// 20 target groups of 50 targets, and reports the bundle's bytes for it.
func BenchmarkExport1000(b *testing.B) {
	const perPage, pagesN = 200, 5
	instance := func(i int) string {
		ip := fmt.Sprintf("10.%d.%d.%d", i/65536, (i/256)%256, i%256)
		sg := fmt.Sprintf("sg-%d", i%50)
		return `<item><instanceId>i-` + strconv.Itoa(i) + `</instanceId><instanceState><code>16</code><name>running</name></instanceState><privateIpAddress>` + ip +
			`</privateIpAddress><subnetId>subnet-` + strconv.Itoa(i%10) + `</subnetId><vpcId>vpc-1</vpcId><sourceDestCheck>true</sourceDestCheck>
<placement><availabilityZone>us-east-1a</availabilityZone></placement><groupSet><item><groupId>` + sg + `</groupId><groupName>` + sg + `</groupName></item></groupSet>
<networkInterfaceSet><item><networkInterfaceId>eni-` + strconv.Itoa(i) + `</networkInterfaceId><subnetId>subnet-` + strconv.Itoa(i%10) + `</subnetId><vpcId>vpc-1</vpcId>
<privateIpAddress>` + ip + `</privateIpAddress><sourceDestCheck>true</sourceDestCheck><groupSet><item><groupId>` + sg + `</groupId></item></groupSet>
<attachment><deviceIndex>0</deviceIndex></attachment><privateIpAddressesSet><item><privateIpAddress>` + ip + `</privateIpAddress><primary>true</primary></item></privateIpAddressesSet></item></networkInterfaceSet></item>`
	}
	var ex []replay.Exchange
	for p := 0; p < pagesN; p++ {
		var sb, eni strings.Builder
		for i := p * perPage; i < (p+1)*perPage; i++ {
			sb.WriteString(`<item><reservationId>r-` + strconv.Itoa(i) + `</reservationId><instancesSet>` + instance(i) + `</instancesSet></item>`)
			eni.WriteString(`<item><networkInterfaceId>eni-` + strconv.Itoa(i) + `</networkInterfaceId><subnetId>subnet-1</subnetId><vpcId>vpc-1</vpcId><privateIpAddress>10.0.` +
				strconv.Itoa(i/256) + `.` + strconv.Itoa(i%256) + `</privateIpAddress><interfaceType>interface</interfaceType><attachment><instanceId>i-` + strconv.Itoa(i) +
				`</instanceId><deviceIndex>0</deviceIndex></attachment></item>`)
		}
		tok, next := "", ""
		if p > 0 {
			tok = "p" + strconv.Itoa(p)
		}
		if p < pagesN-1 {
			next = "<nextToken>p" + strconv.Itoa(p+1) + "</nextToken>"
		}
		ex = append(ex,
			replay.Exchange{Name: "inst" + tok, Match: replay.All(replay.Action("DescribeInstances"), replay.Param("NextToken", tok)),
				Responses: []replay.Response{{ContentType: "text/xml", Body: ec2XML("DescribeInstances", "<reservationSet>"+sb.String()+"</reservationSet>"+next)}}},
			replay.Exchange{Name: "eni" + tok, Match: replay.All(replay.Action("DescribeNetworkInterfaces"), replay.Param("NextToken", tok)),
				Responses: []replay.Response{{ContentType: "text/xml", Body: ec2XML("DescribeNetworkInterfaces", "<networkInterfaceSet>"+eni.String()+"</networkInterfaceSet>"+next)}}})
	}
	var sgs, rts, tgs, health strings.Builder
	for i := 0; i < 50; i++ {
		sgs.WriteString(`<item><groupId>sg-` + strconv.Itoa(i) + `</groupId><groupName>g` + strconv.Itoa(i) + `</groupName><vpcId>vpc-1</vpcId><ipPermissions>` +
			`<item><ipProtocol>tcp</ipProtocol><fromPort>30000</fromPort><toPort>32767</toPort><ipRanges><item><cidrIp>10.0.0.0/8</cidrIp></item></ipRanges></item>` +
			`<item><ipProtocol>-1</ipProtocol><groups><item><groupId>sg-` + strconv.Itoa(i) + `</groupId></item></groups></item></ipPermissions>` +
			`<ipPermissionsEgress><item><ipProtocol>-1</ipProtocol><ipRanges><item><cidrIp>0.0.0.0/0</cidrIp></item></ipRanges></item></ipPermissionsEgress></item>`)
	}
	for i := 0; i < 10; i++ {
		rts.WriteString(`<item><routeTableId>rtb-` + strconv.Itoa(i) + `</routeTableId><vpcId>vpc-1</vpcId><routeSet><item><destinationCidrBlock>10.0.0.0/8</destinationCidrBlock>` +
			`<gatewayId>local</gatewayId><state>active</state></item><item><destinationCidrBlock>0.0.0.0/0</destinationCidrBlock><natGatewayId>nat-1</natGatewayId><state>active</state></item></routeSet>` +
			`<associationSet><item><subnetId>subnet-` + strconv.Itoa(i) + `</subnetId><main>false</main></item></associationSet></item>`)
	}
	for i := 0; i < 20; i++ {
		tgs.WriteString(`<member><TargetGroupArn>arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/tg-` + strconv.Itoa(i) + `/x</TargetGroupArn><TargetGroupName>tg-` +
			strconv.Itoa(i) + `</TargetGroupName><Protocol>TCP</Protocol><Port>30080</Port><VpcId>vpc-1</VpcId><TargetType>instance</TargetType></member>`)
	}
	for i := 0; i < 50; i++ {
		health.WriteString(`<member><Target><Id>i-` + strconv.Itoa(i) + `</Id><Port>30080</Port></Target><TargetHealth><State>healthy</State></TargetHealth></member>`)
	}
	xml := func(s string) []replay.Response { return []replay.Response{{ContentType: "text/xml", Body: s}} }
	ex = append(ex,
		replay.Exchange{Name: "sg", Match: replay.Action("DescribeSecurityGroups"), Responses: xml(ec2XML("DescribeSecurityGroups", "<securityGroupInfo>"+sgs.String()+"</securityGroupInfo>"))},
		replay.Exchange{Name: "rt", Match: replay.Action("DescribeRouteTables"), Responses: xml(ec2XML("DescribeRouteTables", "<routeTableSet>"+rts.String()+"</routeTableSet>"))},
		replay.Exchange{Name: "tg", Match: replay.Action("DescribeTargetGroups"), Responses: xml(elbXML("DescribeTargetGroups", "<TargetGroups>"+tgs.String()+"</TargetGroups>"))},
		replay.Exchange{Name: "th", Match: replay.Action("DescribeTargetHealth"), Responses: xml(elbXML("DescribeTargetHealth", "<TargetHealthDescriptions>"+health.String()+"</TargetHealthDescriptions>"))},
		replay.Exchange{Name: "other", Match: replay.Any(), Responses: []replay.Response{{ContentType: "text/xml", BodyFunc: func(r *replay.Request) string {
			a := r.Param("Action")
			if strings.Contains(a, "LoadBalancers") {
				return elbXML(a, "")
			}
			return ec2XML(a, "")
		}}}},
	)
	b.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	b.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	b.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	b.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	b.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	b.Setenv("AWS_CA_BUNDLE", "")
	srv := replay.New(b, ex...)
	b.ResetTimer()
	var total, files int
	for b.Loop() {
		total, files = 0, 0
		gaps, err := Export(context.Background(), cloudexport.Options{Region: "us-east-1", Endpoint: srv.URL, HTTPClient: srv.Client()},
			func(name string, data []byte) { total += len(data); files++ })
		if err != nil || len(gaps) > 0 {
			b.Fatal(err, gaps)
		}
	}
	b.ReportMetric(float64(total), "bundle-bytes")
	b.ReportMetric(float64(files), "files")
}
