package identity

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/internal/testenv"
	"github.com/user360/user360/schemas"
)

// BenchmarkScriptWorkload: a fixed workload (500 identifies that create
// known users, then 4,000 of their tracks, batches of 1,000 staged as the
// consumer runs them) whose cost is read off Redis, not timed:
// scripts/redis-instructions.sh runs it against a redis-server under
// callgrind and compares the instructions Redis executed for two commits,
// a count that stays within about 1 % from run to run on a machine whose
// speed varies by 30 %. b.N repeats the workload with new messageIds.
func BenchmarkScriptWorkload(b *testing.B) {
	const users, tracks = 500, 4000
	g := newRig(b, testenv.Redis(b))
	var recs []*kgo.Record
	for n := range b.N {
		for u := range users {
			recs = append(recs, g.record(b, schemas.Event{Type: "identify", MessageID: fmt.Sprintf("seed-%d-%d", n, u),
				UserID: fmt.Sprintf("user-%d", u), AnonymousID: fmt.Sprintf("dev-%d", u),
				Traits: map[string]any{"email": fmt.Sprintf("user%d@example.com", u), "firstName": "Asha", "plan": "pro", "country": "IN"}}))
		}
		for i := range tracks {
			recs = append(recs, g.record(b, schemas.Event{Type: "track", MessageID: fmt.Sprintf("kt-%d-%d", n, i), UserID: fmt.Sprintf("user-%d", (i*7919)%users),
				Event: "Product Viewed", Properties: map[string]any{"sku": "A-1", "price": 10.5}, Timestamp: fixedNow.Add(time.Duration(i) * time.Millisecond)}))
		}
	}
	b.ResetTimer()
	handleAll(b, g, recs, 1000) // (Stage, then its finish: batch by batch)
	b.ReportMetric(float64(users+tracks), "msgs/op")
}

// BenchmarkScriptWorkloadMerges: the same for merges (a tenth of the mix's
// messages, a quarter of its Redis time): 500 users identified, two tracks
// each, 1,000 anonymous visitors with two pages each, then 1,000
// identifies that merge each visitor into a user (two a user). For
// scripts/redis-instructions.sh with BENCH=ScriptWorkloadMerges.
func BenchmarkScriptWorkloadMerges(b *testing.B) {
	const users, visitors = 500, 1000
	g := newRig(b, testenv.Redis(b))
	var recs []*kgo.Record
	at := func(i int) time.Time { return fixedNow.Add(time.Duration(i) * time.Millisecond) }
	for n := range b.N {
		id := func(kind string, i int) string { return fmt.Sprintf("%s-%d-%d", kind, n, i) }
		for u := range users {
			recs = append(recs, g.record(b, schemas.Event{Type: "identify", MessageID: id("seed", u), UserID: id("user", u),
				Traits: map[string]any{"email": fmt.Sprintf("user%d-%d@example.com", n, u), "firstName": "Asha", "plan": "pro"}, Timestamp: at(u)}))
		}
		for i := range 2 * users {
			recs = append(recs, g.record(b, schemas.Event{Type: "track", MessageID: id("kt", i), UserID: id("user", i%users),
				Event: "Product Viewed", Properties: map[string]any{"sku": "A-1"}, Timestamp: at(users + i)}))
		}
		for i := range 2 * visitors {
			recs = append(recs, g.record(b, schemas.Event{Type: "page", MessageID: id("pv", i), AnonymousID: id("visitor", i%visitors),
				Name: "Pricing", Timestamp: at(i)}))
		}
		for v := range visitors {
			recs = append(recs, g.record(b, schemas.Event{Type: "identify", MessageID: id("link", v), UserID: id("user", v%users),
				AnonymousID: id("visitor", v), Traits: map[string]any{"lastName": "Rao"}, Timestamp: at(3*users + v)}))
		}
	}
	b.ResetTimer()
	handleAll(b, g, recs, 1000) // (Stage, then its finish: batch by batch)
	b.ReportMetric(float64(len(recs)/b.N), "msgs/op")
	b.ReportMetric(testutil.ToFloat64(g.proc.m.scripts.WithLabelValues("fast_merge"))/float64(b.N), "merges/op")
}
