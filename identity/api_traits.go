package identity

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/user360/user360/internal/httpx"
	"github.com/user360/user360/schemas"
)

// checkTraits validates the traits of identify events against the property
// schema: refused values are removed from the events and come back as dead
// letters (stage "ingest", the user API being an ingestion path) and as
// FieldErrors for the 202 body, named like the flat properties of the
// request (prefixes[i] + name, e.g. "users[1].age"; the dead letters keep
// the schema's "traits.age", the path in the published message).
func (s *Service) checkTraits(r *http.Request, events []schemas.Event, prefixes []string) ([]schemas.DeadLetter, []FieldError) {
	t := httpx.TenantFrom(r.Context())
	if s.deps.Traits == nil || t == nil {
		return nil, nil
	}
	var dead []schemas.DeadLetter
	var refused []FieldError
	for i := range events {
		e := &events[i]
		if e.Type != schemas.TypeIdentify || len(e.Traits) == 0 {
			continue
		}
		clean, problems := s.deps.Traits.ValidateTraits(t, e.Traits)
		if len(problems) == 0 {
			continue
		}
		if e.MessageID == "" {
			e.MessageID = uuid.NewString() // so the dead letters name it
		}
		original, _ := json.Marshal(e.Traits)
		e.Traits = clean
		for _, p := range problems {
			dead = append(dead, schemas.DeadLetter{
				Tenant: t.ID, Stage: "ingest", Reason: p.Code + ": " + p.Message,
				Field: p.Field, MessageID: e.MessageID, Original: original,
			})
			refused = append(refused, FieldError{Field: requestField(prefixes, i, p.Field), Error: p.Code + ": " + p.Message})
		}
	}
	return dead, refused
}

// requestField names a schema problem's field (a path under "traits.") as
// the user API's flat property of event i's record.
func requestField(prefixes []string, i int, field string) string {
	name := strings.TrimPrefix(field, "traits.")
	if i < len(prefixes) {
		return prefixes[i] + name
	}
	return name
}
