package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/internal/defaults"
)

// PipelineConfig measures the whole pipeline: events sent to the gateway
// until the matching segment.entered records appear on the segment-changes
// topic. Every event is an identify of a new user with the trait
// {"loadgen_run": <run id>}; the measured segment matches that trait.
type PipelineConfig struct {
	URL      string   // gateway/API base URL
	WriteKey string   // tracking API key
	APIKey   string   // API key (creates the segments)
	Brokers  []string // to read the segment-changes topic
	Topic    string   // segment-changes topic (default user360.segment-changes)
	// Rate is events per second to send (0: as fast as the gateway takes
	// them, for throughput).
	Rate int
	// Events is how many events to send.
	Events int
	// BatchSize is events per request.
	BatchSize int
	// Conns is the number of sending connections.
	Conns int
	// ExtraSegments are created besides the measured one (trait and event
	// conditions the events do not match), so the segmenter has a realistic
	// number of definitions.
	ExtraSegments int
	// Wait bounds the wait for the last entry after sending.
	Wait time.Duration
	// Stages also splits the latency by stage (reads the events and
	// profile-updates topics after the run; see Stages).
	Stages bool
	// EventsTopic and UpdatesTopic for Stages (defaults user360.events,
	// user360.profile-updates).
	EventsTopic, UpdatesTopic string
	// Series, when positive, also reports the latency per window of this
	// length (by the time an event's entry was seen), to show when a tail
	// happens.
	Series time.Duration
}

// PipelineResult of a run.
type PipelineResult struct {
	Sent, Entered int
	// Redelivered counts entries whose messageId was seen before (the same
	// transition published again: consumers deduplicate by messageId);
	// Doubled counts second entries of one user with a new messageId (a
	// violation of exactly-once transitions).
	Redelivered, Doubled int
	SendElapsed          time.Duration // first send to last 2xx
	Elapsed              time.Duration // first send to last entry
	EventsPerS           float64       // Entered / Elapsed
	P50, P99, Max        time.Duration // 2xx of an event to its segment.entered
	SegmentsDefined      int
	Stages               *Stages  // with PipelineConfig.Stages
	Series               []Window // with PipelineConfig.Series
}

func (r PipelineResult) String() string {
	out := r.summary()
	if r.Stages != nil {
		out += "\n" + r.Stages.String()
	}
	for _, w := range r.Series {
		out += "\n" + w.String()
	}
	return out
}

func (r PipelineResult) summary() string {
	return fmt.Sprintf("sent=%d entered=%d redelivered=%d doubled=%d segments=%d send=%s total=%s pipeline_events/s=%.0f latency(2xx→segment.entered) p50=%s p99=%s max=%s",
		r.Sent, r.Entered, r.Redelivered, r.Doubled, r.SegmentsDefined, r.SendElapsed.Round(time.Millisecond), r.Elapsed.Round(time.Millisecond), r.EventsPerS,
		r.P50.Round(100*time.Microsecond), r.P99.Round(100*time.Microsecond), r.Max.Round(time.Millisecond))
}

