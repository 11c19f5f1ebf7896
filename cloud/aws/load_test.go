package aws

import (
	"strings"
	"testing"

	"github.com/netsim/netsim/model/source"
)

func TestParsePositions(t *testing.T) {
	x := parse(t, map[string]string{FileGroups: sgExport, FileACLs: aclExport, FileRouteTables: rtExport})
	if pos := x.Groups["sg-dns"].Pos; pos.Line != 11 {
		t.Errorf("sg-dns at %v, want line 11", pos)
	}
	if pos := x.Groups["sg-web"].Ingress[1].Pos; pos.Line != 5 {
		t.Errorf("sg-web rule 2 at %v, want line 5", pos)
	}
	if pos := x.ACLs[0].Entries[1].Pos; pos.Line != 6 || x.ACLs[0].Entries[1].Number != 90 {
		t.Errorf("acl-1 rule 90 at %v", pos)
	}
	if r := x.RouteTables[0].Routes[4]; r.Pos.Line != 8 || r.Target != "pcx-1" {
		t.Errorf("pcx route at %v (%s)", r.Pos, r.Target)
	}
}

// Several documents back to back (a shell loop over load balancers) read as one list.
func TestParseConcatenated(t *testing.T) {
	x := parse(t, map[string]string{FileListeners: `{"Listeners": [{"ListenerArn": "l1", "LoadBalancerArn": "lb1", "Port": 80, "Protocol": "TCP"}]}
{"Listeners": [{"ListenerArn": "l2", "LoadBalancerArn": "lb2", "Port": 443, "Protocol": "TLS"}]}
`})
	if len(x.Listeners) != 2 || x.Listeners[1].Pos.Line != 2 {
		t.Errorf("listeners: %+v", x.Listeners)
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct{ file, text, want string }{
		{FileGroups, "{\n \"SecurityGroups\": [\n  {\"GroupId\": \"sg-1\",\n   \"IpPermissions\": [{\"IpProtocol\": \"tcp\", \"FromPort\": \"x\"}]}]}", "describe-security-groups.json:4: FromPort: want int"},
		{FileGroups, "{\n \"SecurityGroups\": [\n  {\"GroupId\": \"sg-1\",,}]}", "describe-security-groups.json:3: not valid JSON"},
		{FileGroups, "{\n \"SecurityGroups\": [\n", "describe-security-groups.json:2: not valid JSON: the file ends"},
		{FileGroups, `{"Groups": []}`, `describe-security-groups.json:1: no "SecurityGroups" list`},
		{FileGroups, `{"SecurityGroups": [{"GroupName": "x"}]}`, "without GroupId"},
		{FileACLs, `{"NetworkAcls": [{"NetworkAclId": "a", "Entries": [{"RuleNumber": 1, "RuleAction": "maybe", "CidrBlock": "0.0.0.0/0"}]}]}`, `RuleAction "maybe"`},
		{FileRouteTables, "{\"RouteTables\": [{\"RouteTableId\": \"r\",\n \"Routes\": [{\"DestinationCidrBlock\": \"10.0.0.0/33\"}]}]}", "describe-route-tables.json:2: DestinationCidrBlock \"10.0.0.0/33\" is not a CIDR"},
		{FileENIs, `{"NetworkInterfaces": [{"NetworkInterfaceId": "eni-1", "PrivateIpAddress": "10.0.0.300"}]}`, "is not an IP address"},
		{DirTargetHealth + "/nope.json", `{"TargetHealthDescriptions": []}`, "describe-target-groups does not list"},
	}
	for _, c := range cases {
		_, err := Parse("cloud/aws", map[string]*source.File{c.file: source.NewFile("cloud/aws/"+c.file, []byte(c.text))})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %q: %v; want %q", c.file, c.text, err, c.want)
		}
	}
}

// FuzzParse feeds every export reader arbitrary text: errors are fine, panics are not.
// The corpus is testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	for _, s := range []string{sgExport, aclExport, rtExport, eniExport, `{"Reservations": [{"Instances": [{"InstanceId": "i-1", "NetworkInterfaces": [{"NetworkInterfaceId": "e"}]}]}]}`} {
		f.Add(s)
	}
	names := []string{FileInstances, FileENIs, FileGroups, FileRouteTables, FileACLs, FileNATs, FilePeerings, FileTGWTables, FilePrefixLists,
		FileLBs, FileListeners, FileTGs, DirTGWRoutes + "/t.json", DirPLEntries + "/pl.json", DirRules + "/l80.json"}
	for _, s := range []string{elbListeners, elbRules80, elbLBs} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		for _, n := range names {
			fs := map[string]*source.File{n: source.NewFile("cloud/aws/"+n, []byte(text))}
			if strings.HasPrefix(n, DirRules) {
				// Rules are read for a listener describe-listeners lists.
				fs[FileListeners] = source.NewFile("cloud/aws/"+FileListeners, []byte(elbListeners))
			}
			x, err := Parse("cloud/aws", fs)
			if err == nil && x == nil {
				t.Fatal("nil export without an error")
			}
		}
	})
}
