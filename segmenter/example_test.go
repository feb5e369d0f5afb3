package segmenter_test

import (
	"context"
	"fmt"
	"time"

	"github.com/user360/user360/schemas"
	"github.com/user360/user360/segmenter"
	"github.com/user360/user360/segmenter/rules"
)

// The messageId of a segment change is derived from the tenant, segment,
// profile and the transition's sequence number, so a republished change
// keeps its id and consumers can deduplicate.
func ExampleMessageID() {
	first := segmenter.MessageID("acme", "seg-1", "profile-9", 1)
	again := segmenter.MessageID("acme", "seg-1", "profile-9", 1)
	exit := segmenter.MessageID("acme", "seg-1", "profile-9", 2)
	fmt.Println(first == again, first == exit, len(first))
	// Output: true false 36
}

// A rebuild of a segment's event conditions from the events log (what
// `user360 replay --segment` does): match the log's events against the
// conditions, keep their stamps per profile, and hand them to the live
// segmenter under the segment's lease. Needs Redis and the definitions.
func ExampleService_SeedEventConditions() {
	ctx := context.Background()
	var svc *segmenter.Service // segmenter.New(cfg, deps) on the live namespace
	var prof schemas.Profile   // the live profile, from the identity store
	se, err := svc.SegmentEventConditions("acme", "big-spenders")
	if err != nil {
		return // unknown segment, or no event conditions: nothing to rebuild
	}
	if ok, err := svc.LeaseSegment(ctx, "acme", "big-spenders"); err != nil || !ok {
		return // the segment's own job is running
	}
	defer svc.ReleaseSegment(ctx, "acme", "big-spenders")
	stamps := map[string][]int64{}
	at := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	for _, c := range se.Conds {
		if c.Name == "Order Completed" && c.Match(map[string]any{"revenue": 120.0}, at, se.Loc) {
			stamps[c.Key()] = c.Retain(stamps[c.Key()], rules.Stamp(at, "msg-1"), time.Now(), se.Loc)
		}
	}
	res, err := svc.SeedEventConditions(ctx, "acme", "big-spenders", []segmenter.EventSeed{{Profile: prof, Stamps: stamps}}, segmenter.SeedOptions{})
	if err == nil {
		fmt.Println(res.Entered, res.Exited)
	}
}
