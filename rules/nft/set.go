package nft

import (
	"fmt"
	"sort"
	"strings"
)

// setIndex makes lookups cheap: exact keys by their encoding, and the elements with an
// interval (or an interface wildcard) apart — sorted by start for a one-component set,
// where the kernel keeps intervals disjoint, else scanned.
type setIndex struct {
	exact  map[string]int
	ranged []int
	sorted bool
}

func (s *Set) ref() string {
	if s.Name == "" {
		return "{ ... }"
	}
	return "@" + s.Name
}

func wildcard(v Value) bool {
	return v.Kind == vStr && strings.HasSuffix(v.Str, "*") && !strings.HasSuffix(v.Str, `\*`)
}

// build indexes the elements; later elements with the same key replace nothing (the
// kernel refuses duplicates, so the first is kept).
func (s *Set) build() {
	ix := &setIndex{exact: make(map[string]int, len(s.Elems))}
	var buf []byte
	for i, e := range s.Elems {
		exact := true
		for j := range e.Lo {
			if cmp(e.Lo[j], e.Hi[j]) != 0 || wildcard(e.Lo[j]) {
				exact = false
			}
		}
		if !exact {
			ix.ranged = append(ix.ranged, i)
			continue
		}
		buf = buf[:0]
		for _, v := range e.Lo {
			buf = appendKey(buf, v)
		}
		if _, dup := ix.exact[string(buf)]; !dup {
			ix.exact[string(buf)] = i
		}
	}
	if len(s.Key) == 1 {
		ix.sorted = true
		for _, i := range ix.ranged {
			if wildcard(s.Elems[i].Lo[0]) {
				ix.sorted = false
			}
		}
		if ix.sorted {
			sort.SliceStable(ix.ranged, func(a, b int) bool { return cmp(s.Elems[ix.ranged[a]].Lo[0], s.Elems[ix.ranged[b]].Lo[0]) < 0 })
		}
	}
	s.idx = ix
}

func (e *Elem) matches(vals []Value, known []bool) bool {
	for i, x := range vals {
		if known != nil && !known[i] {
			continue
		}
		lo, hi := e.Lo[i], e.Hi[i]
		if lo.Kind != x.Kind {
			return false
		}
		if wildcard(lo) {
			if !eq(x, lo) {
				return false
			}
			continue
		}
		if cmp(x, lo) < 0 || cmp(x, hi) > 0 {
			return false
		}
	}
	return true
}

// find returns the index of the element holding the key, or -1.
func (s *Set) find(vals []Value) int {
	if s.idx == nil {
		s.build()
	}
	ix := s.idx
	var arr [64]byte
	buf := arr[:0]
	for _, v := range vals {
		buf = appendKey(buf, v)
	}
	best := -1
	if i, ok := ix.exact[string(buf)]; ok {
		best = i
	}
	if ix.sorted && len(ix.ranged) > 0 {
		x := vals[0]
		k := sort.Search(len(ix.ranged), func(k int) bool { return cmp(s.Elems[ix.ranged[k]].Lo[0], x) > 0 })
		if k > 0 {
			i := ix.ranged[k-1]
			if s.Elems[i].matches(vals, nil) && (best < 0 || i < best) {
				best = i
			}
		}
		return best
	}
	for _, i := range ix.ranged {
		if best >= 0 && i > best {
			break
		}
		if s.Elems[i].matches(vals, nil) {
			return i
		}
	}
	return best
}

// group is the element a key reaches (-1: none), with the branch that led there when the
// key had a numgen or jhash in it.
type group struct {
	elem  int
	label string
}

// lookup evaluates a key and finds its element. A numgen or jhash component makes one
// group per element reached; an unknown component is unknown unless no element could
// match the components that are known.
func lookup(c *ctx, key []expr, s *Set) ([]group, val) {
	vals := make([]Value, len(key))
	var known []bool
	multi := -1
	var mv val
	for i, k := range key {
		v := k.eval(c)
		switch v.st {
		case sAbsent:
			return nil, v
		case sUnknown:
			if known == nil {
				known = make([]bool, len(key))
				for j := range known {
					known[j] = true
				}
			}
			known[i] = false
			mv.why = v.why
			continue
		}
		if v.multi != nil {
			if multi >= 0 {
				return nil, unknownVal("a key with two numgen/jhash components")
			}
			multi, mv = i, v
			continue
		}
		if v.known != 0 {
			return nil, unknownVal(k.String() + " reads conntrack status bits netsim does not model")
		}
		vals[i] = v.v
	}
	if known != nil {
		if multi >= 0 {
			known[multi] = false
		}
		for i := range s.Elems {
			if s.Elems[i].matches(vals, known) {
				return nil, unknownVal(mv.why)
			}
		}
		return []group{{elem: -1}}, val{}
	}
	if multi < 0 {
		return []group{{elem: s.find(vals)}}, val{}
	}
	byElem := map[int]int{}
	var out []group
	for _, x := range mv.multi {
		vals[multi] = x
		e := s.find(vals)
		if g, seen := byElem[e]; seen {
			out[g].label += fmt.Sprintf(",%d", x.Num)
			continue
		}
		byElem[e] = len(out)
		out = append(out, group{elem: e, label: fmt.Sprintf("%s = %d", mv.label, x.Num)})
	}
	return out, val{}
}
