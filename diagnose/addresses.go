package diagnose

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/netsim/netsim/model"
)

// checkCIDRs reports nodes without a pod CIDR while others have one (FIELD-GUIDE 23),
// pod CIDRs that overlap each other or the Service CIDR, and node addresses inside
// either (FIELD-GUIDE 24).
func (r *run) checkCIDRs() {
	withCIDR := 0
	for _, n := range r.c.Nodes {
		if len(n.PodCIDRs) > 0 {
			withCIDR++
		}
	}
	if withCIDR > 0 {
		for _, n := range r.c.Nodes {
			if len(n.PodCIDRs) == 0 {
				r.add(Finding{Code: "node-no-podcidr", Severity: Error, Node: n.Name,
					Message:  fmt.Sprintf("node %s has no podCIDR while %d other nodes have one: the CNI cannot give its pods addresses (is the cluster CIDR exhausted?)", n.Name, withCIDR),
					Evidence: []Evidence{object("node", n.Name, n.Pos)},
					Fix:      "check kube-controller-manager's --cluster-cidr and --node-cidr-mask-size (the range may be full), or assign the node a podCIDR"})
			}
		}
	}
	// Node pod CIDRs against each other: sorted by address, an overlap shows between
	// neighbours in the order.
	type owned struct {
		p    netip.Prefix
		node *model.Node
	}
	var all []owned
	for _, n := range r.c.Nodes {
		for _, p := range n.PodCIDRs {
			all = append(all, owned{p, n})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].p.Addr().Less(all[j].p.Addr()) })
	for i := 1; i < len(all); i++ {
		for j := i - 1; j >= 0 && j >= i-4; j-- {
			if all[j].p.Overlaps(all[i].p) && all[j].node != all[i].node {
				r.add(Finding{Code: "podcidr-overlap", Severity: Error, Node: all[i].node.Name,
					Message:  fmt.Sprintf("nodes %s and %s have overlapping pod CIDRs %s and %s: their pods may get the same addresses, and routes to one node's pods lead to the other", all[j].node.Name, all[i].node.Name, all[j].p, all[i].p),
					Evidence: []Evidence{object("node", all[j].node.Name, all[j].node.Pos), object("node", all[i].node.Name, all[i].node.Pos)},
					Fix:      "give each node a distinct podCIDR (delete and re-register the node)"})
			}
		}
	}
	svcCIDRs := r.serviceCIDRs()
	for _, s := range svcCIDRs {
		for _, p := range r.podCIDRs {
			if s.p.Overlaps(p) {
				r.add(Finding{Code: "cidr-overlap", Severity: Error,
					Message:  fmt.Sprintf("the Service CIDR %s overlaps the pod CIDR %s: Service addresses and pod addresses can collide, and kube-proxy translates traffic meant for pods", s.p, p),
					Evidence: []Evidence{s.ev},
					Fix:      "choose disjoint --service-cluster-ip-range and --cluster-cidr"})
			}
		}
	}
	for _, n := range r.c.Nodes {
		for _, a := range n.Addrs {
			in := ""
			if r.inPodCIDR(a) {
				in = "the pod CIDR"
			}
			for _, s := range svcCIDRs {
				if s.p.Contains(a) {
					in = "the Service CIDR " + s.p.String()
				}
			}
			if in != "" {
				r.add(Finding{Code: "cidr-overlap", Severity: Error, Node: n.Name,
					Message:  fmt.Sprintf("node %s's address %s is inside %s: traffic to the node is routed (or translated) as pod or Service traffic", n.Name, a, in),
					Evidence: []Evidence{object("node", n.Name, n.Pos)},
					Fix:      "choose pod and Service ranges that do not contain the nodes' network"})
			}
		}
	}
}

type cidrEv struct {
	p  netip.Prefix
	ev Evidence
}

// serviceCIDRs are the Service ranges: the manifest's and the ServiceCIDR objects'.
func (r *run) serviceCIDRs() []cidrEv {
	var out []cidrEv
	for _, s := range r.c.Manifest.ServiceCIDRs {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, cidrEv{p.Masked(), Evidence{File: "manifest.yaml", Text: "serviceCIDRs: " + s}})
		}
	}
	for _, sc := range r.c.ServiceCIDRs {
		for _, s := range sc.Spec.CIDRs {
			if p, err := netip.ParsePrefix(s); err == nil {
				out = append(out, cidrEv{p.Masked(), object("servicecidr", sc.Name, sc.Pos)})
			}
		}
	}
	return out
}

