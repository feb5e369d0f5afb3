package identity

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/internal/testenv"
	"github.com/user360/user360/schemas"
)

// TestStagePublishesInBatchOrder: a batch staged while the previous one's
// output is not yet published leaves its own publishing to its finish when
// the previous publish failed, so one profile's updates keep their order
// and none is published twice; when nothing fails, both publish in the
// background, in order, and the finishes only mark them.
func TestStagePublishesInBatchOrder(t *testing.T) {
	for _, failFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("failFirst=%v", failFirst), func(t *testing.T) {
			g := newRig(t, testenv.Redis(t))
			calls := 0
			g.proc.produce = func(ctx context.Context, recs ...*kgo.Record) error {
				calls++
				if failFirst && calls == 1 {
					return errors.New("broker unavailable")
				}
				return g.out.produce(ctx, recs...)
			}
			batch := func(prefix string) []*kgo.Record {
				var recs []*kgo.Record
				for i := range 3 {
					recs = append(recs, g.record(t, schemas.Event{Type: "track", Event: "Tick", UserID: "7",
						MessageID: fmt.Sprintf("%s%d", prefix, i), Timestamp: at(len(prefix)*10 + i)}))
				}
				return recs
			}
			ctx := context.Background()
			finishA, err := g.proc.Stage(ctx, batch("a"))
			if err != nil {
				t.Fatal(err)
			}
			finishB, err := g.proc.Stage(ctx, batch("bb"))
			if err != nil {
				t.Fatal(err)
			}
			<-g.proc.lastStaged.done // B's publishing goroutine has ended
			before := len(eventIDs(g.out.updates(t)))
			if failFirst && before != 0 {
				t.Fatalf("%d updates published before the failed batch's finish", before)
			}
			if !failFirst && before != 6 {
				t.Fatalf("%d updates published in the background, want 6", before)
			}
			if err := finishA(ctx); err != nil {
				t.Fatal(err)
			}
			if err := finishB(ctx); err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(eventIDs(g.out.updates(t))); got != "[a0 a1 a2 bb0 bb1 bb2]" {
				t.Fatalf("published %s, want a0..a2 then bb0..bb2, once each", got)
			}
		})
	}
}

// eventIDs lists the messageIds of the updates that carry an event.
func eventIDs(ups []schemas.ProfileUpdate) []string {
	var mids []string
	for _, u := range ups {
		if u.Event != nil {
			mids = append(mids, u.Event.MessageID)
		}
	}
	return mids
}
