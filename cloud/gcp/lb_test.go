package gcp

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/netsim/netsim/cloud"
	"github.com/netsim/netsim/model/source"
)

// A passthrough Network Load Balancer at 203.0.113.50: tcp 80 to target pool pool-a
// (instances a and b), tcp 443 to backend service bs-a (a primary, b failover).
const (
	lbRules = `[
 {"name": "fr-80", "region": "x/regions/europe-west1", "IPAddress": "203.0.113.50", "IPProtocol": "TCP", "portRange": "80-80", "loadBalancingScheme": "EXTERNAL", "target": "x/regions/europe-west1/targetPools/pool-a"},
 {"name": "fr-443", "region": "x/regions/europe-west1", "IPAddress": "203.0.113.50", "IPProtocol": "TCP", "ports": ["443"], "loadBalancingScheme": "EXTERNAL", "backendService": "x/regions/europe-west1/backendServices/bs-a"},
 {"name": "fr-ilb", "IPAddress": "10.0.0.50", "IPProtocol": "TCP", "ports": ["80"], "loadBalancingScheme": "INTERNAL", "backendService": "x/backendServices/bs-a"},
 {"name": "fr-https-proxy", "IPAddress": "203.0.113.60", "IPProtocol": "TCP", "portRange": "443-443", "loadBalancingScheme": "EXTERNAL_MANAGED", "target": "x/global/targetHttpsProxies/p"}
]`
	lbPools    = `[{"name": "pool-a", "instances": ["x/zones/z/instances/a", "x/zones/z/instances/b"], "healthChecks": ["x/global/httpHealthChecks/hc-a"]}]`
	lbServices = `[{"name": "bs-a", "loadBalancingScheme": "EXTERNAL", "protocol": "TCP", "healthChecks": ["x/healthChecks/hc-a"],
  "backends": [{"group": "x/zones/z/instanceGroups/ig-a"}, {"group": "x/zones/z/instanceGroups/ig-b", "failover": true}]%s}]`
	lbHC = `[{"name": "hc-a", "type": "HTTP", "httpHealthCheck": {"port": 10256}}]`
	// The nodes' firewall: clients from 198.51.100.0/24 on tcp 80 and 443; health checks.
	lbFirewall = `[
 {"name": "k8s-fw-a", "network": "n/vpc", "sourceRanges": ["198.51.100.0/24"], "destinationRanges": ["203.0.113.50"], "allowed": [{"IPProtocol": "tcp", "ports": ["80", "443"]}]}%s
]`
	lbHCRule = `,
 {"name": "k8s-hc", "network": "n/vpc", "sourceRanges": ["35.191.0.0/16", "209.85.152.0/22", "209.85.204.0/22"], "allowed": [{"IPProtocol": "tcp", "ports": ["10256"]}]}`
)

func poolHealth(a, b string) string {
	return `[{"healthStatus": [{"healthState": "` + a + `", "instance": "x/zones/z/instances/a", "ipAddress": "203.0.113.50"}], "kind": "compute#targetPoolInstanceHealth"},
 {"healthStatus": [{"healthState": "` + b + `", "instance": "x/zones/z/instances/b", "ipAddress": "203.0.113.50"}], "kind": "compute#targetPoolInstanceHealth"}]`
}

func serviceHealth(a, b string) string {
	return `[{"backend": "x/zones/z/instanceGroups/ig-a", "status": {"healthStatus": [{"healthState": "` + a + `", "instance": "x/zones/z/instances/a", "ipAddress": "10.0.0.2", "port": 443}]}},
 {"backend": "x/zones/z/instanceGroups/ig-b", "status": {"healthStatus": [{"healthState": "` + b + `", "instance": "x/zones/z/instances/b", "ipAddress": "10.0.0.3", "port": 443}]}}]`
}

