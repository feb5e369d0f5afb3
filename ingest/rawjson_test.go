package ingest

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzSplitObject: on any valid JSON object, the splitter finds the same
// members as encoding/json, and re-assembling them gives equivalent JSON.
func FuzzSplitObject(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1}`, ` { "a" : "x\"}" , "b":[1,{"c":"]"}], "a":null } `, `{"k\u00e9y":true,"n":-1.5e3}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var want map[string]json.RawMessage
		if !json.Valid(b) || !isObject(b) || json.Unmarshal(b, &want) != nil {
			return
		}
		fs, err := splitObject(b)
		if err != nil {
			t.Fatalf("splitObject(%s): %v", b, err)
		}
		if len(fs) != len(want) {
			t.Fatalf("%d members, encoding/json has %d: %s", len(fs), len(want), b)
		}
		for _, f := range fs {
			w, ok := want[f.key]
			if !ok {
				t.Fatalf("key %q not found by encoding/json in %s", f.key, b)
			}
			var a, c bytes.Buffer
			_ = json.Compact(&a, w)
			_ = json.Compact(&c, f.val)
			if a.String() != c.String() {
				t.Fatalf("value of %q: %s, want %s", f.key, c.String(), a.String())
			}
		}
		out := fs.appendTo(nil)
		if !json.Valid(out) {
			t.Fatalf("re-assembled object is invalid: %s", out)
		}
	})
}

func TestSplitArray(t *testing.T) {
	els, err := splitArray([]byte(` [ {"a":"]"} , 1 ,"x", [2,3] ] `))
	if err != nil || len(els) != 4 || string(els[0]) != `{"a":"]"}` || string(els[3]) != `[2,3]` {
		t.Fatalf("%q %v", els, err)
	}
}
