// Package kube decodes Kubernetes objects from the files people and tools produce:
// kubectl's List and single-object output in YAML or JSON, multi-document YAML, and the
// concatenated lists of `kubectl cluster-info dump`. Every object keeps the file and line
// it came from.
package kube

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientscheme "k8s.io/client-go/kubernetes/scheme"
	kjson "sigs.k8s.io/json"
	anpv1alpha1 "sigs.k8s.io/network-policy-api/apis/v1alpha1"
	"sigs.k8s.io/yaml"

	"github.com/netsim/netsim/model/source"
)

// Scheme knows every built-in kind client-go knows, plus AdminNetworkPolicy and
// BaselineAdminNetworkPolicy (policy.networking.k8s.io/v1alpha1).
var Scheme = newScheme()

func newScheme() *kruntime.Scheme {
	s := kruntime.NewScheme()
	if err := clientscheme.AddToScheme(s); err != nil {
		panic(err) // static registration; cannot fail at run time
	}
	if err := anpv1alpha1.Install(s); err != nil {
		panic(err)
	}
	return s
}

// Object is one decoded object and where it came from.
type Object struct {
	// Obj is a typed object (*corev1.Pod, ...) for kinds the Scheme knows, else
	// *unstructured.Unstructured.
	Obj kruntime.Object
	GVK schema.GroupVersionKind
	Pos source.Pos
}

// Known reports whether the object was decoded into a typed struct.
func (o Object) Known() bool {
	_, u := o.Obj.(*unstructured.Unstructured)
	return !u
}

// rawObject is an undecoded object with its position.
type rawObject struct {
	data    []byte
	pos     source.Pos
	listGVK schema.GroupVersionKind // kind implied by the enclosing typed list, if any
	// lineBase maps offsets in data to file lines for JSON read from the file itself;
	// zero for JSON converted from YAML, whose offsets do not map to lines.
	fileOffset int64
	fromYAML   bool
}

// Decode reads every object in f. It returns what it could decode and an error for each
// object or document it could not, each naming the file and line.
func Decode(f *source.File) ([]Object, []error) {
	raws, errs := split(f)
	objs := make([]Object, len(raws))
	oerrs := make([]error, len(raws))
	// Decoding dominates opening a large bundle; spread it over the cores.
	workers := runtime.GOMAXPROCS(0)
	if len(raws) < 64 {
		workers = 1
	}
	var wg sync.WaitGroup
	next := make(chan int, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				objs[i], oerrs[i] = decodeOne(f, raws[i])
			}
		}()
	}
	for i := range raws {
		next <- i
	}
	close(next)
	wg.Wait()
	out := objs[:0]
	for i := range objs {
		if oerrs[i] != nil {
			errs = append(errs, oerrs[i])
			continue
		}
		out = append(out, objs[i])
	}
	return out, errs
}

type typeMeta struct {
	APIVersion string          `json:"apiVersion"`
	Kind       string          `json:"kind"`
	Items      json.RawMessage `json:"items"`
}

// decodeOpts are lenient where kubectl output can be odd and the kernel does not care:
// a repeated key keeps its last value (as the API machinery's own decoder does).
var decodeOpts = jsonv2.JoinOptions(jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))

// probeTypeMeta reads an object's apiVersion and kind without decoding the rest.
func probeTypeMeta(data []byte) (apiVersion, kind string, err error) {
	dec := jsontext.NewDecoder(bytes.NewReader(data), decodeOpts)
	tok, err := dec.ReadToken()
	if err != nil {
		return "", "", err
	}
	if tok.Kind() != '{' {
		return "", "", fmt.Errorf("a JSON %s, not an object", kindName(tok.Kind()))
	}
	for dec.PeekKind() != '}' {
		tok, err := dec.ReadToken()
		if err != nil {
			return "", "", err
		}
		name := tok.String() // a token is valid only until the next read
		switch name {
		case "apiVersion", "kind":
			v, err := dec.ReadToken()
			if err != nil {
				return "", "", err
			}
			if name == "kind" {
				kind = v.String()
			} else {
				apiVersion = v.String()
			}
			if apiVersion != "" && kind != "" {
				return apiVersion, kind, nil
			}
		default:
			if err := dec.SkipValue(); err != nil {
				return "", "", err
			}
		}
	}
	return apiVersion, kind, nil
}

