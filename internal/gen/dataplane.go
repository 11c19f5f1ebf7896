package gen

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// WriteDataplane adds every node's dataplane dump to a bundle that Write made: a host-gw
// CNI bridge (each node routes every other node's pod CIDR to it), a veth per local pod,
// and kube-proxy's iptables rules for every Service. The rules are the same on every
// node, as kube-proxy writes them, so one file is hard-linked into every node's folder;
// the sysctls and sockets are shared the same way. Addresses and routes are per node.
func WriteDataplane(dir string, s Size) error {
	rules, err := kubeProxyRules(s)
	if err != nil {
		return err
	}
	shared := filepath.Join(dir, ".shared")
	if err := os.MkdirAll(shared, 0o755); err != nil {
		return err
	}
	files := map[string]string{
		"iptables-save.txt": rules,
		"host-sysctl.txt": "net.ipv4.ip_forward = 1\nnet.ipv4.conf.all.forwarding = 1\nnet.ipv4.conf.all.rp_filter = 0\nnet.ipv4.conf.eth0.rp_filter = 0\n" +
			"net.ipv4.conf.cni0.rp_filter = 0\nnet.ipv4.conf.eth0.forwarding = 1\nnet.ipv4.conf.cni0.forwarding = 1\nnet.bridge.bridge-nf-call-iptables = 1\nnet.ipv4.conf.all.accept_local = 0\n",
		"pod-sysctl.txt":   "net.ipv4.ip_forward = 0\nnet.ipv4.conf.all.forwarding = 0\nnet.ipv4.conf.eth0.forwarding = 0\nnet.ipv4.conf.all.rp_filter = 0\nnet.ipv4.conf.eth0.rp_filter = 0\n",
		"host-sockets.txt": "tcp LISTEN 0 4096 127.0.0.1:10249 0.0.0.0:* users:((\"kube-proxy\",pid=1,fd=11))\ntcp LISTEN 0 4096 *:10256 *:* users:((\"kube-proxy\",pid=1,fd=9))\n",
		"pod-sockets.txt":  "tcp LISTEN 0 4096 *:8080 *:* users:((\"app\",pid=1,fd=3))\n",
		"empty-rules.txt":  "",
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(shared, name), []byte(data), 0o644); err != nil {
			return err
		}
	}
	link := func(shared1, to string) error {
		os.Remove(to)
		return os.Link(filepath.Join(shared, shared1), to)
	}
	perNS := s.Pods / s.Namespaces
	podsOn := make([][]int, s.Nodes)
	for i := 0; i < perNS*s.Namespaces; i++ {
		podsOn[i%s.Nodes] = append(podsOn[i%s.Nodes], i)
	}
	for n := 0; n < s.Nodes; n++ {
		nd := filepath.Join(dir, "nodes", fmt.Sprintf("node-%05d", n))
		if err := os.MkdirAll(nd, 0o755); err != nil {
			return err
		}
		gw := fmt.Sprintf("10.%d.%d.1", 64+n/256, n%256)
		var addr strings.Builder
		addr.WriteString("[")
		fmt.Fprintf(&addr, `{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP","LOWER_UP"],"mtu":65536,"operstate":"UNKNOWN","link_type":"loopback","address":"00:00:00:00:00:00","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8,"scope":"host"}]}`)
		fmt.Fprintf(&addr, `,{"ifindex":2,"ifname":"eth0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"operstate":"UP","link_type":"ether","address":"02:00:00:00:%02x:%02x","addr_info":[{"family":"inet","local":"%s","prefixlen":16,"scope":"global"}]}`, n/256, n%256, NodeIP(n))
		fmt.Fprintf(&addr, `,{"ifindex":3,"ifname":"cni0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"operstate":"UP","link_type":"ether","address":"02:01:00:00:%02x:%02x","linkinfo":{"info_kind":"bridge"},"addr_info":[{"family":"inet","local":"%s","prefixlen":24,"scope":"global"}]}`, n/256, n%256, gw)
		for j := range podsOn[n] {
			fmt.Fprintf(&addr, `,{"ifindex":%d,"link_index":2,"ifname":"veth%08x","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"master":"cni0","operstate":"UP","link_type":"ether","address":"02:02:%02x:%02x:00:%02x","link_netnsid":%d,"linkinfo":{"info_kind":"veth","info_slave_kind":"bridge","info_slave_data":{"hairpin":true}},"addr_info":[]}`,
				4+j, n*1000+j, n/256, n%256, j, j)
		}
		addr.WriteString("]\n")
		var route strings.Builder
		route.WriteString("[")
		fmt.Fprintf(&route, `{"dst":"default","gateway":"172.16.255.254","dev":"eth0","flags":[]}`)
		fmt.Fprintf(&route, `,{"dst":"172.16.0.0/16","dev":"eth0","protocol":"kernel","scope":"link","prefsrc":"%s","flags":[]}`, NodeIP(n))
		for m := 0; m < s.Nodes; m++ {
			if m == n {
				fmt.Fprintf(&route, `,{"dst":"10.%d.%d.0/24","dev":"cni0","protocol":"kernel","scope":"link","prefsrc":"%s","flags":[]}`, 64+m/256, m%256, gw)
				continue
			}
			fmt.Fprintf(&route, `,{"dst":"10.%d.%d.0/24","gateway":"%s","dev":"eth0","flags":[]}`, 64+m/256, m%256, NodeIP(m))
		}
		for _, l := range [][2]string{{"127.0.0.1", "lo"}, {NodeIP(n).String(), "eth0"}, {gw, "cni0"}} {
			fmt.Fprintf(&route, `,{"type":"local","dst":"%s","dev":"%s","table":"local","protocol":"kernel","scope":"host","prefsrc":"%s","flags":[]}`, l[0], l[1], l[0])
		}
		route.WriteString("]\n")
		if err := os.WriteFile(filepath.Join(nd, "addr.json"), []byte(addr.String()), 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(nd, "route.json"), []byte(route.String()), 0o644); err != nil {
			return err
		}
		for _, l := range [][2]string{{"iptables-save.txt", "iptables-save.txt"}, {"host-sysctl.txt", "sysctl.txt"}, {"host-sockets.txt", "sockets.txt"}} {
			if err := link(l[0], filepath.Join(nd, l[1])); err != nil {
				return err
			}
		}
		for j, i := range podsOn[n] {
			ns := i / perNS
			app := fmt.Sprintf("app-%d", i%(s.Services/s.Namespaces+1))
			pd := filepath.Join(nd, "pods", fmt.Sprintf("ns-%04d_%s-%06d", ns, app, i))
			if err := os.MkdirAll(pd, 0o755); err != nil {
				return err
			}
			ip := s.PodIP(i)
			a := fmt.Sprintf(`[{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP","LOWER_UP"],"mtu":65536,"operstate":"UNKNOWN","link_type":"loopback","address":"00:00:00:00:00:00","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8,"scope":"host"}]}`+
				`,{"ifindex":2,"link_index":%d,"ifname":"eth0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"operstate":"UP","link_type":"ether","address":"02:03:%02x:%02x:00:%02x","link_netnsid":0,"linkinfo":{"info_kind":"veth"},"addr_info":[{"family":"inet","local":"%s","prefixlen":24,"scope":"global"}]}]`+"\n",
				4+j, n/256, n%256, j, ip)
			r := fmt.Sprintf(`[{"dst":"default","gateway":"%s","dev":"eth0","flags":[]},{"dst":"10.%d.%d.0/24","dev":"eth0","protocol":"kernel","scope":"link","prefsrc":"%s","flags":[]},`+
				`{"type":"local","dst":"%s","dev":"eth0","table":"local","protocol":"kernel","scope":"host","prefsrc":"%s","flags":[]},{"type":"local","dst":"127.0.0.1","dev":"lo","table":"local","protocol":"kernel","scope":"host","prefsrc":"127.0.0.1","flags":[]}]`+"\n",
				gw, 64+n/256, n%256, ip, ip, ip)
			if err := os.WriteFile(filepath.Join(pd, "addr.json"), []byte(a), 0o644); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(pd, "route.json"), []byte(r), 0o644); err != nil {
				return err
			}
			for _, l := range [][2]string{{"pod-sysctl.txt", "sysctl.txt"}, {"pod-sockets.txt", "sockets.txt"}, {"empty-rules.txt", "iptables-save.txt"}} {
				if err := link(l[0], filepath.Join(pd, l[1])); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// kubeProxyRules is kube-proxy's iptables-mode ruleset for the generated Services (three
// endpoints each, rule for rule as kube-proxy writes them), around the fixed chains of the
// testbed's real dump.
func kubeProxyRules(s Size) (string, error) {
	_, self, _, _ := runtime.Caller(0)
	real, err := os.ReadFile(filepath.Join(filepath.Dir(self), "../../testdata/bundles/two-node-iptables/nodes/node1/iptables-save.txt"))
	if err != nil {
		return "", err
	}
	perNSsvc := s.Services / s.Namespaces
	var decl, rules strings.Builder
	for i := 0; i < s.Services; i++ {
		vip := ServiceIP(i)
		svc := fmt.Sprintf("KUBE-SVC-%016X", i)
		fmt.Fprintf(&decl, ":%s - [0:0]\n", svc)
		name := fmt.Sprintf("ns-%04d/app-%d:http", i/perNSsvc, i%perNSsvc)
		fmt.Fprintf(&rules, "-A KUBE-SERVICES -d %s/32 -p tcp -m comment --comment \"%s cluster IP\" -m tcp --dport 80 -j %s\n", vip, name, svc)
		fmt.Fprintf(&rules, "-A %s ! -s 10.64.0.0/10 -d %s/32 -p tcp -m comment --comment \"%s cluster IP\" -m tcp --dport 80 -j KUBE-MARK-MASQ\n", svc, vip, name)
		for k := 0; k < 3; k++ {
			ep := s.PodIP(i*3 + k)
			sep := fmt.Sprintf("KUBE-SEP-%014X%02d", i, k)
			fmt.Fprintf(&decl, ":%s - [0:0]\n", sep)
			stat := ""
			if k == 0 {
				stat = "-m statistic --mode random --probability 0.33333333349 "
			} else if k == 1 {
				stat = "-m statistic --mode random --probability 0.50000000000 "
			}
			fmt.Fprintf(&rules, "-A %s -m comment --comment \"%s -> %s:8080\" %s-j %s\n", svc, name, ep, stat, sep)
			fmt.Fprintf(&rules, "-A %s -s %s/32 -m comment --comment \"%s\" -j KUBE-MARK-MASQ\n", sep, ep, name)
			fmt.Fprintf(&rules, "-A %s -p tcp -m comment --comment \"%s\" -m tcp -j DNAT --to-destination %s:8080\n", sep, name, ep)
		}
	}
	text := string(real)
	natStart := strings.Index(text, "*nat\n")
	firstRule := natStart + strings.Index(text[natStart:], "\n-A ") + 1
	return text[:firstRule] + decl.String() + rules.String() + text[firstRule:], nil
}
