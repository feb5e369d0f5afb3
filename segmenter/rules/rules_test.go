package rules_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/user360/user360/segmenter/rules"
)

var (
	now   = time.Date(2025, 3, 15, 12, 0, 0, 0, time.UTC) // Saturday
	kolk  = mustLoc("Asia/Kolkata")
	nyLoc = mustLoc("America/New_York")
)

func mustLoc(n string) *time.Location {
	l, err := time.LoadLocation(n)
	if err != nil {
		panic(err)
	}
	return l
}

func traitRule(op string, value any) string {
	if value == nil {
		return fmt.Sprintf(`{"trait":"x","op":%q}`, op)
	}
	b, _ := json.Marshal(value)
	return fmt.Sprintf(`{"trait":"x","op":%q,"value":%s}`, op, b)
}

type missingT struct{}

var missing = missingT{}

func evalTrait(t *testing.T, op string, value, trait any, loc *time.Location) bool {
	t.Helper()
	r, err := rules.Parse(json.RawMessage(traitRule(op, value)), "rule")
	if err != nil {
		t.Fatalf("parse %s: %v", traitRule(op, value), err)
	}
	traits := map[string]any{}
	if trait != missing {
		traits["x"] = trait
	}
	ok, _ := r.Eval(&rules.Env{Now: now, Loc: loc, Traits: traits})
	return ok
}

