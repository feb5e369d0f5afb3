package ingest

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/user360/user360/schemas"
)

// fieldError is why one message was rejected, and which field is at fault.
type fieldError struct {
	Field string
	Msg   string
	Code  string
}

func (e *fieldError) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

func reject(code, field, format string, args ...any) *fieldError {
	return &fieldError{Field: field, Code: code, Msg: fmt.Sprintf(format, args...)}
}

var knownTypes = map[string]bool{
	schemas.TypeIdentify: true, schemas.TypeTrack: true, schemas.TypePage: true,
	schemas.TypeScreen: true, schemas.TypeGroup: true, schemas.TypeAlias: true,
}

// normalized is one accepted message, ready for the log.
type normalized struct {
	typ   string
	key   string // user id, else anonymous id
	value []byte
	msgID string
}

// normalizer holds what every message of one request shares.
type normalizer struct {
	cfg          *Config
	receivedAt   time.Time
	batchSentAt  time.Time
	context      map[string]json.RawMessage
	integrations map[string]json.RawMessage
}

func newNormalizer(cfg *Config, req *request, receivedAt time.Time) (*normalizer, *fieldError) {
	n := &normalizer{cfg: cfg, receivedAt: receivedAt}
	if !isNull(req.sentAt) {
		s, err := optString(req.sentAt)
		if err != nil {
			return nil, reject("invalid_type", "sentAt", "must be an ISO-8601 string")
		}
		if s != "" {
			t, err := parseTime(s)
			if err != nil {
				return nil, reject("invalid_timestamp", "sentAt", "%q is %v", s, err)
			}
			n.batchSentAt = t
		}
	}
	if isObject(req.context) {
		if err := json.Unmarshal(req.context, &n.context); err != nil {
			return nil, reject("invalid_type", "context", "must be an object")
		}
	}
	if isObject(req.integrations) {
		_ = json.Unmarshal(req.integrations, &n.integrations)
	}
	return n, nil
}

// normalize validates one message and builds its record value. pathType is
// the type given by the URL ("" for a batch, where each message names its
// own). m is modified.
func (n *normalizer) normalize(m map[string]json.RawMessage, pathType string) (*normalized, *fieldError) {
	typ := pathType
	if typ == "" {
		s, err := optString(m["type"])
		if err != nil {
			return nil, reject("invalid_type", "type", "must be a string")
		}
		typ = strings.ToLower(s)
		if typ == "" {
			return nil, reject("missing_field", "type", "is required in a batch (identify, track, page, screen, group or alias)")
		}
		if !knownTypes[typ] {
			return nil, reject("invalid_value", "type", "%q is not a message type (identify, track, page, screen, group, alias)", s)
		}
	}
	userID, err := optID(m["userId"])
	if err != nil {
		return nil, reject("invalid_type", "userId", "%v", err)
	}
	anonID, err := optID(m["anonymousId"])
	if err != nil {
		return nil, reject("invalid_type", "anonymousId", "%v", err)
	}
	if userID == "" && anonID == "" {
		return nil, reject("missing_field", "userId", "userId or anonymousId is required")
	}
	setString(m, "userId", userID)
	setString(m, "anonymousId", anonID)

	switch typ {
	case schemas.TypeTrack:
		ev, err := optString(m["event"])
		if err != nil {
			return nil, reject("invalid_type", "event", "must be a string")
		}
		if strings.TrimSpace(ev) == "" {
			return nil, reject("missing_field", "event", "a track call needs an event name")
		}
	case schemas.TypeAlias:
		prev, err := optID(m["previousId"])
		if err != nil {
			return nil, reject("invalid_type", "previousId", "%v", err)
		}
		if prev == "" {
			return nil, reject("missing_field", "previousId", "an alias call needs previousId")
		}
		if userID == "" {
			return nil, reject("missing_field", "userId", "an alias call needs userId")
		}
		setString(m, "previousId", prev)
	case schemas.TypeGroup:
		g, err := optID(m["groupId"])
		if err != nil {
			return nil, reject("invalid_type", "groupId", "%v", err)
		}
		if g == "" {
			return nil, reject("missing_field", "groupId", "a group call needs groupId")
		}
		setString(m, "groupId", g)
	case schemas.TypePage, schemas.TypeScreen:
		if _, err := optString(m["name"]); err != nil {
			return nil, reject("invalid_type", "name", "must be a string")
		}
	}
	for _, f := range []string{"traits", "properties", "context", "integrations"} {
		v, ok := m[f]
		if !ok {
			continue
		}
		if isNull(v) {
			delete(m, f)
			continue
		}
		if !isObject(v) {
			return nil, reject("invalid_type", f, "must be an object")
		}
	}
	if fe := n.mergeShared(m, "context", n.context); fe != nil {
		return nil, fe
	}
	if fe := n.mergeShared(m, "integrations", n.integrations); fe != nil {
		return nil, fe
	}

	msgID, err := optID(m["messageId"])
	if err != nil {
		return nil, reject("invalid_type", "messageId", "%v", err)
	}
	if len(msgID) > 256 {
		return nil, reject("invalid_value", "messageId", "is longer than 256 characters")
	}
	if msgID == "" {
		msgID = uuid.NewString()
	}

	ts, fe := n.timestamp(m)
	if fe != nil {
		return nil, fe
	}
	delete(m, "writeKey")
	m["type"] = mustString(typ)
	m["messageId"] = mustString(msgID)
	m["timestamp"] = mustString(ts.Format(time.RFC3339Nano))
	m["receivedAt"] = mustString(n.receivedAt.Format(time.RFC3339Nano))
	value, err := json.Marshal(m)
	if err != nil {
		return nil, reject("invalid_json", "", "message cannot be encoded: %v", err)
	}
	key := userID
	if key == "" {
		key = anonID
	}
	return &normalized{typ: typ, key: key, value: value, msgID: msgID}, nil
}

