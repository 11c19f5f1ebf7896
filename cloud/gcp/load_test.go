package gcp

import (
	"strings"
	"testing"

	"github.com/netsim/netsim/model/source"
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
	names := []string{FileInstances, FileFirewalls, FileRoutes, FileNetworks, FileSubnets}
	f.Fuzz(func(t *testing.T, text string) {
		for _, n := range names {
			x, err := Parse("cloud/gcp", map[string]*source.File{n: source.NewFile("cloud/gcp/"+n, []byte(text))})
			if err == nil && x == nil {
				t.Fatal("nil export without an error")
			}
		}
	})
}
