package node

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// findPods lists the pod namespaces to collect, and says how they were found.
func findPods(ctx context.Context, opts Options) ([]PodReport, string, error) {
	sel := opts.PodNetNS
	if len(sel) == 0 || (len(sel) == 1 && sel[0] == "auto") {
		if _, err := os.Stat(opts.CRISocket); err == nil {
			pods, err := criPods(ctx, opts.CRISocket)
			if err == nil {
				return pods, "cri " + opts.CRISocket, nil
			}
			netnsPods, nerr := netnsDirPods(opts.NetNSDir)
			if nerr != nil {
				return nil, "cri failed, netns dir failed", fmt.Errorf("cri %s: %v; %s: %v", opts.CRISocket, err, opts.NetNSDir, nerr)
			}
			return netnsPods, "netns dir " + opts.NetNSDir + " (cri failed)", fmt.Errorf("cri %s: %w", opts.CRISocket, err)
		}
		pods, err := netnsDirPods(opts.NetNSDir)
		return pods, "netns dir " + opts.NetNSDir, err
	}
	if len(sel) == 1 && sel[0] == "none" {
		return nil, "none", nil
	}
	pods, err := ParsePodNetNS(sel, opts.NetNSDir)
	return pods, "flag --pod-netns", err
}

// ParsePodNetNS turns --pod-netns entries into pod namespaces: NAME (a namespace in
// netnsDir or a path; folder BASENAME) or DIR=NETNS (folder DIR, normally NS_NAME).
func ParsePodNetNS(entries []string, netnsDir string) ([]PodReport, error) {
	var out []PodReport
	seen := map[string]bool{}
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		dir, ns, ok := strings.Cut(e, "=")
		if !ok {
			ns, dir = e, filepath.Base(e)
		}
		if dir == "" || ns == "" || dir == "." || dir == ".." || strings.ContainsAny(dir, "/\x00") {
			return nil, fmt.Errorf("--pod-netns %q: want NAME, PATH or NS_NAME=NETNS", e)
		}
		if e == "auto" || e == "none" {
			return nil, fmt.Errorf("--pod-netns: %q cannot be combined with other entries", e)
		}
		if seen[dir] {
			return nil, fmt.Errorf("--pod-netns: folder %q named twice", dir)
		}
		seen[dir] = true
		if !strings.Contains(ns, "/") {
			ns = filepath.Join(netnsDir, ns)
		}
		p := PodReport{Dir: dir, NetNS: ns, Source: "flag"}
		if namespace, name, ok := strings.Cut(dir, "_"); ok {
			p.Namespace, p.Name = namespace, name
		}
		out = append(out, p)
	}
	return out, nil
}

// netnsDirPods lists the named namespaces (ip netns add, CNI's runtimes); each is
// collected into a folder named after its file.
func netnsDirPods(dir string) ([]PodReport, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	var out []PodReport
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		p := PodReport{Dir: e.Name(), NetNS: filepath.Join(dir, e.Name()), Source: "netns-dir"}
		if namespace, name, ok := strings.Cut(e.Name(), "_"); ok {
			p.Namespace, p.Name = namespace, name
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Dir < out[j].Dir })
	return out, nil
}
