package identity

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/user360/user360/internal/testenv"
	"github.com/user360/user360/schemas"
)

// pageEvents follows a profile's events with limit per page from cursor
// and returns the messageIds in order.
func (a *apiRig) pageEvents(t *testing.T, ref string, limit int, cursor string) []string {
	t.Helper()
	var got []string
	for range 20 {
		path := fmt.Sprintf("/v1/profiles/%s/events?limit=%d&cursor=%s", ref, limit, url.QueryEscape(cursor))
		code, body := a.call(t, "GET", path, "api-"+a.tenant, nil)
		var page EventPage
		if err := json.Unmarshal(body, &page); err != nil || code != 200 {
			t.Fatalf("GET %s: %d %s", path, code, body)
		}
		for _, e := range page.Events {
			got = append(got, e.MessageID)
		}
		if page.NextCursor == "" {
			return got
		}
		cursor = page.NextCursor
	}
	t.Fatal("event pages do not end")
	return nil
}

// TestAPIEventsCursorIsExact: events within one millisecond are all
// listed one per page, and a cursor of the millisecond format still
// resumes after its message.
func TestAPIEventsCursorIsExact(t *testing.T) {
	a := newAPIRig(t)
	ts := fixedNow.Add(500 * time.Microsecond)
	a.g.apply(t,
		schemas.Event{Type: "track", MessageID: "m1", UserID: "u", Event: "E", Timestamp: ts},
		schemas.Event{Type: "track", MessageID: "m2", UserID: "u", Event: "E", Timestamp: ts},
		schemas.Event{Type: "track", MessageID: "m3", UserID: "u", Event: "E", Timestamp: ts},
		schemas.Event{Type: "track", MessageID: "m4", UserID: "u", Event: "E", Timestamp: ts.Add(-300 * time.Microsecond)},
		schemas.Event{Type: "track", MessageID: "m0", UserID: "u", Event: "E", Timestamp: ts.Add(100 * time.Microsecond)},
	)
	// newest first, ties by messageId; all five in one millisecond
	want := "[m0 m3 m2 m1 m4]"
	got := a.pageEvents(t, "user_id:u", 1, "")
	if fmt.Sprint(got) != want {
		t.Fatalf("limit=1 pages = %v, want %s", got, want)
	}
	legacy := base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(ts.UnixMilli(), 10) + "|m3"))
	if got := a.pageEvents(t, "user_id:u", 2, legacy); fmt.Sprint(got) != "[m2 m1 m4]" {
		t.Fatalf("after a millisecond cursor at m3: %v, want [m2 m1 m4]", got)
	}
	for _, bad := range []string{"tnot-a-time|m1", "t|m1", "12x|m1", "t2026-11-28T12:00:00Z"} {
		c := base64.RawURLEncoding.EncodeToString([]byte(bad))
		code, body := a.call(t, "GET", "/v1/profiles/user_id:u/events?cursor="+c, "api-"+a.tenant, nil)
		var e struct{ Field string }
		_ = json.Unmarshal(body, &e)
		if code != 400 || e.Field != "cursor" {
			t.Errorf("cursor %q: %d %s, want 400 on cursor", bad, code, body)
		}
	}
}

// published reads n records off the events topic, by messageId.
func (a *apiRig) published(t *testing.T, n int) map[string]map[string]any {
	t.Helper()
	recs := testenv.ReadAll(t, a.brokers, a.topics.Events, n, 15*time.Second)
	out := map[string]map[string]any{}
	for _, r := range recs {
		var m map[string]any
		if err := json.Unmarshal(r.Value, &m); err != nil {
			t.Fatal(err)
		}
		mid, _ := m["messageId"].(string)
		out[mid] = m
	}
	return out
}

type apiCase struct {
	method, path string
	body         string
	want         int
	field        string // the error's field (400) or the only rejected field (202)
}

// run sends the cases and returns the message ids of the 202s in order.
func (a *apiRig) run(t *testing.T, cases []apiCase) [][]string {
	t.Helper()
	var ids [][]string
	for _, c := range cases {
		code, body := a.call(t, c.method, c.path, "api-"+a.tenant, json.RawMessage(c.body))
		if code != c.want {
			t.Fatalf("%s %s %s: %d %s, want %d", c.method, c.path, c.body, code, body, c.want)
		}
		var r struct {
			Field      string
			MessageIDs []string
			Rejected   []FieldError
		}
		_ = json.Unmarshal(body, &r)
		field := r.Field
		if code == 202 && len(r.Rejected) > 0 {
			field = fmt.Sprint(r.Rejected)
		}
		if c.field != field {
			t.Errorf("%s %s %s: field %q, want %q (%s)", c.method, c.path, c.body, field, c.field, body)
		}
		if code == 202 {
			ids = append(ids, r.MessageIDs)
		}
	}
	return ids
}