func decodeOne(f *source.File, r rawObject) (Object, error) {
	apiVersion, kind, err := probeTypeMeta(r.data)
	if err != nil {
		return Object{}, r.errorf(f, err, "not a Kubernetes object: %s", describeJSONError(err))
	}
	gvk := schema.FromAPIVersionAndKind(apiVersion, kind)
	if kind == "" && !r.listGVK.Empty() {
		gvk = r.listGVK
	}
	if gvk.Kind == "" {
		return Object{}, source.Errorf(r.pos, "object has no kind")
	}
	if gvk.Version == "" {
		return Object{}, source.Errorf(r.pos, "%s has no apiVersion", gvk.Kind)
	}
	if typed, err := Scheme.New(gvk); err == nil {
		if err := jsonv2.Unmarshal(r.data, typed, decodeOpts); err != nil {
			return Object{}, r.errorf(f, err, "%s: %s", gvk.Kind, describeJSONError(err))
		}
		typed.GetObjectKind().SetGroupVersionKind(gvk)
		return Object{Obj: typed, GVK: gvk, Pos: r.pos}, nil
	}
	u := &unstructured.Unstructured{}
	if err := kjson.UnmarshalCaseSensitivePreserveInts(r.data, &u.Object); err != nil {
		return Object{}, r.errorf(f, err, "%s: %v", gvk.Kind, err)
	}
	u.SetGroupVersionKind(gvk)
	return Object{Obj: u, GVK: gvk, Pos: r.pos}, nil
}

// describeJSONError says what did not fit where, in the API's field names.
func describeJSONError(err error) string {
	var se *jsonv2.SemanticError
	if errors.As(err, &se) {
		field := strings.ReplaceAll(strings.TrimPrefix(string(se.JSONPointer), "/"), "/", ".")
		want := "a value"
		if se.GoType != nil {
			want = se.GoType.String()
		}
		msg := fmt.Sprintf("cannot unmarshal JSON %s into %s", kindName(se.JSONKind), want)
		if field != "" {
			msg = "field " + field + ": " + msg
		}
		if se.Err != nil {
			msg += ": " + se.Err.Error()
		}
		return msg
	}
	var syn *jsontext.SyntacticError
	if errors.As(err, &syn) {
		return "malformed JSON: " + syn.Err.Error()
	}
	return cleanJSONError(err)
}

func kindName(k jsontext.Kind) string {
	switch k {
	case 'n':
		return "null"
	case 'f', 't':
		return "boolean"
	case '"':
		return "string"
	case '0':
		return "number"
	case '{':
		return "object"
	case '[':
		return "array"
	}
	return "value"
}

// errorf places a decode error on the most precise line it can find.
func (r rawObject) errorf(f *source.File, err error, format string, args ...any) error {
	pos := r.pos
	var off int64 = -1
	var ptr string
	var se *jsonv2.SemanticError
	var syn *jsontext.SyntacticError
	var ste *json.SyntaxError
	var ute *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off, ptr = se.ByteOffset, string(se.JSONPointer)
	case errors.As(err, &syn):
		off = syn.ByteOffset
	case errors.As(err, &ste):
		off = ste.Offset
	case errors.As(err, &ute):
		off, ptr = ute.Offset, "/"+strings.ReplaceAll(ute.Field, ".", "/")
	}
	switch {
	case !r.fromYAML && off >= 0:
		pos = f.PosAt(r.fileOffset + off)
	case r.fromYAML && ptr != "":
		pos = yamlFieldLine(f, r.pos, strings.ReplaceAll(strings.TrimPrefix(ptr, "/"), "/", "."))
	}
	return source.Errorf(pos, format, args...)
}

func cleanJSONError(err error) string {
	return strings.TrimPrefix(err.Error(), "json: ")
}