func lbProvider(t *testing.T, mod func(map[string]string)) *Provider {
	t.Helper()
	files := map[string]string{FileInstances: instances, FileFirewalls: strings.Replace(lbFirewall, "%s", lbHCRule, 1),
		FileForwardingRules: lbRules, FileTargetPools: lbPools, FileBackendServices: strings.Replace(lbServices, "%s", "", 1), FileHealthChecks: lbHC,
		DirTargetPoolHealth + "/pool-a.json": poolHealth("HEALTHY", "HEALTHY"), DirBackendSvcHealth + "/bs-a.json": serviceHealth("HEALTHY", "HEALTHY")}
	if mod != nil {
		mod(files)
	}
	return New(parse(t, files), nodes(), nil)
}

// outcome renders entries: per entry the node (or "-") and the last decision.
func outcome(es []cloud.Entry) string {
	var out []string
	for _, e := range es {
		d := e.Decisions[len(e.Decisions)-1]
		node := e.Node
		if node == "" {
			node = "-"
		}
		s := node + " " + d.Verdict.String()
		if d.Code != "" {
			s += " " + d.Code
		}
		out = append(out, s)
	}
	return strings.Join(out, "; ")
}

func TestForwardingRules(t *testing.T) {
	cases := []struct {
		name     string
		mod      func(map[string]string)
		src      string
		dst      string
		port     uint16
		want     string
		warning  string // a decision's warning code
		inFields string // text some decision's message must hold
	}{
		{"target pool: one branch per healthy backend", nil, "198.51.100.7", "203.0.113.50", 80, "na allow; nb allow", "", ""},
		{"backend service: the primary only while it is healthy", nil, "198.51.100.7", "203.0.113.50", 443, "na allow", "", ""},
		{"no forwarding rule carries the port: no listener", nil, "198.51.100.7", "203.0.113.50", 8443, "- deny gcp-lb-no-listener", "", "fr-443"},
		{"udp on a tcp rule", nil, "198.51.100.7", "203.0.113.50", 80, "- deny gcp-lb-no-listener", "", ""},
		{"a source the k8s-fw rule does not admit", nil, "192.0.2.9", "203.0.113.50", 80, "- deny gcp-firewall-ingress; - deny gcp-firewall-ingress", "", "loadBalancerSourceRanges"},
		{"an unhealthy backend is not chosen", func(f map[string]string) { f[DirTargetPoolHealth+"/pool-a.json"] = poolHealth("UNHEALTHY", "HEALTHY") }, "198.51.100.7", "203.0.113.50", 80, "nb allow", "", ""},
		{"all unhealthy: the last resort is all of them", func(f map[string]string) {
			f[DirTargetPoolHealth+"/pool-a.json"] = poolHealth("UNHEALTHY", "UNHEALTHY")
		}, "198.51.100.7", "203.0.113.50", 80, "na allow; nb allow", "gcp-lb-fail-open", ""},
		{"all unhealthy because the firewall shuts the probes out: said so", func(f map[string]string) {
			f[DirTargetPoolHealth+"/pool-a.json"] = poolHealth("UNHEALTHY", "UNHEALTHY")
			f[FileFirewalls] = strings.Replace(lbFirewall, "%s", "", 1)
			f[FileHealthChecks] = `[{"name": "hc-a", "type": "HTTP", "httpHealthCheck": {"port": 10256}}]`
		}, "198.51.100.7", "203.0.113.50", 80, "na allow; nb allow", "gcp-lb-fail-open", ""},
		{"backend service: primary unhealthy, the failover backend takes it", func(f map[string]string) {
			f[DirBackendSvcHealth+"/bs-a.json"] = serviceHealth("UNHEALTHY", "HEALTHY")
		}, "198.51.100.7", "203.0.113.50", 443, "nb allow", "gcp-lb-fail-open", ""},
		{"backend service: all unhealthy, last resort to the primaries", func(f map[string]string) {
			f[DirBackendSvcHealth+"/bs-a.json"] = serviceHealth("UNHEALTHY", "UNHEALTHY")
		}, "198.51.100.7", "203.0.113.50", 443, "na allow", "gcp-lb-fail-open", ""},
		{"backend service: all unhealthy and dropTrafficIfUnhealthy", func(f map[string]string) {
			f[FileBackendServices] = strings.Replace(lbServices, "%s", `, "failoverPolicy": {"dropTrafficIfUnhealthy": true}`, 1)
			f[DirBackendSvcHealth+"/bs-a.json"] = serviceHealth("UNHEALTHY", "UNHEALTHY")
		}, "198.51.100.7", "203.0.113.50", 443, "- deny gcp-lb-unhealthy", "", ""},
		{"no health export: unknown naming it", func(f map[string]string) { delete(f, DirTargetPoolHealth+"/pool-a.json") }, "198.51.100.7", "203.0.113.50", 80, "- unknown cloud-missing-data", "", "target-pool-health/pool-a.json"},
		{"no target-pools.json: unknown", func(f map[string]string) { delete(f, FileTargetPools) }, "198.51.100.7", "203.0.113.50", 80, "- unknown cloud-missing-data", "", ""},
		{"an empty pool", func(f map[string]string) { f[FileTargetPools] = `[{"name": "pool-a"}]` }, "198.51.100.7", "203.0.113.50", 80, "- deny gcp-lb-no-backends", "", ""},
		{"a backup pool is not followed", func(f map[string]string) {
			f[FileTargetPools] = `[{"name": "pool-a", "instances": ["x/instances/a"], "backupPool": "x/targetPools/pool-b"}]`
			f[DirTargetPoolHealth+"/pool-a.json"] = poolHealth("UNHEALTHY", "UNHEALTHY")
		}, "198.51.100.7", "203.0.113.50", 80, "- unknown cloud-unsupported", "", ""},
		{"a target pool below its failover ratio goes to its backup pool: not followed", func(f map[string]string) {
			f[FileTargetPools] = `[{"name": "pool-a", "instances": ["x/instances/a", "x/instances/b"], "backupPool": "x/targetPools/pool-b", "failoverRatio": 0.6}]`
			f[DirTargetPoolHealth+"/pool-a.json"] = poolHealth("UNHEALTHY", "HEALTHY")
		}, "198.51.100.7", "203.0.113.50", 80, "- unknown cloud-unsupported", "", ""},
		{"an internal forwarding rule from the internet", nil, "198.51.100.7", "10.0.0.50", 80, "- deny gcp-lb-internal", "", ""},
		{"a proxy load balancer is not followed", nil, "198.51.100.7", "203.0.113.60", 443, "- unknown cloud-unsupported", "", ""},
		{"a backend that is no node", func(f map[string]string) {
			f[FileTargetPools] = `[{"name": "pool-a", "instances": ["x/instances/c"]}]`
			f[DirTargetPoolHealth+"/pool-a.json"] = `[{"healthStatus": [{"healthState": "HEALTHY", "instance": "x/instances/c"}]}]`
		}, "198.51.100.7", "203.0.113.50", 80, "- unknown cloud-node-unmapped", "", ""},
	}
	for _, c := range cases {
		p := lbProvider(t, c.mod)
		pk := tcp(c.src, c.dst, c.port)
		if strings.HasPrefix(c.name, "udp") {
			pk = udp(c.src, c.dst, c.port)
		}
		es, ok := p.Inbound(pk)
		if !ok {
			t.Errorf("%s: not the provider's address", c.name)
			continue
		}
		if got := outcome(es); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
		warned, text := "", ""
		for _, e := range es {
			for _, d := range e.Decisions {
				if d.Warning {
					warned = d.Code
				}
				text += d.Message + " " + d.Fix + " "
			}
			if e.Node != "" && (e.Packet != pk || e.Back == nil) {
				t.Errorf("%s: passthrough changed the packet %v or has no way back", c.name, e.Packet)
			}
		}
		if warned != c.warning {
			t.Errorf("%s: warning %q, want %q", c.name, warned, c.warning)
		}
		if c.inFields != "" && !strings.Contains(text, c.inFields) {
			t.Errorf("%s: messages lack %q: %s", c.name, c.inFields, text)
		}
	}
}

