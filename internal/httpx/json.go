package httpx

import (
	"encoding/json"
	"net/http"
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
		WriteError(w, http.StatusBadRequest, "invalid_json", "request body is not valid JSON: "+err.Error(), "")
		return false
	}
	return true
}
