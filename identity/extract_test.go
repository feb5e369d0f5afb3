package identity

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/user360/user360/internal/config"
	"github.com/user360/user360/schemas"
)

func TestExtractIdentifiers(t *testing.T) {
	r := compileRules(&config.Tenant{Identity: config.IdentityRules{
		Priority:         []string{"user_id", "email", "phone", "whatsapp"},
		TraitIdentifiers: map[string]string{"whatsapp_id": "whatsapp"},
		DefaultRegion:    "IN",
	}})
	e := &schemas.Event{
		Type: "identify", UserID: " 42 ", AnonymousID: "anon",
		Traits: map[string]any{"email": " A@B.COM ", "phone": "098450 12345", "whatsapp_id": "919845012345"},
		Context: map[string]any{"externalIds": []any{
			map[string]any{"id": "m-1", "type": "Messenger"},
			map[string]any{"id": "null", "type": "telegram"},
			map[string]any{"id": 77, "type": "crm"},
		}},
	}
	traits, probs := r.collectTraits(e)
	if len(probs) != 0 {
		t.Fatal(probs)
	}
	got := r.extractIdents(e, traits)
	want := []ident{
		{"user_id", "42"}, {"email", "a@b.com"}, {"phone", "+919845012345"}, {"whatsapp", "919845012345"},
		{"anonymous_id", "anon"}, {"crm", "77"}, {"messenger", "m-1"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %v\nwant %v", got, want)
	}
	if traits["email"] != "a@b.com" || traits["phone"] != "+919845012345" || traits["userId"] != "42" {
		t.Fatalf("traits = %v", traits)
	}
}

func TestSystemTraitsAreTyped(t *testing.T) {
	r := compileRules(&config.Tenant{})
	e := &schemas.Event{Type: "identify", UserID: "1", Traits: map[string]any{
		"emailOptin": "yes", "dob": "1990-05-17T00:00:00Z", "tags": "a, b,a", "createdAt": 1700000000.0,
		"first_name": "Asha", "smsOptin": "maybe", "plan": "pro",
	}}
	traits, probs := r.collectTraits(e)
	if len(probs) != 1 || probs[0].Field != "traits.smsOptin" {
		t.Fatalf("problems = %v", probs)
	}
	want := map[string]any{
		"emailOptin": true, "dob": "1990-05-17", "tags": []any{"a", "b"}, "createdAt": "2023-11-14T22:13:20Z",
		"firstName": "Asha", "plan": "pro", "userId": "1",
	}
	if !reflect.DeepEqual(traits, want) {
		t.Fatalf("got  %v\nwant %v", traits, want)
	}
}

func TestParseRef(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Ref
		ok   bool
	}{
		{"user_id:42", Ref{Type: "user_id", Value: "42"}, true},
		{"email:a@b.com", Ref{Type: "email", Value: "a@b.com"}, true},
		{"WhatsApp:9198", Ref{Type: "whatsapp", Value: "9198"}, true},
		{"p0123abcd", Ref{Value: "p0123abcd", ProfileID: true}, true},
		{"", Ref{}, false},
		{"bad type:x", Ref{}, false},
		{"email:", Ref{}, false},
	} {
		got, err := ParseRef(c.in)
		if (err == nil) != c.ok || (c.ok && got != c.want) {
			t.Errorf("ParseRef(%q) = %+v, %v", c.in, got, err)
		}
	}
}

// FuzzPrepare: no message makes the Go side of the processor panic.
func FuzzPrepare(f *testing.F) {
	for _, s := range []string{
		`{"type":"identify","messageId":"m","userId":"1","traits":{"email":"A@B.C","phone":"+1 415 555 2671","tags":"a,b","dob":"x"}}`,
		`{"type":"track","messageId":"m","anonymousId":"a","context":{"externalIds":[{"id":5,"type":"x"},{"id":null},7],"traits":{"phone":12}}}`,
		`{"type":"alias","messageId":"m","userId":"u","previousId":"p"}`,
		`{"type":"delete","messageId":"m","context":{"user360ProfileId":"p1"}}`,
		`{"type":"page","messageId":"m","anonymousId":"0","properties":{"a":[1,{"b":null}]}}`,
	} {
		f.Add([]byte(s))
	}
	r := compileRules(&config.Tenant{Identity: config.IdentityRules{TraitIdentifiers: map[string]string{"wa": "whatsapp"}}})
	s := NewStore(nil, "u360")
	f.Fuzz(func(t *testing.T, b []byte) {
		var pe plainEvent
		if json.Unmarshal(b, &pe) != nil {
			return
		}
		e := schemas.Event(pe)
		m, _, err := s.prepare("t", r, &e, fixedNow)
		if err == nil {
			if _, err := json.Marshal(&m); err != nil {
				t.Fatal(err)
			}
		}
	})
}
