package identity

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/user360/user360/internal/testenv"
	"github.com/user360/user360/schemas"
)

// apiRig is a Service's API with data applied straight through a processor.
type apiRig struct {
	*liveService
	g *rig
}

func newAPIRig(t *testing.T) *apiRig {
	l := startLive(t, false)
	g := &rig{tenant: l.tenant, store: l.svc.Store(), out: &capture{}, ts: l.svc.deps.Tenants}
	g.proc = NewProcessor(g.store, g.ts, l.topics, g.out.produce, zerolog.Nop(), nil)
	return &apiRig{liveService: l, g: g}
}

// call sends a request with a key ("" = none) and returns status and body.
func (a *apiRig) call(t *testing.T, method, path, key string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, a.srv.URL+path, rd)
	if key != "" {
		req.Header.Set("x-api-key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestAPIAuthAndTenantScope(t *testing.T) {
	a := newAPIRig(t)
	a.g.apply(t, schemas.Event{Type: "identify", MessageID: "a1", UserID: "42"})
	key := "api-" + a.tenant
	for _, c := range []struct {
		key  string
		want int
	}{
		{"", http.StatusUnauthorized},
		{"nonsense", http.StatusUnauthorized},
		{"write-" + a.tenant, http.StatusForbidden},
		{"api-other-" + a.tenant, http.StatusNotFound},
		{key, http.StatusOK},
	} {
		if code, body := a.call(t, "GET", "/v1/profiles/user_id:42", c.key, nil); code != c.want {
			t.Errorf("key %q: %d %s, want %d", c.key, code, body, c.want)
		}
	}
	// Bearer works too.
	req, _ := http.NewRequest("GET", a.srv.URL+"/v1/profiles/user_id:42", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("bearer: %v %v", resp.StatusCode, err)
	}
	resp.Body.Close()
	// Another tenant's list does not show ours.
	code, body := a.call(t, "GET", "/v1/profiles", "api-other-"+a.tenant, nil)
	var list ProfileList
	_ = json.Unmarshal(body, &list)
	if code != 200 || len(list.Profiles) != 0 {
		t.Fatalf("other tenant list: %d %s", code, body)
	}
	// A write key cannot write through the user API either.
	if code, _ := a.call(t, "POST", "/v1/users", "write-"+a.tenant, map[string]any{"userId": "1"}); code != http.StatusForbidden {
		t.Fatalf("write key on the user API: %d", code)
	}
}

func TestAPIRefParsing(t *testing.T) {
	a := newAPIRig(t)
	a.g.apply(t, schemas.Event{Type: "identify", MessageID: "r1", UserID: "42", AnonymousID: "anon-1",
		Traits:  map[string]any{"email": "asha@example.com", "phone": "+91 98450 12345"},
		Context: map[string]any{"externalIds": []any{map[string]any{"id": "wa-1", "type": "whatsapp"}}}})
	pid := a.g.profile(t, "user_id:42").ID
	key := "api-" + a.tenant
	for _, ref := range []string{"user_id:42", "email:ASHA@example.com", "phone:+919845012345",
		url.PathEscape("phone:+91 98450 12345"), "phone:09845012345", "anonymous_id:anon-1", "whatsapp:wa-1", pid} {
		code, body := a.call(t, "GET", "/v1/profiles/"+ref, key, nil)
		var p schemas.Profile
		_ = json.Unmarshal(body, &p)
		if code != 200 || p.ID != pid {
			t.Errorf("%s: %d %s", ref, code, body)
		}
	}
	for ref, want := range map[string]int{
		"user_id:43": 404, "pnothing": 404, "email:nobody@example.com": 404,
		url.PathEscape("bad type:x"): 400, "email:": 400,
		"email:notanemail": 400, "phone:abc": 400, "user_id:null": 404,
		"user_id:" + strings.Repeat("9", 600): 400,
	} {
		code, body := a.call(t, "GET", "/v1/profiles/"+ref, key, nil)
		if code != want {
			t.Errorf("%s: %d %s, want %d", ref, code, body, want)
		}
		if code == 400 {
			var e struct{ Field string }
			_ = json.Unmarshal(body, &e)
			if e.Field != "ref" {
				t.Errorf("%s: error field %q, want ref", ref, e.Field)
			}
		}
	}
	for _, sub := range []string{"identities", "merges", "segments", "events"} {
		if code, body := a.call(t, "GET", "/v1/profiles/user_id:42/"+sub, key, nil); code != 200 {
			t.Errorf("%s: %d %s", sub, code, body)
		}
	}
}

// staticSegments is a SegmentLister for tests.
type staticSegments map[string][]string

func (s staticSegments) ProfileSegments(_ context.Context, _ string, pid string) ([]string, error) {
	return s[pid], nil
}

func TestAPIProfileIncludesSegments(t *testing.T) {
	a := newAPIRig(t)
	a.g.apply(t, schemas.Event{Type: "identify", MessageID: "s1", UserID: "7"})
	pid := a.g.profile(t, "user_id:7").ID
	a.svc.deps.Segments = staticSegments{pid: {"vip", "active"}}
	_, body := a.call(t, "GET", "/v1/profiles/user_id:7", "api-"+a.tenant, nil)
	var p schemas.Profile
	_ = json.Unmarshal(body, &p)
	if len(p.Segments) != 2 || p.Segments[0] != "vip" {
		t.Fatalf("segments = %v", p.Segments)
	}
	_, body = a.call(t, "GET", "/v1/profiles/user_id:7/segments", "api-"+a.tenant, nil)
	var s struct{ Segments []string }
	_ = json.Unmarshal(body, &s)
	if len(s.Segments) != 2 {
		t.Fatalf("segments endpoint = %s", body)
	}
}

func TestAPIPagination(t *testing.T) {
	a := newAPIRig(t)
	key := "api-" + a.tenant
	var evs []schemas.Event
	for i := range 5 {
		evs = append(evs, schemas.Event{Type: "identify", MessageID: fmt.Sprintf("u%d", i), UserID: fmt.Sprintf("u%d", i)})
	}
	for i := range 7 {
		evs = append(evs, schemas.Event{Type: "track", MessageID: fmt.Sprintf("e%d", i), UserID: "u0", Event: "E", Timestamp: at(i % 3)})
	}
	a.g.apply(t, evs...)
	seen := map[string]bool{}
	cursor := ""
	for pages := 0; ; pages++ {
		code, body := a.call(t, "GET", "/v1/profiles?limit=2&cursor="+url.QueryEscape(cursor), key, nil)
		var list ProfileList
		if err := json.Unmarshal(body, &list); err != nil || code != 200 {
			t.Fatalf("%d %s", code, body)
		}
		for _, p := range list.Profiles {
			if seen[p.ID] {
				t.Fatalf("profile %s on two pages", p.ID)
			}
			seen[p.ID] = true
		}
		if list.NextCursor == "" {
			break
		}
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
		cursor = list.NextCursor
	}
	if len(seen) != 5 {
		t.Fatalf("listed %d profiles, want 5", len(seen))
	}
	var got []string
	cursor = ""
	for {
		code, body := a.call(t, "GET", "/v1/profiles/user_id:u0/events?limit=3&cursor="+url.QueryEscape(cursor), key, nil)
		var page EventPage
		if err := json.Unmarshal(body, &page); err != nil || code != 200 {
			t.Fatalf("%d %s", code, body)
		}
		for _, e := range page.Events {
			got = append(got, e.MessageID)
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	// newest first, ties by messageId
	want := []string{"e5", "e2", "e4", "e1", "u0", "e6", "e3", "e0"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events over pages = %v, want %v", got, want)
	}
	if code, _ := a.call(t, "GET", "/v1/profiles?limit=0", key, nil); code != 400 {
		t.Fatalf("limit=0: %d", code)
	}
	if code, body := a.call(t, "GET", "/v1/profiles?cursor=x:p1", key, nil); code != 400 || !strings.Contains(string(body), `"cursor"`) {
		t.Fatalf("bad profiles cursor: %d %s", code, body)
	}
	if code, _ := a.call(t, "GET", "/v1/profiles/user_id:u0/events?cursor=%25%25", key, nil); code != 400 {
		t.Fatalf("bad cursor: %d", code)
	}
}

// TestUserAPIWritesGoThroughTheLog: user API writes answer 202 with message
// ids, and the messages are on the events topic with the tenant header.
func TestUserAPIWritesGoThroughTheLog(t *testing.T) {
	a := newAPIRig(t)
	key := "api-" + a.tenant
	a.g.apply(t, schemas.Event{Type: "identify", MessageID: "pre", UserID: "9"})
	type call struct {
		method, path string
		body         any
		want         int
	}
	calls := []call{
		{"POST", "/v1/users", map[string]any{"userId": "9", "firstName": "Asha", "emailOptin": "yes"}, 202},
		{"PUT", "/v1/users/9", map[string]any{"city": "Pune", "dob": "not a date"}, 202},
		{"POST", "/v1/events", map[string]any{"userId": "9", "eventName": "Order Completed", "payload": map[string]any{"revenue": 10}}, 202},
		{"POST", "/v1/users/bulk", map[string]any{"uponConflict": "RETAIN_IMPORTED", "users": []any{
			map[string]any{"userId": "b1", "plan": "pro"}, map[string]any{"plan": "free"}, map[string]any{"userId": 77}}}, 202},
		{"DELETE", "/v1/users/9", nil, 202},
		{"DELETE", "/v1/profiles/user_id:9", nil, 202},
		// refused
		{"POST", "/v1/users", map[string]any{"firstName": "x"}, 400},
		{"POST", "/v1/users", map[string]any{"userId": "null"}, 400},
		{"PUT", "/v1/users/9", map[string]any{"userId": "10"}, 400},
		{"POST", "/v1/events", map[string]any{"userId": "9"}, 400},
		{"POST", "/v1/users/bulk", map[string]any{"uponConflict": "MERGE", "users": []any{map[string]any{"userId": "1"}}}, 400},
		{"POST", "/v1/users/bulk", map[string]any{"users": []any{map[string]any{"plan": "x"}}}, 400},
		{"DELETE", "/v1/users/nobody", nil, 404},
	}
	var ids []string
	for _, c := range calls {
		code, body := a.call(t, c.method, c.path, key, c.body)
		if code != c.want {
			t.Fatalf("%s %s: %d %s, want %d", c.method, c.path, code, body, c.want)
		}
		if code == 202 {
			var acc Accepted
			if err := json.Unmarshal(body, &acc); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, acc.MessageIDs...)
			switch c.method + " " + c.path {
			case "POST /v1/users/bulk":
				if len(acc.MessageIDs) != 2 || len(acc.Rejected) != 1 || acc.Rejected[0].Field != "users[1].userId" {
					t.Fatalf("bulk: %s", body)
				}
			case "PUT /v1/users/9":
				if len(acc.Rejected) != 1 || acc.Rejected[0].Field != "dob" {
					t.Fatalf("PUT rejected: %s", body)
				}
			}
		}
	}
	recs := testenv.ReadAll(t, a.brokers, a.topics.Events, len(ids), 10*time.Second)
	if len(recs) != len(ids) {
		t.Fatalf("%d records on the events topic, want %d", len(recs), len(ids))
	}
	byID := map[string]schemas.Event{}
	for _, r := range recs {
		if recordTenant(r) != a.tenant {
			t.Fatalf("record tenant %q", recordTenant(r))
		}
		var e schemas.Event
		if err := json.Unmarshal(r.Value, &e); err != nil {
			t.Fatal(err)
		}
		byID[e.MessageID] = e
	}
	for _, id := range ids {
		if _, ok := byID[id]; !ok {
			t.Fatalf("message %s not on the topic", id)
		}
	}
	// Apply what the API wrote: the profile exists, then is deleted.
	r0 := byID[ids[0]]
	if r0.Type != "identify" || r0.UserID != "9" || r0.Traits["firstName"] != "Asha" {
		t.Fatalf("POST /v1/users wrote %+v", r0)
	}
	if e := byID[ids[2]]; e.Type != "track" || e.Event != "Order Completed" {
		t.Fatalf("POST /v1/events wrote %+v", e)
	}
	if e := byID[ids[3]]; e.Context[ctxReplace] != true {
		t.Fatalf("RETAIN_IMPORTED did not ask for replacement: %+v", e)
	}
	var evs []schemas.Event
	for _, id := range ids[:4] {
		evs = append(evs, byID[id])
	}
	a.g.apply(t, evs...)
	if code, body := a.call(t, "GET", "/v1/users/9", key, nil); code != 200 {
		t.Fatalf("GET user: %d %s", code, body)
	} else {
		var u User
		_ = json.Unmarshal(body, &u)
		if u.Properties["firstName"] != "Asha" || u.Properties["city"] != "Pune" || u.Properties["emailOptin"] != true {
			t.Fatalf("user = %s", body)
		}
	}
	a.g.apply(t, byID[ids[5]])
	if code, _ := a.call(t, "GET", "/v1/users/9", key, nil); code != 404 {
		t.Fatalf("after delete: %d", code)
	}
}
