package azure

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/netsim/netsim/cloud"
	"github.com/netsim/netsim/model/source"
)

// The exports come in two shapes: what `az network ... list -o json` prints (the ARM
// resource with its "properties" flattened into the object, camelCase) and the raw ARM
// resource an SDK collector writes (the same keys nested under "properties"). Both are
// read through one tree of JSON values that remembers where each value starts, so that
// every object and rule cites its own line; a key is looked up on the object, then under
// its "properties", then without regard to case (az has printed "privateIpAddress" and
// "privateIPAddress" in different releases).

// kind is a JSON value's type.
type kind uint8

const (
	kNull kind = iota
	kBool
	kNum
	kStr
	kArr
	kObj
)

func (k kind) String() string {
	return [...]string{"null", "a boolean", "a number", "a string", "a list", "an object"}[k]
}

// node is one JSON value with its byte offset in the file.
type node struct {
	k    kind
	off  int64
	b    bool
	s    string // a string, or a number's text
	arr  []*node
	keys []string
	obj  map[string]*node
	f    *source.File
}

// pos is the line the value starts on.
func (n *node) pos() source.Pos { return n.f.PosAt(n.off) }

func (n *node) errf(format string, args ...any) error {
	return source.Errorf(n.pos(), format, args...)
}

// parseTree reads one file: the JSON list az prints (several lists back to back read
// as one), or an object (lb-backend-health).
func parseTree(f *source.File) ([]*node, error) {
	dec := json.NewDecoder(bytes.NewReader(f.Data))
	dec.UseNumber()
	var docs []*node
	for {
		n, err := readValue(f, dec)
		if err == io.EOF {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		docs = append(docs, n)
	}
}

// maxDepth bounds nesting, so that a hostile file cannot exhaust the stack.
const maxDepth = 64

func readValue(f *source.File, dec *json.Decoder) (*node, error) {
	return readDepth(f, dec, 0)
}

func readDepth(f *source.File, dec *json.Decoder, depth int) (*node, error) {
	if depth > maxDepth {
		return nil, source.Errorf(f.PosAt(dec.InputOffset()), "JSON nested deeper than %d levels", maxDepth)
	}
	off := cloud.SkipJSONSpace(f.Data, dec.InputOffset())
	tok, err := dec.Token()
	if err != nil {
		if err == io.EOF && depth == 0 {
			return nil, io.EOF
		}
		return nil, jsonErr(f, dec.InputOffset(), err)
	}
	n := &node{off: off, f: f}
	switch t := tok.(type) {
	case nil:
		n.k = kNull
	case bool:
		n.k, n.b = kBool, t
	case json.Number:
		n.k, n.s = kNum, t.String()
	case string:
		n.k, n.s = kStr, t
	case json.Delim:
		switch t {
		case '[':
			n.k = kArr
			for dec.More() {
				c, err := readDepth(f, dec, depth+1)
				if err != nil {
					return nil, unexpectedEOF(f, err)
				}
				n.arr = append(n.arr, c)
			}
		case '{':
			n.k, n.obj = kObj, map[string]*node{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, jsonErr(f, dec.InputOffset(), err)
				}
				key, _ := kt.(string)
				c, err := readDepth(f, dec, depth+1)
				if err != nil {
					return nil, unexpectedEOF(f, err)
				}
				if _, dup := n.obj[key]; !dup {
					n.keys = append(n.keys, key)
				}
				n.obj[key] = c
			}
		default:
			return nil, source.Errorf(f.PosAt(off), "not valid JSON: unexpected %q", t)
		}
		if _, err := dec.Token(); err != nil {
			return nil, jsonErr(f, dec.InputOffset(), err)
		}
	}
	return n, nil
}

func unexpectedEOF(f *source.File, err error) error {
	if err == io.EOF {
		return source.Errorf(f.PosAt(int64(len(f.Data))), "not valid JSON: the file ends in the middle of a value")
	}
	return err
}

func jsonErr(f *source.File, off int64, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return source.Errorf(f.PosAt(se.Offset), "not valid JSON: %v", se)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return source.Errorf(f.PosAt(int64(len(f.Data))), "not valid JSON: the file ends in the middle of a value")
	}
	return source.Errorf(f.PosAt(off), "not valid JSON: %v", err)
}

// elements is the resources of a file: the elements of its top-level list(s). An ARM
// list response ({"value": [...]}) is accepted too.
func elements(f *source.File, what string) ([]*node, error) {
	docs, err := parseTree(f)
	if err != nil {
		return nil, err
	}
	var out []*node
	for _, d := range docs {
		if d.k == kObj {
			if v := d.obj["value"]; v != nil && v.k == kArr {
				d = v
			}
		}
		if d.k != kArr {
			return nil, d.errf("want the JSON list `%s -o json` prints, got %s", what, d.k)
		}
		for _, e := range d.arr {
			if e.k != kObj {
				return nil, e.errf("want a resource object in the list, got %s", e.k)
			}
			out = append(out, e)
		}
	}
	return out, nil
}

