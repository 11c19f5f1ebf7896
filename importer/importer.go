package importer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/netsim/netsim/bundle"
	"github.com/netsim/netsim/model/iproute"
	"github.com/netsim/netsim/model/kube"
	"github.com/netsim/netsim/model/sockets"
	"github.com/netsim/netsim/model/source"
	"github.com/netsim/netsim/model/sysctl"
)

// Options steer an import.
type Options struct {
	// NodeOf maps a source, as given on the command line (a file, folder or archive, or a
	// folder inside one), to the node its dumps belong to: `--node NAME=SOURCE`.
	NodeOf map[string]string
	// DefaultNode takes the node dumps that nothing else places: `--node NAME`.
	DefaultNode string
	// Cluster names the cluster in the manifest.
	Cluster string
	// Now stamps the manifest; zero means the current time.
	Now time.Time
	// Limits bound archives read as sources.
	Limits bundle.Limits
}

// Entry says what import did with one input file.
type Entry struct {
	Source string // the file, as a path under the source the user named
	Kind   Kind   // what it was recognised as ("" = not recognised)
	Placed string // its path in the bundle; "" when it was not used
	Note   string // why it was not used, how it was placed, or what was converted
}

// Result is an import's outcome: the bundle to write and the account of every file.
type Result struct {
	Entries  []Entry
	Files    *bundle.Writer
	Manifest *bundle.Manifest
}

type input struct {
	src     string // the CLI source it came from
	rel     string // slash path below the source (the file's own name for a file source)
	display string // src joined with rel, for the table
	full    string // slash path of the file itself: its folders are searched for names
	data    []byte
	kind    Kind
	group   string // one folder's files are one dump
	// netnsOnly marks files known to come from a namespace other than the host's
	// (sosreport's namespaces/ folders and ip_netns_exec_* files).
	netnsOnly bool
	entry     *Entry
}

// target is where a node dump goes: a node, and a pod when the dump is of a pod namespace.
type target struct {
	node string
	pod  string // "namespace/name"
	how  string
}

func (t target) dir() string {
	if t.pod != "" {
		ns, name, _ := strings.Cut(t.pod, "/")
		return bundle.PodDir(t.node, ns, name)
	}
	return bundle.NodeDir(t.node)
}

// Import reads every source and builds a bundle from what it recognises.
func Import(sources []string, opts Options) (*Result, error) {
	if opts.Limits.MaxFiles == 0 {
		opts.Limits = bundle.DefaultLimits
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now().UTC().Truncate(time.Second)
	}
	for src := range opts.NodeOf {
		if !containsSource(sources, src) {
			return nil, fmt.Errorf("--node ...=%s: not one of the sources (or a folder inside one)", src)
		}
	}
	var ins []*input
	for _, s := range sources {
		got, err := gather(s, opts.Limits)
		if err != nil {
			return nil, err
		}
		ins = append(ins, got...)
	}
	if len(ins) == 0 {
		return nil, errors.New("no files in the sources")
	}
	res := &Result{Files: bundle.NewWriter(), Manifest: &bundle.Manifest{Format: bundle.Format, Source: "import", Cluster: opts.Cluster, CollectedAt: opts.Now}}
	// Capacity for every input, so the entries the inputs point at never move.
	res.Entries = make([]Entry, 0, len(ins))
	for _, in := range ins {
		in.kind = Detect(in.rel, in.data)
		in.group, in.netnsOnly = groupOf(in)
		res.Entries = append(res.Entries, Entry{Source: in.display, Kind: in.kind})
		in.entry = &res.Entries[len(res.Entries)-1]
	}
	idx := res.placeCluster(ins)
	res.placeNodes(ins, idx, opts)
	res.summarizeUnknown(ins)
	res.gaps(idx)
	return res, nil
}

