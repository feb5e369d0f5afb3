package propschema

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestCoerceTable(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("é", MaxStringLen+1)
	cases := []struct {
		typ  Type
		in   any
		csv  bool
		want any
		code string // "" = valid
	}{
		// string
		{TypeString, "hello", false, "hello", ""},
		{TypeString, strings.Repeat("é", MaxStringLen), false, strings.Repeat("é", MaxStringLen), ""},
		{TypeString, long, false, nil, CodeValueTooLong},
		{TypeString, 42.0, false, "42", ""},
		{TypeString, true, false, "true", ""},
		{TypeString, map[string]any{"a": 1}, false, nil, CodeInvalidDataType},
		{TypeString, nil, false, nil, ""},
		// number
		{TypeNumber, 42.5, false, 42.5, ""},
		{TypeNumber, "42", false, 42.0, ""},
		{TypeNumber, " -1.5e3 ", true, -1500.0, ""},
		{TypeNumber, json.Number("7"), false, 7.0, ""},
		{TypeNumber, 3, false, 3.0, ""},
		{TypeNumber, "0x10", false, nil, CodeInvalidDataType},
		{TypeNumber, "NaN", false, nil, CodeInvalidDataType},
		{TypeNumber, "Inf", false, nil, CodeInvalidDataType},
		{TypeNumber, "1,5", true, nil, CodeInvalidDataType},
		{TypeNumber, "1e999", false, nil, CodeInvalidDataType},
		{TypeNumber, "", true, nil, CodeInvalidDataType},
		{TypeNumber, true, false, nil, CodeInvalidDataType},
		// boolean
		{TypeBoolean, true, false, true, ""},
		{TypeBoolean, "TRUE", false, true, ""},
		{TypeBoolean, "False", true, false, ""},
		{TypeBoolean, "yes", true, true, ""},
		{TypeBoolean, "N", true, false, ""},
		{TypeBoolean, "1", true, true, ""},
		{TypeBoolean, "yes", false, nil, CodeInvalidDataType},
		{TypeBoolean, 1.0, false, nil, CodeInvalidDataType},
		{TypeBoolean, "maybe", true, nil, CodeInvalidDataType},
		// date
		{TypeDate, "1990-02-28", false, "1990-02-28", ""},
		{TypeDate, " 1990-02-28 ", true, "1990-02-28", ""},
		{TypeDate, "1990-02-30", false, nil, CodeInvalidDataType},
		{TypeDate, "28/02/1990", true, nil, CodeInvalidDataType},
		{TypeDate, "1990-02-28T00:00:00Z", false, nil, CodeInvalidDataType},
		{TypeDate, 19900228.0, false, nil, CodeInvalidDataType},
		// datetime
		{TypeDatetime, "2024-05-01T10:00:00+02:00", false, "2024-05-01T08:00:00Z", ""},
		{TypeDatetime, "2024-05-01T10:00:00.5Z", false, "2024-05-01T10:00:00.5Z", ""},
		{TypeDatetime, "2024-05-01 10:00:00", true, "2024-05-01T08:00:00Z", ""}, // tenant zone: Paris
		{TypeDatetime, "2024-05-01", true, "2024-04-30T22:00:00Z", ""},
		{TypeDatetime, 1714557600.0, false, "2024-05-01T10:00:00Z", ""},
		{TypeDatetime, 1714557600000.0, false, "2024-05-01T10:00:00Z", ""},
		{TypeDatetime, "yesterday", false, nil, CodeInvalidDataType},
		{TypeDatetime, true, false, nil, CodeInvalidDataType},
		// time
		{TypeTime, "09:30:00", false, "09:30:00", ""},
		{TypeTime, "23:59", true, "23:59:00", ""},
		{TypeTime, "24:00:00", false, nil, CodeInvalidDataType},
		{TypeTime, "9:30:00", false, nil, CodeInvalidDataType},
		{TypeTime, "+1:30:00", false, nil, CodeInvalidDataType},
		// list
		{TypeList, "a;b; c ;", true, []any{"a", "b", "c"}, ""},
		{TypeList, "a;b", false, []any{"a;b"}, ""},
		{TypeList, []any{"x", 2.0, true}, false, []any{"x", "2", "true"}, ""},
		{TypeList, []string{"x"}, false, []any{"x"}, ""},
		{TypeList, []any{map[string]any{}}, false, nil, CodeInvalidDataType},
		{TypeList, []any{long}, false, nil, CodeValueTooLong},
		{TypeList, map[string]any{}, false, nil, CodeInvalidDataType},
		// email
		{TypeEmail, " Ada@Example.COM ", false, "Ada@example.com", ""},
		{TypeEmail, "Ada <ada@example.com>", false, nil, CodeInvalidDataType},
		{TypeEmail, "ada@localhost", false, nil, CodeInvalidDataType},
		{TypeEmail, "not an email", true, nil, CodeInvalidDataType},
		{TypeEmail, 3.0, false, nil, CodeInvalidDataType},
		// phone
		{TypePhone, "+33 6 12 34 56 78", false, "+33612345678", ""},
		{TypePhone, "0033612345678", true, "+33612345678", ""},
		{TypePhone, "06 12 34 56 78", true, "+33612345678", ""}, // tenant region FR
		{TypePhone, 33612345678.0, false, "+33612345678", ""},
		{TypePhone, "12", false, nil, CodeInvalidDataType},
		{TypePhone, "call me", true, nil, CodeInvalidDataType},
		// url
		{TypeURL, "https://example.com/a?b=c", false, "https://example.com/a?b=c", ""},
		{TypeURL, "ftp://example.com", false, nil, CodeInvalidDataType},
		{TypeURL, "example.com", false, nil, CodeInvalidDataType},
		{TypeURL, "https://example.com/" + strings.Repeat("a", MaxURLLen), false, nil, CodeValueTooLong},
	}
	for _, c := range cases {
		o := coerceOpts{csv: c.csv, loc: paris, region: "FR"}
		got, p := coerce(c.typ, c.in, &o)
		name := string(c.typ) + "/" + show(c.in)
		if c.code != "" {
			if p == nil {
				t.Errorf("%s: accepted as %#v, want %s", name, got, c.code)
			} else if p.code != c.code {
				t.Errorf("%s: code %s (%s), want %s", name, p.code, p.msg, c.code)
			} else if p.msg == "" {
				t.Errorf("%s: empty message", name)
			}
			continue
		}
		if p != nil {
			t.Errorf("%s: rejected: %s %s", name, p.code, p.msg)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %#v, want %#v", name, got, c.want)
		}
	}
	// Every type has at least one valid and one invalid case.
	for _, typ := range Types {
		var ok, ko bool
		for _, c := range cases {
			if c.typ == typ {
				ok = ok || c.code == ""
				ko = ko || c.code != ""
			}
		}
		if !ok || !ko {
			t.Errorf("type %s lacks a valid or an invalid case", typ)
		}
	}
}
