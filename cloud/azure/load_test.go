package azure

import (
	"reflect"
	"strings"
	"testing"

	"github.com/netsim/netsim/cloud"
	"github.com/netsim/netsim/model/source"
	"github.com/netsim/netsim/rules/packet"
)

func parseFiles(files map[string]string) (*Export, error) {
	fs := map[string]*source.File{}
	for n, s := range files {
		fs[n] = source.NewFile("cloud/azure/"+n, []byte(s))
	}
	return Parse("cloud/azure", fs)
}

// The same NSG as az prints it (properties flattened) and as ARM returns it
// (properties nested, camelCase IDs).
const nsgAz = `[
  {
    "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/g",
    "name": "g",
    "securityRules": [
      {"name": "np", "priority": 500, "direction": "Inbound", "access": "Allow", "protocol": "Tcp",
       "sourceAddressPrefix": "Internet", "destinationAddressPrefix": "*", "sourcePortRange": "*",
       "destinationPortRanges": ["30000-32767", "443"],
       "destinationApplicationSecurityGroups": [{"id": "/x/applicationSecurityGroups/nodes"}]}
    ],
    "subnets": [{"id": "/x/subnets/s"}]
  }
]`

const nsgARM = `{"value": [
  {
    "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/g",
    "name": "g",
    "properties": {
      "securityRules": [
        {"name": "np", "properties": {"priority": 500, "direction": "Inbound", "access": "Allow", "protocol": "Tcp",
         "sourceAddressPrefix": "Internet", "destinationAddressPrefix": "*", "sourcePortRange": "*",
         "destinationPortRanges": ["30000-32767", "443"],
         "destinationApplicationSecurityGroups": [{"id": "/x/applicationSecurityGroups/nodes"}]}}
      ],
      "subnets": [{"id": "/x/subnets/s"}]
    }
  }
]}`

// TestParseShapes: az's flattened output and ARM's nested properties read the same;
// default rules an export omits are added as Azure documents them.
func TestAzureParseShapes(t *testing.T) {
	a, err := parseFiles(map[string]string{FileNSGs: nsgAz})
	if err != nil {
		t.Fatal(err)
	}
	b, err := parseFiles(map[string]string{FileNSGs: nsgARM})
	if err != nil {
		t.Fatal(err)
	}
	ga, gb := a.NSGs[normID("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/g")], b.NSGs[normID("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/g")]
	if ga == nil || gb == nil || len(ga.Rules) != 7 || len(gb.Rules) != 7 {
		t.Fatalf("NSGs: %+v %+v", ga, gb)
	}
	ra, rb := *ga.Rules[0], *gb.Rules[0]
	ra.Pos, rb.Pos = source.Pos{}, source.Pos{}
	if !reflect.DeepEqual(ra, rb) {
		t.Errorf("az and ARM shapes differ:\n%+v\n%+v", ra, rb)
	}
	if ra.Name != "np" || ra.Priority != 500 || !ra.Inbound || !ra.Allow || ra.Protocol != "tcp" || len(ra.DstPorts) != 2 || ra.DstPorts[0] != (PortRange{30000, 32767}) || len(ra.Dst.ASGs) != 1 {
		t.Errorf("rule: %+v", ra)
	}
	if ga.Rules[0].Pos.Line != 6 {
		t.Errorf("rule cites line %d, want 6", ga.Rules[0].Pos.Line)
	}
	if d := ga.Rules[len(ga.Rules)-1]; !d.Synthetic || d.Name != "DenyAllOutBound" && d.Name != "DenyAllInBound" {
		t.Errorf("synthesized defaults: %+v", d)
	}
}