// Unhealthy backends behind a firewall that admits no health check probe: the warning
// names the rule that shuts them out.
func TestProbeWhy(t *testing.T) {
	p := lbProvider(t, func(f map[string]string) {
		f[DirTargetPoolHealth+"/pool-a.json"] = poolHealth("UNHEALTHY", "HEALTHY")
		f[FileFirewalls] = strings.Replace(lbFirewall, "%s", "", 1)
		f[FileBackendServices] = strings.Replace(lbServices, "%s", "", 1)
		f[DirBackendSvcHealth+"/bs-a.json"] = serviceHealth("UNHEALTHY", "UNHEALTHY")
	})
	es, _ := p.Inbound(tcp("198.51.100.7", "203.0.113.50", 443))
	var msg string
	for _, d := range es[0].Decisions {
		if d.Warning {
			msg = d.Message
		}
	}
	if !strings.Contains(msg, "the implied ingress deny does not admit health check probes from 35.191.0.0/16 to tcp:10256") {
		t.Errorf("warning %q", msg)
	}
	// With the health check rule, nothing is said of the probes.
	p = lbProvider(t, func(f map[string]string) {
		f[DirBackendSvcHealth+"/bs-a.json"] = serviceHealth("UNHEALTHY", "UNHEALTHY")
	})
	es, _ = p.Inbound(tcp("198.51.100.7", "203.0.113.50", 443))
	for _, d := range es[0].Decisions {
		if strings.Contains(d.Message, "probes") {
			t.Errorf("probes admitted, yet: %q", d.Message)
		}
	}
}

