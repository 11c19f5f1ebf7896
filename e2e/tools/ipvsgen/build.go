package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"

	utilipvs "k8s.io/kubernetes/pkg/proxy/ipvs/util"
)

const clusterCIDR = "10.244.0.0/16"

// build writes one scenario's bundle: the base bundle, the scenario's objects, and each
// node's kube-proxy state as the ipvs proxier left it.
func build(base, dir string, w *world, sc scenario) error {
	if err := copyTree(base, dir); err != nil {
		return err
	}
	if sc.objects != nil {
		sc.objects(w)
	}
	shown := w
	nodes, err := os.ReadDir(filepath.Join(dir, "nodes"))
	if err != nil {
		return err
	}
	for _, n := range nodes {
		ndir := filepath.Join(dir, "nodes", n.Name())
		addrs, nodeIP, err := readAddrs(filepath.Join(ndir, "addr.json"))
		if err != nil {
			return err
		}
		np, err := newNodeProxy(n.Name(), nodeIP, addrs, clusterCIDR)
		if err != nil {
			return err
		}
		if fn := sc.node[n.Name()]; fn != nil {
			now, err := fn(np, w.clone())
			if err != nil {
				return fmt.Errorf("%s: sync: %w", n.Name(), err)
			}
			if now != nil {
				shown = now
			}
		} else if err := np.apply(w.svcs, w.slices); err != nil {
			return fmt.Errorf("%s: sync: %w", n.Name(), err)
		}
		if err := writeNode(ndir, np, sc.sysctl[n.Name()]); err != nil {
			return fmt.Errorf("%s: %w", n.Name(), err)
		}
	}
	return shown.write(dir)
}

func writeNode(dir string, np *nodeProxy, sysctls map[string]string) error {
	sets, rules, err := realDump(np)
	if err != nil {
		return err
	}
	files := map[string][]byte{
		"iptables-save.txt": rules,
		"ipset.txt":         sets,
		"ipvs.txt":          ipvsSave(np.virtualServers()),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
	}
	// iptables-mode kube-proxy's tables in nft.json would contradict the new dump.
	_ = os.Remove(filepath.Join(dir, "nft.json"))
	_ = os.Remove(filepath.Join(dir, "ip6tables-save.txt"))
	vips := np.boundVIPs()
	if err := appendJSON(filepath.Join(dir, "addr.json"), []any{dummyLink(vips)}); err != nil {
		return err
	}
	var routes []any
	for _, v := range vips {
		routes = append(routes, map[string]any{"type": "local", "dst": v, "dev": "kube-ipvs0", "table": "local", "protocol": "kernel", "scope": "host", "prefsrc": v, "flags": []string{}})
	}
	if err := appendJSON(filepath.Join(dir, "route.json"), routes); err != nil {
		return err
	}
	return appendSysctls(filepath.Join(dir, "sysctl.txt"), np, sysctls)
}

// ipsetSave renders the fake ipset's sets as `ipset save` prints them.
func (n *nodeProxy) ipsetSave() []byte {
	var b bytes.Buffer
	names := make([]string, 0, len(n.ipset.Sets))
	for k := range n.ipset.Sets {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		s := n.ipset.Sets[name]
		fmt.Fprintf(&b, "create %s %s", name, s.SetType)
		if strings.HasPrefix(string(s.SetType), "bitmap:port") {
			fmt.Fprintf(&b, " range %s", s.PortRange)
		} else {
			fmt.Fprintf(&b, " family %s hashsize %d maxelem %d", s.HashFamily, s.HashSize, s.MaxElem)
		}
		if s.Comment != "" {
			b.WriteString(" comment")
		}
		b.WriteByte('\n')
		entries := n.ipset.Entries[name].List()
		for _, e := range entries {
			fmt.Fprintf(&b, "add %s %s\n", name, e)
		}
	}
	return b.Bytes()
}

