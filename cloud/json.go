package cloud

import (
	"encoding/json"
	"errors"
	"io"

	"github.com/netsim/netsim/model/source"
)

// SkipJSONSpace moves off past whitespace and the commas and colons between JSON
// values, to the first character of the next value: where an element a decoder is
// about to read starts, for its line.
func SkipJSONSpace(data []byte, off int64) int64 {
	for off < int64(len(data)) {
		switch data[off] {
		case ' ', '\t', '\r', '\n', ',', ':':
			off++
		default:
			return off
		}
	}
	return off
}

// JSONError places an export's decoding error at its line: a syntax error where it is
// (its offset counts from base, where the decoded bytes start in the file), a value cut
// short at the end of the file, any other error at off.
func JSONError(f *source.File, base, off int64, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return source.Errorf(f.PosAt(base+se.Offset), "not valid JSON: %v", se)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return source.Errorf(f.PosAt(int64(len(f.Data))), "not valid JSON: the file ends in the middle of a value")
	}
	return source.Errorf(f.PosAt(off), "%v", err)
}
