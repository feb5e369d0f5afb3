package segmenter

import (
	"bytes"
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
	b, _ := encodeStateWith(st, nil)
	return b
}

// encodeStateWith encodes st; segs, when not nil, is the memberships
// section as decoded (decodeStateSpan) and known to be unchanged, copied
// instead of re-encoded (the memberships are the bulk of a state and
// rarely change). It also returns the memberships section it wrote.
func encodeStateWith(st *State, segs []byte) ([]byte, []byte) {
	b := make([]byte, 0, 128+len(segs))
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
	segsAt := len(b)
	if segs != nil {
		b = append(b, segs...)
	} else {
		b = encodeSegs(b, st, sorted)
	}
	segsEnd := len(b)
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
	return b, b[segsAt:segsEnd:segsEnd]
}

// encodeSegs appends the memberships section: a count, then per segment id
// (ascending) the id, in (1 byte), seq and due (varints).
func encodeSegs(b []byte, st *State, sorted func(func(func(string))) []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(st.Segs)))
	for _, k := range sorted(func(f func(string)) {
		for k := range st.Segs {
			f(k)
		}
	}) {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		m := st.Segs[k]
		if m.In {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
		b = binary.AppendVarint(b, m.Seq)
		b = binary.AppendVarint(b, m.Due)
	}
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
	_, err := decodeStateSpan(b, st, false)
	return err
}

// decodedState is what decodeStateSpan learns besides the State: the
// memberships section as encoded (nil for the JSON format), to be written
// back unchanged by encodeStateWith, and the earliest membership deadline.
// With lazy set, st.Segs is left nil and ix holds the offset in segs of
// each membership (ids ascending), for lookups and decodeSegs.
type decodedState struct {
	segs []byte
	due  int64
	ix   []int32
	lazy bool
}

// decodeStateSpan decodes b into st. With lazy, the memberships are
// validated and indexed but not decoded (when their ids are strictly
// ascending, as encodeState writes them; otherwise they are decoded).
func decodeStateSpan(b []byte, st *State, lazy bool) (decodedState, error) {
	var ds decodedState
	if len(b) == 0 {
		return ds, nil
	}
	if b[0] == '{' {
		return ds, json.Unmarshal(b, st)
	}
	if b[0] != stateCodecV1 {
		return ds, errBadState
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
	segsAt := r.b
	if lazy {
		ds.ix, ds.due = r.indexSegs(segsAt)
		ds.lazy = ds.ix != nil
		if !ds.lazy && !r.err {
			r.b = segsAt // not in order: decode them
		}
	}
	if !ds.lazy && !r.err {
		ds.due = r.segs(st)
	}
	if !r.err {
		n := len(segsAt) - len(r.b)
		ds.segs = segsAt[:n:n]
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
		return decodedState{}, errBadState
	}
	return ds, nil
}

// segs decodes the memberships section into st.Segs and returns the
// earliest deadline.
func (r *stateReader) segs(st *State) int64 {
	var due int64
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
			if d := ms[i].Due; d > 0 && (due == 0 || d < due) {
				due = d
			}
			st.Segs[k] = &ms[i]
		}
	}
	return due
}

// indexSegs validates the memberships section (r.b == sec) and returns the
// offset in sec of each membership and the earliest deadline. It returns a
// nil index (r.err unset) when the ids are not strictly ascending.
func (r *stateReader) indexSegs(sec []byte) ([]int32, int64) {
	n := r.count()
	if r.err {
		return nil, 0
	}
	ix := make([]int32, 0, n)
	var due int64
	var prev []byte
	for i := range n {
		at := len(sec) - len(r.b)
		kn := r.uvarint()
		if r.err || kn > uint64(len(r.b)) {
			r.err = true
			r.b = nil
			return nil, 0
		}
		k := r.b[:kn]
		r.b = r.b[kn:]
		if i > 0 && bytes.Compare(prev, k) >= 0 {
			return nil, 0
		}
		prev = k
		if len(r.b) == 0 {
			r.err = true
			r.b = nil
			return nil, 0
		}
		r.b = r.b[1:]
		r.varint()
		if d := r.varint(); d > 0 && (due == 0 || d < due) {
			due = d
		}
		if r.err {
			return nil, 0
		}
		ix = append(ix, int32(at))
	}
	return ix, due
}

// segEntry decodes the membership at offset at of a memberships section.
func segEntry(sec []byte, at int32) (id []byte, m member) {
	r := &stateReader{b: sec[at:]}
	kn := r.uvarint()
	id = r.b[:kn]
	r.b = r.b[kn:]
	m.In = r.b[0] == 1
	r.b = r.b[1:]
	m.Seq = r.varint()
	m.Due = r.varint()
	return id, m
}

// segSearch finds a membership by id in an indexed memberships section.
func segSearch(sec []byte, ix []int32, id string) (member, bool) {
	lo, hi := 0, len(ix)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		k, m := segEntry(sec, ix[mid])
		switch {
		case string(k) == id:
			return m, true
		case string(k) < id:
			lo = mid + 1
		default:
			hi = mid
		}
	}
	return member{}, false
}