// RunPipeline runs one measurement.
func RunPipeline(ctx context.Context, cfg PipelineConfig) (PipelineResult, error) {
	if cfg.URL == "" || cfg.WriteKey == "" || cfg.APIKey == "" || len(cfg.Brokers) == 0 {
		return PipelineResult{}, errors.New("loadgen: URL, write key, API key and brokers are required")
	}
	if cfg.Events <= 0 || cfg.Events > 10_000_000 {
		return PipelineResult{}, errors.New("loadgen: events must be between 1 and 10,000,000")
	}
	if cfg.Topic == "" {
		cfg.Topic = "user360.segment-changes"
	}
	cfg.BatchSize = max(cfg.BatchSize, 1)
	cfg.Conns = max(cfg.Conns, 1)
	if cfg.Wait <= 0 {
		cfg.Wait = 2 * time.Minute
	}
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	base := strings.TrimRight(cfg.URL, "/")
	segID, err := createSegment(ctx, base, cfg.APIKey, "loadgen "+run, map[string]any{"trait": "loadgen_run", "op": "eq", "value": run})
	if err != nil {
		return PipelineResult{}, err
	}
	for i := 0; i < cfg.ExtraSegments; i++ {
		var rule map[string]any
		if i%5 == 4 {
			rule = map[string]any{"event": "Loadgen Other " + strconv.Itoa(i), "performed": true, "within": map[string]any{"value": 7, "unit": "days"}}
		} else {
			rule = map[string]any{"trait": "loadgen_other_" + strconv.Itoa(i), "op": "eq", "value": "x"}
		}
		if _, err := createSegment(ctx, base, cfg.APIKey, "loadgen "+run+" extra "+strconv.Itoa(i), rule); err != nil {
			return PipelineResult{}, err
		}
	}

	// Read segment entries from the end of the topic.
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Brokers...), kgo.ConsumeTopics(cfg.Topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()), kgo.FetchMaxWait(50*time.Millisecond))
	if err != nil {
		return PipelineResult{}, err
	}
	defer cl.Close()
	// Make sure the consumer has its start offsets before sending.
	pctx, pcancel := context.WithTimeout(ctx, 500*time.Millisecond)
	cl.PollFetches(pctx)
	pcancel()

	var mu sync.Mutex
	enteredAt := map[string]time.Time{} // user id → segment.entered record time
	acked := make(map[string]time.Time, cfg.Events)
	var lat []time.Duration
	var seenAt []time.Time // when lat[i] was complete (for Series)
	entered := 0
	var lastEntry time.Time
	early := map[string]time.Time{}
	seenMsg := map[string]bool{}
	seenUser := map[string]bool{}
	redelivered, doubled := 0, 0
	readCtx, stopRead := context.WithCancel(ctx)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		for readCtx.Err() == nil {
			f := cl.PollFetches(readCtx)
			now := time.Now()
			f.EachRecord(func(r *kgo.Record) {
				c, ok := decodeChange(r.Value)
				if !ok || c.Type != "segment.entered" || c.SegmentID != segID {
					return
				}
				mu.Lock()
				if seenMsg[c.MessageID] {
					redelivered++
					mu.Unlock()
					return
				}
				seenMsg[c.MessageID] = true
				if seenUser[c.UserID] {
					doubled++
					mu.Unlock()
					return
				}
				seenUser[c.UserID] = true
				enteredAt[c.UserID] = r.Timestamp
				if t, ok := acked[c.UserID]; ok {
					lat = append(lat, now.Sub(t))
					seenAt = append(seenAt, now)
					delete(acked, c.UserID)
				} else {
					early[c.UserID] = now // entered before the sender saw its 2xx
				}
				entered++
				lastEntry = now
				mu.Unlock()
			})
		}
	}()

	start := time.Now()
	jobs := make(chan int)
	var wg sync.WaitGroup
	tr := &http.Transport{MaxIdleConnsPerHost: cfg.Conns, MaxConnsPerHost: cfg.Conns}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var sendErr error
	var errOnce sync.Once
	lastAck := start
	for w := 0; w < cfg.Conns; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for first := range jobs {
				n := min(cfg.BatchSize, cfg.Events-first)
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/batch", bytes.NewReader(identifyBatch(run, first, n)))
				req.SetBasicAuth(cfg.WriteKey, "")
				resp, err := client.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("gateway answered %d", resp.StatusCode)
					}
				}
				if err != nil {
					errOnce.Do(func() { sendErr = err })
					continue
				}
				now := time.Now()
				mu.Lock()
				for i := 0; i < n; i++ {
					id := "lg-" + run + "-" + strconv.Itoa(first+i)
					if t, ok := early[id]; ok {
						lat = append(lat, max(t.Sub(now), 0))
						seenAt = append(seenAt, now)
						delete(early, id)
					} else {
						acked[id] = now
					}
				}
				if now.After(lastAck) {
					lastAck = now
				}
				mu.Unlock()
			}
		}()
	}
	// Requests are scheduled at start + i·interval (no ticker: a late
	// request is sent at once instead of being dropped, so the rate holds).
	var interval time.Duration
	if cfg.Rate > 0 {
		interval = time.Duration(float64(time.Second) * float64(cfg.BatchSize) / float64(cfg.Rate))
	}
	for i, first := 0, 0; first < cfg.Events && ctx.Err() == nil; i, first = i+1, first+cfg.BatchSize {
		if interval > 0 {
			if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
				time.Sleep(d)
			}
		}
		jobs <- first
	}
	close(jobs)
	wg.Wait()
	if sendErr != nil {
		stopRead()
		<-readDone
		return PipelineResult{}, fmt.Errorf("loadgen: sending: %w", sendErr)
	}
	deadline := time.Now().Add(cfg.Wait)
	for {
		mu.Lock()
		done := entered >= cfg.Events
		mu.Unlock()
		if done || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	stopRead()
	<-readDone
	mu.Lock()
	defer mu.Unlock()
	res := PipelineResult{Sent: cfg.Events, Entered: entered, Redelivered: redelivered, Doubled: doubled, SendElapsed: lastAck.Sub(start), SegmentsDefined: 1 + cfg.ExtraSegments}
	if entered > 0 {
		res.Elapsed = lastEntry.Sub(start)
		res.EventsPerS = float64(entered) / res.Elapsed.Seconds()
	}
	if cfg.Series > 0 {
		res.Series = windows(start, cfg.Series, seenAt, lat)
	}
	if len(lat) > 0 {
		p := percentiles(lat)
		res.P50, res.P99, res.Max = p.P50, p.P99, p.Max
	}
	if cfg.Stages {
		defaults.Set(&cfg.EventsTopic, "user360.events")
		defaults.Set(&cfg.UpdatesTopic, "user360.profile-updates")
		st, err := stageLatencies(ctx, cfg.Brokers, cfg.EventsTopic, cfg.UpdatesTopic, run, start.Add(-time.Second), enteredAt)
		if err != nil {
			return res, err
		}
		res.Stages = &st
	}
	return res, nil
}

