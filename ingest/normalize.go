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
	context      fields
	contextRaw   json.RawMessage
	integrations fields
	integRaw     json.RawMessage
}

func newNormalizer(cfg *Config, req *request, receivedAt time.Time) (*normalizer, *fieldError) {
	n := &normalizer{cfg: cfg, receivedAt: receivedAt, batchSentAt: batchSentAt(req.sentAt)}
	if isObject(req.context) {
		fs, err := splitObject(req.context)
		if err != nil {
			return nil, reject("invalid_type", "context", "must be an object")
		}
		n.context, n.contextRaw = fs, req.context
	}
	if isObject(req.integrations) {
		if fs, err := splitObject(req.integrations); err == nil {
			n.integrations, n.integRaw = fs, req.integrations
		}
	}
	return n, nil
}

// batchSentAt parses a batch's sentAt. One that is not a valid timestamp is
// ignored (the messages get no clock-skew correction from it) rather than
// failing the batch: it only corrects the messages' own timestamps, which
// stay valid without it.
func batchSentAt(raw json.RawMessage) time.Time {
	s, err := optString(raw)
	if err != nil || s == "" {
		return time.Time{}
	}
	t, err := parseTime(s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// normalize validates one message and builds its record value. pathType is
// the type given by the URL ("" for a batch, where each message names its
// own). m is modified.
func (n *normalizer) normalize(m *fields, pathType string) (*normalized, *fieldError) {
	if fe := checkAmbiguous(*m, messageFields); fe != nil {
		return nil, fe
	}
	typ := pathType
	if typ == "" {
		s, err := optString(m.get("type"))
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
	userID, fe := idField(*m, "userId")
	if fe != nil {
		return nil, fe
	}
	anonID, fe := idField(*m, "anonymousId")
	if fe != nil {
		return nil, fe
	}
	if userID == "" && anonID == "" {
		return nil, reject("missing_field", "userId", "userId or anonymousId is required")
	}
	setString(m, "userId", userID)
	setString(m, "anonymousId", anonID)

	switch typ {
	case schemas.TypeTrack:
		ev, err := optString(m.get("event"))
		if err != nil {
			return nil, reject("invalid_type", "event", "must be a string")
		}
		if strings.TrimSpace(ev) == "" {
			return nil, reject("missing_field", "event", "a track call needs an event name")
		}
	case schemas.TypeAlias:
		prev, fe := idField(*m, "previousId")
		if fe != nil {
			return nil, fe
		}
		if prev == "" {
			return nil, reject("missing_field", "previousId", "an alias call needs previousId")
		}
		if userID == "" {
			return nil, reject("missing_field", "userId", "an alias call needs userId")
		}
		setString(m, "previousId", prev)
	case schemas.TypeGroup:
		g, fe := idField(*m, "groupId")
		if fe != nil {
			return nil, fe
		}
		if g == "" {
			return nil, reject("missing_field", "groupId", "a group call needs groupId")
		}
		setString(m, "groupId", g)
	case schemas.TypePage, schemas.TypeScreen:
		if _, err := optString(m.get("name")); err != nil {
			return nil, reject("invalid_type", "name", "must be a string")
		}
	}
	for _, f := range []string{"traits", "properties", "context", "integrations"} {
		v := m.get(f)
		if v == nil {
			continue
		}
		if isNull(v) {
			m.del(f)
			continue
		}
		if !isObject(v) {
			return nil, reject("invalid_type", f, "must be an object")
		}
	}
	if fe := n.mergeShared(m, "context", n.context, n.contextRaw); fe != nil {
		return nil, fe
	}
	if fe := checkReserved(*m); fe != nil {
		return nil, fe
	}
	if fe := n.mergeShared(m, "integrations", n.integrations, n.integRaw); fe != nil {
		return nil, fe
	}

	msgID, fe := idField(*m, "messageId")
	if fe != nil {
		return nil, fe
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
	m.del("writeKey")
	m.set("type", mustString(typ))
	m.set("messageId", mustString(msgID))
	m.set("timestamp", mustString(ts.Format(time.RFC3339Nano)))
	m.set("receivedAt", mustString(n.receivedAt.Format(time.RFC3339Nano)))
	value := m.appendTo(make([]byte, 0, 512))
	key := userID
	if key == "" {
		key = anonID
	}
	return &normalized{typ: typ, key: key, value: value, msgID: msgID}, nil
}

// timestamp picks timestamp (or originalTimestamp), applies the skew
// correction and records the sentAt used.
func (n *normalizer) timestamp(m *fields) (time.Time, *fieldError) {
	field := "timestamp"
	raw := m.get("timestamp")
	if isNull(raw) {
		field = "originalTimestamp"
		raw = m.get("originalTimestamp")
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
	if s, err := optString(m.get("sentAt")); err != nil {
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
		m.set("sentAt", mustString(sentAt.Format(time.RFC3339Nano)))
	}
	return correctSkew(ts, sentAt, n.receivedAt, n.cfg.SkewTolerance), nil
}

// mergeShared adds the batch-level keys of context or integrations that the
// message does not set itself (analytics-go puts context.library only on the
// batch).
func (n *normalizer) mergeShared(m *fields, field string, shared fields, sharedRaw json.RawMessage) *fieldError {
	if len(shared) == 0 {
		return nil
	}
	raw := m.get(field)
	if raw == nil {
		m.set(field, sharedRaw)
		return nil
	}
	own, err := splitObject(raw)
	if err != nil {
		return reject("invalid_type", field, "must be an object")
	}
	// A memberSet finds the message's keys in linear time: both objects
	// may have thousands of keys.
	var merged memberSet
	for _, f := range own {
		merged.add(f)
	}
	for _, f := range shared {
		if merged.find(f.key) < 0 {
			merged.add(f)
		}
	}
	if len(merged.fs) > len(own) {
		m.set(field, merged.result().appendTo(make([]byte, 0, len(raw)+len(sharedRaw))))
	}
	return nil
}

func setString(m *fields, k, v string) {
	if v == "" {
		m.del(k)
		return
	}
	m.set(k, mustString(v))
}

// mustString quotes s as a JSON string.
func mustString(s string) json.RawMessage {
	plain := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x7f {
			plain = false
			break
		}
	}
	if plain {
		b := make([]byte, 0, len(s)+2)
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	b, _ := json.Marshal(s)
	return b
}