// checkAPIAddresses reports live pods sharing an address, and pods with a node's address
// (FIELD-GUIDE 9), from the API objects.
func (r *run) checkAPIAddresses() {
	first := map[netip.Addr]*model.Pod{}
	for _, p := range r.c.Pods {
		if p.HostNetwork() || p.Terminal() {
			continue
		}
		for _, a := range p.IPs {
			if q := first[a]; q != nil {
				r.add(Finding{Code: "duplicate-address", Severity: Error, Node: p.Spec.NodeName,
					Message:  fmt.Sprintf("pods %s and %s both have address %s: replies go to whichever the network finds first", q.Key(), p.Key(), a),
					Evidence: []Evidence{object("pod", q.Key(), q.Pos), object("pod", p.Key(), p.Pos)},
					Fix:      "delete one of the pods; check the CNI's IPAM (its state may be lost or shared)"})
				continue
			}
			first[a] = p
			if n := r.c.NodeByAddr(a); n != nil {
				r.add(Finding{Code: "duplicate-address", Severity: Error, Node: p.Spec.NodeName,
					Message:  fmt.Sprintf("pod %s has address %s, which is node %s's", p.Key(), a, n.Name),
					Evidence: []Evidence{object("pod", p.Key(), p.Pos), object("node", n.Name, n.Pos)},
					Fix:      "keep pod ranges apart from the nodes' network; recreate the pod"})
			}
		}
	}
}

// holders indexes every address the dumps show, by address.
func (r *run) holders() map[netip.Addr][]heldAddr {
	out := map[netip.Addr][]heldAddr{}
	for _, name := range sortedKeys(r.nodes) {
		for _, h := range r.nodes[name].addrs {
			out[h.addr] = append(out[h.addr], h)
		}
	}
	return out
}

// checkDuplicateAddrs reports an address configured in two namespaces (two nodes, a
// node and a pod, two pods), except Service addresses, which every node may hold
// (FIELD-GUIDE 9).
func (r *run) checkDuplicateAddrs(idx map[netip.Addr][]heldAddr) {
	var addrs []netip.Addr
	for a, hs := range idx {
		if len(hs) > 1 {
			addrs = append(addrs, a)
		}
	}
	sort.Slice(addrs, func(i, j int) bool { return addrs[i].Less(addrs[j]) })
	for _, a := range addrs {
		if len(r.c.ServicesByIP(a)) > 0 {
			continue
		}
		hs := idx[a]
		places := map[string]bool{}
		var where []string
		var ev []Evidence
		for _, h := range hs {
			k := h.node + " " + h.netns
			if places[k] {
				continue
			}
			places[k] = true
			where = append(where, fmt.Sprintf("%s %s dev %s", h.node, h.netns, h.dev))
			ev = append(ev, at(h.pos, fmt.Sprintf("%s on %s", a, h.dev)))
		}
		if len(where) < 2 {
			continue
		}
		owner := ""
		if p := r.c.PodByIP(a); p != nil {
			owner = " (pod " + p.Key() + "'s address)"
		} else if n := r.c.NodeByAddr(a); n != nil {
			owner = " (node " + n.Name + "'s address)"
		}
		r.add(Finding{Code: "duplicate-address", Severity: Error, Node: hs[0].node,
			Message:  fmt.Sprintf("address %s%s is configured in %d places: %s; traffic to it, and replies from it, reach whichever answers ARP first", a, owner, len(where), strings.Join(where, "; ")),
			Evidence: ev,
			Fix:      fmt.Sprintf("remove %s from every device but its owner's (ip addr del %s/... dev DEV)", a, a)})
	}
}

// checkNeighbours reports static neighbour entries whose MAC is not that of the device
// holding the address (FIELD-GUIDE 8).
func (r *run) checkNeighbours(idx map[netip.Addr][]heldAddr) {
	for _, name := range sortedKeys(r.nodes) {
		for _, hn := range r.nodes[name].neighs {
			hs := idx[hn.n.Dst]
			if len(hs) != 1 || hs[0].mac == "" {
				continue
			}
			owner := hs[0]
			if owner.node == hn.node && owner.netns == hn.netns {
				continue
			}
			if strings.EqualFold(owner.mac, hn.n.LLAddr) {
				continue
			}
			r.add(Finding{Code: "neighbour-wrong-mac", Severity: Error, Node: hn.node,
				Message: fmt.Sprintf("%s %s has a static neighbour entry for %s with MAC %s, but %s is held by %s %s dev %s, whose MAC is %s: frames for it go nowhere",
					hn.node, hn.netns, hn.n.Dst, hn.n.LLAddr, hn.n.Dst, owner.node, owner.netns, owner.dev, owner.mac),
				Evidence: []Evidence{at(hn.n.Pos, hn.n.String()), at(owner.pos, owner.dev+" "+owner.mac)},
				Fix:      fmt.Sprintf("on %s: ip neigh replace %s lladdr %s dev %s (or delete the static entry)", hn.node, hn.n.Dst, owner.mac, hn.n.Dev)})
		}
	}
}
