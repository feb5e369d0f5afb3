package identity

import (
	"crypto/sha1"
	"encoding/json"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/internal/jsonscan"
	"github.com/user360/user360/schemas"
)

// recordNamespace seeds the deterministic ids of output records.
var recordNamespace = uuid.MustParse("6b1d9c1e-3c55-4b8e-9a43-0f4f5f0d2a11")

// outputID derives an output record's messageId from the source message,
// so a redelivered message republishes identical records.
// It is uuid.NewSHA1(recordNamespace, name) with the hash input built on
// the stack (one allocation: the text).
func outputID(tenant, sourceID, kind, extra string) string {
	var buf [160]byte
	b := append(buf[:0], recordNamespace[:]...)
	for i, part := range [4]string{tenant, sourceID, kind, extra} {
		if i > 0 {
			b = append(b, 0)
		}
		b = append(b, part...)
	}
	h := sha1.Sum(b)
	var u uuid.UUID
	copy(u[:], h[:])
	u[6] = (u[6] & 0x0f) | 0x50 // version 5
	u[8] = (u[8] & 0x3f) | 0x80 // RFC 4122 variant
	return u.String()
}

// parseMillis reads a decimal ms timestamp ("" = zero time).
func parseMillis(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// splitIdent reads "type:value".
func splitIdent(s string) schemas.Identity {
	t, v, _ := strings.Cut(s, ":")
	return schemas.Identity{Type: t, Value: v}
}

// identities turns stored identity strings into sorted identities (by the
// tenant's priority, then value) so that output is deterministic.
func identities(r *rules, raw []string) []schemas.Identity {
	out := make([]schemas.Identity, 0, len(raw))
	for _, s := range raw {
		out = append(out, splitIdent(s))
	}
	slices.SortFunc(out, func(a, b schemas.Identity) int {
		switch {
		case a.Type == b.Type:
			return strings.Compare(a.Value, b.Value)
		case r == nil:
			return strings.Compare(a.Type, b.Type)
		case r.less(a.Type, b.Type):
			return -1
		case r.less(b.Type, a.Type):
			return 1
		}
		return 0
	})
	return out
}

// userIDOf returns the user_id identity's value.
func userIDOf(ids []schemas.Identity) string {
	for _, id := range ids {
		if id.Type == TypeUserID {
			return id.Value
		}
	}
	return ""
}

// decodeJSONValue decodes a stored JSON value ("" = nil).
func decodeJSONValue(s string) any {
	if s == "" {
		return nil
	}
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return s
	}
	return v
}

// wireUpdate is schemas.ProfileUpdate with its traits, changes and event
// carried as raw JSON: the values come from the store as JSON already, so
// they are spliced, not decoded and re-encoded. It encodes to exactly the
// schemas.ProfileUpdate wire format.
type wireUpdate struct {
	Type       string             `json:"type"`
	MessageID  string             `json:"messageId"`
	Tenant     string             `json:"tenant"`
	ProfileID  string             `json:"profileId"`
	UserID     string             `json:"userId,omitempty"`
	Identities []schemas.Identity `json:"identities"`
	Event      json.RawMessage    `json:"event,omitempty"`
	Changes    json.RawMessage    `json:"changes,omitempty"`
	Traits     json.RawMessage    `json:"traits,omitempty"`
	Merge      *schemas.Merge     `json:"merge,omitempty"`
	Timestamp  time.Time          `json:"timestamp"`
	// rawValid: Event, Changes and Traits are valid JSON by construction
	// (encodeUpdate then skips validating them; never encoded).
	rawValid bool
}

// appendRaw appends a stored JSON value ("" = null; invalid JSON, which the
// store never holds, is appended as a string).
func appendRaw(buf []byte, v string) []byte {
	if v == "" {
		return append(buf, "null"...)
	}
	if !jsonscan.Valid([]byte(v)) {
		b, _ := json.Marshal(v)
		return append(buf, b...)
	}
	return append(buf, v...)
}

