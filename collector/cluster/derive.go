package cluster

import (
	"bufio"
	"net/netip"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// readConfig takes from a network ConfigMap's data what the manifest needs.
func (c *collector) readConfig(ref ConfigMapRef, data map[string]any) {
	str := func(k string) string { s, _ := data[k].(string); return s }
	c.mu.Lock()
	defer c.mu.Unlock()
	switch ref.Name {
	case "kube-proxy":
		var cfg struct {
			Mode        string `json:"mode"`
			ClusterCIDR string `json:"clusterCIDR"`
		}
		if yaml.Unmarshal([]byte(str("config.conf")), &cfg) == nil {
			c.res.ProxyMode = cfg.Mode
			if c.res.ProxyMode == "" {
				c.res.ProxyMode = "iptables" // kube-proxy's default on Linux
			}
			for _, p := range strings.Split(cfg.ClusterCIDR, ",") {
				if pfx, err := netip.ParsePrefix(strings.TrimSpace(p)); err == nil {
					c.res.PodCIDRs = append(c.res.PodCIDRs, pfx.Masked().String())
				}
			}
		}
	case "coredns":
		if d := CorefileDomain(str("Corefile")); d != "" {
			c.res.ClusterDomain = d
		}
	case "kubelet-config":
		var cfg struct {
			ClusterDomain string `json:"clusterDomain"`
		}
		if c.res.ClusterDomain == "" && yaml.Unmarshal([]byte(str("kubelet")), &cfg) == nil {
			c.res.ClusterDomain = strings.TrimSuffix(cfg.ClusterDomain, ".")
		}
	}
}

// CorefileDomain returns the cluster domain a CoreDNS Corefile serves: the first zone of
// its kubernetes plugin that is not a reverse zone ("kubernetes cluster.local in-addr.arpa
// ip6.arpa {"), or "" when there is none.
func CorefileDomain(corefile string) string {
	sc := bufio.NewScanner(strings.NewReader(corefile))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || f[0] != "kubernetes" {
			continue
		}
		for _, z := range f[1:] {
			if z == "{" || strings.HasPrefix(z, "#") {
				break
			}
			z = strings.TrimSuffix(z, ".")
			if z != "" && !strings.HasSuffix(z, "in-addr.arpa") && !strings.HasSuffix(z, "ip6.arpa") {
				return z
			}
		}
	}
	return ""
}

// derive fills what the manifest and the node part need from the listed objects: the
// nodes (and their addresses), the pod CIDRs (kube-proxy's clusterCIDR, else every Node's
// podCIDRs) and the service CIDRs (ServiceCIDR objects).
func (c *collector) derive() {
	c.mu.Lock()
	defer c.mu.Unlock()
	var nodeCIDRs []string
	for _, n := range c.items["nodes"] {
		md, _ := n["metadata"].(map[string]any)
		name, _ := md["name"].(string)
		node := Node{Name: name}
		status, _ := n["status"].(map[string]any)
		addrs, _ := status["addresses"].([]any)
		for _, a := range addrs {
			am, _ := a.(map[string]any)
			if am["type"] == "InternalIP" && node.InternalIP == "" {
				node.InternalIP, _ = am["address"].(string)
			}
		}
		c.res.Nodes = append(c.res.Nodes, node)
		spec, _ := n["spec"].(map[string]any)
		cidrs, _ := spec["podCIDRs"].([]any)
		if len(cidrs) == 0 && spec["podCIDR"] != nil {
			cidrs = []any{spec["podCIDR"]}
		}
		for _, p := range cidrs {
			if s, ok := p.(string); ok {
				nodeCIDRs = append(nodeCIDRs, s)
			}
		}
	}
	sort.Slice(c.res.Nodes, func(i, j int) bool { return c.res.Nodes[i].Name < c.res.Nodes[j].Name })
	if len(c.res.PodCIDRs) == 0 {
		c.res.PodCIDRs = uniqueSorted(nodeCIDRs)
	}
	var svc []string
	for _, sc := range c.items["servicecidrs"] {
		spec, _ := sc["spec"].(map[string]any)
		cidrs, _ := spec["cidrs"].([]any)
		for _, p := range cidrs {
			if s, ok := p.(string); ok {
				svc = append(svc, s)
			}
		}
	}
	c.res.ServiceCIDRs = uniqueSorted(svc)
}

func uniqueSorted(in []string) []string {
	sort.Strings(in)
	out := in[:0]
	for i, s := range in {
		if i == 0 || s != in[i-1] {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
