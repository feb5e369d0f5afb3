package replay_test

import (
	"fmt"
	"os"

	"github.com/user360/user360/replay"
)

// The generations of the derived state and their consumer groups.
func ExampleNextNamespace() {
	live := "u360" // no u360:generation key yet: generation 1
	next := replay.NextNamespace("", live)
	fmt.Println(next, replay.GenerationNumber("", next))
	fmt.Println(replay.GroupFor("user360-identity", "", live))
	fmt.Println(replay.GroupFor("user360-identity", "", next))
	fmt.Println(replay.NextNamespace("", next), replay.GenerationKey(""))
	// Output:
	// u360g2 2
	// user360-identity
	// user360-identity.u360g2
	// u360g3 u360:generation
}

// The --dry-run output of a segment backfill (user360 replay --segment).
func ExamplePlan_Print_segment() {
	p := replay.Plan{
		Topic: "user360.events", Live: "u360", Target: "u360", Tenant: "acme",
		Partitions: []replay.PartitionRange{{Partition: 0, Start: 120, End: 4120}},
		Records:    4000,
		Segment: &replay.SegmentPlan{ID: "big", Name: "Big spenders", Revision: 1,
			Events: []string{"Order Completed"}, Conditions: 1, Cause: "backfill", Emit: true},
	}
	p.Print(os.Stdout)
	// Output:
	// segment backfill plan
	//   topic           user360.events
	//   namespace       u360 (live; no new generation, no switch)
	//   tenant          acme
	//   segment         big "Big spenders" (revision 1)
	//   events          "Order Completed" (1 event conditions)
	//   from            earliest
	//   to              end offsets at start
	//   changes         published to segment-changes, cause backfill
	//   partition 0     offsets [120, 4120)  4000 records
	//   records         4000 (read; other tenants and event names are skipped)
}
