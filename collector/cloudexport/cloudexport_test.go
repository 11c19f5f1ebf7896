package cloudexport

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/netsim/netsim/bundle"
)

func TestRegistry(t *testing.T) {
	called := false
	Register("zz-test", func(context.Context, Options, Put) ([]bundle.Gap, error) { called = true; return nil, nil })
	e, ok := Lookup("zz-test")
	if !ok {
		t.Fatal("not registered")
	}
	e(context.Background(), Options{}, nil)
	if !called {
		t.Error("Lookup returned another exporter")
	}
	if _, ok := Lookup("nope"); ok {
		t.Error("an unknown name was found")
	}
	if n := Names(); !slices.IsSorted(n) || !slices.Contains(n, "zz-test") {
		t.Errorf("Names() = %q", n)
	}
}

type sdkish struct {
	GroupId     *string
	Description *string
	FromPort    *int32
	Tags        []string
	Nested      *struct{ A, B *string }
	Big         int64 `json:",string"`
}

func TestJSON(t *testing.T) {
	id, zero := "sg-1", int32(0)
	tests := []struct {
		name   string
		v      any
		indent string
		want   string
	}{
		{"nil pointers are left out, zero values kept", map[string]any{"SecurityGroups": []sdkish{{GroupId: &id, FromPort: &zero, Big: 9007199254740993}}}, "    ",
			"{\n    \"SecurityGroups\": [\n        {\n            \"Big\": \"9007199254740993\",\n            \"FromPort\": 0,\n            \"GroupId\": \"sg-1\"\n        }\n    ]\n}\n"},
		{"an empty list stays a list", []sdkish{}, "  ", "[]\n"},
		{"nulls in a list stay", []any{nil, 1}, "", "[null,1]\n"},
		{"large numbers are not rounded", map[string]any{"n": json.Number("12345678901234567890")}, "", "{\"n\":12345678901234567890}\n"},
		{"no HTML escaping", map[string]string{"d": "a<b & c>d"}, "", "{\"d\":\"a<b & c>d\"}\n"},
	}
	for _, tc := range tests {
		got, err := JSON(tc.v, tc.indent)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if string(got) != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
	if _, err := JSON(func() {}, ""); err == nil {
		t.Error("a func encoded")
	}
}

// FuzzJSON: for any JSON document, JSON writes valid JSON equal to the input with the
// null members of objects removed, and never panics.
func FuzzJSON(f *testing.F) {
	for _, s := range []string{`{"a":null,"b":[null,{"c":null,"d":1}]}`, `[]`, `{"x":{"y":{"z":null}}}`, `12345678901234567890`, `"s"`, `null`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if !json.Valid([]byte(in)) {
			return
		}
		out, err := JSON(json.RawMessage(in), "  ")
		if err != nil {
			// json.Marshal of a RawMessage compacts it; only invalid input fails.
			t.Fatalf("valid input %q: %v", in, err)
		}
		if !json.Valid(out) {
			t.Fatalf("invalid output %q", out)
		}
		var want, got any
		d := json.NewDecoder(strings.NewReader(in))
		d.UseNumber()
		d.Decode(&want)
		d = json.NewDecoder(bytes.NewReader(out))
		d.UseNumber()
		d.Decode(&got)
		if !reflect.DeepEqual(dropNulls(want), got) {
			t.Fatalf("%q became %q", in, out)
		}
	})
}

func TestNumber(t *testing.T) {
	for _, c := range []struct {
		v    any
		n    int
		isOK bool
	}{{json.Number("42"), 42, true}, {float64(7), 7, true}, {"13", 13, true}, {"x", 0, false}, {nil, 0, false}, {json.Number("1.5"), 0, false}} {
		if n, ok := Number(c.v); n != c.n || ok != c.isOK {
			t.Errorf("Number(%#v) = %d, %v", c.v, n, ok)
		}
	}
}
