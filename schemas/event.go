package schemas

import (
	"encoding/json"
	"time"
)

// Message types of the Segment spec.
const (
	TypeIdentify = "identify"
	TypeTrack    = "track"
	TypePage     = "page"
	TypeScreen   = "screen"
	TypeGroup    = "group"
	TypeAlias    = "alias"
	// TypeDelete is a User360 extension: delete the profile that the
	// message's identifiers resolve to (user API and profile API deletes go
	// through the log like every other write, so replay reproduces them).
	TypeDelete = "delete"
)

// Event is a record of the events topic: one Segment-spec message, normalised
// by the gateway (messageId set, receivedAt stamped, timestamp corrected for
// clock skew). Connectors that produce straight to the topic send the same
// shape (see docs/TOPICS.md). Fields the gateway does not know are kept in
// Extra and written back, so nothing a sender adds is lost.
type Event struct {
	Type         string                     `json:"type"`
	MessageID    string                     `json:"messageId"`
	UserID       string                     `json:"userId,omitempty"`
	AnonymousID  string                     `json:"anonymousId,omitempty"`
	Event        string                     `json:"event,omitempty"`
	Name         string                     `json:"name,omitempty"`
	Category     string                     `json:"category,omitempty"`
	PreviousID   string                     `json:"previousId,omitempty"`
	GroupID      string                     `json:"groupId,omitempty"`
	Traits       map[string]any             `json:"traits,omitempty"`
	Properties   map[string]any             `json:"properties,omitempty"`
	Context      map[string]any             `json:"context,omitempty"`
	Integrations map[string]any             `json:"integrations,omitempty"`
	Timestamp    time.Time                  `json:"timestamp"`
	SentAt       *time.Time                 `json:"sentAt,omitempty"`
	ReceivedAt   time.Time                  `json:"receivedAt"`
	Extra        map[string]json.RawMessage `json:"-"`
}

// eventAlias avoids recursion in the JSON methods.
type eventAlias Event

// eventFieldOrder is the known fields in the order of Event's.
var eventFieldOrder = [...]string{"type", "messageId", "userId", "anonymousId", "event", "name", "category",
	"previousId", "groupId", "traits", "properties", "context", "integrations", "timestamp", "sentAt", "receivedAt"}

var eventKnownFields = map[string]bool{
	"type": true, "messageId": true, "userId": true, "anonymousId": true, "event": true,
	"name": true, "category": true, "previousId": true, "groupId": true, "traits": true,
	"properties": true, "context": true, "integrations": true, "timestamp": true,
	"sentAt": true, "receivedAt": true,
}

// MarshalJSON writes the known fields and then Extra.
func (e Event) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(eventAlias(e))
	if err != nil || len(e.Extra) == 0 {
		return b, err
	}
	extra := make(map[string]json.RawMessage, len(e.Extra))
	for k, v := range e.Extra {
		if !eventKnownFields[k] {
			extra[k] = v
		}
	}
	if len(extra) == 0 {
		return b, nil
	}
	eb, err := json.Marshal(extra)
	if err != nil {
		return nil, err
	}
	// b = {...known}, eb = {...extra}: splice them.
	out := make([]byte, 0, len(b)+len(eb))
	out = append(out, b[:len(b)-1]...)
	out = append(out, ',')
	out = append(out, eb[1:]...)
	return out, nil
}

// UnmarshalJSON reads the known fields and keeps the others in Extra.
// Keys match exactly, unlike encoding/json's default: a key that differs
// from a known field only in case ("TYPE", "UserId") is another key, kept
// in Extra, and never overrides the field (the gateway validates the exact
// keys; a case-folded duplicate must not change what it validated).
func (e *Event) UnmarshalJSON(b []byte) error {
	all, err := unmarshalEventFields(b, (*eventAlias)(e))
	if err != nil {
		return err
	}
	for k := range all {
		if eventKnownFields[k] {
			delete(all, k)
		}
	}
	e.Extra = nil
	if len(all) > 0 {
		e.Extra = all
	}
	return nil
}

// UnmarshalEventFields decodes the known fields of an events-topic value
// into e (Extra untouched), matching keys exactly as Event.UnmarshalJSON
// does, for a decoder that has no use for the other members.
func UnmarshalEventFields(b []byte, e *Event) error {
	_, err := unmarshalEventFields(b, (*eventAlias)(e))
	return err
}

// unmarshalEventFields zeroes a, decodes the members of b whose keys are
// known fields exactly, and returns all members. Errors are encoding/json's
// for the event itself (invalid JSON, not an object, a field of the wrong
// type).
func unmarshalEventFields(b []byte, a *eventAlias) (map[string]json.RawMessage, error) {
	*a = eventAlias{}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		if aerr := json.Unmarshal(b, a); aerr != nil {
			err = aerr // (the event's own wording: "into Go value of type …Event")
		}
		*a = eventAlias{}
		return nil, err
	}
	known := make([]byte, 0, len(b)+2)
	known = append(known, '{')
	for _, k := range eventFieldOrder {
		v, ok := all[k]
		if !ok {
			continue
		}
		if len(known) > 1 {
			known = append(known, ',')
		}
		known = append(known, '"')
		known = append(known, k...)
		known = append(known, '"', ':')
		known = append(known, v...)
	}
	known = append(known, '}')
	if err := json.Unmarshal(known, a); err != nil {
		return nil, err
	}
	return all, nil
}

// IdentityKey is the id a record of this event is keyed by: the user id, else
// the anonymous id.
func (e *Event) IdentityKey() string {
	if e.UserID != "" {
		return e.UserID
	}
	return e.AnonymousID
}
