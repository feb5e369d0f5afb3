package ingest_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/user360/user360/ingest/propschema"
	"github.com/user360/user360/ingest/propschema/ingestadapter"
	"github.com/user360/user360/internal/testenv"
)

// rejectedFields returns index → field of a batch answer's "rejected".
func rejectedFields(t *testing.T, got reply) map[int]string {
	t.Helper()
	if got.status != 200 {
		t.Fatalf("status %d %v", got.status, got.body)
	}
	out := map[int]string{}
	rej, _ := got.body["rejected"].([]any)
	for _, r := range rej {
		m := r.(map[string]any)
		f, _ := m["field"].(string)
		out[int(m["index"].(float64))] = f + " " + m["code"].(string)
	}
	return out
}

// sameRejected compares rejectedFields' result with want.
func sameRejected(t *testing.T, rej, want map[int]string) {
	t.Helper()
	if len(rej) != len(want) {
		t.Fatalf("rejected %v, want %v", rej, want)
	}
	for i, w := range want {
		if rej[i] != w {
			t.Errorf("batch[%d]: %q, want %q", i, rej[i], w)
		}
	}
}

// looseEvent has fields of schemas.Event that encoding/json matches
// case-insensitively.
type looseEvent struct {
	Timestamp  string `json:"timestamp"`
	ReceivedAt string `json:"receivedAt"`
	MessageID  string `json:"messageId"`
	SentAt     string `json:"sentAt"`
	WriteKey   string `json:"writeKey"`
	UserID     string `json:"userId"`
}

// TestCaseFoldedKeysAreRejected: a key that encoding/json would take for a
// known field (case-insensitively, with Unicode simple folding) but the
// gateway would not is refused, so no consumer can read a message other
// than the one the gateway validated.
func TestCaseFoldedKeysAreRejected(t *testing.T) {
	h := newHarness(t, nil)
	got := h.do(t, call{path: "/v1/track", basic: writeKey,
		body: `{"type":"track","event":"x","userId":"alice","TYPE":"delete","UserId":"victim"}`})
	if got.status != 400 || got.body["field"] != "TYPE" || got.body["code"] != "ambiguous_field" {
		t.Fatalf("single call: %d %v", got.status, got.body)
	}

	keys := []string{"Timestamp", "ReceivedAt", "MessageId", "\u017fentAt" /* long s */, "write\u212aey" /* Kelvin sign */, "U\u017fERID"}
	var bad []string
	for _, k := range keys {
		// The test's premise: encoding/json takes the key for a field.
		var loose looseEvent
		if err := json.Unmarshal([]byte(`{"`+k+`":"v"}`), &loose); err != nil || loose == (looseEvent{}) {
			t.Fatalf("encoding/json does not match %q to a field (%v)", k, err)
		}
		bad = append(bad, `{"type":"track","event":"x","userId":"a","`+k+`":"2026-11-28T10:00:00Z"}`)
	}
	good := `{"type":"track","event":"x","userId":"a","properties":{"TYPE":"p","UserId":"q"},"userIdentity":"z"}`
	body := `{"batch":[` + good + `,` + strings.Join(bad, ",") + `]}`
	rej := rejectedFields(t, h.do(t, call{path: "/v1/batch", body: body, basic: writeKey}))
	want := map[int]string{1: "Timestamp", 2: "ReceivedAt", 3: "MessageId", 4: "\u017fentAt", 5: "write\u212aey", 6: "U\u017fERID"}
	for i, f := range want {
		want[i] = f + " ambiguous_field"
	}
	sameRejected(t, rej, want)
	h.read(t, h.topics.Events, 1)

	// The batch's own keys: the gateway reads "context", never "Context".
	got = h.do(t, call{path: "/v1/batch", basic: writeKey,
		body: `{"Context":{"x":1},"batch":[{"type":"track","event":"x","userId":"a"}]}`})
	if got.status != 400 || got.body["field"] != "Context" || got.body["code"] != "ambiguous_field" {
		t.Fatalf("batch-level key: %d %v", got.status, got.body)
	}
}

