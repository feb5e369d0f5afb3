package segmenter

import (
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzDecodeUpdate: the member-by-member decoder and encoding/json agree
// on every input (same update, or both refuse it).
func FuzzDecodeUpdate(f *testing.F) {
	for _, s := range []string{
		`{"type":"profile.updated","messageId":"m1","tenant":"t","profileId":"p1","userId":"42","identities":[{"type":"user_id","value":"42"}],"event":{"type":"track","name":"Paid","messageId":"e1","properties":{"revenue":10.5,"items":[1,2]},"timestamp":"2026-11-28T12:00:00Z"},"changes":{"plan":{"old":null,"new":"pro"}},"traits":{"plan":"pro","tags":["a"]},"merge":{"survivor":"p1","absorbed":["p2"]},"timestamp":"2026-11-28T12:00:00Z"}`,
		`{"type":"user.created","messageId":"m2","tenant":"t","profileId":"p1","identities":[],"traits":{"a\"b":"c\\d"}}`,
		`{"Type":"profile.updated","tenant":"t","profileId":"p"}`,
		`{"tenant":"t","profileId":"p","userId":null,"event":null,"changes":null,"traits":null,"merge":null}`,
		`{"tenant":"t","profileId":"p","traits":[1]}`,
		`{"tenant":5,"profileId":"p"}`,
		`{"tenant":"t\u00e9","profileId":"p","extra":1}`,
		`{"tenant":"t","profileId":"p","changes":{"a":1,"a":2}}`,
		`{"tenant":"t","profileId":"p","event":{"timestamp":"yesterday"}}`,
		`{"tenant":"t","profileId":"p","event":{"name":"x","properties":{"big":1e999,"s":"1e5"}}}`,
		`{"tenant":"t","profileId":"p","event":{"name":"x","properties":{"a":[true,false,null,-1.5]},"properties":{}}}`,
		`{"tenant":"t","profileId":"p","event":{"name":"x","properties":"text"}}`,
		`{"tenant":"t","tenant":"u","profileId":"p"}`,
		`{"tenant":"t","profileId":"p"`, `[]`, `null`, ``, `{}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var w updateWire
		slowErr := json.Unmarshal(b, &w)
		fast, ok := decodeUpdateFast(b)
		if !ok {
			return // decodeUpdate falls back to encoding/json
		}
		if slowErr != nil {
			t.Fatalf("fast path accepted what encoding/json refuses (%v): %s", slowErr, b)
		}
		// the fast path leaves the event's properties raw: decoded here,
		// as eventProperties does
		if fast.eventProps != nil {
			if err := json.Unmarshal(fast.eventProps, &fast.Event.Properties); err != nil {
				t.Fatalf("raw properties that do not decode (%v): %s", err, b)
			}
			fast.eventProps = nil
		}
		// RawMessage members are compared as the bytes they hold
		if !reflect.DeepEqual(fast, w) {
			t.Fatalf("decoders differ on %s:\nfast %+v\nslow %+v", b, fast, w)
		}
	})
}

// BenchmarkDecodeUpdate: one profile-updates record as identity writes it
// (identities, an event with properties, changes, traits).
func BenchmarkDecodeUpdate(b *testing.B) {
	rec := []byte(`{"type":"profile.updated","messageId":"3f1c2a9e-1d2b-4c1f-9d7e-000000000001","tenant":"acme","profileId":"p6a1f0c2b9e3d4a51","userId":"user-42","identities":[{"type":"user_id","value":"user-42"},{"type":"anonymous_id","value":"3f1c2a9e-1d2b-4c1f-9d7e-000000000042"},{"type":"email","value":"asha@example.com"}],"event":{"type":"track","name":"Order Completed","messageId":"e-1","properties":{"revenue":129.5,"currency":"INR","items":3},"timestamp":"2026-11-28T12:00:00Z"},"changes":{"plan":{"old":"\"free\"","new":"\"pro\""}},"traits":{"country":"IN","email":"asha@example.com","firstName":"Asha","plan":"pro"},"timestamp":"2026-11-28T12:00:00Z"}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeUpdate(rec); err != nil {
			b.Fatal(err)
		}
	}
}
