package ingest

import (
	"bytes"
	"encoding/json"
	"reflect"

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
	kept, err := keepTraits(raw, traits, clean)
	if err != nil {
		return out, nil
	}
	fs.set("traits", kept)
	o := *out
	o.value = fs.appendTo(make([]byte, 0, len(out.value)))
	return &o, problems
}

// keepTraits rewrites the traits object raw (decoded as traits) to the
// values the schema kept (clean): a dropped trait is cut out, a coerced one
// written anew, and every other keeps its bytes as sent. Re-encoding them
// all would round integers above 2^53, re-sort the keys and escape <, >
// and &.
func keepTraits(raw json.RawMessage, traits, clean map[string]any) (json.RawMessage, error) {
	fs, err := splitObject(raw)
	if err != nil {
		return nil, err
	}
	out := fs[:0]
	for _, f := range fs {
		v, ok := clean[f.key]
		if !ok {
			continue
		}
		if !reflect.DeepEqual(v, traits[f.key]) {
			if f.val, err = marshalNoEscape(v); err != nil {
				return nil, err
			}
		}
		out = append(out, f)
	}
	return out.appendTo(make([]byte, 0, len(raw))), nil
}

// marshalNoEscape is json.Marshal without the HTML escaping of <, > and &.
func marshalNoEscape(v any) (json.RawMessage, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
