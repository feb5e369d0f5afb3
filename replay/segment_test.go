package replay_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/user360/user360/identity"
	"github.com/user360/user360/internal/kafka"
	"github.com/user360/user360/internal/testenv"
	"github.com/user360/user360/replay"
	"github.com/user360/user360/schemas"
	"github.com/user360/user360/segmenter"
)

// shortMemory is the identity configuration of the segment backfill
// tests: a timeline of 5 events and 7 days of daily counters, so that the
// segmenter's own backfill cannot see orders from months ago.
func shortMemory() identity.Config {
	c := identity.DefaultConfig()
	c.TimelineCap, c.CounterLookbackDays = 5, 7
	return c
}

// liveWith runs the live identity and segmenter stages with an identity
// configuration until the test ends.
func (e *env) liveWith(idCfg identity.Config) {
	e.t.Helper()
	kc := kafka.ClientConfig{Brokers: e.brokers}
	idCfg.Namespace, idCfg.Group = e.base, e.idGroup
	id, err := identity.New(idCfg, identity.Deps{Tenants: e.tenants, Redis: e.rdb, Kafka: kc, Topics: e.topics, Log: zerolog.Nop(), Clock: clock})
	if err != nil {
		e.t.Fatal(err)
	}
	sgCfg := segmenter.DefaultConfig()
	sgCfg.Namespace, sgCfg.Group = e.base, e.sgGroup
	sgCfg.JobPoll = 50 * time.Millisecond
	sg, err := segmenter.New(sgCfg, segmenter.Deps{Tenants: e.tenants, Redis: e.rdb, Kafka: kc, Topics: e.topics, Log: zerolog.Nop(), Clock: clock,
		Definitions: e.defs, Profiles: id.Store()})
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { _ = id.Run(ctx); done <- struct{}{} }()
	go func() { _ = sg.Run(ctx); done <- struct{}{} }()
	e.t.Cleanup(func() { cancel(); <-done; <-done })
}

// emittingSegment stores a segment whose backfill publishes its entries.
func (e *env) emittingSegment(id, rule string) {
	e.t.Helper()
	seg := segmenter.Segment{ID: id, Name: id, Rule: json.RawMessage(rule), EmitOnBackfill: true, Revision: 1, CreatedAt: now, UpdatedAt: now}
	if err := e.defs.Put(context.Background(), segmenter.KindSegment, e.tenant, id, seg); err != nil {
		e.t.Fatal(err)
	}
}

