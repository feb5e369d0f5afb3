package identity

import (
	"fmt"
	"testing"
)

// The seen filter never forgets a messageId (no false negatives), and
// rarely claims one it never met.
func TestSeenFilter(t *testing.T) {
	f := newSeenFilter(10000)
	early := 0
	for i := range 10000 {
		if f.testAndAdd("t", fmt.Sprint("m-", i)) {
			early++ // a false positive: about 0.04 % at the end
		}
	}
	if early > 20 {
		t.Fatalf("%d of 10,000 new messageIds seen before they were added", early)
	}
	for i := range 10000 {
		if !f.testAndAdd("t", fmt.Sprint("m-", i)) {
			t.Fatalf("m-%d forgotten", i)
		}
	}
	wrong := 0
	for i := range 10000 {
		if f.testAndAdd("other", fmt.Sprint("m-", i)) {
			wrong++
		}
	}
	if wrong > 100 {
		t.Fatalf("%d of 10,000 other tenant's messageIds seen", wrong)
	}
}

// Held writes of one profile merge: a field's last write wins (set or
// delete), the token is the last one, the timeline keeps the newest
// entries in order and at least cap of them.
func TestHeldWritesMerge(t *testing.T) {
	h := newHeldWrites(100)
	prof := &cachedProfile{tenant: "t", pid: "p1"}
	plan := func(tok, tl string, ops ...fieldOp) *fastPlan {
		f := &fastPlan{pid: "p1", prof: prof, hold: true, token: tok, timeline: tl, cap: 3}
		for _, o := range ops {
			f.ops.put(o.field, o.val, o.del)
		}
		return f
	}
	h.add("t", plan("v1", "e1", fieldOp{field: "t:a", val: "1"}, fieldOp{field: "t:b", val: "2"}))
	h.add("t", plan("v2", "e2", fieldOp{field: "t:a", del: true}))
	h.add("t", plan("v3", "", fieldOp{field: "t:b", val: "3"}))
	for i := range 10 {
		h.add("t", plan(fmt.Sprint("v", 4+i), fmt.Sprint("x", i)))
	}
	hps := h.take([]string{cacheKey("t", "p1")}, false)
	if len(hps) != 1 {
		t.Fatalf("took %d profiles", len(hps))
	}
	hp := hps[0]
	if hp.n != 13 || hp.token != "v13" {
		t.Fatalf("n %d token %s", hp.n, hp.token)
	}
	if f := hp.fields["t:a"]; !f.del {
		t.Fatalf("t:a %+v, want deleted", f)
	}
	if f := hp.fields["t:b"]; f.del || f.val != "3" {
		t.Fatalf("t:b %+v, want 3", f)
	}
	tl := hp.timeline
	if len(tl) < 3 || tl[len(tl)-1] != "x9" || tl[len(tl)-2] != "x8" || tl[len(tl)-3] != "x7" {
		t.Fatalf("timeline %v", tl)
	}
	if h.over() || len(h.take(nil, true)) != 0 {
		t.Fatal("something is still held")
	}
}
