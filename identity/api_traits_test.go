package identity

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/user360/user360/ingest"
	"github.com/user360/user360/internal/config"
	"github.com/user360/user360/internal/testenv"
	"github.com/user360/user360/schemas"
)

// numbersOnlyAge is a property schema with one typed trait: age, a number.
type numbersOnlyAge struct{}

func (numbersOnlyAge) ValidateTraits(_ *config.Tenant, traits map[string]any) (map[string]any, []ingest.Problem) {
	out := map[string]any{}
	var problems []ingest.Problem
	for k, v := range traits {
		if _, isNum := v.(float64); k == "age" && !isNum {
			problems = append(problems, ingest.Problem{Field: "traits.age", Code: "invalidDataType", Message: "age must be a number"})
			continue
		}
		out[k] = v
	}
	return out, problems
}

func TestUserAPIValidatesTraitsAgainstTheSchema(t *testing.T) {
	a := newAPIRig(t)
	a.svc.deps.Traits = numbersOnlyAge{}
	code, body := a.call(t, "POST", "/v1/users", "api-"+a.tenant, map[string]any{"userId": "v1", "age": "old", "city": "Pune"})
	if code != 202 {
		t.Fatalf("%d %s", code, body)
	}
	var acc Accepted
	if err := json.Unmarshal(body, &acc); err != nil || len(acc.Rejected) != 1 || acc.Rejected[0].Field != "age" {
		t.Fatalf("202 body %s, want the refused age listed", body)
	}
	ev := testenv.ReadAll(t, a.brokers, a.topics.Events, 1, 15*time.Second)
	if len(ev) != 1 {
		t.Fatalf("%d events", len(ev))
	}
	var e schemas.Event
	_ = json.Unmarshal(ev[0].Value, &e)
	if _, has := e.Traits["age"]; has || e.Traits["city"] != "Pune" {
		t.Fatalf("published traits %v: age must be dropped, city kept", e.Traits)
	}
	dl := testenv.ReadAll(t, a.brokers, a.topics.DeadLetter, 1, 15*time.Second)
	var d schemas.DeadLetter
	if len(dl) != 1 || json.Unmarshal(dl[0].Value, &d) != nil || d.Field != "traits.age" || d.MessageID != e.MessageID {
		t.Fatalf("dead letters %d %+v, want one for traits.age of %s", len(dl), d, e.MessageID)
	}
}
