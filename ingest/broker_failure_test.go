package ingest_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/user360/user360/ingest"
	"github.com/user360/user360/internal/testenv"
)

// failProduce makes the broker answer every produce request with a
// retriable error until the returned function is called.
func failProduce(h *harness) (restore func()) {
	c := h.broker.Cluster()
	stopped := make(chan struct{})
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		select {
		case <-stopped:
			c.DropControl()
			return nil, nil, false
		default:
		}
		c.KeepControl()
		preq := req.(*kmsg.ProduceRequest)
		resp := preq.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range preq.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.NotEnoughReplicas.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	return func() { close(stopped) }
}

func TestBrokerRefusingProduceMeans503AndNothingFalselyAcknowledged(t *testing.T) {
	h := newHarness(t, func(c *ingest.Config) { c.ProduceTimeout = time.Second })
	restore := failProduce(h)
	got := h.do(t, call{path: "/v1/batch", body: `{"batch":[{"type":"track","userId":"1","event":"Refused"}]}`, basic: writeKey})
	if got.status != 503 || got.header.Get("Retry-After") == "" {
		t.Fatalf("while the broker refuses: %d %v Retry-After=%q", got.status, got.body, got.header.Get("Retry-After"))
	}
	restore()
	// The refused batch may still reach the log once the broker recovers
	// (the idempotent producer keeps retrying what it sent); the SDK
	// resends it with the same messageId and identity deduplicates.
	// Once the broker accepts again, the same gateway works, and every
	// message answered 2xx is in the log.
	var acked []string
	deadline := time.Now().Add(10 * time.Second)
	for len(acked) < 3 && time.Now().Before(deadline) {
		id := "after-" + string(rune('a'+len(acked)))
		got := h.do(t, call{path: "/v1/track", body: `{"userId":"1","event":"Accepted","messageId":"` + id + `"}`, basic: writeKey})
		if got.status == 200 {
			acked = append(acked, id)
		} else if got.status != 503 {
			t.Fatalf("unexpected %d %v", got.status, got.body)
		}
	}
	if len(acked) < 3 {
		t.Fatal("the gateway did not recover after the broker did")
	}
	recs := testenv.ReadAll(t, h.brokers, h.topics.Events, len(acked)+1, 3*time.Second)
	inLog := map[string]bool{}
	for _, r := range recs {
		var m map[string]any
		_ = json.Unmarshal(r.Value, &m)
		inLog[m["messageId"].(string)] = true
	}
	for _, id := range acked {
		if !inLog[id] {
			t.Errorf("message %s was acknowledged but is not in the log", id)
		}
	}
}

func TestThrottlingAnswers429WithRetryAfter(t *testing.T) {
	h := newHarness(t, func(c *ingest.Config) { c.MaxInFlight = 1; c.ProduceTimeout = 3 * time.Second })
	c := h.broker.Cluster()
	entered := make(chan struct{})
	release := make(chan struct{})
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		close(entered)
		c.SleepControl(func() { <-release })
		return nil, nil, false
	})
	done := make(chan reply, 1)
	go func() {
		done <- h.do(t, call{path: "/v1/track", body: `{"userId":"1","event":"Slow"}`, basic: writeKey})
	}()
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("first request never reached the broker")
	}
	got := h.do(t, call{path: "/v1/track", body: `{"userId":"1","event":"Second"}`, basic: writeKey})
	close(release)
	if got.status != 429 || got.header.Get("Retry-After") == "" {
		t.Fatalf("second request while the first is in flight: %d %v", got.status, got.body)
	}
	if first := <-done; first.status != 200 {
		t.Fatalf("first request: %d %v", first.status, first.body)
	}
}
