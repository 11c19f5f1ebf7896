package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/netsim/netsim/bundle"
	"github.com/netsim/netsim/model"
	"github.com/netsim/netsim/rules/packet"
	"github.com/netsim/netsim/simulate"
)

// buildCollector builds the netsim binary and returns the command that runs
// `collect node` with it; while the parent `collect` command does not have the `node`
// subcommand yet, it builds collectnodecmd's standalone main instead (same code).
func buildCollector(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "netsim")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/netsim").CombinedOutput(); err != nil {
		t.Fatalf("go build netsim: %v\n%s", err, out)
	}
	if err := exec.Command(bin, "collect", "node", "--help").Run(); err == nil {
		return []string{bin, "collect", "node"}
	}
	t.Logf("netsim has no `collect node` yet: using collectnodecmd's standalone build")
	alone := filepath.Join(dir, "netsim-collect-node")
	if out, err := exec.Command("go", "build", "-o", alone, "../cmd/netsim/internal/collectnodecmd/standalone").CombinedOutput(); err != nil {
		t.Fatalf("go build standalone: %v\n%s", err, out)
	}
	return []string{alone}
}

// TestCollectNodeAgainstTools brings up the testbed, runs `netsim collect node` inside
// each node's namespace (the node's pods handed over with --pod-netns), and checks that
// every namespace's files give the same model as the plain-tools dump of the same
// namespace, and that the collected bundle gives the same trace verdicts.
func TestCollectNodeAgainstTools(t *testing.T) {
	tb := upTestbed(t, "iptables")
	ctx := context.Background()
	collector := buildCollector(t)
	ref, got := t.TempDir(), t.TempDir()
	if err := tb.DumpBundle(ctx, ref); err != nil {
		t.Fatal(err)
	}
	for _, n := range tb.Nodes {
		var pods []string
		for _, p := range tb.Pods {
			if p.Node == n.Name {
				pods = append(pods, p.Namespace+"_"+p.Name+"="+p.NetNS)
			}
		}
		dir := filepath.Join(got, "nodes", n.Name)
		args := append(append([]string{}, collector...), "-q", "--pod-netns", strings.Join(pods, ","), "-o", dir)
		out, err := tb.Exec(n.NetNS, args[0], args[1:]...)
		if err != nil {
			t.Fatalf("%s: collect node: %v\n%s", n.Name, err, out)
		}
		// The same collection streamed as a .tar.gz on stdout holds the same files.
		args[len(args)-1] = "-"
		stream, err := tb.Exec(n.NetNS, args[0], args[1:]...)
		if err != nil {
			t.Fatalf("%s: collect node -o -: %v", n.Name, err)
		}
		checkArchiveNames(t, stream, dir)
		rep, _ := os.ReadFile(filepath.Join(dir, "collect.yaml"))
		t.Logf("%s collect.yaml:\n%s", n.Name, rep)
	}
	for _, f := range []string{"manifest.yaml", "cluster"} {
		if out, err := exec.Command("cp", "-r", filepath.Join(ref, f), filepath.Join(got, f)).CombinedOutput(); err != nil {
			t.Fatalf("cp %s: %v %s", f, err, out)
		}
	}
	refB, refC := openBundle(t, ref)
	gotB, gotC := openBundle(t, got)
	defer refB.Close()
	defer gotB.Close()
	namespaces, files := 0, 0
	for _, n := range tb.Nodes {
		rs, err := refC.NodeState(n.Name)
		if err != nil {
			t.Fatal(err)
		}
		gs, err := gotC.NodeState(n.Name)
		if err != nil {
			t.Fatal(err)
		}
		pairs := map[string][2]*model.NetNS{"host": {rs.Host, gs.Host}}
		for k, p := range rs.Pods {
			pairs[k] = [2]*model.NetNS{p, gs.Pods[k]}
		}
		if len(gs.Pods) != len(rs.Pods) {
			t.Errorf("%s: collected %d pod namespaces, the dump has %d", n.Name, len(gs.Pods), len(rs.Pods))
		}
		for name, p := range pairs {
			if p[1] == nil {
				t.Errorf("%s %s: not collected", n.Name, name)
				continue
			}
			namespaces++
			files += compareNetNS(t, n.Name+" "+name, p[0], p[1])
		}
	}
	t.Logf("collect node: %d namespaces, %d files compared with the plain-tools dump", namespaces, files)
	// The same questions, asked of both bundles, get the same answers.
	queries := []traceCase{
		{Src: "pod/default/pod1b", Dst: "svc/default/echo", Port: 80, Proto: "tcp"},
		{Src: "pod/default/pod1b", Dst: "pod/default/pod2a", Port: 8080, Proto: "tcp"},
		{Src: "pod/default/pod2b", Dst: "svc/default/echo", Port: 53, Proto: "udp"},
		{Src: "node/node1", Dst: "svc/default/echo-np", Port: 80, Proto: "tcp"},
		{Src: "pod/default/pod1b", Dst: "svc/default/noep", Port: 80, Proto: "tcp"},
		{Src: "pod/default/pod2b", Dst: "pod/default/pod1a", Port: 9999, Proto: "tcp"},
	}
	for _, q := range queries {
		want, got := traceSummary(t, refC, q), traceSummary(t, gotC, q)
		if want != got {
			t.Errorf("%s: the dump's bundle says %s, the collected one %s", q, want, got)
		} else {
			t.Logf("%s: %s (both)", q, got)
		}
	}
}

