package activation

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"

	"github.com/user360/user360/schemas"
)

// Segment-format event names.
const (
	AudienceEntered = "Audience Entered"
	AudienceExited  = "Audience Exited"
)

// AudienceKey is the snake_case key of a segment name, as Segment names
// audiences ("Big Spenders!" → "big_spenders").
func AudienceKey(name string) string {
	var b strings.Builder
	under := false
	for _, r := range strings.TrimSpace(name) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if under && b.Len() > 0 {
				b.WriteByte('_')
			}
			under = false
			b.WriteRune(unicode.ToLower(r))
		default:
			under = true
		}
	}
	return b.String()
}

// audienceKeyProp is the property naming the audience in a Segment track
// call; reservedKeySuffix renames a segment whose own key would be it.
const (
	audienceKeyProp   = "audience_key"
	reservedKeySuffix = "_audience"
)

// computationKey is the audience key of a change's segment: AudienceKey of
// its name (of its id when the name has no letters or digits). A key equal
// to "audience_key" would overwrite that property with its boolean, so it
// becomes "audience_key_audience" (in audience_key, computation_key and
// the boolean property alike).
func computationKey(c *schemas.SegmentChange) string {
	key := AudienceKey(c.SegmentName)
	if key == "" {
		key = AudienceKey(c.SegmentID)
	}
	if key == audienceKeyProp {
		key += reservedKeySuffix
	}
	return key
}

// segmentPayload is a Segment track call for an audience change, as Segment
// Engage sends it to destinations.
type segmentPayload struct {
	Type         string         `json:"type"`
	Event        string         `json:"event"`
	MessageID    string         `json:"messageId"`
	UserID       string         `json:"userId,omitempty"`
	AnonymousID  string         `json:"anonymousId,omitempty"`
	Properties   map[string]any `json:"properties"`
	Context      map[string]any `json:"context"`
	Timestamp    string         `json:"timestamp"`
	Integrations map[string]any `json:"integrations"`
}

// buildBody renders a segment change in a destination's format.
// deliveryID is the idempotency key of the call.
func buildBody(format string, raw json.RawMessage, deliveryID string) ([]byte, error) {
	if format != FormatSegment {
		return raw, nil
	}
	var c schemas.SegmentChange
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("activation: decode segment change: %w", err)
	}
	key := computationKey(&c)
	entered := c.Type == schemas.SegmentEntered
	ev := AudienceExited
	if entered {
		ev = AudienceEntered
	}
	traits := map[string]any{}
	var anon string
	for _, id := range c.Identities {
		switch id.Type {
		case "email", "phone":
			if _, ok := traits[id.Type]; !ok {
				traits[id.Type] = id.Value
			}
		case "anonymous_id":
			if anon == "" {
				anon = id.Value
			}
		}
	}
	p := segmentPayload{
		Type:        "track",
		Event:       ev,
		MessageID:   deliveryID,
		UserID:      c.UserID,
		AnonymousID: anon,
		Properties:  map[string]any{audienceKeyProp: key, key: entered},
		Context: map[string]any{
			"traits":  traits,
			"library": map[string]any{"name": "user360", "version": "1"},
			"personas": map[string]any{
				"computation_class": "audience",
				"computation_id":    c.SegmentID,
				"computation_key":   key,
			},
		},
		Timestamp:    c.Timestamp.UTC().Format("2006-01-02T15:04:05.000Z07:00"),
		Integrations: map[string]any{"All": true},
	}
	if p.UserID == "" && p.AnonymousID == "" {
		// Segment requires one of them; the profile id is stable.
		p.AnonymousID = c.ProfileID
	}
	return json.Marshal(p)
}
