package loadgen

import (
	"bytes"
	"encoding/json"

	"github.com/user360/user360/internal/jsonscan"
)

// change is what the pipeline measurement reads of a segment change.
type change struct{ Type, SegmentID, UserID, MessageID string }

// decodeChange reads a segment change's type, segment, user and message
// ids. It scans the record instead of decoding it with reflection: on a
// 2-core machine the load tool's own CPU is taken from the pipeline it
// measures. Values with escapes go through encoding/json.
func decodeChange(b []byte) (change, bool) {
	var c change
	escaped := false
	ok := jsonscan.Members(b, 0, func(key, val []byte) bool {
		var dst *string
		switch string(key) {
		case "type":
			dst = &c.Type
		case "segmentId":
			dst = &c.SegmentID
		case "userId":
			dst = &c.UserID
		case "messageId":
			dst = &c.MessageID
		default:
			return true
		}
		if len(val) < 2 || val[0] != '"' {
			return true // not a string: left empty, as json.Unmarshal would fail
		}
		raw := val[1 : len(val)-1]
		if bytes.IndexByte(raw, '\\') >= 0 {
			escaped = true
			return false
		}
		*dst = string(raw)
		return true
	})
	if escaped || !ok {
		c = change{}
		return c, json.Unmarshal(b, &c) == nil
	}
	return c, true
}