func containsSource(sources []string, src string) bool {
	for _, s := range sources {
		if src == s || strings.HasPrefix(filepath.Clean(src), filepath.Clean(s)+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

// gather reads a source: a file, a folder (recursively, never following links out of it)
// or a .tar.gz (in memory, safely).
func gather(src string, lim bundle.Limits) ([]*input, error) {
	st, err := os.Stat(src)
	if err != nil {
		return nil, err
	}
	var fsys fs.FS
	switch {
	case bundle.IsArchive(src):
		f, err := os.Open(src)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		m, err := bundle.ReadArchive(src, f, lim)
		if err != nil {
			return nil, err
		}
		fsys = m
	case st.IsDir():
		root, err := os.OpenRoot(src)
		if err != nil {
			return nil, err
		}
		defer root.Close()
		fsys = root.FS()
	default:
		if st.Size() > lim.MaxFileBytes {
			return nil, fmt.Errorf("%s: %d bytes, over the %d-byte limit", src, st.Size(), lim.MaxFileBytes)
		}
		data, err := os.ReadFile(src)
		if err != nil {
			return nil, err
		}
		return []*input{{src: src, rel: filepath.Base(src), display: src, full: filepath.ToSlash(src), data: data}}, nil
	}
	var out []*input
	var total int64
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("%s: %v", src, err)
		}
		if d.IsDir() || !d.Type().IsRegular() && d.Type()&fs.ModeSymlink == 0 {
			return nil
		}
		if len(out) >= lim.MaxFiles {
			return fmt.Errorf("%s: more than %d files: %w", src, lim.MaxFiles, bundle.ErrLimit)
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return fmt.Errorf("%s: %s: %v", src, p, err)
		}
		total += int64(len(data))
		if total > lim.MaxTotal {
			return fmt.Errorf("%s: more than %d bytes: %w", src, lim.MaxTotal, bundle.ErrLimit)
		}
		full := path.Join(filepath.ToSlash(src), p)
		out = append(out, &input{src: src, rel: p, display: full, full: full, data: data})
		return nil
	})
	return out, err
}

var reNetnsExec = regexp.MustCompile(`^ip_netns_exec_([^_]+)_`)

// groupOf decides which files form one namespace's dump: those of one folder, except
// sosreport's per-namespace files, which share a folder with the host's.
func groupOf(in *input) (string, bool) {
	dir := path.Dir(in.full)
	base := path.Base(in.full)
	if m := reNetnsExec.FindStringSubmatch(base); m != nil {
		return dir + "#" + m[1], true
	}
	netnsOnly := strings.Contains("/"+path.Dir(in.rel)+"/", "/namespaces/")
	return dir, netnsOnly
}

// clusterIndex is what node placement needs from the imported objects.
type clusterIndex struct {
	nodes      map[string]*corev1.Node
	nodeByAddr map[netip.Addr]string
	pods       map[string]*corev1.Pod // "namespace/name"
	podByIP    map[netip.Addr]string
	haveObjs   bool
}

func (r *Result) place(in *input, name string, data []byte, note string) bool {
	if !r.Files.Add(name, data) {
		in.entry.Note = fmt.Sprintf("not used: %s already comes from another file", name)
		return false
	}
	in.entry.Placed, in.entry.Note = name, note
	return true
}

// clusterFileName turns a source path into a unique file name under cluster/.
func (r *Result) clusterFileName(in *input, ext string) string {
	base := strings.Trim(strings.NewReplacer("/", "_", " ", "_").Replace(strings.TrimSuffix(in.rel, path.Ext(in.rel))), "_.")
	if base == "" {
		base = "objects"
	}
	name := "cluster/" + base + ext
	for i := 2; r.Files.Has(name); i++ {
		name = fmt.Sprintf("cluster/%s-%d%s", base, i, ext)
	}
	return name
}

