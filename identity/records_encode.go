package identity

import (
	"encoding/json"
	"time"

	"github.com/user360/user360/internal/jsonscan"
	"github.com/user360/user360/schemas"
)

// encodeUpdate returns exactly json.Marshal(u) (same bytes, same error)
// with far fewer allocations and no reflection. Strings and raw values
// that need escaping or compacting take encoding/json's own path.
//
// The raw fields (Event, Changes, Traits) are checked with json.Valid
// unless u.rawValid says they are valid by construction (profileUpdates:
// rawTraits/rawChanges validate every value, the event is json.Marshal
// output); a raw field that is not clean (white space, characters that
// encoding/json HTML-escapes) is re-encoded by encoding/json, which
// compacts, escapes and validates it.
func encodeUpdate(u *wireUpdate) ([]byte, error) {
	if !schemas.JSONTime(u.Timestamp) {
		return json.Marshal(u) // the error exactly as json.Marshal words it
	}
	n := 200 + len(u.Event) + len(u.Changes) + len(u.Traits) +
		len(u.Type) + len(u.MessageID) + len(u.Tenant) + len(u.ProfileID) + len(u.UserID)
	for _, id := range u.Identities {
		n += 24 + len(id.Type) + len(id.Value)
	}
	if u.Merge != nil {
		n += 48 * (1 + len(u.Merge.Absorbed))
	}
	b := make([]byte, 0, n)
	b = append(b, `{"type":`...)
	b = appendJSONString(b, u.Type)
	b = append(b, `,"messageId":`...)
	b = appendJSONString(b, u.MessageID)
	b = append(b, `,"tenant":`...)
	b = appendJSONString(b, u.Tenant)
	b = append(b, `,"profileId":`...)
	b = appendJSONString(b, u.ProfileID)
	if u.UserID != "" {
		b = append(b, `,"userId":`...)
		b = appendJSONString(b, u.UserID)
	}
	b = append(b, `,"identities":`...)
	if u.Identities == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, id := range u.Identities {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"type":`...)
			b = appendJSONString(b, id.Type)
			b = append(b, `,"value":`...)
			b = appendJSONString(b, id.Value)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	var err error
	if b, err = appendRawField(b, `,"event":`, u.Event, u.rawValid); err != nil {
		return json.Marshal(u)
	}
	if b, err = appendRawField(b, `,"changes":`, u.Changes, u.rawValid); err != nil {
		return json.Marshal(u)
	}
	if b, err = appendRawField(b, `,"traits":`, u.Traits, u.rawValid); err != nil {
		return json.Marshal(u)
	}
	if u.Merge != nil {
		b = append(b, `,"merge":{"survivor":`...)
		b = appendJSONString(b, u.Merge.Survivor)
		b = append(b, `,"absorbed":`...)
		if u.Merge.Absorbed == nil {
			b = append(b, "null"...)
		} else {
			b = append(b, '[')
			for i, a := range u.Merge.Absorbed {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendJSONString(b, a)
			}
			b = append(b, ']')
		}
		b = append(b, '}')
	}
	b = append(b, `,"timestamp":`...)
	b = append(b, '"')
	b = u.Timestamp.AppendFormat(b, time.RFC3339Nano) // as Time.MarshalJSON
	b = append(b, '"')
	return append(b, '}'), nil
}

// appendRawField appends an omitempty json.RawMessage field.
func appendRawField(b []byte, name string, raw json.RawMessage, valid bool) ([]byte, error) {
	if len(raw) == 0 {
		return b, nil
	}
	b = append(b, name...)
	if cleanRaw(raw) && (valid || jsonscan.Valid(raw)) {
		return append(b, raw...), nil
	}
	v, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	return append(b, v...), nil
}

// cleanRaw reports whether valid JSON raw is already what encoding/json
// emits for it: no white space to compact outside strings (inside them it
// is kept), nothing it HTML-escapes (<, >, &, U+2028, U+2029; 0xE2 is
// their first byte).
func cleanRaw(raw []byte) bool {
	inString := false
	for i := 0; i < len(raw); i++ {
		switch raw[i] {
		case '<', '>', '&', 0xE2:
			return false
		case '"':
			inString = !inString
		case '\\':
			if inString {
				i++ // the escaped byte (\" does not end the string)
			}
		case ' ', '\t', '\n', '\r':
			if !inString {
				return false
			}
		}
	}
	return true
}

// appendJSONString appends s as encoding/json encodes a string.
func appendJSONString(b []byte, s string) []byte { return jsonscan.AppendString(b, s) }