// TestImportMarksAreRefusedFromTracking: the context marks of imports are
// not accepted from write keys, in a message's context or the batch's.
func TestImportMarksAreRefusedFromTracking(t *testing.T) {
	h := newHarness(t, nil)
	got := h.do(t, call{path: "/v1/identify", basic: writeKey,
		body: `{"userId":"42","traits":{"plan":"free"},"context":{"user360Replace":true}}`})
	if got.status != 400 || got.body["field"] != "context.user360Replace" || got.body["code"] != "reserved_field" ||
		!strings.Contains(got.body["error"].(string), "reserved for imports") {
		t.Fatalf("single call: %d %v", got.status, got.body)
	}
	body := `{"batch":[
		{"type":"identify","userId":"1","traits":{"a":1}},
		{"type":"identify","userId":"1","context":{"user360ProfileId":"p-9"}},
		{"type":"identify","userId":"1","context":{"ip":"1.2.3.4","user360":{"mode":"replace","source":"csv"}}},
		{"type":"track","userId":"1","event":"E","context":{"User360Replace":true}}]}`
	rej := rejectedFields(t, h.do(t, call{path: "/v1/batch", body: body, basic: writeKey}))
	want := map[int]string{1: "context.user360ProfileId reserved_field", 2: "context.user360 reserved_field", 3: "context.User360Replace reserved_field"}
	sameRejected(t, rej, want)
	// From the batch-level context, merged into every message.
	body = `{"context":{"user360Replace":true},"batch":[{"type":"identify","userId":"1"},{"type":"track","userId":"1","event":"E","context":{"ip":"1.2.3.4"}}]}`
	rej = rejectedFields(t, h.do(t, call{path: "/v1/batch", body: body, basic: writeKey}))
	if len(rej) != 2 || rej[0] != "context.user360Replace reserved_field" || rej[1] != rej[0] {
		t.Fatalf("batch-level context: rejected %v", rej)
	}
	h.read(t, h.topics.Events, 1)
}

// TestDroppedTraitsLeaveTheOthersByteIdentical: when the property schema
// drops a trait, the kept ones keep their bytes (no float64 rounding, key
// order, HTML escaping); a coerced one is written as coerced.
func TestDroppedTraitsLeaveTheOthersByteIdentical(t *testing.T) {
	k, _ := testenv.Kafka(t)
	store := testenv.Defs(t, k.Addrs(), "user360.definitions.traits-bytes-test")
	for _, p := range []propschema.Property{{Name: "age", Type: propschema.TypeNumber}, {Name: "vip", Type: propschema.TypeBoolean}} {
		if err := store.Put(context.Background(), propschema.KindProperty, "demo", p.Name, p); err != nil {
			t.Fatal(err)
		}
	}
	h := newHarnessWith(t, nil, ingestadapter.Traits{V: propschema.NewValidator(store)})
	traits := `{"zeta":9007199254740993,"age":"old","html":"<b>&amp;</b>","vip":"true","alpha":{"n":1.50,"b":[1e2]}}`
	wantTraits := `{"zeta":9007199254740993,"html":"<b>&amp;</b>","vip":true,"alpha":{"n":1.50,"b":[1e2]}}`
	got := h.do(t, call{path: "/v1/identify", basic: writeKey, body: `{"userId":"42","traits":` + traits + `}`})
	if got.status != 200 {
		t.Fatalf("status %d %v", got.status, got.body)
	}
	r := h.read(t, h.topics.Events, 1)[0]
	decodeEvent(t, r)
	if !bytes.Contains(r.Value, []byte(`"traits":`+wantTraits)) {
		t.Fatalf("traits changed:\n%s\nwant traits %s", r.Value, wantTraits)
	}
	h.read(t, h.topics.DeadLetter, 1)
}

// TestTimestampsOutOfYearRangeAreRejected: a time whose UTC year leaves
// 0000-9999 (through its offset) cannot be written as RFC 3339; the message
// is refused naming the field. A batch-level sentAt that is not a valid
// timestamp is ignored (no skew correction) instead of failing the batch.
func TestTimestampsOutOfYearRangeAreRejected(t *testing.T) {
	h := newHarness(t, nil)
	cases := []struct{ body, field string }{
		{`{"userId":"1","event":"E","timestamp":"9999-12-31T23:59:59-23:59"}`, "timestamp"},
		{`{"userId":"1","event":"E","originalTimestamp":"0000-01-01T00:00:00+01:00"}`, "originalTimestamp"},
		{`{"userId":"1","event":"E","timestamp":"2026-11-28T10:00:00Z","sentAt":"9999-12-31T23:00:00-01:00"}`, "sentAt"},
	}
	for _, c := range cases {
		got := h.do(t, call{path: "/v1/track", body: c.body, basic: writeKey})
		if got.status != 400 || got.body["field"] != c.field || got.body["code"] != "invalid_timestamp" {
			t.Errorf("%s: %d %v, want 400 naming %s", c.body, got.status, got.body, c.field)
		}
	}
	edges := `{"batch":[
		{"type":"track","userId":"1","event":"E","timestamp":"9999-12-31T23:59:59+01:00"},
		{"type":"track","userId":"1","event":"E","timestamp":"0000-01-01T00:00:00-01:00"}]}`
	if got := h.do(t, call{path: "/v1/batch", body: edges, basic: writeKey}); got.status != 200 || got.body["rejected"] != nil {
		t.Fatalf("years 0000 and 9999 in UTC: %d %v", got.status, got.body)
	}
	for _, sentAt := range []string{`"10000-01-01T00:00:00Z"`, `"9999-12-31T23:59:59-23:59"`, `"soon"`, `5`} {
		body := `{"sentAt":` + sentAt + `,"batch":[{"type":"track","userId":"1","event":"E","timestamp":"2026-11-28T09:00:00Z"}]}`
		if got := h.do(t, call{path: "/v1/batch", body: body, basic: writeKey}); got.status != 200 || got.body["rejected"] != nil {
			t.Fatalf("batch sentAt %s: %d %v", sentAt, got.status, got.body)
		}
	}
	recs := h.read(t, h.topics.Events, 6)
	for _, r := range recs[2:] {
		if ev := decodeEvent(t, r); ev["timestamp"] != "2026-11-28T09:00:00Z" || ev["sentAt"] != nil {
			t.Errorf("an invalid batch sentAt was applied: %v", ev)
		}
	}
}

