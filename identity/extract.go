package identity

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"

	"github.com/user360/user360/schemas"
)

// maxIdentValue bounds an identifier value's length.
const maxIdentValue = 512

// ident is one identifier of a message.
type ident struct {
	Type  string
	Value string
}

func (i ident) String() string { return i.Type + ":" + i.Value }

// problem is a part of a message that was dropped (the rest is applied).
type problem struct {
	Field  string
	Reason string
}

// normEmail trims and lower-cases an email; ok is false when it is not one.
func normEmail(v string) (string, bool) {
	v = strings.ToLower(strings.TrimSpace(v))
	at := strings.IndexByte(v, '@')
	if at <= 0 || at == len(v)-1 || strings.ContainsAny(v, " \t\n") {
		return v, false
	}
	return v, true
}

// normPhone converts a phone number to E.164; numbers without a country
// code take the region. ok is false when it is not a valid number.
func normPhone(v, region string) (string, bool) {
	if len(v) > phoneCacheKeyMax {
		return parsePhone(v, region)
	}
	k := phoneKey{v, region}
	if r, ok := phones.get(k); ok {
		return r.n, r.ok
	}
	n, ok := parsePhone(v, region)
	phones.put(k, phoneResult{n, ok})
	return n, ok
}

// parsePhone is normPhone without the cache.
func parsePhone(v, region string) (string, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return v, false
	}
	if region == "" {
		region = "US"
	}
	num, err := phonenumbers.Parse(v, region)
	if err != nil || !phonenumbers.IsValidNumber(num) {
		return v, false
	}
	return phonenumbers.Format(num, phonenumbers.E164), true
}

// normIdent normalises an identifier value of a type; ok is false when the
// value cannot identify anyone.
func (r *rules) normIdent(typ, v string) (string, bool) {
	if typ == "" {
		return "", false
	}
	switch typ {
	case TypeEmail:
		var ok bool
		if v, ok = normEmail(v); !ok {
			return v, false
		}
	case TypePhone:
		var ok bool
		if v, ok = normPhone(v, r.defaultRegion); !ok {
			return v, false
		}
	default:
		v = strings.TrimSpace(v)
	}
	if len(v) > maxIdentValue || r.isBlocked(v) {
		return v, false
	}
	return v, true
}

// identString turns a JSON value into an identifier string (strings and
// integral numbers only). A json.Number written as an integer keeps its
// exact decimal text (beyond 2^53 and int64 too); other integral forms
// (1.0, 1e3) go through float64 like a number decoded without UseNumber.
func identString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case float64:
		if x == float64(int64(x)) {
			return fmt.Sprintf("%d", int64(x)), true
		}
	case json.Number:
		if d := strings.TrimPrefix(x.String(), "-"); d != "" && strings.Trim(d, "0123456789") == "" {
			if strings.Trim(d, "0") == "" {
				return "0", true // -0
			}
			return x.String(), true
		}
		if f, err := x.Float64(); err == nil {
			return identString(f)
		}
	case int:
		return fmt.Sprintf("%d", x), true
	case int64:
		return fmt.Sprintf("%d", x), true
	}
	return "", false
}

