package propschema

import (
	"encoding/json"
	"time"

	"github.com/user360/user360/schemas"
)

// DeadLetters builds one dead-letter record per problem, for the caller to
// publish with the cleaned message. fieldPrefix is prepended to each
// problem's field ("traits.", "batch[3].traits.").
func DeadLetters(tenant, stage, messageID, fieldPrefix string, original json.RawMessage, problems []Problem, now time.Time) []schemas.DeadLetter {
	out := make([]schemas.DeadLetter, 0, len(problems))
	for _, p := range problems {
		out = append(out, schemas.DeadLetter{
			Tenant:     tenant,
			Stage:      stage,
			Reason:     p.Code + ": " + p.Message,
			Field:      fieldPrefix + p.Field,
			MessageID:  messageID,
			Original:   original,
			ReceivedAt: now.UTC(),
		})
	}
	return out
}