func TestTraitOperators(t *testing.T) {
	list := []any{"a", "b", 3.0}
	cases := []struct {
		op    string
		value any
		trait any
		want  bool
	}{
		// string
		{"eq", "IN", "IN", true}, {"eq", "IN", "in", false}, {"eq", "IN", missing, false}, {"eq", "IN", nil, false}, {"eq", "IN", 5.0, false},
		{"neq", "IN", "US", true}, {"neq", "IN", "IN", false}, {"neq", "IN", missing, false}, {"neq", "IN", 1.0, false},
		{"in", []any{"IN", "US"}, "US", true}, {"in", []any{"IN", "US"}, "FR", false}, {"in", []any{"IN"}, missing, false}, {"in", []any{1.0}, 1.0, true},
		{"not_in", []any{"IN", "US"}, "FR", true}, {"not_in", []any{"IN", "US"}, "IN", false}, {"not_in", []any{"IN"}, nil, false},
		{"contains", "gmail", "bob@gmail.com", true}, {"contains", "gmail", "bob@yahoo.com", false}, {"contains", "gmail", 3.0, false}, {"contains", "gmail", missing, false},
		{"not_contains", "gmail", "bob@yahoo.com", true}, {"not_contains", "gmail", "bob@gmail.com", false}, {"not_contains", "gmail", missing, false},
		{"starts_with", "+91", "+9198", true}, {"starts_with", "+91", "+1", false}, {"starts_with", "+91", 91.0, false},
		{"ends_with", ".com", "a.com", true}, {"ends_with", ".com", "a.org", false}, {"ends_with", ".com", missing, false},
		{"exists", nil, "", true}, {"exists", nil, 0.0, true}, {"exists", nil, missing, false}, {"exists", nil, nil, false},
		{"not_exists", nil, missing, true}, {"not_exists", nil, nil, true}, {"not_exists", nil, "x", false},
		// number
		{"eq", 5.0, 5.0, true}, {"eq", 5.0, "5", false}, {"neq", 5.0, 6.0, true},
		{"gt", 100.0, 101.0, true}, {"gt", 100.0, 100.0, false}, {"gt", 100.0, "101", false}, {"gt", 100.0, missing, false},
		{"gte", 100.0, 100.0, true}, {"gte", 100.0, 99.5, false},
		{"lt", 10.0, 9.0, true}, {"lt", 10.0, 10.0, false}, {"lt", 10.0, nil, false},
		{"lte", 10.0, 10.0, true}, {"lte", 10.0, 10.1, false},
		{"between", []any{1.0, 10.0}, 1.0, true}, {"between", []any{1.0, 10.0}, 10.0, true}, {"between", []any{1.0, 10.0}, 11.0, false}, {"between", []any{1.0, 10.0}, "5", false},
		// boolean
		{"is_true", nil, true, true}, {"is_true", nil, false, false}, {"is_true", nil, "true", false}, {"is_true", nil, missing, false},
		{"is_false", nil, false, true}, {"is_false", nil, true, false}, {"is_false", nil, nil, false},
		{"eq", true, true, true}, {"eq", true, false, false},
		// dates (UTC)
		{"before", "2025-01-01", "2024-12-31", true}, {"before", "2025-01-01", "2025-01-01", false}, {"before", "2025-01-01", "not a date", false}, {"before", "2025-01-01", 5.0, false},
		{"after", "2025-01-01", "2025-01-02", true}, {"after", "2025-01-01", "2025-01-01T23:00:00Z", false}, {"after", "2025-01-01T10:00:00Z", "2025-01-01T10:00:01Z", true},
		{"on", "2025-01-01", "2025-01-01T23:59:59Z", true}, {"on", "2025-01-01", "2025-01-02T00:00:00Z", false},
		{"between", []any{"2025-01-01", "2025-01-31"}, "2025-01-31T20:00:00Z", true}, {"between", []any{"2025-01-01", "2025-01-31"}, "2025-02-01", false},
		{"is_today", nil, "2025-03-15T01:00:00Z", true}, {"is_today", nil, "2025-03-14T23:59:59Z", false}, {"is_today", nil, "2025-03-15", true},
		{"within_last", map[string]any{"value": 7.0, "unit": "days"}, "2025-03-09T12:00:00Z", true},
		{"within_last", map[string]any{"value": 7.0, "unit": "days"}, "2025-03-08T12:00:00Z", false},
		{"within_last", map[string]any{"value": 7.0, "unit": "days"}, "2025-03-16T12:00:00Z", false},
		{"within_next", map[string]any{"value": 2.0, "unit": "hours"}, "2025-03-15T13:59:00Z", true},
		{"within_next", map[string]any{"value": 2.0, "unit": "hours"}, "2025-03-15T14:01:00Z", false},
		{"within_next", map[string]any{"value": 2.0, "unit": "hours"}, "2025-03-15T11:00:00Z", false},
		{"more_than_ago", map[string]any{"value": 1.0, "unit": "months"}, "2025-02-14T00:00:00Z", true},
		{"more_than_ago", map[string]any{"value": 1.0, "unit": "months"}, "2025-02-16T00:00:00Z", false},
		{"exactly_ago", map[string]any{"value": 30.0, "unit": "days"}, "2025-02-13T08:00:00Z", true},
		{"exactly_ago", map[string]any{"value": 30.0, "unit": "days"}, "2025-02-12T08:00:00Z", false},
		{"exactly_ago", map[string]any{"value": 1.0, "unit": "weeks"}, "2025-03-08T23:00:00Z", true},
		{"anniversary", nil, "1990-03-15", true}, {"anniversary", nil, "1990-03-16", false}, {"anniversary", nil, 19900315.0, false}, {"anniversary", nil, missing, false},
		{"within_last", map[string]any{"value": 7.0, "unit": "days"}, missing, false},
		// lists
		{"contains", "a", list, true}, {"contains", "z", list, false}, {"contains", 3.0, list, true},
		{"not_contains", "z", list, true}, {"not_contains", "a", list, false},
		{"contains_any", []any{"z", "b"}, list, true}, {"contains_any", []any{"z"}, list, false}, {"contains_any", []any{"a"}, "a", false},
		{"contains_all", []any{"a", "b"}, list, true}, {"contains_all", []any{"a", "z"}, list, false},
		{"size_gte", 3.0, list, true}, {"size_gte", 4.0, list, false}, {"size_gte", 1.0, "abc", false},
		{"size_lte", 3.0, list, true}, {"size_lte", 2.0, list, false}, {"size_lte", 0.0, []any{}, true},
		{"exists", nil, list, true}, {"in", []any{"a"}, list, false},
	}
	for _, c := range cases {
		name := fmt.Sprintf("%s/%v/%v", c.op, c.value, c.trait)
		t.Run(name, func(t *testing.T) {
			if got := evalTrait(t, c.op, c.value, c.trait, time.UTC); got != c.want {
				t.Fatalf("%s on %#v = %v, want %v", traitRule(c.op, c.value), c.trait, got, c.want)
			}
		})
	}
}

