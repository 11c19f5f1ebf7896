package cloud

import (
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/netsim/netsim/model/source"
)

func TestSkipJSONSpace(t *testing.T) {
	data := []byte("[1, \n  2]")
	if got := SkipJSONSpace(data, 2); got != 7 || data[got] != '2' {
		t.Errorf("SkipJSONSpace = %d, want 7 (the 2)", got)
	}
	if got := SkipJSONSpace(data, int64(len(data))); got != int64(len(data)) {
		t.Errorf("at the end: %d", got)
	}
}

func TestJSONError(t *testing.T) {
	f := source.NewFile("x.json", []byte("{\n \"a\": [1,\n  2 3]}"))
	var v any
	err := json.Unmarshal(f.Data[7:], &v) // the list, from line 2
	for _, c := range []struct {
		err  error
		want string
	}{
		{err, "x.json:3: not valid JSON"},
		{io.ErrUnexpectedEOF, "x.json:3: not valid JSON: the file ends in the middle of a value"},
		{io.EOF, "x.json:2: EOF"},
	} {
		got := JSONError(f, 7, 7, c.err)
		if got == nil || !strings.HasPrefix(got.Error(), c.want) {
			t.Errorf("JSONError(%v) = %v, want prefix %q", c.err, got, c.want)
		}
	}
}
