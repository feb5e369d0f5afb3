package identity

import (
	"regexp"
	"testing"

	"github.com/user360/user360/internal/testenv"
	"github.com/user360/user360/schemas"
)

// TestDifferentUserIDsAreNeverMerged: two users with different user_ids who
// share an email stay two profiles, whatever links them.
func TestDifferentUserIDsAreNeverMerged(t *testing.T) {
	g := newRig(t, testenv.Redis(t))
	g.apply(t,
		schemas.Event{Type: "identify", MessageID: "l1", UserID: "alice", AnonymousID: "dev-a", Traits: map[string]any{"email": "family@example.com"}, Timestamp: at(0)},
		schemas.Event{Type: "identify", MessageID: "l2", UserID: "bob", Traits: map[string]any{"email": "family@example.com"}, Timestamp: at(1)},
		// an anonymous id of alice's device shows up with bob
		schemas.Event{Type: "track", MessageID: "l3", UserID: "bob", AnonymousID: "dev-a", Event: "Viewed", Timestamp: at(2)},
		// a message carrying both user ids' identifiers but no user id
		schemas.Event{Type: "identify", MessageID: "l4", AnonymousID: "dev-b", Traits: map[string]any{"email": "family@example.com"}, Timestamp: at(3)},
	)
	alice := g.profile(t, "user_id:alice")
	bob := g.profile(t, "user_id:bob")
	if alice.ID == bob.ID {
		t.Fatal("alice and bob were merged")
	}
	if !hasIdentity(alice, "email", "family@example.com") || hasIdentity(bob, "email", "family@example.com") {
		t.Fatalf("the email must stay with the first owner: alice %v, bob %v", alice.Identities, bob.Identities)
	}
	if bob.Traits["email"] != "family@example.com" {
		t.Fatalf("the dropped identifier must stay a trait: %v", bob.Traits)
	}
	if hasIdentity(bob, "anonymous_id", "dev-a") {
		t.Fatal("alice's device id moved to bob")
	}
	if got := g.profile(t, "anonymous_id:dev-b").ID; got != alice.ID {
		t.Fatalf("dev-b resolved to %s, want alice's profile through the email", got)
	}
	// bob's track was still applied to bob.
	if bob.LastSeenAt != at(2) {
		t.Fatalf("bob last seen %v", bob.LastSeenAt)
	}
}

// TestLimitDropsLowestPriorityIdentifier: a merge that would exceed a limit
// drops the message's lowest-priority identifier and resolves again.
func TestLimitDropsLowestPriorityIdentifier(t *testing.T) {
	g := newRig(t, testenv.Redis(t))
	var evs []schemas.Event
	for i := range 5 {
		evs = append(evs, schemas.Event{Type: "track", MessageID: "a" + itoa(i), UserID: "u1", AnonymousID: "anon-" + itoa(i), Event: "E"})
	}
	g.apply(t, evs...)
	// a sixth anonymous id would exceed the default limit of 5
	g.apply(t, schemas.Event{Type: "identify", MessageID: "a6", UserID: "u1", AnonymousID: "anon-6", Traits: map[string]any{"city": "Pune"}})
	p := g.profile(t, "user_id:u1")
	if hasIdentity(p, "anonymous_id", "anon-6") || len(p.Identities) != 6 {
		t.Fatalf("identities = %v", p.Identities)
	}
	if p.Traits["city"] != "Pune" {
		t.Fatal("the message was not applied after dropping the identifier")
	}
}

// TestBlockedValuesNeverLink: blocked values (built-in and the tenant's own)
// stay traits but never become identifiers.
func TestBlockedValuesNeverLink(t *testing.T) {
	g := newRig(t, testenv.Redis(t))
	blocked := []map[string]any{
		{"email": "test@example.com"}, // the tenant's list
		{"email": "NULL"},
		{"phone": "0000000000"},
		{"whatsapp_id": "-1"},
		{"whatsapp_id": "undefined"},
		{"whatsapp_id": "0-0-0"},
	}
	for i, tr := range blocked {
		g.apply(t,
			schemas.Event{Type: "identify", MessageID: "x" + itoa(i), AnonymousID: "x-" + itoa(i), Traits: tr},
			schemas.Event{Type: "identify", MessageID: "y" + itoa(i), AnonymousID: "y-" + itoa(i), Traits: tr},
		)
		x, y := g.profile(t, "anonymous_id:x-"+itoa(i)), g.profile(t, "anonymous_id:y-"+itoa(i))
		if x.ID == y.ID {
			t.Fatalf("blocked %v linked two people", tr)
		}
		if len(x.Identities) != 1 {
			t.Fatalf("blocked %v became an identifier: %v", tr, x.Identities)
		}
		for k := range tr {
			if _, ok := x.Traits[k]; !ok {
				t.Fatalf("blocked value %v lost from the traits: %v", tr, x.Traits)
			}
		}
	}
	// A message whose only identifier is blocked is dead-lettered.
	g.apply(t, schemas.Event{Type: "identify", MessageID: "z", UserID: "0", Traits: map[string]any{"a": 1}})
	var found bool
	for _, d := range g.out.deadLetters(t) {
		if d.MessageID == "z" {
			found = true
		}
	}
	if !found {
		t.Fatal("no dead letter for a message without a usable identifier")
	}
}

// zerosAndDashes answers as the documented pattern ^[0-]*$ does.
func FuzzZerosAndDashes(f *testing.F) {
	blockedPattern := regexp.MustCompile(`^[0-]*$`)
	for _, s := range []string{"", "0", "-1", "000-000", "0-0a", "00\n", "é0", "--", " 0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := zerosAndDashes(s), blockedPattern.MatchString(s); got != want {
			t.Fatalf("%q: %v, pattern %v", s, got, want)
		}
	})
}
