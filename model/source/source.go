// Package source holds the text of bundle files and positions inside them, so that
// every parsed object, rule and error can cite "file:line".
package source

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"unsafe"
)

// Pos is a place in a bundle file. The zero Pos means "no position".
type Pos struct {
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	// Entry is the 1-based element of a JSON array the position names, for files such as
	// `ip -j` output that print a whole array on one line; 0 when the line says enough.
	Entry int `json:"entry,omitempty"`
}

// IsZero reports whether p names no place.
func (p Pos) IsZero() bool { return p.File == "" }

// String renders "file:line", "file", or "" for the zero Pos.
func (p Pos) String() string {
	switch {
	case p.File == "":
		return ""
	case p.Line <= 0:
		return p.File
	case p.Entry > 0:
		return fmt.Sprintf("%s:%d (entry %d)", p.File, p.Line, p.Entry)
	default:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	}
}

// Error is a problem found at a place in a file.
type Error struct {
	Pos Pos
	Msg string
}

func (e *Error) Error() string {
	if e.Pos.IsZero() {
		return e.Msg
	}
	return e.Pos.String() + ": " + e.Msg
}

// Errorf builds an *Error at pos.
func Errorf(pos Pos, format string, args ...any) *Error {
	return &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// File is the text of one bundle file, with the offsets of its lines indexed on demand.
// It is immutable once built.
type File struct {
	Name string // path inside the bundle, slash-separated
	// Data is the file's content. It must not be changed after NewFile: Line hands out
	// strings that share its memory.
	Data  []byte
	text  string // Data viewed as a string, without a copy
	lines []int  // byte offset of the start of each line; built by NewFile
}

// NewFile wraps data read from name.
func NewFile(name string, data []byte) *File {
	f := &File{Name: name, Data: data}
	if len(data) > 0 {
		// Parsers take every line as a string: sharing the bytes saves a copy (and an
		// allocation) per line, which is most of the cost of reading a big ruleset.
		f.text = unsafe.String(&data[0], len(data))
	}
	// IndexByte is vectorised; this index is built for every file a bundle opens.
	f.lines = make([]int, 1, bytes.Count(data, []byte{'\n'})+1)
	for off := 0; ; {
		i := bytes.IndexByte(data[off:], '\n')
		if i < 0 || off+i+1 >= len(data) {
			break
		}
		off += i + 1
		f.lines = append(f.lines, off)
	}
	return f
}

// LineCount is the number of lines in the file.
func (f *File) LineCount() int {
	if len(f.Data) == 0 {
		return 0
	}
	return len(f.lines)
}

// LineOf returns the 1-based line holding byte offset off.
func (f *File) LineOf(off int64) int {
	i := sort.Search(len(f.lines), func(i int) bool { return int64(f.lines[i]) > off })
	if i == 0 {
		return 1
	}
	return i
}

// Line returns the text of 1-based line n without its newline (and without a trailing \r).
func (f *File) Line(n int) string {
	if n < 1 || n > len(f.lines) {
		return ""
	}
	start := f.lines[n-1]
	end := len(f.Data)
	if n < len(f.lines) {
		end = f.lines[n] - 1
	}
	line := strings.TrimSuffix(f.text[start:end], "\n")
	return strings.TrimSuffix(line, "\r")
}

// Pos returns the position of 1-based line n.
func (f *File) Pos(n int) Pos { return Pos{File: f.Name, Line: n} }

// PosAt returns the position of byte offset off.
func (f *File) PosAt(off int64) Pos { return Pos{File: f.Name, Line: f.LineOf(off)} }

// Lines calls fn for every line with its 1-based number, stopping early if fn returns false.
func (f *File) Lines(fn func(n int, text string) bool) {
	for n := 1; n <= f.LineCount(); n++ {
		if !fn(n, f.Line(n)) {
			return
		}
	}
}
