package segmenter

import (
	"context"
	"encoding/json"

	"github.com/user360/user360/schemas"
)

// Input is a profile update handed to the segmenter in process instead of
// as a profile-updates record (a replay's identity stage hands over its
// updates this way). Update.Changes needs only the changed trait names;
// Update.Traits is ignored: TraitsJSON holds the profile's traits object
// as the record would carry it. Partition and Offset play the record's
// part in skipping what was applied already.
type Input struct {
	Update     schemas.ProfileUpdate
	TraitsJSON json.RawMessage
	Partition  int32
	Offset     int64
}

// HandleInputs is Handle for in-process updates: the same checks and the
// same processing, without decoding records.
func (s *Service) HandleInputs(ctx context.Context, ins []Input) error {
	ups := make([]*update, 0, len(ins))
	for i := range ins {
		in := &ins[i]
		u := &update{ProfileUpdate: in.Update, partition: in.Partition, offset: in.Offset}
		u.Traits = nil
		if len(in.TraitsJSON) > 0 && string(in.TraitsJSON) != "null" {
			if in.TraitsJSON[0] != '{' {
				s.metrics.updates.WithLabelValues("", "invalid").Inc()
				continue
			}
			u.traitsRaw = in.TraitsJSON
		}
		if u.Tenant == "" || u.ProfileID == "" {
			s.metrics.updates.WithLabelValues("", "invalid").Inc()
			continue
		}
		ups = append(ups, u)
	}
	return s.handleUpdates(ctx, ups)
}
