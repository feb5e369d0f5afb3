package identity

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
)

// TestTraitListMatchesAMap: a traitList behaves as a map from name to
// state through random sets (with compactions), and strings handed out
// before later sets keep their values.
func TestTraitListMatchesAMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	l := newTraitList(0)
	want := map[string]traitState{}
	type handed struct {
		name       string
		st, copied traitState
	}
	var kept []handed
	for step := range 5000 {
		k := fmt.Sprintf("t%d", rng.IntN(12))
		st := traitState{val: fmt.Sprintf(`"v%d"`, rng.IntN(50)), meta: fmt.Sprintf("%d|m%d", step/3, step/3)}
		switch rng.IntN(10) {
		case 0:
			st.val = ""
		case 1:
			st = traitState{}
		}
		l.set(k, st)
		want[k] = st
		if step%97 == 0 {
			got := l.get(k)
			kept = append(kept, handed{k, got, traitState{strings.Clone(got.val), strings.Clone(got.meta)}})
		}
	}
	if l.len() != len(want) {
		t.Fatalf("%d traits, want %d", l.len(), len(want))
	}
	var names []string
	for k, st := range want {
		names = append(names, k)
		if got := l.get(k); got != st {
			t.Errorf("%s: got %+v, want %+v", k, got, st)
		}
	}
	sort.Strings(names)
	for i, k := range names {
		if name, _ := l.at(i); name != k {
			t.Errorf("trait %d is %s, want %s (sorted by name)", i, name, k)
		}
	}
	if l.get("absent") != (traitState{}) {
		t.Error("an absent trait has a state")
	}
	for _, h := range kept {
		if h.st != h.copied {
			t.Errorf("a state handed out for %s changed from %+v to %+v", h.name, h.copied, h.st)
		}
	}
	if live := 12 * 40; len(l.buf) > 4*live+256 {
		t.Errorf("buffer of %d bytes for %d traits: not compacted", len(l.buf), l.len())
	}
}
