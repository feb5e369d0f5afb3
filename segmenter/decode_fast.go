package segmenter

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	"github.com/user360/user360/internal/jsonscan"
	"github.com/user360/user360/schemas"
)

// decodeUpdateFast fills the wire form from valid JSON whose members all
// have the exact names of updateWire (identities and the event member by
// member too); ok is false otherwise, and for a repeated identities or
// event member: encoding/json then decides, with its case-insensitive
// names, its merging of repeated members and its errors.
// FuzzDecodeUpdate holds the two equal.
func decodeUpdateFast(value []byte) (updateWire, bool) {
	var w updateWire
	if !jsonscan.Valid(value) || !utf8.Valid(value) {
		// (encoding/json replaces invalid UTF-8 in names and strings)
		return w, false
	}
	ok := true
	var seenIDs, seenEvent bool
	wellFormed := jsonscan.Members(value, 0, func(key, raw []byte) bool {
		switch string(key) {
		case "type":
			ok = rawString(raw, &w.Type)
		case "messageId":
			ok = rawString(raw, &w.MessageID)
		case "tenant":
			ok = rawString(raw, &w.Tenant)
		case "profileId":
			ok = rawString(raw, &w.ProfileID)
		case "userId":
			ok = rawString(raw, &w.UserID)
		case "identities":
			ok = !seenIDs && decodeIdentities(raw, &w.Identities)
			seenIDs = true
		case "event":
			ok = !seenEvent && decodeEvent(raw, &w.Event, &w.eventProps)
			seenEvent = true
		case "merge":
			ok = json.Unmarshal(raw, &w.Merge) == nil
		case "traits":
			w.Traits = raw
		case "changes":
			ok = decodeChangeNames(raw, &w.Changes)
		case "timestamp":
			// not used by the segmenter (updateWire has no such member)
		default:
			ok = false
		}
		return ok
	})
	if !wellFormed || !ok {
		return updateWire{}, false
	}
	return w, true
}

// decodeChangeNames reads the changes object keeping each value raw (the
// segmenter needs the names); a repeated name keeps its last value, as
// encoding/json does.
func decodeChangeNames(raw []byte, out *map[string]json.RawMessage) bool {
	switch raw[0] {
	case 'n':
		*out = nil
		return true
	case '{':
	default:
		return false
	}
	m := *out
	if m == nil {
		m = map[string]json.RawMessage{}
	}
	if !jsonscan.NamedMembers(raw, 0, func(k string, val []byte) bool {
		m[k] = val
		return true
	}) {
		return false
	}
	*out = m
	return true
}

// decodeIdentities reads [{"type":…,"value":…}, …] (null: none); anything
// else goes to encoding/json.
func decodeIdentities(raw []byte, out *[]schemas.Identity) bool {
	switch raw[0] {
	case 'n':
		*out = nil
		return true
	case '[':
	default:
		return json.Unmarshal(raw, out) == nil
	}
	ids := make([]schemas.Identity, 0, bytes.Count(raw, []byte(`"type"`)))
	ok := true
	wellFormed := jsonscan.Elements(raw, 0, func(el []byte) bool {
		var id schemas.Identity
		ok = el[0] == '{' && jsonscan.Members(el, 0, func(key, val []byte) bool {
			switch string(key) {
			case "type":
				ok = rawString(val, &id.Type)
			case "value":
				ok = rawString(val, &id.Value)
			default:
				ok = false
			}
			return ok
		}) && ok
		ids = append(ids, id)
		return ok
	})
	if !wellFormed || !ok {
		*out = nil
		return json.Unmarshal(raw, out) == nil
	}
	*out = ids
	return true
}

// decodeEvent reads the event summary member by member, its properties
// left raw in props when they are an object whose numbers encoding/json
// decodes without error (no exponent, no huge integer), else decoded with
// encoding/json; anything unusual goes to encoding/json.
func decodeEvent(raw []byte, out **schemas.EventSummary, props *json.RawMessage) bool {
	if raw[0] == 'n' {
		*out = nil
		return true
	}
	if raw[0] != '{' {
		return false
	}
	e := &schemas.EventSummary{}
	ok := true
	var rawProps []byte
	seenProps := false
	wellFormed := jsonscan.Members(raw, 0, func(key, val []byte) bool {
		switch string(key) {
		case "type":
			ok = rawString(val, &e.Type)
		case "name":
			ok = rawString(val, &e.Name)
		case "messageId":
			ok = rawString(val, &e.MessageID)
		case "timestamp":
			ok = val[0] == '"' && e.Timestamp.UnmarshalJSON(val) == nil
		case "properties":
			switch {
			case seenProps:
				ok = false
			case val[0] == '{' && plainNumbers(val):
				rawProps = val
			default:
				ok = json.Unmarshal(val, &e.Properties) == nil
			}
			seenProps = true
		default:
			ok = false
		}
		return ok
	})
	if !wellFormed || !ok {
		e, rawProps = nil, nil
		if json.Unmarshal(raw, &e) != nil {
			return false
		}
	}
	*out = e
	*props = rawProps
	return true
}

// plainNumbers says whether every number of a valid JSON value decodes
// into a float64 without error: no exponent and at most 300 digits before
// the point (encoding/json refuses one that overflows).
func plainNumbers(b []byte) bool {
	inString, digits := false, 0
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch {
		case c == '"':
			inString, digits = true, 0
		case c >= '0' && c <= '9':
			if digits++; digits > 300 {
				return false
			}
		case c == 'e' || c == 'E':
			if i > 0 && (b[i-1] >= '0' && b[i-1] <= '9' || b[i-1] == '.') {
				return false
			}
		default:
			digits = 0
		}
	}
	return true
}

// rawString decodes a JSON string (or null, which leaves s as it is, as
// encoding/json does); false for any other value.
func rawString(raw []byte, s *string) bool {
	switch raw[0] {
	case 'n':
		return true
	case '"':
		if bytes.IndexByte(raw, '\\') < 0 {
			*s = string(raw[1 : len(raw)-1])
			return true
		}
		return json.Unmarshal(raw, s) == nil
	}
	return false
}
