package csvimport

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/user360/user360/ingest/propschema"
)

// fakeDefs is a small in-test fake of the definitions store interface
// (owned by propschema) for the pure mapping logic.
type fakeDefs struct {
	subs map[string][]func(tenant, id string, v json.RawMessage)
}

func (f *fakeDefs) Put(_ context.Context, kind, tenant, id string, value any) error {
	b, _ := json.Marshal(value)
	for _, fn := range f.subs[kind] {
		fn(tenant, id, b)
	}
	return nil
}
func (f *fakeDefs) Delete(context.Context, string, string, string) error { return nil }
func (f *fakeDefs) Subscribe(kind string, fn func(tenant, id string, v json.RawMessage)) {
	if f.subs == nil {
		f.subs = map[string][]func(string, string, json.RawMessage){}
	}
	f.subs[kind] = append(f.subs[kind], fn)
}

func testSchema(t *testing.T) *propschema.Validator {
	t.Helper()
	d := &fakeDefs{}
	v := propschema.NewValidator(d)
	_ = d.Put(context.Background(), propschema.KindProperty, "acme", "loyaltyPoints", propschema.Property{Name: "loyaltyPoints", Type: propschema.TypeNumber})
	return v
}

func describe(cols []Column) string {
	var parts []string
	for _, c := range cols {
		switch {
		case c.ID:
			parts = append(parts, c.Header+"=ID")
		case c.Skipped != "":
			parts = append(parts, c.Header+"=-")
		default:
			parts = append(parts, c.Header+"="+c.Property+":"+c.Type)
		}
	}
	return strings.Join(parts, " ")
}

func TestMapColumns(t *testing.T) {
	v := testSchema(t)
	cases := []struct {
		name      string
		headers   []string
		idColumn  string
		overrides map[string]string
		strict    bool
		want      string
		wantErr   string // field of the FieldError
	}{
		{"exact, case-insensitive and close names",
			[]string{"userId", "EMAIL", "Phone Number", "first_name", "Date of Birth", "loyalty_points", "Favourite Color"}, "", nil, false,
			"userId=ID EMAIL=email:email Phone Number=phone:phone first_name=firstName:string Date of Birth=dob:date loyalty_points=loyaltyPoints:number Favourite Color=Favourite Color:", ""},
		{"synonyms",
			[]string{"customer_id", "Mobile", "Surname", "Tags", "e-mail"}, "", nil, false,
			"customer_id=ID Mobile=phone:phone Surname=lastName:string Tags=tags:list e-mail=email:email", ""},
		{"explicit id column", []string{"ref", "id", "email"}, "Ref", nil, false,
			"ref=ID id=- email=email:email", ""},
		{"overrides and skip", []string{"ref", "Tel", "junk"}, "ref", map[string]string{"tel": "phone", "junk": "-"}, false,
			"ref=ID Tel=phone:phone junk=-", ""},
		{"override to a custom trait", []string{"ref", "Plan"}, "ref", map[string]string{"Plan": "plan_name"}, false,
			"ref=ID Plan=plan_name:", ""},
		{"strict skips unknown", []string{"ref", "email", "Favourite Color"}, "ref", nil, true,
			"ref=ID email=email:email Favourite Color=-", ""},
		{"strict refuses a mapping to an unknown property", []string{"ref", "x"}, "ref", map[string]string{"x": "nope"}, true, "", "map"},
		{"id column missing", []string{"a", "b"}, "ref", nil, false, "", "idColumn"},
		{"mapping names a missing column", []string{"ref"}, "ref", map[string]string{"nope": "email"}, false, "", "map"},
		{"two columns for one property", []string{"EMAIL", "e-mail address"}, "", nil, false, "", "map"},
		{"mapping to the user id with an id column", []string{"cid", "other"}, "cid", map[string]string{"other": "userId"}, false, "", "map"},
		{"mapping to the user id in another case", []string{"cid", "other"}, "cid", map[string]string{"other": "USERID"}, false, "", "map"},
		{"mapping to the user id without an id column", []string{"other", "email"}, "", map[string]string{"other": "userid"}, false,
			"other=ID email=email:email", ""},
		{"empty header skipped", []string{"id", ""}, "", nil, false, "id=ID =-", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cols, err := mapColumns(c.headers, c.idColumn, c.overrides, v, "acme", c.strict)
			if c.wantErr != "" {
				var fe *FieldError
				if !errors.As(err, &fe) || fe.Field != c.wantErr || !errors.Is(err, ErrInvalidHeader) {
					t.Fatalf("err = %v, want a header error on %s (cols %s)", err, c.wantErr, describe(cols))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := describe(cols); got != c.want {
				t.Errorf("\n got %s\nwant %s", got, c.want)
			}
		})
	}
}