// TestParseAll reads one of every export, with the health file.
func TestAzureParseAll(t *testing.T) {
	x, err := parseFiles(map[string]string{
		FileNICs: `[{"name": "n", "id": "/r/networkInterfaces/n", "enableIpForwarding": true,
		  "virtualMachine": {"id": "/r/virtualMachines/vm"},
		  "ipConfigurations": [{"name": "c", "id": "/r/networkInterfaces/n/ipConfigurations/c", "privateIpAddress": "10.0.0.4", "primary": true, "subnet": {"id": "/r/subnets/s"}}]}]`,
		FileVNets: `[{"name": "v", "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
		  "subnets": [{"name": "s", "id": "/r/subnets/s", "addressPrefixes": ["10.0.0.0/24"], "defaultOutboundAccess": false}],
		  "virtualNetworkPeerings": [{"name": "p", "peeringState": "Connected", "remoteAddressSpace": {"addressPrefixes": ["10.9.0.0/16"]}}]}]`,
		FileRoutes:   `[{"name": "rt", "disableBgpRoutePropagation": true, "routes": [{"name": "r", "addressPrefix": "10.244.1.0/24", "nextHopType": "VirtualAppliance", "nextHopIpAddress": "10.0.0.4"}, {"name": "t", "addressPrefix": "AzureCloud", "nextHopType": "Internet"}]}]`,
		FilePublicIP: `[{"name": "p", "ipAddress": "203.0.113.1", "sku": {"name": "Standard"}}]`,
		FileNATs:     `[{"name": "ng", "publicIpAddresses": [{"id": "/r/publicIPAddresses/p"}], "provisioningState": "Succeeded"}]`,
		FileLBs: `[{"name": "kubernetes", "sku": {"name": "Standard"},
		  "frontendIPConfigurations": [{"name": "fe", "id": "/r/fe", "privateIPAddress": "10.0.0.100"}],
		  "loadBalancingRules": [{"name": "r", "protocol": "All", "frontendPort": 0, "backendPort": 0, "frontendIPConfiguration": {"id": "/r/fe"}, "enableFloatingIP": true}],
		  "backendAddressPools": [{"name": "pool", "loadBalancerBackendAddresses": [{"name": "a", "ipAddress": "10.0.0.4"}]}],
		  "probes": [{"name": "p", "protocol": "Http", "port": 10256, "requestPath": "/healthz"}],
		  "inboundNatRules": [{"name": "n", "protocol": "Tcp", "frontendPort": 50000, "backendPort": 22}],
		  "outboundRules": [{"name": "o", "frontendIPConfigurations": [{"id": "/r/fe"}], "backendAddressPool": {"id": "/r/pool"}}]}]`,
		DirHealth + "/kubernetes.json": `{"r": {"up": 1, "down": 0, "loadBalancerBackendAddresses": [{"ipAddress": "10.0.0.4", "networkInterfaceIPConfigurationId": {"id": "/r/c"}, "state": "Up", "reason": "Up"}]}}`,
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := x.NICs[0]; !n.IPForwarding || n.IPConfigs[0].IP.String() != "10.0.0.4" || x.Subnet("/R/SUBNETS/S") == nil {
		t.Errorf("NIC: %+v", n)
	}
	rt := x.RouteTables[normID("rt")]
	if rt == nil || !rt.NoBGP || rt.Routes[1].Tag != "AzureCloud" {
		t.Errorf("route table: %+v", rt)
	}
	if lb := x.LBs[0]; lb.Rules[0].Protocol != "all" || !lb.Rules[0].FloatingIP || lb.Probes[0].Path != "/healthz" || len(lb.Pools[0].Addrs) != 1 || len(lb.Outbound) != 1 {
		t.Errorf("LB: %+v", lb)
	}
	if h := x.Health["kubernetes"]["r"]; len(h) != 1 || h[0].Config != "/r/c" || h[0].State != "Up" {
		t.Errorf("health: %+v", h)
	}
	if *x.VNets[0].Subnets[0].DefaultOutbound {
		t.Error("defaultOutboundAccess false read as true")
	}
}

// TestParseErrors: malformed input is an error naming file:line.
func TestAzureParseErrors(t *testing.T) {
	cases := []struct {
		file, text, want string
	}{
		{FileNSGs, "[\n {\"name\": \"g\",\n  \"securityRules\": [\n   {\"name\": \"r\", \"priority\": \"high\"}]}\n]", "cloud/azure/nsg-list.json:4: priority: \"high\" is not an integer"},
		{FileNSGs, "[\n {\"name\": \"g\",\n  \"securityRules\": [\n   {\"name\": \"r\", \"priority\": 5000, \"direction\": \"Inbound\", \"access\": \"Allow\"}]}\n]", "nsg-list.json:4: security rule r: priority 5000 is not in 100-4096"},
		{FileNSGs, "[\n {\"name\": \"g\", \"securityRules\": [{\"name\": \"r\", \"priority\": 100, \"direction\": \"In\", \"access\": \"Allow\"}]}\n]", "nsg-list.json:2: security rule r: direction \"In\""},
		{FileNSGs, "[\n {\"name\": \"g\", \"securityRules\": [{\"name\": \"r\", \"priority\": 100, \"direction\": \"Inbound\", \"access\": \"Allow\",\n \"destinationPortRange\": \"80-70\"}]}\n]", "nsg-list.json:2: port range \"80-70\""},
		{FileNSGs, "[\n {\"name\": \"g\", \"securityRules\": [{\"name\": \"r\", \"priority\": 100, \"direction\": \"Inbound\", \"access\": \"Allow\",\n \"sourceAddressPrefix\": \"10.0.0.0/33\"}]}\n]", "neither a CIDR nor a service tag"},
		{FileNSGs, "[\n {\"name\": \"g\", \"securityRules\": [\n  {\"name\": \"r\", \"priority\": 100, \"direction\": \"Inbound\", \"access\": \"Deny\", \"sourceAddressPrefix\": \"*\"}]}\n]", "nsg-list.json:3: security rule r has no destinationAddressPrefix"},
		{FileNICs, "[\n {\"name\": \"n\",\n  \"ipConfigurations\": [{\"name\": \"c\",\n   \"privateIPAddress\": \"10.0.0.300\"}]}\n]", "nic-list.json:3: privateIPAddress \"10.0.0.300\" is not an IP address"},
		{FileNICs, "[\n {\"name\": \"n\", \"enableIPForwarding\": \"yes\"}\n]", "nic-list.json:2: enableIPForwarding: want true or false, got a string"},
		{FileNICs, "{\"name\": \"n\"}", "nic-list.json:1: want the JSON list `az network nic list -o json` prints, got an object"},
		{FileNICs, "[\n {\"name\": \"n\",\n", "nic-list.json:2: not valid JSON: the file ends in the middle of a value"},
		{FileNICs, "[\n {\"name\": \"n\" \"x\": 1}\n]", "nic-list.json:2: not valid JSON"},
		{FileVNets, "[\n {\"name\": \"v\",\n  \"addressSpace\": {\"addressPrefixes\": [\"10.0.0.0/16\", \"nope\"]}}\n]", "vnet-list.json:3: addressPrefixes \"nope\" is not a CIDR"},
		{FileRoutes, "[\n {\"name\": \"rt\", \"routes\": [\n  {\"name\": \"r\", \"addressPrefix\": \"10.0.0.0/8\", \"nextHopType\": \"Firewall\"}]}\n]", "route-table-list.json:3: route r: nextHopType \"Firewall\""},
		{FileRoutes, "[\n {\"name\": \"rt\", \"routes\": [\n  {\"name\": \"r\", \"addressPrefix\": \"10.0.0.0/8\", \"nextHopType\": \"VirtualAppliance\"}]}\n]", "route-table-list.json:3: nextHopIpAddress \"\" is not an IP address"},
		{FileLBs, "[\n {\"name\": \"lb\", \"loadBalancingRules\": [\n  {\"name\": \"r\", \"protocol\": \"Sctp\"}]}\n]", "lb-list.json:3: load-balancing rule r: protocol \"Sctp\""},
		{FileLBs, "[\n {\"name\": \"lb\", \"loadBalancingRules\": [\n  {\"name\": \"r\", \"protocol\": \"Tcp\", \"frontendPort\": 70000}]}\n]", "lb-list.json:3: load-balancing rule r: ports 70000/0"},
		{FilePublicIP, "[\n {\"id\": \"x\"}\n]", "public-ip-list.json:2: a public IP without a name or id"},
		{DirHealth + "/lb.json", "[\n]", "lb-backend-health/lb.json:1: want one JSON object keyed by load-balancing rule name"},
		{DirHealth + "/lb.json", "{\"r\": {\"loadBalancerBackendAddresses\": [\n  {\"state\": \"Up\"}]}}", "lb-backend-health/lb.json:2: rule r: a backend address with neither ipAddress"},
	}
	for _, c := range cases {
		_, err := parseFiles(map[string]string{c.file: c.text})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %q: error %v, want %q", c.file, c.text, err, c.want)
		}
	}
}

// FuzzParse: no input panics or yields a nil export without an error.
func FuzzParse(f *testing.F) {
	for _, s := range []string{nsgAz, nsgARM, `[{"name": "n", "ipConfigurations": [{"privateIPAddress": "10.0.0.1"}]}]`,
		`[{"name": "rt", "routes": [{"name": "r", "addressPrefix": "0.0.0.0/0", "nextHopType": "None"}]}]`,
		`{"r": {"loadBalancerBackendAddresses": [{"ipAddress": "10.0.0.4", "state": "Down"}]}}`} {
		f.Add(s)
	}
	names := []string{FileNICs, FileNSGs, FileVNets, FileRoutes, FilePublicIP, FileNATs, FileLBs, DirHealth + "/lb.json"}
	f.Fuzz(func(t *testing.T, text string) {
		for _, n := range names {
			x, err := parseFiles(map[string]string{n: text})
			if err == nil && x == nil {
				t.Fatal("nil export without an error")
			}
			if err != nil && !strings.HasPrefix(err.Error(), "cloud/azure/"+n) {
				t.Fatalf("error without the file: %v", err)
			}
			if err != nil {
				continue
			}
			// What parsed must also be judged without panicking.
			p := provider(x)
			for _, pk := range []packet.Packet{tcp("10.0.0.4", "93.184.216.34", 443), tcp("10.244.1.5", "10.0.0.5", 80)} {
				l := cloud.Leg{From: "a", Via: pk.Dst, Packet: pk}
				p.Egress(l)
				p.Route(l)
				p.Ingress(cloud.Leg{To: "a", Packet: pk})
			}
			p.Inbound(tcp("198.51.100.7", "203.0.113.10", 80))
		}
	})
}
