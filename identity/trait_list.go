package identity

import "unsafe"

// traitList holds a cached profile's traits sorted by name. Their strings
// live in one append-only buffer and the entries hold offsets into it, so
// the collector marks two pointer-free objects per profile instead of
// three strings per trait: the profile cache is most of a processor's
// live heap, and the collector marks all of it in every cycle
// (docs/BENCHMARKS.md, "Seventh session").
//
// Strings handed out by get and at alias the buffer. Its bytes are never
// overwritten: a set appends, and a compaction copies into a new buffer.
type traitList struct {
	buf []byte
	es  []traitSpans // sorted by name
	// lastMeta is the meta appended last: a message sets all its traits
	// with one "<ms>|<mid>", which is stored once.
	lastMeta span
	// check is the buffer length at which compact looks again.
	check int
}

// span is a string in traitList.buf (n == 0: the empty string).
type span struct{ off, n uint32 }

type traitSpans struct{ name, val, meta span }

func newTraitList(capacity int) traitList { return traitList{es: make([]traitSpans, 0, capacity)} }

func (l *traitList) str(s span) string {
	if s.n == 0 {
		return ""
	}
	return unsafe.String(&l.buf[s.off], int(s.n))
}

func (l *traitList) add(s string) span {
	if s == "" {
		return span{}
	}
	off := len(l.buf)
	l.buf = append(l.buf, s...)
	return span{uint32(off), uint32(len(s))}
}

// len is the number of traits.
func (l *traitList) len() int { return len(l.es) }

// at returns the i-th trait in name order.
func (l *traitList) at(i int) (string, traitState) {
	e := l.es[i]
	return l.str(e.name), traitState{val: l.str(e.val), meta: l.str(e.meta)}
}

func (l *traitList) find(k string) (int, bool) {
	lo, hi := 0, len(l.es)
	for lo < hi {
		m := (lo + hi) / 2
		if l.str(l.es[m].name) < k {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, lo < len(l.es) && l.str(l.es[lo].name) == k
}

// get returns a trait's state (zero when the profile never had it).
func (l *traitList) get(k string) traitState {
	if i, ok := l.find(k); ok {
		_, st := l.at(i)
		return st
	}
	return traitState{}
}

// set stores a trait's state.
func (l *traitList) set(k string, st traitState) {
	i, ok := l.find(k)
	var e traitSpans
	if ok {
		e = l.es[i]
	} else {
		e.name = l.add(k)
	}
	if l.str(e.val) != st.val {
		e.val = l.add(st.val)
	}
	if l.str(e.meta) != st.meta {
		if st.meta != "" && l.str(l.lastMeta) == st.meta {
			e.meta = l.lastMeta
		} else {
			e.meta = l.add(st.meta)
			l.lastMeta = e.meta
		}
	}
	if ok {
		l.es[i] = e
	} else {
		l.es = append(l.es, traitSpans{})
		copy(l.es[i+1:], l.es[i:])
		l.es[i] = e
	}
	l.compact()
}

// compact copies the strings still in use to a new buffer once the
// buffer holds more than twice their size (values that were replaced).
func (l *traitList) compact() {
	if len(l.buf) <= l.check {
		return
	}
	live := 0
	for _, e := range l.es {
		live += int(e.name.n + e.val.n + e.meta.n)
	}
	l.check = 2*live + 256
	if len(l.buf) <= l.check {
		return
	}
	old := *l // (old.es is l.es: entry i is rewritten after it is read)
	l.buf = make([]byte, 0, live)
	metas := map[span]span{}
	for i, e := range old.es {
		m, seen := metas[e.meta]
		if !seen {
			m = l.add(old.str(e.meta))
			metas[e.meta] = m
		}
		l.es[i] = traitSpans{name: l.add(old.str(e.name)), val: l.add(old.str(e.val)), meta: m}
	}
	l.lastMeta = metas[old.lastMeta]
}
