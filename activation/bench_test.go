package activation

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/internal/testenv"
	"github.com/user360/user360/schemas"
)

// benchReceiver answers 200 and records when each change arrived.
type benchReceiver struct {
	*httptest.Server
	n    atomic.Int64
	mu   sync.Mutex
	lats []time.Duration
}

func newBenchReceiver(b *testing.B) *benchReceiver {
	br := &benchReceiver{}
	br.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var c struct {
			Timestamp time.Time `json:"timestamp"`
		}
		_ = json.NewDecoder(r.Body).Decode(&c)
		lat := time.Since(c.Timestamp)
		br.mu.Lock()
		br.lats = append(br.lats, lat)
		br.mu.Unlock()
		br.n.Add(1)
	}))
	b.Cleanup(br.Close)
	return br
}

func benchProduce(b *testing.B, e *env, i int) {
	c := e.change(schemas.SegmentEntered, "p"+strconv.Itoa(i%2000), "seg", i)
	c.MessageID = "bench-" + strconv.Itoa(i)
	e.prod.Produce(context.Background(), changeRecord(e.topics.SegmentChanges, c), func(_ *kgo.Record, err error) {
		if err != nil {
			b.Error(err)
		}
	})
}

// BenchmarkDeliveries measures deliveries/s from the topic to a local
// receiver (real Redis, embedded broker, Concurrency 32).
func BenchmarkDeliveries(b *testing.B) {
	e := newEnv(b, testenv.Redis(b), func(c *Config, _ *Deps) { c.Concurrency = 32 }).start()
	rc := newBenchReceiver(b)
	e.createDest(webhook(rc.URL, nil))
	b.ResetTimer()
	for i := range b.N {
		benchProduce(b, e, i)
	}
	for rc.n.Load() < int64(b.N) {
		time.Sleep(time.Millisecond)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
}

// BenchmarkDeliveryLatency produces segment changes at a steady 500/s and
// reports the p50 and p99 time from the change's timestamp (set when it is
// produced) to the webhook call.
func BenchmarkDeliveryLatency(b *testing.B) {
	e := newEnv(b, testenv.Redis(b)).start()
	rc := newBenchReceiver(b)
	e.createDest(webhook(rc.URL, nil))
	// Warm up connections and scripts.
	benchProduce(b, e, -1)
	for rc.n.Load() < 1 {
		time.Sleep(time.Millisecond)
	}
	rc.mu.Lock()
	rc.lats = rc.lats[:0]
	rc.mu.Unlock()
	b.ResetTimer()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for i := range b.N {
		<-tick.C
		benchProduce(b, e, i)
	}
	for rc.n.Load() < int64(b.N)+1 {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	rc.mu.Lock()
	lats := slices.Clone(rc.lats)
	rc.mu.Unlock()
	slices.Sort(lats)
	b.ReportMetric(float64(lats[len(lats)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lats[len(lats)*99/100].Microseconds())/1000, "p99-ms")
}