func TestTimezones(t *testing.T) {
	// 2025-03-15T20:00Z is already 16 March (01:30) in Kolkata but still 15
	// March (16:00) in New York.
	late := "2025-03-15T20:00:00Z"
	at := time.Date(2025, 3, 15, 21, 0, 0, 0, time.UTC)
	cases := []struct {
		op    string
		value any
		trait any
		loc   *time.Location
		want  bool
	}{
		{"is_today", nil, late, time.UTC, true},
		{"is_today", nil, late, kolk, true},
		{"is_today", nil, "2025-03-15T12:00:00Z", kolk, false}, // 17:30 on the 15th in Kolkata, now is the 16th there
		{"is_today", nil, "2025-03-15T12:00:00Z", nyLoc, true},
		{"anniversary", nil, "2000-03-16", kolk, true},
		{"anniversary", nil, "2000-03-16", nyLoc, false},
		{"on", "2025-03-16", late, kolk, true},
		{"on", "2025-03-16", late, time.UTC, false},
		{"is_today", nil, "2025-03-16", kolk, true}, // a date trait is midnight in the tenant's zone
	}
	for i, c := range cases {
		t.Run(fmt.Sprint(i, c.op, c.loc), func(t *testing.T) {
			r, err := rules.Parse(json.RawMessage(traitRule(c.op, c.value)), "rule")
			if err != nil {
				t.Fatal(err)
			}
			got, _ := r.Eval(&rules.Env{Now: at, Loc: c.loc, Traits: map[string]any{"x": c.trait}})
			if got != c.want {
				t.Fatalf("%s in %s = %v, want %v", traitRule(c.op, c.value), c.loc, got, c.want)
			}
		})
	}
}

func TestLeapDayAnniversary(t *testing.T) {
	r, _ := rules.Parse(json.RawMessage(`{"trait":"b","op":"anniversary"}`), "rule")
	for _, c := range []struct {
		now  time.Time
		want bool
	}{
		{time.Date(2025, 2, 28, 10, 0, 0, 0, time.UTC), true},
		{time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC), false},
		{time.Date(2024, 2, 29, 10, 0, 0, 0, time.UTC), true},
		{time.Date(2024, 2, 28, 10, 0, 0, 0, time.UTC), false},
	} {
		got, _ := r.Eval(&rules.Env{Now: c.now, Traits: map[string]any{"b": "2000-02-29"}})
		if got != c.want {
			t.Errorf("at %s: %v, want %v", c.now, got, c.want)
		}
	}
}

func TestDeadlines(t *testing.T) {
	cases := []struct {
		rule  string
		trait any
		want  time.Time
	}{
		{`{"trait":"x","op":"within_last","value":{"value":7,"unit":"days"}}`, "2025-03-10T08:00:00Z", time.Date(2025, 3, 17, 8, 0, 0, 0, time.UTC)},
		{`{"trait":"x","op":"is_today","value":null}`, "2025-03-15T08:00:00Z", time.Date(2025, 3, 16, 0, 0, 0, 0, time.UTC)},
		{`{"trait":"x","op":"anniversary"}`, "1990-06-01", time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)},
		{`{"trait":"x","op":"within_next","value":{"value":1,"unit":"days"}}`, "2025-03-20T00:00:00Z", time.Date(2025, 3, 19, 0, 0, 0, 0, time.UTC)},
		{`{"trait":"x","op":"more_than_ago","value":{"value":3,"unit":"hours"}}`, "2025-03-15T10:00:00Z", time.Date(2025, 3, 15, 13, 0, 0, 0, time.UTC)},
		{`{"trait":"x","op":"eq","value":"a"}`, "a", time.Time{}},
	}
	for _, c := range cases {
		r, err := rules.Parse(json.RawMessage(c.rule), "rule")
		if err != nil {
			// is_today takes no value: check that null is refused too.
			if c.rule == `{"trait":"x","op":"is_today","value":null}` {
				r, _ = rules.Parse(json.RawMessage(`{"trait":"x","op":"is_today"}`), "rule")
			} else {
				t.Fatal(err)
			}
		}
		_, d := r.Eval(&rules.Env{Now: now, Traits: map[string]any{"x": c.trait}})
		if !d.Equal(c.want) {
			t.Errorf("%s: deadline %s, want %s", c.rule, d, c.want)
		}
	}
}

