package tencent

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"

	"github.com/netsim/netsim/cloud"
	"github.com/netsim/netsim/model/source"
)

// element is one JSON value of an export, with where it starts in the file.
type element struct {
	raw json.RawMessage
	off int64 // byte offset of its first character in the file
}

// documents returns the response objects of f: each top-level JSON document (tccli
// prints one per call; a loop over pages prints several back to back, read as one), or
// the object under its "Response" key when the document is the API's raw envelope.
func documents(f *source.File) ([]element, error) {
	var out []element
	dec := json.NewDecoder(bytes.NewReader(f.Data))
	for {
		start := cloud.SkipJSONSpace(f.Data, dec.InputOffset())
		var doc json.RawMessage
		if err := dec.Decode(&doc); err == io.EOF {
			return out, nil
		} else if err != nil {
			return nil, cloud.JSONError(f, 0, dec.InputOffset(), err)
		}
		e := element{raw: doc, off: start}
		if len(doc) == 0 || doc[0] != '{' {
			return nil, source.Errorf(f.PosAt(start), "want the JSON object tccli prints (the Response's content)")
		}
		if inner, ok, err := valueIn(f, e, "Response"); err != nil {
			return nil, err
		} else if ok {
			if len(inner.raw) == 0 || inner.raw[0] != '{' {
				return nil, source.Errorf(f.PosAt(inner.off), "\"Response\" is not an object")
			}
			e = inner
		}
		out = append(out, e)
	}
}

// listOf returns the elements of the array under key in every response of f; a file
// whose responses have no such key is not the export it is named after.
func listOf(f *source.File, key string) ([]element, error) {
	docs, err := documents(f)
	if err != nil {
		return nil, err
	}
	var out []element
	for _, d := range docs {
		els, found, err := arrayIn(f, d, key)
		if err != nil {
			return nil, err
		}
		if !found {
			if _, present, _ := valueIn(f, d, key); !present {
				if _, isErr, _ := valueIn(f, d, "Error"); isErr {
					return nil, source.Errorf(f.PosAt(d.off), "the response is an API error, not a %q list", key)
				}
				return nil, source.Errorf(f.PosAt(d.off), "no %q list: is this the output of the tccli action the file is named after?", key)
			}
		}
		out = append(out, els...)
	}
	return out, nil
}

// valueIn finds the value under key in the JSON object e; found is false when the object
// has no such key or it is null.
func valueIn(f *source.File, e element, key string) (element, bool, error) {
	dec := json.NewDecoder(bytes.NewReader(e.raw))
	tok, err := dec.Token()
	if err != nil {
		return element{}, false, cloud.JSONError(f, e.off, e.off+dec.InputOffset(), err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return element{}, false, source.Errorf(f.PosAt(e.off), "want a JSON object holding %q", key)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return element{}, false, cloud.JSONError(f, e.off, e.off+dec.InputOffset(), err)
		}
		name, _ := tok.(string)
		at := e.off + cloud.SkipJSONSpace(e.raw, dec.InputOffset())
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return element{}, false, cloud.JSONError(f, e.off, e.off+dec.InputOffset(), err)
		}
		if name == key {
			if string(v) == "null" {
				return element{}, false, nil
			}
			return element{raw: v, off: at}, true, nil
		}
	}
	return element{}, false, nil
}

// arrayIn returns the elements of the array under key in the object e, each with its
// own offset; found is false when there is no such key (or it is null).
func arrayIn(f *source.File, e element, key string) ([]element, bool, error) {
	v, ok, err := valueIn(f, e, key)
	if err != nil || !ok {
		return nil, false, err
	}
	dec := json.NewDecoder(bytes.NewReader(v.raw))
	tok, err := dec.Token()
	if err != nil {
		return nil, false, cloud.JSONError(f, v.off, v.off+dec.InputOffset(), err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, false, source.Errorf(f.PosAt(v.off), "%q is not a list", key)
	}
	var els []element
	for dec.More() {
		off := v.off + cloud.SkipJSONSpace(v.raw, dec.InputOffset())
		var el json.RawMessage
		if err := dec.Decode(&el); err != nil {
			return nil, false, cloud.JSONError(f, v.off, v.off+dec.InputOffset(), err)
		}
		els = append(els, element{raw: el, off: off})
	}
	return els, true, nil
}

// decodeAt decodes one element into v, with errors at the element's line (a wrong type
// at the field's own line).
func decodeAt(f *source.File, e element, v any) error {
	if err := json.Unmarshal(e.raw, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return source.Errorf(f.PosAt(e.off+te.Offset), "%s: want %s, got %s", te.Field, te.Type, te.Value)
		}
		return cloud.JSONError(f, e.off, e.off, err)
	}
	return nil
}
