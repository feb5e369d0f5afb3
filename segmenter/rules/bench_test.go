package rules_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/user360/user360/segmenter/rules"
)

// BenchmarkEval evaluates a mixed rule (traits, an event count in a window,
// a date operator) with its deadline.
func BenchmarkEval(b *testing.B) {
	r, err := rules.Parse(json.RawMessage(`{"all":[
		{"trait":"country","op":"in","value":["IN","US"]},
		{"any":[{"trait":"spend","op":"gte","value":100},{"trait":"birthday","op":"anniversary"}]},
		{"event":"Order Completed","count":{"op":"gte","value":2},"within":{"value":30,"unit":"days"}}]}`), "rule")
	if err != nil {
		b.Fatal(err)
	}
	ts := []int64{rules.Stamp(now.Add(-48*time.Hour), "a"), rules.Stamp(now.Add(-time.Hour), "b"), rules.Stamp(now.Add(-time.Minute), "c")}
	env := &rules.Env{Now: now, Loc: kolk, Traits: map[string]any{"country": "IN", "spend": 150.0, "birthday": "1990-03-15"},
		Events: func(*rules.EventCond) []int64 { return ts }}
	b.ReportAllocs()
	for b.Loop() {
		r.Eval(env)
	}
}
