package identity

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/user360/user360/internal/httpx"
	"github.com/user360/user360/internal/jsonscan"
	"github.com/user360/user360/schemas"
)

// Bulk conflict modes.
const (
	UpdateExisting = "UPDATE_EXISTING" // imported properties update the profile
	RetainImported = "RETAIN_IMPORTED" // the imported record replaces the traits
)

// FieldError reports one rejected field of a request (the rest is kept).
type FieldError struct {
	Field string `json:"field"`
	Error string `json:"error"`
}

// Accepted is the 202 body of user API writes.
type Accepted struct {
	MessageIDs []string     `json:"messageIds"`
	Rejected   []FieldError `json:"rejected,omitempty"`
}

// publish writes events through the log and answers 202 with their ids.
func (s *Service) publish(w http.ResponseWriter, r *http.Request, events []schemas.Event, rejected []FieldError) {
	s.publishWith(w, r, events, nil, rejected)
}

// publishWith is publish with the JSON path prefix of each event's record
// ("users[3]." on bulk; nil: none), for the fields the schema refuses.
func (s *Service) publishWith(w http.ResponseWriter, r *http.Request, events []schemas.Event, prefixes []string, rejected []FieldError) {
	if s.deps.Publisher == nil {
		httpx.WriteError(w, http.StatusServiceUnavailable, "unavailable", "writes are not configured on this instance", "")
		return
	}
	dead, refused := s.checkTraits(r, events, prefixes)
	rejected = append(rejected, refused...)
	if err := s.deps.Publisher.Publish(r.Context(), tenantID(r), events, dead); err != nil {
		s.writeStoreError(w, err, "")
		return
	}
	ids := make([]string, len(events))
	for i := range events {
		ids[i] = events[i].MessageID
	}
	httpx.WriteJSON(w, http.StatusAccepted, Accepted{MessageIDs: ids, Rejected: rejected})
}

// userIDValue reads a userId (string or integer); "" when absent or unusable.
func (s *Service) userIDValue(r *http.Request, v any) (string, string) {
	if v == nil {
		return "", "userId is required"
	}
	id, ok := identString(v)
	if !ok {
		return "", "userId must be a string or an integer"
	}
	id = strings.TrimSpace(id)
	rl := s.store.rulesFor(tenantID(r))
	if _, ok := rl.normIdent(TypeUserID, id); !ok {
		return "", fmt.Sprintf("userId %q is not a usable identifier (empty, blocked or too long)", id)
	}
	return id, ""
}

// userTraits validates flat properties: system properties must have their
// type; bad ones are rejected (and reported), the others kept.
func userTraits(props map[string]any, path string) (map[string]any, []FieldError) {
	traits := make(map[string]any, len(props))
	var rej []FieldError
	for _, k := range sortedKeys(props) {
		switch k {
		case "userId", "anonymousId", "timestamp", "messageId":
			continue
		}
		if strings.TrimSpace(k) == "" || len(k) > 256 {
			rej = append(rej, FieldError{path + k, "property name must be 1 to 256 characters"})
			continue
		}
		if _, ok, why := coerceSystemTrait(canonicalTraitKey(k), props[k]); !ok {
			rej = append(rej, FieldError{path + k, why})
			continue
		}
		traits[k] = props[k]
	}
	return traits, rej
}

// optionalTime reads an RFC 3339 "timestamp" property; its UTC year must
// be 0000 to 9999 (a time outside cannot be encoded as the event time).
func optionalTime(v any) (time.Time, bool) {
	if v == nil {
		return time.Time{}, true
	}
	s, ok := v.(string)
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil && schemas.ValidEventTime(t)
}

// optionalString reads an optional string property (absent or null: "").
func optionalString(props map[string]any, key string) (string, bool) {
	switch v := props[key].(type) {
	case nil:
		return "", true
	case string:
		return v, true
	}
	return "", false
}

// userEvent builds the identify message of a flat user record.
func (s *Service) userEvent(r *http.Request, props map[string]any, path string, userID string) (schemas.Event, []FieldError, *FieldError) {
	if userID == "" {
		id, why := s.userIDValue(r, props["userId"])
		if why != "" {
			return schemas.Event{}, nil, &FieldError{path + "userId", why}
		}
		userID = id
	} else if v, has := props["userId"]; has {
		if id, _ := identString(v); strings.TrimSpace(id) != userID {
			return schemas.Event{}, nil, &FieldError{path + "userId", "userId in the body differs from the path"}
		}
	}
	ts, ok := optionalTime(props["timestamp"])
	if !ok {
		return schemas.Event{}, nil, &FieldError{path + "timestamp", "timestamp must be an RFC 3339 date-time in the years 0000 to 9999 (UTC)"}
	}
	mid, ok := optionalString(props, "messageId")
	if !ok {
		return schemas.Event{}, nil, &FieldError{path + "messageId", "messageId must be a string"}
	}
	anon, ok := optionalString(props, "anonymousId")
	if !ok {
		return schemas.Event{}, nil, &FieldError{path + "anonymousId", "anonymousId must be a string"}
	}
	traits, rej := userTraits(props, path)
	e := schemas.Event{Type: schemas.TypeIdentify, UserID: userID, Traits: traits, Timestamp: ts,
		MessageID: strings.TrimSpace(mid), AnonymousID: anon}
	return e, rej, nil
}

