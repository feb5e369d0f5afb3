package segmenter_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/internal/defs"
	"github.com/user360/user360/internal/kafka"
	"github.com/user360/user360/schemas"
	"github.com/user360/user360/segmenter"
)

func (h *harness) run() func() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	svc := h.svc
	go func() { done <- svc.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			h.t.Errorf("Run: %v", err)
		}
	}
}

func (h *harness) waitBackfill(seg string, revision float64) map[string]any {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, st := h.do("GET", "/v1/segments/"+seg+"/status", nil)
		if code != 200 {
			h.t.Fatalf("status: %d %v", code, st)
		}
		bf := st["backfill"].(map[string]any)
		if bf["state"] == "done" && bf["revision"] == revision {
			return st
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("backfill not done: %v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (h *harness) seedProfiles(n int, rng *rand.Rand) {
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("p%04d", i)
		country := []string{"IN", "US", "FR"}[rng.IntN(3)]
		h.src.put(schemas.Profile{ID: id, Tenant: h.tenant, Traits: map[string]any{"country": country}, Identities: []schemas.Identity{{Type: "user_id", Value: "u" + id}}})
	}
}

func TestBackfillConcurrentWithLiveUpdates(t *testing.T) {
	h := newHarness(t, opts{})
	rng := rand.New(rand.NewPCG(7, 7))
	h.seedProfiles(400, rng)
	h.src.delay = 3 * time.Millisecond
	stop := h.run()
	defer stop()
	seg := h.segment("India", `{"trait":"country","op":"eq","value":"IN"}`)
	// Live updates race the backfill: identity changes the profile, then
	// publishes the update.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 300; i++ {
			id := fmt.Sprintf("p%04d", rng.IntN(400))
			country := []string{"IN", "US"}[rng.IntN(2)]
			traits := map[string]any{"country": country}
			h.src.put(schemas.Profile{ID: id, Tenant: h.tenant, Traits: traits})
			if err := h.svc.Handle(context.Background(), []*kgo.Record{h.rec(traitsUpdate(id, traits))}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	wg.Wait()
	st := h.waitBackfill(seg, 1)
	var want []string
	for _, p := range mustScan(h) {
		if p.Traits["country"] == "IN" {
			want = append(want, p.ID)
		}
	}
	got := h.members(seg)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("members after backfill: %d, want %d", len(got), len(want))
	}
	if st["size"] != float64(len(want)) {
		t.Fatalf("status size %v want %d", st["size"], len(want))
	}
	in := checkAlternation(t, h.sink.all())
	for _, id := range want {
		if !in[seg+"/"+id] {
			t.Fatalf("%s: entry not published", id)
		}
	}
	causes := map[string]int{}
	for _, c := range h.sink.all() {
		causes[c.Cause]++
	}
	if causes[schemas.CauseBackfill] == 0 || causes[schemas.CauseEvent] == 0 {
		t.Fatalf("causes %v", causes)
	}
}

func mustScan(h *harness) []schemas.Profile {
	ps, _, _ := h.src.ScanProfiles(context.Background(), h.tenant, "", 1<<20)
	sort.Slice(ps, func(i, j int) bool { return ps[i].ID < ps[j].ID })
	return ps
}

func TestBackfillResumesAfterRestart(t *testing.T) {
	h := newHarness(t, opts{})
	h.seedProfiles(400, rand.New(rand.NewPCG(1, 2)))
	h.src.delay = 30 * time.Millisecond
	stop := h.run()
	seg := h.segment("India", `{"trait":"country","op":"eq","value":"IN"}`)
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, st := h.do("GET", "/v1/segments/"+seg+"/status", nil)
		if p, _ := st["backfill"].(map[string]any)["processed"].(float64); p >= 100 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("backfill does not progress")
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	_, st := h.do("GET", "/v1/segments/"+seg+"/status", nil)
	if st["backfill"].(map[string]any)["state"] != "running" {
		t.Fatalf("want an unfinished backfill: %v", st)
	}
	// A restarted instance continues from the saved cursor.
	h.src.delay = 0
	h.svc = h.newService(opts{})
	h.svc.Routes(h.mux2())
	stop2 := h.run()
	defer stop2()
	st = h.waitBackfill(seg, 1)
	if p := st["backfill"].(map[string]any)["processed"].(float64); p != 400 {
		t.Fatalf("processed %v: the backfill started over or skipped", p)
	}
	var want []string
	for _, p := range mustScan(h) {
		if p.Traits["country"] == "IN" {
			want = append(want, p.ID)
		}
	}
	if got := h.members(seg); !reflect.DeepEqual(got, want) {
		t.Fatalf("members %d want %d", len(got), len(want))
	}
	checkAlternation(t, h.sink.all())
}

func TestEditAndDeleteSegment(t *testing.T) {
	h := newHarness(t, opts{})
	h.seedProfiles(60, rand.New(rand.NewPCG(3, 4)))
	stop := h.run()
	defer stop()
	seg := h.segment("Country", `{"trait":"country","op":"eq","value":"IN"}`, false)
	h.waitBackfill(seg, 1)
	var inIN, inUS []string
	for _, p := range mustScan(h) {
		switch p.Traits["country"] {
		case "IN":
			inIN = append(inIN, p.ID)
		case "US":
			inUS = append(inUS, p.ID)
		}
	}
	if got := h.members(seg); !reflect.DeepEqual(got, inIN) {
		t.Fatalf("members %v", got)
	}
	if n := len(h.sink.all()); n != 0 {
		t.Fatalf("emitOnBackfill false published %d changes", n)
	}
	code, body := h.do("PUT", "/v1/segments/"+seg, map[string]any{"name": "Country", "rule": map[string]any{"trait": "country", "op": "eq", "value": "US"}})
	if code != 200 || body["revision"] != 2.0 {
		t.Fatalf("put: %d %v", code, body)
	}
	h.waitBackfill(seg, 2)
	if got := h.members(seg); !reflect.DeepEqual(got, inUS) {
		t.Fatalf("members after edit %v", got)
	}
	causes := map[string]int{}
	for _, c := range h.sink.all() {
		if c.Cause != schemas.CauseDefinition {
			t.Fatalf("edit published cause %s", c.Cause)
		}
		causes[c.Type]++
	}
	if causes[schemas.SegmentEntered] != len(inUS) || causes[schemas.SegmentExited] != len(inIN) {
		t.Fatalf("edit changes %v, want %d entries %d exits", causes, len(inUS), len(inIN))
	}
	before := len(h.sink.all())
	if code, _ := h.do("DELETE", "/v1/segments/"+seg, nil); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(h.sink.all())-before < len(inUS) {
		if time.Now().After(deadline) {
			t.Fatalf("deletion published %d exits, want %d", len(h.sink.all())-before, len(inUS))
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, c := range h.sink.all()[before:] {
		if c.Type != schemas.SegmentExited || c.Cause != schemas.CauseDefinition {
			t.Fatalf("deletion change %+v", c)
		}
	}
	if code, _ := h.do("GET", "/v1/segments/"+seg, nil); code != 404 {
		t.Fatal("deleted segment still readable")
	}
	for _, id := range inUS {
		if segs, _ := h.svc.ProfileSegments(context.Background(), h.tenant, id); len(segs) != 0 {
			t.Fatalf("%s still lists %v", id, segs)
		}
	}
}

// A deletion that no instance finished (all stopped) is finished by an
// instance that starts later and reads the tombstone from the log.
func TestInterruptedDeletionIsFinishedAfterRestart(t *testing.T) {
	h := newHarness(t, opts{})
	seg := h.segment("India", `{"trait":"country","op":"eq","value":"IN"}`)
	for _, id := range []string{"a", "b", "c"} {
		h.handle(h.rec(traitsUpdate(id, map[string]any{"country": "IN"})))
	}
	if err := h.defs.Delete(context.Background(), "segment", h.tenant, seg); err != nil {
		t.Fatal(err)
	}
	// The running instance never ran its job (it had no Run). A new process
	// subscribes before its definitions store reads the log.
	d2, err := defs.New(defs.Config{Client: kafka.ClientConfig{Brokers: h.brokers}, Topic: h.topics.Definitions}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	h.svc = h.newService(opts{defs: d2})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = d2.Run(ctx) }()
	defer func() { cancel(); <-done }()
	stop := h.run()
	defer stop()
	deadline := time.Now().Add(10 * time.Second)
	for len(h.sink.all()) < 6 {
		if time.Now().After(deadline) {
			t.Fatalf("exits after restart: %v", h.sink.all())
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, id := range []string{"a", "b", "c"} {
		if got := changesOf(h.sink.all(), seg, id); !reflect.DeepEqual(got, []string{"entered:event", "exited:definition"}) {
			t.Fatalf("%s: %v", id, got)
		}
	}
	if n, _ := h.rdb.Exists(context.Background(), h.ns+":{"+h.tenant+"}:seg:m:"+seg).Result(); n != 0 {
		t.Fatal("member set left behind")
	}
}

// Updates of a tenant without segments are not applied: the traits the
// segmenter kept from earlier segments are forgotten, so that a segment
// created later is backfilled with the identity store's traits, not with
// outdated ones.
func TestBackfillUsesCurrentTraits(t *testing.T) {
	h := newHarness(t, opts{})
	first := h.segment("Pro", `{"trait":"plan","op":"eq","value":"pro"}`)
	h.src.put(schemas.Profile{ID: "p1", Tenant: h.tenant, Traits: map[string]any{"plan": "free"}})
	h.handle(h.rec(traitsUpdate("p1", map[string]any{"plan": "free"})))
	if code, body := h.do("DELETE", "/v1/segments/"+first, nil); code != 204 && code != 200 {
		t.Fatalf("delete: %d %v", code, body)
	}
	if err := segmenter.RunJobsForTest(h.svc, context.Background()); err != nil {
		t.Fatal(err)
	}
	// no segment now: this update is not kept
	h.src.put(schemas.Profile{ID: "p1", Tenant: h.tenant, Traits: map[string]any{"plan": "pro"}})
	h.handle(h.rec(traitsUpdate("p1", map[string]any{"plan": "pro"}, "plan")))
	second := h.segment("Pro again", `{"trait":"plan","op":"eq","value":"pro"}`)
	if err := segmenter.RunJobsForTest(h.svc, context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := h.members(second); !reflect.DeepEqual(got, []string{"p1"}) {
		t.Fatalf("members after the backfill: %v", got)
	}
	// a later update that changes no trait keeps it there
	h.handle(h.rec(schemas.ProfileUpdate{ProfileID: "p1", Traits: map[string]any{"plan": "pro"}, Changes: map[string]schemas.TraitChange{}}))
	if got := h.members(second); !reflect.DeepEqual(got, []string{"p1"}) {
		t.Fatalf("members after an update without changes: %v", got)
	}
}
