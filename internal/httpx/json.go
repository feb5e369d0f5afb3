package httpx

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
)

// Error is the body of every error response.
type Error struct {
	Error string `json:"error"`           // human-readable reason
	Code  string `json:"code,omitempty"`  // machine-readable, e.g. "invalid_json"
	Field string `json:"field,omitempty"` // the field at fault, as a JSON path
}

// WriteJSON writes v with a status code.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// WriteError writes an Error.
func WriteError(w http.ResponseWriter, status int, code, msg, field string) {
	WriteJSON(w, status, Error{Error: msg, Code: code, Field: field})
}

// DecodeJSON decodes a request body of at most limit bytes into v and
// answers 400/413 itself when it cannot; it returns false then.
func DecodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) bool {
	return decodeJSON(w, r, limit, v, false)
}

// DecodeJSONNumbers is DecodeJSON with numbers decoded as json.Number
// (exact: an integer id beyond 2^53 keeps its digits).
func DecodeJSONNumbers(w http.ResponseWriter, r *http.Request, limit int64, v any) bool {
	return decodeJSON(w, r, limit, v, true)
}

func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any, numbers bool) bool {
	body := http.MaxBytesReader(w, r.Body, limit)
	dec := json.NewDecoder(body)
	if numbers {
		dec.UseNumber()
	}
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if asMaxBytes(err, &mbe) {
			WriteError(w, http.StatusRequestEntityTooLarge, "too_large", "request body is larger than the limit", "")
			return false
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			// valid JSON, a member of the wrong type: name it
			WriteError(w, http.StatusBadRequest, "invalid_type", te.Field+" must be "+jsonKind(te.Type)+", not "+te.Value, te.Field)
			return false
		}
		WriteError(w, http.StatusBadRequest, "invalid_json", "request body is not valid JSON: "+err.Error(), "")
		return false
	}
	return true
}

// jsonKind names the JSON kind a Go type decodes from.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return "a " + t.String()
}
