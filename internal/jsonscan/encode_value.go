package jsonscan

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
)

// AppendValue appends v exactly as json.Marshal writes it, for the values
// that decoding JSON into an any yields: nil, bool, float64, string,
// []any and map[string]any (keys sorted, as encoding/json sorts them),
// nested to any depth. ok is false, with b returned as it was, for
// anything else (another type, NaN or an infinity): the caller then asks
// encoding/json, which also gives the error. FuzzAppendValue holds it to
// encoding/json.
func AppendValue(b []byte, v any) (out []byte, ok bool) {
	n := len(b)
	if b, ok = appendValue(b, v); !ok {
		return b[:n], false
	}
	return b, true
}

// AppendJSON appends json.Marshal(v): AppendValue where it can,
// encoding/json for anything else. On an error (encoding/json's, word for
// word) b is returned as it was.
func AppendJSON(b []byte, v any) ([]byte, error) {
	if out, ok := AppendValue(b, v); ok {
		return out, nil
	}
	j, err := json.Marshal(v)
	if err != nil {
		return b, err
	}
	return append(b, j...), nil
}

func appendValue(b []byte, v any) ([]byte, bool) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), true
	case bool:
		return strconv.AppendBool(b, x), true
	case string:
		return AppendString(b, x), true
	case float64:
		return appendFloat(b, x)
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var ok bool
			if b, ok = appendValue(b, e); !ok {
				return b, false
			}
		}
		return append(b, ']'), true
	case map[string]any:
		return appendObject(b, x)
	}
	return b, false
}

// appendObject writes m's members by key order (byte-wise, as
// encoding/json sorts them).
func appendObject(b []byte, m map[string]any) ([]byte, bool) {
	var small [32]string // no allocation up to 32 members
	keys := small[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendString(b, k)
		b = append(b, ':')
		var ok bool
		if b, ok = appendValue(b, m[k]); !ok {
			return b, false
		}
	}
	return append(b, '}'), true
}

// appendFloat writes f as encoding/json's float64 encoder does: the
// shortest form that reads back as f, exponent notation below 1e-6 and
// from 1e21 (with "e-07" shortened to "e-7").
func appendFloat(b []byte, f float64) ([]byte, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return b, false
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, true
}
