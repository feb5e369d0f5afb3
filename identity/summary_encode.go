package identity

import (
	"encoding/json"
	"time"

	"github.com/user360/user360/schemas"
)

// encodeSummary returns exactly json.Marshal(s) (the timeline entry is
// encoded once per event on the hot path); only the properties go through
// encoding/json. FuzzEncodeSummary holds the two equal.
func encodeSummary(s *schemas.EventSummary) ([]byte, error) {
	var props []byte
	if len(s.Properties) > 0 {
		var err error
		if props, err = json.Marshal(s.Properties); err != nil {
			return nil, err
		}
	}
	if !jsonTime(s.Timestamp) {
		return json.Marshal(s) // the same error encoding/json gives
	}
	b := make([]byte, 0, 96+len(s.Name)+len(s.MessageID)+len(props))
	b = append(b, `{"type":`...)
	b = appendJSONString(b, s.Type)
	if s.Name != "" {
		b = append(b, `,"name":`...)
		b = appendJSONString(b, s.Name)
	}
	b = append(b, `,"messageId":`...)
	b = appendJSONString(b, s.MessageID)
	if props != nil {
		b = append(b, `,"properties":`...)
		b = append(b, props...)
	}
	b = append(b, `,"timestamp":"`...)
	b = s.Timestamp.AppendFormat(b, time.RFC3339Nano)
	return append(b, `"}`...), nil
}