// timestamp picks timestamp (or originalTimestamp), applies the skew
// correction and records the sentAt used.
func (n *normalizer) timestamp(m map[string]json.RawMessage) (time.Time, *fieldError) {
	field := "timestamp"
	raw, ok := m["timestamp"]
	if !ok || isNull(raw) {
		field = "originalTimestamp"
		raw = m["originalTimestamp"]
	}
	var ts time.Time
	if s, err := optString(raw); err != nil {
		return ts, reject("invalid_type", field, "must be an ISO-8601 string")
	} else if s != "" {
		t, err := parseTime(s)
		if err != nil {
			return ts, reject("invalid_timestamp", field, "%q is %v", s, err)
		}
		ts = t
	}
	sentAt := n.batchSentAt
	if s, err := optString(m["sentAt"]); err != nil {
		return ts, reject("invalid_type", "sentAt", "must be an ISO-8601 string")
	} else if s != "" {
		t, err := parseTime(s)
		if err != nil {
			return ts, reject("invalid_timestamp", "sentAt", "%q is %v", s, err)
		}
		sentAt = t
	}
	if ts.IsZero() {
		return n.receivedAt, nil
	}
	if !sentAt.IsZero() {
		m["sentAt"] = mustString(sentAt.Format(time.RFC3339Nano))
	}
	return correctSkew(ts, sentAt, n.receivedAt, n.cfg.SkewTolerance), nil
}

// mergeShared adds the batch-level keys of context or integrations that the
// message does not set itself (analytics-go puts context.library only on the
// batch).
func (n *normalizer) mergeShared(m map[string]json.RawMessage, field string, shared map[string]json.RawMessage) *fieldError {
	if len(shared) == 0 {
		return nil
	}
	own := map[string]json.RawMessage{}
	if raw, ok := m[field]; ok {
		if err := json.Unmarshal(raw, &own); err != nil {
			return reject("invalid_type", field, "must be an object")
		}
	}
	changed := false
	for k, v := range shared {
		if _, ok := own[k]; !ok {
			own[k] = v
			changed = true
		}
	}
	if changed {
		b, err := json.Marshal(own)
		if err != nil {
			return reject("invalid_json", field, "cannot be encoded: %v", err)
		}
		m[field] = b
	}
	return nil
}

func setString(m map[string]json.RawMessage, k, v string) {
	if v == "" {
		delete(m, k)
		return
	}
	m[k] = mustString(v)
}

func mustString(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}