func createSegment(ctx context.Context, base, apiKey, name string, rule map[string]any) (string, error) {
	// emitOnBackfill: users created while the segment's backfill scans the
	// existing profiles may be entered by the backfill rather than by their
	// own update; their entries must be published too.
	body, _ := json.Marshal(map[string]any{"name": name, "rule": rule, "emitOnBackfill": true})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/segments", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("loadgen: create segment: %w", err)
	}
	defer resp.Body.Close()
	var out struct {
		ID    string `json:"id"`
		Error string `json:"error"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != http.StatusCreated || out.ID == "" {
		return "", fmt.Errorf("loadgen: create segment: %d %s", resp.StatusCode, out.Error)
	}
	return out.ID, nil
}

// identifyBatch is the /v1/batch body of n identifies of new users, from
// user number first on; each has the trait loadgen_run = run, which the
// measured segment matches.
func identifyBatch(run string, first, n int) []byte {
	b := make([]byte, 0, 16+n*(110+3*len(run)))
	b = append(b, `{"batch":[`...)
	for i := first; i < first+n; i++ {
		if i > first {
			b = append(b, ',')
		}
		b = append(b, `{"type":"identify","userId":"lg-`...)
		b = append(b, run...)
		b = append(b, '-')
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, `","messageId":"lg-`...)
		b = append(b, run...)
		b = append(b, '-')
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, `","traits":{"loadgen_run":"`...)
		b = append(b, run...)
		b = append(b, `","plan":"pro"}}`...)
	}
	return append(b, `]}`...)
}
