package nft

import (
	"fmt"
	"strconv"
	"unicode/utf8"
	"unsafe"
)

// jv is one JSON value of an nft dump, decoded without maps: strings are views of the
// file's bytes (the file is immutable), numbers keep their text, an object keeps its
// members as key, value pairs in order. It makes reading a big ruleset cheap.
type jv struct {
	k   byte   // 'o' object, 'a' array, 's' string, 'n' number, 't' true, 'f' false, 'z' null; 0: missing
	s   string // a string's value, a number's text
	els []jv   // an array's elements; an object's keys and values, alternating
}

// get returns an object's member, or the zero jv.
func (v jv) get(key string) jv {
	if v.k != 'o' {
		return jv{}
	}
	for i := 0; i+1 < len(v.els); i += 2 {
		if v.els[i].s == key {
			return v.els[i+1]
		}
	}
	return jv{}
}

// single returns the one member of an object such as {"accept": null}.
func (v jv) single() (string, jv, bool) {
	if v.k != 'o' || len(v.els) != 2 {
		return "", jv{}, false
	}
	return v.els[0].s, v.els[1], true
}

func (v jv) str() (string, bool) { return v.s, v.k == 's' }

func (v jv) float() (float64, bool) {
	if v.k != 'n' {
		return 0, false
	}
	f, err := strconv.ParseFloat(v.s, 64)
	return f, err == nil
}

// jparser reads JSON from a byte slice.
type jparser struct {
	data []byte
	i    int
	// stack holds the elements of the containers being read; a container's elements move
	// to the arena when it is closed.
	stack []jv
	// arena holds the elements of the containers of the object being read. It is reused
	// for the next object once the caller is done with this one (reset): a tree that must
	// outlive that is cloned.
	arena []jv
}

func (p *jparser) close(from int) []jv {
	n := len(p.stack) - from
	if cap(p.arena)-len(p.arena) < n {
		// A new backing array: the slices already handed out keep the old one.
		p.arena = make([]jv, 0, max(2*cap(p.arena), n, 4096))
	}
	start := len(p.arena)
	p.arena = append(p.arena, p.stack[from:]...)
	clear(p.stack[from:])
	p.stack = p.stack[:from]
	return p.arena[start:len(p.arena):len(p.arena)]
}

// reset makes the arena's memory free for the next object.
func (p *jparser) reset() { p.arena = p.arena[:0] }

// clone copies a tree out of the arena.
func (v jv) clone() jv {
	if len(v.els) == 0 {
		return v
	}
	els := make([]jv, len(v.els))
	for i := range els {
		els[i] = v.els[i].clone()
	}
	v.els = els
	return v
}

func (p *jparser) errf(format string, args ...any) error {
	return &syntaxError{off: p.i, msg: fmt.Sprintf(format, args...)}
}

type syntaxError struct {
	off int
	msg string
}

func (e *syntaxError) Error() string { return e.msg }

func (p *jparser) space() {
	for p.i < len(p.data) {
		switch p.data[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// maxDepth bounds nesting, so that a hostile file cannot exhaust the stack.
const maxJSONDepth = 200

func (p *jparser) value(depth int) (jv, error) {
	if depth > maxJSONDepth {
		return jv{}, p.errf("nested deeper than %d", maxJSONDepth)
	}
	p.space()
	if p.i >= len(p.data) {
		return jv{}, p.errf("unexpected end of input")
	}
	switch c := p.data[p.i]; {
	case c == '{':
		p.i++
		v := jv{k: 'o'}
		p.space()
		if p.i < len(p.data) && p.data[p.i] == '}' {
			p.i++
			return v, nil
		}
		from := len(p.stack)
		for {
			p.space()
			if p.i >= len(p.data) || p.data[p.i] != '"' {
				return jv{}, p.errf("want a member name")
			}
			key, err := p.string()
			if err != nil {
				return jv{}, err
			}
			p.space()
			if p.i >= len(p.data) || p.data[p.i] != ':' {
				return jv{}, p.errf("want ':' after a member name")
			}
			p.i++
			val, err := p.value(depth + 1)
			if err != nil {
				return jv{}, err
			}
			p.stack = append(p.stack, jv{k: 's', s: key}, val)
			p.space()
			if p.i < len(p.data) && p.data[p.i] == ',' {
				p.i++
				continue
			}
			if p.i < len(p.data) && p.data[p.i] == '}' {
				p.i++
				v.els = p.close(from)
				return v, nil
			}
			return jv{}, p.errf("want ',' or '}' in an object")
		}
	case c == '[':
		p.i++
		v := jv{k: 'a'}
		p.space()
		if p.i < len(p.data) && p.data[p.i] == ']' {
			p.i++
			return v, nil
		}
		from := len(p.stack)
		for {
			el, err := p.value(depth + 1)
			if err != nil {
				return jv{}, err
			}
			p.stack = append(p.stack, el)
			p.space()
			if p.i < len(p.data) && p.data[p.i] == ',' {
				p.i++
				continue
			}
			if p.i < len(p.data) && p.data[p.i] == ']' {
				p.i++
				v.els = p.close(from)
				return v, nil
			}
			return jv{}, p.errf("want ',' or ']' in an array")
		}
	case c == '"':
		s, err := p.string()
		return jv{k: 's', s: s}, err
	case c == '-' || c >= '0' && c <= '9':
		start := p.i
		p.i++
		for p.i < len(p.data) {
			c := p.data[p.i]
			if c >= '0' && c <= '9' || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-' {
				p.i++
				continue
			}
			break
		}
		return jv{k: 'n', s: p.view(start, p.i)}, nil
	}
	for _, lit := range []struct {
		text string
		k    byte
	}{{"true", 't'}, {"false", 'f'}, {"null", 'z'}} {
		if len(p.data)-p.i >= len(lit.text) && string(p.data[p.i:p.i+len(lit.text)]) == lit.text {
			p.i += len(lit.text)
			return jv{k: lit.k}, nil
		}
	}
	return jv{}, p.errf("unexpected character %q", p.data[p.i])
}

func (p *jparser) view(from, to int) string {
	if from == to {
		return ""
	}
	return unsafe.String(&p.data[from], to-from)
}

// string reads a string literal at p.i (the opening quote).
func (p *jparser) string() (string, error) {
	start := p.i + 1
	for i := start; i < len(p.data); i++ {
		switch p.data[i] {
		case '"':
			p.i = i + 1
			return p.view(start, i), nil
		case '\\':
			return p.escaped(start)
		}
	}
	return "", p.errf("unterminated string")
}

// escaped decodes a string with escapes into a new string.
func (p *jparser) escaped(start int) (string, error) {
	var b []byte
	for i := start; i < len(p.data); {
		c := p.data[i]
		switch {
		case c == '"':
			p.i = i + 1
			return string(b), nil
		case c != '\\':
			b = append(b, c)
			i++
			continue
		}
		if i+1 >= len(p.data) {
			break
		}
		e := p.data[i+1]
		i += 2
		switch e {
		case '"', '\\', '/':
			b = append(b, e)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			if i+4 > len(p.data) {
				p.i = i
				return "", p.errf("short \\u escape")
			}
			r, err := strconv.ParseUint(string(p.data[i:i+4]), 16, 32)
			if err != nil {
				p.i = i
				return "", p.errf("bad \\u escape")
			}
			b = utf8.AppendRune(b, rune(r))
			i += 4
		default:
			p.i = i
			return "", p.errf("bad escape \\%c", e)
		}
	}
	p.i = len(p.data)
	return "", p.errf("unterminated string")
}
