package jsonscan

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzMembers: on valid JSON objects, Members yields exactly the members
// encoding/json sees (same count, same raw values in order).
func FuzzMembers(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1}`, ` { "a" : [1, {"b":"}"}] , "c\"d": "x\\"y", "e": null } `, `{"a":{"b":[]},"a":2}`, `[1,2]`, `{"a":1,}`, `{"a"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var n int
		var vals []string
		ok := Members(b, 0, func(_, v []byte) bool { n++; vals = append(vals, string(v)); return true })
		var raw []json.RawMessage
		dec := json.NewDecoder(bytes.NewReader(b))
		if !json.Valid(b) {
			return // structure-only checks: no claim on invalid input
		}
		tok, err := dec.Token()
		if err != nil || tok != json.Delim('{') {
			if ok {
				t.Fatalf("Members accepted a non-object %s", b)
			}
			return
		}
		for dec.More() {
			if _, err := dec.Token(); err != nil { // key
				t.Fatal(err)
			}
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				t.Fatal(err)
			}
			raw = append(raw, v)
		}
		if !ok || n != len(raw) {
			t.Fatalf("Members on %s: ok=%v n=%d, encoding/json sees %d", b, ok, n, len(raw))
		}
		for i := range raw {
			var a, c any
			_ = json.Unmarshal(raw[i], &a)
			if err := json.Unmarshal([]byte(vals[i]), &c); err != nil {
				t.Fatalf("member %d raw %q is not the value: %v", i, vals[i], err)
			}
		}
	})
}

// TestNamedMembers: keys come unescaped, in order; a key that is not a
// valid string makes it fail.
func TestNamedMembers(t *testing.T) {
	var names []string
	if !NamedMembers([]byte(`{"a":1,"b\"c":2,"\u00e9":3}`), 0, func(n string, _ []byte) bool { names = append(names, n); return true }) {
		t.Fatal("refused a valid object")
	}
	if want := []string{"a", `b"c`, "é"}; !equalStrings(names, want) {
		t.Fatalf("names %q, want %q", names, want)
	}
	if NamedMembers([]byte(`{"a\q":1}`), 0, func(string, []byte) bool { return true }) {
		t.Fatal("accepted a key with a bad escape")
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
