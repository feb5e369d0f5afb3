package identity

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	runtimemetrics "runtime/metrics"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/internal/testenv"
	"github.com/user360/user360/schemas"
)

// benchRig prepares a tenant with known users on the real Redis.
func benchRig(b *testing.B, users int) *rig {
	b.Helper()
	g := newRig(b, testenv.Redis(b))
	g.proc = NewProcessor(g.store, g.ts, schemas.NewTopics(""), func(context.Context, ...*kgo.Record) error { return nil }, zerolog.Nop(), nil)
	var recs []*kgo.Record
	for u := range users {
		recs = append(recs, g.record(b, schemas.Event{Type: "identify", MessageID: fmt.Sprintf("seed-%d", u),
			UserID: fmt.Sprintf("user-%d", u), AnonymousID: fmt.Sprintf("dev-%d", u),
			Traits: map[string]any{"email": fmt.Sprintf("user%d@example.com", u), "firstName": "Asha", "plan": "pro", "country": "IN"}}))
	}
	handleAll(b, g, recs, 1000)
	fillOlderDedupBuckets(b, g, 800_000/(dedupBuckets-1)) // (as 4 × 200,000 with five buckets)
	return g
}

// fillOlderDedupBuckets gives the tenant what it has after running for
// longer than a dedup bucket's span: marks in the buckets older than
// the current one, n each, which every script call reads too (a run of a
// few seconds would otherwise find them missing, a cheaper read).
func fillOlderDedupBuckets(b *testing.B, g *rig, n int) {
	ctx := context.Background()
	cur, _ := g.store.dedupBucket(g.proc.clock())
	for k := int64(1); k < dedupBuckets; k++ {
		key := g.store.keyDedup(g.tenant, cur-k)
		pipe := g.rdb.Pipeline()
		for i := 0; i < n; i += 1000 {
			fields := make([]any, 0, 2000)
			for j := i; j < min(i+1000, n); j++ {
				fields = append(fields, fmt.Sprintf("old-%d-%d", k, j), "1")
			}
			pipe.HSet(ctx, key, fields...)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// fillTimelines appends n track entries to each benchmark user's
// timeline, a minute apart and older than the run's events (the timeline
// stays in order, newest first).
func fillTimelines(b *testing.B, g *rig, users, n int) {
	if n == 0 {
		return
	}
	ctx := context.Background()
	pipe := g.rdb.Pipeline()
	for u := range users {
		pid := g.resolve(b, fmt.Sprintf("user_id:user-%d", u))
		entries := make([]any, n)
		for i := range entries {
			ts := fixedNow.Add(-time.Duration(i+1) * time.Minute)
			sum := schemas.EventSummary{Type: "track", Name: "Product Viewed", MessageID: fmt.Sprintf("old-%d-%d", u, i),
				Properties: map[string]any{"sku": "A-1", "price": 10.5}, Timestamp: ts}
			ev, err := encodeSummary(&sum)
			if err != nil {
				b.Fatal(err)
			}
			entries[i] = zeroPad13(strconv.FormatInt(ts.UnixMilli(), 10)) + string(ev)
		}
		pipe.RPush(ctx, g.store.keyTimeline(g.tenant, pid), entries...)
		if pipe.Len() >= 500 {
			if _, err := pipe.Exec(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		b.Fatal(err)
	}
}

func handleAll(b *testing.B, g *rig, recs []*kgo.Record, batch int) {
	for i := 0; i < len(recs); i += batch {
		if err := g.proc.Handle(context.Background(), recs[i:min(i+batch, len(recs))]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProcessorMix: messages through one processor (decode, resolve,
// apply in Redis as pipelined script calls, build profile-update records;
// the broker produce is a no-op) with 70% known users, 20% anonymous
// visitors and 10% identifies that merge an anonymous profile into a user.
func BenchmarkProcessorMix(b *testing.B) { benchMix(b, 0) }

// BenchmarkProcessorMixFullTimelines: the same with every user's timeline
// full at the start (TimelineCap entries, older than the run's events), as
// a long-lived user's is: merges read the survivor's timeline only as far
// as the visitor's entries go, and tracks trim theirs as they push.
func BenchmarkProcessorMixFullTimelines(b *testing.B) { benchMix(b, DefaultConfig().TimelineCap) }

// benchMix runs the 70/20/10 mix, the users' timelines first filled to
// timeline entries each.
func benchMix(b *testing.B, timeline int) {
	const users = 10000
	g := benchRig(b, users)
	fillTimelines(b, g, users, timeline)
	rng := rand.New(rand.NewPCG(1, 2))
	// anonymous profiles that the merging identifies will absorb
	var pre []*kgo.Record
	merges := b.N/10 + 1
	for i := range merges {
		pre = append(pre, g.record(b, schemas.Event{Type: "page", MessageID: fmt.Sprintf("pre-%d", i), AnonymousID: fmt.Sprintf("visitor-m%d", i), Name: "Home"}))
	}
	handleAll(b, g, pre, 1000)
	recs := make([]*kgo.Record, b.N)
	m := 0
	for i := range recs {
		ts := fixedNow.Add(time.Duration(i) * time.Millisecond)
		switch x := rng.IntN(10); {
		case x < 7:
			recs[i] = g.record(b, schemas.Event{Type: "track", MessageID: fmt.Sprintf("k-%d", i), UserID: fmt.Sprintf("user-%d", rng.IntN(users)),
				Event: "Product Viewed", Properties: map[string]any{"sku": "A-1", "price": 10.5}, Timestamp: ts})
		case x < 9:
			recs[i] = g.record(b, schemas.Event{Type: "page", MessageID: fmt.Sprintf("a-%d", i), AnonymousID: fmt.Sprintf("visitor-%d", rng.IntN(b.N/5+1)),
				Name: "Pricing", Timestamp: ts})
		default:
			recs[i] = g.record(b, schemas.Event{Type: "identify", MessageID: fmt.Sprintf("j-%d", i), UserID: fmt.Sprintf("user-%d", rng.IntN(users)),
				AnonymousID: fmt.Sprintf("visitor-m%d", m), Traits: map[string]any{"lastName": "Rao"}, Timestamp: ts})
			m++
		}
	}
	b.ResetTimer()
	measureBatches(b, g, recs)
	// how the messages reached Redis (seeding included)
	for _, path := range []string{"fast", "fast_merge", "full", "replanned"} {
		b.ReportMetric(testutil.ToFloat64(g.proc.m.scripts.WithLabelValues(path)), path)
	}
}

// servingGCPercent is cmd/user360's gcPercent("serve").
const servingGCPercent = 400

// measureBatches runs recs through the rig's processor in batches of
// benchBatch, staged as the consumer runs them (stageAll), and reports
// messages/s, the process's CPU (Go side) and Redis's CPU per
// message.
func measureBatches(b *testing.B, g *rig, recs []*kgo.Record) {
	// the collector's target the identity role runs with (`user360 serve`
	// and `dev`: cmd/user360/gc.go), unless GOGC says otherwise
	if _, set := os.LookupEnv("GOGC"); !set {
		defer debug.SetGCPercent(debug.SetGCPercent(servingGCPercent))
	}
	start, cpu0, rcpu0, gc0 := time.Now(), processCPU(), redisCPU(b, g), gcCPU()
	// labelled, so that a CPU profile of the benchmark can leave out the
	// seeding: -test.cpuprofile, then pprof -tagfocus bench=measured
	pprof.Do(context.Background(), pprof.Labels("bench", "measured"), func(context.Context) {
		stageAll(b, g, recs, benchBatch)
	})
	cpu, rcpu, gc := processCPU()-cpu0, redisCPU(b, g)-rcpu0, gcCPU()-gc0
	b.ReportMetric(float64(len(recs))/time.Since(start).Seconds(), "msgs/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(len(recs)), "cpu-µs/msg")
	b.ReportMetric(float64(rcpu.Microseconds())/float64(len(recs)), "redis-cpu-µs/msg")
	b.ReportMetric(gc*1e6/float64(len(recs)), "gc-cpu-µs/msg")
}

// stageAll runs batches as the staged consumer does (kafka.StagedHandler):
// a batch is applied while the previous one finishes (publishes and marks
// its outputs) on another goroutine; finishes run in batch order.
func stageAll(b *testing.B, g *rig, recs []*kgo.Record, batch int) {
	ctx := context.Background()
	var prev chan error
	wait := func() {
		if prev != nil {
			if err := <-prev; err != nil {
				b.Fatal(err)
			}
		}
	}
	for i := 0; i < len(recs); i += batch {
		finish, err := g.proc.Stage(ctx, recs[i:min(i+batch, len(recs))])
		if err != nil {
			b.Fatal(err)
		}
		wait()
		done := make(chan error, 1)
		go func() { done <- finish(ctx) }()
		prev = done
	}
	wait()
}

// processCPU is the user+system CPU this process used so far (the Go side:
// Redis runs in its own process).
// gcCPU is the CPU the Go collector has used so far, in seconds (an
// estimate the runtime keeps: mark assists, mark workers, pauses).
func gcCPU() float64 {
	s := []runtimemetrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}}
	runtimemetrics.Read(s)
	return s[0].Value.Float64()
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// redisCPU is the CPU the Redis server used so far (INFO cpu: main thread
// and background threads, user and system).
func redisCPU(b *testing.B, g *rig) time.Duration {
	info, err := g.rdb.Info(context.Background(), "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	var total float64
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && (k == "used_cpu_sys" || k == "used_cpu_user") {
			f, _ := strconv.ParseFloat(v, 64)
			total += f
		}
	}
	return time.Duration(total * float64(time.Second))
}

// BenchmarkProfileRead: the store read path of GET /v1/profiles/{ref}
// (resolve an identifier, then read the profile), with p50/p99.
func BenchmarkProfileRead(b *testing.B) {
	const users = 2000
	g := benchRig(b, users)
	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		pid, err := g.store.Resolve(ctx, g.tenant, fmt.Sprintf("email:user%d@example.com", i%users))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := g.store.GetProfile(ctx, g.tenant, pid); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkProfileMemory measures Redis memory per profile with 10 traits
// and 3 identifiers (timeline excluded) with MEMORY USAGE.
func BenchmarkProfileMemory(b *testing.B) {
	g := newRig(b, testenv.Redis(b))
	ctx := context.Background()
	const n = 200
	var recs []*kgo.Record
	for u := range n {
		recs = append(recs, g.record(b, schemas.Event{Type: "identify", MessageID: fmt.Sprintf("mem-%d", u),
			UserID: fmt.Sprintf("user-%d", 100000+u), AnonymousID: fmt.Sprintf("3f1c2a9e-1d2b-4c1f-9d7e-%012d", u),
			Traits: map[string]any{
				"email": fmt.Sprintf("user%d@example.com", u), "firstName": "Asha", "lastName": "Rao",
				"country": "IN", "city": "Bengaluru", "language": "en", "plan": "pro",
				"emailOptin": true, "tags": []any{"vip", "beta"},
			}}))
	}
	handleAll(b, g, recs, 1000)
	b.ResetTimer()
	var total, dedup int64
	// One measurement whatever b.N (run with -benchtime 1x).
	{
		for u := range n {
			pid, err := g.store.Resolve(ctx, g.tenant, fmt.Sprintf("user_id:user-%d", 100000+u))
			if err != nil {
				b.Fatal(err)
			}
			p, _ := g.store.GetProfile(ctx, g.tenant, pid)
			if len(p.Traits) != 10 || len(p.Identities) != 3 {
				b.Fatalf("profile has %d traits, %d identities", len(p.Traits), len(p.Identities))
			}
			keys := []string{g.store.keyProfile(g.tenant, pid)}
			for _, id := range p.Identities {
				keys = append(keys, g.store.keyIdent(g.tenant, id.Type, id.Value))
			}
			for _, k := range keys {
				total += g.rdb.MemoryUsage(ctx, k).Val()
			}
		}
		// the dedup bucket (a hash) holds the n messages' marks
		b, _ := g.store.dedupBucket(g.proc.clock())
		dedup = g.rdb.MemoryUsage(ctx, g.store.keyDedup(g.tenant, b)).Val()
		total += g.rdb.MemoryUsage(ctx, g.store.keyProfiles(g.tenant)).Val()
	}
	b.ReportMetric(float64(total)/n, "bytes/profile")
	b.ReportMetric(float64(dedup)/n, "bytes/dedup-mark")
}

// BenchmarkProcessorKnownTracks: only tracks of known users (every
// message takes the cached fast path once the processor is warm).
func BenchmarkProcessorKnownTracks(b *testing.B) {
	const users = 10000
	g := benchRig(b, users)
	rng := rand.New(rand.NewPCG(3, 4))
	recs := make([]*kgo.Record, b.N)
	for i := range recs {
		recs[i] = g.record(b, schemas.Event{Type: "track", MessageID: fmt.Sprintf("kt-%d", i), UserID: fmt.Sprintf("user-%d", rng.IntN(users)),
			Event: "Product Viewed", Properties: map[string]any{"sku": "A-1", "price": 10.5}, Timestamp: fixedNow.Add(time.Duration(i) * time.Millisecond)})
	}
	b.ResetTimer()
	measureBatches(b, g, recs)
}

// benchBatch is the batch size of the throughput benchmarks (the
// consumer's MaxPollRecords default).
const benchBatch = 1000

// BenchmarkProfileCacheMemory: Go heap held by the profile cache per
// profile (10 traits, 3 identifiers), filled through the processor.
func BenchmarkProfileCacheMemory(b *testing.B) {
	const n = 20000
	g := newRig(b, testenv.Redis(b))
	var recs []*kgo.Record
	for u := range n {
		recs = append(recs, g.record(b, schemas.Event{Type: "identify", MessageID: fmt.Sprintf("cm-%d", u),
			UserID: fmt.Sprintf("user-%d", u), AnonymousID: fmt.Sprintf("3f1c2a9e-1d2b-4c1f-9d7e-%012d", u),
			Traits: map[string]any{
				"email": fmt.Sprintf("user%d@example.com", u), "firstName": "Asha", "lastName": "Rao",
				"country": "IN", "city": "Bengaluru", "language": "en", "plan": "pro",
				"emailOptin": true, "tags": []any{"vip", "beta"},
			}}))
	}
	heap := func() (bytes, objects uint64) {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc, m.HeapObjects
	}
	b.ResetTimer()
	handleAll(b, g, recs, 1000)
	recs = nil
	with, withObjects := heap()
	if got := g.proc.cache.size(); got != n {
		b.Fatalf("cache holds %d profiles, want %d", got, n)
	}
	g.proc.cache = newProfileCache(0)
	without, withoutObjects := heap()
	runtime.KeepAlive(g) // the rig's captured records count in both
	b.ReportMetric(float64(with-without)/n, "heap-bytes/cached-profile")
	// what the collector marks in every cycle
	b.ReportMetric(float64(withObjects-withoutObjects)/n, "heap-objects/cached-profile")
}
