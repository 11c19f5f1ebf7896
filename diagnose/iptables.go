package diagnose

import (
	"bytes"
	"hash/maphash"
	"sort"
	"strings"
	"sync"

	"github.com/netsim/netsim/model"
	"github.com/netsim/netsim/model/source"
	"github.com/netsim/netsim/policy"
	"github.com/netsim/netsim/rules/iptables"
)

// digest is what the checks take from one iptables-save file. It names lines, not files:
// identical files (kube-proxy writes the same rules on every node) are parsed once, and
// each node's findings cite its own file. Strings are copied out of the file, so that a
// digest does not keep the file's bytes alive.
type digest struct {
	kp *kpDigest
	// forward is filter/FORWARD: its policy, the rules that accept pod traffic under it.
	fwdDrop    bool
	fwdLine    int
	fwdText    string
	fwdAccepts []ruleRef
	// drops are the DROP and REJECT rules not written by Kubernetes that filter/INPUT and
	// filter/FORWARD reach.
	drops []ruleRef
	// shadows are rules no packet can reach.
	shadows []shadowPair
	// enforcer is a policy enforcer whose chains the file holds ("" for none).
	enforcer policy.Enforcer
}

// ruleRef is one rule as the checks need it.
type ruleRef struct {
	hook  string // INPUT or FORWARD: the built-in chain it is reached from
	chain string
	line  int
	text  string
	verb  string // DROP, REJECT, ACCEPT
	m     match
	// via is set when the rule is reached through a jump with conditions the checks do not
	// follow: the rule then may or may not see a packet.
	via string
}

// digestCache parses each distinct iptables-save content once.
type digestCache struct {
	mu      sync.Mutex
	seed    maphash.Seed
	seeded  bool
	entries map[uint64][]*cached
}

type cached struct {
	data []byte // the first file's bytes, to tell a hash collision from a match
	once sync.Once
	d    *digest
	err  error
}

// get returns the digest of a file, parsing it if no identical file was parsed before.
func (dc *digestCache) get(f *source.File, r *run) (*digest, error) {
	dc.mu.Lock()
	if !dc.seeded {
		dc.seed, dc.seeded, dc.entries = maphash.MakeSeed(), true, map[uint64][]*cached{}
	}
	h := maphash.Bytes(dc.seed, f.Data)
	var e *cached
	for _, c := range dc.entries[h] {
		if bytes.Equal(c.data, f.Data) {
			e = c
			break
		}
	}
	if e == nil {
		e = &cached{data: f.Data}
		dc.entries[h] = append(dc.entries[h], e)
	}
	dc.mu.Unlock()
	e.once.Do(func() {
		rs, err := iptables.Parse(f, false)
		if err != nil {
			e.err = err
			return
		}
		e.d = r.makeDigest(rs)
		if len(dc.entries) > 64 {
			e.data = nil // many distinct files: do not keep their bytes; an identical one is parsed again
		}
	})
	return e.d, e.err
}

// k8sChain reports whether a chain is written by Kubernetes (kube-proxy, the kubelet) or
// by a policy enforcer.
func k8sChain(name string) bool {
	if strings.HasPrefix(name, "KUBE-") {
		return true
	}
	for _, p := range enforcerPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// enforcerPrefixes are the chain prefixes of the policy enforcers (and CNIs) whose rules
// are theirs to manage.
var enforcerPrefixes = []string{"cali-", "KUBE-NWPLCY-", "KUBE-POD-FW-", "WEAVE-", "AZURE-NPM", "CILIUM_", "ANTREA-", "FLANNEL-", "CNI-"}

func (r *run) makeDigest(rs *iptables.Ruleset) *digest {
	d := &digest{kp: kubeProxyDigest(rs)}
	if en := policy.DetectEnforcer(emptyCluster, map[string][]byte{rs.File.Name: rs.File.Data}); en.Name != "" {
		d.enforcer = en
	}
	if t := rs.Tables["filter"]; t != nil {
		if fwd := t.Chains["FORWARD"]; fwd != nil && fwd.Policy == "DROP" {
			d.fwdDrop, d.fwdLine = true, fwd.Pos.Line
			d.fwdText = strings.Clone(rs.File.Line(fwd.Pos.Line))
		}
		for _, hook := range []string{"INPUT", "FORWARD"} {
			walkChains(t, hook, func(ch *iptables.Chain, ru *iptables.Rule, via string) {
				verb := ""
				switch ru.Target.Kind {
				case iptables.TDrop:
					verb = "DROP"
				case iptables.TReject:
					verb = "REJECT"
				case iptables.TAccept:
					verb = "ACCEPT"
				default:
					return
				}
				ref := ruleRef{hook: hook, chain: ch.Name, line: ru.Pos.Line, text: strings.Clone(ru.Text), verb: verb, m: parseMatch(ru), via: via}
				if verb == "ACCEPT" {
					if hook == "FORWARD" && d.fwdDrop {
						d.fwdAccepts = append(d.fwdAccepts, ref)
					}
				} else if !k8sChain(ch.Name) {
					d.drops = append(d.drops, ref)
				}
			})
		}
	}
	d.shadows = shadowed(rs)
	return d
}

// walkChains visits the rules a built-in chain reaches, following jumps and gotos into
// user chains once each. Chains written by Kubernetes are visited (their ACCEPTs count)
// but not descended from.
func walkChains(t *iptables.Table, hook string, fn func(ch *iptables.Chain, ru *iptables.Rule, via string)) {
	seen := map[string]bool{}
	var visit func(name, via string)
	visit = func(name, via string) {
		ch := t.Chains[name]
		if ch == nil || seen[name] {
			return
		}
		seen[name] = true
		for _, ru := range ch.Rules {
			fn(ch, ru, via)
			if ru.Target.Kind != iptables.TJump && ru.Target.Kind != iptables.TGoto {
				continue
			}
			next := via
			if m := parseMatch(ru); next == "" && !m.empty() {
				next = strings.Clone(ru.Text)
			}
			visit(ru.Target.Chain, next)
		}
	}
	visit(hook, "")
}

// empty reports whether a match has no condition at all.
func (m match) empty() bool {
	return !m.src.set && !m.dst.set && !m.proto.set && !m.in.set && !m.out.set && !m.sport.set && !m.dport.set && len(m.other) == 0
}

// emptyCluster lets DetectEnforcer look at dumps only (the agents are looked for once).
var emptyCluster = &model.Cluster{}

// checkIPTables runs the rule checks on a node's host iptables-save.
func (r *run) checkIPTables(nd *nodeDump) error {
	f := nd.host.RuleFiles[model.IPTablesV4]
	if f == nil {
		return nil
	}
	d, err := r.cache.get(f, r)
	if err != nil {
		return err
	}
	r.checkKubeProxy(nd, f.Name, d.kp)
	r.checkForwardPolicy(nd, f.Name, d)
	r.checkFirewall(nd, f.Name, d)
	r.reportShadows(nd, f.Name, d.shadows)
	if d.enforcer.Name != "" {
		r.mu.Lock()
		// Nodes are read in parallel: keep the first dump by name, so the evidence is the
		// same on every run (as policy.DetectEnforcer chooses).
		if r.enforcer.Name == "" || f.Name < r.enforcerFile {
			r.enforcer, r.enforcerFile = d.enforcer, f.Name
			r.enforcer.Evidence = "its chains in " + f.Name
		}
		r.mu.Unlock()
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
