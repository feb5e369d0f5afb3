package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/user360/user360/internal/jsonscan"
)

// ErrInvalidJSON is returned for a body that is not the expected JSON.
var ErrInvalidJSON = errors.New("invalid JSON")

// request is a decoded tracking-API body: the raw messages plus what a batch
// declares for all of them.
type request struct {
	messages     []json.RawMessage
	single       fields          // the message of a single call
	singleRaw    json.RawMessage // its bytes, for the dead-letter topic
	context      json.RawMessage // batch-level context
	integrations json.RawMessage // batch-level integrations
	sentAt       json.RawMessage // batch-level sentAt
	writeKey     string
}

// decodeRequest parses a body. batch selects the /v1/batch shape
// ({"batch":[…], "context", "sentAt", "writeKey"}); otherwise the body is one
// message. The body is validated once; messages are kept raw and checked one
// by one, so one bad message never rejects its neighbours. A batch whose own
// keys are ambiguous (see checkAmbiguous) fails as a *fieldError.
func decodeRequest(body []byte, batch bool) (*request, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return nil, fmt.Errorf("%w: the body must be a JSON object", ErrInvalidJSON)
	}
	if !jsonscan.Valid(body) {
		var v any
		err := json.Unmarshal(body, &v)
		return nil, fmt.Errorf("%w: %w", ErrInvalidJSON, err)
	}
	top, err := splitObject(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidJSON, err)
	}
	wk, err := optString(top.get("writeKey"))
	if err != nil {
		return nil, fmt.Errorf("%w: writeKey: %w", ErrInvalidJSON, err)
	}
	req := &request{writeKey: wk}
	if !batch {
		req.single, req.singleRaw = top, body
		return req, nil
	}
	if fe := checkAmbiguous(top, batchFields); fe != nil {
		return nil, fe
	}
	req.context, req.integrations, req.sentAt = top.get("context"), top.get("integrations"), top.get("sentAt")
	b := top.get("batch")
	if isNull(b) {
		return nil, fmt.Errorf("%w: \"batch\" is required and must be an array", ErrInvalidJSON)
	}
	if req.messages, err = splitArray(b); err != nil {
		return nil, fmt.Errorf("%w: \"batch\" must be an array of messages", ErrInvalidJSON)
	}
	if !isNull(req.context) && !isObject(req.context) {
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
	if r[0] != '"' {
		return "", errNotString
	}
	if bytes.IndexByte(r, '\\') < 0 {
		return string(r[1 : len(r)-1]), nil
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
		return optString(r)
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		var n json.Number
		if err := json.Unmarshal(r, &n); err != nil {
			return "", errors.New("must be a string or a number")
		}
		return n.String(), nil
	}
	return "", errors.New("must be a string or a number")
}
