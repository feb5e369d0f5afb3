package identity

import (
	"encoding/json"
	"time"

	"github.com/user360/user360/internal/jsonscan"
	"github.com/user360/user360/schemas"
)

// encodeSummary returns exactly json.Marshal(s) (the timeline entry is
// encoded once per event on the hot path); properties go through
// jsonscan.AppendJSON (encoding/json only for a value that decoding JSON
// does not yield). FuzzEncodeSummary holds the two equal.
func encodeSummary(s *schemas.EventSummary) ([]byte, error) {
	if !schemas.JSONTime(s.Timestamp) {
		return json.Marshal(s) // the same error encoding/json gives
	}
	b := make([]byte, 0, 160+len(s.Name)+len(s.MessageID))
	b = append(b, `{"type":`...)
	b = appendJSONString(b, s.Type)
	if s.Name != "" {
		b = append(b, `,"name":`...)
		b = appendJSONString(b, s.Name)
	}
	b = append(b, `,"messageId":`...)
	b = appendJSONString(b, s.MessageID)
	if len(s.Properties) > 0 {
		b = append(b, `,"properties":`...)
		var err error
		if b, err = jsonscan.AppendJSON(b, s.Properties); err != nil {
			return nil, err
		}
	}
	b = append(b, `,"timestamp":"`...)
	b = s.Timestamp.AppendFormat(b, time.RFC3339Nano)
	return append(b, `"}`...), nil
}
