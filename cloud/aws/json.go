package aws

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/netsim/netsim/cloud"
	"github.com/netsim/netsim/model/source"
)

// element is one element of a JSON array in an export, with where it starts.
type element struct {
	raw json.RawMessage
	off int64 // byte offset of its first character in the file
}

// listOf returns the elements of the array under key in each JSON document of f (the
// AWS CLI prints one document; a loop over `--load-balancer-arn` and the like prints
// several back to back, which are read as one list).
func listOf(f *source.File, key string) ([]element, error) {
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
		els, found, err := arrayIn(f, doc, start, key)
		if err != nil {
			return nil, err
		}
		if !found {
			return nil, source.Errorf(f.PosAt(start), "no %q list: is this the output of the AWS CLI command the file is named after?", key)
		}
		out = append(out, els...)
	}
}

// arrayIn finds the array under key in the JSON object raw (which starts at byte base of
// f) and returns its elements; found is false when the object has no such key (or it
// is null).
func arrayIn(f *source.File, raw json.RawMessage, base int64, key string) (els []element, found bool, err error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return nil, false, cloud.JSONError(f, base, base+dec.InputOffset(), err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, false, source.Errorf(f.PosAt(base), "want a JSON object holding %q", key)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, false, cloud.JSONError(f, base, base+dec.InputOffset(), err)
		}
		name, _ := tok.(string)
		if name != key {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, false, cloud.JSONError(f, base, base+dec.InputOffset(), err)
			}
			continue
		}
		at := base + cloud.SkipJSONSpace(raw, dec.InputOffset())
		tok, err = dec.Token()
		if err != nil {
			return nil, false, cloud.JSONError(f, base, base+dec.InputOffset(), err)
		}
		if tok == nil {
			return nil, false, nil
		}
		if d, ok := tok.(json.Delim); !ok || d != '[' {
			return nil, false, source.Errorf(f.PosAt(at), "%q is not a list", key)
		}
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
	return nil, false, nil
}

// decodeAt decodes one element into v, with errors at the element's line.
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

// sub returns the elements of the array under key inside an element (rules of a group,
// routes of a table), each with its own line.
func sub(f *source.File, e element, key string) ([]element, error) {
	els, _, err := arrayIn(f, e.raw, e.off, key)
	return els, err
}

// errf is fmt.Errorf, for errors without a position.
var errf = fmt.Errorf
