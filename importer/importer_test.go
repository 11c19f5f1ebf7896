package importer

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netsim/netsim/bundle"
	"github.com/netsim/netsim/internal/golden"
	"github.com/netsim/netsim/model"
	"github.com/netsim/netsim/model/source"
)

// ../testdata/tickets/two-node is what a ticket carries, printed by the real tools on the
// e2e testbed (e2e/testbed_test.go, NETSIM_TICKET_OUT): kubectl YAML and, per node, the
// text forms of ip, iptables -S/-L, nft, ss and sysctl, in folders named by a person.
const ticket = "../testdata/tickets/two-node"

var fixedNow = time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)

func table(res *Result) string {
	var b strings.Builder
	for _, e := range res.Entries {
		fmt.Fprintf(&b, "%s | %s | %s | %s\n", e.Source, e.Kind, e.Placed, e.Note)
	}
	for _, g := range res.Manifest.Gaps {
		fmt.Fprintf(&b, "gap %s: %s\n", g.Scope, g.Reason)
	}
	return b.String()
}

func TestImportTicket(t *testing.T) {
	res, err := Import([]string{ticket}, Options{Now: fixedNow, Cluster: "t"})
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/golden/ticket.golden", []byte(table(res)))
	out := filepath.Join(t.TempDir(), "b.tar.gz")
	if err := res.Write(out); err != nil {
		t.Fatal(err)
	}
	// What import writes, the model reads, with every node's state intact.
	b, err := bundle.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	c, err := model.Load(b, model.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"node1", "node2"} {
		st, err := c.NodeState(n)
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Host.Links) == 0 || len(st.Host.Routes) == 0 || len(st.Host.Rules) == 0 || len(st.Host.Sockets) == 0 || st.Host.RuleFiles[model.IPTablesV4] == nil {
			t.Errorf("%s: state incomplete after import: %+v", n, st.Host.Read)
		}
	}
	st, _ := c.NodeState("node1")
	if pod := st.Pods["default/pod1a"]; pod == nil || len(pod.Sockets) == 0 {
		t.Errorf("pod1a's namespace dump not placed by its address")
	}
}

func TestImportNodeFlags(t *testing.T) {
	// Without the cluster objects nothing names the nodes: --node does.
	res, err := Import([]string{filepath.Join(ticket, "node1"), filepath.Join(ticket, "worker-b")},
		Options{Now: fixedNow, NodeOf: map[string]string{filepath.Join(ticket, "worker-b"): "w2"}, DefaultNode: "w1"})
	if err != nil {
		t.Fatal(err)
	}
	placed := map[string]string{}
	for _, e := range res.Entries {
		placed[filepath.Base(e.Source)+"@"+filepath.Base(filepath.Dir(e.Source))] = e.Placed
	}
	if placed["ip-route.txt@node1"] != "nodes/w1/route.txt" || placed["ip-route.txt@worker-b"] != "nodes/w2/route.txt" {
		t.Errorf("placements: %v", placed)
	}
	if res.Manifest.Gaps[0].Scope != "cluster" {
		t.Errorf("no gap for the missing cluster objects: %v", res.Manifest.Gaps)
	}
	if _, err := Import([]string{ticket}, Options{NodeOf: map[string]string{"/elsewhere": "x"}}); err == nil {
		t.Error("--node naming no source accepted")
	}
}