// backfilled waits until the live segmenter's own backfill of a segment
// is done.
func (e *env) backfilled(seg string) {
	e.t.Helper()
	key := e.base + ":{" + e.tenant + "}:seg:job:" + seg
	deadline := time.Now().Add(30 * time.Second)
	for e.rdb.HGet(context.Background(), key, "done").Val() != "1" {
		if time.Now().After(deadline) {
			e.t.Fatalf("the segmenter's backfill of %s did not finish", seg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// members lists a segment's members.
func (e *env) members(seg string) []string {
	e.t.Helper()
	m, err := e.rdb.ZRange(context.Background(), e.base+":{"+e.tenant+"}:seg:m:"+seg, 0, -1).Result()
	if err != nil {
		e.t.Fatal(err)
	}
	slices.Sort(m)
	return m
}

// pid resolves an identifier of the tenant to its live profile.
func (e *env) pid(ref string) string {
	e.t.Helper()
	p, err := identity.NewStore(e.rdb, e.base, identity.WithTenants(e.tenants)).Resolve(context.Background(), e.tenant, ref)
	if err != nil {
		e.t.Fatalf("resolve %s: %v", ref, err)
	}
	return p
}

// segState is every segmenter key of the tenant with its content.
func (e *env) segState() map[string]string {
	e.t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	iter := e.rdb.Scan(ctx, 0, e.base+":{"+e.tenant+"}:seg:*", 1000).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		switch e.rdb.Type(ctx, k).Val() {
		case "hash":
			b, _ := json.Marshal(e.rdb.HGetAll(ctx, k).Val())
			out[k] = string(b)
		case "zset":
			b, _ := json.Marshal(e.rdb.ZRangeWithScores(ctx, k, 0, -1).Val())
			out[k] = string(b)
		default:
			out[k] = e.rdb.Get(ctx, k).Val()
		}
	}
	if err := iter.Err(); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// endOffset is the number of records in a topic.
func (e *env) endOffset(topic string) int64 {
	e.t.Helper()
	ends, err := kadm.NewClient(e.cl).ListEndOffsets(context.Background(), topic)
	if err != nil {
		e.t.Fatal(err)
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n
}

// changesOf reads the segment-changes records of a segment.
func (e *env) changesOf(seg string, want int) []schemas.SegmentChange {
	e.t.Helper()
	var out []schemas.SegmentChange
	for _, r := range testenv.ReadAll(e.t, e.brokers, e.topics.SegmentChanges, int(e.endOffset(e.topics.SegmentChanges)), 20*time.Second) {
		var c schemas.SegmentChange
		if err := json.Unmarshal(r.Value, &c); err != nil {
			e.t.Fatal(err)
		}
		if c.SegmentID == seg {
			out = append(out, c)
		}
	}
	if len(out) != want {
		e.t.Fatalf("%d changes of %s, want %d: %+v", len(out), seg, want, out)
	}
	return out
}

func order(mid, user, anon string, at time.Time) schemas.Event {
	return schemas.Event{Type: "track", MessageID: mid, UserID: user, AnonymousID: anon, Event: "Order Completed", Timestamp: at,
		Properties: map[string]any{"revenue": 10.0}}
}

func month(m time.Month, d int) time.Time { return time.Date(2026, m, d, 10, 0, 0, 0, time.UTC) }

// bigSpenders counts orders since 2026 (after 2026-01-01).
const bigSpenders = `{"event":"Order Completed","count":{"op":"gte","value":3},"after":"2026-01-01"}`

// TestSegmentBackfill: orders months older than the identity store's
// timeline and counters are only in the log. The segmenter's own
// backfill of a new segment therefore misses them; replay --segment
// makes the membership exact (merged profiles count for the survivor;
// other tenants' records and other events do not count), publishes the
// entries with cause backfill, and a second run changes nothing.
func TestSegmentBackfill(t *testing.T) {
	e := newEnv(t)
	e.liveWith(shortMemory())
	var evs []schemas.Event
	add := func(ev schemas.Event) { evs = append(evs, ev) }
	for i, d := range []int{2, 3, 4} { // u1: three orders in 2026 → in
		add(order(fmt.Sprintf("u1-%d", i), "u1", "", month(2, d)))
	}
	for i, d := range []int{2, 3} { // u2: two → out
		add(order(fmt.Sprintf("u2-%d", i), "u2", "", month(2, d)))
	}
	add(order("u3-0", "u3", "", time.Date(2025, 12, 15, 10, 0, 0, 0, time.UTC))) // before the window
	add(order("u3-1", "u3", "", month(3, 1)))
	add(order("u3-2", "u3", "", month(3, 2)))
	add(order("m-0", "", "anon-m", month(2, 1))) // anonymous orders, merged into u4 later
	add(order("m-1", "", "anon-m", month(2, 2)))
	add(order("u4-0", "u4", "", month(4, 1)))
	for i := range 3 { // u6: other events only
		ev := order(fmt.Sprintf("u6-%d", i), "u6", "", month(5, i+1))
		ev.Event = "Order Refunded"
		add(ev)
	}
	add(schemas.Event{Type: "identify", MessageID: "u5-id", UserID: "u5", Timestamp: month(1, 5)})
	e.publish(evs...)
	for i := range 3 { // u5 orders, but in another tenant
		e.publishFor(e.tenant+"-b", order(fmt.Sprintf("b-%d", i), "u5", "", month(2, i+1)))
	}
	e.settle()
	e.publish(schemas.Event{Type: "identify", MessageID: "merge", UserID: "u4", AnonymousID: "anon-m", Timestamp: month(6, 1)})
	e.settle()
	// Recent events push the orders out of the 5-event timeline.
	var recent []schemas.Event
	for _, u := range []string{"u1", "u2", "u3", "u4", "u5", "u6"} {
		for i := range 6 {
			recent = append(recent, schemas.Event{Type: "track", MessageID: fmt.Sprintf("%s-pv-%d", u, i), UserID: u, Event: "Page Viewed", Timestamp: now.Add(-time.Duration(i+1) * time.Hour)})
		}
	}
	e.publish(recent...)
	e.settle()

	e.emittingSegment("big", bigSpenders)
	e.segment("quiet", bigSpenders) // emitOnBackfill false; shares big's condition
	e.backfilled("big")
	e.backfilled("quiet")
	if m := e.members("big"); len(m) != 0 {
		t.Fatalf("the segmenter's own backfill should not see orders older than the timeline and counters; members %v", m)
	}
	changesBefore := e.endOffset(e.topics.SegmentChanges)

	o := e.options()
	o.Identity = shortMemory()
	o.Segment, o.Tenant = "big", e.tenant
	var progress bytes.Buffer
	o.Progress = &progress
	res, err := replay.Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{e.pid("user_id:u1"), e.pid("user_id:u4")}
	slices.Sort(want)
	if e.pid("anonymous_id:anon-m") != e.pid("user_id:u4") {
		t.Fatal("anon-m was not merged into u4's profile")
	}
	if got := e.members("big"); !slices.Equal(got, want) {
		t.Fatalf("members %v, want %v (u1 and u4 with the merged anonymous orders)", got, want)
	}
	s := res.Segment
	// Matched: u1 3, u2 2, u3 2 (one is before the window), anon-m 2, u4 1.
	if s == nil || s.Matched != 10 || s.Unresolved != 0 || s.Profiles != 4 || s.Entered != 2 || s.Exited != 0 || s.Published != 2 || res.Switched {
		t.Fatalf("result %+v segment %+v", res, s)
	}
	if res.Read != res.Plan.Records || res.Read == 0 {
		t.Fatalf("read %d of %d records", res.Read, res.Plan.Records)
	}
	if !strings.Contains(progress.String(), fmt.Sprintf("replay: %d/%d records (100.0%%)", res.Read, res.Read)) {
		t.Fatalf("progress %q", progress.String())
	}
	changes := e.changesOf("big", 2)
	var entered []string
	for _, c := range changes {
		if c.Type != schemas.SegmentEntered || c.Cause != schemas.CauseBackfill || c.Tenant != e.tenant {
			t.Fatalf("change %+v", c)
		}
		entered = append(entered, c.ProfileID)
	}
	slices.Sort(entered)
	if !slices.Equal(entered, want) {
		t.Fatalf("entries for %v, want %v", entered, want)
	}
	if n := e.endOffset(e.topics.SegmentChanges); n != changesBefore+2 {
		t.Fatalf("segment-changes grew by %d, want 2", n-changesBefore)
	}
	// The segment sharing the rebuilt condition is re-evaluated too, and
	// publishes nothing (its emitOnBackfill is false).
	if got := e.members("quiet"); !slices.Equal(got, want) {
		t.Fatalf("quiet members %v, want %v", got, want)
	}
	e.changesOf("quiet", 0)

	// A second run changes nothing and publishes nothing.
	before := e.segState()
	res2, err := replay.Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if s := res2.Segment; s.Written != 0 || s.Entered != 0 || s.Exited != 0 || s.Published != 0 || s.Matched != 10 {
		t.Fatalf("second run %+v", s)
	}
	if after := e.segState(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("second run changed the segmenter state:\nbefore %v\nafter  %v", before, after)
	}
	if n := e.endOffset(e.topics.SegmentChanges); n != changesBefore+2 {
		t.Fatalf("second run published %d changes", n-changesBefore-2)
	}

	// The live segmenter continues from the rebuilt state: u2's third
	// order makes it enter (cause event).
	e.publish(order("u2-2", "u2", "", now.Add(-time.Minute)))
	e.settle()
	want = append(want, e.pid("user_id:u2"))
	slices.Sort(want)
	if got := e.members("big"); !slices.Equal(got, want) {
		t.Fatalf("after a live order: members %v, want %v", got, want)
	}
	for _, c := range e.changesOf("big", 3) {
		if c.ProfileID == e.pid("user_id:u2") && c.Cause != schemas.CauseEvent {
			t.Fatalf("u2's entry %+v", c)
		}
	}
}

// TestSegmentBackfillDryRunAndRefusals: --dry-run prints the plan and
// writes nothing; unknown segments, segments without event conditions and
// a missing tenant are refused with errors that say so.
func TestSegmentBackfillDryRunAndRefusals(t *testing.T) {
	e := newEnv(t)
	e.publish(order("o-1", "u1", "", month(2, 1)), order("o-2", "u2", "", month(2, 2)))
	e.emittingSegment("big", bigSpenders)
	e.emittingSegment("traits", `{"trait":"country","op":"eq","value":"IN"}`)
	ctx := context.Background()
	o := e.options()
	o.Segment, o.Tenant, o.DryRun = "big", e.tenant, true
	res, err := replay.Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Plan.Segment == nil || res.Plan.Records != 2 || res.Plan.Target != e.base || res.Read != 0 || res.Segment != nil {
		t.Fatalf("plan %+v result %+v", res.Plan, res)
	}
	var out bytes.Buffer
	res.Plan.Print(&out)
	for _, w := range []string{"segment backfill plan", `segment         big "big" (revision 1)`, `events          "Order Completed" (1 event conditions)`, "records         2", "partition 0", "cause backfill", "no new generation"} {
		if !strings.Contains(out.String(), w) {
			t.Fatalf("dry-run output lacks %q:\n%s", w, out.String())
		}
	}
	if st := e.segState(); len(st) != 0 {
		t.Fatalf("dry run wrote %v", st)
	}
	refusals := map[string]func(o *replay.Options){
		`segment "nope" does not exist`: func(o *replay.Options) { o.Segment = "nope" },
		"has no event conditions":       func(o *replay.Options) { o.Segment = "traits" },
		"--segment needs --tenant":      func(o *replay.Options) { o.Tenant = "" },
		"--into-live is not needed":     func(o *replay.Options) { o.IntoLive = true },
	}
	for want, mod := range refusals {
		o := e.options()
		o.Segment, o.Tenant = "big", e.tenant
		mod(&o)
		_, err := replay.Run(ctx, o)
		if !errors.Is(err, replay.ErrOptions) || !strings.Contains(err.Error(), want) {
			t.Errorf("want an options error mentioning %q, got %v", want, err)
		}
	}
	if st := e.segState(); len(st) != 0 {
		t.Fatalf("refused runs wrote %v", st)
	}
}
