package config

import (
	"errors"
	"strings"
	"testing"
)

func TestTenantsLookupByHashedKeys(t *testing.T) {
	ts, err := NewTenants([]Tenant{{ID: "demo", WriteKeys: []string{"wk"}, APIKeys: []string{"ak"}, Timezone: "Asia/Kolkata"}})
	if err != nil {
		t.Fatal(err)
	}
	if tn, ok := ts.ByWriteKey("wk"); !ok || tn.ID != "demo" {
		t.Fatal("write key not found")
	}
	if _, ok := ts.ByWriteKey("ak"); ok {
		t.Fatal("an API key worked as a write key")
	}
	if _, ok := ts.ByAPIKey("wk"); ok {
		t.Fatal("a write key worked as an API key")
	}
	if _, ok := ts.ByAPIKey(HashKey("ak")); ok {
		t.Fatal("the stored hash worked as a key")
	}
	tn, _ := ts.Get("demo")
	for _, k := range append(tn.WriteKeys, tn.APIKeys...) {
		if !strings.HasPrefix(k, "sha256:") {
			t.Fatalf("key kept in plain text: %q", k)
		}
	}
	if tn.Location().String() != "Asia/Kolkata" {
		t.Fatalf("location %v", tn.Location())
	}
}

func TestTenantsValidation(t *testing.T) {
	cases := []struct {
		name string
		in   []Tenant
		want error
	}{
		{"none", nil, ErrNoTenants},
		{"bad id", []Tenant{{ID: "a/b"}}, ErrInvalidTenant},
		{"bad tz", []Tenant{{ID: "a", Timezone: "Mars/Base"}}, ErrInvalidTenant},
		{"dup key", []Tenant{{ID: "a", WriteKeys: []string{"k"}}, {ID: "b", WriteKeys: []string{"k"}}}, ErrDuplicateKey},
		{"bad limit", []Tenant{{ID: "a", Identity: IdentityRules{Limits: map[string]int{"email": 0}}}}, ErrInvalidTenant},
	}
	for _, c := range cases {
		if _, err := NewTenants(c.in); !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
	}
}

func TestParseFileRejectsUnknownFields(t *testing.T) {
	_, err := ParseFile([]byte("tenants:\n  - id: demo\n    wirteKeys: [x]\n"))
	if err == nil {
		t.Fatal("typo accepted")
	}
	f, err := ParseFile([]byte("kafka:\n  brokers: [a:9092]\ntenants:\n  - id: demo\n    writeKeys: [x]\n    identity:\n      limits: {email: 2}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if f.Kafka.Brokers[0] != "a:9092" || f.Tenants[0].Identity.Limits["email"] != 2 {
		t.Fatalf("%+v", f)
	}
}

func TestRulesDefaults(t *testing.T) {
	tn := Tenant{ID: "a", Identity: IdentityRules{Limits: map[string]int{"email": 2}}}
	r := tn.Rules()
	if r.Limits["user_id"] != 1 || r.Limits["email"] != 2 || r.Priority[0] != "user_id" || r.DefaultRegion != "US" {
		t.Fatalf("%+v", r)
	}
}

// TestHashedKeysInConfig: a key configured as its hash matches the key,
// whatever the case of its hex digits; a malformed hash is refused at
// start instead of never matching; plain keys stay case-sensitive.
func TestHashedKeysInConfig(t *testing.T) {
	upper := "SHA256:" + strings.ToUpper(strings.TrimPrefix(HashKey("wk_secret"), "sha256:"))
	ts, err := NewTenants([]Tenant{{ID: "demo", WriteKeys: []string{upper}, APIKeys: []string{"Ak_Mixed"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ts.ByWriteKey("wk_secret"); !ok {
		t.Fatal("an uppercase hash does not match its key")
	}
	if _, ok := ts.ByAPIKey("ak_mixed"); ok {
		t.Fatal("a plain key matched in another case")
	}
	for _, bad := range []string{"sha256:ZZ", "sha256:" + strings.Repeat("a", 63), "sha256:" + strings.Repeat("g", 64)} {
		if _, err := NewTenants([]Tenant{{ID: "demo", WriteKeys: []string{bad}}}); !errors.Is(err, ErrInvalidTenant) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