// extractIdents lists a message's identifiers, normalised, deduplicated,
// sorted by priority and trimmed to the per-type limits.
func (r *rules) extractIdents(e *schemas.Event, traits map[string]any) []ident {
	var ids []ident
	seen := map[string]bool{}
	add := func(typ, raw string) {
		typ = normType(typ)
		v, ok := r.normIdent(typ, raw)
		if !ok {
			return
		}
		id := ident{typ, v}
		if s := id.String(); !seen[s] {
			seen[s] = true
			ids = append(ids, id)
		}
	}
	add(TypeUserID, e.UserID)
	add(TypeAnonymousID, e.AnonymousID)
	if e.Type == schemas.TypeAlias {
		// previousId is treated as an anonymous id (see docs/design/identity.md).
		add(TypeAnonymousID, e.PreviousID)
	}
	if s, ok := identString(traits["email"]); ok {
		add(TypeEmail, s)
	}
	if s, ok := identString(traits["phone"]); ok {
		add(TypePhone, s)
	}
	if ext, ok := e.Context["externalIds"].([]any); ok {
		for _, x := range ext {
			m, ok := x.(map[string]any)
			if !ok {
				continue
			}
			typ, _ := m["type"].(string)
			if v, ok := identString(m["id"]); ok {
				add(typ, v)
			}
		}
	}
	if len(r.traitIDs) > 0 {
		keys := make([]string, 0, len(r.traitIDs))
		for k := range r.traitIDs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if v, ok := identString(traits[k]); ok {
				add(r.traitIDs[k], v)
			}
		}
	}
	r.sortByPriority(ids)
	// A message never carries more values of a type than a profile may hold.
	count := map[string]int{}
	out := ids[:0]
	for _, id := range ids {
		if count[id.Type] < r.limit(id.Type) {
			count[id.Type]++
			out = append(out, id)
		}
	}
	return out
}

// collectTraits gathers the traits a message sets: context.traits, then
// the message's own traits (identify), typed and normalised. Bad system
// traits are dropped with a problem.
func (r *rules) collectTraits(e *schemas.Event) (map[string]any, []problem) {
	var probs []problem
	out := map[string]any{}
	apply := func(src map[string]any, path string) {
		keys := make([]string, 0, len(src))
		for k := range src {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if strings.TrimSpace(k) == "" || len(k) > 256 {
				probs = append(probs, problem{path + "." + k, "trait name must be 1 to 256 characters"})
				continue
			}
			ck := canonicalTraitKey(k)
			v, ok, why := coerceSystemTrait(ck, src[k])
			if !ok {
				probs = append(probs, problem{path + "." + k, why})
				continue
			}
			out[ck] = v
		}
	}
	if ct, ok := e.Context["traits"].(map[string]any); ok {
		apply(ct, "context.traits")
	}
	if e.Type == schemas.TypeIdentify || e.Type == schemas.TypeAlias {
		apply(e.Traits, "traits")
	}
	if s, ok := out["email"].(string); ok {
		if n, ok := normEmail(s); ok {
			out["email"] = n
		}
	}
	if s, ok := out["phone"].(string); ok {
		if n, ok := normPhone(s, r.defaultRegion); ok {
			out["phone"] = n
		}
	}
	if e.UserID != "" && !r.isBlocked(e.UserID) {
		out["userId"] = strings.TrimSpace(e.UserID)
	}
	if ch, ok := e.Context["channel"].(string); ok && strings.TrimSpace(ch) != "" {
		out["lastChannel"] = strings.TrimSpace(ch)
	}
	return out, probs
}

// eventTime is the message's event time: timestamp, else receivedAt, else now.
func eventTime(e *schemas.Event, now time.Time) time.Time {
	switch {
	case !e.Timestamp.IsZero():
		return e.Timestamp.UTC()
	case !e.ReceivedAt.IsZero():
		return e.ReceivedAt.UTC()
	}
	return now.UTC()
}

// summary is the timeline entry and counter name of a message: the
// counter name equals the entry's Name (track event, page or screen name),
// so daily counts and the timeline agree for the segmenter.
func summary(e *schemas.Event, ts time.Time) (schemas.EventSummary, string) {
	s := schemas.EventSummary{Type: e.Type, MessageID: e.MessageID, Timestamp: ts}
	counter := ""
	switch e.Type {
	case schemas.TypeTrack:
		s.Name = e.Event
		s.Properties = e.Properties
		counter = e.Event
	case schemas.TypePage, schemas.TypeScreen:
		// counted under the page/screen name, the name the segmenter sees
		s.Name = e.Name
		s.Properties = e.Properties
		counter = e.Name
	case schemas.TypeGroup:
		s.Name = e.GroupID
	}
	return s, counter
}

// newProfileID derives the id of a profile created by a message, so that a
// replay creates the same id.
func newProfileID(tenant, messageID string) string {
	h := sha256.Sum256([]byte(tenant + "\x00" + messageID))
	return "p" + hex.EncodeToString(h[:8])
}
