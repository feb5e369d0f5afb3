package segmenter

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// rawFields indexes the members of a JSON object without decoding their
// values: rules read a few traits of a profile, so decoding all of them on
// every update would be wasted. The input has already been validated by
// encoding/json (it is part of a decoded record or was written by us); on
// anything unexpected ok is false and the caller decodes the usual way.
func rawFields(b []byte) (map[string][]byte, bool) {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, false
	}
	out := make(map[string][]byte, 32)
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return out, true
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return nil, false
		}
		end := skipString(b, i)
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
		i = skipWS(b, end)
		if i >= len(b) || b[i] != ':' {
			return nil, false
		}
		i = skipWS(b, i+1)
		vend := skipValue(b, i)
		if vend < 0 {
			return nil, false
		}
		out[key] = b[i:vend]
		i = skipWS(b, vend)
		if i >= len(b) {
			return nil, false
		}
		if b[i] == '}' {
			return out, true
		}
		if b[i] != ',' {
			return nil, false
		}
		i = skipWS(b, i+1)
	}
}

// findField finds the last member named name of a JSON object without
// indexing or decoding the others (encoding/json keeps the last of
// duplicate names too). ok is false on anything rawFields would refuse and
// when a name has escapes (the caller then indexes the object).
func findField(b []byte, name string) (val []byte, found, ok bool) {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, false, false
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return nil, false, true
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return nil, false, false
		}
		end := skipString(b, i)
		if end < 0 {
			return nil, false, false
		}
		keyRaw := b[i+1 : end-1]
		if bytes.IndexByte(keyRaw, '\\') >= 0 {
			return nil, false, false
		}
		i = skipWS(b, end)
		if i >= len(b) || b[i] != ':' {
			return nil, false, false
		}
		i = skipWS(b, i+1)
		vend := skipValue(b, i)
		if vend < 0 {
			return nil, false, false
		}
		if string(keyRaw) == name {
			val, found = b[i:vend], true
		}
		i = skipWS(b, vend)
		if i >= len(b) {
			return nil, false, false
		}
		if b[i] == '}' {
			return val, found, true
		}
		if b[i] != ',' {
			return nil, false, false
		}
		i = skipWS(b, i+1)
	}
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] == '"'.
func skipString(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// skipValue returns the index after the value starting at b[i].
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				e := skipString(b, j)
				if e < 0 {
					return -1
				}
				j = e - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
		j++
	}
	if j == i {
		return -1
	}
	return j
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
