package gcp

import (
	"strings"
	"testing"

	"github.com/netsim/netsim/cloud"
	"github.com/netsim/netsim/model/source"
	"github.com/netsim/netsim/rules/packet"
)

func TestParsePositions(t *testing.T) {
	x := parse(t, map[string]string{FileInstances: instances, FileFirewalls: "[\n {\"name\": \"a\", \"allowed\": [{\"IPProtocol\": \"all\"}]},\n {\"name\": \"b\", \"priority\": 5, \"direction\": \"EGRESS\", \"denied\": [{\"IPProtocol\": \"tcp\", \"ports\": [\"22\"]}]}\n]"})
	if pos := x.Instances[1].Pos; pos.Line != 4 {
		t.Errorf("instance b at %v, want line 4", pos)
	}
	// Sorted by priority; a rule without one has GCP's default 1000.
	if fw := x.Firewalls[0]; fw.Name != "b" || fw.Pos.Line != 3 || !fw.Deny || fw.Ingress {
		t.Errorf("first rule %+v", fw)
	}
	if fw := x.Firewalls[1]; fw.Priority != 1000 || !fw.Ingress {
		t.Errorf("default priority/direction: %+v", fw)
	}
	if n := x.Instances[1].NICs[0]; n.Network != "vpc" || n.NatIP.String() != "203.0.113.3" || len(n.Aliases) != 1 {
		t.Errorf("nic %+v", n)
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct{ file, text, want string }{
		{FileFirewalls, "[\n {\"name\": \"a\",\n  \"priority\": \"x\"}]", "firewall-rules.json:3: Priority: want int"},
		{FileFirewalls, "[\n {\"name\": \"a\",,}]", "firewall-rules.json:2: not valid JSON"},
		{FileFirewalls, "[\n {\"name\": \"a\"", "firewall-rules.json:2: not valid JSON: the file ends"},
		{FileFirewalls, `{"items": []}`, "firewall-rules.json:1: want the JSON list"},
		{FileFirewalls, "[\n{\"name\": \"a\", \"priority\": 70000}]", "firewall-rules.json:2: firewall rule a: priority 70000 is not in 0-65535"},
		{FileFirewalls, `[{"name": "a", "direction": "SIDEWAYS"}]`, `direction "SIDEWAYS"`},
		{FileFirewalls, `[{"name": "a", "allowed": [{"IPProtocol": "tcp", "ports": ["90-80"]}]}]`, `port "90-80"`},
		{FileFirewalls, `[{"name": "a", "sourceRanges": ["10.0.0.0/33"]}]`, `"10.0.0.0/33" is not a CIDR`},
		{FileRoutes, "[\n\n{\"name\": \"r\", \"destRange\": \"0.0.0.0/0\"}]", "routes.json:3: route r has no next hop"},
		{FileRoutes, `[{"name": "r", "destRange": "x", "nextHopGateway": "g"}]`, `destRange "x" is not a CIDR`},
		{FileInstances, `[{"name": "i", "networkInterfaces": [{"networkIP": "10.0.0.300"}]}]`, "is not an IP address"},
		{FileInstances, `[{"zone": "z"}]`, "an instance without a name"},
		{FileRouters, "[\n{\"name\": \"r\", \"nats\": [{\"name\": \"n\", \"sourceSubnetworkIpRangesToNat\": \"SOME\"}]}]", "routers.json:2: router r nat n: sourceSubnetworkIpRangesToNat \"SOME\""},
		{FileRouters, `[{"name": "r", "nats": [{"name": "n", "sourceSubnetworkIpRangesToNat": "LIST_OF_SUBNETWORKS", "subnetworks": [{"name": "s", "sourceIpRangesToNat": ["ALL"]}]}]}]`, `sourceIpRangesToNat "ALL"`},
		{FileRouters, `[{"nats": []}]`, "a router without a name"},
		{DirNATMapping + "/r.json", "[\n\n{\"instanceName\": \"a\", \"interfaceNatMappings\": [{\"sourceVirtualIp\": \"10.0.0.2\", \"natIpPortRanges\": [\"x:1-2\"]}]}]", "nat-mapping/r.json:3: instance a: natIpPortRanges \"x:1-2\""},
		{FileForwardingRules, "[\n{\"name\": \"f\", \"IPAddress\": \"203.0.113.300\"}]", "forwarding-rules.json:2: forwarding rule f: IPAddress \"203.0.113.300\" is not an IP address"},
		{FileForwardingRules, `[{"name": "f", "IPAddress": "203.0.113.3", "portRange": "90-80"}]`, `port "90-80" is not a port or range`},
		{FileForwardingRules, `[{"IPAddress": "203.0.113.3"}]`, "a forwarding rule without a name"},
		{FileTargetPools, `[{"name": "p", "instances": "x"}]`, "Instances: want []string"},
		{FileBackendServices, `[{"backends": []}]`, "a backend service without a name"},
		{FileHealthChecks, `[{"name": "h", "tcpHealthCheck": {"port": 70000}}]`, "health check h: port 70000 is not a port"},
		{DirTargetPoolHealth + "/p.json", "[\n{\"healthStatus\": [{\"healthState\": \"HEALTHY\"}]}]", "target-pool-health/p.json:2: a health status without an instance"},
		{DirBackendSvcHealth + "/b.json", `[{"backend": "g", "status": {"healthStatus": [{"instance": "i", "ipAddress": "nope"}]}}]`, `ipAddress "nope" is not an IP address`},
		{FileSubnets, "[\n{\"name\": \"s\", \"ipCidrRange\": \"10.0.0.0/24\",\n \"secondaryIpRanges\": [{\"ipCidrRange\": \"10.4.0.0/99\"}]}]", "subnets.json:2: subnetwork s: \"10.4.0.0/99\" is not a CIDR"},
	}
	for _, c := range cases {
		_, err := Parse("cloud/gcp", map[string]*source.File{c.file: source.NewFile("cloud/gcp/"+c.file, []byte(c.text))})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %q: %v; want %q", c.file, c.text, err, c.want)
		}
	}
}

