package propschema

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/user360/user360/internal/config"
)

// memStore is a small in-test fake of the defs store interface, for the
// pure validation logic (the API tests use the real store).
type memStore struct {
	subs map[string][]func(tenant, id string, v json.RawMessage)
}

func (m *memStore) Put(_ context.Context, kind, tenant, id string, value any) error {
	b, err := json.Marshal(value)
	if err != nil {
		return err
	}
	for _, fn := range m.subs[kind] {
		fn(tenant, id, b)
	}
	return nil
}

func (m *memStore) Delete(_ context.Context, kind, tenant, id string) error {
	for _, fn := range m.subs[kind] {
		fn(tenant, id, nil)
	}
	return nil
}

func (m *memStore) Subscribe(kind string, fn func(tenant, id string, v json.RawMessage)) {
	if m.subs == nil {
		m.subs = map[string][]func(string, string, json.RawMessage){}
	}
	m.subs[kind] = append(m.subs[kind], fn)
}

func tenants(t *testing.T, list ...config.Tenant) *config.Tenants {
	t.Helper()
	ts, err := config.NewTenants(list)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func TestApplyProblemCodes(t *testing.T) {
	st := &memStore{}
	v := NewValidator(st)
	ctx := context.Background()
	_ = st.Put(ctx, KindProperty, "acme", "age", Property{Name: "age", Type: TypeNumber})
	_ = st.Put(ctx, KindProperty, "acme", "vip", Property{Name: "vip", Type: TypeBoolean})
	_ = st.Put(ctx, KindProperty, "other", "plan", Property{Name: "plan", Type: TypeNumber})
	ts := tenants(t, config.Tenant{ID: "acme"}, config.Tenant{ID: "strict", StrictSchema: true})
	acme, _ := ts.Get("acme")
	strict, _ := ts.Get("strict")

	cases := []struct {
		name      string
		tenant    *config.Tenant
		csv       bool
		in        map[string]any
		want      map[string]any
		wantCodes map[string]string // field → code
	}{
		{"coerced", acme, false,
			map[string]any{"age": "42", "vip": "TRUE", "email": "a@b.co", "emailOptin": false},
			map[string]any{"age": 42.0, "vip": true, "email": "a@b.co", "emailOptin": false}, nil},
		{"bad values dropped, rest kept", acme, false,
			map[string]any{"age": "old", "email": "nope", "firstName": "Ada"},
			map[string]any{"firstName": "Ada"},
			map[string]string{"age": CodeInvalidDataType, "email": CodeInvalidDataType}},
		{"unknown kept untyped", acme, false,
			map[string]any{"plan": "gold", "nested": map[string]any{"a": 1.0}},
			map[string]any{"plan": "gold", "nested": map[string]any{"a": 1.0}}, nil},
		{"untyped strings capped", acme, false,
			map[string]any{"note": strings.Repeat("x", 256), "ok": "y"},
			map[string]any{"ok": "y"}, map[string]string{"note": CodeValueTooLong}},
		{"strict rejects unknown", strict, false,
			map[string]any{"plan": "gold", "firstName": "Ada"},
			map[string]any{"firstName": "Ada"}, map[string]string{"plan": CodeInvalidProperty}},
		{"csv list", acme, true,
			map[string]any{"tags": "a;b", "vip": "no"},
			map[string]any{"tags": []any{"a", "b"}, "vip": false}, nil},
		{"null unsets", acme, false,
			map[string]any{"age": nil}, map[string]any{"age": nil}, nil},
		{"nil tenant", nil, false,
			map[string]any{"dob": "2000-01-01", "x": 1.0}, map[string]any{"dob": "2000-01-01", "x": 1.0}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := make(map[string]any, len(c.in))
			for k, x := range c.in {
				in[k] = x
			}
			got, problems := v.Apply(c.tenant, in, c.csv)
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("clean = %#v, want %#v", got, c.want)
			}
			if !reflect.DeepEqual(in, c.in) {
				t.Errorf("input modified: %#v", in)
			}
			codes := map[string]string{}
			for i, p := range problems {
				codes[p.Field] = p.Code
				if p.Message == "" {
					t.Errorf("problem %s has no message", p.Field)
				}
				if i > 0 && problems[i-1].Field > p.Field {
					t.Errorf("problems not sorted: %v", problems)
				}
			}
			if len(c.wantCodes) == 0 {
				c.wantCodes = map[string]string{}
			}
			if !reflect.DeepEqual(codes, c.wantCodes) {
				t.Errorf("problems = %v, want %v", problems, c.wantCodes)
			}
		})
	}
}

func TestEventAllowed(t *testing.T) {
	st := &memStore{}
	v := NewValidator(st)
	if !v.EventAllowed("acme", "Anything") {
		t.Fatal("no allow-list must allow every name")
	}
	_ = st.Put(context.Background(), KindEventName, "acme", "Order Completed", EventName{Name: "Order Completed"})
	if !v.EventAllowed("acme", "Order Completed") || v.EventAllowed("acme", "Other") {
		t.Fatal("allow-list not honoured")
	}
	if !v.EventAllowed("beta", "Other") {
		t.Fatal("allow-list leaked to another tenant")
	}
	_ = st.Delete(context.Background(), KindEventName, "acme", "Order Completed")
	if !v.EventAllowed("acme", "Other") {
		t.Fatal("empty allow-list must allow every name")
	}
}

func TestUnreadableDefinitionIsIgnored(t *testing.T) {
	st := &memStore{}
	v := NewValidator(st)
	for _, fn := range st.subs[KindProperty] {
		fn("acme", "age", json.RawMessage(`{"name":"age","type":"weird"}`))
		fn("acme", "x", json.RawMessage(`not json`))
	}
	if _, ok := v.Property("acme", "age"); ok {
		t.Fatal("a definition with an unknown type was applied")
	}
}

func BenchmarkApply(b *testing.B) {
	st := &memStore{}
	v := NewValidator(st)
	_ = st.Put(context.Background(), KindProperty, "acme", "age", Property{Name: "age", Type: TypeNumber})
	ts, _ := config.NewTenants([]config.Tenant{{ID: "acme"}})
	acme, _ := ts.Get("acme")
	traits := map[string]any{"firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com",
		"age": "36", "emailOptin": true, "createdAt": "2024-05-01T10:00:00Z", "plan": "gold"}
	b.ReportAllocs()
	for b.Loop() {
		_, _ = v.Apply(acme, traits, false)
	}
}

// Apply runs while definitions change (run with -race).
func TestValidatorConcurrentUse(t *testing.T) {
	st := &memStore{}
	v := NewValidator(st)
	tn := &config.Tenant{ID: "acme"}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 200 {
			name := "p" + strings.Repeat("x", i%5) + string(rune('a'+i%26))
			_ = st.Put(context.Background(), KindProperty, "acme", name, Property{Name: name, Type: TypeNumber})
		}
	}()
	for i := 0; ; i++ {
		clean, _ := v.Apply(tn, map[string]any{"pa": "1", "email": "a@b.co"}, false)
		if clean["email"] != "a@b.co" {
			t.Fatalf("clean %v", clean)
		}
		_ = v.Properties("acme")
		select {
		case <-done:
			if p, ok := v.Property("acme", "pa"); !ok || p.Type != TypeNumber {
				t.Fatalf("pa: %+v %v", p, ok)
			}
			return
		default:
		}
	}
}
