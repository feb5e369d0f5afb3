package identity

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/user360/user360/internal/httpx"
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
	if s.deps.Publisher == nil {
		httpx.WriteError(w, http.StatusServiceUnavailable, "unavailable", "writes are not configured on this instance", "")
		return
	}
	dead, refused := s.checkTraits(r, events)
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

// optionalTime reads an RFC 3339 "timestamp" property.
func optionalTime(v any) (time.Time, bool) {
	if v == nil {
		return time.Time{}, true
	}
	s, ok := v.(string)
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
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
		return schemas.Event{}, nil, &FieldError{path + "timestamp", "timestamp must be an RFC 3339 date-time"}
	}
	traits, rej := userTraits(props, path)
	e := schemas.Event{Type: schemas.TypeIdentify, UserID: userID, Traits: traits, Timestamp: ts}
	if mid, ok := props["messageId"].(string); ok && strings.TrimSpace(mid) != "" {
		e.MessageID = strings.TrimSpace(mid)
	}
	if a, ok := props["anonymousId"].(string); ok {
		e.AnonymousID = a
	}
	return e, rej, nil
}

func (s *Service) decodeObject(w http.ResponseWriter, r *http.Request) (map[string]any, bool) {
	var body map[string]any
	if !httpx.DecodeJSON(w, r, s.cfg.MaxBodyBytes, &body) {
		return nil, false
	}
	if body == nil {
		httpx.WriteError(w, http.StatusBadRequest, "invalid_body", "the body must be a JSON object", "")
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

// BulkRequest is the body of POST /v1/users/bulk.
type BulkRequest struct {
	UponConflict string           `json:"uponConflict"`
	Users        []map[string]any `json:"users"`
}

// bulkUsers: POST /v1/users/bulk. Bad records are reported and the good
// ones published.
func (s *Service) bulkUsers(w http.ResponseWriter, r *http.Request) {
	var req BulkRequest
	if !httpx.DecodeJSON(w, r, s.cfg.MaxBodyBytes, &req) {
		return
	}
	switch req.UponConflict {
	case "":
		req.UponConflict = UpdateExisting
	case UpdateExisting, RetainImported:
	default:
		httpx.WriteError(w, http.StatusBadRequest, "invalid_field", "uponConflict must be UPDATE_EXISTING or RETAIN_IMPORTED", "uponConflict")
		return
	}
	if len(req.Users) == 0 {
		httpx.WriteError(w, http.StatusBadRequest, "invalid_field", "users must hold at least one record", "users")
		return
	}
	if len(req.Users) > s.cfg.MaxBulk {
		httpx.WriteError(w, http.StatusRequestEntityTooLarge, "too_many", fmt.Sprintf("at most %d users per request", s.cfg.MaxBulk), "users")
		return
	}
	var events []schemas.Event
	var rejected []FieldError
	for i, u := range req.Users {
		path := fmt.Sprintf("users[%d].", i)
		if u == nil {
			rejected = append(rejected, FieldError{fmt.Sprintf("users[%d]", i), "must be an object"})
			continue
		}
		e, rej, bad := s.userEvent(r, u, path, "")
		if bad != nil {
			rejected = append(rejected, *bad)
			continue
		}
		if req.UponConflict == RetainImported {
			e.Context = map[string]any{ctxReplace: true}
		}
		rejected = append(rejected, rej...)
		events = append(events, e)
	}
	if len(events) == 0 {
		httpx.WriteJSON(w, http.StatusBadRequest, map[string]any{
			"error": "no valid user record", "code": "invalid_records", "rejected": rejected,
		})
		return
	}
	s.publish(w, r, events, rejected)
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
	if !httpx.DecodeJSON(w, r, s.cfg.MaxBodyBytes, &req) {
		return
	}
	uid, why := s.userIDValue(r, req.UserID)
	if why != "" {
		httpx.WriteError(w, http.StatusBadRequest, "invalid_field", why, "userId")
		return
	}
	name := strings.TrimSpace(req.EventName)
	if name == "" || len(name) > 256 {
		httpx.WriteError(w, http.StatusBadRequest, "invalid_field", "eventName must be 1 to 256 characters", "eventName")
		return
	}
	e := schemas.Event{Type: schemas.TypeTrack, UserID: uid, Event: name, Properties: req.Payload, MessageID: strings.TrimSpace(req.MessageID)}
	if req.Timestamp != nil {
		e.Timestamp = req.Timestamp.UTC()
	}
	if _, err := json.Marshal(e.Properties); err != nil {
		httpx.WriteError(w, http.StatusBadRequest, "invalid_field", "payload cannot be encoded", "payload")
		return
	}
	s.publish(w, r, []schemas.Event{e}, nil)
}