// recordNumbers converts the numbers of a user record except its userId
// (kept as json.Number for identString) to float64; it returns the path
// of a number out of range.
func recordNumbers(props map[string]any) (string, error) {
	for _, k := range sortedKeys(props) {
		if k == "userId" {
			continue
		}
		v, at, err := jsonscan.Floats(props[k])
		if err != nil {
			return k + at, err
		}
		props[k] = v
	}
	return "", nil
}

func (s *Service) decodeObject(w http.ResponseWriter, r *http.Request) (map[string]any, bool) {
	var body map[string]any
	if !httpx.DecodeJSONNumbers(w, r, s.cfg.MaxBodyBytes, &body) {
		return nil, false
	}
	if body == nil {
		httpx.WriteError(w, http.StatusBadRequest, "invalid_body", "the body must be a JSON object", "")
		return nil, false
	}
	if k, err := recordNumbers(body); err != nil {
		httpx.WriteError(w, http.StatusBadRequest, "invalid_field", err.Error(), k)
		return nil, false
	}
	return body, true
}

// upsertUser: POST /v1/users.
func (s *Service) upsertUser(w http.ResponseWriter, r *http.Request) {
	body, ok := s.decodeObject(w, r)
	if !ok {
		return
	}
	e, rej, bad := s.userEvent(r, body, "", "")
	if bad != nil {
		httpx.WriteError(w, http.StatusBadRequest, "invalid_field", bad.Error, bad.Field)
		return
	}
	s.publish(w, r, []schemas.Event{e}, rej)
}

// updateUser: PUT /v1/users/{userId} (partial update).
func (s *Service) updateUser(w http.ResponseWriter, r *http.Request) {
	uid, why := s.userIDValue(r, r.PathValue("userId"))
	if why != "" {
		httpx.WriteError(w, http.StatusBadRequest, "invalid_field", why, "userId")
		return
	}
	body, ok := s.decodeObject(w, r)
	if !ok {
		return
	}
	e, rej, bad := s.userEvent(r, body, "", uid)
	if bad != nil {
		httpx.WriteError(w, http.StatusBadRequest, "invalid_field", bad.Error, bad.Field)
		return
	}
	s.publish(w, r, []schemas.Event{e}, rej)
}

// User is the body of GET /v1/users/{userId}.
type User struct {
	UserID     string             `json:"userId"`
	ProfileID  string             `json:"profileId"`
	Properties map[string]any     `json:"properties"`
	Identities []schemas.Identity `json:"identities"`
	Segments   []string           `json:"segments"`
	CreatedAt  time.Time          `json:"createdAt"`
	UpdatedAt  time.Time          `json:"updatedAt"`
	LastSeenAt time.Time          `json:"lastSeenAt"`
}

// getUser: GET /v1/users/{userId}.
func (s *Service) getUser(w http.ResponseWriter, r *http.Request) {
	p, ok := s.loadProfile(w, r, TypeUserID+":"+r.PathValue("userId"), "userId")
	if !ok {
		return
	}
	httpx.WriteJSON(w, http.StatusOK, User{
		UserID: p.UserID, ProfileID: p.ID, Properties: p.Traits, Identities: p.Identities,
		Segments: p.Segments, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt, LastSeenAt: p.LastSeenAt,
	})
}

// deleteUser: DELETE /v1/users/{userId}.
func (s *Service) deleteUser(w http.ResponseWriter, r *http.Request) {
	uid := r.PathValue("userId")
	pid, err := s.store.Resolve(r.Context(), tenantID(r), TypeUserID+":"+uid)
	if err != nil {
		s.writeStoreError(w, err, "userId")
		return
	}
	s.publish(w, r, []schemas.Event{{
		Type: schemas.TypeDelete, UserID: strings.TrimSpace(uid), Context: map[string]any{ctxProfileID: pid},
	}}, nil)
}

// BulkRequest is the body of POST /v1/users/bulk. Each record is decoded
// on its own, so that one that is not an object is rejected alone.
type BulkRequest struct {
	UponConflict string            `json:"uponConflict"`
	Users        []json.RawMessage `json:"users"`
}

