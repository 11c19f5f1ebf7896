package gcp

import (
	"strings"
	"testing"

	"github.com/netsim/netsim/cloud"
	"github.com/netsim/netsim/rules/packet"
)

func TestFirewall(t *testing.T) {
	fw := func(rules ...string) string { return "[" + strings.Join(rules, ",\n") + "]" }
	const (
		allowPodsWeb   = `{"name": "allow-pods", "network": "n/vpc", "direction": "INGRESS", "priority": 1000, "sourceRanges": ["10.4.0.0/16"], "targetTags": ["db"], "allowed": [{"IPProtocol": "tcp", "ports": ["80", "8000-8999"]}]}`
		deny8080Same   = `{"name": "deny-8080", "network": "n/vpc", "direction": "INGRESS", "priority": 1000, "sourceRanges": ["0.0.0.0/0"], "denied": [{"IPProtocol": "tcp", "ports": ["8080"]}]}`
		allow8080Lower = `{"name": "allow-8080-first", "network": "n/vpc", "direction": "INGRESS", "priority": 900, "sourceRanges": ["0.0.0.0/0"], "allowed": [{"IPProtocol": "tcp", "ports": ["8080"]}]}`
		denyAllHigh    = `{"name": "deny-all-early", "network": "n/vpc", "direction": "INGRESS", "priority": 10, "denied": [{"IPProtocol": "all"}]}`
		disabledDeny   = `{"name": "off", "network": "n/vpc", "direction": "INGRESS", "priority": 0, "disabled": true, "denied": [{"IPProtocol": "all"}]}`
		fromTagWeb     = `{"name": "from-web", "network": "n/vpc", "direction": "INGRESS", "sourceTags": ["web"], "targetTags": ["db"], "allowed": [{"IPProtocol": "udp", "ports": ["53"]}]}`
		fromSAWeb      = `{"name": "from-web-sa", "network": "n/vpc", "direction": "INGRESS", "sourceServiceAccounts": ["web@p"], "targetServiceAccounts": ["db@p"], "allowed": [{"IPProtocol": "tcp", "ports": ["5432"]}]}`
		otherNet       = `{"name": "other-net", "network": "n/other", "direction": "INGRESS", "allowed": [{"IPProtocol": "all"}]}`
		egressDeny     = `{"name": "no-egress-db", "network": "n/vpc", "direction": "EGRESS", "priority": 500, "destinationRanges": ["10.0.0.3/32"], "denied": [{"IPProtocol": "tcp"}]}`
		// GKE's k8s-fw-* rule of one load balancer: its address as destinationRanges.
		lbRule       = `{"name": "k8s-fw-lb1", "network": "n/vpc", "direction": "INGRESS", "sourceRanges": ["198.51.100.0/24"], "destinationRanges": ["203.0.113.50"], "allowed": [{"IPProtocol": "tcp", "ports": ["80"]}]}`
		egressFromNo = `{"name": "no-egress-from-pods", "network": "n/vpc", "direction": "EGRESS", "priority": 500, "sourceRanges": ["10.4.0.0/16"], "denied": [{"IPProtocol": "all"}]}`
	)
	cases := []struct {
		name    string
		rules   string
		ingress bool
		pk      packet.Packet
		want    string // the deciding object, and its verdict
	}{
		{"implied ingress deny", fw(otherNet), true, tcp("10.0.0.2", "10.0.0.3", 80), "implied ingress rule deny"},
		{"implied egress allow", fw(), false, tcp("10.0.0.2", "10.0.0.3", 80), "implied egress rule allow"},
		{"pod range, port list", fw(allowPodsWeb), true, tcp("10.4.1.5", "10.0.0.3", 8443), "firewall/allow-pods allow"},
		{"port outside the list", fw(allowPodsWeb), true, tcp("10.4.1.5", "10.0.0.3", 9000), "implied ingress rule deny"},
		{"target tag not carried", fw(allowPodsWeb), true, tcp("10.4.2.5", "10.0.0.2", 80), "implied ingress rule deny"},
		{"deny wins a tie", fw(allowPodsWeb, deny8080Same), true, tcp("10.4.1.5", "10.0.0.3", 8080), "firewall/deny-8080 deny"},
		{"deny wins a tie, listed first", fw(deny8080Same, allowPodsWeb), true, tcp("10.4.1.5", "10.0.0.3", 8080), "firewall/deny-8080 deny"},
		{"lower priority number first", fw(deny8080Same, allow8080Lower), true, tcp("10.4.1.5", "10.0.0.3", 8080), "firewall/allow-8080-first allow"},
		{"deny all at priority 10", fw(allowPodsWeb, denyAllHigh), true, tcp("10.4.1.5", "10.0.0.3", 80), "firewall/deny-all-early deny"},
		{"disabled rule skipped", fw(disabledDeny, allowPodsWeb), true, tcp("10.4.1.5", "10.0.0.3", 80), "firewall/allow-pods allow"},
		{"source tag: primary IP", fw(fromTagWeb), true, udp("10.0.0.2", "10.0.0.3", 53), "firewall/from-web allow"},
		{"source tag: alias range", fw(fromTagWeb), true, udp("10.4.1.9", "10.0.0.3", 53), "firewall/from-web allow"},
		{"source tag: other network's instance", fw(fromTagWeb), true, udp("10.9.0.2", "10.0.0.3", 53), "implied ingress rule deny"},
		{"source tag: no instance", fw(fromTagWeb), true, udp("10.0.0.99", "10.0.0.3", 53), "implied ingress rule deny"},
		{"source and target service accounts", fw(fromSAWeb), true, tcp("10.0.0.2", "10.0.0.3", 5432), "firewall/from-web-sa allow"},
		{"target service account not carried", fw(fromSAWeb), true, tcp("10.0.0.3", "10.0.0.2", 5432), "implied ingress rule deny"},
		{"egress deny by destination range", fw(egressDeny), false, tcp("10.0.0.2", "10.0.0.3", 80), "firewall/no-egress-db deny"},
		{"egress elsewhere: implied allow", fw(egressDeny), false, tcp("10.0.0.2", "10.0.0.4", 80), "implied egress rule allow"},
		{"ingress destinationRanges: the load balancer's own address", fw(lbRule), true, tcp("198.51.100.7", "203.0.113.50", 80), "firewall/k8s-fw-lb1 allow"},
		{"ingress destinationRanges: not another load balancer's", fw(lbRule), true, tcp("198.51.100.7", "203.0.113.51", 80), "implied ingress rule deny"},
		{"egress sourceRanges: a pod's packet", fw(egressFromNo), false, tcp("10.4.1.5", "10.0.0.3", 80), "firewall/no-egress-from-pods deny"},
		{"egress sourceRanges: not the node's own", fw(egressFromNo), false, tcp("10.0.0.2", "10.0.0.3", 80), "implied egress rule allow"},
	}
	for _, c := range cases {
		p := provider(t, c.rules, "")
		var ds []cloud.Decision
		switch {
		case c.ingress && p.X.NICWith(c.pk.Dst) == nil:
			// A load balancer's address, delivered to b by a passthrough load balancer.
			ds = []cloud.Decision{p.firewall(p.nodeNIC["nb"], true, c.pk, false)}
		case c.ingress:
			ds = p.Ingress(cloud.Leg{To: p.byInst[p.X.NICWith(c.pk.Dst).Inst], Packet: c.pk})
		default:
			ds = p.Egress(cloud.Leg{From: "na", Packet: c.pk})
		}
		d := ds[len(ds)-1]
		got := d.Object + " " + map[bool]string{true: "deny", false: "allow"}[d.Blocks()]
		if got != c.want {
			t.Errorf("%s: %s, want %s (%v)", c.name, got, c.want, verdicts(ds))
		}
	}
}

