package rules_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/user360/user360/segmenter/rules"
)

func mustParse(t testing.TB, raw string) *rules.Rule {
	t.Helper()
	r, err := rules.Parse(json.RawMessage(raw), "rule")
	if err != nil {
		t.Fatalf("parse %.200s: %v", raw, err)
	}
	return r
}

func wantPath(t *testing.T, raw, path string) {
	t.Helper()
	_, err := rules.Parse(json.RawMessage(raw), "rule")
	var re *rules.Error
	if !errors.As(err, &re) {
		t.Fatalf("%.200s: want a rules.Error at %s, got %v", raw, path, err)
	}
	if re.Path != path {
		t.Fatalf("%.200s: path %q, want %q (%s)", raw, re.Path, path, re.Reason)
	}
}

// In a half-hour zone, "exactly 2 hours ago" is the local hour of trait+2h,
// and the deadlines are that hour's bounds.
func TestExactlyAgoHoursInHalfHourZone(t *testing.T) {
	r := mustParse(t, `{"trait":"d","op":"exactly_ago","value":{"value":2,"unit":"hours"}}`)
	trait := time.Date(2025, 3, 10, 10, 15, 0, 0, kolk).Format(time.RFC3339)
	at := func(h, m int) time.Time { return time.Date(2025, 3, 10, h, m, 0, 0, kolk) }
	for _, c := range []struct {
		now, next time.Time
		want      bool
	}{
		{at(11, 45), at(12, 0), false},
		{at(12, 0), at(13, 0), true},
		{at(12, 40), at(13, 0), true},
		{at(13, 0), time.Time{}, false},
	} {
		got, next := r.Eval(&rules.Env{Now: c.now, Loc: kolk, Traits: map[string]any{"d": trait}})
		if got != c.want || !next.Equal(c.next) {
			t.Errorf("now %s: %v next %s, want %v next %s", c.now.Format("15:04"), got, next.In(kolk), c.want, c.next.In(kolk))
		}
	}
}

// Minutes follow the local clock too (Kolkata was +05:21:10 in 1900).
func TestExactlyAgoMinutesInSecondsOffsetZone(t *testing.T) {
	r := mustParse(t, `{"trait":"d","op":"exactly_ago","value":{"value":10,"unit":"minutes"}}`)
	trait := time.Date(1900, 1, 1, 10, 0, 30, 0, kolk)
	start := time.Date(1900, 1, 1, 10, 10, 0, 0, kolk)
	got, next := r.Eval(&rules.Env{Now: start, Loc: kolk, Traits: map[string]any{"d": trait}})
	if !got || !next.Equal(start.Add(time.Minute)) {
		t.Fatalf("at 10:10:00 local: %v next %s, want true until 10:11:00", got, next.In(kolk))
	}
}

// Days, weeks and months use the tenant's calendar days.
func TestExactlyAgoCalendarUnitsInTenantZone(t *testing.T) {
	trait := "2025-01-31T20:00:00Z" // 1 February 01:30 in Kolkata
	for _, c := range []struct {
		unit     string
		from, to time.Time
	}{
		{"days", time.Date(2025, 2, 3, 0, 0, 0, 0, kolk), time.Date(2025, 2, 4, 0, 0, 0, 0, kolk)},
		{"weeks", time.Date(2025, 2, 15, 0, 0, 0, 0, kolk), time.Date(2025, 2, 16, 0, 0, 0, 0, kolk)},
		{"months", time.Date(2025, 4, 1, 0, 0, 0, 0, kolk), time.Date(2025, 4, 2, 0, 0, 0, 0, kolk)},
	} {
		r := mustParse(t, fmt.Sprintf(`{"trait":"d","op":"exactly_ago","value":{"value":2,"unit":%q}}`, c.unit))
		env := func(now time.Time) *rules.Env {
			return &rules.Env{Now: now, Loc: kolk, Traits: map[string]any{"d": trait}}
		}
		if got, next := r.Eval(env(c.from.Add(-time.Second))); got || !next.Equal(c.from) {
			t.Errorf("%s: before: %v next %s", c.unit, got, next)
		}
		if got, next := r.Eval(env(c.from)); !got || !next.Equal(c.to) {
			t.Errorf("%s: on the day: %v next %s", c.unit, got, next)
		}
	}
}

// TestContainsMatches: contains and not_contains over long values and
// long needles give the right answer, case-sensitively (their cost is
// BenchmarkNotContainsLong's: a quadratic search took about 200 ms for
// it, strings.Contains about 4 ms; a benchmark, not a timed test).
func TestContainsMatches(t *testing.T) {
	r := longNotContains(t)
	if !r.EventConds()[0].Match(map[string]any{"p": strings.Repeat("a", 32000)}, now, nil) {
		t.Fatal("not_contains: want true")
	}
	if !r.EventConds()[0].Match(map[string]any{"p": "x"}, now, nil) {
		t.Fatal("short haystack: want true")
	}
	if r.EventConds()[0].Match(map[string]any{"p": strings.Repeat("a", 20000) + "b"}, now, nil) {
		t.Fatal("the needle at the end: want false")
	}
	c := mustParse(t, `{"event":"x","where":[{"property":"p","op":"contains","value":"Ab"}]}`).EventConds()[0]
	if !c.Match(map[string]any{"p": "xAbc"}, now, nil) || c.Match(map[string]any{"p": "xabc"}, now, nil) {
		t.Fatal("contains must be case-sensitive")
	}
}

