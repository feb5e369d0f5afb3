package replay_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/user360/user360/replay"
	"github.com/user360/user360/schemas"
)

// benchLog publishes n events: 70% tracks of known users, 20% anonymous
// page views, 10% identifies that merge a visitor into a user (the mix of
// identity's BenchmarkProcessorMix), with three segments defined.
func benchLog(b *testing.B, e *env, n int) {
	b.Helper()
	segments(e)
	const users = 2000
	rng := rand.New(rand.NewPCG(1, 2))
	var evs []schemas.Event
	flush := func() {
		if len(evs) > 0 {
			e.publish(evs...)
			evs = evs[:0]
		}
	}
	m := 0
	for i := range n {
		ts := now.Add(-time.Duration(n-i) * time.Second)
		switch x := rng.IntN(10); {
		case x < 7:
			evs = append(evs, schemas.Event{Type: "track", MessageID: fmt.Sprintf("k-%d", i), UserID: fmt.Sprintf("user-%d", rng.IntN(users)),
				Event: "Order Completed", Properties: map[string]any{"sku": "A-1", "revenue": 10.5}, Timestamp: ts})
		case x < 9:
			evs = append(evs, schemas.Event{Type: "page", MessageID: fmt.Sprintf("a-%d", i), AnonymousID: fmt.Sprintf("visitor-%d", rng.IntN(n/5+1)), Name: "Pricing", Timestamp: ts})
		default:
			evs = append(evs, schemas.Event{Type: "identify", MessageID: fmt.Sprintf("j-%d", i), UserID: fmt.Sprintf("user-%d", rng.IntN(users)),
				AnonymousID: fmt.Sprintf("visitor-%d", m), Traits: map[string]any{"plan": []string{"pro", "free"}[m%2], "country": "IN"}, Timestamp: ts})
			m++
		}
		if len(evs) == 1000 {
			flush()
		}
	}
	flush()
}

// BenchmarkReplay: events-log records per second through a replay into a
// new generation (read, identity, segmenter; nothing published).
//
//	go test ./replay -run XXX -bench Replay -benchtime 20000x
func BenchmarkReplay(b *testing.B) {
	e := newEnv(b)
	benchLog(b, e, b.N)
	b.Cleanup(func() { cleanKeys(e.rdb, e.base+"g2*") })
	o := e.options()
	o.NoSwitch = true
	res, el := timedRun(b, o)
	if res.Applied != int64(b.N) {
		b.Fatalf("applied %d of %d", res.Applied, b.N)
	}
	b.ReportMetric(float64(b.N)/el.Seconds(), "msgs/s")
	b.Logf("read %s, identity %s, segmenter %s (summed over workers), %d profile updates, %d messages held", res.ReadTime, res.IdentityTime, res.SegmenterTime, res.Updates, res.Held)
}

// BenchmarkLivePipeline: the same log through the live identity and
// segmenter consumers (consumer groups, profile updates through the
// broker), from the start of the log until both groups committed the end.
//
//	go test ./replay -run XXX -bench LivePipeline -benchtime 20000x
func BenchmarkLivePipeline(b *testing.B) {
	e := newEnv(b)
	benchLog(b, e, b.N)
	b.ResetTimer()
	start := time.Now()
	e.live()
	e.caughtUp(e.idGroup, e.topics.Events)
	e.caughtUp(e.sgGroup, e.topics.ProfileUpdates)
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "msgs/s")
}

// BenchmarkReplayVsLive: the same log through the live pipeline, then
// replayed into a new generation, back to back (the machine's load changes
// less between the two than between separate benchmarks); reports both
// rates and their ratio.
//
//	go test ./replay -run XXX -bench ReplayVsLive -benchtime 20000x
func BenchmarkReplayVsLive(b *testing.B) {
	e := newEnv(b)
	benchLog(b, e, b.N)
	b.Cleanup(func() { cleanKeys(e.rdb, e.base+"g2*") })
	b.ResetTimer()
	start := time.Now()
	e.live()
	e.caughtUp(e.idGroup, e.topics.Events)
	e.caughtUp(e.sgGroup, e.topics.ProfileUpdates)
	live := time.Since(start)
	o := e.options()
	o.NoSwitch = true
	start = time.Now()
	res, err := replay.Run(context.Background(), o)
	if err != nil {
		b.Fatal(err)
	}
	rep := time.Since(start)
	b.StopTimer()
	if res.Applied != int64(b.N) {
		b.Fatalf("applied %d of %d", res.Applied, b.N)
	}
	b.ReportMetric(float64(b.N)/live.Seconds(), "live-msgs/s")
	b.ReportMetric(float64(b.N)/rep.Seconds(), "replay-msgs/s")
	b.ReportMetric(live.Seconds()/rep.Seconds(), "speedup")
}

// timedRun runs a replay as the timed part of a benchmark.
func timedRun(b *testing.B, o replay.Options) (replay.Result, time.Duration) {
	b.Helper()
	b.ResetTimer()
	start := time.Now()
	res, err := replay.Run(context.Background(), o)
	if err != nil {
		b.Fatal(err)
	}
	el := time.Since(start)
	b.StopTimer()
	return res, el
}
