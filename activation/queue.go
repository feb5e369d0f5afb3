package activation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// job is one (segment change, destination) delivery parked in Redis.
type job struct {
	ID          string          `json:"id"` // delivery id: messageId + ":" + destination id
	MessageID   string          `json:"messageId"`
	Profile     string          `json:"profileId"`
	SegmentID   string          `json:"segmentId"`
	Type        string          `json:"type"`
	Change      json.RawMessage `json:"change"`
	EnqueuedAt  int64           `json:"enqueuedAt"` // unix ms
	EventAt     int64           `json:"eventAt"`    // unix ms the change was written to the topic
	Attempts    int             `json:"attempts"`
	LastStatus  int             `json:"lastStatus,omitempty"`
	LastError   string          `json:"lastError,omitempty"`
	LastAttempt int64           `json:"lastAttemptAt,omitempty"`
}

// Failure is a job that exhausted its retries or failed permanently.
type Failure struct {
	DeliveryID string          `json:"deliveryId"`
	MessageID  string          `json:"messageId"`
	ProfileID  string          `json:"profileId"`
	SegmentID  string          `json:"segmentId"`
	Type       string          `json:"type"`
	Reason     string          `json:"reason"`
	Status     int             `json:"status,omitempty"`
	Attempts   int             `json:"attempts"`
	EnqueuedAt time.Time       `json:"enqueuedAt"`
	FailedAt   time.Time       `json:"failedAt"`
	Change     json.RawMessage `json:"change"`
}

// keys names the Redis keys of one destination.
type keys struct{ prefix string }

func newKeys(ns, tenant, dest string) keys {
	return keys{prefix: ns + ":{" + tenant + "}:act:" + dest + ":"}
}

func (k keys) queue(profile string) string { return k.prefix + "q:" + profile }
func (k keys) jobs() string                { return k.prefix + "jobs" }
func (k keys) due() string                 { return k.prefix + "due" }
func (k keys) stats() string               { return k.prefix + "stats" }
func (k keys) fail() string                { return k.prefix + "fail" }
func (k keys) failz() string               { return k.prefix + "failz" }

// Latency buckets of the stats hash, in milliseconds.
var latencyBuckets = []int64{10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 3600000}

func latencyBucket(ms int64) string {
	for _, b := range latencyBuckets {
		if ms <= b {
			return "lat_le_" + strconv.FormatInt(b, 10)
		}
	}
	return "lat_le_inf"
}

// maxFailures caps the failures kept per destination (the dead-letter
// topic keeps every one).
const maxFailures = 10000

func enqueueCall(k keys, j *job, now time.Time) (scriptCall, error) {
	b, err := json.Marshal(j)
	if err != nil {
		return scriptCall{}, fmt.Errorf("activation: encode job: %w", err)
	}
	return scriptCall{s: scriptEnqueue, keys: []string{k.queue(j.Profile), k.jobs(), k.due(), k.stats()},
		args: []any{j.ID, b, now.UnixMilli(), j.Profile}}, nil
}

// claim leases up to n due queue heads and returns their jobs.
func claim(ctx context.Context, rdb redis.UniversalClient, k keys, now time.Time, lease time.Duration, n int) ([]*job, error) {
	cmds, err := runScripts(ctx, rdb, []scriptCall{{s: scriptClaim, keys: []string{k.due()},
		args: []any{now.UnixMilli(), now.Add(lease).UnixMilli(), n}}})
	if err != nil {
		return nil, err
	}
	profiles, err := cmds[0].StringSlice()
	if err != nil || len(profiles) == 0 {
		return nil, err
	}
	calls := make([]scriptCall, len(profiles))
	for i, p := range profiles {
		calls[i] = scriptCall{s: scriptHead, keys: []string{k.queue(p), k.jobs(), k.due()}, args: []any{p}}
	}
	cmds, err = runScripts(ctx, rdb, calls)
	if err != nil {
		return nil, err
	}
	out := make([]*job, 0, len(cmds))
	for _, c := range cmds {
		s, err := c.Text()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return out, err
		}
		j := new(job)
		if err := json.Unmarshal([]byte(s), j); err != nil {
			return out, fmt.Errorf("activation: decode job: %w", err)
		}
		out = append(out, j)
	}
	return out, nil
}

// outcome is the result of one call, to be settled in Redis.
type outcome struct {
	mode      string // ok retry fail release
	job       *job
	dueAt     time.Time
	reason    string
	status    int
	latencyMs int64
	retrying  bool // the job had failed before (counted in "retrying")
}

func settleCall(k keys, o *outcome, now time.Time) (scriptCall, error) {
	var payload []byte
	var err error
	switch o.mode {
	case "retry":
		payload, err = json.Marshal(o.job)
	case "fail":
		payload, err = json.Marshal(o.failure(now))
	}
	if err != nil {
		return scriptCall{}, fmt.Errorf("activation: encode: %w", err)
	}
	was := "0"
	if o.retrying {
		was = "1"
	}
	return scriptCall{s: scriptSettle,
		keys: []string{k.queue(o.job.Profile), k.jobs(), k.due(), k.stats(), k.fail(), k.failz()},
		args: []any{o.mode, o.job.ID, o.job.Profile, now.UnixMilli(), o.dueAt.UnixMilli(), payload, was,
			o.latencyMs, latencyBucket(o.latencyMs), maxFailures}}, nil
}

func (o *outcome) failure(now time.Time) Failure {
	j := o.job
	return Failure{DeliveryID: j.ID, MessageID: j.MessageID, ProfileID: j.Profile, SegmentID: j.SegmentID, Type: j.Type,
		Reason: o.reason, Status: o.status, Attempts: j.Attempts, EnqueuedAt: time.UnixMilli(j.EnqueuedAt).UTC(),
		FailedAt: now.UTC(), Change: j.Change}
}
