package gcp

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/netsim/netsim/cloud"
)

// Instances of subnetwork nodes (europe-west1): a without an external IP, its alias
// 10.4.1.0/24 from the secondary range "pods" and 10.0.0.64/28 from the primary range;
// b with the external IP 203.0.113.3.
const natInstances = `[
 {"name": "a", "zone": "z/europe-west1-b", "networkInterfaces": [{"network": "x/networks/vpc", "subnetwork": "x/regions/europe-west1/subnetworks/nodes",
  "networkIP": "10.0.0.2", "aliasIpRanges": [{"ipCidrRange": "10.4.1.0/24", "subnetworkRangeName": "pods"}, {"ipCidrRange": "10.0.0.64/28"}]}]},
 {"name": "b", "zone": "z/europe-west1-b", "networkInterfaces": [{"network": "x/networks/vpc", "subnetwork": "x/regions/europe-west1/subnetworks/nodes",
  "networkIP": "10.0.0.3", "aliasIpRanges": [{"ipCidrRange": "10.4.2.0/24", "subnetworkRangeName": "pods"}], "accessConfigs": [{"natIP": "203.0.113.3"}]}]}
]`

const internetRoute = `[{"name": "internet", "network": "x/networks/vpc", "destRange": "0.0.0.0/0", "nextHopGateway": "g/default-internet-gateway"}]`

func natRouter(nat string) string {
	return `[{"name": "r1", "network": "x/networks/vpc", "region": "x/regions/europe-west1", "nats": [` + nat + `]},
 {"name": "r-other-region", "network": "x/networks/vpc", "region": "x/regions/us-east1", "nats": [{"name": "far", "sourceSubnetworkIpRangesToNat": "ALL_SUBNETWORKS_ALL_IP_RANGES"}]}]`
}

func TestCloudNAT(t *testing.T) {
	nodes := []cloud.Node{{Name: "na", Addrs: []netip.Addr{netipAddr("10.0.0.2")}}, {Name: "nb", Addrs: []netip.Addr{netipAddr("10.0.0.3")}}}
	cases := []struct {
		name, router, mapping, from, src string
		want                             string // the last decision: "snat SRC" or its verdict and code
	}{
		{"no routers.json: unknown naming it", "", "", "na", "10.0.0.2", "unknown cloud-missing-data"},
		{"all ranges: the node's address", natRouter(`{"name": "n", "sourceSubnetworkIpRangesToNat": "ALL_SUBNETWORKS_ALL_IP_RANGES", "natIpAllocateOption": "MANUAL_ONLY", "natIps": ["198.51.100.9"]}`), "", "na", "10.0.0.2", "snat 198.51.100.9"},
		{"all ranges: a pod (secondary range)", natRouter(`{"name": "n", "sourceSubnetworkIpRangesToNat": "ALL_SUBNETWORKS_ALL_IP_RANGES", "natIps": ["198.51.100.9"]}`), "", "na", "10.4.1.5", "snat 198.51.100.9"},
		{"primary ranges only: a pod is not translated (row 21 on GKE)", natRouter(`{"name": "n", "sourceSubnetworkIpRangesToNat": "ALL_SUBNETWORKS_ALL_PRIMARY_IP_RANGES"}`), "", "na", "10.4.1.5", "no-route gcp-cloud-nat"},
		{"primary ranges only: an alias from the primary range is", natRouter(`{"name": "n", "sourceSubnetworkIpRangesToNat": "ALL_SUBNETWORKS_ALL_PRIMARY_IP_RANGES", "natIps": ["198.51.100.9"]}`), "", "na", "10.0.0.66", "snat 198.51.100.9"},
		{"list: secondary range named", natRouter(`{"name": "n", "sourceSubnetworkIpRangesToNat": "LIST_OF_SUBNETWORKS", "natIps": ["198.51.100.9"], "subnetworks": [{"name": "x/subnetworks/nodes", "sourceIpRangesToNat": ["PRIMARY_IP_RANGE", "LIST_OF_SECONDARY_IP_RANGES"], "secondaryIpRangeNames": ["pods"]}]}`), "", "na", "10.4.1.5", "snat 198.51.100.9"},
		{"list: secondary range not named", natRouter(`{"name": "n", "sourceSubnetworkIpRangesToNat": "LIST_OF_SUBNETWORKS", "subnetworks": [{"name": "x/subnetworks/nodes", "sourceIpRangesToNat": ["LIST_OF_SECONDARY_IP_RANGES"], "secondaryIpRangeNames": ["services"]}]}`), "", "na", "10.4.1.5", "no-route gcp-cloud-nat"},
		{"list: another subnetwork", natRouter(`{"name": "n", "sourceSubnetworkIpRangesToNat": "LIST_OF_SUBNETWORKS", "subnetworks": [{"name": "x/subnetworks/other", "sourceIpRangesToNat": ["ALL_IP_RANGES"]}]}`), "", "na", "10.0.0.2", "no-route gcp-cloud-nat"},
		{"a NAT of another region does not serve", `[{"name": "r2", "network": "x/networks/vpc", "region": "x/regions/us-east1", "nats": [{"name": "far", "sourceSubnetworkIpRangesToNat": "ALL_SUBNETWORKS_ALL_IP_RANGES"}]}]`, "", "na", "10.0.0.2", "no-route gcp-cloud-nat"},
		{"a private NAT does not reach the internet", natRouter(`{"name": "n", "type": "PRIVATE", "sourceSubnetworkIpRangesToNat": "ALL_SUBNETWORKS_ALL_IP_RANGES"}`), "", "na", "10.0.0.2", "no-route gcp-cloud-nat"},
		{"auto-allocated: the mapping names the address", natRouter(`{"name": "n", "sourceSubnetworkIpRangesToNat": "ALL_SUBNETWORKS_ALL_IP_RANGES", "natIpAllocateOption": "AUTO_ONLY"}`),
			`[{"instanceName": "a", "interfaceNatMappings": [{"sourceVirtualIp": "10.0.0.2", "natIpPortRanges": ["34.1.2.3:1024-1087"]}, {"sourceAliasIpRange": "10.4.1.0/24", "natIpPortRanges": ["34.1.2.4:1024-1087"]}]}]`, "na", "10.4.1.5", "snat 34.1.2.4"},
		{"auto-allocated without a mapping: translated, address unknown", natRouter(`{"name": "n", "sourceSubnetworkIpRangesToNat": "ALL_SUBNETWORKS_ALL_IP_RANGES", "natIpAllocateOption": "AUTO_ONLY"}`), "", "na", "10.0.0.2", "snat 10.0.0.2"},
		{"external IP: the primary IP goes out through it", natRouter(`{"name": "n", "sourceSubnetworkIpRangesToNat": "ALL_SUBNETWORKS_ALL_PRIMARY_IP_RANGES"}`), "", "nb", "10.0.0.3", "snat 203.0.113.3"},
		{"external IP: a pod's address does not (Cloud NAT decides)", natRouter(`{"name": "n", "sourceSubnetworkIpRangesToNat": "ALL_SUBNETWORKS_ALL_PRIMARY_IP_RANGES"}`), "", "nb", "10.4.2.9", "no-route gcp-cloud-nat"},
		{"not the interface's address (host-gw pod range): never translated", natRouter(`{"name": "n", "sourceSubnetworkIpRangesToNat": "ALL_SUBNETWORKS_ALL_IP_RANGES"}`), "", "na", "10.9.9.9", "no-route gcp-cloud-nat"},
	}
	for _, c := range cases {
		files := map[string]string{FileInstances: natInstances, FileRoutes: internetRoute}
		if c.router != "" {
			files[FileRouters] = c.router
		}
		if c.mapping != "" {
			files[DirNATMapping+"/r1.json"] = c.mapping
		}
		p := New(parse(t, files), nodes, nil)
		ds, land := p.Route(cloud.Leg{From: c.from, Packet: tcp(c.src, "93.184.216.34", 443)})
		d := ds[len(ds)-1]
		got := d.Verdict.String() + " " + d.Code
		if !d.Blocks() {
			src := c.src
			if d.Packet.Src.IsValid() {
				src = d.Packet.Src.String()
			}
			got = d.Action + " " + src
			if !strings.HasPrefix(land.Beyond, "the internet") {
				t.Errorf("%s: lands %+v", c.name, land)
			}
		} else if land.Beyond != "" || land.Node != "" {
			t.Errorf("%s: blocked but lands %+v", c.name, land)
		}
		if got != c.want {
			t.Errorf("%s: %s, want %s (%v: %s)", c.name, got, c.want, verdicts(ds), d.Message)
		}
		if d.Blocks() && d.Verdict != cloud.Unknown && (d.Fix == "" || d.Message == "" || d.Pos.File != "cloud/gcp/routers.json") {
			t.Errorf("%s: no message or fix: %+v", c.name, d)
		}
	}
}

