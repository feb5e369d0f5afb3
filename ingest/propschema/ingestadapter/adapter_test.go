package ingestadapter_test

import (
	"testing"

	"github.com/user360/user360/ingest/propschema"
	"github.com/user360/user360/ingest/propschema/ingestadapter"
	"github.com/user360/user360/internal/config"
)

func TestValidateTraits(t *testing.T) {
	a := ingestadapter.Traits{V: propschema.NewValidator(nil)}
	clean, ps := a.ValidateTraits(&config.Tenant{ID: "acme"}, map[string]any{"email": "nope", "tags": "a;b", "smsOptin": "TRUE"})
	if len(ps) != 1 || ps[0].Field != "traits.email" || ps[0].Code != propschema.CodeInvalidDataType {
		t.Fatalf("problems %+v", ps)
	}
	if tags, _ := clean["tags"].([]any); len(tags) != 1 || tags[0] != "a;b" || clean["smsOptin"] != true {
		t.Fatalf("clean %v", clean)
	}
}
