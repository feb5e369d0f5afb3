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
		// RawMessage members are compared as the bytes they hold
		if !reflect.DeepEqual(fast, w) {
			t.Fatalf("decoders differ on %s:\nfast %+v\nslow %+v", b, fast, w)
		}
	})
}
