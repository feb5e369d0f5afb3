package identity

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/schemas"
)

// recordNamespace seeds the deterministic ids of output records.
var recordNamespace = uuid.MustParse("6b1d9c1e-3c55-4b8e-9a43-0f4f5f0d2a11")

// outputID derives an output record's messageId from the source message,
// so a redelivered message republishes identical records.
func outputID(tenant, sourceID, kind, extra string) string {
	return uuid.NewSHA1(recordNamespace, []byte(tenant+"\x00"+sourceID+"\x00"+kind+"\x00"+extra)).String()
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
	sort.Slice(out, func(i, j int) bool {
		if out[i].Type != out[j].Type {
			if r != nil {
				return r.less(out[i].Type, out[j].Type)
			}
			return out[i].Type < out[j].Type
		}
		return out[i].Value < out[j].Value
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

// profileUpdates builds the profile-updates records of one applied message.
func profileUpdates(tenant string, r *rules, e *schemas.Event, ts time.Time, out *luaOut) []schemas.ProfileUpdate {
	switch out.S {
	case outDeleted:
		var ups []schemas.ProfileUpdate
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
			ups = append(ups, schemas.ProfileUpdate{
				Type: schemas.UserDeleted, MessageID: outputID(tenant, e.MessageID, schemas.UserDeleted, pid),
				Tenant: tenant, ProfileID: pid, UserID: uid, Identities: idents, Timestamp: ts,
			})
		}
		return ups
	case outOK:
	default:
		return nil
	}
	idents := identities(r, out.ID)
	traits := make(map[string]any, len(out.Tr))
	for _, kv := range out.Tr {
		if len(kv) == 2 {
			traits[kv[0]] = decodeJSONValue(kv[1])
		}
	}
	var changes map[string]schemas.TraitChange
	if len(out.Ch) > 0 {
		changes = make(map[string]schemas.TraitChange, len(out.Ch))
		for _, c := range out.Ch {
			if len(c) == 3 {
				changes[c[0]] = schemas.TraitChange{Old: decodeJSONValue(c[1]), New: decodeJSONValue(c[2])}
			}
		}
	}
	var merge *schemas.Merge
	if len(out.Ab) > 0 {
		merge = &schemas.Merge{Survivor: out.P, Absorbed: append([]string(nil), out.Ab...)}
	}
	uid := userIDOf(idents)
	base := schemas.ProfileUpdate{Tenant: tenant, ProfileID: out.P, UserID: uid, Identities: idents, Timestamp: ts}
	var ups []schemas.ProfileUpdate
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
	sum, _ := summary(e, ts)
	u := base
	u.Type, u.MessageID = schemas.ProfileUpdated, outputID(tenant, e.MessageID, schemas.ProfileUpdated, "")
	u.Event, u.Changes, u.Traits, u.Merge = &sum, changes, traits, merge
	ups = append(ups, u)
	if out.Cr == 0 && len(changes) > 0 {
		u := base
		u.Type, u.MessageID = schemas.UserUpdated, outputID(tenant, e.MessageID, schemas.UserUpdated, "")
		u.Changes, u.Traits = changes, traits
		ups = append(ups, u)
	}
	return ups
}

// updateRecord encodes a profile update as a profile-updates record.
func updateRecord(topic string, u *schemas.ProfileUpdate) (*kgo.Record, error) {
	v, err := json.Marshal(u)
	if err != nil {
		return nil, err
	}
	return &kgo.Record{
		Topic: topic,
		Key:   schemas.Key(u.Tenant, u.ProfileID),
		Value: v,
		Headers: []kgo.RecordHeader{
			{Key: schemas.HeaderTenant, Value: []byte(u.Tenant)},
			{Key: schemas.HeaderSchema, Value: []byte(schemas.SchemaProfileUpdate)},
			{Key: schemas.HeaderSource, Value: []byte("identity")},
			{Key: schemas.HeaderContentType, Value: []byte("application/json")},
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
			{Key: schemas.HeaderSource, Value: []byte("identity")},
			{Key: schemas.HeaderContentType, Value: []byte("application/json")},
		},
	}
}
