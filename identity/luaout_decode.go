package identity

import (
	"encoding/json"
	"unicode/utf8"

	"github.com/user360/user360/internal/jsonscan"
)

// decodeOut decodes an apply.lua output into o. It reads the common shape
// (cjson's compact output: known keys, strings, integers, string lists)
// in one pass without reflection; anything else (escapes it does not know,
// odd numbers, unknown keys, "del", invalid JSON) falls back to
// json.Unmarshal, so the result and the error are always those of
// json.Unmarshal(out, o) on a zero o.
func decodeOut(out string, o *luaOut) error {
	var f outParser
	f.b = out
	if f.object(o) {
		return nil
	}
	*o = luaOut{}
	return json.Unmarshal([]byte(out), o)
}

// outParser is a strict reader of apply.lua's output; any method returning
// false means "not the simple shape", never "invalid".
type outParser struct {
	b string
	i int
}

func (f *outParser) ws() { f.i = jsonscan.SkipSpace(f.b, f.i) }

func (f *outParser) next(c byte) bool {
	f.ws()
	if f.i < len(f.b) && f.b[f.i] == c {
		f.i++
		return true
	}
	return false
}

func (f *outParser) peek() byte {
	f.ws()
	if f.i < len(f.b) {
		return f.b[f.i]
	}
	return 0
}

// str reads a JSON string (escapes resolved) of valid UTF-8.
func (f *outParser) str() (string, bool) {
	if !f.next('"') {
		return "", false
	}
	start := f.i
	esc := false
	ascii := true
	for f.i < len(f.b) {
		c := f.b[f.i]
		switch {
		case c == '"':
			raw := f.b[start:f.i]
			f.i++
			if !ascii && !utf8.ValidString(raw) {
				return "", false
			}
			if !esc {
				return raw, true // shares the output's memory
			}
			return jsonscan.Unescape(raw)
		case c == '\\':
			esc = true
			f.i += 2
			continue
		case c < 0x20:
			return "", false
		case c >= 0x80:
			ascii = false
		}
		f.i++
	}
	return "", false
}

// integer reads an optionally negative run of at most 18 digits without
// leading zeros.
func (f *outParser) integer() (int, bool) {
	f.ws()
	neg := false
	if f.i < len(f.b) && f.b[f.i] == '-' {
		neg = true
		f.i++
	}
	start := f.i
	n := 0
	for f.i < len(f.b) && f.b[f.i] >= '0' && f.b[f.i] <= '9' {
		n = n*10 + int(f.b[f.i]-'0')
		f.i++
	}
	d := f.i - start
	if d == 0 || d > 18 || (d > 1 && f.b[start] == '0') {
		return 0, false
	}
	if f.i < len(f.b) {
		switch f.b[f.i] {
		case '.', 'e', 'E':
			return 0, false
		}
	}
	if neg {
		n = -n
	}
	return n, true
}

// emptyOrNull reads {} or null (a luaList that is nil).
func (f *outParser) emptyOrNull() bool {
	switch f.peek() {
	case '{':
		f.i++
		return f.next('}')
	case 'n':
		if len(f.b)-f.i >= 4 && f.b[f.i:f.i+4] == "null" {
			f.i += 4
			return true
		}
	}
	return false
}

// list reads a JSON array whose elements elem reads ([] gives an empty,
// non-nil list, as json.Unmarshal does; {} or null gives nil, as cjson
// encodes an empty Lua table).
func list[T any](f *outParser, elem func() (T, bool)) ([]T, bool) {
	if f.peek() != '[' {
		if f.emptyOrNull() {
			return nil, true
		}
		return nil, false
	}
	f.i++
	l := []T{}
	if f.next(']') {
		return l, true
	}
	for {
		v, ok := elem()
		if !ok {
			return nil, false
		}
		l = append(l, v)
		if f.next(']') {
			return l, true
		}
		if !f.next(',') {
			return nil, false
		}
	}
}

// strings reads a list of strings.
func (f *outParser) strings() ([]string, bool) { return list(f, f.str) }

// lists reads a list of string lists.
func (f *outParser) lists() ([][]string, bool) {
	return list(f, func() ([]string, bool) {
		if f.peek() != '[' {
			return nil, false // {} or null elements: let json decide
		}
		return f.strings()
	})
}

// object reads the whole output.
func (f *outParser) object(o *luaOut) bool {
	if !f.next('{') {
		return false
	}
	if !f.next('}') {
		for {
			k, ok := f.str()
			if !ok || !f.next(':') || !f.field(k, o) {
				return false
			}
			if f.next('}') {
				break
			}
			if !f.next(',') {
				return false
			}
		}
	}
	f.ws()
	return f.i == len(f.b)
}

// field reads the value of key k into o.
func (f *outParser) field(k string, o *luaOut) bool {
	var ok bool
	switch k {
	case "s", "p", "c", "ls", "u", "tid":
		if f.peek() == 'n' {
			return f.emptyOrNull() // null leaves a string unchanged
		}
		var s string
		if s, ok = f.str(); !ok {
			return false
		}
		switch k {
		case "s":
			o.S = s
		case "p":
			o.P = s
		case "c":
			o.C = s
		case "ls":
			o.Ls = s
		case "u":
			o.U = s
		case "tid":
			o.Tid = s
		}
	case "cr":
		if f.peek() == 'n' {
			return f.emptyOrNull()
		}
		o.Cr, ok = f.integer()
	case "ab", "id":
		var l []string
		if l, ok = f.strings(); !ok {
			return false
		}
		if k == "ab" {
			o.Ab = l
		} else {
			o.ID = l
		}
	case "ch", "tr":
		var l [][]string
		if l, ok = f.lists(); !ok {
			return false
		}
		if k == "ch" {
			o.Ch = l
		} else {
			o.Tr = l
		}
	case "del":
		// only deletes carry it; and only empty here
		if !f.emptyOrNull() {
			return false
		}
		o.Del, ok = nil, true
	default:
		return false
	}
	return ok
}