func (r *Result) placeCluster(ins []*input) *clusterIndex {
	idx := &clusterIndex{nodes: map[string]*corev1.Node{}, nodeByAddr: map[netip.Addr]string{}, pods: map[string]*corev1.Pod{}, podByIP: map[netip.Addr]string{}}
	for _, in := range ins {
		switch in.kind {
		case KindKube, KindClusterDump:
		case KindManifest:
			f := source.NewFile(in.display, in.data)
			m, err := bundle.ParseManifest(f)
			if err != nil {
				in.entry.Note = "not used: " + err.Error()
				continue
			}
			if r.Manifest.Cluster == "" {
				r.Manifest.Cluster = m.Cluster
			}
			r.Manifest.ClusterDomain, r.Manifest.KubernetesVersion = m.ClusterDomain, m.KubernetesVersion
			r.Manifest.PodCIDRs, r.Manifest.ServiceCIDRs = m.PodCIDRs, m.ServiceCIDRs
			r.Manifest.Gaps = append(r.Manifest.Gaps, m.Gaps...)
			in.entry.Note = "read: cluster name, domain, CIDRs and gaps carried into the new manifest"
			continue
		case KindContainerLog:
			in.entry.Note = "not used: container logs are not network state"
			continue
		default:
			if path.Base(in.rel) == "logs.txt" && in.kind == KindUnknown {
				in.kind, in.entry.Kind = KindContainerLog, KindContainerLog
				in.entry.Note = "not used: container logs are not network state"
			}
			continue
		}
		f := source.NewFile(in.display, in.data)
		objs, errs := kube.Decode(f)
		if len(errs) > 0 {
			in.entry.Note = fmt.Sprintf("not used: %v", errs[0])
			if len(errs) > 1 {
				in.entry.Note += fmt.Sprintf(" (and %d more errors)", len(errs)-1)
			}
			continue
		}
		ext := ".yaml"
		if bytes.HasPrefix(bytes.TrimSpace(in.data), []byte("{")) || bytes.HasPrefix(bytes.TrimSpace(in.data), []byte("[")) {
			ext = ".json"
		}
		if !r.place(in, r.clusterFileName(in, ext), in.data, fmt.Sprintf("%d objects", len(objs))) {
			continue
		}
		for _, o := range objs {
			idx.haveObjs = true
			switch x := o.Obj.(type) {
			case *corev1.Node:
				idx.nodes[x.Name] = x
				for _, a := range x.Status.Addresses {
					if ip, err := netip.ParseAddr(a.Address); err == nil {
						idx.nodeByAddr[ip.Unmap()] = x.Name
					}
				}
			case *corev1.Pod:
				key := x.Namespace + "/" + x.Name
				idx.pods[key] = x
				if x.Spec.HostNetwork || x.Status.Phase == corev1.PodSucceeded || x.Status.Phase == corev1.PodFailed {
					continue
				}
				for _, ip := range x.Status.PodIPs {
					if a, err := netip.ParseAddr(ip.IP); err == nil {
						idx.podByIP[a.Unmap()] = key
					}
				}
			}
		}
	}
	return idx
}

// sosHostname finds the hostname a sosreport recorded, for the sosreport that holds rel.
func sosHostname(ins []*input, src, rel string) string {
	i := strings.Index(rel, "sos_commands/")
	if i < 0 {
		return ""
	}
	root := rel[:i]
	for _, cand := range []string{root + "hostname", root + "sos_commands/host/hostname", root + "etc/hostname"} {
		for _, in := range ins {
			if in.src == src && in.rel == cand {
				if h := strings.TrimSpace(string(in.data)); h != "" && !strings.ContainsAny(h, " \n") {
					return h
				}
			}
		}
	}
	return ""
}

// addrsOf returns the global addresses in a group's address dump, if it has one.
func addrsOf(ins []*input, group string) []netip.Addr {
	var out []netip.Addr
	for _, in := range ins {
		if in.group != group {
			continue
		}
		var links []iproute.Link
		f := source.NewFile(in.display, in.data)
		switch in.kind {
		case KindAddrJSON:
			links, _ = iproute.ParseLinksJSON(f)
		case KindAddrText:
			links, _ = iproute.ParseLinksText(f)
		default:
			continue
		}
		for _, l := range links {
			for _, a := range l.Addrs {
				ip := a.Prefix.Addr()
				if ip.IsLoopback() || ip.IsLinkLocalUnicast() {
					continue
				}
				out = append(out, ip)
			}
		}
	}
	return out
}

