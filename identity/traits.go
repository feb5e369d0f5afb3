package identity

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Kinds of system traits.
const (
	kindString   = "string"
	kindBool     = "boolean"
	kindDate     = "date"
	kindDatetime = "datetime"
	kindList     = "list"
)

// systemTraits are the profile properties kept as typed fields.
var systemTraits = map[string]string{
	"userId": kindString, "firstName": kindString, "lastName": kindString,
	"gender": kindString, "email": kindString, "phone": kindString,
	"country": kindString, "city": kindString, "language": kindString,
	"timezone": kindString, "lastChannel": kindString, "dob": kindDate,
	"emailOptin": kindBool, "smsOptin": kindBool, "whatsAppOptin": kindBool,
	"tags": kindList, "createdAt": kindDatetime, "updatedAt": kindDatetime,
	"lastSeenAt": kindDatetime,
}

// traitAliases maps common spellings to the system trait names.
var traitAliases = map[string]string{
	"first_name": "firstName", "last_name": "lastName", "user_id": "userId",
	"email_optin": "emailOptin", "sms_optin": "smsOptin",
	"whatsapp_optin": "whatsAppOptin", "whatsappOptin": "whatsAppOptin",
	"created_at": "createdAt", "last_channel": "lastChannel",
	"birthday": "dob", "date_of_birth": "dob",
}

// canonicalTraitKey maps an alias to its system trait name.
func canonicalTraitKey(k string) string {
	if c, ok := traitAliases[k]; ok {
		return c
	}
	return k
}

// coerceSystemTrait converts a value to its system trait's type. ok is false
// (with a reason) when it cannot; the trait is then dropped.
func coerceSystemTrait(key string, v any) (any, bool, string) {
	kind, isSystem := systemTraits[key]
	if !isSystem || v == nil {
		return v, true, ""
	}
	switch kind {
	case kindString:
		switch x := v.(type) {
		case string:
			return strings.TrimSpace(x), true, ""
		case float64:
			return strconv.FormatFloat(x, 'f', -1, 64), true, ""
		case json.Number:
			return x.String(), true, ""
		case bool:
			return strconv.FormatBool(x), true, ""
		}
		return nil, false, "must be a string"
	case kindBool:
		switch x := v.(type) {
		case bool:
			return x, true, ""
		case float64:
			if x == 0 || x == 1 {
				return x == 1, true, ""
			}
		case string:
			switch strings.ToLower(strings.TrimSpace(x)) {
			case "true", "yes", "y", "1", "on":
				return true, true, ""
			case "false", "no", "n", "0", "off":
				return false, true, ""
			}
		}
		return nil, false, "must be a boolean"
	case kindDate:
		if s, ok := v.(string); ok {
			s = strings.TrimSpace(s)
			if t, err := time.Parse("2006-01-02", s); err == nil {
				return t.Format("2006-01-02"), true, ""
			}
			if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
				return t.Format("2006-01-02"), true, ""
			}
		}
		return nil, false, "must be a date (YYYY-MM-DD)"
	case kindDatetime:
		switch x := v.(type) {
		case string:
			s := strings.TrimSpace(x)
			if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
				return t.UTC().Format(time.RFC3339Nano), true, ""
			}
			if t, err := time.Parse("2006-01-02", s); err == nil {
				return t.UTC().Format(time.RFC3339Nano), true, ""
			}
		case float64:
			if x > 0 && x < math.MaxInt64 {
				sec := int64(x)
				if x > 1e11 { // milliseconds
					return time.UnixMilli(int64(x)).UTC().Format(time.RFC3339Nano), true, ""
				}
				return time.Unix(sec, 0).UTC().Format(time.RFC3339Nano), true, ""
			}
		}
		return nil, false, "must be an RFC 3339 date-time"
	case kindList:
		switch x := v.(type) {
		case []any:
			out := make([]any, 0, len(x))
			seen := make(map[string]bool, len(x))
			for _, it := range x {
				s := strings.TrimSpace(fmt.Sprint(it))
				if _, isStr := it.(string); !isStr {
					if _, isNum := it.(float64); !isNum {
						return nil, false, "must be a list of strings"
					}
				}
				if s != "" && !seen[s] {
					seen[s] = true
					out = append(out, s)
				}
			}
			return out, true, ""
		case string:
			out := []any{}
			seen := map[string]bool{}
			for _, p := range strings.Split(x, ",") {
				if p = strings.TrimSpace(p); p != "" && !seen[p] {
					seen[p] = true
					out = append(out, p)
				}
			}
			return out, true, ""
		}
		return nil, false, "must be a list of strings"
	}
	return v, true, ""
}

// traitType names the type of a stored JSON trait value for TraitMeta.
func traitType(key string, v any) string {
	if kind, ok := systemTraits[key]; ok && v != nil {
		return kind
	}
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64, json.Number:
		return "number"
	case []any:
		return "list"
	case map[string]any:
		return "object"
	case string:
		if len(x) == 10 {
			if _, err := time.Parse("2006-01-02", x); err == nil {
				return "date"
			}
		}
		if len(x) >= 20 {
			if _, err := time.Parse(time.RFC3339Nano, x); err == nil {
				return "datetime"
			}
		}
		return "string"
	}
	return "string"
}
