package propschema

import (
	"encoding/json"
	"fmt"
	"math"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
)

// coerceOpts carries what a coercion may depend on.
type coerceOpts struct {
	csv    bool           // values come from a CSV cell: lists split on ";", yes/no booleans
	loc    *time.Location // zone of datetimes written without one
	region string         // default region of phone numbers without a country code
}

// problem is the result of a failed coercion (no Field yet).
type problem struct {
	code string
	msg  string
}

func bad(format string, a ...any) *problem {
	return &problem{code: CodeInvalidDataType, msg: fmt.Sprintf(format, a...)}
}

// coerce converts v to the canonical representation of type t. nil stays
// nil (it unsets the trait).
func coerce(t Type, v any, o *coerceOpts) (any, *problem) {
	if v == nil {
		return nil, nil
	}
	switch t {
	case TypeString:
		return coerceString(v)
	case TypeNumber:
		return coerceNumber(v)
	case TypeBoolean:
		return coerceBool(v, o.csv)
	case TypeDate:
		return coerceDate(v)
	case TypeDatetime:
		return coerceDatetime(v, o.loc)
	case TypeTime:
		return coerceTime(v)
	case TypeList:
		return coerceList(v, o.csv)
	case TypeEmail:
		return coerceEmail(v)
	case TypePhone:
		return coercePhone(v, o.region)
	case TypeURL:
		return coerceURL(v)
	}
	return v, nil
}

// show renders a value for a message, shortened.
func show(v any) string {
	var s string
	switch x := v.(type) {
	case string:
		s = strconv.Quote(x)
	default:
		b, err := json.Marshal(x)
		if err != nil {
			s = fmt.Sprintf("%v", x)
		} else {
			s = string(b)
		}
	}
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}

func tooLong(s string, limit int) *problem {
	if len(s) <= limit { // bytes >= runes: fast path
		return nil
	}
	if n := utf8.RuneCountInString(s); n > limit {
		return &problem{code: CodeValueTooLong, msg: fmt.Sprintf("the value has %d characters, the limit is %d", n, limit)}
	}
	return nil
}

func coerceString(v any) (any, *problem) {
	switch x := v.(type) {
	case string:
		if p := tooLong(x, MaxStringLen); p != nil {
			return nil, p
		}
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case json.Number:
		return x.String(), nil
	}
	if f, ok := toFloat(v); ok {
		return strconv.FormatFloat(f, 'f', -1, 64), nil
	}
	return nil, bad("%s is not a string", show(v))
}

// toFloat converts Go numeric values.
func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int8:
		return float64(x), true
	case int16:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint:
		return float64(x), true
	case uint8:
		return float64(x), true
	case uint16:
		return float64(x), true
	case uint32:
		return float64(x), true
	case uint64:
		return float64(x), true
	}
	return 0, false
}

// isDecimal accepts [+-]digits[.digits][e[+-]digits] and nothing else
// (no hex, no Inf/NaN, no underscores, no thousands separators).
func isDecimal(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		ed := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			ed++
		}
		if ed == 0 {
			return false
		}
	}
	return i == len(s)
}

func parseNumber(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	if !isDecimal(s) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

func coerceNumber(v any) (any, *problem) {
	switch x := v.(type) {
	case string:
		if f, ok := parseNumber(x); ok {
			return f, nil
		}
		return nil, bad("%s is not a number", show(v))
	case json.Number:
		if f, ok := parseNumber(string(x)); ok {
			return f, nil
		}
		return nil, bad("%s is not a finite number", show(v))
	}
	if f, ok := toFloat(v); ok {
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, bad("%v is not a finite number", f)
		}
		return f, nil
	}
	return nil, bad("%s is not a number", show(v))
}

func coerceBool(v any, csv bool) (any, *problem) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case string:
		s := strings.ToLower(strings.TrimSpace(x))
		switch s {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		if csv {
			switch s {
			case "1", "yes", "y":
				return true, nil
			case "0", "no", "n":
				return false, nil
			}
		}
	}
	if csv {
		return nil, bad("%s is not a boolean (true/false, yes/no, 1/0)", show(v))
	}
	return nil, bad("%s is not a boolean (true or false)", show(v))
}

const dateLayout = "2006-01-02"

func coerceDate(v any) (any, *problem) {
	s, ok := v.(string)
	if ok {
		s = strings.TrimSpace(s)
		if len(s) == 10 {
			if _, err := time.Parse(dateLayout, s); err == nil {
				return s, nil
			}
		}
	}
	return nil, bad("%s is not a date (YYYY-MM-DD)", show(v))
}

// datetime layouts without a zone, read in the tenant's time zone.
var localLayouts = []string{
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04",
	"2006-01-02 15:04",
	dateLayout,
}

func coerceDatetime(v any, loc *time.Location) (any, *problem) {
	if loc == nil {
		loc = time.UTC
	}
	switch x := v.(type) {
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano), nil
	case string:
		s := strings.TrimSpace(x)
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t.UTC().Format(time.RFC3339Nano), nil
		}
		// "2006-01-02 15:04:05Z07:00" (space instead of T)
		if len(s) > 10 && s[10] == ' ' {
			if t, err := time.Parse(time.RFC3339Nano, s[:10]+"T"+s[11:]); err == nil {
				return t.UTC().Format(time.RFC3339Nano), nil
			}
		}
		for _, l := range localLayouts {
			if t, err := time.ParseInLocation(l, s, loc); err == nil {
				return t.UTC().Format(time.RFC3339Nano), nil
			}
		}
		return nil, bad("%s is not a datetime (RFC 3339, e.g. 2024-05-01T10:00:00Z)", show(v))
	case json.Number:
		f, ok := parseNumber(string(x))
		if !ok {
			return nil, bad("%s is not a datetime", show(v))
		}
		return epoch(f), nil
	}
	if f, ok := toFloat(v); ok && !math.IsInf(f, 0) && !math.IsNaN(f) {
		return epoch(f), nil
	}
	return nil, bad("%s is not a datetime (RFC 3339, e.g. 2024-05-01T10:00:00Z)", show(v))
}

