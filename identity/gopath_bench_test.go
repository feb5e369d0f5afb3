package identity

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/schemas"
)

// BenchmarkGoPath: the identity processor's own Go work per message,
// without Redis and go-redis: decode, prepare and plan (prepareChunk),
// encode the script message where it is sent (unplanned messages and
// plans with the fallback), decode the script reply, build the
// profile-updates records. The replies are recorded once from the real
// apply.lua's full logic (a mix like BenchmarkProcessorMix's); ns/op and
// cpu-µs/msg are per message.
func BenchmarkGoPath(b *testing.B) {
	const users, n = 2000, 1000
	g := benchRig(b, users)
	rng := rand.New(rand.NewPCG(3, 4))
	recs := make([]*kgo.Record, n)
	for i := range recs {
		ts := fixedNow.Add(time.Duration(i) * time.Millisecond)
		switch x := rng.IntN(10); {
		case x < 7:
			recs[i] = g.record(b, schemas.Event{Type: "track", MessageID: fmt.Sprintf("gk-%d", i), UserID: fmt.Sprintf("user-%d", rng.IntN(users)),
				Event: "Product Viewed", Properties: map[string]any{"sku": "A-1", "price": 10.5}, Timestamp: ts,
				Context: map[string]any{"ip": "10.1.2.3", "userAgent": "Mozilla/5.0 (X11; Linux x86_64)", "library": map[string]any{"name": "analytics.js", "version": "4.1.0"}}})
		case x < 9:
			recs[i] = g.record(b, schemas.Event{Type: "page", MessageID: fmt.Sprintf("ga-%d", i), AnonymousID: fmt.Sprintf("visitor-%d", rng.IntN(200)),
				Name: "Pricing", Properties: map[string]any{"url": "https://example.com/pricing?a=1&b=2", "title": "Pricing"}, Timestamp: ts})
		default:
			recs[i] = g.record(b, schemas.Event{Type: "identify", MessageID: fmt.Sprintf("gj-%d", i), UserID: fmt.Sprintf("user-%d", rng.IntN(users)),
				AnonymousID: fmt.Sprintf("visitor-%d", rng.IntN(200)), Traits: map[string]any{"lastName": "Rao", "phone": "+1 415 555 0123"}, Timestamp: ts})
		}
	}
	ctx := context.Background()
	now := g.proc.clock()
	c := g.proc.prepareChunk(recs, now)
	if len(c.dead) > 0 || len(c.inputs) != n {
		b.Fatalf("%d dead letters, %d inputs", len(c.dead), len(c.inputs))
	}
	// apply.lua's replies (every message through the full logic: "a")
	t := g.tenant
	bucket, ttl := g.store.dedupBucket(now)
	args := g.store.appendCallHead(nil, t, "", bucket, ttl)
	for i := range c.inputs {
		args = append(args, "a", c.inputs[i].Msg.Mid, scriptPayload(&c.inputs[i].Msg))
	}
	v, err := applyScript.Run(ctx, g.rdb, []string{g.store.keyProfiles(t)}, args...).Slice()
	if err != nil || len(v) != 3 { // {applied, replies, tbn}
		b.Fatal(v, err)
	}
	replies, _ := v[1].([]any)
	if len(replies) != n {
		b.Fatalf("%d replies", len(replies))
	}
	b.ResetTimer()
	cpu0 := processCPU()
	records := 0
	for done := 0; done < b.N; done += n {
		c := g.proc.prepareChunk(recs, now)
		for i := range c.inputs {
			if f := c.inputs[i].fast; f == nil || f.fallback {
				_ = scriptPayload(&c.inputs[i].Msg) // sent only with these
			}
		}
		c.results = make([]applyResult, len(c.inputs))
		for i := range c.results {
			if err := decodeReply(replies[i], &c.results[i]); err != nil {
				b.Fatal(err)
			}
		}
		var bl builder
		g.proc.build(&bl, c, now)
		if bl.err != nil || len(bl.dead) > 0 {
			b.Fatal(bl.err, len(bl.dead))
		}
		records += len(bl.recs)
	}
	cpu := processCPU() - cpu0
	msgs := (b.N + n - 1) / n * n
	b.ReportMetric(float64(cpu.Nanoseconds())/1000/float64(msgs), "cpu-µs/msg")
	b.ReportMetric(float64(records)/float64(msgs), "records/msg")
}
