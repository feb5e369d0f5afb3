package segmenter

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestRawFieldsAgreesWithEncodingJSON(t *testing.T) {
	docs := []string{
		`{}`,
		` { "a" : 1 , "b":"x\"y}", "c":[1,{"d":"]"}], "e":{"f":[true,null]}, "g":-1.5e3, "h":true, "i":false, "j":null } `,
		`{"k\u00e9y":"v\\w","":"empty","emoji":"😀","n":0}`,
		`{"nested":{"a":{"b":{"c":"}"}}},"list":[],"obj":{}}`,
	}
	for _, d := range docs {
		var want map[string]any
		if err := json.Unmarshal([]byte(d), &want); err != nil {
			t.Fatal(err)
		}
		fields, ok := rawFields([]byte(d))
		if !ok {
			t.Fatalf("%s: not indexed", d)
		}
		got := map[string]any{}
		for k, v := range fields {
			got[k] = decodeRaw(v)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s:\n got %#v\nwant %#v", d, got, want)
		}
	}
	for _, bad := range []string{``, `[]`, `{"a":1`, `{"a" 1}`, `{"a":}`, `{a:1}`, `{"a":1,}`} {
		if _, ok := rawFields([]byte(bad)); ok {
			t.Fatalf("%q accepted", bad)
		}
	}
}
