package segmenter

import (
	"encoding/json"
	"github.com/user360/user360/internal/jsonscan"
	"strconv"

	"github.com/user360/user360/schemas"
)

// State is what the segmenter keeps per profile, in one Redis hash (field
// "d" the JSON of State, field "t" the raw traits of the last update): the
// timestamps of matching
// events per event condition, every membership with its transition sequence
// and deadline, and the last applied offset per partition.
type State struct {
	UserID     string             `json:"u,omitempty"`
	Identities []schemas.Identity `json:"i,omitempty"`
	Traits     json.RawMessage    `json:"-"`           // stored in its own hash field "t", never re-encoded
	Conds      map[string][]int64 `json:"c,omitempty"` // condition key → Unix ms, ascending; a key present = seeded
	Segs       map[string]*member `json:"s,omitempty"` // segment id → membership
	Offsets    map[string]int64   `json:"o,omitempty"` // partition → last applied offset
	OutSeq     int64              `json:"n,omitempty"` // outbox entries written so far
	Gone       string             `json:"x,omitempty"` // "deleted" or "merged": a tombstone
}

// member is one (profile, segment) membership. Seq counts transitions: odd
// after an entry, even after an exit, so a messageId (derived from Seq)
// always names the same transition.
type member struct {
	In  bool  `json:"m,omitempty"`
	Seq int64 `json:"q,omitempty"`
	Due int64 `json:"d,omitempty"` // Unix ms of the next time-caused re-evaluation
}

// pstate is a loaded profile state and the work done on it.
type pstate struct {
	tenant, id string
	ver        int64 // 0 = no state in Redis
	epoch      int64 // heldStates.epoch when loaded (WriteBehind)
	unread     bool  // taken as absent without reading it (loadStates)
	st         State
	traits     map[string]any
	parsed     bool
	raw        map[string][]byte // lazily indexed st.Traits
	lazy       map[string]any    // traits decoded one by one
	indexed    bool
	scans      int                    // traits found by scanning st.Traits, before indexing it
	segsRaw    []byte                 // the memberships as read (codec section); nil = unknown
	segsDue    int64                  // the earliest deadline in segsRaw
	segsMut    bool                   // st.Segs changed since read: segsRaw is stale
	segsLazy   bool                   // st.Segs not decoded yet: read segsRaw through segsIx
	segsIx     []int32                // offset in segsRaw of each membership (ids ascending)
	events     *schemas.ProfileEvents // fetched once for seeding
	pending    []outEntry             // outbox entries left by an earlier attempt
	out        []schemas.SegmentChange
	changed    map[string]bool // segments whose membership changed
	dirty      bool
}

type outEntry struct {
	field  string
	value  string
	change *schemas.SegmentChange // set when written by this process (no decode needed)
}

func (p *pstate) traitMap() map[string]any {
	if !p.parsed {
		p.parsed = true
		p.traits = nil
		if len(p.st.Traits) > 0 {
			_ = json.Unmarshal(p.st.Traits, &p.traits)
		}
	}
	return p.traits
}

// newTraitNames lists the trait names of raw without decoding their
// values, when p has no stored traits (so all of them changed); ok is
// false otherwise, or when raw is not a plain object.
func newTraitNames(p *pstate, raw json.RawMessage) ([]string, bool) {
	if len(p.st.Traits) > 0 || (p.parsed && len(p.traits) > 0) || len(p.lazy) > 0 {
		return nil, false
	}
	if len(raw) == 0 {
		return nil, true
	}
	var names []string
	if !jsonscan.NamedMembers(raw, 0, func(name string, _ []byte) bool {
		names = append(names, name)
		return true
	}) {
		return nil, false
	}
	return names, true
}

// trait reads one trait, decoding only it.
func (p *pstate) trait(name string) (any, bool) {
	if p.parsed {
		v, ok := p.traits[name]
		return v, ok
	}
	if v, ok := p.lazy[name]; ok {
		return v, true
	}
	// Rules of an update usually read one or two traits: find them by
	// scanning, and index the whole object only when more are read.
	if !p.indexed && p.scans < maxTraitScans && len(p.st.Traits) > 0 {
		if r, found, ok := findField(p.st.Traits, name); ok {
			p.scans++
			if !found {
				return nil, false
			}
			v := decodeRaw(r)
			if p.lazy == nil {
				p.lazy = make(map[string]any, 8)
			}
			p.lazy[name] = v
			return v, true
		}
	}
	if !p.indexed {
		p.indexed = true
		p.raw = nil
		if len(p.st.Traits) > 0 {
			raw, ok := rawFields(p.st.Traits)
			if !ok {
				p.traitMap()
				v, ok := p.traits[name]
				return v, ok
			}
			p.raw = raw
		}
	}
	r, ok := p.raw[name]
	if !ok {
		return nil, false
	}
	v := decodeRaw(r)
	if p.lazy == nil {
		p.lazy = make(map[string]any, 8)
	}
	p.lazy[name] = v
	return v, true
}

// setTraits replaces the raw traits and forgets what was decoded.
func (p *pstate) setTraits(raw json.RawMessage) {
	p.st.Traits = raw
	p.traits, p.parsed = nil, false
	p.raw, p.lazy, p.indexed, p.scans = nil, nil, false, 0
}

// maxTraitScans is how many traits trait() finds by scanning the raw
// object before it indexes it.
const maxTraitScans = 3

// segsChanged records that st.Segs was (or may have been) modified, so
// that it is encoded again rather than copied from what was read. The
// caller has called segs() before.
func (p *pstate) segsChanged() { p.segsMut = true }

// segs returns st.Segs, decoding the memberships first when they were
// loaded lazily. Every reader of st.Segs but lookup calls it first.
func (p *pstate) segs() map[string]*member {
	if p.segsLazy {
		p.segsLazy = false
		if n := len(p.segsIx); n > 0 {
			p.st.Segs = make(map[string]*member, n)
			ms := make([]member, n)
			for i, at := range p.segsIx {
				id, m := segEntry(p.segsRaw, at)
				ms[i] = m
				p.st.Segs[string(id)] = &ms[i]
			}
		}
		p.segsIx = nil
	}
	return p.st.Segs
}

// lookup reads one membership without decoding the others.
func (p *pstate) lookup(id string) (member, bool) {
	if p.segsLazy {
		return segSearch(p.segsRaw, p.segsIx, id)
	}
	if m := p.st.Segs[id]; m != nil {
		return *m, true
	}
	return member{}, false
}

func (p *pstate) markChanged(seg string) {
	p.segs()
	p.segsMut = true
	if p.changed == nil {
		p.changed = map[string]bool{}
	}
	p.changed[seg] = true
}

// nextDue is the earliest membership deadline (0 = none).
func (p *pstate) nextDue() int64 {
	if p.segsRaw != nil && !p.segsMut {
		return p.segsDue
	}
	var d int64
	p.segs()
	for _, m := range p.st.Segs {
		if m.Due > 0 && (d == 0 || m.Due < d) {
			d = m.Due
		}
	}
	return d
}

func partitionKey(p int32) string { return strconv.FormatInt(int64(p), 10) }