// FuzzParse feeds every export reader arbitrary text: errors are fine, panics are not.
// The corpus is testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	for _, s := range []string{instances, `[{"name": "a", "allowed": [{"IPProtocol": "tcp", "ports": ["1-2"]}], "sourceRanges": ["10.0.0.1"]}]`,
		`[{"name": "r", "destRange": "10.0.0.0/8", "nextHopIp": "10.0.0.1", "tags": ["x"]}]`} {
		f.Add(s)
	}
	for _, s := range []string{lbRules, lbPools, lbServices, lbHC, poolHealth("HEALTHY", "UNHEALTHY"), serviceHealth("HEALTHY", "DRAINING"),
		natRouter(`{"name": "n", "sourceSubnetworkIpRangesToNat": "LIST_OF_SUBNETWORKS", "subnetworks": [{"name": "s", "sourceIpRangesToNat": ["LIST_OF_SECONDARY_IP_RANGES"], "secondaryIpRangeNames": ["pods"]}]}`),
		`[{"instanceName": "a", "interfaceNatMappings": [{"sourceAliasIpRange": "10.4.1.0/24", "natIpPortRanges": ["34.1.2.4:1024-1087"]}]}]`} {
		f.Add(s)
	}
	names := []string{FileInstances, FileFirewalls, FileRoutes, FileNetworks, FileSubnets, FileRouters, DirNATMapping + "/r.json",
		FileForwardingRules, FileTargetPools, FileBackendServices, FileHealthChecks, DirTargetPoolHealth + "/p.json", DirBackendSvcHealth + "/b.json"}
	f.Fuzz(func(t *testing.T, text string) {
		for _, n := range names {
			x, err := Parse("cloud/gcp", map[string]*source.File{n: source.NewFile("cloud/gcp/"+n, []byte(text))})
			if err == nil && x == nil {
				t.Fatal("nil export without an error")
			}
			if err != nil {
				continue
			}
			// What parsed must also be judged without panicking.
			p := New(x, nodes(), nil)
			for _, pk := range []packet.Packet{tcp("10.0.0.2", "93.184.216.34", 443), tcp("10.4.1.5", "10.0.0.3", 80)} {
				l := cloud.Leg{From: "na", Via: pk.Dst, Packet: pk}
				p.Egress(l)
				p.Route(l)
				p.Ingress(l)
			}
			p.Inbound(tcp("198.51.100.7", "203.0.113.50", 443))
			p.Inbound(tcp("198.51.100.7", "203.0.113.50", 80))
		}
	})
}
