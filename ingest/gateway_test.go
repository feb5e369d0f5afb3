package ingest_test

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/ingest"
	"github.com/user360/user360/internal/config"
	"github.com/user360/user360/internal/httpx"
	"github.com/user360/user360/internal/kafka"
	"github.com/user360/user360/internal/testenv"
	"github.com/user360/user360/schemas"
)

const (
	writeKey = "wk_test"
	apiKey   = "ak_test"
)

// harness is a gateway on a real embedded broker.
type harness struct {
	url     string
	brokers []string
	topics  schemas.Topics
	broker  *kafka.Embedded
	now     time.Time
}

func newHarness(t *testing.T, mutate func(*ingest.Config)) *harness {
	t.Helper()
	return newHarnessWith(t, mutate, nil)
}

// newHarnessWith is newHarness with a trait validator (the property schema).
func newHarnessWith(t *testing.T, mutate func(*ingest.Config), traits ingest.TraitValidator) *harness {
	t.Helper()
	k, topics := testenv.Kafka(t)
	tenants, err := config.NewTenants([]config.Tenant{{ID: "demo", WriteKeys: []string{writeKey}, APIKeys: []string{apiKey}}})
	if err != nil {
		t.Fatal(err)
	}
	cl := testenv.Client(t, k.Addrs())
	h := &harness{brokers: k.Addrs(), topics: topics, broker: k, now: time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)}
	cfg := ingest.DefaultConfig()
	cfg.ProduceTimeout = 2 * time.Second
	if mutate != nil {
		mutate(&cfg)
	}
	g, err := ingest.New(cfg, ingest.Deps{
		Tenants:   tenants,
		Publisher: ingest.NewPublisher(cl, topics, "gateway"),
		Log:       zerolog.Nop(),
		Clock:     func() time.Time { return h.now },
		Traits:    traits,
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	g.Routes(mux)
	srv := httptest.NewServer(httpx.CleanPath(mux))
	t.Cleanup(srv.Close)
	h.url = srv.URL
	return h
}

type call struct {
	path     string
	body     string
	basic    string // write key sent as Basic user
	gzip     bool
	ctype    string
	encoding string
}

type reply struct {
	status int
	body   map[string]any
	header http.Header
}

func (h *harness) do(t *testing.T, c call) reply {
	t.Helper()
	var body io.Reader = strings.NewReader(c.body)
	if c.gzip {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		_, _ = zw.Write([]byte(c.body))
		_ = zw.Close()
		body = &b
	}
	req, _ := http.NewRequest(http.MethodPost, h.url+c.path, body)
	ct := c.ctype
	if ct == "" {
		ct = "application/json"
	}
	req.Header.Set("Content-Type", ct)
	if c.gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	if c.encoding != "" {
		req.Header.Set("Content-Encoding", c.encoding)
	}
	if c.basic != "" {
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(c.basic+":")))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return reply{status: resp.StatusCode, body: m, header: resp.Header}
}

// read returns the records of a topic, waiting until want arrived.
func (h *harness) read(t *testing.T, topic string, want int) []*kgo.Record {
	t.Helper()
	// A generous wait: CI machines may be loaded; the count is what is checked.
	recs := testenv.ReadAll(t, h.brokers, topic, want, 20*time.Second)
	if len(recs) != want {
		t.Fatalf("%s: got %d records, want %d", topic, len(recs), want)
	}
	return recs
}

func decodeEvent(t *testing.T, r *kgo.Record) map[string]any {
	t.Helper()
	if err := schemas.Validate(schemas.FileEvent, r.Value); err != nil {
		t.Fatalf("record fails the event schema: %v\n%s", err, r.Value)
	}
	var m map[string]any
	if err := json.Unmarshal(r.Value, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func header(r *kgo.Record, k string) string {
	for _, h := range r.Headers {
		if h.Key == k {
			return string(h.Value)
		}
	}
	return ""
}

func TestAuth(t *testing.T) {
	h := newHarness(t, nil)
	track := `{"userId":"42","event":"Signed Up"}`
	cases := []struct {
		name string
		c    call
		want int
	}{
		{"basic auth", call{path: "/v1/track", body: track, basic: writeKey}, 200},
		{"key in body", call{path: "/v1/track", body: `{"writeKey":"wk_test","userId":"42","event":"E"}`}, 200},
		{"key in batch body", call{path: "/v1/batch", body: `{"writeKey":"wk_test","batch":[{"type":"track","userId":"1","event":"E"}]}`}, 200},
		{"wrong basic key", call{path: "/v1/track", body: track, basic: "nope"}, 401},
		{"wrong body key", call{path: "/v1/track", body: `{"writeKey":"nope","userId":"42","event":"E"}`}, 401},
		{"no key", call{path: "/v1/track", body: track}, 401},
		{"api key cannot write", call{path: "/v1/track", body: track, basic: apiKey}, 401},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := h.do(t, c.c); got.status != c.want {
				t.Fatalf("status %d, want %d (%v)", got.status, c.want, got.body)
			}
		})
	}
	h.read(t, h.topics.Events, 3)
}

