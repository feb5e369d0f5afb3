package ingest_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/user360/user360/ingest/propschema"
	"github.com/user360/user360/ingest/propschema/ingestadapter"
	"github.com/user360/user360/internal/testenv"
	"github.com/user360/user360/schemas"
)

// TestPropertySchemaDropsBadTraitsAndDeadLettersThem: with the tenant's
// property schema in force, an identify keeps its good traits and every
// other field as sent, and each value the schema refuses becomes one dead
// letter naming the field and the reason; a batch's other messages pass.
func TestPropertySchemaDropsBadTraitsAndDeadLettersThem(t *testing.T) {
	k, _ := testenv.Kafka(t)
	store := testenv.Defs(t, k.Addrs(), "user360.definitions.schema-test")
	v := propschema.NewValidator(store)
	ctx := context.Background()
	for _, p := range []propschema.Property{{Name: "age", Type: propschema.TypeNumber}, {Name: "vip", Type: propschema.TypeBoolean}} {
		if err := store.Put(ctx, propschema.KindProperty, "demo", p.Name, p); err != nil {
			t.Fatal(err)
		}
	}
	h := newHarnessWith(t, nil, ingestadapter.Traits{V: v})

	body := `{"batch":[
	 {"type":"identify","userId":"42","messageId":"m-1","context":{"locale":"en-IN"},
	  "traits":{"age":"old","vip":true,"email":"not-an-email","plan":"pro","nested":{"a":[1,2]}}},
	 {"type":"track","userId":"42","event":"Paid","messageId":"m-2","properties":{"age":"old"}}]}`
	got := h.do(t, call{path: "/v1/batch", body: body, basic: writeKey})
	if got.status != 200 {
		t.Fatalf("status %d %v", got.status, got.body)
	}
	evs := h.read(t, h.topics.Events, 2)
	id := decodeEvent(t, evs[0])
	traits, _ := id["traits"].(map[string]any)
	if _, has := traits["age"]; has {
		t.Errorf("age kept: %v", traits)
	}
	if _, has := traits["email"]; has {
		t.Errorf("invalid email kept: %v", traits)
	}
	if traits["vip"] != true || traits["plan"] != "pro" || traits["nested"] == nil {
		t.Errorf("good traits lost: %v", traits)
	}
	if c, _ := id["context"].(map[string]any); c["locale"] != "en-IN" || id["messageId"] != "m-1" {
		t.Errorf("other fields changed: %v", id)
	}
	tr := decodeEvent(t, evs[1])
	if p, _ := tr["properties"].(map[string]any); p["age"] != "old" {
		t.Errorf("track properties are not traits, yet changed: %v", tr)
	}

	dls := h.read(t, h.topics.DeadLetter, 2)
	fields := map[string]schemas.DeadLetter{}
	for _, r := range dls {
		if err := schemas.Validate(schemas.FileDeadLetter, r.Value); err != nil {
			t.Errorf("dead letter fails its schema: %v %s", err, r.Value)
		}
		var d schemas.DeadLetter
		if err := json.Unmarshal(r.Value, &d); err != nil {
			t.Fatal(err)
		}
		fields[d.Field] = d
	}
	for _, f := range []string{"traits.age", "traits.email"} {
		d, ok := fields[f]
		if !ok {
			t.Errorf("no dead letter for %s (got %v)", f, fields)
			continue
		}
		if d.MessageID != "m-1" || d.Reason == "" || !strings.Contains(string(d.Original), `"old"`) && f == "traits.age" {
			t.Errorf("%s: dead letter %+v", f, d)
		}
	}
}
