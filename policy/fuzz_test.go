package policy

import (
	"net/netip"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// inPrefixRef is the plain reference: compare the first bits of the two addresses.
func inPrefixRef(p netip.Prefix, a netip.Addr) bool {
	if p.Addr().Is4() != a.Is4() {
		return false
	}
	pb, ab := p.Addr().AsSlice(), a.AsSlice()
	for i := 0; i < p.Bits(); i++ {
		if (pb[i/8]>>(7-i%8))&1 != (ab[i/8]>>(7-i%8))&1 {
			return false
		}
	}
	return true
}

// FuzzIPBlock checks ipBlock (cidr minus excepts) against the bit-by-bit reference.
func FuzzIPBlock(f *testing.F) {
	f.Add([]byte{10, 244, 0, 0}, uint8(16), []byte{10, 244, 1, 0}, uint8(24), []byte{10, 244, 1, 7})
	f.Add([]byte{0, 0, 0, 0}, uint8(0), []byte{192, 168, 0, 0}, uint8(16), []byte{192, 168, 3, 3})
	f.Fuzz(func(t *testing.T, c []byte, cb uint8, x []byte, xb uint8, a []byte) {
		if len(c) != 4 || len(x) != 4 || len(a) != 4 {
			return
		}
		cidr := netip.PrefixFrom(netip.AddrFrom4([4]byte(c)), int(cb%33))
		exc := netip.PrefixFrom(netip.AddrFrom4([4]byte(x)), int(xb%33))
		addr := netip.AddrFrom4([4]byte(a))
		b := ipBlock{cidr: cidr.Masked(), except: []netip.Prefix{exc.Masked()}}
		want := inPrefixRef(cidr, addr) && !inPrefixRef(exc, addr)
		if got := b.contains(addr); got != want {
			t.Fatalf("%s except %s contains %s = %v, want %v", cidr, exc, addr, got, want)
		}
	})
}

// selectorRef is the plain reference for matchLabels and In/NotIn/Exists/DoesNotExist.
func selectorRef(s *metav1.LabelSelector, l map[string]string) bool {
	for k, v := range s.MatchLabels {
		if got, ok := l[k]; !ok || got != v {
			return false
		}
	}
	for _, r := range s.MatchExpressions {
		v, ok := l[r.Key]
		in := false
		for _, x := range r.Values {
			if ok && v == x {
				in = true
			}
		}
		switch r.Operator {
		case metav1.LabelSelectorOpIn:
			if !in {
				return false
			}
		case metav1.LabelSelectorOpNotIn:
			if in {
				return false
			}
		case metav1.LabelSelectorOpExists:
			if !ok {
				return false
			}
		case metav1.LabelSelectorOpDoesNotExist:
			if ok {
				return false
			}
		}
	}
	return true
}

// FuzzSelector checks the selectors policies are compiled with against the reference, over
// a small alphabet of keys and values so that matches are common.
func FuzzSelector(f *testing.F) {
	f.Add(uint8(1), uint8(2), uint8(0), uint8(3), uint8(5))
	f.Add(uint8(0), uint8(0), uint8(3), uint8(1), uint8(0))
	f.Fuzz(func(t *testing.T, ml, op, key, vals, podLabels uint8) {
		keys := []string{"app", "tier", "env"}
		values := []string{"a", "b"}
		s := &metav1.LabelSelector{}
		if ml&1 != 0 {
			s.MatchLabels = map[string]string{keys[ml>>1%3]: values[ml>>3%2]}
		}
		ops := []metav1.LabelSelectorOperator{metav1.LabelSelectorOpIn, metav1.LabelSelectorOpNotIn, metav1.LabelSelectorOpExists, metav1.LabelSelectorOpDoesNotExist}
		if op&4 != 0 {
			r := metav1.LabelSelectorRequirement{Key: keys[key%3], Operator: ops[op%4]}
			if r.Operator == metav1.LabelSelectorOpIn || r.Operator == metav1.LabelSelectorOpNotIn {
				for i, v := range values {
					if vals&(1<<i) != 0 {
						r.Values = append(r.Values, v)
					}
				}
				if len(r.Values) == 0 {
					r.Values = []string{"a"}
				}
			}
			s.MatchExpressions = append(s.MatchExpressions, r)
		}
		l := map[string]string{}
		for i, k := range keys {
			switch podLabels >> (2 * i) & 3 {
			case 1:
				l[k] = "a"
			case 2:
				l[k] = "b"
			}
		}
		sel, err := selector(s)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := sel.Matches(labels.Set(l)), selectorRef(s, l); got != want {
			t.Fatalf("selector %+v on %v = %v, want %v", s, l, got, want)
		}
	})
}
