package segmenter_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/user360/user360/schemas"
	"github.com/user360/user360/segmenter"
)

// Preview sees the members of a referenced segment (member scores are entry
// times, never 0).
func TestPreviewSegmentReference(t *testing.T) {
	h := newHarness(t, opts{})
	id := h.segment("India", `{"trait":"country","op":"eq","value":"IN"}`)
	for i := range 8 {
		pid := fmt.Sprintf("p%02d", i)
		tr := map[string]any{"country": "FR"}
		if i < 5 {
			tr["country"] = "IN"
		}
		h.src.put(schemas.Profile{ID: pid, Tenant: h.tenant, Traits: tr})
		h.handle(h.rec(traitsUpdate(pid, tr)))
	}
	if n := len(h.members(id)); n != 5 {
		t.Fatalf("%d members, want 5", n)
	}
	for member, want := range map[bool]float64{true: 5, false: 3} {
		code, pv := h.do("POST", "/v1/segments/preview", fmt.Sprintf(`{"rule":{"segment":%q,"member":%v}}`, id, member))
		if code != http.StatusOK || pv["matched"] != want || pv["scanned"] != 8.0 {
			t.Errorf("member:%v: %d %v, want %v matched", member, code, pv, want)
		}
	}
}

func TestAPIRuleLimitsNameThePath(t *testing.T) {
	h := newHarness(t, opts{})
	cases := []struct{ rule, field string }{
		{`{"trait":"n","op":"gt","value":1e400}`, "rule.value"},
		{`{"all":[{"trait":"n","op":"exists"},{"trait":"n","op":"lt","value":-1e999}]}`, "rule.all[1].value"},
		{`{"event":"E","between_ago":{"from":{"value":1,"unit":"days"},"to":{"value":110000,"unit":"days"}}}`, "rule.between_ago.to.value"},
		{`{"event":"E","where":[` + strings.Repeat(`{"property":"p","op":"exists"},`, 255) + `{"property":"p","op":"exists"}]}`, "rule.where[255]"},
	}
	for _, c := range cases {
		for _, path := range []string{"/v1/segments", "/v1/segments/preview"} {
			code, body := h.do("POST", path, `{"name":"x","rule":`+c.rule+`}`)
			if code != http.StatusBadRequest || body["code"] != "invalid_rule" || body["field"] != c.field {
				t.Errorf("%s %.80s: %d %v, want 400 at %s", path, c.rule, code, body, c.field)
			}
		}
	}
}

// A definition stored before the duration and where limits still loads.
func TestStoredDefinitionBeyondNewLimitsLoads(t *testing.T) {
	h := newHarness(t, opts{})
	rule := `{"event":"E","within":{"value":1000000,"unit":"months"}}`
	seg := segmenter.Segment{ID: "old", Name: "old", Rule: json.RawMessage(rule), Revision: 1, CreatedAt: t0, UpdatedAt: t0}
	if err := h.defs.Put(t.Context(), segmenter.KindSegment, h.tenant, seg.ID, seg); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		if code, _ := h.do("GET", "/v1/segments/old", nil); code == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the stored definition was not loaded")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