func TestEveryCallType(t *testing.T) {
	h := newHarness(t, nil)
	cases := map[string]string{
		"identify": `{"userId":"42","traits":{"email":"a@b.com"}}`,
		"track":    `{"userId":"42","event":"Order Completed","properties":{"revenue":10}}`,
		"page":     `{"anonymousId":"a1","name":"Home"}`,
		"screen":   `{"anonymousId":"a1","name":"Home"}`,
		"group":    `{"userId":"42","groupId":"g1","traits":{"plan":"pro"}}`,
		"alias":    `{"userId":"42","previousId":"a1"}`,
	}
	order := []string{"identify", "track", "page", "screen", "group", "alias"}
	for _, typ := range order {
		if got := h.do(t, call{path: "/v1/" + typ, body: cases[typ], basic: writeKey}); got.status != 200 {
			t.Fatalf("%s: status %d %v", typ, got.status, got.body)
		}
	}
	recs := h.read(t, h.topics.Events, len(order))
	seen := map[string]bool{}
	for _, r := range recs {
		m := decodeEvent(t, r)
		seen[m["type"].(string)] = true
		if m["messageId"] == "" || m["receivedAt"] != h.now.Format(time.RFC3339Nano) {
			t.Errorf("messageId/receivedAt not set: %v", m)
		}
		if header(r, schemas.HeaderTenant) != "demo" || header(r, schemas.HeaderSchema) != schemas.SchemaEvent {
			t.Errorf("headers %v", r.Headers)
		}
		wantKey := "demo/42"
		if m["userId"] == nil {
			wantKey = "demo/a1"
		}
		if string(r.Key) != wantKey {
			t.Errorf("key %q, want %q", r.Key, wantKey)
		}
	}
	for _, typ := range order {
		if !seen[typ] {
			t.Errorf("no %s record", typ)
		}
	}
}

func TestInvalidSingleCallsAre400AndDeadLettered(t *testing.T) {
	h := newHarness(t, nil)
	cases := []struct {
		path, body, field string
	}{
		{"/v1/track", `{"userId":"42"}`, "event"},
		{"/v1/identify", `{"traits":{"a":1}}`, "userId"},
		{"/v1/alias", `{"userId":"42"}`, "previousId"},
		{"/v1/group", `{"userId":"42"}`, "groupId"},
		{"/v1/identify", `{"userId":"42","traits":"nope"}`, "traits"},
		{"/v1/track", `{"userId":{"a":1},"event":"E"}`, "userId"},
		{"/v1/track", `{"userId":"1","event":"E","timestamp":"yesterday"}`, "timestamp"},
	}
	for _, c := range cases {
		got := h.do(t, call{path: c.path, body: c.body, basic: writeKey})
		if got.status != 400 || got.body["field"] != c.field || got.body["error"] == "" {
			t.Errorf("%s %s: %d %v, want 400 naming %q", c.path, c.body, got.status, got.body, c.field)
		}
	}
	dls := h.read(t, h.topics.DeadLetter, len(cases))
	for _, r := range dls {
		if err := schemas.Validate(schemas.FileDeadLetter, r.Value); err != nil {
			t.Errorf("dead letter fails its schema: %v %s", err, r.Value)
		}
	}
}