// longNotContains: 60 not_contains conditions, each a 16 KB needle.
func longNotContains(t testing.TB) *rules.Rule {
	needle := strings.Repeat("a", 16000) + "b"
	var where []string
	for range 60 {
		where = append(where, `{"property":"p","op":"not_contains","value":"`+needle+`"}`)
	}
	return mustParse(t, `{"event":"x","where":[`+strings.Join(where, ",")+`]}`)
}

// BenchmarkNotContainsLong: 60 not_contains of 16 KB needles over a 32 KB
// property, one event.
func BenchmarkNotContainsLong(b *testing.B) {
	r := longNotContains(b)
	props := map[string]any{"p": strings.Repeat("a", 32000)}
	for range b.N {
		if !r.EventConds()[0].Match(props, now, nil) {
			b.Fatal("want true")
		}
	}
}

func TestWhereConditionsCountTowardMaxNodes(t *testing.T) {
	var where []string
	for range rules.MaxNodes {
		where = append(where, `{"property":"p","op":"exists"}`)
	}
	raw := `{"event":"x","where":[` + strings.Join(where, ",") + `]}`
	wantPath(t, raw, fmt.Sprintf("rule.where[%d]", rules.MaxNodes-1))
	mustParse(t, `{"event":"x","where":[`+strings.Join(where[1:], ",")+`]}`)
	if _, err := rules.ParseStored(json.RawMessage(raw), "rule"); err != nil {
		t.Fatalf("a rule stored before the limit must still load: %v", err)
	}
}

func TestNumberOutOfRangeNamesItsPath(t *testing.T) {
	wantPath(t, `{"trait":"n","op":"gt","value":1e400}`, "rule.value")
	wantPath(t, `{"all":[{"trait":"n","op":"gt","value":1},{"trait":"n","op":"between","value":[1,-1e999]}]}`, "rule.all[1].value[1]")
	wantPath(t, `{"event":"E","where":[{"property":"p","op":"lt","value":1e309}]}`, "rule.where[0].value")
	_, err := rules.Parse(json.RawMessage(`{"trait":"n","op":"gt","value":1e400}`), "rule")
	if !strings.Contains(err.Error(), "out of range") {
		t.Fatalf("unclear reason: %v", err)
	}
	wantPath(t, `{"trait":"n","op":"gt","value":1}}`, "rule") // still invalid JSON
	mustParse(t, `{"trait":"n","op":"gt","value":1e-400}`)    // underflow is 0, as encoding/json
}

func TestDurationLimits(t *testing.T) {
	for unit, max := range rules.MaxDuration {
		mustParse(t, fmt.Sprintf(`{"event":"E","within":{"value":%d,"unit":%q}}`, max, unit))
		wantPath(t, fmt.Sprintf(`{"event":"E","within":{"value":%d,"unit":%q}}`, max+1, unit), "rule.within.value")
	}
	wantPath(t, `{"event":"E","between_ago":{"from":{"value":1,"unit":"days"},"to":{"value":110000,"unit":"days"}}}`, "rule.between_ago.to.value")
	wantPath(t, `{"event":"E","between_ago":{"from":{"value":3300,"unit":"months"},"to":{"value":1,"unit":"days"}}}`, "rule.between_ago.from.value")
	wantPath(t, `{"trait":"d","op":"within_last","value":{"value":15000,"unit":"weeks"}}`, "rule.value.value")
}

// A between_ago stored before the limits keeps its bounds in order, however
// large (the size estimate used to overflow).
func TestStoredHugeBetweenAgoOrdersBounds(t *testing.T) {
	r, err := rules.ParseStored(json.RawMessage(`{"event":"E","between_ago":{"from":{"value":1,"unit":"days"},"to":{"value":200000,"unit":"days"}}}`), "rule")
	if err != nil {
		t.Fatal(err)
	}
	c := r.EventConds()[0]
	if c.AgoFrom.Value != 1 || c.AgoTo.Value != 200000 {
		t.Fatalf("bounds from %v to %v", c.AgoFrom, c.AgoTo)
	}
	ts := []int64{rules.Stamp(now.AddDate(0, 0, -2), "m")}
	got, _ := r.Eval(&rules.Env{Now: now, Events: func(*rules.EventCond) []int64 { return ts }})
	if !got {
		t.Fatal("an event 2 days ago is between 1 and 200000 days ago")
	}
}
