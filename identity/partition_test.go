package identity

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/internal/config"
	"github.com/user360/user360/internal/testenv"
	"github.com/user360/user360/schemas"
)

// unionFind computes connected components of identifiers.
type unionFind map[string]string

func (u unionFind) find(x string) string {
	if _, ok := u[x]; !ok {
		u[x] = x
	}
	for u[x] != x {
		u[x] = u[u[x]]
		x = u[x]
	}
	return x
}

func (u unionFind) union(a, b string) { u[u.find(a)] = u.find(b) }

// linkRig is a store and n processors on a tenant without limits in play.
func linkRig(t testing.TB, rdb redis.UniversalClient, ns string, n int) (string, *Store, []*Processor) {
	t.Helper()
	tenant := testenv.Tenant(t)
	ts, err := config.NewTenants([]config.Tenant{{ID: tenant, Identity: config.IdentityRules{
		Limits: map[string]int{"anonymous_id": 1 << 20, "device": 1 << 20},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	store := NewStore(rdb, ns, WithClock(func() time.Time { return fixedNow }), WithTenants(ts))
	procs := make([]*Processor, n)
	for i := range procs {
		procs[i] = NewProcessor(store, ts, schemas.NewTopics(""), (&capture{}).produce, zerolog.Nop(), nil)
	}
	return tenant, store, procs
}

// linkMessage links two identifiers (an anonymous id and a device id, or
// two anonymous ids) and sets one trait unique to the message.
func linkMessage(i int, a, b string) schemas.Event {
	e := schemas.Event{Type: "identify", MessageID: fmt.Sprintf("link-%d", i), Timestamp: at(i % 1000),
		Traits: map[string]any{fmt.Sprintf("t%d", i): i}}
	ext := []any{}
	for _, id := range []string{a, b} {
		typ, v, _ := strings.Cut(id, ":")
		if typ == "anonymous_id" && e.AnonymousID == "" {
			e.AnonymousID = v
		} else {
			ext = append(ext, map[string]any{"type": typ, "id": v})
		}
	}
	e.Context = map[string]any{"externalIds": ext}
	return e
}

// partition reads which identifiers share a profile, checking that every
// identifier maps to one live profile that lists it.
func partition(t testing.TB, store *Store, tenant string, ids []string) (map[string]string, map[string]schemas.Profile) {
	t.Helper()
	ctx := context.Background()
	owner := map[string]string{}
	profiles := map[string]schemas.Profile{}
	for _, id := range ids {
		pid, err := store.Resolve(ctx, tenant, id)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		owner[id] = pid
		if _, ok := profiles[pid]; !ok {
			p, err := store.GetProfile(ctx, tenant, pid)
			if err != nil {
				t.Fatal(err)
			}
			profiles[pid] = p
		}
	}
	// every identity listed on a live profile points back to it, once
	listed := map[string]string{}
	cursor := ""
	for {
		ps, next, err := store.ScanProfiles(ctx, tenant, cursor, 500)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			for _, id := range p.Identities {
				s := id.Type + ":" + id.Value
				if prev, dup := listed[s]; dup {
					t.Fatalf("%s is listed on %s and %s", s, prev, p.ID)
				}
				listed[s] = p.ID
				if owner[s] != p.ID {
					t.Fatalf("%s is listed on %s but resolves to %s", s, p.ID, owner[s])
				}
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if len(listed) != len(ids) {
		t.Fatalf("%d identities listed on profiles, want %d", len(listed), len(ids))
	}
	return owner, profiles
}

// canonical renders a partition as sorted groups.
func canonical(owner map[string]string) string {
	groups := map[string][]string{}
	for id, p := range owner {
		groups[p] = append(groups[p], id)
	}
	var out []string
	for _, g := range groups {
		sort.Strings(g)
		out = append(out, strings.Join(g, ","))
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

// TestConcurrentProcessorsMatchConnectedComponents: three processors race on
// the same Redis with thousands of randomly linked identifiers; the profiles
// equal the connected components, no identifier maps to two profiles and no
// trait is lost.
func TestConcurrentProcessorsMatchConnectedComponents(t *testing.T) {
	rdb := testenv.Redis(t)
	tenant, store, procs := linkRig(t, rdb, namespace(t, rdb), 3)
	rng := rand.New(rand.NewPCG(7, 11))
	const people, idsPer, linksPer = 300, 10, 12
	var ids []string
	var msgs []schemas.Event
	uf := unionFind{}
	traitsOf := map[string][]string{} // message's first id -> trait keys
	for p := range people {
		var mine []string
		for j := range idsPer {
			typ := "anonymous_id"
			if j%2 == 1 {
				typ = "device"
			}
			id := fmt.Sprintf("%s:p%d-%d", typ, p, j)
			mine = append(mine, id)
			ids = append(ids, id)
			uf.find(id)
		}
		for range linksPer {
			a, b := mine[rng.IntN(idsPer)], mine[rng.IntN(idsPer)]
			i := len(msgs)
			msgs = append(msgs, linkMessage(i, a, b))
			uf.union(a, b)
			traitsOf[a] = append(traitsOf[a], fmt.Sprintf("t%d", i))
		}
	}
	// identifiers never linked still get a profile
	for _, id := range ids {
		i := len(msgs)
		msgs = append(msgs, linkMessage(i, id, id))
		traitsOf[id] = append(traitsOf[id], fmt.Sprintf("t%d", i))
	}
	rng.Shuffle(len(msgs), func(i, j int) { msgs[i], msgs[j] = msgs[j], msgs[i] })
	// three streams, one per processor, in batches of 100
	var wg sync.WaitGroup
	errs := make(chan error, len(procs))
	for w, proc := range procs {
		wg.Go(func() {
			g := &rig{tenant: tenant, store: store, proc: proc}
			var batch []schemas.Event
			flush := func() {
				recs := make([]*kgo.Record, 0, len(batch))
				for _, e := range batch {
					recs = append(recs, g.record(t, e))
				}
				if err := proc.Handle(context.Background(), recs); err != nil {
					errs <- err
				}
				batch = batch[:0]
			}
			for i := w; i < len(msgs); i += len(procs) {
				batch = append(batch, msgs[i])
				if len(batch) == 100 {
					flush()
				}
			}
			flush()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	owner, profiles := partition(t, store, tenant, ids)
	want := map[string]string{}
	for _, id := range ids {
		want[id] = uf.find(id)
	}
	if canonical(owner) != canonical(want) {
		t.Fatal("profiles differ from the connected components")
	}
	for id, keys := range traitsOf {
		p := profiles[owner[id]]
		for _, k := range keys {
			if _, ok := p.Traits[k]; !ok {
				t.Fatalf("trait %s of %s lost", k, id)
			}
		}
	}
}

// linkOrderPartition applies the same link messages in the order perm
// gives and returns the partition.
func linkOrderPartition(t testing.TB, rdb redis.UniversalClient, ns string, msgs []schemas.Event, ids []string, perm []int, batch int) string {
	tenant, store, procs := linkRig(t, rdb, ns, 1)
	g := &rig{tenant: tenant, store: store, proc: procs[0]}
	var evs []schemas.Event
	for _, i := range perm {
		evs = append(evs, msgs[i])
		if len(evs) == batch {
			g.apply(t, evs...)
			evs = nil
		}
	}
	if len(evs) > 0 {
		g.apply(t, evs...)
	}
	owner, _ := partition(t, store, tenant, ids)
	return canonical(owner)
}

// linkSet is a fixed set of link messages over a small universe.
func linkSet(seed uint64) ([]schemas.Event, []string) {
	rng := rand.New(rand.NewPCG(seed, 3))
	var ids []string
	for i := range 24 {
		typ := "anonymous_id"
		if i%3 == 0 {
			typ = "device"
		}
		ids = append(ids, fmt.Sprintf("%s:i%d", typ, i))
	}
	var msgs []schemas.Event
	for i := range 20 {
		msgs = append(msgs, linkMessage(i, ids[rng.IntN(len(ids))], ids[rng.IntN(len(ids))]))
	}
	for _, id := range ids {
		msgs = append(msgs, linkMessage(len(msgs), id, id))
	}
	return msgs, ids
}

// TestLinkOrderDoesNotChangePartition: any order of the same link messages
// yields the same partition of identifiers into profiles.
func TestLinkOrderDoesNotChangePartition(t *testing.T) {
	rdb := testenv.Redis(t)
	ns := namespace(t, rdb) // one namespace, a tenant per run
	msgs, ids := linkSet(1)
	ident := make([]int, len(msgs))
	for i := range ident {
		ident[i] = i
	}
	want := linkOrderPartition(t, rdb, ns, msgs, ids, ident, 1)
	rng := rand.New(rand.NewPCG(99, 1))
	for range 15 {
		perm := rng.Perm(len(msgs))
		if got := linkOrderPartition(t, rdb, ns, msgs, ids, perm, 1+rng.IntN(10)); got != want {
			t.Fatalf("order %v gave\n%s\nwant\n%s", perm, got, want)
		}
	}
}

// FuzzLinkOrder: the fuzzer picks the link set and the order.
func FuzzLinkOrder(f *testing.F) {
	f.Add(uint64(1), uint64(2))
	f.Add(uint64(5), uint64(77))
	f.Add(uint64(42), uint64(0))
	f.Fuzz(func(t *testing.T, setSeed, orderSeed uint64) {
		rdb := testenv.Redis(t)
		ns := namespace(t, rdb)
		msgs, ids := linkSet(setSeed)
		ident := make([]int, len(msgs))
		for i := range ident {
			ident[i] = i
		}
		want := linkOrderPartition(t, rdb, ns, msgs, ids, ident, len(msgs))
		perm := rand.New(rand.NewPCG(orderSeed, 5)).Perm(len(msgs))
		if got := linkOrderPartition(t, rdb, ns, msgs, ids, perm, 3); got != want {
			t.Fatalf("order %v gave\n%s\nwant\n%s", perm, got, want)
		}
	})
}