// epoch reads a Unix time in seconds, or in milliseconds when it is too
// large to be seconds (after year 5138).
func epoch(f float64) string {
	if math.Abs(f) >= 1e11 {
		f /= 1000
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC().Format(time.RFC3339Nano)
}

func coerceTime(v any) (any, *problem) {
	s, ok := v.(string)
	if ok {
		s = strings.TrimSpace(s)
		if len(s) == 5 {
			s += ":00"
		}
		if len(s) == 8 && s[2] == ':' && s[5] == ':' {
			h, e1 := strconv.Atoi(s[0:2])
			m, e2 := strconv.Atoi(s[3:5])
			sec, e3 := strconv.Atoi(s[6:8])
			if e1 == nil && e2 == nil && e3 == nil && h >= 0 && h < 24 && m >= 0 && m < 60 && sec >= 0 && sec < 60 &&
				isDigits(s[0:2]) && isDigits(s[3:5]) && isDigits(s[6:8]) {
				return s, nil
			}
		}
	}
	return nil, bad("%s is not a time (hh:mm:ss)", show(v))
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// listItem converts one list element to a string.
func listItem(v any) (string, *problem) {
	switch x := v.(type) {
	case string:
		if p := tooLong(x, MaxStringLen); p != nil {
			return "", p
		}
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case json.Number:
		return x.String(), nil
	}
	if f, ok := toFloat(v); ok {
		return strconv.FormatFloat(f, 'f', -1, 64), nil
	}
	return "", bad("%s is not a string", show(v))
}

func coerceList(v any, csv bool) (any, *problem) {
	switch x := v.(type) {
	case string:
		if !csv {
			s, p := listItem(x)
			if p != nil {
				return nil, p
			}
			return []any{s}, nil
		}
		parts := strings.Split(x, ";")
		out := make([]any, 0, len(parts))
		for _, part := range parts {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			if p := tooLong(part, MaxStringLen); p != nil {
				return nil, p
			}
			out = append(out, part)
		}
		return out, nil
	case []any:
		out := make([]any, 0, len(x))
		for i, e := range x {
			if e == nil {
				continue
			}
			s, p := listItem(e)
			if p != nil {
				p.msg = fmt.Sprintf("item %d: %s", i, p.msg)
				return nil, p
			}
			out = append(out, s)
		}
		return out, nil
	case []string:
		out := make([]any, 0, len(x))
		for i, s := range x {
			if p := tooLong(s, MaxStringLen); p != nil {
				p.msg = fmt.Sprintf("item %d: %s", i, p.msg)
				return nil, p
			}
			out = append(out, s)
		}
		return out, nil
	}
	if _, ok := toFloat(v); ok {
		s, _ := listItem(v)
		return []any{s}, nil
	}
	if b, ok := v.(bool); ok {
		return []any{strconv.FormatBool(b)}, nil
	}
	return nil, bad("%s is not a list of strings", show(v))
}

func coerceEmail(v any) (any, *problem) {
	s, ok := v.(string)
	if !ok {
		return nil, bad("%s is not an email address", show(v))
	}
	s = strings.TrimSpace(s)
	if p := tooLong(s, MaxStringLen); p != nil {
		return nil, p
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return nil, bad("%s is not an email address", show(v))
	}
	at := strings.LastIndexByte(s, '@')
	domain := s[at+1:]
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") {
		return nil, bad("%s is not an email address (the domain has no dot)", show(v))
	}
	return s[:at+1] + strings.ToLower(domain), nil
}

func coercePhone(v any, region string) (any, *problem) {
	var s string
	switch x := v.(type) {
	case string:
		s = strings.TrimSpace(x)
	case json.Number:
		s = "+" + x.String()
	default:
		if f, ok := toFloat(v); ok && f > 0 && f == math.Trunc(f) && f < 1e16 {
			s = "+" + strconv.FormatFloat(f, 'f', 0, 64)
		} else {
			return nil, bad("%s is not a phone number", show(v))
		}
	}
	if p := tooLong(s, MaxStringLen); p != nil {
		return nil, p
	}
	if region == "" {
		region = "US"
	}
	if strings.HasPrefix(s, "00") {
		s = "+" + s[2:]
	}
	n, ok := fastE164(s)
	var err error
	if !ok {
		n, err = phonenumbers.Parse(s, region)
	}
	if err != nil || !phonenumbers.IsValidNumber(n) {
		return nil, bad("%s is not a valid phone number (use the international format, e.g. +33612345678)", show(v))
	}
	return phonenumbers.Format(n, phonenumbers.E164), nil
}

func coerceURL(v any) (any, *problem) {
	s, ok := v.(string)
	if !ok {
		return nil, bad("%s is not a URL", show(v))
	}
	s = strings.TrimSpace(s)
	if p := tooLong(s, MaxURLLen); p != nil {
		return nil, p
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (!strings.EqualFold(u.Scheme, "http") && !strings.EqualFold(u.Scheme, "https")) {
		return nil, bad("%s is not an http(s) URL", show(v))
	}
	return s, nil
}
