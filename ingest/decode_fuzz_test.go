package ingest

import (
	"encoding/json"
	"testing"
	"time"
)

// FuzzDecodeRequest feeds arbitrary bodies through the decoder and the
// per-message normaliser: nothing may panic, and every accepted message must
// come out as a JSON object with type, messageId, timestamp and receivedAt.
// Seeds: f.Add below and testdata/fuzz/FuzzDecodeRequest.
func FuzzDecodeRequest(f *testing.F) {
	f.Add([]byte(`{"batch":[{"type":"track","userId":"1","event":"E"}]}`), true)
	f.Add([]byte(`{"userId":42,"event":"E","timestamp":"2026-11-28T10:00:00.123456789Z","sentAt":"2026-11-28T10:00:01Z"}`), false)
	f.Add([]byte(`{"context":{"library":{"name":"x"}},"sentAt":"2026-11-28T10:00:00Z","batch":[{"type":"alias","userId":"1","previousId":"a"},null,1,"s",{"type":"identify","anonymousId":"a","traits":{"email":"A@B.com"}}]}`), true)
	f.Add([]byte(`{"writeKey":"k","traits":[],"userId":""}`), false)
	f.Add([]byte(`{"batch":{}}`), true)
	f.Add([]byte(`{"batch":[{"type":"group","userId":true,"groupId":{}}]}`), true)
	cfg := DefaultConfig()
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte, batch bool) {
		req, err := decodeRequest(body, batch)
		if err != nil {
			return
		}
		n, fe := newNormalizer(&cfg, req, now)
		if fe != nil {
			return
		}
		msgs := req.messages
		pathType := ""
		if req.single != nil {
			msgs = []json.RawMessage{req.singleRaw}
			pathType = "track"
		}
		for _, raw := range msgs {
			if !isObject(raw) {
				continue
			}
			m, err := splitObject(raw)
			if err != nil {
				t.Fatalf("splitObject failed on a validated body: %v: %s", err, raw)
			}
			out, fe := n.normalize(&m, pathType)
			if fe != nil {
				if fe.Msg == "" {
					t.Fatalf("rejection without a reason for %s", raw)
				}
				continue
			}
			var got map[string]any
			if !json.Valid(out.value) {
				t.Fatalf("accepted message is not valid JSON: %s", out.value)
			}
			if err := json.Unmarshal(out.value, &got); err != nil {
				t.Fatalf("accepted message is not JSON: %v", err)
			}
			for _, k := range []string{"type", "messageId", "timestamp", "receivedAt"} {
				if s, _ := got[k].(string); s == "" {
					t.Fatalf("accepted message lacks %s: %s", k, out.value)
				}
			}
			if out.key == "" {
				t.Fatalf("accepted message has no key: %s", out.value)
			}
		}
	})
}
