package node

import (
	"encoding/json"
	"os/exec"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// testRuleset exercises the expressions the netlink fallback translates: kube-proxy's
// nftables shapes (verdict maps, numgen, dnat to a map, masquerade with a mark) and
// filter basics.
const testRuleset = `
table ip kube-proxy {
	set cluster-ips { type ipv4_addr; elements = { 10.96.0.1, 10.96.0.10 } }
	set nodeport-ips { type ipv4_addr; flags interval; elements = { 10.200.0.0/24, 192.0.2.1-192.0.2.9 } }
	map service-ips { type ipv4_addr . inet_proto . inet_service : verdict; elements = { 10.96.0.10 . tcp . 53 : goto svc-dns, 10.96.0.1 . tcp . 443 : goto svc-api } }
	chain nat-prerouting { type nat hook prerouting priority -100; policy accept;
		jump services
	}
	chain nat-postrouting { type nat hook postrouting priority 100; policy accept;
		meta mark & 0x00004000 == 0x00004000 masquerade fully-random
	}
	chain filter-forward { type filter hook forward priority 0; policy drop;
		ct state invalid drop
		ct state established,related accept
		ip saddr 10.244.0.0/16 ip daddr != 10.96.0.0/12 counter accept
		iifname "cni0" oifname "eth*" accept
		tcp dport { 80, 443 } accept
		udp dport 53 reject with icmp type port-unreachable
		tcp dport 8080 reject with tcp reset
		ip protocol icmp limit rate 10/second burst 5 packets accept
		meta l4proto udp th dport 30000-32767 log prefix "np " drop
		fib daddr type local accept
		ip daddr @cluster-ips reject
		ip daddr @nodeport-ips accept
	}
	chain services {
		ip daddr . meta l4proto . th dport vmap @service-ips
	}
	chain svc-dns {
		numgen random mod 2 vmap { 0 : goto sep-a, 1 : goto sep-b }
	}
	chain svc-api {
		meta mark set meta mark | 0x4000
		goto sep-a
	}
	chain sep-a {
		ip saddr 10.244.1.2 meta mark set 0x4000
		meta l4proto udp dnat to 10.244.1.2:53
	}
	chain sep-b {
		dnat to 10.244.2.2
	}
}
table inet filter {
	chain input { type filter hook input priority 0; policy accept;
		ip saddr 10.0.0.0/8 tcp dport 22 accept
		ip6 daddr fd00::/64 udp sport 53 counter drop
		ct mark 0x1 accept
		meta nfproto ipv4 meta l4proto tcp accept
	}
}
`

// TestNFTAgainstNft loads a ruleset with nft -f in a fresh namespace and compares the
// netlink translation with nft -j list ruleset: chains, sets and every rule's statements.
func TestNFTAgainstNft(t *testing.T) {
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("skipping: nft not installed (make deps)")
	}
	inFreshNetNS(t, func() {
		cmd := exec.Command("nft", "-f", "-")
		cmd.Stdin = strings.NewReader(testRuleset)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("nft -f: %v\n%s", err, out)
		}
		want, err := exec.Command("nft", "-j", "list", "ruleset").Output()
		if err != nil {
			t.Fatal(err)
		}
		got, err := nftFromNetlink()
		if err != nil {
			t.Fatal(err)
		}
		w, g := nftItems(t, want), nftItems(t, got)
		for _, k := range sortedKeys(w, g) {
			if !reflect.DeepEqual(w[k], g[k]) {
				a, _ := json.Marshal(w[k])
				b, _ := json.Marshal(g[k])
				t.Errorf("%s:\nnft:       %s\ntranslated: %s", k, a, b)
			}
		}
		if strings.Contains(string(got), NFTUntranslated) {
			t.Errorf("untranslated expressions in %s", got)
		}
	})
}

// nftItems indexes nft -j output by item (table, chain, set, rule by chain and position),
// dropping what only nft knows (handles, counters' values, metainfo).
func nftItems(t *testing.T, data []byte) map[string]any {
	t.Helper()
	var v struct {
		Nftables []map[string]map[string]any `json:"nftables"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	out := map[string]any{}
	pos := map[string]int{}
	for _, item := range v.Nftables {
		for kind, body := range item {
			if kind == "metainfo" {
				continue
			}
			delete(body, "handle")
			key := kind + " " + str(body["family"]) + " " + str(body["table"]) + " " + str(body["name"])
			if kind == "rule" {
				c := str(body["family"]) + " " + str(body["table"]) + " " + str(body["chain"])
				key = "rule " + c + " #" + str(pos[c])
				pos[c]++
				body = map[string]any{"expr": body["expr"]}
			}
			if kind == "set" || kind == "map" {
				if el, ok := body["elem"].([]any); ok {
					sort.Slice(el, func(i, j int) bool { return str(el[i]) < str(el[j]) })
				}
			}
			var norm any
			b, _ := json.Marshal(body)
			s := string(b)
			for _, f := range []string{`"packets":`, `"bytes":`} {
				for i := strings.Index(s, f); i >= 0; i = strings.Index(s, f) {
					j := i + len(f)
					for j < len(s) && s[j] >= '0' && s[j] <= '9' {
						j++
					}
					s = s[:i] + `"` + f[1:len(f)-2] + `_":0` + s[j:]
				}
			}
			json.Unmarshal([]byte(s), &norm)
			out[key] = norm
		}
	}
	return out
}

func str(v any) string {
	b, _ := json.Marshal(v)
	return strings.Trim(string(b), `"`)
}

func sortedKeys(a, b map[string]any) []string {
	set := map[string]bool{}
	for k := range a {
		set[k] = true
	}
	for k := range b {
		set[k] = true
	}
	var out []string
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
