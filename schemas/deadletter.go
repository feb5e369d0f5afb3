package schemas

import (
	"encoding/json"
	"time"
)

// DeadLetter is a record of the deadletter topic: input that a stage could
// not apply, with the reason. Original is the input as received (a message,
// a CSV row as JSON, a webhook delivery), so it can be inspected and replayed.
type DeadLetter struct {
	Tenant     string          `json:"tenant"`
	Stage      string          `json:"stage"`           // ingest, identity, segmenter, activation, import
	Reason     string          `json:"reason"`          // human-readable
	Field      string          `json:"field,omitempty"` // the field at fault, e.g. "batch[3].event"
	Index      *int            `json:"index,omitempty"` // position in a batch
	MessageID  string          `json:"messageId,omitempty"`
	Original   json.RawMessage `json:"original,omitempty"`
	ReceivedAt time.Time       `json:"receivedAt"`
}
