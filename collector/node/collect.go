// Package node is the node part of `netsim collect`: it reads one node's dataplane state
// (the host network namespace and every pod's) and writes it as the bundle files of
// ../shared/CONTRACT.md §3 "nodes/NODE/", in the formats the standard tools print (`ip -j`,
// `bridge -j`, `sysctl`, `ss`, `iptables-save`, `ipset save`, `nft -j`, `ipvsadm -Sn`), so
// that model/ reads a collected node and a ticket's pasted files alike.
//
// Netlink and /proc are read directly (no iproute2 needed); iptables-save, ipset and nft
// run as programs when they are installed, with a netlink fallback for nftables. One
// failing file never stops the rest: it is recorded in collect.yaml.
package node

import (
	"context"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
	"gopkg.in/yaml.v3"
)

// Options says what to collect.
type Options struct {
	// PodNetNS selects the pod namespaces: nil, or one entry "auto", finds them (the CRI,
	// else the named namespaces in NetNSDir); "none" collects the host only; otherwise each
	// entry is NAME (a namespace in NetNSDir, or a path; its folder is pods/BASENAME) or
	// NS_NAME=NETNS (folder pods/NS_NAME, NETNS a name in NetNSDir or a path).
	PodNetNS []string
	// CRISocket is the container runtime's socket (default /run/containerd/containerd.sock).
	CRISocket string
	// NetNSDir holds named namespaces (default /var/run/netns).
	NetNSDir string
	// ProcRoot is /proc (tests point it elsewhere only for the pure parsers).
	ProcRoot string
	// Logf receives progress lines; nil for none.
	Logf func(format string, args ...any)
}

// Report is collect.yaml: what was collected where, from which source, and what failed.
type Report struct {
	Format      string    `yaml:"format"`
	CollectedAt time.Time `yaml:"collectedAt"`
	Hostname    string    `yaml:"hostname,omitempty"`
	Kernel      string    `yaml:"kernel,omitempty"`
	// Namespace is "host" or "pod/NS/NAME" (or the folder name when the pod is unknown).
	Namespace string `yaml:"namespace"`
	NetNS     string `yaml:"netns,omitempty"`
	// Tools are the versions of the programs that were run.
	Tools map[string]string `yaml:"tools,omitempty"`
	// IPTables are the iptables backends found, per family (iptables, ip6tables).
	IPTables map[string][]Backend `yaml:"iptables,omitempty"`
	Files    []FileReport         `yaml:"files"`
	// Pods lists the pod namespaces found (host report only).
	Pods []PodReport `yaml:"pods,omitempty"`
	// Discovery says how pod namespaces were found (host report only).
	Discovery string `yaml:"discovery,omitempty"`
	// Errors are failures that belong to no single file.
	Errors []string `yaml:"errors,omitempty"`
}

// FileReport is one bundle file: where it came from, or why it is missing.
type FileReport struct {
	Name string `yaml:"name"`
	// Source is netlink, proc, sock_diag+proc, or the program run ("nft -j list ruleset").
	Source string `yaml:"source,omitempty"`
	Bytes  int    `yaml:"bytes"`
	Error  string `yaml:"error,omitempty"`
	Note   string `yaml:"note,omitempty"`
}

// PodReport is one pod namespace found on the node.
type PodReport struct {
	Dir       string `yaml:"dir"`
	NetNS     string `yaml:"netns"`
	Source    string `yaml:"source"` // cri, netns-dir, flag
	Namespace string `yaml:"namespace,omitempty"`
	Name      string `yaml:"name,omitempty"`
	Skipped   string `yaml:"skipped,omitempty"`
}

// ReportFormat is collect.yaml's format name.
const ReportFormat = "netsim-collect-node/v1"

// Output is a collected node: bundle files by path relative to the node's folder.
type Output struct {
	Files map[string][]byte
	// Host is the host namespace's report; Pods the pod namespaces' by folder.
	Host *Report
	Pods map[string]*Report
}