func openBundle(t *testing.T, dir string) (*bundle.Bundle, *model.Cluster) {
	t.Helper()
	b, err := bundle.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	c, err := model.Load(b, model.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return b, c
}

// checkArchiveNames checks that a .tar.gz stream holds the same files as dir.
func checkArchiveNames(t *testing.T, stream []byte, dir string) {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(stream))
	if err != nil {
		t.Fatalf("collect node -o -: not gzip: %v", err)
	}
	tr := tar.NewReader(zr)
	var got []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("collect node -o -: %v", err)
		}
		if h.Typeflag == tar.TypeReg {
			got = append(got, h.Name)
		}
	}
	var want []string
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			want = append(want, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(got)
	sort.Strings(want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("collect node -o - holds %v, -o DIR %v", got, want)
	}
}

// volatileSysctls change between two reads of a live namespace.
var volatileSysctls = regexp.MustCompile(`^net\.netfilter\.nf_conntrack_count$|\.random$|^net\.core\.netdev_rss_key$`)

// compareNetNS compares two dumps of one namespace through the model and returns how
// many files it compared.
func compareNetNS(t *testing.T, what string, ref, got *model.NetNS) int {
	t.Helper()
	files := 0
	if len(got.Missing) > 0 {
		t.Errorf("%s: collected dump lacks %v", what, got.Missing)
	}
	eq := func(kind string, a, b []string) {
		files++
		sort.Strings(a)
		sort.Strings(b)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s %s differ:\ndump:      %q\ncollected: %q", what, kind, a, b)
		}
	}
	var la, lb, aa, ab []string
	for _, l := range ref.Links {
		la = append(la, linkKey(l.Index, l.Name, l.Flags, l.MTU, l.Master, l.Kind, l.SlaveKind, l.PeerIndex, l.PeerName, l.PeerNetNSID, l.MAC, l.LinkType, l.Hairpin, l.VXLAN))
	}
	for _, l := range got.Links {
		lb = append(lb, linkKey(l.Index, l.Name, l.Flags, l.MTU, l.Master, l.Kind, l.SlaveKind, l.PeerIndex, l.PeerName, l.PeerNetNSID, l.MAC, l.LinkType, l.Hairpin, l.VXLAN))
	}
	for _, x := range ref.Addrs() {
		aa = append(aa, x.Link.Name+" "+x.Addr.String()+" "+x.Addr.Label)
	}
	for _, x := range got.Addrs() {
		ab = append(ab, x.Link.Name+" "+x.Addr.String()+" "+x.Addr.Label)
	}
	eq("links", la, lb)
	eq("addresses", aa, ab)
	var ra, rb []string
	for i := range ref.Routes {
		ra = append(ra, ref.Routes[i].String()+" type "+ref.Routes[i].Type)
	}
	for i := range got.Routes {
		rb = append(rb, got.Routes[i].String()+" type "+got.Routes[i].Type)
	}
	eq("routes", ra, rb)
	var pa, pb []string
	for i := range ref.Rules {
		pa = append(pa, fmt.Sprintf("%d %s", ref.Rules[i].Family, ref.Rules[i].String()))
	}
	for i := range got.Rules {
		pb = append(pb, fmt.Sprintf("%d %s", got.Rules[i].Family, got.Rules[i].String()))
	}
	eq("rules", pa, pb)
	// Neighbour states age between the two reads; what the walk uses is who is known at
	// which MAC, and which entries are permanent.
	var na, nb []string
	for _, n := range ref.Neighs {
		na = append(na, neighKey(n.Dst.String(), n.Dev, n.LLAddr, n.State))
	}
	for _, n := range got.Neighs {
		nb = append(nb, neighKey(n.Dst.String(), n.Dev, n.LLAddr, n.State))
	}
	eq("neighbours", na, nb)
	var fa, fb []string
	for _, f := range ref.FDB {
		fa = append(fa, fmt.Sprintf("%s %s %s %v %d %s %v", f.MAC, f.Dev, f.Master, f.Dst, f.VNI, f.State, f.Self))
	}
	for _, f := range got.FDB {
		fb = append(fb, fmt.Sprintf("%s %s %s %v %d %s %v", f.MAC, f.Dev, f.Master, f.Dst, f.VNI, f.State, f.Self))
	}
	eq("fdb", fa, fb)
	var sa, sb []string
	for k, v := range ref.Sysctls {
		if !volatileSysctls.MatchString(k) {
			sa = append(sa, k+"="+v.Value)
		}
	}
	for k, v := range got.Sysctls {
		if !volatileSysctls.MatchString(k) {
			sb = append(sb, k+"="+v.Value)
		}
	}
	eq("sysctls", sa, sb)
	var ka, kb []string
	for i := range ref.Sockets {
		if ref.Sockets[i].Listening() {
			ka = append(ka, ref.Sockets[i].String()+" "+ref.Sockets[i].Process)
		}
	}
	for i := range got.Sockets {
		if got.Sockets[i].Listening() {
			kb = append(kb, got.Sockets[i].String()+" "+got.Sockets[i].Process)
		}
	}
	eq("listening sockets", ka, kb)
	for _, k := range model.RuleFileKinds {
		a, b := ref.RuleFiles[k], got.RuleFiles[k]
		if a == nil && b == nil {
			continue
		}
		if a == nil || b == nil {
			t.Errorf("%s %s: in the dump %v, collected %v", what, k, a != nil, b != nil)
			continue
		}
		files++
		switch k {
		case model.NFTables:
			ja, jb := normNFT(t, a.Data), normNFT(t, b.Data)
			if ja != jb {
				t.Errorf("%s nft.json differs:\ndump:      %s\ncollected: %s", what, ja, jb)
			}
		default:
			if x, y := normSave(a.Data), normSave(b.Data); x != y {
				t.Errorf("%s %s differs:\ndump:\n%s\ncollected:\n%s", what, k, x, y)
			}
		}
	}
	return files
}

