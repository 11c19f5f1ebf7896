package nft

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"os"
	"testing"

	"github.com/netsim/netsim/model/source"
	"github.com/netsim/netsim/rules/packet"
)

// FuzzParse feeds arbitrary input to the parser and every base chain of what it accepts
// to the evaluator: neither may panic, and a parsed ruleset must evaluate to something.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"expressions.json", "kube-proxy.json"} {
		data, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"nftables": [{"table": {"family": "inet", "name": "t", "handle": 1}}, {"chain": {"family": "inet", "table": "t", "name": "c", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "drop"}}, {"rule": {"family": "inet", "table": "t", "chain": "c", "handle": 2, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": {"set": ["tcp", "udp"]}}}, {"accept": null}]}}]}`))
	f.Add([]byte(`{"nftables": [{"table": {"family": "ip", "name": "t"}}, {"set": {"family": "ip", "table": "t", "name": "s", "type": ["ipv4_addr", "inet_service"], "flags": ["interval"], "elem": [{"concat": [{"prefix": {"addr": "10.0.0.0", "len": 8}}, {"range": [1, 100]}]}]}}]}`))
	f.Add([]byte(`{"nftables": [{"table": {"family": "ip", "name": "t"}}, {"chain": {"family": "ip", "table": "t", "name": "c", "hook": "prerouting", "prio": "dstnat - 10", "type": "nat"}}, {"rule": {"family": "ip", "table": "t", "chain": "c", "expr": [{"dnat": {"addr": {"map": {"key": {"numgen": {"mode": "inc", "mod": 2}}, "data": {"set": [[0, "10.0.0.1"], [1, "10.0.0.2"]]}}}}}]}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := Parse(source.NewFile("nft.json", data))
		if err != nil {
			return
		}
		p := packet.Packet{Src: netip.MustParseAddr("10.0.0.2"), Dst: netip.MustParseAddr("10.96.0.1"), Proto: packet.TCP, SPort: 40000, DPort: 443,
			TCPFlags: packet.SYN, CtState: packet.CtNew, InIface: "eth0", OutIface: "eth1"}
		for _, tb := range rs.Tables {
			for _, c := range tb.Order {
				if !c.IsBase() {
					continue
				}
				if res := Run(testEnv{}, c, c.Hook, p); len(res) == 0 {
					t.Fatalf("chain %s: no result", c.Name)
				}
				for _, r := range c.Rules {
					_ = r.Text()
				}
				_ = c.Text()
			}
		}
	})
}

// TestPrettyPrinted checks that an indented dump cites real lines.
func TestPrettyPrinted(t *testing.T) {
	data, err := os.ReadFile("testdata/expressions.json")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := json.Indent(&b, data, "", "  "); err != nil {
		t.Fatal(err)
	}
	rs, err := Parse(source.NewFile("nft.json", b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	r := findRule(rs, "ip t", 18)
	f := source.NewFile("nft.json", b.Bytes())
	if r.Pos.Entry != 19 || r.Pos.Line < 10 || !bytes.Contains([]byte(f.Line(r.Pos.Line)), []byte(`"rule"`)) {
		t.Errorf("rule 18 at %v: %q", r.Pos, f.Line(r.Pos.Line))
	}
}