func TestBatchRejectsOnlyTheInvalidMessages(t *testing.T) {
	h := newHarness(t, nil)
	big := strings.Repeat("x", 33<<10)
	body := `{"batch":[
		{"type":"track","userId":"1","event":"Good"},
		{"type":"track","event":"No ids"},
		{"type":"track","userId":"1"},
		{"type":"alias","userId":"1"},
		{"type":"identify","userId":"1","traits":[1,2]},
		{"type":"track","userId":"1","event":"Big","properties":{"p":"` + big + `"}},
		"not an object",
		{"type":"launch","userId":"1"},
		{"type":"identify","userId":"2","traits":{"plan":"pro"}}
	]}`
	got := h.do(t, call{path: "/v1/batch", body: body, basic: writeKey})
	if got.status != 200 || got.body["success"] != true {
		t.Fatalf("status %d %v", got.status, got.body)
	}
	rej, _ := got.body["rejected"].([]any)
	wantIdx := []float64{1, 2, 3, 4, 5, 6, 7}
	if len(rej) != len(wantIdx) {
		t.Fatalf("rejected %v", rej)
	}
	for i, r := range rej {
		m := r.(map[string]any)
		if m["index"] != wantIdx[i] || m["error"] == "" {
			t.Errorf("rejected[%d] = %v", i, m)
		}
	}
	events := h.read(t, h.topics.Events, 2)
	if decodeEvent(t, events[0])["event"] != "Good" && decodeEvent(t, events[1])["event"] != "Good" {
		t.Error("the valid track was not accepted")
	}
	dls := h.read(t, h.topics.DeadLetter, len(wantIdx))
	fields := map[string]bool{}
	for _, r := range dls {
		var d schemas.DeadLetter
		if err := json.Unmarshal(r.Value, &d); err != nil {
			t.Fatal(err)
		}
		if d.Index == nil || d.Reason == "" || d.Stage != "ingest" {
			t.Errorf("dead letter %s", r.Value)
		}
		fields[d.Field] = true
	}
	for _, f := range []string{"batch[1].userId", "batch[2].event", "batch[3].previousId", "batch[4].traits", "batch[7].type"} {
		if !fields[f] {
			t.Errorf("no dead letter names %s (have %v)", f, fields)
		}
	}
}

func TestSizeLimits(t *testing.T) {
	h := newHarness(t, nil)
	big := strings.Repeat("x", 33<<10)
	if got := h.do(t, call{path: "/v1/track", body: `{"userId":"1","event":"E","properties":{"p":"` + big + `"}}`, basic: writeKey}); got.status != 413 || got.body["error"] == nil {
		t.Errorf("message over 32 KB: %d %v", got.status, got.body)
	}
	var msgs []string
	for i := 0; i < 20; i++ {
		msgs = append(msgs, `{"type":"track","userId":"1","event":"E","properties":{"p":"`+strings.Repeat("y", 30<<10)+`"}}`)
	}
	huge := `{"batch":[` + strings.Join(msgs, ",") + `]}`
	if got := h.do(t, call{path: "/v1/batch", body: huge, basic: writeKey}); got.status != 413 {
		t.Errorf("request over 500 KB: %d %v", got.status, got.body)
	}
	// The limit applies to the decoded body: a gzip bomb is refused too.
	if got := h.do(t, call{path: "/v1/batch", body: huge, basic: writeKey, gzip: true}); got.status != 413 {
		t.Errorf("gzipped request over 500 KB decoded: %d %v", got.status, got.body)
	}
	// Just under the limits is fine.
	ok := `{"batch":[` + strings.Join(msgs[:15], ",") + `]}`
	if got := h.do(t, call{path: "/v1/batch", body: ok, basic: writeKey}); got.status != 200 || got.body["rejected"] != nil {
		t.Errorf("460 KB batch of 30 KB messages: %d %v", got.status, got.body)
	}
}

func TestBodyEncodings(t *testing.T) {
	h := newHarness(t, nil)
	batch := `{"batch":[{"type":"track","userId":"1","event":"E"}]}`
	cases := []struct {
		name string
		c    call
		want int
	}{
		{"gzip json", call{path: "/v1/batch", body: batch, gzip: true}, 200},
		{"gzip labelled as a form (RudderStack)", call{path: "/v1/batch", body: batch, gzip: true, ctype: "application/x-www-form-urlencoded"}, 200},
		{"corrupt gzip", call{path: "/v1/batch", body: batch, encoding: "gzip"}, 400},
		{"unknown encoding", call{path: "/v1/batch", body: batch, encoding: "br"}, 415},
		{"malformed json", call{path: "/v1/batch", body: `{"batch":[`}, 400},
		{"batch not an array", call{path: "/v1/batch", body: `{"batch":{}}`}, 400},
		{"not an object", call{path: "/v1/track", body: `[1,2]`}, 400},
		{"double slash path", call{path: "//v1/batch", body: batch}, 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.c.basic = writeKey
			if got := h.do(t, c.c); got.status != c.want {
				t.Fatalf("status %d, want %d (%v)", got.status, c.want, got.body)
			}
		})
	}
}

