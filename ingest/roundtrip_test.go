package ingest_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/user360/user360/schemas"
)

// TestConsumedRecordEqualsWhatWasSent: HTTP → broker → consumer gives back
// the sent message field for field, plus only what the gateway adds
// (receivedAt), with the key and headers of docs/TOPICS.md.
func TestConsumedRecordEqualsWhatWasSent(t *testing.T) {
	h := newHarness(t, nil)
	sent := `{"type":"identify","messageId":"m-1","userId":"42","anonymousId":"a-7",
		"traits":{"email":"asha@example.com","age":31,"tags":["vip","beta"],"address":{"city":"Pune"}},
		"context":{"ip":"10.0.0.1","locale":"en-IN","externalIds":[{"id":"919845012345","type":"whatsapp"}]},
		"integrations":{"All":true},"timestamp":"2026-11-28T09:59:00.5Z","channel":"server","version":2}`
	if got := h.do(t, call{path: "/v1/batch", body: `{"batch":[` + sent + `]}`, basic: writeKey}); got.status != 200 || got.body["rejected"] != nil {
		t.Fatal(got)
	}
	r := h.read(t, h.topics.Events, 1)[0]
	var want, got map[string]any
	_ = json.Unmarshal([]byte(sent), &want)
	if err := json.Unmarshal(r.Value, &got); err != nil {
		t.Fatal(err)
	}
	want["receivedAt"] = h.now.Format(time.RFC3339Nano)
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("consumed record differs\nsent+receivedAt %v\nconsumed        %v", want, got)
	}
	if string(r.Key) != "demo/42" {
		t.Errorf("key %q", r.Key)
	}
	wantHeaders := map[string]string{
		schemas.HeaderTenant: "demo", schemas.HeaderSchema: schemas.SchemaEvent,
		schemas.HeaderSource: "gateway", schemas.HeaderContentType: "application/json",
	}
	for k, v := range wantHeaders {
		if header(r, k) != v {
			t.Errorf("header %s = %q, want %q", k, header(r, k), v)
		}
	}
	var ev schemas.Event
	if err := json.Unmarshal(r.Value, &ev); err != nil || ev.Extra["channel"] == nil {
		t.Errorf("schemas.Event does not keep unknown fields: %v %v", err, ev.Extra)
	}
}