// yamlFieldLine finds the line of a field (a dotted JSON path such as spec.podCIDRs) in
// the YAML object that starts at start: JSON converted from YAML has no offsets to use.
// It walks the path's keys in order, each at a deeper indentation than the last.
func yamlFieldLine(f *source.File, start source.Pos, field string) source.Pos {
	keys := strings.Split(field, ".")
	ln, indent := start.Line, -1
	for i, key := range keys {
		// Flow style ("spec: {containers: 3}") keeps the child on its parent's line.
		if i > 0 {
			if line := f.Line(ln); strings.Contains(line, "{"+key+":") || strings.Contains(line, " "+key+":") {
				continue
			}
		}
		found := false
		for n := ln; n <= f.LineCount(); n++ {
			text := f.Line(n)
			if n > start.Line && isDocSeparator(text) {
				return start
			}
			trim := strings.TrimLeft(text, " ")
			ind := len(text) - len(trim)
			trim = strings.TrimPrefix(trim, "- ")
			if ind > indent && (strings.HasPrefix(trim, key+":") || strings.HasPrefix(trim, `"`+key+`":`)) {
				ln, indent, found = n, ind, true
				break
			}
		}
		if !found {
			return start
		}
	}
	return f.Pos(ln)
}

// split cuts a file into raw objects: list items become objects of their own.
func split(f *source.File) ([]rawObject, []error) {
	trimmed := bytes.TrimLeft(f.Data, " \t\r\n\ufeff")
	if len(trimmed) == 0 {
		return nil, nil
	}
	if trimmed[0] == '{' || trimmed[0] == '[' {
		return splitJSONStream(f)
	}
	return splitYAML(f)
}

const (
	dumpLogStart = "==== START logs for"
	dumpLogEnd   = "==== END logs for"
)

// splitJSONStream reads one or more JSON values, as `kubectl get -o json` and
// `kubectl cluster-info dump` (which interleaves container logs) print them.
func splitJSONStream(f *source.File) ([]rawObject, []error) {
	var out []rawObject
	data := f.Data
	off := 0
	for {
		for off < len(data) && isSpace(data[off]) {
			off++
		}
		if off >= len(data) {
			return out, nil
		}
		if data[off] != '{' && data[off] != '[' {
			line := lineAt(data, off)
			if strings.HasPrefix(line, dumpLogStart) {
				// Skip a cluster-info dump log section: container logs are not network state.
				end := bytes.Index(data[off:], []byte(dumpLogEnd))
				if end < 0 {
					return out, nil
				}
				off += end
				if nl := bytes.IndexByte(data[off:], '\n'); nl >= 0 {
					off += nl + 1
				} else {
					off = len(data)
				}
				continue
			}
			return out, []error{source.Errorf(f.PosAt(int64(off)), "expected a JSON object, found %q", truncate(line, 40))}
		}
		objs, n, err := splitJSONValue(f, int64(off))
		out = append(out, objs...)
		if err != nil {
			return out, []error{err}
		}
		off += int(n)
	}
}

