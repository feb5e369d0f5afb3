package replay_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/user360/user360/replay"
	"github.com/user360/user360/schemas"
)

// TestDryRun reports the plan (target, offset ranges, records, tenants)
// and writes nothing.
func TestDryRun(t *testing.T) {
	e := newEnv(t)
	var evs []schemas.Event
	for i := range 30 {
		evs = append(evs, schemas.Event{Type: "track", MessageID: fmt.Sprintf("m-%d", i), UserID: fmt.Sprintf("u-%d", i), Event: "E", Timestamp: day(1)})
	}
	e.publish(evs...)
	o := e.options()
	o.DryRun = true
	res, err := replay.Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	p := res.Plan
	var sum int64
	for _, r := range p.Partitions {
		if r.Start != 0 {
			t.Fatalf("partition %+v should start at 0", r)
		}
		sum += r.End
	}
	if p.Records != 30 || sum != 30 || len(p.Partitions) != 4 || p.Target != e.base+"g2" || p.Live != e.base || !p.Switch || res.Read != 0 {
		t.Fatalf("plan %+v result %+v", p, res)
	}
	if p.IdentityGroup != e.idGroup+"."+e.base+"g2" || p.SegmenterGroup != e.sgGroup+"."+e.base+"g2" {
		t.Fatalf("groups %s %s", p.IdentityGroup, p.SegmenterGroup)
	}
	var out bytes.Buffer
	p.Print(&out)
	for _, want := range []string{"target          " + e.base + "g2", "records         30", "tenants         all", "from            earliest", "partition 0"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("dry-run output lacks %q:\n%s", want, out.String())
		}
	}
	ctx := context.Background()
	if n := e.rdb.Exists(ctx, e.base+"g2:{"+e.tenant+"}:profiles", replay.GenerationKey(e.base)).Val(); n != 0 {
		t.Fatalf("dry run wrote %d keys", n)
	}
}

// TestFromAndTo: --from starts each partition at the first
// record at/after the time; --to skips later records.
func TestFromAndTo(t *testing.T) {
	e := newEnv(t)
	e.publish(schemas.Event{Type: "track", MessageID: "old", UserID: "u-1", Event: "E", Timestamp: day(1)})
	time.Sleep(20 * time.Millisecond)
	from := time.Now()
	time.Sleep(20 * time.Millisecond)
	for i := range 5 {
		e.publish(schemas.Event{Type: "track", MessageID: fmt.Sprintf("new-%d", i), UserID: fmt.Sprintf("u-%d", i), Event: "E", Timestamp: day(1)})
	}
	o := e.options()
	o.From, o.NoSwitch = from, true
	res, err := replay.Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cleanKeys(e.rdb, e.base+"g2*") })
	if res.Plan.Records != 5 || res.Applied != 5 || res.Switched {
		t.Fatalf("result %+v", res)
	}
	if ns, _ := replay.ActiveNamespace(context.Background(), e.rdb, e.base); ns != e.base {
		t.Fatalf("--no-switch switched to %s", ns)
	}
	// The target is not empty now: a second replay into it is refused
	// unless resumed.
	o.From, o.To = time.Time{}, from
	if _, err := replay.Run(context.Background(), o); !errors.Is(err, replay.ErrTargetNotEmpty) {
		t.Fatalf("want ErrTargetNotEmpty, got %v", err)
	}
	o.Resume = true
	res, err = replay.Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Read != 6 || res.Applied != 1 || res.Skipped != 5 {
		t.Fatalf("--to: result %+v", res)
	}
}

