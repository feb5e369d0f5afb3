package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Stages splits a pipeline run's latency by stage, from the broker's
// record timestamps (the producers' clocks, all on this machine): the
// gateway's events record → identity's profile.updated for that event →
// the segmenter's segment.entered.
type Stages struct {
	Identity, Segmenter Percentiles
}

// Percentiles of one stage.
type Percentiles struct {
	N             int
	P50, P99, Max time.Duration
}

func (p Percentiles) String() string {
	return fmt.Sprintf("p50=%s p99=%s max=%s n=%d", p.P50.Round(100*time.Microsecond), p.P99.Round(100*time.Microsecond), p.Max.Round(time.Millisecond), p.N)
}

func (s Stages) String() string {
	return fmt.Sprintf("stages: identity(events→profile-updates) %s; segmenter(profile-updates→segment-changes) %s", s.Identity, s.Segmenter)
}

func percentiles(d []time.Duration) Percentiles {
	if len(d) == 0 {
		return Percentiles{}
	}
	slices.Sort(d)
	return Percentiles{N: len(d), P50: d[len(d)/2], P99: d[min(len(d)-1, len(d)*99/100)], Max: d[len(d)-1]}
}

// readSince reads a topic's records published at or after since, until it
// has been idle for a second.
func readSince(ctx context.Context, brokers []string, topic string, since time.Time, each func(*kgo.Record)) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AfterMilli(since.UnixMilli())), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		return err
	}
	defer cl.Close()
	for idle := 0; idle < 3 && ctx.Err() == nil; {
		pctx, cancel := context.WithTimeout(ctx, 400*time.Millisecond)
		f := cl.PollFetches(pctx)
		cancel()
		n := 0
		f.EachRecord(func(r *kgo.Record) { n++; each(r) })
		if n == 0 {
			idle++
		} else {
			idle = 0
		}
	}
	return ctx.Err()
}

// stageLatencies matches a run's events (message ids "lg-<run>-…"), their
// profile updates and the entries seen on the segment-changes topic.
func stageLatencies(ctx context.Context, brokers []string, eventsTopic, updatesTopic, run string, since time.Time, entered map[string]time.Time) (Stages, error) {
	prefix := "lg-" + run + "-"
	sent := map[string]time.Time{}
	err := readSince(ctx, brokers, eventsTopic, since, func(r *kgo.Record) {
		var e struct{ MessageID string }
		if json.Unmarshal(r.Value, &e) == nil && strings.HasPrefix(e.MessageID, prefix) {
			sent[e.MessageID] = r.Timestamp
		}
	})
	if err != nil {
		return Stages{}, fmt.Errorf("loadgen: read %s: %w", eventsTopic, err)
	}
	var id, seg []time.Duration
	err = readSince(ctx, brokers, updatesTopic, since, func(r *kgo.Record) {
		var u struct {
			Type  string
			Event *struct{ MessageID string }
		}
		if json.Unmarshal(r.Value, &u) != nil || u.Type != "profile.updated" || u.Event == nil {
			return
		}
		t0, ok := sent[u.Event.MessageID]
		if !ok {
			return
		}
		delete(sent, u.Event.MessageID) // the first update of the event
		id = append(id, r.Timestamp.Sub(t0))
		if t2, ok := entered[u.Event.MessageID]; ok { // user id = message id
			seg = append(seg, t2.Sub(r.Timestamp))
		}
	})
	if err != nil {
		return Stages{}, fmt.Errorf("loadgen: read %s: %w", updatesTopic, err)
	}
	return Stages{Identity: percentiles(id), Segmenter: percentiles(seg)}, nil
}