func TestClockSkewAndTimestamps(t *testing.T) {
	h := newHarness(t, nil)
	now := h.now
	cases := []struct {
		name string
		msg  string
		want time.Time
	}{
		{"device clock 1h ahead is corrected",
			`{"type":"track","userId":"1","event":"E","timestamp":"2026-11-28T10:59:50Z","sentAt":"2026-11-28T11:00:00Z"}`,
			now.Add(-10 * time.Second)},
		{"device clock 2s behind is corrected",
			`{"type":"track","userId":"1","event":"E","timestamp":"2026-11-28T09:59:50Z","sentAt":"2026-11-28T09:59:58Z"}`,
			now.Add(-8 * time.Second)},
		{"stale sentAt of a retry is not applied",
			`{"type":"track","userId":"1","event":"E","timestamp":"2026-11-28T09:58:00Z","sentAt":"2026-11-28T09:59:00Z"}`,
			time.Date(2026, 11, 28, 9, 58, 0, 0, time.UTC)},
		{"originalTimestamp with 9 fractional digits",
			`{"type":"track","userId":"1","event":"E","originalTimestamp":"2026-11-28T09:00:00.123456789Z"}`,
			time.Date(2026, 11, 28, 9, 0, 0, 123456789, time.UTC)},
		{"no fraction, offset",
			`{"type":"track","userId":"1","event":"E","timestamp":"2026-11-28T15:30:00+05:30"}`,
			time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)},
		{"no timestamp means receivedAt",
			`{"type":"track","userId":"1","event":"E"}`,
			now},
	}
	for _, c := range cases {
		body := `{"batch":[` + c.msg + `]}`
		if got := h.do(t, call{path: "/v1/batch", body: body, basic: writeKey}); got.status != 200 || got.body["rejected"] != nil {
			t.Fatalf("%s: %d %v", c.name, got.status, got.body)
		}
	}
	// Batch-level sentAt applies to every message of the batch.
	body := `{"sentAt":"2026-11-28T10:30:00Z","batch":[{"type":"track","userId":"1","event":"E","timestamp":"2026-11-28T10:29:00Z"}]}`
	if got := h.do(t, call{path: "/v1/batch", body: body, basic: writeKey}); got.status != 200 {
		t.Fatal(got)
	}
	recs := h.read(t, h.topics.Events, len(cases)+1)
	for i, c := range cases {
		ts, _ := time.Parse(time.RFC3339Nano, decodeEvent(t, recs[i])["timestamp"].(string))
		if !ts.Equal(c.want) {
			t.Errorf("%s: timestamp %v, want %v", c.name, ts, c.want)
		}
	}
	last := decodeEvent(t, recs[len(cases)])
	if ts, _ := time.Parse(time.RFC3339Nano, last["timestamp"].(string)); !ts.Equal(now.Add(-time.Minute)) {
		t.Errorf("batch-level sentAt: timestamp %v, want %v", ts, now.Add(-time.Minute))
	}
}

func TestBatchContextIsMergedIntoEachMessage(t *testing.T) {
	h := newHarness(t, nil)
	body := `{"context":{"library":{"name":"analytics-go","version":"3.0.0"},"channel":"batch"},
		"batch":[{"type":"track","userId":"1","event":"E","context":{"channel":"whatsapp"}},
		         {"type":"identify","userId":"1","messageId":"keep-me","custom":{"x":1}}]}`
	if got := h.do(t, call{path: "/v1/batch", body: body, basic: writeKey}); got.status != 200 {
		t.Fatal(got)
	}
	recs := h.read(t, h.topics.Events, 2)
	for _, r := range recs {
		m := decodeEvent(t, r)
		ctx := m["context"].(map[string]any)
		lib, _ := ctx["library"].(map[string]any)
		if lib["name"] != "analytics-go" {
			t.Errorf("context.library not merged: %v", m)
		}
		if m["type"] == "track" && ctx["channel"] != "whatsapp" {
			t.Errorf("the message's own context was overwritten: %v", ctx)
		}
		if m["type"] == "identify" {
			if m["messageId"] != "keep-me" {
				t.Errorf("messageId replaced: %v", m["messageId"])
			}
			if _, ok := m["custom"]; !ok {
				t.Errorf("unknown field dropped: %v", m)
			}
		}
	}
}

func TestNumericIDsAreText(t *testing.T) {
	h := newHarness(t, nil)
	if got := h.do(t, call{path: "/v1/track", body: `{"userId":42,"event":"E"}`, basic: writeKey}); got.status != 200 {
		t.Fatal(got)
	}
	r := h.read(t, h.topics.Events, 1)[0]
	if m := decodeEvent(t, r); m["userId"] != "42" || string(r.Key) != "demo/42" {
		t.Fatalf("%v key %s", m, r.Key)
	}
}