// TestResumeStartsOver: --resume deletes what an interrupted replay left in
// the target, then replays everything; it refuses a target that is not a
// generation after the base.
func TestResumeStartsOver(t *testing.T) {
	e := newEnv(t)
	for i := range 5 {
		e.publish(schemas.Event{Type: "track", MessageID: fmt.Sprintf("m-%d", i), UserID: fmt.Sprintf("u-%d", i), Event: "E", Timestamp: day(1)})
	}
	ctx := context.Background()
	target := e.base + "g2"
	t.Cleanup(func() { cleanKeys(e.rdb, target+"*") })
	stale := target + ":{" + e.tenant + "}:seg:p:left-over"
	e.rdb.HSet(ctx, stale, "v", 3)
	e.rdb.HSet(ctx, target+":{"+e.tenant+"}:profiles", "ghost", 1)
	o := e.options()
	o.NoSwitch = true
	if _, err := replay.Run(ctx, o); !errors.Is(err, replay.ErrTargetNotEmpty) {
		t.Fatalf("want ErrTargetNotEmpty, got %v", err)
	}
	o.Resume = true
	res, err := replay.Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Applied != 5 {
		t.Fatalf("result %+v", res)
	}
	if n := e.rdb.Exists(ctx, stale).Val(); n != 0 {
		t.Fatal("the interrupted replay's keys were kept")
	}
	if n := e.rdb.ZCard(ctx, target+":{"+e.tenant+"}:profiles").Val(); n != 5 {
		t.Fatalf("%d profiles after the restart", n)
	}
	o.Target = e.base + "x"
	if _, err := replay.Run(ctx, o); !errors.Is(err, replay.ErrOptions) {
		t.Fatalf("resume into a namespace that is no generation: %v", err)
	}
}

// TestTenantIntoLive rebuilds one tenant's lost keys in the live namespace
// while the live pipeline runs; the other tenant's records are skipped.
func TestTenantIntoLive(t *testing.T) {
	e := newEnv(t)
	segments(e)
	e.live()
	workload(e, 6)
	e.publishFor(e.tenant+"-b", schemas.Event{Type: "identify", MessageID: "b-1", UserID: "b", Timestamp: day(1)})
	e.settle()
	before := takeSnapshot(t, e.rdb, e.tenants, e.base, e.tenant)
	// The tenant's derived state is lost (dedup keys included).
	cleanKeys(e.rdb, e.base+":{"+e.tenant+"}:*")
	if s := takeSnapshot(t, e.rdb, e.tenants, e.base, e.tenant); len(s.Profiles) != 0 {
		t.Fatal("keys not deleted")
	}
	o := e.options()
	o.Tenant, o.IntoLive = e.tenant, true
	res, err := replay.Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Switched || res.Plan.Target != e.base || res.Skipped != 1 || res.Applied != res.Plan.Records-1 {
		t.Fatalf("result %+v", res)
	}
	after := takeSnapshot(t, e.rdb, e.tenants, e.base, e.tenant)
	if d := diff(before, after); len(d) > 0 {
		t.Fatalf("rebuilt tenant differs in %d places:\n%s", len(d), strings.Join(d, "\n"))
	}
	// Replaying again into live is a no-op (dedup).
	if _, err := replay.Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if d := diff(before, takeSnapshot(t, e.rdb, e.tenants, e.base, e.tenant)); len(d) > 0 {
		t.Fatalf("second into-live replay changed state:\n%s", strings.Join(d, "\n"))
	}
}

// TestUnsafeOptionsRefused: combinations that would lose or mix state.
func TestUnsafeOptionsRefused(t *testing.T) {
	e := newEnv(t)
	base := e.options()
	cases := map[string]func(o *replay.Options){
		"tenant without into-live": func(o *replay.Options) { o.Tenant = e.tenant },
		"unknown tenant":           func(o *replay.Options) { o.Tenant, o.IntoLive = "nope", true },
		"from with switch":         func(o *replay.Options) { o.From = day(3) },
		"to with switch":           func(o *replay.Options) { o.To = day(3) },
		"to before from":           func(o *replay.Options) { o.From, o.To, o.NoSwitch = day(1), day(3), true },
		"into-live with no-switch": func(o *replay.Options) { o.IntoLive, o.NoSwitch = true, true },
		"into-live with target":    func(o *replay.Options) { o.IntoLive, o.Target = true, e.base+"g5" },
		"target not a generation":  func(o *replay.Options) { o.Target = "other" },
		"target is generation one": func(o *replay.Options) { o.Target = e.base },
		"no tenants":               func(o *replay.Options) { o.Tenants = nil },
		"no redis":                 func(o *replay.Options) { o.Redis = nil },
		"no brokers":               func(o *replay.Options) { o.Kafka.Brokers = nil },
	}
	for name, mut := range cases {
		o := base
		mut(&o)
		if _, err := replay.Run(context.Background(), o); !errors.Is(err, replay.ErrOptions) {
			t.Errorf("%s: want ErrOptions, got %v", name, err)
		}
	}
}

