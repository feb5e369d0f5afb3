package schemas

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// golden maps each golden vector to its schema and Go type.
var golden = []struct {
	file   string
	schema string
	newV   func() any
}{
	{"event_track.json", FileEvent, func() any { return new(Event) }},
	{"event_identify.json", FileEvent, func() any { return new(Event) }},
	{"event_alias.json", FileEvent, func() any { return new(Event) }},
	{"profile_update.json", FileProfileUpdate, func() any { return new(ProfileUpdate) }},
	{"profile_merged.json", FileProfileUpdate, func() any { return new(ProfileUpdate) }},
	{"segment_change.json", FileSegmentChange, func() any { return new(SegmentChange) }},
	{"deadletter.json", FileDeadLetter, func() any { return new(DeadLetter) }},
}

func TestGoldenVectorsMatchSchemaAndRoundTrip(t *testing.T) {
	for _, g := range golden {
		t.Run(g.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", "golden", g.file))
			if err != nil {
				t.Fatal(err)
			}
			if err := Validate(g.schema, raw); err != nil {
				t.Fatalf("golden vector fails its schema: %v", err)
			}
			v := g.newV()
			if err := json.Unmarshal(raw, v); err != nil {
				t.Fatalf("decode: %v", err)
			}
			out, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			if err := Validate(g.schema, out); err != nil {
				t.Fatalf("re-encoded value fails its schema: %v\n%s", err, out)
			}
			var want, got any
			_ = json.Unmarshal(raw, &want)
			_ = json.Unmarshal(out, &got)
			if !reflect.DeepEqual(want, got) {
				t.Fatalf("round trip changed the message\nwant %s\ngot  %s", raw, out)
			}
		})
	}
}

func TestInvalidVectorsAreRejected(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "invalid", "*.json"))
	if len(files) == 0 {
		t.Fatal("no invalid vectors")
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		schema := FileEvent
		if strings.HasPrefix(filepath.Base(f), "segment_change") {
			schema = FileSegmentChange
		}
		if err := Validate(schema, raw); err == nil {
			t.Errorf("%s: accepted by %s, want a validation error", f, schema)
		}
	}
}

func TestKeyRoundTrip(t *testing.T) {
	k := Key("demo", "user/with/slash")
	tenant, id, ok := SplitKey(k)
	if !ok || tenant != "demo" || id != "user/with/slash" {
		t.Fatalf("SplitKey(%q) = %q %q %v", k, tenant, id, ok)
	}
	if _, _, ok := SplitKey([]byte("noslash")); ok {
		t.Fatal("SplitKey accepted a key without a tenant")
	}
}
