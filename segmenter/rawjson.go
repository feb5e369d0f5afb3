package segmenter

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/user360/user360/internal/jsonscan"
)

// rawFields indexes the members of a JSON object without decoding their
// values: rules read a few traits of a profile, so decoding all of them on
// every update would be wasted. The input has already been validated by
// encoding/json (it is part of a decoded record or was written by us); on
// anything unexpected ok is false and the caller decodes the usual way.
func rawFields(b []byte) (map[string][]byte, bool) {
	i := jsonscan.SkipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, false
	}
	out := make(map[string][]byte, 32)
	i = jsonscan.SkipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return out, true
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return nil, false
		}
		end := jsonscan.SkipString(b, i)
		if end < 0 {
			return nil, false
		}
		keyRaw := b[i+1 : end-1]
		var key string
		if bytes.IndexByte(keyRaw, '\\') >= 0 {
			if json.Unmarshal(b[i:end], &key) != nil {
				return nil, false
			}
		} else {
			key = string(keyRaw)
		}
		i = jsonscan.SkipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return nil, false
		}
		i = jsonscan.SkipSpace(b, i+1)
		vend := jsonscan.SkipValue(b, i)
		if vend < 0 {
			return nil, false
		}
		out[key] = b[i:vend]
		i = jsonscan.SkipSpace(b, vend)
		if i >= len(b) {
			return nil, false
		}
		if b[i] == '}' {
			return out, true
		}
		if b[i] != ',' {
			return nil, false
		}
		i = jsonscan.SkipSpace(b, i+1)
	}
}

// findField finds the last member named name of a JSON object without
// indexing or decoding the others (encoding/json keeps the last of
// duplicate names too). ok is false on anything rawFields would refuse and
// when a name has escapes (the caller then indexes the object).
func findField(b []byte, name string) (val []byte, found, ok bool) {
	i := jsonscan.SkipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, false, false
	}
	i = jsonscan.SkipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return nil, false, true
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return nil, false, false
		}
		end := jsonscan.SkipString(b, i)
		if end < 0 {
			return nil, false, false
		}
		keyRaw := b[i+1 : end-1]
		if bytes.IndexByte(keyRaw, '\\') >= 0 {
			return nil, false, false
		}
		i = jsonscan.SkipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return nil, false, false
		}
		i = jsonscan.SkipSpace(b, i+1)
		vend := jsonscan.SkipValue(b, i)
		if vend < 0 {
			return nil, false, false
		}
		if string(keyRaw) == name {
			val, found = b[i:vend], true
		}
		i = jsonscan.SkipSpace(b, vend)
		if i >= len(b) {
			return nil, false, false
		}
		if b[i] == '}' {
			return val, found, true
		}
		if b[i] != ',' {
			return nil, false, false
		}
		i = jsonscan.SkipSpace(b, i+1)
	}
}

// decodeRaw decodes one JSON value as encoding/json does into an any.
func decodeRaw(raw []byte) any {
	switch raw[0] {
	case '"':
		if bytes.IndexByte(raw, '\\') < 0 {
			return string(raw[1 : len(raw)-1])
		}
	case 't':
		if string(raw) == "true" {
			return true
		}
	case 'f':
		if string(raw) == "false" {
			return false
		}
	case 'n':
		if string(raw) == "null" {
			return nil
		}
	case '{', '[':
	default:
		if f, err := strconv.ParseFloat(string(raw), 64); err == nil {
			return f
		}
	}
	var v any
	_ = json.Unmarshal(raw, &v)
	return v
}
