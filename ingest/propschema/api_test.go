package propschema_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/rs/zerolog"

	"github.com/user360/user360/ingest/propschema"
	"github.com/user360/user360/internal/config"
	"github.com/user360/user360/internal/defs"
	"github.com/user360/user360/internal/testenv"
)

func startDefs(t *testing.T, brokers []string, topic string) *defs.Store {
	t.Helper()
	return testenv.Defs(t, brokers, topic)
}

type api struct {
	t   *testing.T
	srv *httptest.Server
	key string
}

func (a api) do(method, path string, body any) (int, map[string]any) {
	a.t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, a.srv.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+a.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func newAPI(t *testing.T, store *defs.Store, tenant, key string, cfg propschema.Config) (api, *propschema.Service) {
	t.Helper()
	ts, err := config.NewTenants([]config.Tenant{{ID: tenant, APIKeys: []string{key}, WriteKeys: []string{key + "-w"}}})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := propschema.New(cfg, propschema.Deps{Tenants: ts, Defs: store, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	svc.Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return api{t: t, srv: srv, key: key}, svc
}

func TestPropertyAPI(t *testing.T) {
	k, topics := testenv.Kafka(t)
	store := startDefs(t, k.Addrs(), topics.Definitions)
	tenant := testenv.Tenant(t)
	cfg := propschema.DefaultConfig()
	a, svc := newAPI(t, store, tenant, "k1", cfg)

	t.Run("system properties are listed", func(t *testing.T) {
		st, body := a.do("GET", "/v1/schema/properties", nil)
		if st != 200 {
			t.Fatalf("status %d %v", st, body)
		}
		props := body["properties"].([]any)
		want := map[string]string{"userId": "string", "email": "email", "phone": "phone", "dob": "date",
			"whatsAppOptin": "boolean", "tags": "list", "lastSeenAt": "datetime", "timezone": "string"}
		got := map[string]string{}
		for _, p := range props {
			m := p.(map[string]any)
			if m["system"] != true {
				t.Errorf("%v not marked system", m["name"])
			}
			got[m["name"].(string)] = m["type"].(string)
		}
		if len(props) != 19 {
			t.Errorf("%d system properties, want 19", len(props))
		}
		for n, typ := range want {
			if got[n] != typ {
				t.Errorf("%s: type %q, want %q", n, got[n], typ)
			}
		}
	})

	t.Run("create, update, type change refused", func(t *testing.T) {
		st, body := a.do("POST", "/v1/schema/properties", map[string]any{"name": "plan", "type": "string", "description": "Plan"})
		if st != 201 || body["type"] != "string" {
			t.Fatalf("create: %d %v", st, body)
		}
		st, body = a.do("POST", "/v1/schema/properties", map[string]any{"name": "plan", "type": "string", "searchable": true})
		if st != 200 || body["searchable"] != true {
			t.Fatalf("update: %d %v", st, body)
		}
		st, body = a.do("POST", "/v1/schema/properties", map[string]any{"name": "plan", "type": "number"})
		if st != 409 || body["code"] != "typeChange" || body["field"] != "type" {
			t.Fatalf("type change: %d %v", st, body)
		}
		st, body = a.do("POST", "/v1/schema/properties", map[string]any{"name": "email", "type": "string"})
		if st != 409 || body["code"] != "typeChange" {
			t.Fatalf("system type change: %d %v", st, body)
		}
		st, body = a.do("POST", "/v1/schema/properties", map[string]any{"name": "Plan", "type": "string"})
		if st != 409 || body["code"] != "nameConflict" {
			t.Fatalf("case conflict: %d %v", st, body)
		}
		st, body = a.do("POST", "/v1/schema/properties", map[string]any{"name": "1bad", "type": "string"})
		if st != 400 || body["field"] != "name" {
			t.Fatalf("bad name: %d %v", st, body)
		}
		st, body = a.do("POST", "/v1/schema/properties", map[string]any{"name": "ok", "type": "money"})
		if st != 400 || body["field"] != "type" {
			t.Fatalf("bad type: %d %v", st, body)
		}
		st, body = a.do("GET", "/v1/schema/properties/plan", nil)
		if st != 200 || body["searchable"] != true || body["system"] != false {
			t.Fatalf("get: %d %v", st, body)
		}
		// The validator uses the new property at once (read-your-writes).
		tn := &config.Tenant{ID: tenant}
		_, problems := svc.Validator().Apply(tn, map[string]any{"plan": 3.0}, false)
		if len(problems) != 0 {
			t.Fatalf("number into string property: %v", problems)
		}
	})

	t.Run("another instance sees the schema", func(t *testing.T) {
		other := startDefs(t, k.Addrs(), topics.Definitions)
		v := propschema.NewValidator(other)
		p, ok := v.Property(tenant, "plan")
		if !ok || p.Type != propschema.TypeString || !p.Searchable {
			t.Fatalf("late instance: %+v %v", p, ok)
		}
	})

	t.Run("no API key, write key", func(t *testing.T) {
		b := a
		b.key = ""
		if st, _ := b.do("GET", "/v1/schema/properties", nil); st != 401 {
			t.Fatalf("no key: %d", st)
		}
		b.key = "k1-w"
		if st, _ := b.do("GET", "/v1/schema/properties", nil); st != 403 {
			t.Fatalf("write key: %d", st)
		}
	})
}

func TestPropertyLimit(t *testing.T) {
	k, topics := testenv.Kafka(t)
	store := startDefs(t, k.Addrs(), topics.Definitions)
	tenant := testenv.Tenant(t)
	a, _ := newAPI(t, store, tenant, "k2", propschema.DefaultConfig())
	custom := propschema.DefaultMaxProperties - len(propschema.SystemProperties())
	for i := range custom {
		st, body := a.do("POST", "/v1/schema/properties", map[string]any{"name": fmt.Sprintf("p%03d", i), "type": "number"})
		if st != 201 {
			t.Fatalf("property %d: %d %v", i, st, body)
		}
	}
	st, body := a.do("POST", "/v1/schema/properties", map[string]any{"name": "oneTooMany", "type": "number"})
	if st != 422 || body["code"] != "limitReached" {
		t.Fatalf("301st property: %d %v", st, body)
	}
	// Updating an existing one is still allowed at the limit.
	if st, body := a.do("POST", "/v1/schema/properties", map[string]any{"name": "p000", "type": "number", "description": "d"}); st != 200 {
		t.Fatalf("update at limit: %d %v", st, body)
	}
	st, body = a.do("GET", "/v1/schema/properties", nil)
	if st != 200 || int(body["count"].(float64)) != propschema.DefaultMaxProperties {
		t.Fatalf("count: %d %v", st, body["count"])
	}
}

func TestEventNameAPI(t *testing.T) {
	k, topics := testenv.Kafka(t)
	store := startDefs(t, k.Addrs(), topics.Definitions)
	tenant := testenv.Tenant(t)
	a, svc := newAPI(t, store, tenant, "k3", propschema.DefaultConfig())
	st, body := a.do("GET", "/v1/schema/events", nil)
	if st != 200 || body["allowList"] != false {
		t.Fatalf("empty: %d %v", st, body)
	}
	if !svc.Validator().EventAllowed(tenant, "Anything") {
		t.Fatal("no allow-list must allow all")
	}
	if st, body := a.do("POST", "/v1/schema/events", map[string]any{"name": "Order Completed"}); st != 201 {
		t.Fatalf("create: %d %v", st, body)
	}
	if st, body := a.do("POST", "/v1/schema/events", map[string]any{"name": ""}); st != 400 || body["field"] != "name" {
		t.Fatalf("empty name: %d %v", st, body)
	}
	st, body = a.do("GET", "/v1/schema/events", nil)
	if st != 200 || body["allowList"] != true || len(body["events"].([]any)) != 1 {
		t.Fatalf("list: %d %v", st, body)
	}
	if !svc.Validator().EventAllowed(tenant, "Order Completed") || svc.Validator().EventAllowed(tenant, "Other") {
		t.Fatal("allow-list not applied")
	}
	if st, _ := a.do("DELETE", "/v1/schema/events/Order%20Completed", nil); st != 204 {
		t.Fatalf("delete: %d", st)
	}
	if st, _ := a.do("DELETE", "/v1/schema/events/Order%20Completed", nil); st != 404 {
		t.Fatalf("delete again: %d", st)
	}
	if !svc.Validator().EventAllowed(tenant, "Other") {
		t.Fatal("allow-list still on after deleting its last name")
	}
}
