package segmenter

import (
	"slices"
	"testing"
	"time"

	"github.com/user360/user360/schemas"
	"github.com/user360/user360/segmenter/rules"
)

// TestMergeStampsReplacesDayCounts: a rebuild drops the day-count
// approximations (seedFrom's noon stamps) of the days it covers, keeps the
// exact stamps and the approximations outside, and adds the new stamps
// once.
func TestMergeStampsReplacesDayCounts(t *testing.T) {
	r, err := rules.Parse([]byte(`{"event":"Order Completed","count":{"op":"gte","value":50}}`), "rule")
	if err != nil {
		t.Fatal(err)
	}
	c := r.EventConds()[0]
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	day := func(d int) string { return time.Date(2026, 11, d, 0, 0, 0, 0, time.UTC).Format("2006-01-02") }
	// Seeded from the store: the timeline has one event on the 27th, the
	// counters two more on the 10th and one on the 20th.
	exact := rules.Stamp(time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC), "m-27")
	ev := &schemas.ProfileEvents{
		Recent:      []schemas.EventSummary{{Name: "Order Completed", MessageID: "m-27", Timestamp: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)}},
		DailyCounts: map[string]map[string]int64{"Order Completed": {day(10): 2, day(20): 1}},
	}
	seeded := seedFrom(c, ev, now, time.UTC)
	if len(seeded) != 4 {
		t.Fatalf("seeded %v", seeded)
	}
	approx := 0
	for _, s := range seeded {
		if _, ok := isDailySeed(s); ok {
			approx++
		}
	}
	if approx != 3 {
		t.Fatalf("%d approximations recognised in %v, want 3", approx, seeded)
	}
	// The log from the 15th on: the exact event of the 20th and the one of
	// the 27th again.
	e20 := rules.Stamp(time.Date(2026, 11, 20, 16, 30, 0, 0, time.UTC), "m-20")
	got := mergeStamps(c, seeded, []int64{e20, exact}, SeedOptions{Since: time.Date(2026, 11, 15, 8, 0, 0, 0, time.UTC)}, now, time.UTC)
	if len(got) != 4 || !slices.Contains(got, e20) || !slices.Contains(got, exact) {
		t.Fatalf("merged %v: want the 10th's two approximations, the 20th's and 27th's exact events", got)
	}
	for _, s := range got {
		if d, ok := isDailySeed(s); ok && !d.Equal(time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC)) {
			t.Fatalf("approximation of %s kept in %v", d, got)
		}
	}
	// Again: nothing changes.
	if again := mergeStamps(c, got, []int64{e20, exact}, SeedOptions{Since: time.Date(2026, 11, 15, 0, 0, 0, 0, time.UTC)}, now, time.UTC); !slices.Equal(again, got) {
		t.Fatalf("second merge %v != %v", again, got)
	}
	// Whole history (no Since): every approximation goes.
	if all := mergeStamps(c, seeded, []int64{e20, exact}, SeedOptions{}, now, time.UTC); !slices.Equal(all, []int64{e20, exact}) {
		t.Fatalf("whole-history merge %v", all)
	}
	// Until bounds the covered days: the 20th's approximation stays.
	if upTo := mergeStamps(c, seeded, nil, SeedOptions{Since: time.Date(2026, 11, 15, 0, 0, 0, 0, time.UTC), Until: time.Date(2026, 11, 18, 0, 0, 0, 0, time.UTC)}, now, time.UTC); !slices.Equal(upTo, seeded) {
		t.Fatalf("merge up to the 18th %v, want %v", upTo, seeded)
	}
}
