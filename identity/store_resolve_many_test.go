package identity

import (
	"context"
	"testing"

	"github.com/user360/user360/internal/testenv"
	"github.com/user360/user360/schemas"
)

// TestResolveRecordsAndLiveProfiles: batched reads name the profile a
// record's identifiers lead to (user id first), hide records older than a
// deletion of their identifiers, and follow merges to the survivor.
func TestResolveRecordsAndLiveProfiles(t *testing.T) {
	for _, b := range testenv.RedisBackends() {
		t.Run(b.Name, func(t *testing.T) {
			g := newRig(t, b.Client(t))
			ctx := context.Background()
			g.apply(t,
				schemas.Event{Type: "identify", MessageID: "r1", UserID: "u1", Timestamp: at(1)},
				schemas.Event{Type: "page", MessageID: "r2", AnonymousID: "a2", Timestamp: at(2)},
				schemas.Event{Type: "page", MessageID: "r3", AnonymousID: "a3", Timestamp: at(3)},
				schemas.Event{Type: "identify", MessageID: "r4", UserID: "u3", Timestamp: at(4)},
			)
			p1, pa2 := g.profile(t, "user_id:u1").ID, g.profile(t, "anonymous_id:a2").ID
			pa3 := g.profile(t, "anonymous_id:a3").ID
			g.apply(t,
				schemas.Event{Type: "identify", MessageID: "r5", UserID: "u1", AnonymousID: "a2", Timestamp: at(5)},
				schemas.Event{Type: "delete", MessageID: "r6", UserID: "u3", Timestamp: at(6)},
			)
			got, err := g.store.ResolveRecords(ctx, g.tenant, []RecordIdentifiers{
				{UserID: "u1", At: at(7)},
				{AnonymousID: "a2", At: at(2)},                   // merged into u1's profile
				{UserID: "nobody", AnonymousID: "a3", At: at(3)}, // falls back to the anonymous id
				{UserID: "u3", At: at(4)},                        // deleted after it: ignored
				{UserID: "nobody"},
			})
			if err != nil {
				t.Fatal(err)
			}
			want := []string{p1, p1, pa3, "", ""}
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("record %d resolved to %q, want %q", i, got[i], want[i])
				}
			}
			live, err := g.store.LiveProfiles(ctx, g.tenant, []string{p1, pa2, pa3, "pnone"})
			if err != nil {
				t.Fatal(err)
			}
			if live[p1] != p1 || live[pa2] != p1 || live[pa3] != pa3 || live["pnone"] != "" {
				t.Errorf("live profiles %v (u1 %s, a2 %s, a3 %s)", live, p1, pa2, pa3)
			}
		})
	}
}
