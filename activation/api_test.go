package activation

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/user360/user360/internal/httpx"
	"github.com/user360/user360/internal/testenv"
)

func TestDestinationCRUDNeverShowsTheSecret(t *testing.T) {
	e := newEnv(t, testenv.MiniRedis(t))
	rc := newReceiver(t, nil)
	id, secret := e.createDest(webhook(rc.URL, map[string]any{"segments": []string{"a", "b", "a"}, "events": []string{"segment.entered"}}))
	if !strings.HasPrefix(id, "dst_") || secret != "s3cret" {
		t.Fatalf("created %q %q", id, secret)
	}
	get := func() map[string]any {
		var v map[string]any
		if code := e.do("GET", "/v1/destinations/"+id, nil, &v); code != 200 {
			t.Fatalf("get: %d %v", code, v)
		}
		return v
	}
	v := get()
	if _, ok := v["secret"]; ok || v["hasSecret"] != true {
		t.Fatalf("GET shows the secret: %v", v)
	}
	if segs, _ := v["segments"].([]any); len(segs) != 2 {
		t.Fatalf("segments %v", v["segments"])
	}
	// PUT without a secret keeps it.
	var put map[string]any
	if code := e.do("PUT", "/v1/destinations/"+id, webhook(rc.URL, map[string]any{"name": "renamed", "secret": ""}), &put); code != 200 {
		t.Fatalf("put: %d %v", code, put)
	}
	d, _ := e.svc.load(e.tenant, id)
	if d.Secret != "s3cret" || d.Name != "renamed" || !d.AllSegments {
		t.Fatalf("after PUT: %+v", d)
	}
	var list struct {
		Destinations []map[string]any `json:"destinations"`
	}
	e.do("GET", "/v1/destinations", nil, &list)
	if len(list.Destinations) != 1 || list.Destinations[0]["segments"] != "all" {
		t.Fatalf("list %v", list)
	}
	for _, dv := range list.Destinations {
		if _, ok := dv["secret"]; ok {
			t.Fatal("list shows the secret")
		}
	}
	// Another tenant sees nothing.
	var other struct {
		Destinations []map[string]any `json:"destinations"`
	}
	e.doKey(testAPIKey+"-strict", "GET", "/v1/destinations", nil, &other)
	if len(other.Destinations) != 0 {
		t.Fatalf("tenant leak: %v", other)
	}
	if code := e.doKey(testAPIKey+"-strict", "GET", "/v1/destinations/"+id, nil, nil); code != 404 {
		t.Fatalf("other tenant GET: %d", code)
	}
	if code := e.do("DELETE", "/v1/destinations/"+id, nil, nil); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	if code := e.do("GET", "/v1/destinations/"+id, nil, nil); code != 404 {
		t.Fatalf("get after delete: %d", code)
	}
	if code := e.do("GET", "/v1/destinations/"+id+"/stats", nil, nil); code != 404 {
		t.Fatalf("stats after delete: %d", code)
	}
	waitFor(t, 5e9, func() bool { return e.svc.dispatcher(e.tenant, id) == nil })
}

func TestDestinationValidationNamesTheField(t *testing.T) {
	e := newEnv(t, testenv.MiniRedis(t))
	cases := []struct {
		key   string
		body  map[string]any
		field string
	}{
		{testAPIKey, webhook("http://127.0.0.1:1/x", map[string]any{"name": ""}), "name"},
		{testAPIKey, webhook("ftp://example.com/x", nil), "url"},
		{testAPIKey, webhook("http://user:pw@example.com/x", nil), "url"},
		{testAPIKey, webhook("http://127.0.0.1:70000/x", nil), "url"},
		{testAPIKey, webhook("http://127.0.0.1:0/x", nil), "url"},
		{testAPIKey, webhook("http://127.0.0.1:1/x", map[string]any{"name": strings.Repeat("n", 201)}), "name"},
		{testAPIKey, webhook("http://127.0.0.1:1/x", map[string]any{"type": "email"}), "type"},
		{testAPIKey, webhook("http://127.0.0.1:1/x", map[string]any{"segments": []any{"a", 3}}), "segments[1]"},
		{testAPIKey, webhook("http://127.0.0.1:1/x", map[string]any{"segments": "some"}), "segments"},
		{testAPIKey, webhook("http://127.0.0.1:1/x", map[string]any{"segments": nil}), "segments"},
		{testAPIKey, webhook("http://127.0.0.1:1/x", map[string]any{"events": []string{"segment.entered", "user.created"}}), "events[1]"},
		{testAPIKey, webhook("http://127.0.0.1:1/x", map[string]any{"format": "xml"}), "format"},
		// The strict tenant may not target internal addresses.
		{testAPIKey + "-strict", webhook("http://127.0.0.1:8080/x", nil), "url"},
		{testAPIKey + "-strict", webhook("http://localhost/x", nil), "url"},
		{testAPIKey + "-strict", webhook("https://10.1.2.3/x", nil), "url"},
		{testAPIKey + "-strict", webhook("http://169.254.169.254/latest/meta-data", nil), "url"},
		{testAPIKey + "-strict", webhook("http://[::1]/x", nil), "url"},
		{testAPIKey + "-strict", webhook("http://192.168.0.10/x", nil), "url"},
	}
	for _, c := range cases {
		var er httpx.Error
		code := e.doKey(c.key, "POST", "/v1/destinations", c.body, &er)
		if code != http.StatusBadRequest || er.Field != c.field || er.Error == "" {
			t.Errorf("%v: got %d %+v, want 400 on %s", c.body, code, er, c.field)
		}
	}
	// A public address literal is accepted for the strict tenant.
	var ok map[string]any
	if code := e.doKey(testAPIKey+"-strict", "POST", "/v1/destinations", webhook("https://93.184.215.14/hook", nil), &ok); code != 201 {
		t.Fatalf("public address refused: %d %v", code, ok)
	}
	// Bad JSON and missing auth.
	req, _ := http.NewRequest("POST", e.api.URL+"/v1/destinations", strings.NewReader("{"))
	req.Header.Set("Authorization", "Bearer "+testAPIKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("bad JSON: %d", resp.StatusCode)
	}
	if code := e.doKey("nope", "GET", "/v1/destinations", nil, nil); code != 401 {
		t.Fatalf("unknown key: %d", code)
	}
}

func TestDialTimeCheckRefusesPrivateAddresses(t *testing.T) {
	rc := newReceiver(t, nil) // on 127.0.0.1
	d := &Destination{URL: rc.URL, Secret: "x"}
	res := call(context.Background(), newHTTPClient(2e9, false, 1), d, "id", []byte("{}"), nowForTest())
	if res.ok() || res.retryable || !strings.Contains(res.err.Error(), ErrPrivateAddress.Error()) {
		t.Fatalf("strict client reached loopback: %+v", res)
	}
	if len(rc.snapshot()) != 0 {
		t.Fatal("the receiver was called")
	}
	if res := call(context.Background(), newHTTPClient(2e9, true, 1), d, "id", []byte("{}"), nowForTest()); !res.ok() {
		t.Fatalf("permissive client: %+v", res)
	}
}