// TestUserAPIIntegerUserIDsAreExact: an integer userId beyond 2^53 (and
// int64) is written as its exact decimal text; fractions stay refused;
// other numbers are still plain JSON numbers.
func TestUserAPIIntegerUserIDsAreExact(t *testing.T) {
	a := newAPIRig(t)
	big := "9007199254740993"
	ids := a.run(t, []apiCase{
		{"POST", "/v1/users", `{"userId": 9007199254740993, "x": 1, "emailOptin": 1}`, 202, ""},
		{"POST", "/v1/users", `{"userId": 9223372036854775807}`, 202, ""},
		{"PUT", "/v1/users/" + big, `{"userId": 9007199254740993, "city": "Pune"}`, 202, ""},
		{"POST", "/v1/users/bulk", `{"users": [{"userId": 9007199254740993}, {"userId": 2.5}]}`, 202,
			"[{users[1].userId userId must be a string or an integer}]"},
		{"POST", "/v1/events", `{"userId": 9007199254740993, "eventName": "E", "payload": {"n": 2}}`, 202, ""},
		{"POST", "/v1/users", `{"userId": 1.0}`, 202, ""},
		{"POST", "/v1/users", `{"userId": 1.5}`, 400, "userId"},
		{"POST", "/v1/users", `{"userId": 1e400}`, 400, "userId"},
		{"POST", "/v1/events", `{"userId": 4.2, "eventName": "E"}`, 400, "userId"},
		{"POST", "/v1/users", `{"userId": "1", "n": 1e400}`, 400, "n"},
	})
	recs := a.published(t, 7)
	want := []string{big, "9223372036854775807", big, big, big, "1"}
	for i, w := range want {
		if got := recs[ids[i][0]]["userId"]; got != w {
			t.Errorf("write %d: userId %v, want %s", i, got, w)
		}
	}
	tr, _ := recs[ids[0][0]]["traits"].(map[string]any)
	if tr["x"] != 1.0 || tr["emailOptin"] != 1.0 {
		t.Errorf("traits %v, want the numbers as sent", tr)
	}
	if p, _ := recs[ids[4][0]]["properties"].(map[string]any); p["n"] != 2.0 {
		t.Errorf("event properties %v", p)
	}
}

// TestUserAPIRefusesTimestampsOutsideYears0To9999: a time whose UTC year is
// outside 0000-9999 is a 400 on the timestamp, not a 503 or a poisoned
// message.
func TestUserAPIRefusesTimestampsOutsideYears0To9999(t *testing.T) {
	a := newAPIRig(t)
	late, early := `"9999-12-31T23:00:00-05:00"`, `"0000-01-01T00:00:00+01:00"`
	var cases []apiCase
	for _, ts := range []string{late, early} {
		cases = append(cases,
			apiCase{"POST", "/v1/events", `{"userId": "1", "eventName": "E", "timestamp": ` + ts + `}`, 400, "timestamp"},
			apiCase{"POST", "/v1/users", `{"userId": "1", "timestamp": ` + ts + `}`, 400, "timestamp"},
			apiCase{"PUT", "/v1/users/1", `{"timestamp": ` + ts + `}`, 400, "timestamp"},
			apiCase{"POST", "/v1/users/bulk", `{"users": [{"userId": "1", "timestamp": ` + ts + `}, {"userId": "2"}]}`, 202,
				"[{users[0].timestamp timestamp must be an RFC 3339 date-time in the years 0000 to 9999 (UTC)}]"},
		)
	}
	cases = append(cases,
		apiCase{"POST", "/v1/events", `{"userId": "1", "eventName": "E", "timestamp": "9999-12-31T23:00:00Z"}`, 202, ""},
		apiCase{"POST", "/v1/users", `{"userId": "1", "timestamp": "0000-01-01T01:00:00+01:00"}`, 202, ""},
	)
	a.run(t, cases)
}

// TestUserAPISchemaRefusalsUseRequestFieldNames: fields the property
// schema refuses are named as flat properties, prefixed on bulk.
func TestUserAPISchemaRefusalsUseRequestFieldNames(t *testing.T) {
	a := newAPIRig(t)
	a.svc.deps.Traits = numbersOnlyAge{}
	a.run(t, []apiCase{
		{"POST", "/v1/users", `{"userId": "1", "age": "old", "dob": "bad"}`, 202,
			"[{dob must be a date (YYYY-MM-DD)} {age invalidDataType: age must be a number}]"},
		{"POST", "/v1/users/bulk", `{"users": [{"userId": "1", "age": 3}, {"userId": "2", "age": "old"}]}`, 202,
			"[{users[1].age invalidDataType: age must be a number}]"},
	})
}

// TestUserAPIRejectsBadRecordsAndFieldsAlone: a bulk record that is not an
// object is rejected alone; a non-string anonymousId or messageId is a 400
// naming it.
func TestUserAPIRejectsBadRecordsAndFieldsAlone(t *testing.T) {
	a := newAPIRig(t)
	ids := a.run(t, []apiCase{
		{"POST", "/v1/users/bulk", `{"users": [{"userId": "1"}, "str", null, 5, [], {"userId": "2", "messageId": 7}]}`, 202,
			"[{users[1] must be a JSON object} {users[2] must be a JSON object} {users[3] must be a JSON object} " +
				"{users[4] must be a JSON object} {users[5].messageId messageId must be a string}]"},
		{"POST", "/v1/users/bulk", `{"users": ["str"]}`, 400, ""},
		{"POST", "/v1/users", `{"userId": "1", "anonymousId": 5}`, 400, "anonymousId"},
		{"POST", "/v1/users", `{"userId": "1", "messageId": 7}`, 400, "messageId"},
		{"PUT", "/v1/users/1", `{"anonymousId": {"a": 1}}`, 400, "anonymousId"},
		{"POST", "/v1/users", `{"userId": "1", "anonymousId": "anon-1", "messageId": " m-1 "}`, 202, ""},
	})
	if len(ids[0]) != 1 || ids[1][0] != "m-1" {
		t.Fatalf("message ids %v", ids)
	}
	if e := a.published(t, 2)["m-1"]; e["anonymousId"] != "anon-1" {
		t.Fatalf("published %v", e)
	}
}
