package simulate

import (
	"net/netip"
	"strings"

	"github.com/netsim/netsim/rules/nft"
	"github.com/netsim/netsim/rules/routing"
)

// nftEnv adapts the namespace for nft's fib expressions and NAT statements.
type nftEnv struct{ e *NetNS }

func (v nftEnv) AddrType(a netip.Addr, iface string) string {
	return strings.ToLower(v.e.Router.AddrType(a, iface))
}

func (v nftEnv) Route(q nft.RouteQuery) (string, bool, bool) {
	rq := routing.Query{Dst: q.Dst, Src: q.Src, Mark: q.Mark, IIf: q.IIf}
	if q.Reverse {
		rq.IIf = ""
	}
	d := v.e.Router.Lookup(rq)
	switch d.Kind {
	case routing.Unknown:
		return "", false, false
	case routing.Local:
		return "lo", true, true
	case routing.Unicast:
		if len(d.Hops) > 0 {
			return d.Hops[0].Dev, true, true
		}
	}
	return "", false, true
}

func (v nftEnv) SourceFor(oif string, dst netip.Addr) (netip.Addr, bool) {
	return env(v).SourceFor(oif, dst)
}

func (v nftEnv) PrimaryAddr(iface string, ipv6 bool) (netip.Addr, bool) {
	return env(v).PrimaryAddr(iface, ipv6)
}
