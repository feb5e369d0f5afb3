package rules

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
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
	return floats(v, path)
}

// floats replaces every json.Number in v by its float64 value.
func floats(v any, path string) (any, error) {
	switch x := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return nil, errAt(path, "the number %s is out of range (a double-precision number is at most about 1.8e308)", clip(string(x)))
		}
		return f, nil
	case map[string]any:
		for _, k := range sortedKeys(x) {
			e, err := floats(x[k], path+"."+k)
			if err != nil {
				return nil, err
			}
			x[k] = e
		}
	case []any:
		for i, e := range x {
			f, err := floats(e, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			x[i] = f
		}
	}
	return v, nil
}

// clip shortens a literal quoted in an error message.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
