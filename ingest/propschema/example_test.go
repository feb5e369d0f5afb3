package propschema_test

import (
	"fmt"

	"github.com/user360/user360/ingest/propschema"
	"github.com/user360/user360/internal/config"
)

func ExampleValidator_Apply() {
	// Without a store the validator knows the system properties only.
	v := propschema.NewValidator(nil)
	tenant := &config.Tenant{ID: "acme"}
	clean, problems := v.Apply(tenant, map[string]any{
		"email":      "ada@example.com",
		"emailOptin": "TRUE",
		"dob":        "1815-12-10",
		"phone":      "not a phone",
		"plan":       "gold", // unknown: kept as an untyped custom trait
	}, false)
	fmt.Println(clean["emailOptin"], clean["dob"], clean["plan"])
	for _, p := range problems {
		fmt.Println(p.Field, p.Code)
	}
	// Output:
	// true 1815-12-10 gold
	// phone invalidDataType
}
