package identity

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/user360/user360/internal/jsonscan"
	"github.com/user360/user360/schemas"
)

// decodeEvent decodes an events-topic value into e, matching keys exactly
// as schemas.Event does (a key that differs from a field only in case is
// not that field: the gateway validated the exact keys). It reads the
// common shape in one pass without reflection; anything it is not sure
// about (repeated fields, surrogate escapes, invalid UTF-8, odd numbers,
// wrong types, deep nesting, bad times, invalid JSON) falls back to
// schemas.UnmarshalEventFields, so the result and the error are always
// that decoder's on a zero e.
func decodeEvent(b []byte, e *plainEvent) error {
	d := evParser{b: b}
	if d.event(e) {
		return nil
	}
	*e = plainEvent{}
	return schemas.UnmarshalEventFields(b, (*schemas.Event)(e))
}

// evParser is a strict JSON reader; false from any method means "not the
// simple shape", never "invalid".
type evParser struct {
	b     []byte
	i     int
	depth int
}

// maxEventDepth: deeper values take encoding/json (which has its own
// nesting limit and error).
const maxEventDepth = 100

func (d *evParser) ws() { d.i = jsonscan.SkipSpace(d.b, d.i) }

func (d *evParser) peek() byte {
	d.ws()
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

func (d *evParser) next(c byte) bool {
	if d.peek() == c {
		d.i++
		return true
	}
	return false
}

func (d *evParser) lit(s string) bool {
	d.ws()
	if len(d.b)-d.i >= len(s) && string(d.b[d.i:d.i+len(s)]) == s {
		d.i += len(s)
		return true
	}
	return false
}

// str reads a string; \u escapes outside the surrogate range are decoded,
// surrogates and invalid UTF-8 are not the simple shape.
func (d *evParser) str() (string, bool) {
	raw, esc, ok := d.strRaw()
	if !ok {
		return "", false
	}
	if !esc {
		return string(raw), true
	}
	return jsonscan.Unescape(raw)
}

// strRaw reads a string and returns its bytes between the quotes (esc:
// they hold escapes) without copying them.
func (d *evParser) strRaw() (raw []byte, esc, ok bool) {
	if !d.next('"') {
		return nil, false, false
	}
	start := d.i
	ascii := true
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			raw := d.b[start:d.i]
			d.i++
			if !ascii && !utf8.Valid(raw) {
				return nil, false, false
			}
			return raw, esc, true
		case c == '\\':
			esc = true
			d.i += 2
			continue
		case c < 0x20:
			return nil, false, false
		case c >= 0x80:
			ascii = false
		}
		d.i++
	}
	return nil, false, false
}