// TestCompressedBodyIsCapped: the body as sent is capped too, so a stream
// of empty gzip members (which decodes to nothing) is not read to its end.
func TestCompressedBodyIsCapped(t *testing.T) {
	h := newHarness(t, nil)
	var member bytes.Buffer
	zw := gzip.NewWriter(&member)
	_ = zw.Close()
	body := bytes.Repeat(member.Bytes(), (600<<10)/member.Len())
	got := h.do(t, call{path: "/v1/batch", body: string(body), encoding: "gzip", basic: writeKey})
	if got.status != 413 || got.body["code"] != "too_large" || !strings.Contains(got.body["error"].(string), "compressed") {
		t.Fatalf("600 KB of empty gzip members: %d %v", got.status, got.body)
	}
	// A gzipped batch that decodes within the limit still passes.
	if got := h.do(t, call{path: "/v1/batch", gzip: true, basic: writeKey,
		body: `{"batch":[{"type":"track","userId":"1","event":"E"}]}`}); got.status != 200 {
		t.Fatalf("small gzipped batch: %d %v", got.status, got.body)
	}
}

// TestIDsMustBeUTF8: an id with invalid UTF-8 would key its record with the
// raw bytes while the value carries U+FFFD, so it is refused.
func TestIDsMustBeUTF8(t *testing.T) {
	h := newHarness(t, nil)
	got := h.do(t, call{path: "/v1/track", basic: writeKey, body: "{\"userId\":\"a\xff\",\"event\":\"E\"}"})
	if got.status != 400 || got.body["field"] != "userId" || got.body["code"] != "invalid_value" {
		t.Fatalf("single call: %d %v", got.status, got.body)
	}
	body := "{\"batch\":[" +
		"{\"type\":\"track\",\"anonymousId\":\"\xfe\xff\",\"event\":\"E\"}," +
		"{\"type\":\"track\",\"anonymousId\":\"caf\xc3\xa9\",\"event\":\"E\"}," +
		"{\"type\":\"alias\",\"userId\":\"u\",\"previousId\":\"\xc3\"}," +
		"{\"type\":\"group\",\"userId\":\"u\",\"groupId\":\"g\x80\"}]}"
	rej := rejectedFields(t, h.do(t, call{path: "/v1/batch", body: body, basic: writeKey}))
	want := map[int]string{0: "anonymousId invalid_value", 2: "previousId invalid_value", 3: "groupId invalid_value"}
	sameRejected(t, rej, want)
	r := h.read(t, h.topics.Events, 1)[0]
	if string(r.Key) != "demo/café" {
		t.Errorf("key %q", r.Key)
	}
}

// TestBatchContextCannotAmplify: a batch-level context is merged into every
// message, so its bytes count against each message's limit and the
// request's output is bounded: a 500 KiB request cannot write hundreds of
// megabytes to the log.
func TestBatchContextCannotAmplify(t *testing.T) {
	h := newHarness(t, nil)
	batch := func(ctxBytes, n int) string {
		var b strings.Builder
		b.WriteString(`{"context":{"pad":"` + strings.Repeat("x", ctxBytes) + `"},"batch":[`)
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`{"type":"track","userId":"u","event":"E"}`)
		}
		b.WriteString(`]}`)
		return b.String()
	}
	// a context over the message limit: every message refused
	got := h.do(t, call{path: "/v1/batch", body: batch(40<<10, 3), basic: writeKey})
	if rej := rejectedFields(t, got); len(rej) != 3 || rej[0] != " too_large" {
		t.Fatalf("40 KiB context: %v", rej)
	}
	// 20 KiB of context copied into 200 messages (4 MB): the copies stop
	// at the request's limit (500 KiB), after 24 of them
	rej := rejectedFields(t, h.do(t, call{path: "/v1/batch", body: batch(20<<10, 200), basic: writeKey}))
	if len(rej) != 176 || rej[23] != "" || rej[24] != " too_large" || rej[199] != " too_large" {
		t.Fatalf("%d of 200 refused: 24th %q, 25th %q, last %q", len(rej), rej[23], rej[24], rej[199])
	}
	// a small batch context is copied into as many messages as a batch holds
	if rej := rejectedFields(t, h.do(t, call{path: "/v1/batch", body: batch(100, 2000), basic: writeKey})); len(rej) != 0 {
		t.Fatalf("100 B of context, 2,000 messages: %d refused", len(rej))
	}
}
