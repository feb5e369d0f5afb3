package segmenter_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/segmenter"
)

// TestStagedBatchesPublishInWriteOrder: a batch staged while an earlier
// batch's changes of the same profile are written but not yet published
// publishes after them, and the sweeper running meanwhile waits too, so
// the profile's changes reach the topic in the order they were written,
// each once.
func TestStagedBatchesPublishInWriteOrder(t *testing.T) {
	h := newHarness(t, opts{})
	seg := h.segment("in", `{"trait":"country","op":"eq","value":"IN"}`)
	ctx := context.Background()
	finishA, err := h.svc.Stage(ctx, []*kgo.Record{h.rec(traitsUpdate("p1", map[string]any{"country": "IN"}))})
	if err != nil {
		t.Fatal(err)
	}
	finishB, err := h.svc.Stage(ctx, []*kgo.Record{h.rec(traitsUpdate("p1", map[string]any{"country": "US"}))})
	if err != nil {
		t.Fatal(err)
	}
	h.clock.Add(time.Minute) // both outbox entries are past the sweeper's grace
	errs := make(chan error, 2)
	go func() { errs <- finishB(ctx) }()
	go func() { errs <- segmenter.SweepForTest(h.svc, ctx, h.tenant) }()
	time.Sleep(100 * time.Millisecond)
	if got := changesOf(h.sink.all(), seg, "p1"); len(got) != 0 {
		t.Fatalf("published %v before the first batch's finish", got)
	}
	if err := finishA(ctx); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := fmt.Sprint(changesOf(h.sink.all(), seg, "p1")); got != "[entered:event exited:event]" {
		t.Fatalf("published %s, want the entry then the exit, once each", got)
	}
	if err := segmenter.SweepForTest(h.svc, ctx, h.tenant); err != nil {
		t.Fatal(err)
	}
	if n := len(h.sink.all()); n != 2 {
		t.Fatalf("%d changes after a last sweep, want 2 (the outbox is empty)", n)
	}
}
