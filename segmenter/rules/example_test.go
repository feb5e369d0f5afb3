package rules_test

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/user360/user360/segmenter/rules"
)

func Example() {
	rule, err := rules.Parse(json.RawMessage(`{"all":[
		{"trait":"country","op":"eq","value":"IN"},
		{"event":"Order Completed","where":[{"property":"revenue","op":"gt","value":100}],
		 "count":{"op":"gte","value":1},"within":{"value":30,"unit":"days"}}]}`), "rule")
	if err != nil {
		fmt.Println(err)
		return
	}
	order := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	in, until := rule.Eval(&rules.Env{
		Now:    time.Date(2025, 3, 15, 0, 0, 0, 0, time.UTC),
		Traits: map[string]any{"country": "IN"},
		Events: func(*rules.EventCond) []int64 { return []int64{rules.Stamp(order, "msg-1")} },
	})
	fmt.Println(in, until.UTC().Format(time.RFC3339))

	_, err = rules.Parse(json.RawMessage(`{"any":[{"trait":"age","op":"gt","value":"x"}]}`), "rule")
	fmt.Println(err)
	// Output:
	// true 2025-03-31T10:00:00Z
	// rule.any[0].value: operator gt needs a number
}
