package diagnose

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/netsim/netsim/bundle"
	"github.com/netsim/netsim/cloud"
	"github.com/netsim/netsim/cloud/aws"
	"github.com/netsim/netsim/internal/gctune"
	"github.com/netsim/netsim/model"
	"github.com/netsim/netsim/model/source"
)

// benchClasses is how many node groups the large bundle's AWS exports have: each its own
// subnet and security group, its nodes labelled with their node group and zone.
const benchClasses = 10

// benchAWS writes, in memory, the AWS exports of the 1,000-node bundle (gen): one instance
// and interface per node, ten subnets and security groups (each admitting the pod range,
// every group and the node ports), a route table with a route per node's pod CIDR to its
// instance (kubenet's cloud routes) and a default route to the internet gateway, and the
// default network ACL.
func benchAWS(nodes []*model.Node) map[string]*source.File {
	type m = map[string]any
	var insts, enis, groups []m
	var pairs []m
	for g := 0; g < benchClasses; g++ {
		pairs = append(pairs, m{"GroupId": fmt.Sprintf("sg-%017d", g)})
	}
	for g := 0; g < benchClasses; g++ {
		groups = append(groups, m{"GroupId": fmt.Sprintf("sg-%017d", g), "GroupName": fmt.Sprintf("ng-%d", g), "VpcId": "vpc-1",
			"IpPermissions": []m{
				{"IpProtocol": "-1", "UserIdGroupPairs": pairs},
				{"IpProtocol": "-1", "IpRanges": []m{{"CidrIp": "10.64.0.0/14"}}},
				{"IpProtocol": "tcp", "FromPort": 30000, "ToPort": 32767, "IpRanges": []m{{"CidrIp": "0.0.0.0/0"}}},
			},
			"IpPermissionsEgress": []m{{"IpProtocol": "-1", "IpRanges": []m{{"CidrIp": "0.0.0.0/0"}}}}})
	}
	routes := []m{{"DestinationCidrBlock": "172.16.0.0/16", "GatewayId": "local", "State": "active"}}
	for i, n := range nodes {
		g := i % benchClasses
		id := fmt.Sprintf("i-%017d", i)
		eni := m{"NetworkInterfaceId": fmt.Sprintf("eni-%017d", i), "SubnetId": fmt.Sprintf("subnet-%d", g), "VpcId": "vpc-1",
			"PrivateIpAddress": nodeAddr(n).String(), "PrivateIpAddresses": []m{{"Primary": true, "PrivateIpAddress": nodeAddr(n).String()}},
			"Groups": []m{{"GroupId": fmt.Sprintf("sg-%017d", g), "GroupName": fmt.Sprintf("ng-%d", g)}}, "SourceDestCheck": false,
			"Attachment": m{"InstanceId": id, "DeviceIndex": 0}, "Status": "in-use"}
		enis = append(enis, eni)
		insts = append(insts, m{"InstanceId": id, "PrivateIpAddress": nodeAddr(n).String(), "SubnetId": fmt.Sprintf("subnet-%d", g), "VpcId": "vpc-1",
			"SourceDestCheck": false, "State": m{"Name": "running"}, "NetworkInterfaces": []m{eni},
			"SecurityGroups": []m{{"GroupId": fmt.Sprintf("sg-%017d", g)}}})
		for _, pc := range n.PodCIDRs {
			routes = append(routes, m{"DestinationCidrBlock": pc.String(), "InstanceId": id, "NetworkInterfaceId": fmt.Sprintf("eni-%017d", i), "State": "active"})
		}
	}
	routes = append(routes, m{"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-1", "State": "active"})
	docs := map[string]any{
		aws.FileInstances:   m{"Reservations": []m{{"Instances": insts}}},
		aws.FileENIs:        m{"NetworkInterfaces": enis},
		aws.FileGroups:      m{"SecurityGroups": groups},
		aws.FileRouteTables: m{"RouteTables": []m{{"RouteTableId": "rtb-1", "VpcId": "vpc-1", "Associations": []m{{"Main": true, "RouteTableId": "rtb-1"}}, "Routes": routes}}},
		aws.FileACLs: m{"NetworkAcls": []m{{"NetworkAclId": "acl-1", "VpcId": "vpc-1", "IsDefault": true, "Entries": []m{
			{"CidrBlock": "0.0.0.0/0", "Egress": true, "Protocol": "-1", "RuleAction": "allow", "RuleNumber": 100},
			{"CidrBlock": "0.0.0.0/0", "Egress": false, "Protocol": "-1", "RuleAction": "allow", "RuleNumber": 100}}}}},
	}
	files := map[string]*source.File{}
	for name, d := range docs {
		data, err := json.MarshalIndent(d, "", " ")
		if err != nil {
			panic(err)
		}
		files[name] = source.NewFile("cloud/aws/"+name, data)
	}
	return files
}

