package segmenter_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/schemas"
	"github.com/user360/user360/segmenter"
)

// BenchmarkUpdates measures profile updates per second through Handle
// (decode, Redis read, evaluation, Redis write; changes go to an in-memory
// emitter, not Kafka) with 1 to 10,000 segments: 80% trait conditions, 20%
// counted event conditions, each update touching about 1% of them. Batches
// of 500 records over 5,000 profiles, real Redis.
func BenchmarkUpdates(b *testing.B) {
	for _, n := range []int{1, 100, 1000, 10000} {
		b.Run(fmt.Sprint("segments=", n), func(b *testing.B) { benchUpdates(b, n) })
	}
}

const (
	benchTraits = 100 // distinct trait names rules read
	benchEvents = 20  // distinct event names rules read
	benchBatch  = 500
	// benchProfiles profiles are updated at random.
	benchProfiles = 2000
)

func benchUpdates(b *testing.B, n int) {
	h := newHarness(b, opts{noSource: true})
	for i := 0; i < n; i++ {
		var rule string
		if i%5 == 4 {
			rule = fmt.Sprintf(`{"event":"ev%d","count":{"op":"gte","value":2},"within":{"value":30,"unit":"days"}}`, i%benchEvents)
		} else {
			rule = fmt.Sprintf(`{"trait":"t%d","op":"eq","value":%d}`, i%benchTraits, (i*7)%100)
		}
		raw, _ := json.Marshal(segmenter.Segment{ID: fmt.Sprintf("seg%05d", i), Name: fmt.Sprint("s", i), Rule: json.RawMessage(rule), Revision: 1, EmitOnBackfill: true})
		segmenter.LoadSegmentForTest(h.svc, h.tenant, raw)
	}
	h.sink.discard = true
	rng := rand.New(rand.NewPCG(1, uint64(n)))
	// Every profile has 20 stable traits; an update changes one trait.
	base := func(pid int) map[string]any {
		traits := make(map[string]any, 21)
		for t := 0; t < 20; t++ {
			traits[fmt.Sprint("t", t)] = float64((pid*31 + t*17) % 100)
		}
		return traits
	}
	var k string
	var pidN int
	mk := func(off int64) *kgo.Record {
		traits := base(pidN)
		pid := fmt.Sprintf("bp%05d", pidN)
		if k == "" {
			k = fmt.Sprint("t", rng.IntN(benchTraits))
			traits[k] = float64(rng.IntN(100))
		}
		u := schemas.ProfileUpdate{Type: schemas.ProfileUpdated, MessageID: fmt.Sprint("m", off), Tenant: h.tenant, ProfileID: pid,
			Identities: []schemas.Identity{{Type: "user_id", Value: "u" + pid}}, Traits: traits,
			Changes: map[string]schemas.TraitChange{k: {New: traits[k]}}, Timestamp: t0}
		if rng.IntN(5) == 0 {
			u.Event = &schemas.EventSummary{Type: "track", Name: fmt.Sprint("ev", rng.IntN(benchEvents)), MessageID: fmt.Sprint("e", off), Timestamp: t0}
		}
		v, _ := json.Marshal(u)
		return &kgo.Record{Value: v, Partition: 0, Offset: off}
	}
	ctx := context.Background()
	// Warm up: every profile exists before the measurement.
	var warm []*kgo.Record
	for p := 0; p < benchProfiles; p++ {
		pidN, k = p, "t0"
		warm = append(warm, mk(int64(p+1)))
	}
	for i := 0; i < len(warm); i += benchBatch {
		if err := h.svc.Handle(ctx, warm[i:min(i+benchBatch, len(warm))]); err != nil {
			b.Fatal(err)
		}
	}
	before := h.sink.count
	recs := make([]*kgo.Record, b.N)
	for i := range recs {
		pidN, k = rng.IntN(benchProfiles), ""
		recs[i] = mk(int64(benchProfiles + i + 1))
	}
	b.ResetTimer()
	cpu0 := cpuTime()
	start := time.Now()
	for i := 0; i < len(recs); i += benchBatch {
		end := min(i+benchBatch, len(recs))
		if err := h.svc.Handle(ctx, recs[i:end]); err != nil {
			b.Fatal(err)
		}
	}
	el := time.Since(start)
	b.ReportMetric(float64(b.N)/el.Seconds(), "updates/s")
	// The machine is shared: the CPU this process used per update is a
	// steadier figure than wall time (Redis's own CPU is not included).
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/update")
	b.ReportMetric(float64(h.sink.count-before)/float64(b.N), "changes/update")
}

// cpuTime is the user+system CPU time of this process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
