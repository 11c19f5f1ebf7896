package diagnose

import (
	"net/netip"
	"path"
	"strings"

	"github.com/netsim/netsim/bundle"
	"github.com/netsim/netsim/model"
	"github.com/netsim/netsim/model/iproute"
	"github.com/netsim/netsim/model/source"
	"github.com/netsim/netsim/rules/routing"
)

// nodeInfo is what the cross-node checks need from one node's dump; the dump itself is
// dropped once the node is summarised, so that a big bundle is never all in memory.
type nodeInfo struct {
	name string
	// addrs are the addresses held in the node's namespaces (host and pods).
	addrs []heldAddr
	// neighs are the static (PERMANENT) neighbour entries with a MAC.
	neighs []heldNeigh
	// gateways[i] is the next hop of this node's route to c.Nodes[i]'s pod CIDR (invalid:
	// none, on-link or not a gateway route); gwPos the route.
	gateways []netip.Addr
	gwPos    []source.Pos
	gwDev    []string
	// strict are the host devices with strict rp_filter, and the setting that makes it so;
	// back[i] the device this node's route to c.Nodes[i]'s pod CIDR leaves through (only
	// computed when strict is not empty).
	strict map[string]Evidence
	back   []string
	// fdbs are VXLAN forwarding entries whose remote endpoint must be checked against
	// the other nodes' addresses.
	fdbs []fdbCheck
}

// heldAddr is an address configured in a namespace.
type heldAddr struct {
	addr  netip.Addr
	node  string
	netns string // "host" or "pod/NS/NAME"
	dev   string
	mac   string
	pos   source.Pos
}

// heldNeigh is a static neighbour entry.
type heldNeigh struct {
	n     iproute.Neigh
	node  string
	netns string
}

// fdbCheck is a VXLAN route to another node's pod CIDR and the tunnel endpoint its
// forwarding entry sends to.
type fdbCheck struct {
	target string // the node whose pod CIDR it is
	dst    netip.Addr
	pos    source.Pos
}

// scanNode reads one node's dump, runs the checks that need only it, and summarises it.
func (r *run) scanNode(name string) (*nodeInfo, error) {
	b := r.c.Bundle
	dir := bundle.NodeDir(name)
	host, err := model.LoadNetNS(b, dir, "host")
	if err != nil {
		return nil, err
	}
	_, podDirs := b.List(path.Join(dir, "pods"))
	pods := map[string]*model.NetNS{}
	for _, pd := range podDirs {
		ns, pn, ok := strings.Cut(pd, "_")
		if !ok {
			continue
		}
		p, err := model.LoadNetNS(b, path.Join(dir, "pods", pd), "pod/"+ns+"/"+pn)
		if err != nil {
			return nil, err
		}
		pods[ns+"/"+pn] = p
	}
	info := &nodeInfo{name: name, strict: map[string]Evidence{}}
	router := routing.New(host.Routes, host.Rules, host.Links, host.Sysctls)
	nd := &nodeDump{name: name, host: host, pods: pods, router: router, info: info}
	r.checkSysctls(nd)
	if err := r.checkIPTables(nd); err != nil {
		return nil, err
	}
	rs, err := parseNFT(nd)
	if err != nil {
		return nil, err
	}
	r.checkNFTFirewall(nd, rs)
	r.checkKubeProxyNFT(nd, rs)
	r.checkRoutes(nd)
	r.checkBlackholes(nd)
	r.checkPods(nd)
	r.checkMTU(nd)
	r.checkHairpin(nd)
	r.summarise(nd)
	return info, nil
}

// nodeDump is one node's state while it is being checked.
type nodeDump struct {
	name   string
	host   *model.NetNS
	pods   map[string]*model.NetNS // by namespace/name
	router *routing.Router
	info   *nodeInfo
}

// summarise keeps the addresses and static neighbours of every namespace of the node.
func (r *run) summarise(nd *nodeDump) {
	add := func(ns *model.NetNS) {
		for _, l := range ns.Links {
			for _, a := range l.Addrs {
				ip := a.Prefix.Addr()
				if ip.IsLoopback() || ip.IsLinkLocalUnicast() || a.Scope == "host" || l.Name == "lo" {
					continue
				}
				nd.info.addrs = append(nd.info.addrs, heldAddr{addr: ip, node: nd.name, netns: ns.Name, dev: l.Name, mac: l.MAC, pos: a.Pos})
			}
		}
		for _, n := range ns.Neighs {
			if n.LLAddr != "" && hasState(n.State, "PERMANENT") {
				nd.info.neighs = append(nd.info.neighs, heldNeigh{n: n, node: nd.name, netns: ns.Name})
			}
		}
	}
	add(nd.host)
	for _, k := range sortedKeys(nd.pods) {
		add(nd.pods[k])
	}
}

func hasState(states []string, s string) bool {
	for _, v := range states {
		if v == s {
			return true
		}
	}
	return false
}
