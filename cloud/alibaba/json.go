package alibaba

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"

	"github.com/netsim/netsim/cloud"
	"github.com/netsim/netsim/model/source"
)

// element is one element of a JSON array in an export, with where it starts.
type element struct {
	raw json.RawMessage
	off int64 // byte offset of its first character in the file
}

// document is one top-level JSON object of an export (the aliyun CLI prints one; the
// collector merges pages into one, but documents back to back are read as one list).
type document struct {
	raw json.RawMessage
	off int64
}

func documents(f *source.File) ([]document, error) {
	var out []document
	dec := json.NewDecoder(bytes.NewReader(f.Data))
	for {
		start := cloud.SkipJSONSpace(f.Data, dec.InputOffset())
		var doc json.RawMessage
		if err := dec.Decode(&doc); err == io.EOF {
			return out, nil
		} else if err != nil {
			return nil, cloud.JSONError(f, 0, dec.InputOffset(), err)
		}
		out = append(out, document{raw: doc, off: start})
	}
}

// field finds key in the JSON object raw (starting at byte base of f): its value and
// the value's offset; found is false when the object lacks the key or it is null.
func field(f *source.File, raw json.RawMessage, base int64, key string) (json.RawMessage, int64, bool, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return nil, 0, false, cloud.JSONError(f, base, base+dec.InputOffset(), err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, 0, false, source.Errorf(f.PosAt(base), "want a JSON object holding %q", key)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, 0, false, cloud.JSONError(f, base, base+dec.InputOffset(), err)
		}
		name, _ := tok.(string)
		at := base + cloud.SkipJSONSpace(raw, dec.InputOffset())
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, 0, false, cloud.JSONError(f, base, base+dec.InputOffset(), err)
		}
		if name == key {
			if string(v) == "null" {
				return nil, at, false, nil
			}
			return v, at, true, nil
		}
	}
	return nil, 0, false, nil
}

// listAt returns the elements of the array at the path of keys ("Instances",
// "Instance") in each document of f. A document without the path is an error: the
// file is not the output of the call it is named after.
func listAt(f *source.File, keys ...string) ([]element, error) {
	docs, err := documents(f)
	if err != nil {
		return nil, err
	}
	var out []element
	for _, d := range docs {
		els, found, err := arrayAt(f, d.raw, d.off, keys)
		if err != nil {
			return nil, err
		}
		if !found {
			return nil, source.Errorf(f.PosAt(d.off), "no %q list: is this the JSON the aliyun CLI prints for the call the file is named after?", strings.Join(keys, "."))
		}
		out = append(out, els...)
	}
	return out, nil
}

func arrayAt(f *source.File, raw json.RawMessage, base int64, keys []string) ([]element, bool, error) {
	for _, k := range keys {
		v, at, found, err := field(f, raw, base, k)
		if err != nil || !found {
			// A key present but null ("Permission": null) is an empty list.
			return nil, at > 0, err
		}
		raw, base = v, at
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return nil, false, cloud.JSONError(f, base, base+dec.InputOffset(), err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, false, source.Errorf(f.PosAt(base), "%q is not a list", strings.Join(keys, "."))
	}
	var els []element
	for dec.More() {
		off := base + cloud.SkipJSONSpace(raw, dec.InputOffset())
		var el json.RawMessage
		if err := dec.Decode(&el); err != nil {
			return nil, false, cloud.JSONError(f, base, base+dec.InputOffset(), err)
		}
		els = append(els, element{raw: el, off: off})
	}
	return els, true, nil
}

// decodeAt decodes one element into v, with errors at the element's line.
func decodeAt(f *source.File, raw json.RawMessage, off int64, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return source.Errorf(f.PosAt(off+te.Offset), "%s: want %s, got %s", te.Field, te.Type, te.Value)
		}
		return cloud.JSONError(f, off, off, err)
	}
	return nil
}
