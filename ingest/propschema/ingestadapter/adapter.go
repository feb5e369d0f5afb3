package ingestadapter

import (
	"github.com/user360/user360/ingest"
	"github.com/user360/user360/ingest/propschema"
	"github.com/user360/user360/internal/config"
)

// Traits adapts a *propschema.Validator to ingest.TraitValidator.
type Traits struct{ V *propschema.Validator }

var _ ingest.TraitValidator = Traits{}

// ValidateTraits applies the tenant's schema to identify traits (JSON
// rules: no ";" list splitting) and reports each dropped value with its
// path under "traits.".
func (a Traits) ValidateTraits(t *config.Tenant, traits map[string]any) (map[string]any, []ingest.Problem) {
	clean, ps := a.V.Apply(t, traits, false)
	if len(ps) == 0 {
		return clean, nil
	}
	out := make([]ingest.Problem, len(ps))
	for i, p := range ps {
		out[i] = ingest.Problem{Field: "traits." + p.Field, Code: p.Code, Message: p.Message}
	}
	return clean, out
}