// BenchmarkDiagnoseCloudLarge diagnoses the 1,000-node bundle with AWS exports for its
// nodes in ten node groups (classes): the whole diagnosis, and the cloud analysis alone.
func BenchmarkDiagnoseCloudLarge(b *testing.B) {
	dir := bigBundle(b)
	defer debug.SetGCPercent(debug.SetGCPercent(gctune.Percent))
	bd, err := bundle.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer bd.Close()
	c, err := model.Load(bd, model.Options{})
	if err != nil {
		b.Fatal(err)
	}
	for i, n := range c.Nodes {
		n.Labels["eks.amazonaws.com/nodegroup"] = fmt.Sprintf("ng-%d", i%benchClasses)
		n.Labels["topology.kubernetes.io/zone"] = fmt.Sprintf("zone-%d", (i%benchClasses)%3)
	}
	x, err := aws.Parse("cloud/aws", benchAWS(c.Nodes))
	if err != nil {
		b.Fatal(err)
	}
	var nodes []cloud.Node
	for _, n := range c.Nodes {
		nodes = append(nodes, cloud.Node{Name: n.Name, ProviderID: n.Spec.ProviderID, Addrs: n.Addrs, PodCIDRs: n.PodCIDRs})
	}
	p := aws.New(x, nodes, []netip.Prefix{netip.MustParsePrefix("10.64.0.0/14")})
	counted := &countingCloud{Provider: p}
	cloudOpener = func(*model.Cluster) (cloud.Provider, []string, error) { counted.calls = 0; return counted, nil, nil }
	defer func() { cloudOpener = nil }()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		r := &run{c: c, nodes: map[string]*nodeInfo{}, nodeIdx: map[string]int{}}
		r.prepare()
		notes, err := r.checkCloud()
		if err != nil {
			b.Fatal(err)
		}
		cloudOnly := time.Since(start)
		rep, err := Run(c, Options{})
		if err != nil {
			b.Fatal(err)
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(cloudOnly.Seconds(), "cloud-s")
		b.ReportMetric(time.Since(start).Seconds()-cloudOnly.Seconds(), "diagnose-s")
		b.ReportMetric(float64(len(r.findings)), "cloud-findings")
		b.ReportMetric(float64(counted.calls), "provider-calls")
		b.ReportMetric(float64(len(rep.Findings)), "findings")
		b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
		if i == 0 {
			for _, n := range notes {
				b.Log(n)
			}
			for _, f := range r.findings {
				b.Logf("%s %s: %.300s", f.Severity, f.Code, f.Message)
			}
		}
	}
}

// countingCloud counts the provider's calls (one analysis at a time).
type countingCloud struct {
	cloud.Provider
	calls int
}

func (c *countingCloud) Egress(l cloud.Leg) []cloud.Decision { c.calls++; return c.Provider.Egress(l) }
func (c *countingCloud) Route(l cloud.Leg) ([]cloud.Decision, cloud.Landing) {
	c.calls++
	return c.Provider.Route(l)
}
func (c *countingCloud) Ingress(l cloud.Leg) []cloud.Decision {
	c.calls++
	return c.Provider.Ingress(l)
}

// CloudIdentity and RoutedRanges pass the provider's optional interfaces through, so the
// benchmark groups nodes and compares ranges as a real run does.
func (c *countingCloud) CloudIdentity(node string) (string, bool) {
	if i, ok := c.Provider.(cloud.CloudIdentifier); ok {
		return i.CloudIdentity(node)
	}
	return "", false
}

// RoutedRanges: see CloudIdentity.
func (c *countingCloud) RoutedRanges() []cloud.RoutedRange {
	if r, ok := c.Provider.(cloud.CloudRanges); ok {
		return r.RoutedRanges()
	}
	return nil
}