// appendKey appends a JSON object key and the colon.
func appendKey(buf []byte, k string) []byte {
	buf = appendJSONString(buf, k)
	return append(buf, ':')
}

// rawObject builds a JSON object from script entries of the given arity,
// sorted by their first element (the key); value writes the rest.
func rawObject(entries luaList[[]string], arity, sizeHint int, value func(buf []byte, e []string) []byte) json.RawMessage {
	if len(entries) == 0 {
		return nil
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i][0] < entries[j][0] })
	buf := make([]byte, 0, sizeHint*len(entries))
	buf = append(buf, '{')
	n := 0
	for _, e := range entries {
		if len(e) != arity {
			continue
		}
		if n > 0 {
			buf = append(buf, ',')
		}
		n++
		buf = appendKey(buf, e[0])
		buf = value(buf, e)
	}
	return append(buf, '}')
}

// traitsObject builds the traits object of a cached profile (its list is
// sorted by name): the bytes rawTraits builds from the same traits.
func traitsObject(l *traitList) json.RawMessage {
	n := 0
	for _, e := range l.es {
		if e.val.n != 0 {
			n += int(e.name.n+e.val.n) + 4
		}
	}
	if n == 0 {
		return nil
	}
	buf := make([]byte, 0, n+2)
	buf = append(buf, '{')
	first := true
	for i := range l.len() {
		name, st := l.at(i)
		if st.val == "" {
			continue
		}
		if !first {
			buf = append(buf, ',')
		}
		first = false
		buf = appendKey(buf, name)
		buf = appendRaw(buf, st.val)
	}
	return append(buf, '}')
}

// rawTraits builds the traits object from [name, JSON] pairs, sorted.
func rawTraits(tr luaList[[]string]) json.RawMessage {
	return rawObject(tr, 2, 32, func(buf []byte, kv []string) []byte { return appendRaw(buf, kv[1]) })
}

// noChanges is the changes member of a profile.updated whose message
// changed no trait.
var noChanges = json.RawMessage(`{}`)

// rawChanges builds the changes object from [name, old, new] triples.
func rawChanges(ch luaList[[]string]) json.RawMessage {
	return rawObject(ch, 3, 48, func(buf []byte, c []string) []byte {
		buf = append(buf, `{"old":`...)
		buf = appendRaw(buf, c[1])
		buf = append(buf, `,"new":`...)
		buf = appendRaw(buf, c[2])
		return append(buf, '}')
	})
}

