package httpx

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/user360/user360/internal/config"
)

func TestRequireAPIKey(t *testing.T) {
	ts, err := config.NewTenants([]config.Tenant{{ID: "demo", WriteKeys: []string{"wk"}, APIKeys: []string{"ak"}}})
	if err != nil {
		t.Fatal(err)
	}
	h := RequireAPIKey(ts, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, 200, map[string]string{"tenant": TenantFrom(r.Context()).ID})
	}))
	cases := []struct {
		name, header, value string
		want                int
	}{
		{"bearer", "Authorization", "Bearer ak", 200},
		{"x-api-key", "X-Api-Key", "ak", 200},
		{"write key refused", "Authorization", "Bearer wk", 403},
		{"unknown key", "Authorization", "Bearer nope", 401},
		{"no key", "", "", 401},
		// the tracking API's way of sending a write key: refused as a write key
		{"write key as HTTP Basic", "Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte("wk:")), 403},
		{"unknown HTTP Basic user", "Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte("nope:")), 401},
	}
	for _, c := range cases {
		req := httptest.NewRequest("GET", "/v1/profiles", nil)
		if c.header != "" {
			req.Header.Set(c.header, c.value)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != c.want {
			t.Errorf("%s: %d, want %d (%s)", c.name, rec.Code, c.want, rec.Body)
		}
	}
}

func TestCleanPathCollapsesSlashes(t *testing.T) {
	var got string
	h := CleanPath(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.URL.Path }))
	for in, want := range map[string]string{"//v1/batch": "/v1/batch", "/prefix///v1//batch": "/prefix/v1/batch", "/v1/track": "/v1/track"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", in, nil))
		if got != want {
			t.Errorf("%s → %s, want %s", in, got, want)
		}
	}
}

func TestBasicUser(t *testing.T) {
	req := httptest.NewRequest("POST", "/", nil)
	req.SetBasicAuth("wk_1", "")
	if u := BasicUser(req); u != "wk_1" {
		t.Fatalf("%q", u)
	}
	req.Header.Set("Authorization", "Basic !!!")
	if u := BasicUser(req); u != "" {
		t.Fatalf("garbage decoded to %q", u)
	}
}

// TestDecodeJSONNamesTheField: a member of the wrong type is 400
// invalid_type naming its path; invalid JSON stays invalid_json.
func TestDecodeJSONNamesTheField(t *testing.T) {
	type body struct {
		MessageID string `json:"messageId"`
		N         struct {
			X int `json:"x"`
		} `json:"n"`
	}
	for _, c := range []struct{ in, code, field string }{
		{`{"messageId":5}`, "invalid_type", "messageId"},
		{`{"n":{"x":"a"}}`, "invalid_type", "n.x"},
		{`{"messageId":`, "invalid_json", ""},
		{`{"messageId":"m"}`, "", ""},
	} {
		rec := httptest.NewRecorder()
		var v body
		ok := DecodeJSON(rec, httptest.NewRequest("POST", "/", strings.NewReader(c.in)), 1<<10, &v)
		var e Error
		_ = json.Unmarshal(rec.Body.Bytes(), &e)
		if ok != (c.code == "") || e.Code != c.code || e.Field != c.field {
			t.Errorf("%s: ok %v, %d %+v", c.in, ok, rec.Code, e)
		}
	}
}
