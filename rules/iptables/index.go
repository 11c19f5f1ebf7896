package iptables

import (
	"net/netip"
	"sort"
)

// dispatchMin is the chain length from which rules are indexed by destination.
const dispatchMin = 32

// dispatchIndex lets a long chain be evaluated without scanning every rule: a rule with a
// plain (not negated) -d host/32 or /128 can only match packets to that address, so for a
// packet only the rules for its destination and the rules without such a condition are
// candidates. Order is kept: candidates are visited by rule position.
type dispatchIndex struct {
	byDst   map[netip.Addr][]int // rule indexes, ascending
	generic []int                // rules without an exact destination, ascending
}

func (c *Chain) buildDispatch() {
	if len(c.Rules) < dispatchMin {
		return
	}
	d := &dispatchIndex{byDst: map[netip.Addr][]int{}}
	for i, r := range c.Rules {
		if a, ok := exactDst(r); ok {
			d.byDst[a] = append(d.byDst[a], i)
		} else {
			d.generic = append(d.generic, i)
		}
	}
	c.dispatch = d
}

func exactDst(r *Rule) (netip.Addr, bool) {
	for _, c := range r.Conds {
		if m, ok := c.pred.(netMatch); ok && m.dst && !c.Neg && m.prefix.Bits() == m.prefix.Addr().BitLen() {
			return m.prefix.Addr(), true
		}
	}
	return netip.Addr{}, false
}

// next returns the index of the first rule at or after from that could match a packet to
// dst, or -1.
func (c *Chain) next(from int, dst netip.Addr) int {
	if c.dispatch == nil {
		if from < len(c.Rules) {
			return from
		}
		return -1
	}
	best := -1
	if g := c.dispatch.generic; len(g) > 0 {
		if k := sort.SearchInts(g, from); k < len(g) {
			best = g[k]
		}
	}
	if s := c.dispatch.byDst[dst.Unmap()]; len(s) > 0 {
		if k := sort.SearchInts(s, from); k < len(s) && (best < 0 || s[k] < best) {
			best = s[k]
		}
	}
	return best
}
