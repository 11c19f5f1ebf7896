package alibaba

import (
	"fmt"
	"strings"
	"testing"

	"github.com/netsim/netsim/cloud"
	"github.com/netsim/netsim/rules/packet"
)

func lbs(status, addrType string) string {
	return fmt.Sprintf(`{"LoadBalancers": {"LoadBalancer": [{"LoadBalancerId": "lb-1", "Address": "47.0.0.30", "AddressType": %q, "LoadBalancerStatus": %q, "VpcId": "vpc-1"}]}}`, addrType, status)
}

func listeners(ls ...string) string { return `{"Listeners": [` + strings.Join(ls, ",\n") + `]}` }

func listener(port int, proto, status, acl string) string {
	return fmt.Sprintf(`{"LoadBalancerId": "lb-1", "ListenerPort": %d, "ListenerProtocol": %q, "Status": %q, "BackendServerPort": 30080%s}`, port, proto, status, acl)
}

func health(bs ...string) string {
	return "{\"BackendServers\": {\"BackendServer\": [\n" + strings.Join(bs, ",\n") + "\n]}}"
}

func backend(id, ip string, listenerPort int, status string) string {
	return fmt.Sprintf(`{"ServerId": %q, "ServerIp": %q, "Port": 30080, "ListenerPort": %d, "Protocol": "tcp", "ServerHealthStatus": %q}`, id, ip, listenerPort, status)
}

// TestLoadBalancer follows a client to the CLB lb-1 (47.0.0.30) and on to its backends,
// the nodes na (i-a) and nb (i-b), whose group sg-a admits node ports; sg-b (na's second
// group) admits nothing more.
func TestAlibabaLoadBalancer(t *testing.T) {
	sg := map[string]string{sgFile("sg-a"): group("sg-a", "Accept", "", rule("ingress", "accept", "TCP", "30000/32767", "cidr", "0.0.0.0/0", 1)), sgFile("sg-b"): group("sg-b", "Accept", "")}
	both := health(backend("i-a", "10.0.0.2", 80, "normal"), backend("i-b", "10.0.0.3", 80, "normal"))
	white := `, "AclStatus": "on", "AclType": "white", "AclId": "acl-1"`
	black := `, "AclStatus": "on", "AclType": "black", "AclId": "acl-1"`
	aclFile := `{"AclEntrys": {"AclEntry": [{"AclEntryIP": "198.51.100.0/24"}]}}`
	cases := []struct {
		name  string
		files map[string]string
		pk    packet.Packet
		nodes []string // nodes the entries reach, in order
		msg   string   // a blocking decision's message contains
		want  cloud.Verdict
	}{
		{name: "listener, two normal backends", files: map[string]string{FileLBs: lbs("active", "internet"), DirListeners + "/lb-1.json": listeners(listener(80, "tcp", "running", "")), DirHealth + "/lb-1.json": both},
			pk: tcp("198.51.100.7", "47.0.0.30", 80), nodes: []string{"na", "nb"}},
		{name: "no listener on the port", files: map[string]string{FileLBs: lbs("active", "internet"), DirListeners + "/lb-1.json": listeners(listener(80, "tcp", "running", "")), DirHealth + "/lb-1.json": both},
			pk: tcp("198.51.100.7", "47.0.0.30", 443), msg: "no listener on TCP port 443 (its listeners: 80/tcp)", want: cloud.Deny},
		{name: "a UDP listener does not carry TCP", files: map[string]string{FileLBs: lbs("active", "internet"), DirListeners + "/lb-1.json": listeners(listener(80, "udp", "running", "")), DirHealth + "/lb-1.json": both},
			pk: tcp("198.51.100.7", "47.0.0.30", 80), msg: "no listener", want: cloud.Deny},
		{name: "listener stopped", files: map[string]string{FileLBs: lbs("active", "internet"), DirListeners + "/lb-1.json": listeners(listener(80, "tcp", "stopped", "")), DirHealth + "/lb-1.json": both},
			pk: tcp("198.51.100.7", "47.0.0.30", 80), msg: "is stopped, not running", want: cloud.Deny},
		{name: "load balancer inactive", files: map[string]string{FileLBs: lbs("inactive", "internet")}, pk: tcp("198.51.100.7", "47.0.0.30", 80), msg: "inactive, not active", want: cloud.Deny},
		{name: "internal load balancer from the internet", files: map[string]string{FileLBs: lbs("active", "intranet")}, pk: tcp("198.51.100.7", "47.0.0.30", 80), msg: "internal", want: cloud.Deny},
		{name: "one abnormal backend is skipped", files: map[string]string{FileLBs: lbs("active", "internet"), DirListeners + "/lb-1.json": listeners(listener(80, "tcp", "running", "")),
			DirHealth + "/lb-1.json": health(backend("i-a", "10.0.0.2", 80, "abnormal"), backend("i-b", "10.0.0.3", 80, "normal"))}, pk: tcp("198.51.100.7", "47.0.0.30", 80), nodes: []string{"nb"}},
		{name: "every backend abnormal", files: map[string]string{FileLBs: lbs("active", "internet"), DirListeners + "/lb-1.json": listeners(listener(80, "tcp", "running", "")),
			DirHealth + "/lb-1.json": health(backend("i-a", "10.0.0.2", 80, "abnormal"), backend("i-b", "10.0.0.3", 80, "abnormal"))}, pk: tcp("198.51.100.7", "47.0.0.30", 80), msg: "every backend", want: cloud.Deny},
		{name: "unavailable (no health check) still serves", files: map[string]string{FileLBs: lbs("active", "internet"), DirListeners + "/lb-1.json": listeners(listener(80, "tcp", "running", "")),
			DirHealth + "/lb-1.json": health(backend("i-b", "10.0.0.3", 80, "unavailable"))}, pk: tcp("198.51.100.7", "47.0.0.30", 80), nodes: []string{"nb"}},
		{name: "backends of another listener only", files: map[string]string{FileLBs: lbs("active", "internet"), DirListeners + "/lb-1.json": listeners(listener(80, "tcp", "running", "")),
			DirHealth + "/lb-1.json": health(backend("i-b", "10.0.0.3", 443, "normal"))}, pk: tcp("198.51.100.7", "47.0.0.30", 80), msg: "no backend server", want: cloud.Deny},
		{name: "health not exported", files: map[string]string{FileLBs: lbs("active", "internet"), DirListeners + "/lb-1.json": listeners(listener(80, "tcp", "running", ""))},
			pk: tcp("198.51.100.7", "47.0.0.30", 80), msg: "DescribeHealthStatus/lb-1.json", want: cloud.Unknown},
		{name: "listeners not exported", files: map[string]string{FileLBs: lbs("active", "internet")}, pk: tcp("198.51.100.7", "47.0.0.30", 80), msg: "DescribeLoadBalancerListeners/lb-1.json", want: cloud.Unknown},
		{name: "whitelist holds the client", files: map[string]string{FileLBs: lbs("active", "internet"), DirListeners + "/lb-1.json": listeners(listener(80, "tcp", "running", white)),
			DirHealth + "/lb-1.json": both, DirAccessControl + "/acl-1.json": aclFile}, pk: tcp("198.51.100.7", "47.0.0.30", 80), nodes: []string{"na", "nb"}},
		{name: "whitelist lacks the client", files: map[string]string{FileLBs: lbs("active", "internet"), DirListeners + "/lb-1.json": listeners(listener(80, "tcp", "running", white)),
			DirHealth + "/lb-1.json": both, DirAccessControl + "/acl-1.json": aclFile}, pk: tcp("203.0.113.9", "47.0.0.30", 80), msg: "whitelist acl-1", want: cloud.Deny},
		{name: "blacklist holds the client", files: map[string]string{FileLBs: lbs("active", "internet"), DirListeners + "/lb-1.json": listeners(listener(80, "tcp", "running", black)),
			DirHealth + "/lb-1.json": both, DirAccessControl + "/acl-1.json": aclFile}, pk: tcp("198.51.100.7", "47.0.0.30", 80), msg: "blacklist acl-1", want: cloud.Deny},
		{name: "access control list not exported", files: map[string]string{FileLBs: lbs("active", "internet"), DirListeners + "/lb-1.json": listeners(listener(80, "tcp", "running", black)),
			DirHealth + "/lb-1.json": both}, pk: tcp("198.51.100.7", "47.0.0.30", 80), msg: "DescribeAccessControlListAttribute/acl-1.json", want: cloud.Unknown},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			files := map[string]string{}
			for k, v := range sg {
				files[k] = v
			}
			for k, v := range c.files {
				files[k] = v
			}
			es, ok := provider(t, files).Inbound(c.pk)
			if !ok {
				t.Fatal("the load balancer's address is not known")
			}
			var reached []string
			for _, e := range es {
				if e.Node != "" {
					reached = append(reached, e.Node)
					if e.Packet.DPort != 30080 || e.Back == nil {
						t.Errorf("entry to %s: packet %v, back %v", e.Node, e.Packet, e.Back != nil)
					}
					continue
				}
				d := last(e.Decisions)
				if d.Verdict != c.want || !strings.Contains(d.Message, c.msg) {
					t.Errorf("blocked by %s %q (%s), want %s %q", d.Verdict, d.Message, verdicts(e.Decisions), c.want, c.msg)
				}
			}
			if strings.Join(reached, ",") != strings.Join(c.nodes, ",") {
				t.Errorf("reached %v, want %v", reached, c.nodes)
			}
		})
	}
}

