package identity

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/user360/user360/internal/jsonscan"
	"github.com/user360/user360/schemas"
)

// Context keys of User360's own messages.
const (
	// ctxProfileID names a profile id that a delete message targets.
	ctxProfileID = "user360ProfileId"
	// ctxReplace asks identify to replace the traits (bulk RETAIN_IMPORTED).
	ctxReplace = "user360Replace"
)

// knownTypes are the message types identity applies, each mapped to
// itself (the event decoder takes the constant instead of copying it).
var knownTypes = map[string]string{
	schemas.TypeIdentify: schemas.TypeIdentify, schemas.TypeTrack: schemas.TypeTrack, schemas.TypePage: schemas.TypePage,
	schemas.TypeScreen: schemas.TypeScreen, schemas.TypeGroup: schemas.TypeGroup, schemas.TypeAlias: schemas.TypeAlias,
	schemas.TypeDelete: schemas.TypeDelete,
}

// zeroPad13 pads a decimal of at most 13 digits to 13.
func zeroPad13(d string) string {
	if len(d) >= 13 {
		return d
	}
	return "0000000000000"[:13-len(d)] + d
}

// counterCut is the first day inside the counter lookback as of now; one
// batch shares its now, so the last answer is kept.
func (s *Store) counterCut(now time.Time) string {
	if c := s.cut.Load(); c != nil && c.now.Equal(now) {
		return c.day
	}
	day := now.UTC().AddDate(0, 0, -(s.cfg.CounterLookbackDays - 1)).Format("2006-01-02")
	s.cut.Store(&cutMemo{now: now, day: day})
	return day
}

type cutMemo struct {
	now time.Time
	day string
}

// prepare turns an event into the script message. Problems are parts that
// were dropped; an error means the message cannot be applied at all.
func (s *Store) prepare(tenant string, r *rules, e *schemas.Event, now time.Time) (scriptMsg, []problem, error) {
	if _, ok := knownTypes[e.Type]; !ok {
		return scriptMsg{}, nil, fmt.Errorf("%w: unknown type %q", ErrBadMessage, e.Type)
	}
	if e.MessageID == "" {
		return scriptMsg{}, nil, fmt.Errorf("%w: messageId is required", ErrBadMessage)
	}
	if err := checkEventTimes(e); err != nil {
		return scriptMsg{}, nil, err
	}
	ts := eventTime(e, now)
	ms := ts.UnixMilli()
	if ms < 0 {
		ms = 0
	}
	if ms > 9999999999999 {
		ms = 9999999999999
	}
	m := scriptMsg{
		Mid:    e.MessageID,
		K:      "apply",
		Ts:     strconv.FormatInt(ms, 10),
		Lim:    r.limits, // every configured limit: a merge may bring in any type
		Dl:     r.limit("\x00"),
		Tr:     [][2]string{},
		Cap:    s.cfg.TimelineCap,
		TbTTL:  int(s.cfg.TombstoneTTL / time.Second),
		tenant: tenant, // Np is derived on demand (profileID)
		Day:    ts.Format("2006-01-02"),
		Cut:    s.counterCut(now),
	}
	m.Tsp = zeroPad13(m.Ts)
	traits, probs := r.collectTraits(e)
	ids := r.extractIdents(e, traits)
	m.Ids = make([]string, len(ids))
	for i, id := range ids {
		m.Ids[i] = id.String()
	}
	if e.Type == schemas.TypeDelete {
		m.K = "delete"
		if p, ok := e.Context[ctxProfileID].(string); ok {
			m.Dp = p
		}
		if len(m.Ids) == 0 && m.Dp == "" {
			return scriptMsg{}, probs, fmt.Errorf("%w: a delete needs an identifier or %s", ErrBadMessage, "context."+ctxProfileID)
		}
		return m, probs, nil
	}
	if e.Type != schemas.TypeGroup {
		keys := sortedKeys(traits)
		for _, k := range keys {
			v, err := encodeTrait(traits[k])
			if err != nil {
				probs = append(probs, problem{"traits." + k, "cannot be encoded: " + err.Error()})
				continue
			}
			m.Tr = append(m.Tr, [2]string{k, v})
		}
	}
	if rp, _ := e.Context[ctxReplace].(bool); rp && e.Type == schemas.TypeIdentify {
		m.Rp = 1
	}
	if e.Type == schemas.TypeIdentify {
		m.Rp, m.Ut = importMode(e.Context, m.Rp)
	}
	sum, counter := summary(e, ts)
	ev, err := encodeSummary(&sum)
	if err != nil {
		// properties that cannot be encoded: keep the entry without them
		sum.Properties = nil
		ev, _ = json.Marshal(sum)
		probs = append(probs, problem{"properties", "cannot be encoded: " + err.Error()})
	}
	m.Ev = string(ev)
	m.En = counter
	return m, probs, nil
}

// encodeTrait returns json.Marshal(v) as a string, without encoding/json's
// reflection for the values that decoded events hold.
func encodeTrait(v any) (string, error) {
	var small [64]byte
	b, err := jsonscan.AppendJSON(small[:0], v)
	return string(b), err
}

// checkEventTimes refuses a message whose times JSON cannot carry (a year
// outside 0000–9999, in its own offset or in UTC): every record built from
// it would fail to encode, and the batch with it, again on every retry.
func checkEventTimes(e *schemas.Event) error {
	check := func(name string, t time.Time) error {
		if !schemas.ValidEventTime(t) {
			return fmt.Errorf("%w: %s is outside the years 0000–9999 in UTC", ErrBadMessage, name)
		}
		return nil
	}
	if err := check("timestamp", e.Timestamp); err != nil {
		return err
	}
	if err := check("receivedAt", e.ReceivedAt); err != nil {
		return err
	}
	if e.SentAt != nil {
		return check("sentAt", *e.SentAt)
	}
	return nil
}
