package segmenter_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/schemas"
	"github.com/user360/user360/segmenter"
	"github.com/user360/user360/segmenter/rules"
)

// randomRule builds a random rule over a small vocabulary, referencing
// earlier segments sometimes.
func randomRule(rng *rand.Rand, earlier []string, depth int) string {
	leaf := func() string {
		switch rng.IntN(10) {
		case 0:
			return fmt.Sprintf(`{"trait":"plan","op":"eq","value":%q}`, []string{"free", "pro", "team"}[rng.IntN(3)])
		case 1:
			return fmt.Sprintf(`{"trait":"age","op":%q,"value":%d}`, []string{"gt", "lte", "gte"}[rng.IntN(3)], 20+rng.IntN(30))
		case 2:
			return `{"trait":"vip","op":"is_true"}`
		case 3:
			return fmt.Sprintf(`{"trait":"tags","op":"contains_any","value":[%q]}`, []string{"a", "b", "c"}[rng.IntN(3)])
		case 4:
			return fmt.Sprintf(`{"trait":"seen","op":"within_last","value":{"value":%d,"unit":"seconds"}}`, 30+rng.IntN(120))
		case 5:
			return fmt.Sprintf(`{"trait":%q,"op":"not_exists"}`, []string{"plan", "age", "vip"}[rng.IntN(3)])
		case 6:
			return fmt.Sprintf(`{"event":"Visit","within":{"value":%d,"unit":"seconds"}}`, 20+rng.IntN(200))
		case 7:
			return fmt.Sprintf(`{"event":"Visit","performed":false,"within":{"value":%d,"unit":"seconds"}}`, 20+rng.IntN(200))
		case 8:
			return fmt.Sprintf(`{"event":"Order","where":[{"property":"revenue","op":"gt","value":%d}],"count":{"op":%q,"value":%d},"within":{"value":%d,"unit":"minutes"}}`,
				rng.IntN(100), []string{"gte", "eq", "lt", "gt"}[rng.IntN(4)], 1+rng.IntN(3), 1+rng.IntN(5))
		default:
			if len(earlier) > 0 {
				return fmt.Sprintf(`{"segment":%q,"member":%v}`, earlier[rng.IntN(len(earlier))], rng.IntN(3) > 0)
			}
			return `{"trait":"vip","op":"is_false"}`
		}
	}
	if depth >= 2 || rng.IntN(3) == 0 {
		return leaf()
	}
	switch rng.IntN(3) {
	case 0:
		return `{"not":` + randomRule(rng, earlier, depth+1) + `}`
	case 1:
		return `{"all":[` + randomRule(rng, earlier, depth+1) + `,` + randomRule(rng, earlier, depth+1) + `]}`
	}
	return `{"any":[` + randomRule(rng, earlier, depth+1) + `,` + randomRule(rng, earlier, depth+1) + `]}`
}

// addRandomSegment creates segment "s<i>" with a random rule (that may
// reference the earlier segments) and returns its id, rule and parsed rule.
func addRandomSegment(t *testing.T, h *harness, rng *rand.Rand, i int, earlier []string) (string, string, *rules.Rule) {
	t.Helper()
	raw := randomRule(rng, earlier, 0)
	id := h.segment(fmt.Sprint("s", i), raw)
	r, err := rules.Parse(json.RawMessage(raw), "rule")
	if err != nil {
		t.Fatal(err)
	}
	return id, raw, r
}

type histEvent struct {
	name  string
	props map[string]any
	at    time.Time
}

// TestIncrementalEqualsFullEvaluation: after a random sequence of profile
// updates and clock moves, the memberships the segmenter keeps
// incrementally (with pruned event state and timers) equal a from-scratch
// evaluation of every rule over the full history, and the published
// changes replay to the same memberships.
func TestIncrementalEqualsFullEvaluation(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { propertyRun(t, seed, false) })
	}
}

// TestLateSegmentsBackfillToFullEvaluation: half of the segments are
// created after the updates started; their backfill (seeded from an
// identity-store fake that mirrors the updates) must land on the same
// memberships as a full evaluation, and live processing goes on correctly.
func TestLateSegmentsBackfillToFullEvaluation(t *testing.T) {
	for seed := uint64(4); seed <= 6; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { propertyRun(t, seed, true) })
	}
}

