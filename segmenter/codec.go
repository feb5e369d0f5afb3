package segmenter

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"sort"

	"github.com/user360/user360/schemas"
)

// The per-profile State is read and written on every update, so it has a
// compact binary encoding (JSON costs several times more CPU): a version
// byte, then varint-prefixed strings and varint numbers, maps in key order.
// A value starting with '{' is read as JSON (the first format).

const stateCodecV1 = 1

var errBadState = errors.New("segmenter: corrupt profile state")

func encodeState(st *State) []byte {
	b := make([]byte, 0, 128)
	b = append(b, stateCodecV1)
	str := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	str(st.UserID)
	b = binary.AppendUvarint(b, uint64(len(st.Identities)))
	for _, id := range st.Identities {
		str(id.Type)
		str(id.Value)
	}
	keys := make([]string, 0, max(len(st.Conds), len(st.Segs), len(st.Offsets)))
	sorted := func(each func(func(string))) []string {
		keys = keys[:0]
		each(func(k string) { keys = append(keys, k) })
		sort.Strings(keys)
		return keys
	}
	b = binary.AppendUvarint(b, uint64(len(st.Conds)))
	for _, k := range sorted(func(f func(string)) {
		for k := range st.Conds {
			f(k)
		}
	}) {
		str(k)
		ts := st.Conds[k]
		b = binary.AppendUvarint(b, uint64(len(ts)))
		var prev int64
		for _, t := range ts {
			b = binary.AppendVarint(b, t-prev)
			prev = t
		}
	}
	b = binary.AppendUvarint(b, uint64(len(st.Segs)))
	for _, k := range sorted(func(f func(string)) {
		for k := range st.Segs {
			f(k)
		}
	}) {
		str(k)
		m := st.Segs[k]
		if m.In {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
		b = binary.AppendVarint(b, m.Seq)
		b = binary.AppendVarint(b, m.Due)
	}
	b = binary.AppendUvarint(b, uint64(len(st.Offsets)))
	for _, k := range sorted(func(f func(string)) {
		for k := range st.Offsets {
			f(k)
		}
	}) {
		str(k)
		b = binary.AppendVarint(b, st.Offsets[k])
	}
	b = binary.AppendVarint(b, st.OutSeq)
	str(st.Gone)
	return b
}

type stateReader struct {
	b   []byte
	err bool
}

func (r *stateReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = true
		r.b = nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *stateReader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = true
		r.b = nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *stateReader) str() string {
	n := r.uvarint()
	if r.err || n > uint64(len(r.b)) {
		r.err = true
		r.b = nil
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// count reads a length and bounds it by the bytes left (each element
// takes at least one byte), so corrupt input cannot allocate much.
func (r *stateReader) count() int {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.err = true
		r.b = nil
		return 0
	}
	return int(n)
}

func decodeState(b []byte, st *State) error {
	if len(b) == 0 {
		return nil
	}
	if b[0] == '{' {
		return json.Unmarshal(b, st)
	}
	if b[0] != stateCodecV1 {
		return errBadState
	}
	r := &stateReader{b: b[1:]}
	st.UserID = r.str()
	if n := r.count(); n > 0 {
		st.Identities = make([]schemas.Identity, n)
		for i := range st.Identities {
			st.Identities[i] = schemas.Identity{Type: r.str(), Value: r.str()}
		}
	}
	if n := r.count(); n > 0 {
		st.Conds = make(map[string][]int64, n)
		for range n {
			k := r.str()
			c := r.count()
			ts := make([]int64, c)
			var prev int64
			for i := range ts {
				prev += r.varint()
				ts[i] = prev
			}
			st.Conds[k] = ts
		}
	}
	if n := r.count(); n > 0 {
		st.Segs = make(map[string]*member, n)
		ms := make([]member, n)
		for i := range n {
			k := r.str()
			if len(r.b) == 0 {
				r.err = true
				break
			}
			ms[i].In = r.b[0] == 1
			r.b = r.b[1:]
			ms[i].Seq = r.varint()
			ms[i].Due = r.varint()
			st.Segs[k] = &ms[i]
		}
	}
	if n := r.count(); n > 0 {
		st.Offsets = make(map[string]int64, n)
		for range n {
			k := r.str()
			st.Offsets[k] = r.varint()
		}
	}
	st.OutSeq = r.varint()
	st.Gone = r.str()
	if r.err {
		return errBadState
	}
	return nil
}
