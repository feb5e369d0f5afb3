package replay

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/schemas"
	"github.com/user360/user360/segmenter"
	"github.com/user360/user360/segmenter/rules"
)

// logEvent is what a segment backfill reads of an events-log record.
type logEvent struct {
	Type        string          `json:"type"`
	MessageID   string          `json:"messageId"`
	UserID      string          `json:"userId"`
	AnonymousID string          `json:"anonymousId"`
	Event       string          `json:"event"`
	Name        string          `json:"name"`
	Properties  json.RawMessage `json:"properties"`
	Timestamp   time.Time       `json:"timestamp"`
	ReceivedAt  time.Time       `json:"receivedAt"`
}

// matched is one record that counts for at least one condition: its
// identifiers, event time and the stamp per condition (0 = no match).
type matched struct {
	userID, anonID string
	at             time.Time
	stamps         []int64
}

// segFilter selects the records of one tenant whose event a segment's
// conditions read, and matches them as the identity and segmenter stages
// would have (event name, event time, properties).
type segFilter struct {
	tenant string
	to     time.Time
	conds  []*rules.EventCond
	loc    *time.Location
	byName map[string][]int // event name → indexes in conds
	// needles are the JSON-quoted names: a record containing none of them
	// (and no \u escape) cannot name one of the events (nil: no prefilter).
	needles [][]byte
}

func newSegFilter(tenant string, to time.Time, se segmenter.SegmentEvents) *segFilter {
	f := &segFilter{tenant: tenant, to: to, conds: se.Conds, loc: se.Loc, byName: map[string][]int{}}
	for i, c := range se.Conds {
		f.byName[c.Name] = append(f.byName[c.Name], i)
	}
	for name := range f.byName {
		if strings.ContainsAny(name, "\"\\/<>&\u2028\u2029") || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 }) {
			f.needles = nil // a name that JSON may escape: decode every record
			break
		}
		f.needles = append(f.needles, []byte(`"`+name+`"`))
	}
	return f
}

// mayMatch is the cheap test before decoding a record's value.
func (f *segFilter) mayMatch(v []byte) bool {
	if f.needles == nil {
		return true
	}
	for _, n := range f.needles {
		if bytes.Contains(v, n) {
			return true
		}
	}
	return bytes.Contains(v, []byte(`\u`))
}

// match returns the record's stamps per condition, or ok false when the
// record does not count (another tenant, after To, another type or name,
// undecodable, no condition matches).
func (f *segFilter) match(rec *kgo.Record) (matched, bool) {
	if !f.to.IsZero() && rec.Timestamp.After(f.to) {
		return matched{}, false
	}
	if recordTenant(rec) != f.tenant || !f.mayMatch(rec.Value) {
		return matched{}, false
	}
	var e logEvent
	if err := json.Unmarshal(rec.Value, &e); err != nil || e.MessageID == "" {
		return matched{}, false // identity dead-lettered it
	}
	name := ""
	switch e.Type {
	case schemas.TypeTrack:
		name = e.Event
	case schemas.TypePage, schemas.TypeScreen:
		name = e.Name
	default:
		return matched{}, false
	}
	idx, ok := f.byName[name]
	if !ok {
		return matched{}, false
	}
	// The event time as identity takes it: timestamp, else receivedAt,
	// else (never in practice) the publish time.
	at := e.Timestamp
	switch {
	case !at.IsZero():
	case !e.ReceivedAt.IsZero():
		at = e.ReceivedAt
	default:
		at = rec.Timestamp
	}
	at = at.UTC()
	var props map[string]any
	if len(e.Properties) > 0 && e.Properties[0] == '{' {
		_ = json.Unmarshal(e.Properties, &props)
	}
	m := matched{userID: strings.TrimSpace(e.UserID), anonID: strings.TrimSpace(e.AnonymousID), at: at, stamps: make([]int64, len(f.conds))}
	any := false
	for _, i := range idx {
		if f.conds[i].Match(props, at, f.loc) {
			m.stamps[i] = rules.Stamp(at, e.MessageID)
			any = true
		}
	}
	return m, any
}