func propertyRun(t *testing.T, seed uint64, late bool) {
	{
		{
			rng := rand.New(rand.NewPCG(seed, 99))
			h := newHarness(t, opts{noSource: !late})
			var segIDs []string
			parsed := map[string]*rules.Rule{}
			raws := map[string]string{}
			t.Cleanup(func() {
				if t.Failed() {
					for _, id := range segIDs {
						t.Logf("%s: %s", id, raws[id])
					}
				}
			})
			addSegment := func(i int) {
				id, raw, r := addRandomSegment(t, h, rng, i, segIDs)
				parsed[id] = r
				raws[id] = raw
				segIDs = append(segIDs, id)
			}
			first := 14
			if late {
				first = 7
			}
			for i := 0; i < first; i++ {
				addSegment(i)
			}
			profiles := []string{"p0", "p1", "p2", "p3", "p4", "p5"}
			traits := map[string]map[string]any{}
			history := map[string][]histEvent{}
			for step := 0; step < 250; step++ {
				if late && step == 120 {
					for i := first; i < 14; i++ {
						addSegment(i)
					}
					if err := segmenter.RunJobsForTest(h.svc, context.Background()); err != nil {
						t.Fatal(err)
					}
					compareFull(t, h, segIDs, parsed, profiles, traits, history)
				}
				pid := profiles[rng.IntN(len(profiles))]
				now := h.clock.Now()
				cur := map[string]any{}
				for k, v := range traits[pid] {
					cur[k] = v
				}
				switch rng.IntN(5) {
				case 0, 1:
					k := []string{"plan", "age", "vip", "tags", "seen"}[rng.IntN(5)]
					var v any
					switch k {
					case "plan":
						v = []string{"free", "pro", "team"}[rng.IntN(3)]
					case "age":
						v = float64(15 + rng.IntN(40))
					case "vip":
						v = rng.IntN(2) == 0
					case "tags":
						v = []any{[]string{"a", "b", "c"}[rng.IntN(3)]}
					case "seen":
						v = now.Add(-time.Duration(rng.IntN(60)) * time.Second).Format(time.RFC3339Nano)
					}
					old := cur[k]
					if rng.IntN(6) == 0 {
						delete(cur, k)
						v = nil
					} else {
						cur[k] = v
					}
					traits[pid] = cur
					h.src.put(schemas.Profile{ID: pid, Tenant: h.tenant, Traits: cur})
					u := schemas.ProfileUpdate{ProfileID: pid, Traits: cur, Changes: map[string]schemas.TraitChange{k: {Old: old, New: v}}}
					h.handle(h.rec(u))
				case 2, 3:
					name, props := "Visit", map[string]any(nil)
					if rng.IntN(2) == 0 {
						name, props = "Order", map[string]any{"revenue": float64(rng.IntN(150))}
					}
					history[pid] = append(history[pid], histEvent{name, props, now})
					traits[pid] = cur
					u := eventUpdate(pid, name, now, props, cur)
					h.src.put(schemas.Profile{ID: pid, Tenant: h.tenant, Traits: cur})
					h.src.addEvent(pid, *u.Event)
					h.handle(h.rec(u))
				default:
					h.clock.Add(time.Duration(rng.IntN(90_000)) * time.Millisecond)
					h.fireTimers()
				}
				if step%25 == 24 {
					h.fireTimers()
					compareFull(t, h, segIDs, parsed, profiles, traits, history)
				}
			}
			h.fireTimers()
			compareFull(t, h, segIDs, parsed, profiles, traits, history)
			if late {
				return // backfill with emitOnBackfill publishes entries only
			}
			// The published changes replay to the stored memberships.
			in := checkAlternation(t, h.sink.all())
			for _, seg := range segIDs {
				want := h.members(seg)
				var got []string
				for _, pid := range profiles {
					if in[seg+"/"+pid] {
						got = append(got, pid)
					}
				}
				sort.Strings(got)
				if !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
					t.Fatalf("segment %s: published %v, stored %v", seg, got, want)
				}
			}
		}
	}
}

func compareFull(t *testing.T, h *harness, segIDs []string, parsed map[string]*rules.Rule, profiles []string, traits map[string]map[string]any, history map[string][]histEvent) {
	t.Helper()
	now := h.clock.Now()
	stored := map[string]map[string]bool{}
	for _, seg := range segIDs {
		stored[seg] = map[string]bool{}
		for _, pid := range h.members(seg) {
			stored[seg][pid] = true
		}
	}
	for _, pid := range profiles {
		if _, seen := traits[pid]; !seen && len(history[pid]) == 0 {
			continue // the segmenter never heard of it
		}
		member := map[string]bool{}
		for _, seg := range segIDs { // creation order is dependency order
			r := parsed[seg]
			ok, _ := r.Eval(&rules.Env{
				Now: now, Loc: time.UTC, Traits: traits[pid],
				Events: func(c *rules.EventCond) []int64 {
					var ts []int64
					for i, e := range history[pid] {
						if e.name == c.Name && c.Match(e.props, e.at, time.UTC) {
							ts = append(ts, rules.Stamp(e.at, fmt.Sprint(i)))
						}
					}
					sort.Slice(ts, func(a, b int) bool { return ts[a] < ts[b] })
					return ts
				},
				Member: func(id string) bool { return member[id] },
			})
			member[seg] = ok
			if stored[seg][pid] != ok {
				got, _ := h.svc.ProfileSegments(context.Background(), h.tenant, pid)
				t.Fatalf("at %s profile %s segment %s: incremental %v, full %v (rule %v; in %v)", now, pid, seg, stored[seg][pid], ok, r.Segments(), got)
			}
		}
	}
}