func (r *Result) assign(ins []*input, in *input, idx *clusterIndex, opts Options) (target, string) {
	// 1. --node NAME=SOURCE.
	var best string
	for src := range opts.NodeOf {
		s := filepath.Clean(src)
		full := filepath.Clean(filepath.FromSlash(in.full))
		if in.src == src || strings.HasPrefix(full, s+string(filepath.Separator)) || full == s {
			if len(src) > len(best) {
				best = src
			}
		}
	}
	if best != "" && !in.netnsOnly {
		return target{node: opts.NodeOf[best], how: "--node " + opts.NodeOf[best] + "=" + best}, ""
	}
	// 2. Folder names, deepest first: a pod's NAMESPACE_NAME, netsim's nodes/NAME, a Node's name.
	parts := strings.Split(path.Dir(in.full), "/")
	for i := len(parts) - 1; i >= 0; i-- {
		p := parts[i]
		if ns, name, ok := strings.Cut(p, "_"); ok {
			if pod := idx.pods[ns+"/"+name]; pod != nil && pod.Spec.NodeName != "" && !pod.Spec.HostNetwork {
				return target{node: pod.Spec.NodeName, pod: ns + "/" + name, how: "folder " + p + " names pod " + ns + "/" + name}, ""
			}
			if i > 0 && parts[i-1] == "pods" && i > 2 && parts[i-3] == "nodes" && validName(ns) && validName(name) {
				return target{node: parts[i-2], pod: ns + "/" + name, how: "bundle layout nodes/" + parts[i-2] + "/pods/" + p}, ""
			}
		}
		if in.netnsOnly {
			continue
		}
		if i > 0 && parts[i-1] == "nodes" && validName(p) {
			return target{node: p, how: "bundle layout nodes/" + p}, ""
		}
		if _, ok := idx.nodes[p]; ok {
			return target{node: p, how: "folder " + p + " names node " + p}, ""
		}
	}
	// 3. The addresses in the same folder's address dump.
	if addrs := addrsOf(ins, in.group); len(addrs) > 0 {
		for _, a := range addrs {
			if key, ok := idx.podByIP[a]; ok {
				pod := idx.pods[key]
				if pod.Spec.NodeName != "" {
					return target{node: pod.Spec.NodeName, pod: key, how: "address " + a.String() + " is pod " + key}, ""
				}
			}
		}
		if !in.netnsOnly {
			for _, a := range addrs {
				if n, ok := idx.nodeByAddr[a]; ok {
					return target{node: n, how: "address " + a.String() + " is node " + n}, ""
				}
			}
		}
	}
	if in.netnsOnly {
		return target{}, "not used: the dump of a namespace that matches no pod (no pod folder name or pod IP in its address dump)"
	}
	// 4. A sosreport's hostname.
	if h := sosHostname(ins, in.src, in.rel); h != "" {
		if _, known := idx.nodes[h]; known || len(idx.nodes) == 0 {
			return target{node: h, how: "sosreport hostname " + h}, ""
		}
	}
	// 5. --node NAME.
	if opts.DefaultNode != "" {
		return target{node: opts.DefaultNode, how: "--node " + opts.DefaultNode}, ""
	}
	return target{}, "not used: no node matched (no node's name in its folders, no node address in its folder's address dump); name it with --node NAME=SOURCE"
}

func validName(s string) bool { return len(validation.IsDNS1123Subdomain(s)) == 0 }

// fileFor names the bundle file a node dump becomes, choosing the IPv6 file for IPv6-only
// route and rule dumps (whose "default" and "all" mean IPv6).
func fileFor(in *input) string {
	name := nodeKinds[in.kind]
	switch in.kind {
	case KindRouteText, KindRuleText, KindRuleJSON, KindRouteJSON:
		if onlyV6(in.data) {
			return strings.Replace(name, ".", "6.", 1)
		}
	}
	return name
}

var reAddrV4 = regexp.MustCompile(`\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b`)
var reAddrV6 = regexp.MustCompile(`[0-9a-fA-F]{0,4}::?[0-9a-fA-F]{1,4}`)

func onlyV6(data []byte) bool { return !reAddrV4.Match(data) && reAddrV6.Match(data) }

// prepare validates a node dump with the parser that will read it, converting the forms
// netsim reads in another shape. It returns the bytes to place and a note.
func prepare(in *input, fam int) ([]byte, string, error) {
	f := source.NewFile(in.display, in.data)
	var err error
	switch in.kind {
	case KindIPTablesS, KindIP6TablesS:
		out, err := ConvertIPTablesS(f, in.display)
		return out, "converted to iptables-save form", err
	case KindIPVSList:
		out, err := ConvertIPVSList(f, in.display)
		return out, "converted to ipvsadm -Sn form", err
	case KindAddrJSON, KindLinkJSON:
		_, err = iproute.ParseLinksJSON(f)
	case KindAddrText, KindLinkText:
		_, err = iproute.ParseLinksText(f)
	case KindRouteJSON:
		_, err = iproute.ParseRoutesJSON(f, fam)
	case KindRouteText:
		_, err = iproute.ParseRoutesText(f, fam)
	case KindRuleJSON:
		_, err = iproute.ParseRulesJSON(f, fam)
	case KindRuleText:
		_, err = iproute.ParseRulesText(f, fam)
	case KindNeighJSON:
		_, err = iproute.ParseNeighJSON(f)
	case KindNeighText:
		_, err = iproute.ParseNeighText(f)
	case KindSysctl:
		_, err = sysctl.Parse(f)
	case KindSockets:
		_, err = sockets.Parse(f)
	case KindNFTJSON:
		if !json.Valid(in.data) {
			err = source.Errorf(f.Pos(1), "not valid JSON")
		}
	}
	return in.data, unevaluated[in.kind], err
}

