package gcp

import (
	"net/netip"
	"testing"

	"github.com/netsim/netsim/cloud"
	"github.com/netsim/netsim/cloud/cloudtest"
	"github.com/netsim/netsim/rules/packet"
)

func parse(t *testing.T, files map[string]string) *Export {
	t.Helper()
	return cloudtest.Parse(t, "cloud/gcp", files, Parse)
}

func tcp(src, dst string, dport uint16) packet.Packet { return cloudtest.TCP(src, dst, dport) }

func udp(src, dst string, dport uint16) packet.Packet { return cloudtest.UDP(src, dst, dport) }

// Two instances in network vpc: a (tag web, SA web@) with alias 10.4.1.0/24, b (tag db,
// SA db@) with alias 10.4.2.0/24 and an external IP; c in another network.
const instances = `[
 {"name": "a", "zone": "z/europe-west1-b", "tags": {"items": ["web"]}, "serviceAccounts": [{"email": "web@p"}],
  "networkInterfaces": [{"name": "nic0", "network": "x/networks/vpc", "networkIP": "10.0.0.2", "aliasIpRanges": [{"ipCidrRange": "10.4.1.0/24"}]}]},
 {"name": "b", "tags": {"items": ["db"]}, "serviceAccounts": [{"email": "db@p"}],
  "networkInterfaces": [{"name": "nic0", "network": "x/networks/vpc", "networkIP": "10.0.0.3", "aliasIpRanges": [{"ipCidrRange": "10.4.2.0/24"}],
   "accessConfigs": [{"natIP": "203.0.113.3"}]}]},
 {"name": "c", "tags": {"items": ["web"]},
  "networkInterfaces": [{"name": "nic0", "network": "x/networks/other", "networkIP": "10.9.0.2"}]}
]`

func nodes() []cloud.Node {
	return []cloud.Node{
		{Name: "na", ProviderID: "gce://p/europe-west1-b/a", Addrs: []netip.Addr{netip.MustParseAddr("10.0.0.2")}},
		{Name: "nb", Addrs: []netip.Addr{netip.MustParseAddr("10.0.0.3")}},
	}
}

func provider(t *testing.T, firewalls, routes string) *Provider {
	t.Helper()
	files := map[string]string{FileInstances: instances}
	if firewalls != "" {
		files[FileFirewalls] = firewalls
	}
	if routes != "" {
		files[FileRoutes] = routes
	}
	return New(parse(t, files), nodes(), []netip.Prefix{netip.MustParsePrefix("10.4.0.0/16")})
}

func verdicts(ds []cloud.Decision) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Step+"="+d.Verdict.String()+" "+d.Object)
	}
	return out
}