func TestCombinatorsAndSegments(t *testing.T) {
	r, err := rules.Parse(json.RawMessage(`{"all":[
		{"trait":"country","op":"eq","value":"IN"},
		{"any":[{"trait":"plan","op":"eq","value":"pro"},{"not":{"segment":"s1"}}]},
		{"segment":"s2","member":false}]}`), "rule")
	if err != nil {
		t.Fatal(err)
	}
	member := map[string]bool{}
	env := func() *rules.Env {
		return &rules.Env{Now: now, Traits: map[string]any{"country": "IN", "plan": "free"}, Member: func(id string) bool { return member[id] }}
	}
	if ok, _ := r.Eval(env()); !ok {
		t.Fatal("want true with no memberships")
	}
	member["s1"] = true
	if ok, _ := r.Eval(env()); ok {
		t.Fatal("want false in s1 and not pro")
	}
	member["s1"], member["s2"] = false, true
	if ok, _ := r.Eval(env()); ok {
		t.Fatal("want false in s2")
	}
	if got := r.Segments(); len(got) != 2 || got[0] != "s1" {
		t.Fatalf("segments %v", got)
	}
	if got := r.Traits(); len(got) != 2 {
		t.Fatalf("traits %v", got)
	}
	if r.Vacuous() {
		t.Fatal("not vacuous")
	}
	v, _ := rules.Parse(json.RawMessage(`{"not":{"trait":"email","op":"exists"}}`), "rule")
	if !v.Vacuous() {
		t.Fatal("want vacuous")
	}
}

func ms(s string) int64 {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return rules.Stamp(t, s)
}

func TestEventConditions(t *testing.T) {
	cases := []struct {
		name string
		rule string
		ts   []string
		want bool
		next string // "" = none
	}{
		{"performed", `{"event":"Order Completed"}`, []string{"2020-01-01T00:00:00Z"}, true, ""},
		{"not performed, none", `{"event":"Order Completed","performed":false}`, nil, true, ""},
		{"within in", `{"event":"E","within":{"value":30,"unit":"days"}}`, []string{"2025-03-01T00:00:00Z"}, true, "2025-03-31T00:00:00Z"},
		{"within out", `{"event":"E","within":{"value":7,"unit":"days"}}`, []string{"2025-03-01T00:00:00Z"}, false, ""},
		{"not performed within, ages out later", `{"event":"E","performed":false,"within":{"value":30,"unit":"days"}}`, []string{"2025-03-01T00:00:00Z"}, false, "2025-03-31T00:00:00Z"},
		{"count gte 2", `{"event":"E","count":{"op":"gte","value":2},"within":{"value":30,"unit":"days"}}`, []string{"2025-02-20T00:00:00Z", "2025-03-10T00:00:00Z"}, true, "2025-03-22T00:00:00Z"},
		{"count gte 2 one old", `{"event":"E","count":{"op":"gte","value":2},"within":{"value":30,"unit":"days"}}`, []string{"2025-01-20T00:00:00Z", "2025-03-10T00:00:00Z"}, false, "2025-04-09T00:00:00Z"},
		{"count eq 1", `{"event":"E","count":{"op":"eq","value":1}}`, []string{"2025-01-20T00:00:00Z", "2025-03-10T00:00:00Z"}, false, ""},
		{"count lt 2", `{"event":"E","count":{"op":"lt","value":2}}`, []string{"2025-01-20T00:00:00Z"}, true, ""},
		{"count neq 0", `{"event":"E","count":{"op":"neq","value":0}}`, nil, false, ""},
		{"count gt 1", `{"event":"E","count":{"op":"gt","value":1}}`, []string{"2025-01-20T00:00:00Z", "2025-01-21T00:00:00Z"}, true, ""},
		{"count lte 1", `{"event":"E","count":{"op":"lte","value":1}}`, []string{"2025-01-20T00:00:00Z", "2025-01-21T00:00:00Z"}, false, ""},
		{"between_ago in", `{"event":"E","between_ago":{"from":{"value":7,"unit":"days"},"to":{"value":14,"unit":"days"}}}`, []string{"2025-03-05T00:00:00Z"}, true, "2025-03-19T00:00:00Z"},
		{"between_ago too recent", `{"event":"E","between_ago":{"from":{"value":7,"unit":"days"},"to":{"value":14,"unit":"days"}}}`, []string{"2025-03-10T00:00:00Z"}, false, "2025-03-17T00:00:00Z"},
		{"today", `{"event":"E","calendar":"today"}`, []string{"2025-03-15T01:00:00Z"}, true, "2025-03-16T00:00:00Z"},
		{"yesterday", `{"event":"E","calendar":"yesterday"}`, []string{"2025-03-14T01:00:00Z"}, true, "2025-03-16T00:00:00Z"},
		{"this_week", `{"event":"E","calendar":"this_week"}`, []string{"2025-03-10T01:00:00Z"}, true, "2025-03-17T00:00:00Z"},
		{"last_week", `{"event":"E","calendar":"last_week"}`, []string{"2025-03-09T23:00:00Z"}, true, "2025-03-17T00:00:00Z"},
		{"this_month", `{"event":"E","calendar":"this_month"}`, []string{"2025-02-28T23:00:00Z"}, false, "2025-04-01T00:00:00Z"},
		{"last_month", `{"event":"E","calendar":"last_month"}`, []string{"2025-02-28T23:00:00Z"}, true, "2025-04-01T00:00:00Z"},
		{"future event", `{"event":"E","within":{"value":1,"unit":"days"}}`, []string{"2025-03-15T12:00:05Z"}, false, "2025-03-15T12:00:05Z"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := rules.Parse(json.RawMessage(c.rule), "rule")
			if err != nil {
				t.Fatal(err)
			}
			var ts []int64
			for _, s := range c.ts {
				ts = append(ts, ms(s))
			}
			ok, next := r.Eval(&rules.Env{Now: now, Events: func(*rules.EventCond) []int64 { return ts }})
			if ok != c.want {
				t.Fatalf("got %v want %v", ok, c.want)
			}
			var want time.Time
			if c.next != "" {
				want, _ = time.Parse(time.RFC3339, c.next)
			}
			if !next.Equal(want) {
				t.Fatalf("next %s, want %s", next, want)
			}
		})
	}
}

