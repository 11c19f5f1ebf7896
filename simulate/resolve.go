package simulate

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/netsim/netsim/model"
)

// UsageError is a SRC or DST that names nothing, or names two things.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

func usagef(format string, args ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, args...)}
}

// Resolve turns a SRC or DST of ../shared/CONTRACT.md §1 into an endpoint: pod/NS/NAME,
// svc/NS/NAME (service/), node/NAME, NS/NAME (a pod, else a Service), an address (a pod,
// a node, a Service address, or outside), or NAME.NS.svc[.ZONE].
func Resolve(c *model.Cluster, s string) (Endpoint, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return resolveAddr(c, a.Unmap()), nil
	}
	if kind, rest, ok := strings.Cut(s, "/"); ok {
		switch kind {
		case "pod", "po", "pods":
			ns, name, ok := strings.Cut(rest, "/")
			if !ok {
				return Endpoint{}, usagef("%q: want pod/NAMESPACE/NAME", s)
			}
			return resolvePod(c, ns, name)
		case "svc", "service", "services":
			ns, name, ok := strings.Cut(rest, "/")
			if !ok {
				return Endpoint{}, usagef("%q: want svc/NAMESPACE/NAME", s)
			}
			return resolveService(c, ns, name)
		case "node", "nodes", "no":
			return resolveNode(c, rest)
		}
		if strings.Contains(rest, "/") {
			return Endpoint{}, usagef("%q: want pod/NS/NAME, svc/NS/NAME, node/NAME, NS/NAME, an address or NAME.NS.svc", s)
		}
		p, perr := resolvePod(c, kind, rest)
		v, serr := resolveService(c, kind, rest)
		switch {
		case perr == nil && serr == nil:
			return Endpoint{}, usagef("%q names both pod/%s/%s and svc/%s/%s: say which", s, kind, rest, kind, rest)
		case perr == nil:
			return p, nil
		case serr == nil:
			return v, nil
		}
		return Endpoint{}, usagef("%q: no pod or Service %s/%s in the bundle", s, kind, rest)
	}
	if name, ns, zone, ok := dnsName(c, s); ok {
		e, err := resolveService(c, ns, name)
		if err != nil {
			return Endpoint{}, usagef("%q: %v", s, err)
		}
		e.How = s + " is Service " + ns + "/" + name + " (cluster domain " + zone + ")"
		return e, nil
	}
	if _, err := resolveNode(c, s); err == nil {
		return Endpoint{}, usagef("%q: write node/%s for the node", s, s)
	}
	return Endpoint{}, usagef("%q: want pod/NS/NAME, svc/NS/NAME, node/NAME, NS/NAME, an address or NAME.NS.svc[.ZONE]", s)
}

// dnsName splits NAME.NS.svc[.ZONE], where ZONE must be the bundle's cluster domain.
func dnsName(c *model.Cluster, s string) (name, ns, zone string, ok bool) {
	zone = "cluster.local"
	if c.Manifest != nil && c.Manifest.ClusterDomain != "" {
		zone = c.Manifest.ClusterDomain
	}
	s = strings.TrimSuffix(s, ".")
	parts := strings.SplitN(s, ".", 4)
	if len(parts) < 3 || parts[2] != "svc" {
		return "", "", "", false
	}
	if len(parts) == 4 && parts[3] != zone {
		return "", "", "", false
	}
	return parts[0], parts[1], zone, true
}

func resolvePod(c *model.Cluster, ns, name string) (Endpoint, error) {
	p := c.Pod(ns, name)
	if p == nil {
		return Endpoint{}, usagef("no pod %s/%s in the bundle", ns, name)
	}
	e := Endpoint{Kind: PodEndpoint, Name: "pod/" + ns + "/" + name, Node: p.Spec.NodeName, Pod: p.Key()}
	if p.HostNetwork() {
		e.How = "pod " + p.Key() + " uses its node's network namespace"
		if n := c.Node(p.Spec.NodeName); n != nil && len(n.InternalIPs()) > 0 {
			e.Addr = n.InternalIPs()[0]
		}
		return e, nil
	}
	if len(p.IPs) > 0 {
		e.Addr = p.IPs[0]
	}
	return e, nil
}

func resolveService(c *model.Cluster, ns, name string) (Endpoint, error) {
	s := c.Service(ns, name)
	if s == nil {
		return Endpoint{}, usagef("no Service %s/%s in the bundle", ns, name)
	}
	e := Endpoint{Kind: ServiceEndpoint, Name: "svc/" + ns + "/" + name}
	if len(s.ClusterIPs) > 0 {
		e.Addr = s.ClusterIPs[0]
	}
	return e, nil
}

func resolveNode(c *model.Cluster, name string) (Endpoint, error) {
	n := c.Node(name)
	if n == nil {
		if !c.HasNodeState(name) {
			return Endpoint{}, usagef("no node %s in the bundle", name)
		}
		return Endpoint{Kind: NodeEndpoint, Name: "node/" + name, Node: name}, nil
	}
	e := Endpoint{Kind: NodeEndpoint, Name: "node/" + name, Node: name}
	if ips := n.InternalIPs(); len(ips) > 0 {
		e.Addr = ips[0]
	} else if len(n.Addrs) > 0 {
		e.Addr = n.Addrs[0]
	}
	return e, nil
}

func resolveAddr(c *model.Cluster, a netip.Addr) Endpoint {
	if p := c.PodByIP(a); p != nil {
		e, _ := resolvePod(c, p.Namespace, p.Name)
		e.Addr, e.How = a, a.String()+" is pod "+p.Key()
		return e
	}
	if n := c.NodeByAddr(a); n != nil {
		return Endpoint{Kind: NodeEndpoint, Name: "node/" + n.Name, Node: n.Name, Addr: a, How: a.String() + " is node " + n.Name}
	}
	if svcs := c.ServicesByIP(a); len(svcs) > 0 {
		s := svcs[0].Service
		return Endpoint{Kind: ServiceEndpoint, Name: "svc/" + s.Key(), Addr: a, How: a.String() + " is the " + string(svcs[0].Kind) + " of Service " + s.Key()}
	}
	return Endpoint{Kind: ExternalEndpoint, Name: a.String(), Addr: a, How: a.String() + " is outside the cluster"}
}
