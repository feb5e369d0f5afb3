package csvimport

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/user360/user360/schemas"
)

// The specialised encoder must write exactly what encoding/json writes.
func TestAppendEventMatchesEncodingJSON(t *testing.T) {
	ts := time.Date(2026, 11, 28, 18, 0, 0, 123456789, time.UTC)
	strs := []string{"", "plain", `quote " and \ backslash`, "ctl \x00\x01\x1f\t\n\r\b\f", "<html>&amp;", "Zoë 東京 🎉",
		"bad utf8 \xff\xfe end", "line\u2028sep\u2029", "multi\nline"}
	floats := []float64{0, 1, -1, 42, 3.14, 1e-7, 1e21, 123456789012, -0.000001, 1e20, 5e-324, 1.7976931348623157e308}
	for i, s := range strs {
		e := schemas.Event{
			Type: schemas.TypeIdentify, MessageID: "imp_" + s, UserID: s, Timestamp: ts, ReceivedAt: ts.Add(time.Second),
			Traits: map[string]any{
				"s": s, s + "k": "v", "n": floats[i%len(floats)], "f": floats, "b": true, "nil": nil,
				"list": []any{s, "x"}, "nested": map[string]any{"z": 1.5, "a": s},
			},
			Context: map[string]any{"user360": map[string]any{"mode": "merge", "importId": "j"}},
		}
		want, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		got := appendEvent(nil, &e)
		if !bytes.Equal(got, want) {
			t.Errorf("case %d\n got %s\nwant %s", i, got, want)
		}
	}
	// A generated-id event with few fields, and an empty trait set.
	e := schemas.Event{Type: schemas.TypeIdentify, MessageID: "m", UserID: "csv_1", Timestamp: ts, ReceivedAt: ts}
	want, _ := json.Marshal(e)
	if got := appendEvent(nil, &e); !bytes.Equal(got, want) {
		t.Errorf("minimal\n got %s\nwant %s", got, want)
	}
}

func BenchmarkAppendEvent(b *testing.B) {
	ts := time.Now()
	e := schemas.Event{Type: schemas.TypeIdentify, MessageID: "imp_0123456789abcdef0123456789abcdef", UserID: "user-42", Timestamp: ts, ReceivedAt: ts,
		Traits: map[string]any{"email": "user42@example.com", "phone": "+33612345678", "firstName": "Ada", "lastName": "Lovelace",
			"country": "FR", "city": "Paris", "tags": []any{"a", "b", "import:x"}, "emailOptin": true, "createdAt": "2024-05-01T10:00:00Z", "Favourite Color": "blue"},
		Context: map[string]any{"user360": map[string]any{"mode": "merge", "importId": "x", "source": "csv"}}}
	b.Run("appendEvent", func(b *testing.B) {
		buf := make([]byte, 0, 1024)
		for b.Loop() {
			buf = appendEvent(buf[:0], &e)
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			_, _ = json.Marshal(e)
		}
	})
}