func TestCalendarInTenantZone(t *testing.T) {
	// 2025-03-15T20:00Z is 16 March in Kolkata: "today" there excludes an
	// event at 2025-03-15T12:00Z (17:30 on the 15th local).
	r, _ := rules.Parse(json.RawMessage(`{"event":"E","calendar":"today"}`), "rule")
	at := time.Date(2025, 3, 15, 20, 0, 0, 0, time.UTC)
	ts := []int64{ms("2025-03-15T12:00:00Z")}
	env := func(loc *time.Location) *rules.Env {
		return &rules.Env{Now: at, Loc: loc, Events: func(*rules.EventCond) []int64 { return ts }}
	}
	if ok, _ := r.Eval(env(time.UTC)); !ok {
		t.Fatal("today in UTC")
	}
	ok, next := r.Eval(env(kolk))
	if ok {
		t.Fatal("not today in Kolkata")
	}
	if want := time.Date(2025, 3, 17, 0, 0, 0, 0, kolk); !next.Equal(want) {
		t.Fatalf("next %s want %s", next, want)
	}
}

func TestWhereAndAbsoluteWindows(t *testing.T) {
	r, err := rules.Parse(json.RawMessage(`{"event":"Order Completed","where":[{"property":"revenue","op":"gt","value":100},{"property":"shipping.country","op":"in","value":["IN","US"]}],"after":"2025-01-01","before":"2025-03-01T00:00:00Z"}`), "rule")
	if err != nil {
		t.Fatal(err)
	}
	c := r.EventConds()[0]
	props := map[string]any{"revenue": 150.0, "shipping": map[string]any{"country": "IN"}}
	inWin := time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)
	if !c.Match(props, inWin, time.UTC) {
		t.Fatal("want match")
	}
	if c.Match(map[string]any{"revenue": 50.0, "shipping": map[string]any{"country": "IN"}}, inWin, time.UTC) {
		t.Fatal("revenue too low")
	}
	if c.Match(map[string]any{"revenue": "150", "shipping": map[string]any{"country": "IN"}}, inWin, time.UTC) {
		t.Fatal("revenue of the wrong type")
	}
	if c.Match(props, time.Date(2025, 1, 1, 20, 0, 0, 0, time.UTC), time.UTC) {
		t.Fatal("after a date means from the next day")
	}
	if c.Match(props, time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC), time.UTC) {
		t.Fatal("before is exclusive")
	}
}