// bulkUsers: POST /v1/users/bulk. Bad records are reported and the good
// ones published.
func (s *Service) bulkUsers(w http.ResponseWriter, r *http.Request) {
	var req BulkRequest
	if !httpx.DecodeJSONNumbers(w, r, s.cfg.MaxBodyBytes, &req) || !s.checkBulk(w, &req) {
		return
	}
	var events []schemas.Event
	var prefixes []string
	var rejected []FieldError
	for i, raw := range req.Users {
		path := fmt.Sprintf("users[%d].", i)
		e, rej, bad := s.bulkRecord(r, raw, path)
		if bad != nil {
			rejected = append(rejected, *bad)
			continue
		}
		if req.UponConflict == RetainImported {
			e.Context = map[string]any{ctxReplace: true}
		}
		rejected = append(rejected, rej...)
		events = append(events, e)
		prefixes = append(prefixes, path)
	}
	if len(events) == 0 {
		httpx.WriteJSON(w, http.StatusBadRequest, map[string]any{
			"error": "no valid user record", "code": "invalid_records", "rejected": rejected,
		})
		return
	}
	s.publishWith(w, r, events, prefixes, rejected)
}

// checkBulk validates a bulk request's mode and size; it answers itself
// and returns false when they are wrong.
func (s *Service) checkBulk(w http.ResponseWriter, req *BulkRequest) bool {
	switch req.UponConflict {
	case "":
		req.UponConflict = UpdateExisting
	case UpdateExisting, RetainImported:
	default:
		httpx.WriteError(w, http.StatusBadRequest, "invalid_field", "uponConflict must be UPDATE_EXISTING or RETAIN_IMPORTED", "uponConflict")
		return false
	}
	if len(req.Users) == 0 {
		httpx.WriteError(w, http.StatusBadRequest, "invalid_field", "users must hold at least one record", "users")
		return false
	}
	if len(req.Users) > s.cfg.MaxBulk {
		httpx.WriteError(w, http.StatusRequestEntityTooLarge, "too_many", fmt.Sprintf("at most %d users per request", s.cfg.MaxBulk), "users")
		return false
	}
	return true
}

// bulkRecord decodes one bulk record (path "users[i].") and builds its
// identify message; bad is set when the record is rejected whole.
func (s *Service) bulkRecord(r *http.Request, raw json.RawMessage, path string) (schemas.Event, []FieldError, *FieldError) {
	var u map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&u); err != nil || u == nil {
		return schemas.Event{}, nil, &FieldError{strings.TrimSuffix(path, "."), "must be a JSON object"}
	}
	if k, err := recordNumbers(u); err != nil {
		return schemas.Event{}, nil, &FieldError{path + k, err.Error()}
	}
	return s.userEvent(r, u, path, "")
}

// EventRequest is the body of POST /v1/events.
type EventRequest struct {
	UserID    any            `json:"userId"`
	EventName string         `json:"eventName"`
	Payload   map[string]any `json:"payload"`
	Timestamp *time.Time     `json:"timestamp,omitempty"`
	MessageID string         `json:"messageId,omitempty"`
}

// createEvent: POST /v1/events.
func (s *Service) createEvent(w http.ResponseWriter, r *http.Request) {
	var req EventRequest
	if !httpx.DecodeJSONNumbers(w, r, s.cfg.MaxBodyBytes, &req) {
		return
	}
	e, bad := s.trackEvent(r, &req)
	if bad != nil {
		httpx.WriteError(w, http.StatusBadRequest, "invalid_field", bad.Error, bad.Field)
		return
	}
	s.publish(w, r, []schemas.Event{e}, nil)
}

// trackEvent builds the track message of POST /v1/events.
func (s *Service) trackEvent(r *http.Request, req *EventRequest) (schemas.Event, *FieldError) {
	uid, why := s.userIDValue(r, req.UserID)
	if why != "" {
		return schemas.Event{}, &FieldError{"userId", why}
	}
	name := strings.TrimSpace(req.EventName)
	if name == "" || len(name) > 256 {
		return schemas.Event{}, &FieldError{"eventName", "eventName must be 1 to 256 characters"}
	}
	if req.Timestamp != nil && !schemas.ValidEventTime(*req.Timestamp) {
		return schemas.Event{}, &FieldError{"timestamp", "timestamp must be in the years 0000 to 9999 (UTC)"}
	}
	if _, at, err := jsonscan.Floats(req.Payload); err != nil {
		return schemas.Event{}, &FieldError{"payload" + at, err.Error()}
	}
	e := schemas.Event{Type: schemas.TypeTrack, UserID: uid, Event: name, Properties: req.Payload, MessageID: strings.TrimSpace(req.MessageID)}
	if req.Timestamp != nil {
		e.Timestamp = req.Timestamp.UTC()
	}
	if _, err := json.Marshal(e.Properties); err != nil {
		return schemas.Event{}, &FieldError{"payload", "payload cannot be encoded"}
	}
	return e, nil
}
