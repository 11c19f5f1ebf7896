package iproute

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"

	"github.com/netsim/netsim/model/source"
)

// eachJSONEntry walks the top-level array of f, calling fn with every element and its
// position (line of the element's start, and its 1-based index).
func eachJSONEntry(f *source.File, fn func(raw json.RawMessage, pos source.Pos) error) error {
	data := bytes.TrimSpace(f.Data)
	if len(data) == 0 {
		return nil
	}
	lead := int64(bytes.Index(f.Data, data[:1]))
	dec := json.NewDecoder(bytes.NewReader(f.Data[lead:]))
	fail := func(err error) error {
		var se *json.SyntaxError
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return source.Errorf(f.Pos(f.LineCount()), "malformed JSON: the file ends inside the array (truncated?)")
		}
		if errors.As(err, &se) {
			return source.Errorf(f.PosAt(lead+se.Offset), "malformed JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
		}
		return source.Errorf(f.PosAt(lead+dec.InputOffset()), "malformed JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	tok, err := dec.Token()
	if err != nil {
		return fail(err)
	}
	if tok != json.Delim('[') {
		return source.Errorf(f.PosAt(lead), "expected a JSON array (the output of ip -j)")
	}
	i := 0
	for dec.More() {
		i++
		start := dec.InputOffset()
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return fail(err)
		}
		off := lead + start
		for off < int64(len(f.Data)) && (f.Data[off] == ',' || f.Data[off] == ' ' || f.Data[off] == '\n' || f.Data[off] == '\t' || f.Data[off] == '\r') {
			off++
		}
		pos := f.PosAt(off)
		pos.Entry = i
		if err := fn(raw, pos); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return fail(err)
	}
	return nil
}

// unmarshalEntry decodes one array element, placing type errors at the element.
func unmarshalEntry(raw json.RawMessage, pos source.Pos, v any, what string) error {
	if err := json.Unmarshal(raw, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return source.Errorf(pos, "%s: field %q: want %s, found JSON %s", what, te.Field, te.Type, te.Value)
		}
		return source.Errorf(pos, "%s: %s", what, strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}

// hasKey reports whether a JSON object has key, even with a null value: `ip -j` prints
// flags such as "not", "router" and "proxy" as null-valued keys.
func hasKey(raw json.RawMessage, key string) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return false
	}
	_, ok := m[key]
	return ok
}