// splitJSONValue reads one JSON value starting at off: an object, a List (whose items
// become objects, with their own lines), or an array of objects. It returns the objects
// and the number of bytes consumed. Items are slices of the file's own bytes.
func splitJSONValue(f *source.File, off int64) ([]rawObject, int64, error) {
	dec := jsontext.NewDecoder(bytes.NewReader(f.Data[off:]), decodeOpts)
	fail := func(err error) error {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return source.Errorf(f.PosAt(int64(len(f.Data))-1), "malformed JSON: the file ends inside a value")
		}
		var syn *jsontext.SyntacticError
		if errors.As(err, &syn) {
			return source.Errorf(f.PosAt(off+syn.ByteOffset), "malformed JSON: %v", syn.Err)
		}
		return source.Errorf(f.PosAt(off+dec.InputOffset()), "malformed JSON: %v", err)
	}
	// item reads the next array element as a slice of the file.
	item := func() (rawObject, error) {
		start := dec.InputOffset()
		if err := dec.SkipValue(); err != nil {
			return rawObject{}, fail(err)
		}
		end := off + dec.InputOffset()
		s := skipSpaceComma(f.Data, off+start)
		return rawObject{data: f.Data[s:end], pos: f.PosAt(s), fileOffset: s}, nil
	}
	// more reports whether a container has another element, failing at the end of input.
	more := func(closer jsontext.Kind) (bool, error) {
		switch dec.PeekKind() {
		case closer:
			return false, nil
		case 0:
			_, err := dec.ReadToken()
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return false, fail(err)
		}
		return true, nil
	}
	// elements reads the rest of an array whose '[' was read, through its ']'.
	elements := func() ([]rawObject, error) {
		var out []rawObject
		for {
			ok, err := more(']')
			if err != nil {
				return out, err
			}
			if !ok {
				break
			}
			r, err := item()
			if err != nil {
				return out, err
			}
			out = append(out, r)
		}
		if _, err := dec.ReadToken(); err != nil {
			return out, fail(err)
		}
		return out, nil
	}
	tok, err := dec.ReadToken()
	if err != nil {
		return nil, 0, fail(err)
	}
	switch tok.Kind() {
	case '[':
		out, err := elements()
		if err != nil {
			return out, 0, err
		}
		return out, dec.InputOffset(), nil
	case '{':
	default:
		return nil, 0, source.Errorf(f.PosAt(off), "expected a JSON object or array")
	}
	// Walk the object's keys so list items keep their own offsets.
	var apiVersion, kind string
	var items []rawObject
	hasItems := false
	for {
		ok, err := more('}')
		if err != nil {
			return nil, 0, err
		}
		if !ok {
			break
		}
		tok, err := dec.ReadToken()
		if err != nil {
			return nil, 0, fail(err)
		}
		name := tok.String() // a token is valid only until the next read
		switch name {
		case "items":
			switch dec.PeekKind() {
			case 'n':
				dec.ReadToken()
				hasItems = true
				continue
			case '[':
			default:
				return nil, 0, source.Errorf(f.PosAt(off+dec.InputOffset()), "items is not an array")
			}
			dec.ReadToken()
			hasItems = true
			if items, err = elements(); err != nil {
				return nil, 0, err
			}
		case "apiVersion", "kind":
			v, err := dec.ReadToken()
			if err != nil {
				return nil, 0, fail(err)
			}
			if name == "kind" {
				kind = v.String()
			} else {
				apiVersion = v.String()
			}
		default:
			if err := dec.SkipValue(); err != nil {
				return nil, 0, fail(err)
			}
		}
	}
	if _, err := dec.ReadToken(); err != nil {
		return nil, 0, fail(err)
	}
	end := dec.InputOffset()
	if hasItems && (kind == "" || strings.HasSuffix(kind, "List")) {
		implied := listItemGVK(apiVersion, kind)
		for i := range items {
			items[i].listGVK = implied
		}
		return items, end, nil
	}
	raw := f.Data[off : off+end]
	return []rawObject{{data: raw, pos: f.PosAt(off), fileOffset: off}}, end, nil
}

// listItemGVK is the kind of the items of a typed list (PodList -> Pod); a plain List
// implies nothing, its items carry their own kinds.
func listItemGVK(apiVersion, kind string) schema.GroupVersionKind {
	if kind == "List" || kind == "" || !strings.HasSuffix(kind, "List") {
		return schema.GroupVersionKind{}
	}
	return schema.FromAPIVersionAndKind(apiVersion, strings.TrimSuffix(kind, "List"))
}