// TestIncrementalEqualsFullEvaluationWithMerges: as
// TestIncrementalEqualsFullEvaluation, with merges, and with the updates
// handed over in batches of random size (a merge in the middle of a batch
// included): a survivor's memberships equal a full evaluation over its own
// history and that of the profiles it absorbed; an absorbed profile is in
// no segment.
func TestIncrementalEqualsFullEvaluationWithMerges(t *testing.T) {
	for seed := uint64(7); seed <= 10; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { propertyRunMerges(t, seed) })
	}
}

func propertyRunMerges(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 77))
	h := newHarness(t, opts{noSource: true})
	var segIDs []string
	parsed := map[string]*rules.Rule{}
	for i := range 14 {
		id, _, r := addRandomSegment(t, h, rng, i, segIDs)
		parsed[id] = r
		segIDs = append(segIDs, id)
	}
	live := []string{"p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7"}
	var gone []string
	traits := map[string]map[string]any{}
	history := map[string][]histEvent{}
	var batch []*kgo.Record
	flush := func() {
		if len(batch) > 0 {
			h.handle(batch...)
			batch = nil
		}
	}
	check := func() {
		flush()
		h.fireTimers()
		compareFull(t, h, segIDs, parsed, live, traits, history)
		for _, seg := range segIDs {
			for _, pid := range h.members(seg) {
				if slices.Contains(gone, pid) {
					t.Fatalf("absorbed profile %s is in segment %s", pid, seg)
				}
			}
		}
	}
	for step := range 300 {
		pid := live[rng.IntN(len(live))]
		now := h.clock.Now()
		cur := map[string]any{}
		for k, v := range traits[pid] {
			cur[k] = v
		}
		switch x := rng.IntN(12); {
		case x < 4:
			k := []string{"plan", "age", "vip", "tags"}[rng.IntN(4)]
			v := map[string]any{"plan": []string{"free", "pro", "team"}[rng.IntN(3)], "age": float64(15 + rng.IntN(40)),
				"vip": rng.IntN(2) == 0, "tags": []any{[]string{"a", "b", "c"}[rng.IntN(3)]}}[k]
			old := cur[k]
			cur[k] = v
			traits[pid] = cur
			batch = append(batch, h.rec(schemas.ProfileUpdate{ProfileID: pid, Traits: cur, Changes: map[string]schemas.TraitChange{k: {Old: old, New: v}}}))
		case x < 9:
			name, props := "Visit", map[string]any(nil)
			if rng.IntN(2) == 0 {
				name, props = "Order", map[string]any{"revenue": float64(rng.IntN(150))}
			}
			history[pid] = append(history[pid], histEvent{name, props, now})
			traits[pid] = cur
			batch = append(batch, h.rec(eventUpdate(pid, name, now, props, cur)))
		case x < 10 && len(live) > 3:
			// pid absorbs another profile the segmenter has seen
			other := live[rng.IntN(len(live))]
			_, seenTraits := traits[other]
			if other == pid || (!seenTraits && len(history[other]) == 0) {
				continue
			}
			history[pid] = append(history[pid], history[other]...)
			delete(history, other)
			delete(traits, other)
			traits[pid] = cur
			live = slices.DeleteFunc(live, func(p string) bool { return p == other })
			gone = append(gone, other)
			batch = append(batch, h.rec(schemas.ProfileUpdate{Type: schemas.ProfileMerged, ProfileID: pid, Traits: cur,
				Merge: &schemas.Merge{Survivor: pid, Absorbed: []string{other}}}))
		default:
			flush()
			h.clock.Add(time.Duration(rng.IntN(90_000)) * time.Millisecond)
			h.fireTimers()
		}
		if rng.IntN(4) == 0 {
			flush()
		}
		if step%25 == 24 {
			check()
		}
	}
	check()
}
