package config_test

import (
	"fmt"

	"github.com/user360/user360/internal/config"
)

func ExampleNewTenants() {
	f, _ := config.ParseFile([]byte(`
tenants:
  - id: demo
    writeKeys: [wk_demo]
    apiKeys: [ak_demo]
    timezone: Asia/Kolkata
`))
	ts, _ := config.NewTenants(f.Tenants)
	t, ok := ts.ByWriteKey("wk_demo")
	fmt.Println(t.ID, ok, t.Location())
	_, ok = ts.ByAPIKey("wk_demo")
	fmt.Println(ok)
	// Output:
	// demo true Asia/Kolkata
	// false
}