// profileUpdates builds the profile-updates records of one applied
// message. event is the message's timeline entry JSON.
func profileUpdates(tenant string, r *rules, e *schemas.Event, event string, ts time.Time, out *luaOut) []wireUpdate {
	switch out.S {
	case outDeleted:
		var ups []wireUpdate
		for _, d := range out.Del {
			if len(d) < 3 {
				continue
			}
			var pid, uidJSON string
			var ids luaList[string]
			_ = json.Unmarshal(d[0], &pid)
			_ = json.Unmarshal(d[1], &uidJSON)
			_ = json.Unmarshal(d[2], &ids)
			idents := identities(r, ids)
			uid := userIDOf(idents)
			if uid == "" {
				if s, ok := decodeJSONValue(uidJSON).(string); ok {
					uid = s
				}
			}
			ups = append(ups, wireUpdate{
				Type: schemas.UserDeleted, MessageID: outputID(tenant, e.MessageID, schemas.UserDeleted, pid),
				Tenant: tenant, ProfileID: pid, UserID: uid, Identities: idents, Timestamp: ts, rawValid: true,
			})
		}
		return ups
	case outOK:
	default:
		return nil
	}
	idents := identities(r, out.ID)
	traits := out.TrJ
	if traits == nil {
		traits = rawTraits(out.Tr)
	}
	changes := rawChanges(out.Ch)
	var merge *schemas.Merge
	if len(out.Ab) > 0 {
		merge = &schemas.Merge{Survivor: out.P, Absorbed: append([]string(nil), out.Ab...)}
	}
	// traits and changes are valid by construction; event is the
	// json.Marshal output of prepare
	base := wireUpdate{Tenant: tenant, ProfileID: out.P, UserID: userIDOf(idents), Identities: idents, Timestamp: ts, rawValid: true}
	n := 1 // profile.updated, and:
	if out.Cr == 1 {
		n++ // user.created
	} else if len(changes) > 0 {
		n++ // user.updated
	}
	if merge != nil {
		n++ // profile.merged
	}
	ups := make([]wireUpdate, 0, n)
	if out.Cr == 1 {
		u := base
		u.Type, u.MessageID, u.Traits = schemas.UserCreated, outputID(tenant, e.MessageID, schemas.UserCreated, ""), traits
		ups = append(ups, u)
	}
	if merge != nil {
		u := base
		u.Type, u.MessageID, u.Merge, u.Traits = schemas.ProfileMerged, outputID(tenant, e.MessageID, schemas.ProfileMerged, ""), merge, traits
		ups = append(ups, u)
	}
	u := base
	u.Type, u.MessageID = schemas.ProfileUpdated, outputID(tenant, e.MessageID, schemas.ProfileUpdated, "")
	u.Changes, u.Traits, u.Merge = changes, traits, merge
	if changes == nil {
		// said explicitly: a consumer that finds no changes member has to
		// compare the traits itself (the segmenter would decode both)
		u.Changes = noChanges
	}
	if event != "" {
		u.Event = json.RawMessage(event)
	}
	ups = append(ups, u)
	if out.Cr == 0 && len(changes) > 0 {
		u := base
		u.Type, u.MessageID = schemas.UserUpdated, outputID(tenant, e.MessageID, schemas.UserUpdated, "")
		u.Changes, u.Traits = changes, traits
		ups = append(ups, u)
	}
	return ups
}

// The constant header values of identity's records, shared by all of them
// (the client only reads them).
var (
	hdrSchemaUpdate = []byte(schemas.SchemaProfileUpdate)
	hdrSource       = []byte("identity")
	hdrJSON         = []byte("application/json")
)

// updateRecord encodes a profile update as a profile-updates record.
func updateRecord(topic string, u *wireUpdate) (*kgo.Record, error) {
	v, err := encodeUpdate(u)
	if err != nil {
		return nil, err
	}
	return &kgo.Record{
		Topic: topic,
		Key:   schemas.Key(u.Tenant, u.ProfileID),
		Value: v,
		Headers: []kgo.RecordHeader{
			{Key: schemas.HeaderTenant, Value: []byte(u.Tenant)},
			{Key: schemas.HeaderSchema, Value: hdrSchemaUpdate},
			{Key: schemas.HeaderSource, Value: hdrSource},
			{Key: schemas.HeaderContentType, Value: hdrJSON},
		},
	}, nil
}

// deadLetterRecord encodes a dead letter of the identity stage.
func deadLetterRecord(topic string, d *schemas.DeadLetter) *kgo.Record {
	v, _ := json.Marshal(d)
	id := d.MessageID
	if id == "" {
		id = "identity"
	}
	tenant := d.Tenant
	if tenant == "" {
		tenant = "unknown"
	}
	return &kgo.Record{
		Topic: topic,
		Key:   schemas.Key(tenant, id),
		Value: v,
		Headers: []kgo.RecordHeader{
			{Key: schemas.HeaderTenant, Value: []byte(tenant)},
			{Key: schemas.HeaderSchema, Value: []byte(schemas.SchemaDeadLetter)},
			{Key: schemas.HeaderSource, Value: hdrSource},
			{Key: schemas.HeaderContentType, Value: hdrJSON},
		},
	}
}
