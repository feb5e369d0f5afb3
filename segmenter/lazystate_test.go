package segmenter

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
)

// A state read lazily (memberships indexed, not decoded) answers lookups,
// decodes, deadlines and re-encodes exactly as the eagerly decoded state.
func TestLazyMembershipsAgreeWithDecode(t *testing.T) {
	st := State{UserID: "u", Conds: map[string][]int64{"c": {1, 2}}, Offsets: map[string]int64{"0": 9}, OutSeq: 3}
	st.Segs = map[string]*member{}
	for i := 0; i < 40; i++ {
		st.Segs[fmt.Sprintf("seg%03d", i*3)] = &member{In: i%2 == 0, Seq: int64(i % 5), Due: int64((i * 7919) % 13)}
	}
	blob := encodeState(&st)
	var eager State
	if err := decodeState(blob, &eager); err != nil {
		t.Fatal(err)
	}
	p := &pstate{}
	ds, err := decodeStateSpan(blob, &p.st, true)
	if err != nil || !ds.lazy || p.st.Segs != nil {
		t.Fatalf("lazy decode: %+v %v", ds, err)
	}
	p.segsRaw, p.segsDue, p.segsIx, p.segsLazy = ds.segs, ds.due, ds.ix, ds.lazy
	for i := -1; i < 125; i++ {
		id := fmt.Sprintf("seg%03d", i)
		got, ok := p.lookup(id)
		want, wok := eager.Segs[id]
		if ok != wok || (ok && got != *want) {
			t.Fatalf("%s: got %+v %v, want %+v %v", id, got, ok, want, wok)
		}
	}
	if d := p.nextDue(); d != (&pstate{st: eager}).nextDue() {
		t.Fatalf("nextDue %d", d)
	}
	if b, _ := encodeStateWith(&p.st, p.segsRaw); string(b) != string(blob) {
		t.Fatal("re-encoding an unchanged lazy state differs")
	}
	if !reflect.DeepEqual(p.segs(), eager.Segs) {
		t.Fatal("decoded memberships differ")
	}
	p.st.Traits = nil
	if !reflect.DeepEqual(p.st, eager) {
		t.Fatalf("state differs:\n got %+v\nwant %+v", p.st, eager)
	}
	// Truncated input is refused by the lazy reader too.
	for i := 1; i < len(blob); i++ {
		var s State
		if _, err := decodeStateSpan(blob[:i], &s, true); err == nil {
			t.Fatalf("truncated at %d: no error", i)
		}
	}
}

func TestFindFieldAgreesWithRawFields(t *testing.T) {
	docs := []string{
		`{}`,
		` { "a" : 1 , "b":"x\"y}", "c":[1,{"d":"]"}], "e":{"f":[true,null]}, "g":-1.5e3, "h":true, "i":false, "j":null } `,
		`{"nested":{"a":{"b":{"c":"}"}}},"list":[],"obj":{},"a":"last"}`,
		`{"a":1,"a":2}`,
	}
	for _, d := range docs {
		fields, ok := rawFields([]byte(d))
		if !ok {
			t.Fatalf("%s: not indexed", d)
		}
		var all map[string]any
		if err := json.Unmarshal([]byte(d), &all); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"a", "b", "c", "e", "g", "j", "nested", "missing", ""} {
			v, found, ok := findField([]byte(d), name)
			want, wfound := fields[name]
			if !ok || found != wfound || string(v) != string(want) {
				t.Fatalf("%s %q: got %q %v %v, want %q %v", d, name, v, found, ok, want, wfound)
			}
		}
	}
	for _, bad := range []string{``, `[]`, `{"a":1`, `{"a" 1}`, `{"a":}`, `{a:1}`, `{"a":1,}`, `{"k\u00e9y":1}`} {
		if _, _, ok := findField([]byte(bad), "a"); ok {
			t.Fatalf("%q accepted", bad)
		}
	}
}
