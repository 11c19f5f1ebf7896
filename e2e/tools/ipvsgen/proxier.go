package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"reflect"
	"sort"
	"time"
	"unsafe"

	v1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"
	"k8s.io/component-helpers/node/util/sysctl"
	sysctltest "k8s.io/component-helpers/node/util/sysctl/testing"
	"k8s.io/kubernetes/pkg/proxy/conntrack"
	"k8s.io/kubernetes/pkg/proxy/healthcheck"
	"k8s.io/kubernetes/pkg/proxy/ipvs"
	ipsettest "k8s.io/kubernetes/pkg/proxy/ipvs/ipset/testing"
	netlinktest "k8s.io/kubernetes/pkg/proxy/ipvs/testing"
	utilipvs "k8s.io/kubernetes/pkg/proxy/ipvs/util"
	ipvstest "k8s.io/kubernetes/pkg/proxy/ipvs/util/testing"
	proxyutil "k8s.io/kubernetes/pkg/proxy/util"
	proxyutiltest "k8s.io/kubernetes/pkg/proxy/util/testing"
	utiliptables "k8s.io/kubernetes/pkg/util/iptables"
	iptablestest "k8s.io/kubernetes/pkg/util/iptables/testing"
)

// nodeProxy is kube-proxy's real ipvs proxier for one node, built by NewProxier as
// kube-proxy builds it, whose kernel interfaces are kube-proxy's own fakes (the ones its
// unit tests use): IPVS, ipset, iptables, sysctl, and — swapped in after construction,
// as NewFakeProxier does in proxier_test.go — netlink (kube-ipvs0), the host's
// interfaces, conntrack and the health-check server. Nothing touches this machine's
// network.
type nodeProxy struct {
	p       *ipvs.Proxier
	ipvs    *ipvstest.FakeIPVS
	ipset   *ipsettest.FakeIPSet
	ipt     *iptablestest.FakeIPTables
	sysctl  *sysctltest.Fake
	netlink *netlinktest.FakeNetlinkHandle
	sync    func() error
}

// hostAddrs are a node's device addresses (from its addr.json), kube-ipvs0 excluded.
type hostAddrs map[string][]*net.IPNet

func newNodeProxy(node string, nodeIP net.IP, addrs hostAddrs, clusterCIDR string) (*nodeProxy, error) {
	n := &nodeProxy{
		ipvs:    ipvstest.NewFake(),
		ipset:   ipsettest.NewFake("7.1"),
		ipt:     iptablestest.NewFake(),
		sysctl:  sysctltest.NewFake(),
		netlink: netlinktest.NewFakeNetlinkHandle(false),
	}
	// What a node shows before kube-proxy starts.
	for k, v := range map[string]int{"net/ipv4/vs/conntrack": 0, "net/ipv4/vs/conn_reuse_mode": 1,
		"net/ipv4/vs/expire_nodest_conn": 0, "net/ipv4/vs/expire_quiescent_template": 0, "net/ipv4/ip_forward": 1} {
		n.sysctl.Settings[k] = v
	}
	local := proxyutil.NewDetectLocalByCIDR(clusterCIDR)
	p, err := ipvs.NewProxier(context.Background(), v1.IPv4Protocol, n.ipt, n.ipvs, n.ipset, sysctl.Interface(n.sysctl),
		time.Hour, 0, nil, false, 0, 0, 0, false, 14, local, node, nodeIP, nil, nil, "rr", nil, false)
	if err != nil {
		return nil, fmt.Errorf("NewProxier: %w", err)
	}
	network := proxyutiltest.NewFakeNetwork()
	devs := make([]string, 0, len(addrs))
	for d := range addrs {
		devs = append(devs, d)
	}
	sort.Strings(devs)
	for i, d := range devs {
		var ips []string
		var nas []net.Addr
		for _, a := range addrs[d] {
			ips = append(ips, a.IP.String())
			nas = append(nas, a)
		}
		n.netlink.SetLocalAddresses(d, ips...)
		network.AddInterfaceAddr(&net.Interface{Index: i + 2, Name: d, Flags: net.FlagUp}, nas)
	}
	setField(p, "netlinkHandle", ipvs.NetLinkHandle(n.netlink))
	setField(p, "networkInterfacer", proxyutil.NetworkInterfacer(network))
	setField(p, "conntrack", conntrack.Interface(conntrack.NewFake()))
	setField(p, "serviceHealthServer", healthcheck.NewFakeServiceHealthServer())
	runner := getField(p, "syncRunner").Elem()
	fn := reflect.NewAt(runner.FieldByName("fn").Type(), unsafe.Pointer(runner.FieldByName("fn").UnsafeAddr())).Elem().Interface().(func() error)
	n.p, n.sync = p, fn
	return n, nil
}

