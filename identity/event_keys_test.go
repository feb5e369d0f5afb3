package identity

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/internal/testenv"
	"github.com/user360/user360/schemas"
)

// TestCaseFoldedKeysDoNotOverride: the gateway validates a message's exact
// keys, so a record whose case-folded duplicates say something else
// ("TYPE":"delete", "UserId" of another person) is applied as its exact
// keys say: a track of alice, and the other person's profile untouched.
func TestCaseFoldedKeysDoNotOverride(t *testing.T) {
	g := newRig(t, testenv.Redis(t))
	g.apply(t, schemas.Event{Type: "identify", MessageID: "seed", UserID: "victim", Traits: map[string]any{"email": "v@example.com"}})
	victim := g.resolve(t, "user_id:victim")
	v := []byte(`{"type":"track","TYPE":"delete","event":"Clicked","userId":"alice","UserId":"victim","USERID":"victim",` +
		`"messageId":"m1","timestamp":"2026-11-28T10:00:00Z","receivedAt":"2026-11-28T10:00:01Z"}`)
	rec := &kgo.Record{Topic: schemas.NewTopics("").Events, Key: schemas.Key(g.tenant, "alice"), Value: v,
		Headers: []kgo.RecordHeader{{Key: schemas.HeaderTenant, Value: []byte(g.tenant)}}}
	if err := g.proc.Handle(context.Background(), []*kgo.Record{rec}); err != nil {
		t.Fatal(err)
	}
	if got := g.resolve(t, "user_id:victim"); got != victim {
		t.Fatalf("victim's profile is %q, was %q", got, victim)
	}
	ev := g.events(t, "user_id:alice")
	if len(ev.Recent) != 1 || ev.Recent[0].Name != "Clicked" {
		t.Fatalf("alice's events: %+v", ev.Recent)
	}
	if ev := g.events(t, "user_id:victim"); len(ev.Recent) != 1 { // (its identify)
		t.Fatalf("victim's events: %+v", ev.Recent)
	}
}

// TestOutOfRangeTimesAreDeadLettered: a time whose year falls outside
// 0000–9999 in UTC (a connector writing straight to the log can send one;
// JSON cannot carry it) is dead-lettered, and the batch around it is
// applied, instead of failing the batch on every retry.
func TestOutOfRangeTimesAreDeadLettered(t *testing.T) {
	g := newRig(t, testenv.Redis(t))
	raw := func(mid, user, ts string) *kgo.Record {
		v := []byte(`{"type":"track","event":"Clicked","userId":"` + user + `","messageId":"` + mid + `","timestamp":"` + ts +
			`","receivedAt":"2026-11-28T10:00:01Z"}`)
		return &kgo.Record{Topic: schemas.NewTopics("").Events, Key: schemas.Key(g.tenant, user), Value: v,
			Headers: []kgo.RecordHeader{{Key: schemas.HeaderTenant, Value: []byte(g.tenant)}}}
	}
	recs := []*kgo.Record{
		raw("late", "u1", "9999-12-31T23:00:00-05:00"),  // 10000-01-01 in UTC
		raw("early", "u2", "0000-01-01T00:00:00+01:00"), // year -1 in UTC
		raw("fine", "u3", "2026-11-28T10:00:00Z"),
	}
	if err := g.proc.Handle(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	dl := g.out.deadLetters(t)
	if len(dl) != 2 || dl[0].MessageID != "late" || dl[1].MessageID != "early" {
		t.Fatalf("dead letters: %+v", dl)
	}
	if ev := g.events(t, "user_id:u3"); len(ev.Recent) != 1 {
		t.Fatalf("u3's events: %+v", ev.Recent)
	}
}

// TestTagUnionThatAddsNothingChangesNothing: a merge import whose tags the
// profile has already (one with a "/", which Lua's encoder writes as
// "\/") changes nothing: same stored value, no trait change reported. A
// merge import that adds a tag stores it without the "\/" form.
func TestTagUnionThatAddsNothingChangesNothing(t *testing.T) {
	g := newRig(t, testenv.Redis(t))
	csv := map[string]any{"user360": map[string]any{"source": "csv", "mode": "merge"}}
	g.apply(t, schemas.Event{Type: "identify", MessageID: "i1", UserID: "u1", Context: csv,
		Traits: map[string]any{"tags": []any{"a/b", "c"}}, Timestamp: fixedNow})
	pid := g.resolve(t, "user_id:u1")
	key := g.store.keyProfile(g.tenant, pid)
	before := g.rdb.HGet(context.Background(), key, "t:tags").Val()
	n := len(g.out.updates(t))
	g.apply(t, schemas.Event{Type: "identify", MessageID: "i2", UserID: "u1", Context: csv,
		Traits: map[string]any{"tags": []any{"a/b"}}, Timestamp: fixedNow.Add(time.Minute)})
	if got := g.rdb.HGet(context.Background(), key, "t:tags").Val(); got != before {
		t.Fatalf("tags %s, were %s", got, before)
	}
	ups := g.out.updates(t)[n:]
	for _, u := range ups {
		if len(u.Changes) != 0 {
			t.Fatalf("a change reported: %+v", u.Changes)
		}
	}
	g.apply(t, schemas.Event{Type: "identify", MessageID: "i3", UserID: "u1", Context: csv,
		Traits: map[string]any{"tags": []any{"d/e"}}, Timestamp: fixedNow.Add(2 * time.Minute)})
	if got := g.rdb.HGet(context.Background(), key, "t:tags").Val(); got != `["a/b","c","d/e"]` {
		t.Fatalf("tags after a new one: %s", got)
	}
}