func TestRetain(t *testing.T) {
	r, _ := rules.Parse(json.RawMessage(`{"event":"E","count":{"op":"gte","value":2},"within":{"value":30,"unit":"days"}}`), "rule")
	c := r.EventConds()[0]
	var ts []int64
	for _, s := range []string{"2025-03-01T00:00:00Z", "2025-03-02T00:00:00Z", "2025-03-03T00:00:00Z", "2025-03-04T00:00:00Z", "2025-01-01T00:00:00Z", "2025-03-02T00:00:00Z"} {
		ts = c.Retain(ts, ms(s), now, time.UTC)
	}
	want := []int64{ms("2025-03-02T00:00:00Z"), ms("2025-03-03T00:00:00Z"), ms("2025-03-04T00:00:00Z")}
	if fmt.Sprint(ts) != fmt.Sprint(want) {
		t.Fatalf("kept %v want %v (count+1 most recent, in window, no duplicates)", ts, want)
	}
}

func TestValidationErrorsNameThePath(t *testing.T) {
	cases := []struct{ rule, path string }{
		{``, "rule"},
		{`[]`, "rule"},
		{`{"all":[]}`, "rule.all"},
		{`{"all":[{"trait":"a","op":"eq","value":1},{"trait":"b","op":"bogus","value":1}]}`, "rule.all[1].op"},
		{`{"any":[{"not":{"trait":"a","op":"gt","value":"x"}}]}`, "rule.any[0].not.value"},
		{`{"trait":"a","op":"exists","value":1}`, "rule.value"},
		{`{"trait":"a","op":"eq"}`, "rule.value"},
		{`{"trait":"","op":"eq","value":1}`, "rule.trait"},
		{`{"trait":"a","op":"within_last","value":{"value":7,"unit":"fortnights"}}`, "rule.value.unit"},
		{`{"trait":"a","op":"within_last","value":{"value":-1,"unit":"days"}}`, "rule.value.value"},
		{`{"trait":"a","op":"before","value":"yesterday"}`, "rule.value"},
		{`{"trait":"a","op":"between","value":[1,"2025-01-01"]}`, "rule.value[0]"},
		{`{"trait":"a","op":"in","value":[{}]}`, "rule.value[0]"},
		{`{"trait":"a","op":"size_gte","value":1.5}`, "rule.value"},
		{`{"event":"E","where":[{"property":"p","op":"gt","value":"x"}]}`, "rule.where[0].value"},
		{`{"event":"E","where":[{"property":"p","op":"is_today"}]}`, "rule.where[0].op"},
		{`{"event":"E","count":{"op":"gte","value":2},"performed":false}`, "rule.count"},
		{`{"event":"E","count":{"op":"about","value":2}}`, "rule.count.op"},
		{`{"event":"E","within":{"value":1,"unit":"days"},"calendar":"today"}`, "rule"},
		{`{"event":"E","calendar":"fortnight"}`, "rule.calendar"},
		{`{"event":"E","between_ago":{"from":{"value":1,"unit":"days"}}}`, "rule.between_ago.to"},
		{`{"event":"E","after":"soon"}`, "rule.after"},
		{`{"event":"E","color":"red"}`, "rule.color"},
		{`{"segment":""}`, "rule.segment"},
		{`{"segment":"s","member":"yes"}`, "rule.member"},
		{`{"foo":1}`, "rule"},
	}
	for _, c := range cases {
		_, err := rules.Parse(json.RawMessage(c.rule), "rule")
		var re *rules.Error
		if !errors.As(err, &re) || !errors.Is(err, rules.ErrInvalidRule) {
			t.Errorf("%s: want a rules.Error, got %v", c.rule, err)
			continue
		}
		if re.Path != c.path {
			t.Errorf("%s: path %q, want %q (%s)", c.rule, re.Path, c.path, re.Reason)
		}
	}
}

func TestLimits(t *testing.T) {
	deep := `{"trait":"a","op":"exists"}`
	for range rules.MaxDepth + 2 {
		deep = `{"not":` + deep + `}`
	}
	if _, err := rules.Parse(json.RawMessage(deep), "rule"); !errors.Is(err, rules.ErrInvalidRule) {
		t.Fatalf("deep rule: %v", err)
	}
}
