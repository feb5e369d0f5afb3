package rules

import (
	"bytes"
	"encoding/json"

	"github.com/user360/user360/internal/jsonscan"
)

// decode reads a rule's JSON. Numbers are converted one by one, so that one
// out of the float64 range (1e400) is reported at its own JSON path rather
// than as invalid JSON.
func decode(raw json.RawMessage, path string) (any, error) {
	if !json.Valid(raw) {
		var v any
		err := json.Unmarshal(raw, &v)
		return nil, errAt(path, "not valid JSON: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, errAt(path, "not valid JSON: %v", err)
	}
	out, at, err := jsonscan.Floats(v)
	if err != nil {
		return nil, errAt(path+at, "%v", err)
	}
	return out, nil
}
