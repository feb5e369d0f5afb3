package segmenter_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestAPIValidationNamesTheJSONPath(t *testing.T) {
	h := newHarness(t, opts{})
	ok := h.segment("ok", `{"trait":"a","op":"exists"}`)
	cases := []struct {
		body  string
		field string
	}{
		{`{"rule":{"trait":"a","op":"exists"}}`, "name"},
		{`{"name":"x"}`, "rule"},
		{`{"name":"x","rule":{"all":[{"trait":"a","op":"eq","value":1},{"trait":"b","op":"nope"}]}}`, "rule.all[1].op"},
		{`{"name":"x","rule":{"any":[{"event":"E","within":{"value":3,"unit":"years"}}]}}`, "rule.any[0].within.unit"},
		{`{"name":"x","rule":{"not":{"event":"E","where":[{"property":"p","op":"gt","value":"ten"}]}}}`, "rule.not.where[0].value"},
		{`{"name":"x","rule":{"all":[{"trait":"a","op":"exists"},{"segment":"missing"}]}}`, "rule.all[1].segment"},
	}
	for _, c := range cases {
		code, body := h.do("POST", "/v1/segments", c.body)
		if code != http.StatusBadRequest || body["field"] != c.field {
			t.Errorf("%s: %d %v, want 400 naming %s", c.body, code, body, c.field)
		}
		if msg, _ := body["error"].(string); msg == "" {
			t.Errorf("%s: no reason given", c.body)
		}
	}
	code, body := h.do("POST", "/v1/segments", `{"name":`)
	if code != 400 || body["code"] != "invalid_json" {
		t.Fatalf("broken JSON: %d %v", code, body)
	}
	// A cycle through PUT is refused.
	ref := h.segment("ref", fmt.Sprintf(`{"segment":%q}`, ok))
	code, body = h.do("PUT", "/v1/segments/"+ok, fmt.Sprintf(`{"name":"ok","rule":{"segment":%q}}`, ref))
	if code != 400 || !strings.Contains(body["error"].(string), "cycle") {
		t.Fatalf("cycle: %d %v", code, body)
	}
}

func TestAPIAuthentication(t *testing.T) {
	h := newHarness(t, opts{})
	req := httptest.NewRequest("GET", "/v1/segments", nil)
	w := httptest.NewRecorder()
	h.mux.ServeHTTP(w, req)
	if w.Code != http.StatusUnauthorized {
		t.Fatalf("no key: %d", w.Code)
	}
	req.Header.Set("Authorization", "Bearer wrong")
	w = httptest.NewRecorder()
	h.mux.ServeHTTP(w, req)
	if w.Code != http.StatusUnauthorized {
		t.Fatalf("bad key: %d", w.Code)
	}
}

func TestAPICrudMembersStatusPreview(t *testing.T) {
	h := newHarness(t, opts{})
	code, created := h.do("POST", "/v1/segments", `{"name":"India","description":"d","rule":{"trait":"country","op":"eq","value":"IN"}}`)
	if code != 201 || created["id"] == "" || created["emitOnBackfill"] != true || created["revision"] != 1.0 {
		t.Fatalf("create: %d %v", code, created)
	}
	id := created["id"].(string)
	code, got := h.do("GET", "/v1/segments/"+id, nil)
	if code != 200 || got["name"] != "India" || got["description"] != "d" {
		t.Fatalf("get: %d %v", code, got)
	}
	code, list := h.do("GET", "/v1/segments", nil)
	if code != 200 || len(list["segments"].([]any)) != 1 {
		t.Fatalf("list: %d %v", code, list)
	}
	if code, _ := h.do("GET", "/v1/segments/nope", nil); code != 404 {
		t.Fatalf("unknown: %d", code)
	}
	if code, _ := h.do("PUT", "/v1/segments/nope", `{"name":"x","rule":{"trait":"a","op":"exists"}}`); code != 404 {
		t.Fatalf("put unknown: %d", code)
	}
	var want []string
	for i := 0; i < 25; i++ {
		pid := fmt.Sprintf("m%02d", i)
		h.handle(h.rec(traitsUpdate(pid, map[string]any{"country": "IN"})))
		want = append(want, pid)
	}
	var all []string
	cursor := ""
	for pages := 0; ; pages++ {
		code, page := h.do("GET", "/v1/segments/"+id+"/members?limit=10&cursor="+cursor, nil)
		if code != 200 || pages > 5 {
			t.Fatalf("members: %d %v", code, page)
		}
		for _, m := range page["members"].([]any) {
			all = append(all, m.(string))
		}
		cursor = page["nextCursor"].(string)
		if cursor == "" {
			break
		}
	}
	if !reflect.DeepEqual(all, want) {
		t.Fatalf("paged members %v", all)
	}
	if code, body := h.do("GET", "/v1/segments/"+id+"/members?limit=0", nil); code != 400 || body["field"] != "limit" {
		t.Fatalf("bad limit: %d %v", code, body)
	}
	if code, body := h.do("GET", "/v1/segments/"+id+"/members?cursor=x:m01", nil); code != 400 || body["field"] != "cursor" {
		t.Fatalf("bad cursor: %d %v", code, body)
	}
	code, st := h.do("GET", "/v1/segments/"+id+"/status", nil)
	if code != 200 || st["size"] != 25.0 {
		t.Fatalf("status: %d %v", code, st)
	}
	// Preview reads the identity store and saves nothing.
	h.seedProfiles(30, rand.New(rand.NewPCG(5, 5)))
	code, pv := h.do("POST", "/v1/segments/preview", `{"rule":{"trait":"country","op":"in","value":["IN","FR"]}}`)
	if code != 200 || pv["scanned"] != 30.0 || pv["complete"] != true {
		t.Fatalf("preview: %d %v", code, pv)
	}
	n := 0
	for _, p := range mustScan(h) {
		if c := p.Traits["country"]; c == "IN" || c == "FR" {
			n++
		}
	}
	if pv["matched"] != float64(n) || len(pv["sample"].([]any)) != min(n, 20) {
		t.Fatalf("preview matched %v want %d", pv["matched"], n)
	}
	if code, body := h.do("POST", "/v1/segments/preview", `{"rule":{"trait":"x","op":"bogus"}}`); code != 400 || body["field"] != "rule.op" {
		t.Fatalf("preview validation: %d %v", code, body)
	}
	if code, list = h.do("GET", "/v1/segments", nil); len(list["segments"].([]any)) != 1 {
		t.Fatal("preview saved a segment")
	}
	if code, _ := h.do("DELETE", "/v1/segments/"+id, nil); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	if code, _ := h.do("DELETE", "/v1/segments/"+id, nil); code != 404 {
		t.Fatalf("delete twice: %d", code)
	}
}

func TestDefinitionsReachAnotherInstance(t *testing.T) {
	h := newHarness(t, opts{})
	other := h.newService(opts{defs: startDefs(t, h.brokers, h.topics.Definitions)})
	id := h.segment("India", `{"trait":"country","op":"eq","value":"IN"}`)
	deadline := time.Now().Add(time.Second)
	for {
		if _, _, err := other.ScanMembers(t.Context(), h.tenant, id, "", 1); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the other instance did not see the new segment within a second")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