// get finds key on an object: itself, under "properties" (the ARM shape), then without
// regard to case. Nil for a missing key or a null value.
func (n *node) get(key string) *node {
	if n == nil || n.k != kObj {
		return nil
	}
	if v := n.obj[key]; v != nil {
		return nonNull(v)
	}
	if p := n.obj["properties"]; p != nil && p.k == kObj {
		if v := p.obj[key]; v != nil {
			return nonNull(v)
		}
	}
	for _, o := range []*node{n, n.obj["properties"]} {
		if o == nil || o.k != kObj {
			continue
		}
		for _, k := range o.keys {
			if strings.EqualFold(k, key) {
				return nonNull(o.obj[k])
			}
		}
	}
	return nil
}

func nonNull(v *node) *node {
	if v.k == kNull {
		return nil
	}
	return v
}

// str is a string field ("" when missing); a value of another type is an error at its line.
func (n *node) str(key string) (string, error) {
	v := n.get(key)
	if v == nil {
		return "", nil
	}
	if v.k != kStr {
		return "", v.errf("%s: want a string, got %s", key, v.k)
	}
	return v.s, nil
}

// num is an integer field; ok is false when missing. az prints some numbers as strings
// ("priority": "100" in older releases), so a string of digits is accepted.
func (n *node) num(key string) (int, bool, error) {
	v := n.get(key)
	if v == nil {
		return 0, false, nil
	}
	if v.k != kNum && v.k != kStr {
		return 0, false, v.errf("%s: want a number, got %s", key, v.k)
	}
	var x int
	if _, err := fmt.Sscan(v.s, &x); err != nil || fmt.Sprint(x) != strings.TrimSpace(v.s) {
		return 0, false, v.errf("%s: %q is not an integer", key, v.s)
	}
	return x, true, nil
}

// flag is a boolean field (false when missing).
func (n *node) flag(key string) (bool, error) {
	v := n.get(key)
	if v == nil {
		return false, nil
	}
	if v.k != kBool {
		return false, v.errf("%s: want true or false, got %s", key, v.k)
	}
	return v.b, nil
}

// list is a list field (nil when missing).
func (n *node) list(key string) ([]*node, error) {
	v := n.get(key)
	if v == nil {
		return nil, nil
	}
	if v.k != kArr {
		return nil, v.errf("%s: want a list, got %s", key, v.k)
	}
	return v.arr, nil
}

// strs is a list of strings.
func (n *node) strs(key string) ([]string, error) {
	l, err := n.list(key)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, v := range l {
		if v.k != kStr {
			return nil, v.errf("%s: want a string, got %s", key, v.k)
		}
		out = append(out, v.s)
	}
	return out, nil
}

// ref is the "id" of a sub-resource reference ({"id": "/subscriptions/..."}).
func (n *node) ref(key string) (string, error) {
	v := n.get(key)
	if v == nil {
		return "", nil
	}
	if v.k != kObj {
		return "", v.errf("%s: want a reference object with an id, got %s", key, v.k)
	}
	return v.str("id")
}

// refs is the ids of a list of references.
func (n *node) refs(key string) ([]string, error) {
	l, err := n.list(key)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, v := range l {
		if v.k != kObj {
			return nil, v.errf("%s: want reference objects with an id, got %s", key, v.k)
		}
		id, err := v.str("id")
		if err != nil {
			return nil, err
		}
		if id != "" {
			out = append(out, id)
		}
	}
	return out, nil
}

// objs is a list of objects.
func (n *node) objs(key string) ([]*node, error) {
	l, err := n.list(key)
	if err != nil {
		return nil, err
	}
	for _, v := range l {
		if v.k != kObj {
			return nil, v.errf("%s: want objects, got %s", key, v.k)
		}
	}
	return l, nil
}

// obj is an object field (nil when missing).
func (n *node) object(key string) (*node, error) {
	v := n.get(key)
	if v == nil {
		return nil, nil
	}
	if v.k != kObj {
		return nil, v.errf("%s: want an object, got %s", key, v.k)
	}
	return v, nil
}

// normID makes ARM resource IDs comparable: they are case-insensitive (AKS prints its
// node resource group as MC_... in one place and mc_... in another).
func normID(id string) string { return strings.ToLower(strings.TrimRight(id, "/")) }

// lastSeg is an ID's last segment, the resource's name.
func lastSeg(id string) string {
	id = strings.TrimRight(id, "/")
	if i := strings.LastIndexByte(id, '/'); i >= 0 {
		return id[i+1:]
	}
	return id
}

// parentID is the ID of the resource a sub-resource belongs to
// (".../networkInterfaces/nic1/ipConfigurations/ipconfig1" -> ".../networkInterfaces/nic1").
func parentID(id string) string {
	id = strings.TrimRight(id, "/")
	for i := 0; i < 2; i++ {
		j := strings.LastIndexByte(id, '/')
		if j < 0 {
			return ""
		}
		id = id[:j]
	}
	return id
}