// number reads a JSON number as encoding/json does into an interface.
func (d *evParser) number() (float64, bool) {
	d.ws()
	s := d.i
	if d.i < len(d.b) && d.b[d.i] == '-' {
		d.i++
	}
	digits := func() int {
		n := 0
		for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
			d.i++
			n++
		}
		return n
	}
	is := d.i
	n := digits()
	if n == 0 || (n > 1 && d.b[is] == '0') {
		return 0, false
	}
	if d.i < len(d.b) && d.b[d.i] == '.' {
		d.i++
		if digits() == 0 {
			return 0, false
		}
	}
	if d.i < len(d.b) && (d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		d.i++
		if d.i < len(d.b) && (d.b[d.i] == '+' || d.b[d.i] == '-') {
			d.i++
		}
		if digits() == 0 {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(string(d.b[s:d.i]), 64)
	if err != nil {
		return 0, false
	}
	return f, true
}

// value reads any JSON value as encoding/json decodes it into an any.
func (d *evParser) value() (any, bool) {
	switch c := d.peek(); {
	case c == '"':
		return d.str()
	case c == '{':
		return d.object()
	case c == '[':
		d.depth++
		if d.depth > maxEventDepth {
			return nil, false
		}
		d.i++
		l := []any{}
		if !d.next(']') {
			for {
				v, ok := d.value()
				if !ok {
					return nil, false
				}
				l = append(l, v)
				if d.next(']') {
					break
				}
				if !d.next(',') {
					return nil, false
				}
			}
		}
		d.depth--
		return l, true
	case c == 't':
		return true, d.lit("true")
	case c == 'f':
		return false, d.lit("false")
	case c == 'n':
		return nil, d.lit("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return d.number()
	}
	return nil, false
}

// object reads an object into a new map (later duplicates win, as in
// encoding/json).
func (d *evParser) object() (map[string]any, bool) {
	d.depth++
	if d.depth > maxEventDepth || !d.next('{') {
		return nil, false
	}
	m := map[string]any{}
	if !d.next('}') {
		for {
			k, ok := d.str()
			if !ok || !d.next(':') {
				return nil, false
			}
			v, ok := d.value()
			if !ok {
				return nil, false
			}
			m[k] = v
			if d.next('}') {
				break
			}
			if !d.next(',') {
				return nil, false
			}
		}
	}
	d.depth--
	return m, true
}

// eventFields are the keys plainEvent decodes, in bit order.
var eventFields = [...]string{"type", "messageId", "userId", "anonymousId", "event", "name", "category",
	"previousId", "groupId", "traits", "properties", "context", "integrations", "timestamp", "sentAt", "receivedAt"}

// fieldIndex is the index of an exact key in eventFields, -1 for any
// other key (keys match exactly: a case-folded one is just another key).
func fieldIndex(k []byte) int {
	for i, f := range eventFields {
		if string(k) == f {
			return i
		}
	}
	return -1
}

// key reads an object key of the top level: its bytes, unescaped (a copy
// only when it holds escapes).
func (d *evParser) key() ([]byte, bool) {
	raw, esc, ok := d.strRaw()
	if !ok || !esc {
		return raw, ok
	}
	k, ok := jsonscan.Unescape(raw)
	return []byte(k), ok
}

// event reads the whole value.
func (d *evParser) event(e *plainEvent) bool {
	if !d.next('{') {
		return false
	}
	var seen uint32
	if !d.next('}') {
		for {
			k, ok := d.key()
			if !ok || !d.next(':') {
				return false
			}
			fi := fieldIndex(k)
			switch {
			case fi == -1:
				if _, ok := d.value(); !ok {
					return false
				}
			default:
				if seen&(1<<fi) != 0 || !d.field(fi, e) {
					return false
				}
				seen |= 1 << fi
			}
			if d.next('}') {
				break
			}
			if !d.next(',') {
				return false
			}
		}
	}
	d.ws()
	return d.i == len(d.b)
}

// rawValue returns the bytes of the next value (a string or null here).
func (d *evParser) rawString() ([]byte, bool) {
	d.ws()
	s := d.i
	if d.lit("null") {
		return d.b[s:d.i], true
	}
	if _, ok := d.str(); !ok {
		return nil, false
	}
	return d.b[s:d.i], true
}

// field reads the value of eventFields[fi].
func (d *evParser) field(fi int, e *plainEvent) bool {
	switch fi {
	case 0, 1, 2, 3, 4, 5, 6, 7, 8:
		if d.peek() == 'n' {
			return d.lit("null") // null leaves a string unchanged
		}
		if fi == 0 {
			// a known type: its constant (no copy)
			at := d.i
			if raw, esc, ok := d.strRaw(); ok && !esc {
				if t, known := knownTypes[string(raw)]; known {
					e.Type = t
					return true
				}
			}
			d.i = at
		}
		s, ok := d.str()
		if !ok {
			return false
		}
		switch fi {
		case 0:
			e.Type = s
		case 1:
			e.MessageID = s
		case 2:
			e.UserID = s
		case 3:
			e.AnonymousID = s
		case 4:
			e.Event = s
		case 5:
			e.Name = s
		case 6:
			e.Category = s
		case 7:
			e.PreviousID = s
		case 8:
			e.GroupID = s
		}
	case 9, 10, 11, 12:
		var m map[string]any
		if d.peek() == 'n' {
			if !d.lit("null") {
				return false
			}
		} else {
			var ok bool
			if m, ok = d.object(); !ok {
				return false
			}
		}
		switch fi {
		case 9:
			e.Traits = m
		case 10:
			e.Properties = m
		case 11:
			e.Context = m
		case 12:
			e.Integrations = m
		}
	case 13, 15:
		raw, ok := d.rawString()
		if !ok {
			return false
		}
		t := &e.Timestamp
		if fi == 15 {
			t = &e.ReceivedAt
		}
		if t.UnmarshalJSON(raw) != nil {
			return false
		}
	case 14:
		raw, ok := d.rawString()
		if !ok {
			return false
		}
		if raw[0] == 'n' {
			e.SentAt = nil
			return true
		}
		t := new(time.Time)
		if t.UnmarshalJSON(raw) != nil {
			return false
		}
		e.SentAt = t
	}
	return true
}