func TestImportUnplaced(t *testing.T) {
	dir := t.TempDir()
	data, _ := os.ReadFile(filepath.Join(ticket, "node1/ip-route.txt"))
	os.WriteFile(filepath.Join(dir, "routes"), data, 0o644)
	res, err := Import([]string{dir}, Options{Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	if e := res.Entries[0]; e.Placed != "" || !strings.Contains(e.Note, "no node matched") || !strings.Contains(e.Note, "--node NAME=SOURCE") {
		t.Errorf("entry = %+v", e)
	}
}

func TestImportMalformed(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "node1"), 0o755)
	os.WriteFile(filepath.Join(dir, "objs.yaml"), []byte("apiVersion: v1\nkind: Node\nmetadata:\n  name: node1\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: 3}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "node1/route.txt"), []byte("default via 10.0.0.1 dev eth0\n10.1.0.0/16 via nonsense dev eth0\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "node1/ipt.txt"), []byte("-P INPUT ACCEPT\n-P FORWARD DROP\n-P OUTPUT ACCEPT\n-A FORWARD -j ACCEPT\nwhat is this\n"), 0o644)
	res, err := Import([]string{dir}, Options{Now: fixedNow, DefaultNode: "node1"})
	if err != nil {
		t.Fatal(err)
	}
	notes := table(res)
	for _, want := range []string{
		"objs.yaml:9: Pod: field spec.containers: cannot unmarshal JSON number",
		"node1/route.txt:2: route 10.1.0.0/16: via \"nonsense\"",
		"node1/ipt.txt:5: want an iptables -S line",
	} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
}

