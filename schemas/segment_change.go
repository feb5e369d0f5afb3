package schemas

import "time"

// Types of SegmentChange records.
const (
	SegmentEntered = "segment.entered"
	SegmentExited  = "segment.exited"
)

// Causes of a segment change.
const (
	CauseEvent      = "event"
	CauseTime       = "time"
	CauseBackfill   = "backfill"
	CauseDefinition = "definition"
	CauseMerge      = "merge"
	CauseDelete     = "delete"
)

// SegmentChange is a record of the segment-changes topic, keyed by
// tenant + "/" + profile id, in order per profile. MessageID is deterministic
// so that consumers can deduplicate redeliveries.
type SegmentChange struct {
	Type        string     `json:"type"`
	MessageID   string     `json:"messageId"`
	Tenant      string     `json:"tenant"`
	SegmentID   string     `json:"segmentId"`
	SegmentName string     `json:"segmentName"`
	ProfileID   string     `json:"profileId"`
	UserID      string     `json:"userId,omitempty"`
	Identities  []Identity `json:"identities"`
	Timestamp   time.Time  `json:"timestamp"`
	Cause       string     `json:"cause"`
}
