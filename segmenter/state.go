package segmenter

import (
	"encoding/json"
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
	st         State
	traits     map[string]any
	parsed     bool
	raw        map[string][]byte // lazily indexed st.Traits
	lazy       map[string]any    // traits decoded one by one
	indexed    bool
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

// trait reads one trait, decoding only it.
func (p *pstate) trait(name string) (any, bool) {
	if p.parsed {
		v, ok := p.traits[name]
		return v, ok
	}
	if v, ok := p.lazy[name]; ok {
		return v, true
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
	p.raw, p.lazy, p.indexed = nil, nil, false
}

func (p *pstate) markChanged(seg string) {
	if p.changed == nil {
		p.changed = map[string]bool{}
	}
	p.changed[seg] = true
}

// nextDue is the earliest membership deadline (0 = none).
func (p *pstate) nextDue() int64 {
	var d int64
	for _, m := range p.st.Segs {
		if m.Due > 0 && (d == 0 || m.Due < d) {
			d = m.Due
		}
	}
	return d
}

func partitionKey(p int32) string { return strconv.FormatInt(int64(p), 10) }
