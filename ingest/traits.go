package ingest

import (
	"encoding/json"

	"github.com/user360/user360/internal/config"
	"github.com/user360/user360/schemas"
)

// checkTraits runs the tenant's property schema over an identify message's
// traits. Dropped values are reported as problems (each becomes a dead
// letter); the rest of the message is kept.
func (g *Gateway) checkTraits(tenant *config.Tenant, out *normalized) (*normalized, []Problem) {
	if g.deps.Traits == nil || out.typ != schemas.TypeIdentify {
		return out, nil
	}
	var ev schemas.Event
	if err := json.Unmarshal(out.value, &ev); err != nil || len(ev.Traits) == 0 {
		return out, nil
	}
	clean, problems := g.deps.Traits.ValidateTraits(tenant, ev.Traits)
	if len(problems) == 0 {
		return out, nil
	}
	ev.Traits = clean
	v, err := json.Marshal(ev)
	if err != nil {
		return out, nil
	}
	o := *out
	o.value = v
	return &o, problems
}