// TestGenerations: the pointer key, its absence, and a corrupt value.
func TestGenerations(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if ns, err := replay.ActiveNamespace(ctx, e.rdb, e.base); err != nil || ns != e.base {
		t.Fatalf("absent key: %q %v", ns, err)
	}
	if err := replay.Activate(ctx, e.rdb, e.base, e.base+"g7"); err != nil {
		t.Fatal(err)
	}
	if ns, _ := replay.ActiveNamespace(ctx, e.rdb, e.base); ns != e.base+"g7" || replay.NextNamespace(e.base, ns) != e.base+"g8" {
		t.Fatalf("active %q", ns)
	}
	if err := replay.Activate(ctx, e.rdb, e.base, "elsewhere"); !errors.Is(err, replay.ErrBadGeneration) {
		t.Fatalf("activate elsewhere: %v", err)
	}
	e.rdb.Set(ctx, replay.GenerationKey(e.base), "garbage", 0)
	if _, err := replay.ActiveNamespace(ctx, e.rdb, e.base); !errors.Is(err, replay.ErrBadGeneration) {
		t.Fatalf("corrupt key: %v", err)
	}
	for ns, want := range map[string]int{e.base: 1, e.base + "g2": 2, e.base + "g02": 0, e.base + "g1": 0, e.base + "gx": 0, "x": 0} {
		if got := replay.GenerationNumber(e.base, ns); got != want {
			t.Errorf("GenerationNumber(%q) = %d, want %d", ns, got, want)
		}
	}
	var _ redis.UniversalClient = e.rdb
}

// TestNoSwitchThenSwitchTo: a generation built with --no-switch is
// activated later; events published in between are left to its identity
// group (committed at the replay's end). A generation not built by a
// replay is refused.
func TestNoSwitchThenSwitchTo(t *testing.T) {
	e := newEnv(t)
	e.publish(schemas.Event{Type: "identify", MessageID: "n1", UserID: "u-1", Timestamp: day(2)})
	o := e.options()
	o.NoSwitch = true
	res, err := replay.Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	target := e.base + "g2"
	t.Cleanup(func() { cleanKeys(e.rdb, target+"*") })
	if res.Switched || res.Plan.Target != target {
		t.Fatalf("result %+v", res)
	}
	e.publish(schemas.Event{Type: "identify", MessageID: "n2", UserID: "u-2", Timestamp: day(1)})
	bad := o
	bad.Target = e.base + "g3"
	if err := replay.SwitchTo(context.Background(), bad); !errors.Is(err, replay.ErrOptions) {
		t.Fatalf("switch to an unbuilt generation: %v", err)
	}
	o.Target = target
	if err := replay.SwitchTo(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if ns, _ := replay.ActiveNamespace(context.Background(), e.rdb, e.base); ns != target {
		t.Fatalf("active %q", ns)
	}
	adm := kadm.NewClient(e.cl)
	got, err := adm.FetchOffsets(context.Background(), e.idGroup+"."+target)
	if err != nil {
		t.Fatal(err)
	}
	var committed int64
	got.Each(func(r kadm.OffsetResponse) { committed += r.At })
	if committed != 1 {
		t.Fatalf("identity group of %s committed %d records, want 1 (the replay's end)", target, committed)
	}
}