// The row-21 message says which range the source is in and which gateways were weighed.
func TestCloudNATMessage(t *testing.T) {
	files := map[string]string{FileInstances: natInstances, FileRoutes: internetRoute,
		FileRouters: natRouter(`{"name": "nat-nodes", "sourceSubnetworkIpRangesToNat": "ALL_SUBNETWORKS_ALL_PRIMARY_IP_RANGES"}`)}
	p := New(parse(t, files), []cloud.Node{{Name: "na", Addrs: []netip.Addr{netipAddr("10.0.0.2")}}}, nil)
	ds, _ := p.Route(cloud.Leg{From: "na", Packet: tcp("10.4.1.5", "93.184.216.34", 443)})
	d := ds[len(ds)-1]
	for _, want := range []string{"the secondary range pods of subnetwork nodes", "nat-nodes on router r1 (ALL_SUBNETWORKS_ALL_PRIMARY_IP_RANGES)"} {
		if !strings.Contains(d.Message, want) {
			t.Errorf("message %q lacks %q", d.Message, want)
		}
	}
	if !strings.Contains(d.Fix, "--nat-all-subnet-ip-ranges") || d.Pos.Line != 1 {
		t.Errorf("fix %q at %v", d.Fix, d.Pos)
	}
}

// A gateway is cited at its own line in routers.json.
func TestNATPositions(t *testing.T) {
	x := parse(t, map[string]string{FileRouters: `[
 {"name": "r1", "network": "x/networks/vpc", "region": "x/regions/europe-west1",
  "nats": [
   {"name": "first", "sourceSubnetworkIpRangesToNat": "ALL_SUBNETWORKS_ALL_IP_RANGES"},
   {"name": "second", "sourceSubnetworkIpRangesToNat": "ALL_SUBNETWORKS_ALL_IP_RANGES"}]}]`})
	if r := x.Routers[0]; r.Pos.Line != 2 || r.NATs[0].Pos.Line != 4 || r.NATs[1].Pos.Line != 5 {
		t.Errorf("router at %v, nats at %v %v", r.Pos, r.NATs[0].Pos, r.NATs[1].Pos)
	}
}