func getField(p *ipvs.Proxier, name string) reflect.Value {
	f := reflect.ValueOf(p).Elem().FieldByName(name)
	return reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem()
}

func setField(p *ipvs.Proxier, name string, v any) {
	getField(p, name).Set(reflect.ValueOf(v))
}

// apply feeds the proxier Services and EndpointSlices and runs one syncProxyRules, as
// kube-proxy does after its informers have synced.
func (n *nodeProxy) apply(svcs []*v1.Service, slices []*discovery.EndpointSlice) error {
	for _, s := range svcs {
		n.p.OnServiceAdd(s)
	}
	for _, s := range slices {
		n.p.OnEndpointSliceAdd(s)
	}
	n.p.OnServiceSynced()
	n.p.OnEndpointSlicesSynced()
	return n.sync()
}

// update replaces what the proxier knows with a newer view and syncs again.
func (n *nodeProxy) update(oldSvcs, svcs []*v1.Service, oldSlices, slices []*discovery.EndpointSlice) error {
	for _, s := range oldSlices {
		n.p.OnEndpointSliceDelete(s)
	}
	for _, s := range oldSvcs {
		n.p.OnServiceDelete(s)
	}
	for _, s := range svcs {
		n.p.OnServiceAdd(s)
	}
	for _, s := range slices {
		n.p.OnEndpointSliceAdd(s)
	}
	return n.sync()
}

// setActive gives every real server active connections, as if clients were connected:
// the graceful termination manager then drains (weight 0) rather than deletes them.
func (n *nodeProxy) setActive(conns int) {
	for _, rss := range n.ipvs.Destinations {
		for _, rs := range rss {
			rs.ActiveConn = conns
		}
	}
}

// iptablesSave renders the fake's tables as iptables-save prints them.
func (n *nodeProxy) iptablesSave() []byte {
	var b bytes.Buffer
	for _, t := range []utiliptables.Table{utiliptables.TableMangle, utiliptables.TableFilter, utiliptables.TableNAT} {
		var tb bytes.Buffer
		if err := n.ipt.SaveInto(t, &tb); err != nil {
			continue
		}
		b.Write(tb.Bytes())
	}
	return b.Bytes()
}

// virtualServers returns the fake IPVS's services with their real servers, sorted.
func (n *nodeProxy) virtualServers() []vsEntry {
	var out []vsEntry
	for k, vs := range n.ipvs.Services {
		out = append(out, vsEntry{vs, n.ipvs.Destinations[k]})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].vs, out[j].vs
		if !a.Address.Equal(b.Address) {
			return bytes.Compare(a.Address.To16(), b.Address.To16()) < 0
		}
		if a.Protocol != b.Protocol {
			return a.Protocol < b.Protocol
		}
		return a.Port < b.Port
	})
	return out
}

type vsEntry struct {
	vs    *utilipvs.VirtualServer
	reals []*utilipvs.RealServer
}

// boundVIPs are the addresses kube-proxy bound to kube-ipvs0.
func (n *nodeProxy) boundVIPs() []string {
	addrs, _ := n.netlink.ListBindAddress("kube-ipvs0")
	sort.Strings(addrs)
	return addrs
}
