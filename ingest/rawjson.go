package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"unicode/utf8"

	"github.com/user360/user360/internal/jsonscan"
)

// The gateway validates a request body once with json.Valid and then walks
// it with the splitter below, which assumes valid JSON: it finds the
// top-level fields of an object and the elements of an array without
// decoding values, so a message is rewritten by splicing bytes rather than by
// decoding and re-encoding it. Field order is kept.

var errNotObject = errors.New("not a JSON object")

// field is one top-level member of a JSON object: the key as it was written
// (quotes and escapes included) and the raw value.
type field struct {
	rawKey []byte
	key    string
	val    json.RawMessage
}

// fields is a message as an ordered list of members.
type fields []field

func (fs fields) get(k string) json.RawMessage {
	for i := range fs {
		if fs[i].key == k {
			return fs[i].val
		}
	}
	return nil
}

func (fs *fields) set(k string, v json.RawMessage) {
	for i := range *fs {
		if (*fs)[i].key == k {
			(*fs)[i].val = v
			return
		}
	}
	*fs = append(*fs, field{rawKey: mustString(k), key: k, val: v})
}

func (fs *fields) del(k string) {
	out := (*fs)[:0]
	for _, f := range *fs {
		if f.key != k {
			out = append(out, f)
		}
	}
	*fs = out
}

// appendTo writes the object.
func (fs fields) appendTo(b []byte) []byte {
	b = append(b, '{')
	for i, f := range fs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, f.rawKey...)
		b = append(b, ':')
		b = append(b, f.val...)
	}
	return append(b, '}')
}

// splitObject returns the members of a valid JSON object. A later duplicate
// key replaces an earlier one, as encoding/json does.
func splitObject(b []byte) (fields, error) {
	i := jsonscan.SkipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, errNotObject
	}
	var ms memberSet
	i = jsonscan.SkipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return ms.fs, nil
	}
	for i < len(b) {
		i = jsonscan.SkipSpace(b, i)
		if i >= len(b) || b[i] != '"' {
			return nil, errNotObject
		}
		kEnd := jsonscan.SkipString(b, i)
		if kEnd < 0 {
			return nil, errNotObject
		}
		rawKey := b[i:kEnd]
		key, err := unquote(rawKey)
		if err != nil {
			return nil, err
		}
		i = jsonscan.SkipSpace(b, kEnd)
		if i >= len(b) || b[i] != ':' {
			return nil, errNotObject
		}
		vStart := jsonscan.SkipSpace(b, i+1)
		vEnd := jsonscan.SkipValue(b, vStart)
		if vEnd <= vStart {
			return nil, errNotObject
		}
		ms.add(field{rawKey: rawKey, key: key, val: b[vStart:vEnd]})
		i = jsonscan.SkipSpace(b, vEnd)
		if i < len(b) && b[i] == ',' {
			i++
			continue
		}
		if i < len(b) && b[i] == '}' {
			return ms.result(), nil
		}
		return nil, errNotObject
	}
	return nil, errNotObject
}

// linearKeys is the size up to which memberSet finds a key by scanning:
// messages have a dozen members, where a map costs more than it saves.
const linearKeys = 16

// memberSet collects an object's members in order, a later duplicate key
// replacing an earlier one, in time linear in the number of members: a
// replaced member is only marked (val nil) and dropped once at the end, and
// past linearKeys members keys are found through a map. (Looking each key
// up by a scan made a 484 KB body of 45k keys cost 2 s of CPU before
// authentication.)
type memberSet struct {
	fs       fields
	index    map[string]int // key → position of its live member, once built
	replaced int
}

func (s *memberSet) add(f field) {
	if i := s.find(f.key); i >= 0 {
		s.fs[i].val = nil
		s.replaced++
	}
	s.fs = append(s.fs, f)
	switch {
	case s.index != nil:
		s.index[f.key] = len(s.fs) - 1
	case len(s.fs) > linearKeys:
		s.index = make(map[string]int, 2*len(s.fs))
		for i, g := range s.fs {
			if g.val != nil {
				s.index[g.key] = i
			}
		}
	}
}

// find returns the position of the live member named k, or -1.
func (s *memberSet) find(k string) int {
	if s.index != nil {
		if i, ok := s.index[k]; ok {
			return i
		}
		return -1
	}
	for i := range s.fs {
		if s.fs[i].val != nil && s.fs[i].key == k {
			return i
		}
	}
	return -1
}

// result returns the live members in order.
func (s *memberSet) result() fields {
	if s.replaced == 0 {
		return s.fs
	}
	out := s.fs[:0]
	for _, f := range s.fs {
		if f.val != nil {
			out = append(out, f)
		}
	}
	return out
}

// splitArray returns the elements of a valid JSON array.
func splitArray(b []byte) ([]json.RawMessage, error) {
	i := jsonscan.SkipSpace(b, 0)
	if i >= len(b) || b[i] != '[' {
		return nil, errors.New("not a JSON array")
	}
	var out []json.RawMessage
	i = jsonscan.SkipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return out, nil
	}
	for i < len(b) {
		vStart := jsonscan.SkipSpace(b, i)
		vEnd := jsonscan.SkipValue(b, vStart)
		if vEnd <= vStart {
			return nil, errors.New("malformed array")
		}
		out = append(out, b[vStart:vEnd])
		i = jsonscan.SkipSpace(b, vEnd)
		if i < len(b) && b[i] == ',' {
			i++
			continue
		}
		if i < len(b) && b[i] == ']' {
			return out, nil
		}
		return nil, errors.New("malformed array")
	}
	return nil, errors.New("malformed array")
}

func unquote(raw []byte) (string, error) {
	if len(raw) >= 2 && bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
		return string(raw[1 : len(raw)-1]), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", err
	}
	return s, nil
}