func linkKey(idx int, name string, flags []string, mtu int, master, kind, slave string, peerIdx int, peerName string, netnsid int, mac, lt string, hairpin *bool, vx any) string {
	h := "-"
	if hairpin != nil {
		h = fmt.Sprint(*hairpin)
	}
	v, _ := json.Marshal(vx)
	return fmt.Sprintf("%d %s %v mtu %d master %s kind %s/%s peer %d %s netnsid %d %s %s hairpin %s vxlan %s", idx, name, flags, mtu, master, kind, slave, peerIdx, peerName, netnsid, mac, lt, h, v)
}

func neighKey(dst, dev, ll string, state []string) string {
	perm := ""
	for _, s := range state {
		if s == "PERMANENT" || s == "NOARP" || s == "FAILED" || s == "INCOMPLETE" {
			perm += " " + s
		}
	}
	return dst + " " + dev + " " + ll + perm
}

var saveCounters = regexp.MustCompile(`\[\d+:\d+\]`)

// normSave drops iptables-save's comments and packet counters.
func normSave(b []byte) string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "#") || l == "" {
			continue
		}
		out = append(out, saveCounters.ReplaceAllString(l, "[0:0]"))
	}
	return strings.Join(out, "\n")
}

// normNFT drops nft -j's metainfo and counter values.
func normNFT(t *testing.T, b []byte) string {
	var v struct {
		Nftables []map[string]any `json:"nftables"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Errorf("nft.json: %v", err)
		return ""
	}
	var keep []map[string]any
	for _, e := range v.Nftables {
		if _, ok := e["metainfo"]; !ok {
			keep = append(keep, e)
		}
	}
	out, _ := json.Marshal(keep)
	return regexp.MustCompile(`"(packets|bytes)":\d+`).ReplaceAllString(string(out), `"$1":0`)
}

// traceSummary traces q on a bundle and returns its verdict and each path's.
func traceSummary(t *testing.T, c *model.Cluster, q traceCase) string {
	t.Helper()
	src, err := simulate.Resolve(c, q.Src)
	if err != nil {
		t.Fatal(err)
	}
	dst, err := simulate.Resolve(c, q.Dst)
	if err != nil {
		t.Fatal(err)
	}
	proto := map[string]uint8{"tcp": packet.TCP, "udp": packet.UDP, "icmp": packet.ICMP}[q.Proto]
	res, err := simulate.New(c).Trace(simulate.Query{Src: src, Dst: dst, Port: q.Port, Proto: proto})
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, p := range res.Paths {
		s := string(p.Verdict) + " " + p.Endpoint
		for _, f := range p.Findings {
			s += " [" + f.Code + "]"
		}
		parts = append(parts, s)
	}
	sort.Strings(parts)
	return string(res.Verdict) + ": " + strings.Join(parts, ", ")
}