func TestImportArchiveSource(t *testing.T) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	add := func(name string, data []byte) {
		tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(data))})
		tw.Write(data)
	}
	for _, f := range []string{"kubectl-get-all.yaml", "worker-b/ip-addr.txt", "worker-b/iptables-S.txt"} {
		data, _ := os.ReadFile(filepath.Join(ticket, f))
		add("ticket/"+f, data)
	}
	tw.Close()
	gz.Close()
	src := filepath.Join(t.TempDir(), "t.tar.gz")
	os.WriteFile(src, buf.Bytes(), 0o644)
	res, err := Import([]string{src}, Options{Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	got := table(res)
	if !strings.Contains(got, "nodes/node2/iptables-save.txt | address 10.200.0.12 is node node2") {
		t.Errorf("archive import:\n%s", got)
	}
	// A traversal entry refuses the whole archive.
	buf.Reset()
	gz = gzip.NewWriter(&buf)
	tw = tar.NewWriter(gz)
	add("../escape.txt", []byte("x"))
	tw.Close()
	gz.Close()
	os.WriteFile(src, buf.Bytes(), 0o644)
	if _, err := Import([]string{src}, Options{}); err == nil || !strings.Contains(err.Error(), "climbs out") {
		t.Errorf("traversal: %v", err)
	}
}

func TestConvertIPTablesS(t *testing.T) {
	in := "-P INPUT ACCEPT\n-P FORWARD DROP\n-P OUTPUT ACCEPT\n-N KUBE-FORWARD\n-A FORWARD -j KUBE-FORWARD\n" +
		"-P PREROUTING ACCEPT\n-P INPUT ACCEPT\n-P OUTPUT ACCEPT\n-P POSTROUTING ACCEPT\n-N KUBE-SERVICES\n-A PREROUTING -j KUBE-SERVICES\n"
	out, err := ConvertIPTablesS(source.NewFile("s.txt", []byte(in)), "s.txt")
	if err != nil {
		t.Fatal(err)
	}
	want := "# Converted by netsim import from s.txt (iptables -S): line numbers are this file's\n*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n:KUBE-FORWARD - [0:0]\n-A FORWARD -j KUBE-FORWARD\nCOMMIT\n" +
		"*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n-A PREROUTING -j KUBE-SERVICES\nCOMMIT\n"
	if string(out) != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
	if _, err := ConvertIPTablesS(source.NewFile("c.txt", []byte("-N X\n-A X -j DROP\n")), "c.txt"); err == nil || !strings.HasPrefix(err.Error(), "c.txt:1: cannot tell which table") {
		t.Errorf("section without policies: %v", err)
	}
}

func TestConvertIPVSList(t *testing.T) {
	in := `IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  10.96.0.1:443 rr
  -> 10.200.0.11:6443             Masq    1      0          0
UDP  10.96.0.10:53 rr persistent 10800
  -> 10.244.1.5:53                Masq    0      0          0
TCP  [fd00::10]:80 wlc
  -> [fd00:1::5]:8080             Route   2      0          0
FWM  100 rr
`
	out, err := ConvertIPVSList(source.NewFile("l.txt", []byte(in)), "l.txt")
	if err != nil {
		t.Fatal(err)
	}
	want := `# Converted by netsim import from l.txt (ipvsadm -Ln): line numbers are this file's
-A -t 10.96.0.1:443 -s rr
-a -t 10.96.0.1:443 -r 10.200.0.11:6443 -m -w 1
-A -u 10.96.0.10:53 -s rr -p 10800
-a -u 10.96.0.10:53 -r 10.244.1.5:53 -m -w 0
-A -t [fd00::10]:80 -s wlc
-a -t [fd00::10]:80 -r [fd00:1::5]:8080 -g -w 2
-A -f 100 -s rr
`
	if string(out) != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
}

// TestDetect runs detection over every real tool output the repository holds.
func TestDetect(t *testing.T) {
	cases := map[string]Kind{
		"../model/iproute/testdata/addr.json":                                  KindAddrJSON,
		"../model/iproute/testdata/dlink.json":                                 KindLinkJSON,
		"../model/iproute/testdata/route.pretty.json":                          KindRouteJSON,
		"../model/iproute/testdata/rule.json":                                  KindRuleJSON,
		"../model/iproute/testdata/neigh.json":                                 KindNeighJSON,
		"../model/iproute/testdata/daddr.txt":                                  KindAddrText,
		"../model/iproute/testdata/dlink.txt":                                  KindLinkText,
		"../model/iproute/testdata/route.txt":                                  KindRouteText,
		"../model/iproute/testdata/6route.txt":                                 KindRouteText,
		"../model/iproute/testdata/6rule.txt":                                  KindRuleText,
		"../model/iproute/testdata/neigh.txt":                                  KindNeighText,
		"../model/sysctl/testdata/sysctl-net.txt":                              KindSysctl,
		"../model/sockets/testdata/ss-Htuanp.txt":                              KindSockets,
		"../model/sockets/testdata/ss-ltn.txt":                                 KindSockets,
		"../model/kube/testdata/get-all.yaml":                                  KindKube,
		"../model/kube/testdata/get-pods.json":                                 KindKube,
		"../model/kube/testdata/cluster-info-dump.txt":                         KindClusterDump,
		"../model/kube/testdata/cluster-info-dump/nodes.json":                  KindKube,
		"../testdata/bundles/two-node-iptables/nodes/node1/iptables-save.txt":  KindIPTablesSave,
		"../testdata/bundles/two-node-iptables/nodes/node1/ip6tables-save.txt": KindIP6TablesSave,
		"../testdata/bundles/two-node-iptables/nodes/node1/nft.json":           KindNFTJSON,
		"../testdata/bundles/two-node-iptables/manifest.yaml":                  KindManifest,
		"../testdata/tickets/two-node/node1/iptables-S.txt":                    KindIPTablesS,
		"../testdata/tickets/two-node/node1/iptables-L.txt":                    KindIPTablesList,
		"../testdata/tickets/two-node/node1/nft-ruleset.txt":                   KindNFTText,
		"../testdata/tickets/two-node/node1/sysctl-a.txt":                      KindSysctl,
		"../testdata/tickets/two-node/node1/ss.txt":                            KindSockets,
		"../testdata/tickets/two-node/node1/ip-neigh.txt":                      KindNeighText,
		"../testdata/tickets/two-node/notes.md":                                KindUnknown,
	}
	for p, want := range cases {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := Detect(p, data); got != want {
			t.Errorf("%s: detected %q, want %q", p, got, want)
		}
	}
	for in, want := range map[string]Kind{
		"create KUBE-CLUSTER-IP hash:ip,port family inet hashsize 1024 maxelem 65536\nadd KUBE-CLUSTER-IP 10.96.0.1,tcp:443\n": KindIPSet,
		"-A -t 10.96.0.1:443 -s rr\n-a -t 10.96.0.1:443 -r 10.0.0.1:6443 -m -w 1\n":                                            KindIPVSSave,
		"-P INPUT ACCEPT\n-A INPUT -s fd00::/8 -j DROP\n":                                                                      KindIP6TablesS,
		"*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -d 2001:db8::1/128 -j DROP\nCOMMIT\n":                                          KindIP6TablesSave,
		"Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\nTCP  10.96.0.1:443 1 2 3 4 5\n":       KindIPVSStats,
		"[]": KindEmpty,
	} {
		if got := Detect("x", []byte(in)); got != want {
			t.Errorf("%q: detected %q, want %q", in, got, want)
		}
	}
	if got := Detect("route.json", []byte("[]")); got != KindRouteJSON {
		t.Errorf("empty route.json: %q", got)
	}
}

func FuzzDetect(f *testing.F) {
	for _, p := range []string{"../testdata/tickets/two-node/node1/iptables-S.txt", "../model/iproute/testdata/route.txt", "../model/kube/testdata/get-svc-echo.yaml"} {
		d, _ := os.ReadFile(p)
		f.Add(d)
	}
	f.Fuzz(func(t *testing.T, d []byte) { Detect("f", d) })
}

func FuzzConvertIPTablesS(f *testing.F) {
	d, _ := os.ReadFile("../testdata/tickets/two-node/node1/iptables-S.txt")
	f.Add(d)
	f.Fuzz(func(t *testing.T, d []byte) { ConvertIPTablesS(source.NewFile("f", d), "f") })
}

func FuzzConvertIPVSList(f *testing.F) {
	f.Add([]byte("IP Virtual Server version 1.2.1 (size=4096)\nTCP  10.96.0.1:443 rr\n  -> 10.0.0.1:6443 Masq 1 0 0\n"))
	f.Fuzz(func(t *testing.T, d []byte) { ConvertIPVSList(source.NewFile("f", d), "f") })
}

// TestImportSosreport: a sosreport's recorded hostname places its files, its
// per-namespace files are never taken for the host's, and its logs are summarised.
func TestImportSosreport(t *testing.T) {
	res, err := Import([]string{filepath.Join(ticket, "kubectl-get-all.yaml"), "../testdata/tickets/sosreport-node2"}, Options{Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	got := table(res)
	golden.Check(t, "testdata/golden/sosreport.golden", []byte(got))
	for _, want := range []string{
		"firewall_tables/iptables-save | iptables-save | nodes/node2/iptables-save.txt | sosreport hostname node2",
		"ip_netns_exec_cni-7f3a_ip_address_show | ip addr |  | not used: the dump of a namespace that matches no pod",
		"sos_commands/logs/ |  |  | not used: 7 files in no format netsim reads",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("lacks %q", want)
		}
	}
}

// TestImportClusterInfoDump: a `kubectl cluster-info dump --output-directory` folder and
// its stdout form are imported as they are, container logs left out with a reason.
func TestImportClusterInfoDump(t *testing.T) {
	res, err := Import([]string{"../model/kube/testdata/cluster-info-dump", "../model/kube/testdata/cluster-info-dump.txt"}, Options{Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	placed := 0
	for _, e := range res.Entries {
		if e.Placed != "" {
			placed++
			if !strings.HasPrefix(e.Placed, "cluster/") {
				t.Errorf("%s placed at %s", e.Source, e.Placed)
			}
		} else if e.Kind != KindEmpty && !strings.Contains(e.Note, "logs") {
			t.Errorf("%s not placed: %s", e.Source, e.Note)
		}
	}
	if placed < 20 {
		t.Errorf("only %d files placed:\n%s", placed, table(res))
	}
	if !strings.Contains(table(res), "cluster-info-dump.txt | kubectl cluster-info dump | cluster/cluster-info-dump.json") {
		t.Errorf("stdout dump:\n%s", table(res))
	}
}
