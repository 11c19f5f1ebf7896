// Command ipvsgen freezes netsim's IPVS test bundles (testdata/ipvs) from kube-proxy's own
// ipvs proxier (k8s.io/kubernetes/pkg/proxy/ipvs, v1.34.4) driven by Services and
// EndpointSlices, with its in-tree fake IPVS, ipset, iptables, sysctl and netlink
// interfaces: this machine's kernel has no IPVS, so kube-proxy's ipvs mode cannot run
// here, but its code decides every virtual service, real server, set entry, rule and
// kube-ipvs0 address the bundles hold. Pods, routes and addresses come from the real
// testbed bundle (testdata/bundles/two-node-iptables); kube-proxy's iptables-mode rules
// there are replaced by the ipvs proxier's.
//
//	cd e2e/tools/ipvsgen && go run . -base ../../../testdata/bundles/two-node-iptables -out ../../../testdata/ipvs
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	base := flag.String("base", "../../../testdata/bundles/two-node-iptables", "the testbed bundle to start from")
	out := flag.String("out", "../../../testdata/ipvs", "where to write the scenario bundles")
	flag.Parse()
	if err := run(*base, *out); err != nil {
		fmt.Fprintln(os.Stderr, "ipvsgen:", err)
		os.Exit(1)
	}
}

func run(base, out string) error {
	w, err := readWorld(base)
	if err != nil {
		return err
	}
	for _, sc := range scenarios() {
		dir := filepath.Join(out, sc.name)
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
		if err := build(base, dir, w.clone(), sc); err != nil {
			return fmt.Errorf("%s: %w", sc.name, err)
		}
		fmt.Println("wrote", dir)
	}
	return nil
}