// A reply is not checked: the rules are stateful.
func TestFirewallStateful(t *testing.T) {
	p := provider(t, `[{"name": "deny-all", "network": "n/vpc", "direction": "EGRESS", "priority": 0, "denied": [{"IPProtocol": "all"}]}]`, "")
	reply := tcp("10.0.0.3", "10.0.0.2", 40000)
	reply.SPort = 80
	for _, ds := range [][]cloud.Decision{
		p.Egress(cloud.Leg{From: "nb", To: "na", Packet: reply, Reply: true}),
		p.Ingress(cloud.Leg{From: "nb", To: "na", Packet: reply, Reply: true}),
	} {
		if len(ds) != 1 || ds[0].Blocks() || !strings.Contains(ds[0].Note, "stateful") {
			t.Errorf("reply: %v", verdicts(ds))
		}
	}
	if ds := p.Egress(cloud.Leg{From: "nb", To: "na", Packet: reply}); !ds[0].Blocks() {
		t.Errorf("request: %v", verdicts(ds))
	}
}

// The finding names the rule needed.
func TestFirewallFix(t *testing.T) {
	p := provider(t, `[]`, "")
	ds := p.Ingress(cloud.Leg{To: "nb", Packet: tcp("198.51.100.7", "10.0.0.3", 30080)})
	want := "ingress allow tcp:30000-32767 from 0.0.0.0/0 to target tag db"
	if d := ds[0]; d.Code != "gcp-firewall-ingress" || !strings.HasPrefix(d.Fix, want) {
		t.Errorf("fix %q (%s), want %q", d.Fix, d.Code, want)
	}
	ds = p.Ingress(cloud.Leg{To: "nb", Packet: tcp("10.4.1.2", "10.4.2.2", 8080)})
	if d := ds[0]; !strings.HasPrefix(d.Fix, "ingress allow tcp:8080 from 10.4.0.0/16 to target tag db") {
		t.Errorf("fix %q", d.Fix)
	}
	// Another instance by its primary IP: admitted by its tag.
	ds = p.Ingress(cloud.Leg{To: "nb", Packet: tcp("10.0.0.2", "10.0.0.3", 10256)})
	if d := ds[0]; !strings.HasPrefix(d.Fix, "ingress allow tcp:10256 from source tag web to target tag db") || !strings.Contains(d.Fix, "--source-tags web") {
		t.Errorf("fix %q", d.Fix)
	}
	// A missing export is unknown, never an allow.
	q := New(parse(t, map[string]string{FileInstances: instances}), nodes(), nil)
	if ds := q.Ingress(cloud.Leg{To: "nb", Packet: tcp("10.0.0.2", "10.0.0.3", 80)}); ds[0].Verdict != cloud.Unknown {
		t.Errorf("no firewall-rules.json: %v", verdicts(ds))
	}
}

func TestEgressFix(t *testing.T) {
	p := provider(t, `[{"name": "deny-out", "network": "n/vpc", "direction": "EGRESS", "priority": 500, "denied": [{"IPProtocol": "tcp", "ports": ["443"]}]}]`, "")
	ds := p.Egress(cloud.Leg{From: "na", Packet: tcp("10.0.0.2", "93.184.216.34", 443)})
	d := ds[len(ds)-1]
	if d.Code != "gcp-firewall-deny" || !strings.HasPrefix(d.Fix, "egress allow tcp:443 to 93.184.216.34/32 from target tag web") || !strings.Contains(d.Fix, "lower priority number than 500") {
		t.Errorf("%s %q", d.Code, d.Fix)
	}
}
