package node

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/coreos/go-iptables/iptables"
)

// Backend is one iptables backend found on the node.
type Backend struct {
	// Mode is "nf_tables" or "legacy".
	Mode string `yaml:"mode"`
	// Save is the save binary run for it.
	Save string `yaml:"save"`
	// Rules counts the -A lines it printed; Default is set for the backend that plain
	// `iptables` uses.
	Rules   int  `yaml:"rules"`
	Default bool `yaml:"default,omitempty"`
	// File is where its output went.
	File string `yaml:"file,omitempty"`
}

// iptablesFamily is iptables (v4) or ip6tables (v6).
type iptablesFamily struct {
	cmd   string // iptables, ip6tables
	proto iptables.Protocol
	file  string // the bundle file the model reads
}

var iptablesFamilies = []iptablesFamily{
	{"iptables", iptables.ProtocolIPv4, "iptables-save.txt"},
	{"ip6tables", iptables.ProtocolIPv6, "ip6tables-save.txt"},
}

// iptablesVersion finds the family's iptables binary through go-iptables and returns its
// --version line and its mode (nf_tables or legacy).
func iptablesVersion(fam iptablesFamily) (line, mode string, err error) {
	ipt, err := iptables.New(iptables.IPFamily(fam.proto))
	if err != nil {
		return "", "", fmt.Errorf("%s: %w", fam.cmd, err)
	}
	v1, v2, v3 := ipt.GetIptablesVersion()
	out, err := runTool(fam.cmd, "--version")
	if err != nil {
		return "", "", err
	}
	line = strings.TrimSpace(string(out))
	mode = "legacy"
	if strings.Contains(line, "nf_tables") {
		mode = "nf_tables"
	}
	if line == "" {
		line = fmt.Sprintf("%s v%d.%d.%d", fam.cmd, v1, v2, v3)
	}
	return line, mode, nil
}

// collectIPTables runs the save binary of every backend present for a family. The one
// with the most rules (the default on a tie) is returned as the family's file; the
// other, if it holds rules too, is returned as FAMILY-MODE-save.txt: both are active in
// the kernel at once.
func collectIPTables(fam iptablesFamily) (files map[string][]byte, backends []Backend, err error) {
	_, defMode, verr := iptablesVersion(fam)
	type run struct {
		b   Backend
		out []byte
	}
	var runs []run
	for _, m := range []struct{ mode, bin string }{{"nf_tables", fam.cmd + "-nft-save"}, {"legacy", fam.cmd + "-legacy-save"}} {
		if _, err := exec.LookPath(m.bin); err != nil {
			continue
		}
		out, err := runTool(m.bin)
		if err != nil {
			return nil, nil, err
		}
		runs = append(runs, run{Backend{Mode: m.mode, Save: m.bin, Rules: countRules(out), Default: m.mode == defMode && verr == nil}, out})
	}
	if len(runs) == 0 {
		if verr != nil {
			return nil, nil, verr
		}
		out, err := runTool(fam.cmd + "-save")
		if err != nil {
			return nil, nil, err
		}
		runs = append(runs, run{Backend{Mode: defMode, Save: fam.cmd + "-save", Rules: countRules(out), Default: true}, out})
	}
	primary := 0
	for i := range runs {
		r, p := runs[i].b, runs[primary].b
		if r.Rules > p.Rules || (r.Rules == p.Rules && r.Default && !p.Default) {
			primary = i
		}
	}
	files = map[string][]byte{}
	for i := range runs {
		switch {
		case i == primary:
			runs[i].b.File = fam.file
		case runs[i].b.Rules > 0:
			mode := "nft"
			if runs[i].b.Mode == "legacy" {
				mode = "legacy"
			}
			runs[i].b.File = fam.cmd + "-" + mode + "-save.txt"
		default:
			backends = append(backends, runs[i].b)
			continue
		}
		files[runs[i].b.File] = runs[i].out
		backends = append(backends, runs[i].b)
	}
	return files, backends, nil
}

// countRules counts the rules (-A lines) of iptables-save output.
func countRules(out []byte) int {
	n := 0
	for _, l := range bytes.Split(out, []byte("\n")) {
		if bytes.HasPrefix(l, []byte("-A ")) {
			n++
		}
	}
	return n
}

// toolTimeout bounds each program the collector runs.
const toolTimeout = 60 * time.Second

// runTool runs a program in the calling thread's network namespace (the thread that
// forks is the caller's) and returns its standard output; a failure carries its stderr.
func runTool(name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), toolTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 300 {
			msg = msg[:300] + "..."
		}
		if msg != "" {
			return stdout.Bytes(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, msg)
		}
		return stdout.Bytes(), fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return stdout.Bytes(), nil
}