// splitYAML splits a multi-document YAML file; a List document's items become objects,
// each placed on the line where its "- " starts.
func splitYAML(f *source.File) ([]rawObject, []error) {
	var out []rawObject
	var errs []error
	docStart := 1
	var doc []string
	flush := func(endLine int) {
		text := strings.Join(doc, "\n")
		base, start := docStart, docStart
		// Cite the document's first line of content, not a leading comment.
		for i, l := range doc {
			if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") {
				start = docStart + i
				break
			}
		}
		doc = doc[:0]
		docStart = endLine + 1
		if strings.TrimSpace(stripYAMLComments(text)) == "" {
			return
		}
		js, err := yaml.YAMLToJSON([]byte(text))
		if err != nil {
			errs = append(errs, source.Errorf(f.Pos(base+yamlErrLine(err)-1), "malformed YAML: %s", yamlErrMsg(err)))
			return
		}
		if bytes.Equal(js, []byte("null")) {
			return
		}
		if bytes.HasPrefix(bytes.TrimSpace(js), []byte("[")) {
			errs = append(errs, source.Errorf(f.Pos(start), "a YAML sequence at the top level (want a Kubernetes object or List)"))
			return
		}
		var tm typeMeta
		if err := json.Unmarshal(js, &tm); err != nil {
			errs = append(errs, source.Errorf(f.Pos(start), "a YAML document that is not an object (want a Kubernetes object or List)"))
			return
		}
		if len(tm.Items) > 0 && (tm.Kind == "" || strings.HasSuffix(tm.Kind, "List")) {
			var items []json.RawMessage
			if err := json.Unmarshal(tm.Items, &items); err != nil {
				errs = append(errs, source.Errorf(f.Pos(start), "items is not a list of objects"))
				return
			}
			lines := yamlItemLines(f, start, len(items))
			implied := listItemGVK(tm.APIVersion, tm.Kind)
			for i, it := range items {
				out = append(out, rawObject{data: it, pos: f.Pos(lines[i]), listGVK: implied, fromYAML: true})
			}
			return
		}
		out = append(out, rawObject{data: js, pos: f.Pos(start), fromYAML: true})
	}
	n := 0
	f.Lines(func(ln int, text string) bool {
		n = ln
		if isDocSeparator(text) {
			flush(ln)
			return true
		}
		doc = append(doc, text)
		return true
	})
	flush(n)
	return out, errs
}

func isDocSeparator(line string) bool {
	if !strings.HasPrefix(line, "---") {
		return false
	}
	rest := strings.TrimSpace(line[3:])
	return rest == "" || strings.HasPrefix(rest, "#")
}

func stripYAMLComments(text string) string {
	var b strings.Builder
	for _, l := range strings.Split(text, "\n") {
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") {
			b.WriteString(l)
		}
	}
	return b.String()
}

// yamlItemLines finds the line of each item of the "items:" sequence of a List document
// starting at line start; where it cannot tell, the document's first line stands in.
func yamlItemLines(f *source.File, start, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = start
	}
	inItems := false
	indent := -1
	k := 0
	for ln := start; ln <= f.LineCount() && k < n; ln++ {
		text := f.Line(ln)
		if ln > start && isDocSeparator(text) {
			break
		}
		if !inItems {
			if strings.HasPrefix(text, "items:") {
				inItems = true
			}
			continue
		}
		trim := strings.TrimLeft(text, " ")
		ind := len(text) - len(trim)
		if !strings.HasPrefix(trim, "- ") && trim != "-" {
			if ind == 0 && trim != "" && !strings.HasPrefix(trim, "#") {
				break // the next top-level key ends the sequence
			}
			continue
		}
		if indent < 0 {
			indent = ind
		}
		if ind == indent {
			out[k] = ln
			k++
		}
	}
	return out
}

func yamlErrLine(err error) int {
	var line int
	msg := err.Error()
	if i := strings.Index(msg, "line "); i >= 0 {
		fmt.Sscanf(msg[i:], "line %d", &line)
	}
	if line < 1 {
		line = 1
	}
	return line
}

func yamlErrMsg(err error) string {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "error converting YAML to JSON: ")
	msg = strings.TrimPrefix(msg, "yaml: ")
	if i := strings.Index(msg, "line "); i == 0 {
		if j := strings.Index(msg, ": "); j > 0 {
			msg = msg[j+2:]
		}
	}
	return msg
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\r' || b == '\n' }

func skipSpaceComma(data []byte, off int64) int64 {
	for off < int64(len(data)) && (isSpace(data[off]) || data[off] == ',') {
		off++
	}
	return off
}

func lineAt(data []byte, off int) string {
	end := bytes.IndexByte(data[off:], '\n')
	if end < 0 {
		return string(data[off:])
	}
	return strings.TrimRight(string(data[off:off+end]), "\r")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