// ipvsSave renders virtual servers as `ipvsadm -Sn` prints them (what netsim collect
// writes through github.com/moby/ipvs, and kube-proxy's netlink calls set up: masq).
func ipvsSave(vss []vsEntry) []byte {
	var b bytes.Buffer
	for _, e := range vss {
		flag := map[string]string{"TCP": "-t", "UDP": "-u", "SCTP": "--sctp-service"}[strings.ToUpper(e.vs.Protocol)]
		svc := fmt.Sprintf("%s %s", flag, net.JoinHostPort(e.vs.Address.String(), fmt.Sprint(e.vs.Port)))
		fmt.Fprintf(&b, "-A %s -s %s", svc, e.vs.Scheduler)
		if e.vs.Flags&utilipvs.FlagPersistent != 0 {
			fmt.Fprintf(&b, " -p %d", e.vs.Timeout)
		}
		b.WriteByte('\n')
		for _, r := range e.reals {
			fmt.Fprintf(&b, "-a %s -r %s -m -w %d\n", svc, net.JoinHostPort(r.Address.String(), fmt.Sprint(r.Port)), r.Weight)
		}
	}
	return b.Bytes()
}

func dummyLink(vips []string) map[string]any {
	var infos []any
	for _, v := range vips {
		infos = append(infos, map[string]any{"family": "inet", "local": v, "prefixlen": 32, "scope": "global", "label": "kube-ipvs0",
			"valid_life_time": 4294967295, "preferred_life_time": 4294967295})
	}
	return map[string]any{"ifindex": 99, "ifname": "kube-ipvs0", "flags": []string{"BROADCAST", "NOARP"}, "mtu": 1500, "qdisc": "noop",
		"operstate": "DOWN", "group": "default", "txqlen": 1000, "link_type": "ether", "address": "be:6e:7a:3c:21:09",
		"broadcast": "ff:ff:ff:ff:ff:ff", "linkinfo": map[string]any{"info_kind": "dummy"}, "addr_info": infos}
}

// appendJSON adds entries to an `ip -j -p` array, keeping the entries already there as
// they are.
func appendJSON(path string, add []any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(data, &raws); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	parts := make([]string, 0, len(raws)+len(add))
	for _, r := range raws {
		parts = append(parts, string(r))
	}
	for _, a := range add {
		out, err := json.MarshalIndent(a, "    ", "    ")
		if err != nil {
			return err
		}
		parts = append(parts, string(out))
	}
	return os.WriteFile(path, []byte("[ "+strings.Join(parts, ",")+" ]\n"), 0o644)
}

// appendSysctls adds the net.ipv4.vs.* settings kube-proxy made (this kernel has no
// IPVS, so the base dump lacks them), then the scenario's overrides.
func appendSysctls(path string, np *nodeProxy, over map[string]string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	set := map[string]string{}
	for k, v := range np.sysctl.Settings {
		if strings.HasPrefix(k, "net/ipv4/vs/") {
			set[strings.ReplaceAll(k, "/", ".")] = fmt.Sprint(v)
		}
	}
	for k, v := range over {
		set[k] = v
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		k, _, _ := strings.Cut(l, " = ")
		if _, ok := set[k]; ok {
			continue
		}
		lines = append(lines, l)
	}
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		lines = append(lines, k+" = "+set[k])
	}
	return os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}

func readAddrs(path string) (hostAddrs, net.IP, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	var links []struct {
		IfName   string `json:"ifname"`
		AddrInfo []struct {
			Family    string `json:"family"`
			Local     string `json:"local"`
			PrefixLen int    `json:"prefixlen"`
		} `json:"addr_info"`
	}
	if err := json.Unmarshal(data, &links); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	out := hostAddrs{}
	var nodeIP net.IP
	for _, l := range links {
		if l.IfName == "lo" || l.IfName == "kube-ipvs0" {
			continue
		}
		for _, a := range l.AddrInfo {
			if a.Family != "inet" {
				continue
			}
			ip := net.ParseIP(a.Local)
			out[l.IfName] = append(out[l.IfName], &net.IPNet{IP: ip, Mask: net.CIDRMask(a.PrefixLen, 32)})
			if l.IfName == "eth0" {
				nodeIP = ip
			}
		}
	}
	if nodeIP == nil {
		return nil, nil, fmt.Errorf("%s: no IPv4 address on eth0", path)
	}
	return out, nodeIP, nil
}

func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		t := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(t, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(t, data, 0o644)
	})
}
