package segmenter

import (
	"encoding/json"
	"time"

	"github.com/user360/user360/segmenter/rules"
)

// Segment is a segment definition as stored in internal/defs and shown by
// the API.
type Segment struct {
	ID             string          `json:"id"`
	Name           string          `json:"name"`
	Description    string          `json:"description,omitempty"`
	Rule           json.RawMessage `json:"rule"`
	EmitOnBackfill bool            `json:"emitOnBackfill"`
	// Revision starts at 1 and grows with every edit; a backfill runs per
	// revision.
	Revision  int64     `json:"revision"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// compiled is a segment with its parsed rule and its place in the
// dependency graph.
type compiled struct {
	def        Segment
	rule       *rules.Rule
	depth      int // 1 + the largest depth of the segments it references
	order      int // position in dependency order (by depth, then id)
	dependents []*compiled
	conds      []*rules.EventCond
}