// TestPublicIP: a packet to an instance's public IP is translated to its private one;
// the reply leaves from the public IP again.
func TestAlibabaPublicIP(t *testing.T) {
	p := provider(t, map[string]string{sgFile("sg-c"): group("sg-c", "Accept", "", rule("ingress", "accept", "TCP", "22/22", "cidr", "0.0.0.0/0", 1))})
	es, ok := p.Inbound(tcp("198.51.100.7", "47.0.0.4", 22))
	if !ok || len(es) != 1 {
		t.Fatalf("entries %v %v", es, ok)
	}
	// i-c is no node: the entry says so rather than delivering.
	if d := last(es[0].Decisions); d.Verdict != cloud.Unknown || !strings.Contains(d.Message, "no node") {
		t.Errorf("%s", verdicts(es[0].Decisions))
	}
	if _, ok := p.Inbound(tcp("198.51.100.7", "47.0.0.99", 22)); ok {
		t.Error("an unknown public address was claimed")
	}
}

// TestInstanceID reads ACK's providerID.
func TestAlibabaInstanceID(t *testing.T) {
	for in, want := range map[string]string{"cn-hangzhou.i-bp1abc": "i-bp1abc", "alicloud://cn-hangzhou.i-bp1abc": "i-bp1abc", "aws:///us-east-1a/i-0abc": "", "cn-hangzhou.eci-1": "", "": ""} {
		if got := InstanceID(in); got != want {
			t.Errorf("InstanceID(%q) = %q, want %q", in, got, want)
		}
	}
	p := provider(t, nil)
	if p.byInst["i-a"] != "na" || p.byInst["i-b"] != "nb" || p.nodeNIC["nb"].ID != "eni-b" {
		t.Errorf("mapping %v %v", p.byInst, p.nodeNIC)
	}
}
