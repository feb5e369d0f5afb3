package jsonscan

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
)

// Floats replaces every json.Number in v (a value decoded with UseNumber)
// by its float64, what decoding without UseNumber gives, in place in maps
// and slices, and returns the new v. A number out of float64's range (1e400)
// is an error, with the path to it below v (".key", "[i]"; keys in sorted
// order, so the path named is the same every time).
func Floats(v any) (any, string, error) {
	switch x := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return nil, "", fmt.Errorf("the number %s is out of range (a double-precision number is at most about 1.8e308)", clip(string(x)))
		}
		return f, "", nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			e, at, err := Floats(x[k])
			if err != nil {
				return nil, "." + k + at, err
			}
			x[k] = e
		}
	case []any:
		for i, e := range x {
			f, at, err := Floats(e)
			if err != nil {
				return nil, "[" + strconv.Itoa(i) + "]" + at, err
			}
			x[i] = f
		}
	}
	return v, "", nil
}

// clip shortens a literal quoted in an error message.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
