package segmenter_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/segmenter"
)

func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

// Per-update work does not grow with unrelated segments: an update
// evaluates only the segments that read what it changed.
func TestUpdatesEvaluateOnlyAffectedSegments(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := newHarness(t, opts{metrics: reg})
	for i := 0; i < 2000; i++ {
		rule := fmt.Sprintf(`{"trait":"unrelated%d","op":"eq","value":1}`, i)
		if i%5 == 0 {
			rule = fmt.Sprintf(`{"event":"Other %d","within":{"value":1,"unit":"days"}}`, i)
		}
		raw, _ := json.Marshal(segmenter.Segment{ID: fmt.Sprintf("u%04d", i), Name: "u", Rule: json.RawMessage(rule), Revision: 1})
		segmenter.LoadSegmentForTest(h.svc, h.tenant, raw)
	}
	seg := h.segment("Plan", `{"trait":"plan","op":"eq","value":"pro"}`)
	buyers := h.segment("Buyers", `{"event":"Order Completed"}`)
	h.handle(h.rec(traitsUpdate("p1", map[string]any{"plan": "free"})))
	before := counter(t, reg, "user360_segmenter_evaluations_total")
	h.handle(h.rec(traitsUpdate("p1", map[string]any{"plan": "pro"}, "plan")))
	h.handle(h.rec(eventUpdate("p1", "Order Completed", t0, nil, map[string]any{"plan": "pro"})))
	if n := counter(t, reg, "user360_segmenter_evaluations_total") - before; n != 2 {
		t.Fatalf("two updates evaluated %v segments, want 2", n)
	}
	if len(h.members(seg)) != 1 || len(h.members(buyers)) != 1 {
		t.Fatal("memberships")
	}
}

// Two instances firing timers and applying updates for the same profiles
// at once never publish two entries or two exits in a row.
func TestConcurrentInstancesKeepTransitionsExact(t *testing.T) {
	h := newHarness(t, opts{})
	seg := h.segment("Active", `{"event":"Visit","within":{"value":2,"unit":"seconds"}}`)
	other := h.newService(opts{})
	rng := rand.New(rand.NewPCG(9, 9))
	var recs [][]*kgo.Record
	for round := 0; round < 30; round++ {
		var batch []*kgo.Record
		for i := 0; i < 20; i++ {
			pid := fmt.Sprint("p", rng.IntN(10))
			batch = append(batch, h.rec(eventUpdate(pid, "Visit", t0.Add(time.Duration(round)*time.Second), nil, nil)))
		}
		recs = append(recs, batch)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for round, batch := range recs {
		h.clock.Set(t0.Add(time.Duration(round) * time.Second))
		wg.Add(3)
		go func() { defer wg.Done(); _ = segmenter.FireDueForTest(h.svc, ctx, h.tenant) }()
		go func() { defer wg.Done(); _ = segmenter.FireDueForTest(other, ctx, h.tenant) }()
		go func() {
			defer wg.Done()
			if err := h.svc.Handle(ctx, batch); err != nil {
				t.Error(err)
			}
		}()
		wg.Wait()
		if round%7 == 6 {
			h.clock.Add(5 * time.Second) // let everything expire
			h.fireTimers()
		}
	}
	h.clock.Add(time.Minute)
	h.fireTimers()
	in := checkAlternation(t, h.sink.all())
	for k, v := range in {
		if v {
			t.Fatalf("%s still published as a member after everything expired", k)
		}
	}
	if len(h.members(seg)) != 0 {
		t.Fatal("members left")
	}
}
