package schemas

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestEventKeysMatchExactly: a key that differs from a known field only in
// case (or by a Unicode letter that folds to one, as encoding/json folds
// them) is an extra member and never overrides the field, whatever its
// place; the exact key still wins over nothing.
func TestEventKeysMatchExactly(t *testing.T) {
	in := `{"type":"track","TYPE":"delete","userId":"alice","UserId":"victim","Timestamp":"1999-01-01T00:00:00Z",` +
		`"timestamp":"2026-11-28T10:00:00Z","messageId":"m1","MESSAGEID":"m2","ſype":"x","receivedAt":"2026-11-28T10:00:01Z","ReceivedAt":"2001-01-01T00:00:00Z"}`
	var e Event
	if err := json.Unmarshal([]byte(in), &e); err != nil {
		t.Fatal(err)
	}
	if e.Type != "track" || e.UserID != "alice" || e.MessageID != "m1" ||
		e.Timestamp.Year() != 2026 || e.ReceivedAt.Year() != 2026 {
		t.Fatalf("a case-folded key changed a field: %+v", e)
	}
	for _, k := range []string{"TYPE", "UserId", "Timestamp", "MESSAGEID", "ſype", "ReceivedAt"} {
		if _, ok := e.Extra[k]; !ok {
			t.Fatalf("%s not kept in Extra: %v", k, e.Extra)
		}
	}
	// only a case-folded key: the field stays empty
	var f Event
	if err := UnmarshalEventFields([]byte(`{"TYPE":"delete","Userid":"victim"}`), &f); err != nil || f.Type != "" || f.UserID != "" {
		t.Fatalf("got %+v, %v", f, err)
	}
	// a re-encoded event keeps the extra members and the exact fields
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var g Event
	if err := json.Unmarshal(b, &g); err != nil || g.Type != "track" || g.UserID != "alice" || !strings.Contains(string(b), `"TYPE":"delete"`) {
		t.Fatalf("round trip: %s %+v %v", b, g, err)
	}
}

// TestEventDecodeErrors: errors are encoding/json's for the event, and a
// failed decode leaves a zero event.
func TestEventDecodeErrors(t *testing.T) {
	for _, in := range []string{`[]`, `"x"`, `{"type":1}`, `{"timestamp":"bad"}`, `{"type":"track"`, `{"TYPE":1,"type":2}`} {
		var e Event
		e.Type = "old"
		err := json.Unmarshal([]byte(in), &e)
		if err == nil {
			t.Fatalf("%s: no error", in)
		}
		var f Event
		if err := UnmarshalEventFields([]byte(in), &f); err == nil {
			t.Fatalf("%s: UnmarshalEventFields: no error", in)
		}
	}
	// a case-folded key of the wrong type is not the field's: no error
	var e Event
	if err := json.Unmarshal([]byte(`{"TYPE":1,"type":"track"}`), &e); err != nil || e.Type != "track" {
		t.Fatalf("got %+v, %v", e, err)
	}
	var n Event
	if err := json.Unmarshal([]byte(`null`), &n); err != nil {
		t.Fatal(err)
	}
}

// TestValidEventTime: a time is valid when it can be written as it is and
// in UTC; an offset can carry the year 9999 into 10000 in UTC.
func TestValidEventTime(t *testing.T) {
	for s, want := range map[string]bool{
		"2026-11-28T10:00:00Z":      true,
		"9999-12-31T23:59:59Z":      true,
		"9999-12-31T23:59:59+01:00": true,
		"9999-12-31T23:59:59-01:00": false,
		"0000-01-01T00:00:00Z":      true,
		"0000-01-01T00:00:00+01:00": false,
	} {
		ts, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		if got := ValidEventTime(ts); got != want {
			t.Errorf("%s: %v", s, got)
		}
	}
}