// A backend's health is cited at its own line of the get-health export.
func TestHealthPositions(t *testing.T) {
	hs, err := parseHealth(source.NewFile("cloud/gcp/backend-service-health/b.json", []byte(`[
 {"backend": "x/instanceGroups/ig",
  "status": {"healthStatus": [
    {"healthState": "HEALTHY", "instance": "x/instances/a"},
    {"healthState": "UNHEALTHY", "instance": "x/instances/b"}]}}]`)))
	if err != nil || len(hs) != 2 || hs[0].Pos.Line != 4 || hs[1].Pos.Line != 5 || hs[1].Group != "ig" || hs[1].State != "UNHEALTHY" {
		t.Errorf("%+v %v", hs, err)
	}
}

// An IPv6 forwarding rule holds a /96: any address in it is the load balancer's.
func TestForwardingRuleIPv6(t *testing.T) {
	x := parse(t, map[string]string{FileForwardingRules: `[{"name": "v6", "IPAddress": "2600:1900:4000:1::/96", "IPProtocol": "TCP", "ports": ["80"], "target": "x/targetPools/p"}]`})
	if fr := x.Rules[0]; fr.Range.String() != "2600:1900:4000:1::/96" || !fr.Range.Contains(netip.MustParseAddr("2600:1900:4000:1::5")) {
		t.Errorf("%+v", fr)
	}
}

// TestChooseFailoverRatio: a backend service fails over when the share of healthy
// primaries falls below failoverPolicy.failoverRatio, not only when none is healthy.
func TestChooseFailoverRatio(t *testing.T) {
	m := func(name, state string, backup bool) member {
		return member{BackendHealth: BackendHealth{Instance: name, State: state}, backup: backup}
	}
	ms := []member{m("p1", "HEALTHY", false), m("p2", "UNHEALTHY", false), m("p3", "UNHEALTHY", false), m("f1", "HEALTHY", true)}
	names := func(cs []member) string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Instance)
		}
		return strings.Join(out, ",")
	}
	for _, c := range []struct {
		ratio float64
		ms    []member
		want  string
		how   string
	}{
		{0, ms, "p1", ""},
		{0.3, ms, "p1", ""},
		{0.5, ms, "f1", "below the failover ratio 0.5"},
		{0.5, []member{ms[0], ms[1], ms[2], m("f1", "UNHEALTHY", true)}, "p1", ""},
		{0.5, []member{m("p1", "UNHEALTHY", false), m("f1", "UNHEALTHY", true)}, "p1", "last resort"},
	} {
		got, how := choose(c.ms, false, c.ratio)
		if names(got) != c.want || !strings.Contains(how, c.how) || (c.how == "" && how != "") {
			t.Errorf("ratio %v: %s %q, want %s %q", c.ratio, names(got), how, c.want, c.how)
		}
	}
}