func (r *Result) placeNodes(ins []*input, idx *clusterIndex, opts Options) {
	for _, in := range ins {
		if _, ok := nodeKinds[in.kind]; !ok {
			continue
		}
		t, why := r.assign(ins, in, idx, opts)
		if t.node == "" {
			in.entry.Note = why
			continue
		}
		if !validName(t.node) {
			in.entry.Note = fmt.Sprintf("not used: %q is not a valid node name", t.node)
			continue
		}
		file := fileFor(in)
		fam := 4
		if strings.Contains(file, "6.") {
			fam = 6
		}
		data, note, err := prepare(in, fam)
		if err != nil {
			in.entry.Note = "not used: " + err.Error()
			continue
		}
		if note == "" {
			note = t.how
		} else {
			note = t.how + "; " + note
		}
		r.place(in, path.Join(t.dir(), file), data, note)
	}
}

// summarizeUnknown folds unrecognised files into one entry per folder when a folder has
// many (a sosreport has hundreds), so the account stays readable but complete.
func (r *Result) summarizeUnknown(ins []*input) {
	byDir := map[string][]*input{}
	for _, in := range ins {
		if in.kind == KindUnknown {
			byDir[path.Dir(in.full)] = append(byDir[path.Dir(in.full)], in)
		}
	}
	drop := map[*Entry]bool{}
	var extra []Entry
	for _, group := range byDir {
		if len(group) <= 5 {
			for _, in := range group {
				in.entry.Note = "not used: not a format netsim reads"
			}
			continue
		}
		for _, in := range group {
			drop[in.entry] = true
		}
		extra = append(extra, Entry{Source: path.Dir(group[0].display) + "/", Note: fmt.Sprintf("not used: %d files in no format netsim reads", len(group))})
	}
	var kept []Entry
	for i := range r.Entries {
		if !drop[&r.Entries[i]] {
			kept = append(kept, r.Entries[i])
		}
	}
	sort.Slice(extra, func(i, j int) bool { return extra[i].Source < extra[j].Source })
	r.Entries = append(kept, extra...)
	for i := range r.Entries {
		if r.Entries[i].Kind == KindEmpty && r.Entries[i].Note == "" {
			r.Entries[i].Note = "not used: empty"
		}
	}
}

// gaps records in the manifest what the import lacks.
func (r *Result) gaps(idx *clusterIndex) {
	if !idx.haveObjs {
		r.Manifest.Gaps = append(r.Manifest.Gaps, bundle.Gap{Scope: "cluster", Reason: "no Kubernetes objects among the imported files"})
	}
	dirs := map[string]map[string]bool{}
	for _, name := range r.Files.Names() {
		if strings.HasPrefix(name, "nodes/") {
			d := path.Dir(name)
			if dirs[d] == nil {
				dirs[d] = map[string]bool{}
			}
			dirs[d][path.Base(name)] = true
		}
	}
	var nodes []string
	for n := range idx.nodes {
		nodes = append(nodes, n)
	}
	sort.Strings(nodes)
	for _, n := range nodes {
		if dirs[bundle.NodeDir(n)] == nil {
			r.Manifest.Gaps = append(r.Manifest.Gaps, bundle.Gap{Scope: bundle.NodeDir(n), Reason: "no dataplane files for this node among the imported files"})
		}
	}
	var ds []string
	for d := range dirs {
		ds = append(ds, d)
	}
	sort.Strings(ds)
	for _, d := range ds {
		var missing []string
		wants := [][]string{{"addr.json", "addr.txt", "link.json", "link.txt"}, {"route.json", "route.txt", "route6.json", "route6.txt"}, {"rule.json", "rule.txt", "rule6.json", "rule6.txt"}, {"neigh.json", "neigh.txt"}, {"sysctl.txt"}, {"sockets.txt"}}
		if !strings.Contains(d, "/pods/") {
			// A pod's namespace seldom has rules of its own; a node's always matters.
			wants = append(wants, []string{"iptables-save.txt", "nft.json"})
		}
		for _, want := range wants {
			found := false
			for _, w := range want {
				found = found || dirs[d][w]
			}
			if !found {
				missing = append(missing, want[0])
			}
		}
		if len(missing) > 0 {
			r.Manifest.Gaps = append(r.Manifest.Gaps, bundle.Gap{Scope: d, Reason: "not among the imported files: " + strings.Join(missing, ", ")})
		}
	}
}

// Write writes the bundle (manifest included) to out.
func (r *Result) Write(out string) error {
	m, err := r.Manifest.Marshal()
	if err != nil {
		return err
	}
	if !r.Files.Add(bundle.ManifestName, m) {
		return errors.New("a manifest.yaml is already staged")
	}
	return r.Files.Write(out)
}
