package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// ErrInvalidJSON is returned for a body that is not the expected JSON.
var ErrInvalidJSON = errors.New("invalid JSON")

// request is a decoded tracking-API body: the raw messages plus what a batch
// declares for all of them.
type request struct {
	messages     []json.RawMessage
	single       map[string]json.RawMessage // the message of a single call
	context      json.RawMessage            // batch-level context
	integrations json.RawMessage            // batch-level integrations
	sentAt       json.RawMessage            // batch-level sentAt
	writeKey     string
}

type batchBody struct {
	Batch        json.RawMessage `json:"batch"`
	Context      json.RawMessage `json:"context"`
	Integrations json.RawMessage `json:"integrations"`
	SentAt       json.RawMessage `json:"sentAt"`
	WriteKey     json.RawMessage `json:"writeKey"`
}

// decodeRequest parses a body. batch selects the /v1/batch shape
// ({"batch":[…], "context", "sentAt", "writeKey"}); otherwise the body is one
// message. Messages are kept raw: each is checked on its own, so one bad
// message never rejects its neighbours.
func decodeRequest(body []byte, batch bool) (*request, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return nil, fmt.Errorf("%w: the body must be a JSON object", ErrInvalidJSON)
	}
	if !batch {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(body, &m); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidJSON, err)
		}
		req := &request{single: m}
		wk, err := optString(m["writeKey"])
		if err != nil {
			return nil, fmt.Errorf("%w: writeKey: %w", ErrInvalidJSON, err)
		}
		req.writeKey = wk
		return req, nil
	}
	var b batchBody
	if err := json.Unmarshal(body, &b); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidJSON, err)
	}
	req := &request{context: b.Context, integrations: b.Integrations, sentAt: b.SentAt}
	wk, err := optString(b.WriteKey)
	if err != nil {
		return nil, fmt.Errorf("%w: writeKey: %w", ErrInvalidJSON, err)
	}
	req.writeKey = wk
	if isNull(b.Batch) {
		return nil, fmt.Errorf("%w: \"batch\" is required and must be an array", ErrInvalidJSON)
	}
	if err := json.Unmarshal(b.Batch, &req.messages); err != nil {
		return nil, fmt.Errorf("%w: \"batch\" must be an array of messages", ErrInvalidJSON)
	}
	if !isNull(b.Context) && !isObject(b.Context) {
		return nil, fmt.Errorf("%w: \"context\" must be an object", ErrInvalidJSON)
	}
	return req, nil
}

func isNull(r json.RawMessage) bool {
	r = bytes.TrimSpace(r)
	return len(r) == 0 || string(r) == "null"
}

func isObject(r json.RawMessage) bool {
	r = bytes.TrimSpace(r)
	return len(r) > 0 && r[0] == '{'
}

var errNotString = errors.New("must be a string")

// optString decodes an optional JSON string ("" when absent or null).
func optString(r json.RawMessage) (string, error) {
	if isNull(r) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(r, &s); err != nil {
		return "", errNotString
	}
	return s, nil
}

// optID decodes an optional id: a string, or a number taken as its decimal
// text (SDKs of typed languages send numeric user ids).
func optID(r json.RawMessage) (string, error) {
	r = bytes.TrimSpace(r)
	if isNull(r) {
		return "", nil
	}
	switch r[0] {
	case '"':
		var s string
		if err := json.Unmarshal(r, &s); err != nil {
			return "", errNotString
		}
		return s, nil
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		var n json.Number
		if err := json.Unmarshal(r, &n); err != nil {
			return "", errors.New("must be a string or a number")
		}
		return n.String(), nil
	}
	return "", errors.New("must be a string or a number")
}