func (o *Options) defaults() {
	if o.CRISocket == "" {
		o.CRISocket = "/run/containerd/containerd.sock"
	}
	if o.NetNSDir == "" {
		o.NetNSDir = "/var/run/netns"
	}
	if o.ProcRoot == "" {
		o.ProcRoot = "/proc"
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
}

// Collect reads the host namespace (the one the calling process is in) and the selected
// pod namespaces. It fails only when nothing could be collected at all; every per-file
// failure is in the reports.
func Collect(ctx context.Context, opts Options) (*Output, error) {
	opts.defaults()
	out := &Output{Files: map[string][]byte{}, Pods: map[string]*Report{}}
	host := newReport("host", "")
	pods, discovery, derr := findPods(ctx, opts)
	host.Discovery = discovery
	if derr != nil {
		host.Errors = append(host.Errors, "pod namespaces: "+derr.Error())
	}
	users := socketUsers(opts.ProcRoot)
	opts.Logf("collecting the host namespace")
	hostFiles := collectNetNS(host, users)
	for name, data := range hostFiles {
		out.Files[name] = data
	}
	out.Host = host
	self := "/proc/self/ns/net"
	for _, p := range pods {
		if p.Skipped == "" {
			if same, err := sameNetNS(self, p.NetNS); err != nil {
				p.Skipped = err.Error()
			} else if same {
				p.Skipped = "host network (same namespace as the host)"
			}
		}
		if p.Skipped != "" {
			host.Pods = append(host.Pods, p)
			continue
		}
		name := p.Dir
		if p.Namespace != "" {
			name = "pod/" + p.Namespace + "/" + p.Name
		}
		rep := newReport(name, p.NetNS)
		opts.Logf("collecting %s (%s)", p.Dir, p.NetNS)
		var files map[string][]byte
		err := inNetNS(p.NetNS, func() error {
			files = collectNetNS(rep, users)
			return nil
		})
		if err != nil {
			p.Skipped = err.Error()
			host.Pods = append(host.Pods, p)
			continue
		}
		host.Pods = append(host.Pods, p)
		for n, data := range files {
			out.Files[path.Join("pods", p.Dir, n)] = data
		}
		out.Pods[p.Dir] = rep
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	data, err := yaml.Marshal(host)
	if err != nil {
		return nil, fmt.Errorf("collect.yaml: %w", err)
	}
	out.Files["collect.yaml"] = data
	for dir, rep := range out.Pods {
		data, err := yaml.Marshal(rep)
		if err != nil {
			return nil, fmt.Errorf("pods/%s/collect.yaml: %w", dir, err)
		}
		out.Files[path.Join("pods", dir, "collect.yaml")] = data
	}
	return out, nil
}

func newReport(ns, netns string) *Report {
	r := &Report{Format: ReportFormat, CollectedAt: time.Now().UTC().Truncate(time.Second), Namespace: ns, NetNS: netns, Tools: map[string]string{}}
	r.Hostname, _ = os.Hostname()
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		r.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	return r
}

// collectNetNS collects every file of the namespace the calling thread is in.
func collectNetNS(rep *Report, users map[uint64][]sockUser) map[string][]byte {
	files := map[string][]byte{}
	add := func(name, source string, fn func() ([]byte, error)) {
		addNote(rep, files, name, source, func() ([]byte, string, error) {
			data, err := fn()
			return data, "", err
		})
	}
	names, nerr := linkNames()
	withNames := func(fn func(map[int]string) ([]byte, error)) func() ([]byte, error) {
		return func() ([]byte, error) {
			if nerr != nil {
				return nil, nerr
			}
			return fn(names)
		}
	}
	add("addr.json", "netlink", collectAddr)
	add("route.json", "netlink", withNames(collectRoutes))
	add("rule.json", "netlink", func() ([]byte, error) { return collectRules(unix.AF_INET) })
	add("rule6.json", "netlink", func() ([]byte, error) { return collectRules(unix.AF_INET6) })
	add("neigh.json", "netlink", withNames(collectNeigh))
	add("fdb.json", "netlink", withNames(collectFDB))
	addNote(rep, files, "sysctl.txt", "proc", func() ([]byte, string, error) {
		data, skipped, err := sysctlNet("/proc/sys/net")
		note := ""
		if skipped > 0 {
			note = fmt.Sprintf("%d unreadable keys skipped", skipped)
		}
		return data, note, err
	})
	addNote(rep, files, "sockets.txt", "proc+sock_diag", func() ([]byte, string, error) {
		return collectSockets(users)
	})
	for _, fam := range iptablesFamilies {
		fs, backends, err := collectIPTables(fam)
		if line, _, verr := iptablesVersion(fam); verr == nil {
			rep.Tools[fam.cmd] = line
		}
		if err != nil {
			rep.Files = append(rep.Files, FileReport{Name: fam.file, Source: fam.cmd + "-save", Error: err.Error()})
			continue
		}
		if rep.IPTables == nil {
			rep.IPTables = map[string][]Backend{}
		}
		rep.IPTables[fam.cmd] = backends
		var names []string
		for n := range fs {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			src := ""
			for _, b := range backends {
				if b.File == n {
					src = b.Save
				}
			}
			fr := FileReport{Name: n, Source: src, Bytes: len(fs[n])}
			if n != fam.file {
				fr.Note = "a second iptables backend with rules: both are active in the kernel; netsim reads " + fam.file
			}
			files[n] = fs[n]
			rep.Files = append(rep.Files, fr)
		}
	}
	add("ipset.txt", "ipset save", func() ([]byte, error) {
		if v, err := runTool("ipset", "version"); err == nil {
			rep.Tools["ipset"] = firstLine(v)
		}
		return runTool("ipset", "save")
	})
	nftSource := "nft -j list ruleset"
	add("nft.json", "", func() ([]byte, error) {
		data, src, err := collectNFT(rep)
		nftSource = src
		return data, err
	})
	rep.Files[len(rep.Files)-1].Source = nftSource
	add("ipvs.txt", "netlink", collectIPVS)
	return files
}

// addNote runs one file's collection and records it: its data in files (also partial
// output that came with an error), its source, size, note and error in rep.
func addNote(rep *Report, files map[string][]byte, name, source string, fn func() ([]byte, string, error)) {
	data, note, err := fn()
	fr := FileReport{Name: name, Source: source, Note: note}
	if err != nil {
		fr.Error = err.Error()
	}
	if err == nil || len(data) > 0 {
		if data == nil {
			data = []byte{} // an empty table is a file too: nothing listens, no rules
		}
		files[name] = data
		fr.Bytes = len(data)
	}
	rep.Files = append(rep.Files, fr)
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return s
}

// collectSockets reads the namespace's TCP, UDP and SCTP sockets from /proc and sock_diag.
func collectSockets(users map[uint64][]sockUser) ([]byte, string, error) {
	var all []procSocket
	for _, f := range []struct{ proto, file string }{{"tcp", "tcp"}, {"tcp", "tcp6"}, {"udp", "udp"}, {"udp", "udp6"}} {
		data, err := os.ReadFile("/proc/thread-self/net/" + f.file)
		if err != nil {
			if os.IsNotExist(err) && strings.HasSuffix(f.file, "6") {
				continue // IPv6 disabled
			}
			return nil, "", fmt.Errorf("read /proc/net/%s: %w", f.file, err)
		}
		socks, err := parseProcNet(f.proto, data)
		if err != nil {
			return nil, "", fmt.Errorf("/proc/net/%s: %w", f.file, err)
		}
		all = append(all, socks...)
	}
	if data, err := os.ReadFile("/proc/thread-self/net/sctp/eps"); err == nil {
		socks, err := parseSCTPEps(data)
		if err != nil {
			return nil, "", fmt.Errorf("/proc/net/sctp/eps: %w", err)
		}
		all = append(all, socks...)
	}
	note := ""
	diag := map[uint64]diagInfo{}
	for _, q := range []struct{ fam, proto uint8 }{{unix.AF_INET, unix.IPPROTO_TCP}, {unix.AF_INET6, unix.IPPROTO_TCP}, {unix.AF_INET, unix.IPPROTO_UDP}, {unix.AF_INET6, unix.IPPROTO_UDP}} {
		m, err := sockDiag(q.fam, q.proto)
		if err != nil {
			note = "sock_diag unavailable (" + err.Error() + "): IPv6 wildcard sockets shown as dual-stack, bound devices and listen backlogs not shown"
			break
		}
		for k, v := range m {
			diag[k] = v
		}
	}
	var names map[int]string
	for i := range all {
		s := &all[i]
		if s.Inode == 0 {
			continue
		}
		s.Users = users[s.Inode]
		if d, ok := diag[s.Inode]; ok {
			s.V6Only = d.V6Only && s.Local.Addr().Is6()
			s.RecvQ, s.SendQ = uint64(d.RecvQ), uint64(d.SendQ)
			if d.Ifindex != 0 {
				if names == nil {
					names, _ = linkNames()
				}
				s.BoundIfindex, s.BoundIfname = d.Ifindex, devName(names, int(d.Ifindex))
			}
		}
	}
	return formatSS(all), note, nil
}
