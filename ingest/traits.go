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
	// Only the traits are decoded: the rest of the message is kept as it
	// came (a full decode and re-encode of every identify cost the gateway
	// a tenth of its CPU).
	fs, err := splitObject(out.value)
	if err != nil {
		return out, nil
	}
	raw := fs.get("traits")
	var traits map[string]any
	if raw == nil || json.Unmarshal(raw, &traits) != nil || len(traits) == 0 {
		return out, nil
	}
	clean, problems := g.deps.Traits.ValidateTraits(tenant, traits)
	if len(problems) == 0 {
		return out, nil
	}
	v, err := json.Marshal(clean)
	if err != nil {
		return out, nil
	}
	fs.set("traits", v)
	o := *out
	o.value = fs.appendTo(make([]byte, 0, len(out.value)))
	return &o, problems
}
