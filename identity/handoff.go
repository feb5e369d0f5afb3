package identity

import (
	"encoding/json"
	"time"

	"github.com/user360/user360/schemas"
)

// Update is a profile update as the processor builds it, before it is
// encoded as a profile-updates record (see SendUpdatesTo). Changes holds
// the changed trait names (with zero values); Traits is nil and
// TraitsJSON holds the profile's traits object as the record would.
type Update struct {
	schemas.ProfileUpdate
	TraitsJSON json.RawMessage
}

// SendUpdatesTo makes the processor hand each batch's profile updates to
// fn, in order and before Handle returns, instead of encoding them as
// records for produce (dead letters still go to produce). A replay uses
// it: its segmenter runs in the same process, so encoding every update
// only to decode it again would be wasted work.
func (p *Processor) SendUpdatesTo(fn func([]Update)) { p.sink = fn }

// handoff turns a built update into its unencoded form.
func handoff(u *wireUpdate, e *schemas.Event, ts time.Time, out *luaOut) Update {
	h := Update{ProfileUpdate: schemas.ProfileUpdate{
		Type: u.Type, MessageID: u.MessageID, Tenant: u.Tenant, ProfileID: u.ProfileID, UserID: u.UserID,
		Identities: u.Identities, Merge: u.Merge, Timestamp: u.Timestamp,
	}, TraitsJSON: u.Traits}
	if u.Event != nil {
		sum, _ := summary(e, ts)
		h.Event = &sum
	}
	if u.Changes != nil {
		h.Changes = make(map[string]schemas.TraitChange, len(out.Ch))
		for _, c := range out.Ch {
			if len(c) == 3 {
				h.Changes[c[0]] = schemas.TraitChange{}
			}
		}
	}
	return h
}
