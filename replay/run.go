package replay

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/identity"
	"github.com/user360/user360/internal/defs"
	"github.com/user360/user360/internal/kafka"
	"github.com/user360/user360/internal/redisx"
	"github.com/user360/user360/schemas"
	"github.com/user360/user360/segmenter"
)

// Result is what a replay did.
type Result struct {
	Plan Plan `json:"plan"`
	// Read is the records read; Applied those handed to the identity stage;
	// Skipped those of other tenants or after To.
	Read    int64 `json:"read"`
	Applied int64 `json:"applied"`
	Skipped int64 `json:"skipped"`
	Updates int64 `json:"profileUpdates"`
	// Held is how many messages had their identity writes held and written
	// at the end (a new generation's write-behind, identity.HoldWrites).
	Held int64 `json:"heldMessages"`
	// Time spent reading the log, in the identity stage (wall time of its
	// batches) and in the segmenter (summed over its workers).
	ReadTime, IdentityTime, SegmenterTime time.Duration
	Duration                              time.Duration `json:"duration"`
	// Switched says the target generation is now the active one.
	Switched bool `json:"switched"`
	// Segment is the outcome of a segment backfill (Options.Segment).
	Segment *SegmentResult `json:"segment,omitempty"`
}

// Rate is the records read per second.
func (r Result) Rate() float64 {
	if r.Duration <= 0 {
		return 0
	}
	return float64(r.Read) / r.Duration.Seconds()
}

// runner is one replay in progress.
type runner struct {
	o    Options
	cl   *kgo.Client
	plan Plan
	m    *metrics
}

// Run replays the events log as Options say (see the package doc). With
// DryRun it returns the plan only. It honours ctx: a cancelled replay
// leaves the target generation partly built and inactive (re-run with
// Resume, or delete its keys).
func Run(ctx context.Context, o Options) (Result, error) {
	if err := o.validate(); err != nil {
		return Result{}, err
	}
	if o.Segment != "" {
		return runSegment(ctx, o)
	}
	cl, err := kafka.NewClient(o.Kafka)
	if err != nil {
		return Result{}, fmt.Errorf("replay: %w", err)
	}
	defer cl.Close()
	r := &runner{o: o, cl: cl, m: newMetrics(o.Metrics)}
	if err := r.makePlan(ctx); err != nil {
		return Result{}, err
	}
	res := Result{Plan: r.plan}
	if o.DryRun {
		return res, nil
	}
	if o.IntoLive {
		err := r.run(ctx, &res)
		return res, err
	}
	err = r.runLocked(ctx, &res)
	return res, err
}

// runLocked runs a replay into a new generation while holding the
// target's lock (LockKey): a second replay of the same target is refused
// before it checks, clears or writes anything.
func (r *runner) runLocked(ctx context.Context, res *Result) error {
	lock, err := acquireLock(ctx, r.o.Redis, r.o.Base, r.plan.Target, r.o.Log)
	if err != nil {
		return err
	}
	lctx, stop := lock.hold(ctx)
	err = r.run(lctx, res)
	if cause := context.Cause(lctx); errors.Is(cause, ErrLockLost) {
		err = cause
	}
	if rerr := stop(); rerr != nil && err == nil {
		err = rerr
	}
	return err
}

// run checks or clears the target, replays, commits the identity group's
// offsets and switches, as the options say.
func (r *runner) run(ctx context.Context, res *Result) error {
	o := r.o
	if !o.IntoLive {
		check := r.checkEmpty
		if o.Resume {
			check = r.clearTarget
		}
		if err := check(ctx); err != nil {
			return err
		}
	}
	start := time.Now()
	err := r.replay(ctx, res)
	res.Duration = time.Since(start)
	if err != nil {
		return err
	}
	if o.IntoLive || !o.From.IsZero() || !o.To.IsZero() {
		return nil // partial: never to be switched to
	}
	if err := r.commitIdentity(ctx); err != nil {
		return err
	}
	if r.plan.Switch {
		if err := activate(ctx, r.cl, &r.o, r.plan.SegmenterGroup, r.plan.Live, r.plan.Target); err != nil {
			return err
		}
		res.Switched = true
	}
	return nil
}

// makePlan resolves namespaces, groups and offset ranges.
func (r *runner) makePlan(ctx context.Context) error {
	o := r.o
	live, err := ActiveNamespace(ctx, o.Redis, o.Base)
	if err != nil {
		return err
	}
	target := live
	if !o.IntoLive {
		target = o.Target
		if target == "" {
			target = NextNamespace(o.Base, live)
		}
		if target == live {
			return fmt.Errorf("%w: target %s is the active generation (use --into-live to re-apply into it)", ErrOptions, target)
		}
	}
	ranges, err := offsetRanges(ctx, r.cl, o.Topics.Events, o.From)
	if err != nil {
		return err
	}
	r.plan = Plan{
		Topic: o.Topics.Events, Partitions: ranges, Live: live, Target: target,
		IdentityGroup:  GroupFor(orDefault(o.Identity.Group, identity.DefaultConfig().Group), o.Base, target),
		SegmenterGroup: GroupFor(orDefault(o.Segmenter.Group, segmenter.DefaultConfig().Group), o.Base, target),
		Tenant:         o.Tenant, From: o.From, To: o.To,
		Switch:   !o.IntoLive && !o.NoSwitch,
		IntoLive: o.IntoLive,
	}
	for _, pr := range ranges {
		r.plan.Records += pr.Records()
	}
	return nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// checkEmpty refuses a target generation that already holds profiles.
func (r *runner) checkEmpty(ctx context.Context) error {
	for _, id := range r.o.Tenants.IDs() {
		key := r.plan.Target + ":{" + id + "}:profiles"
		n, err := r.o.Redis.Exists(ctx, key).Result()
		if err != nil {
			return fmt.Errorf("replay: check target: %w", err)
		}
		if n > 0 {
			return fmt.Errorf("%w: %s exists (an interrupted replay? re-run with --resume, or delete the %s keys)", ErrTargetNotEmpty, key, r.plan.Target)
		}
	}
	return nil
}

// clearTarget deletes what an interrupted replay left in the target
// generation, so that it starts again from a clean namespace: its
// segmenter held profile states in memory (WriteBehind), and its identity
// stage remembered messages whose updates never reached the segmenter, so
// carrying on from what it wrote would lose segment state. Only a
// generation after the base can be cleared: the base namespace also holds
// state that is not derived from the log.
func (r *runner) clearTarget(ctx context.Context) error {
	base := orDefault(r.o.Base, DefaultBase)
	if GenerationNumber(base, r.plan.Target) < 2 {
		return fmt.Errorf("%w: --resume clears the target first, and %s is not a generation after the base %s", ErrOptions, r.plan.Target, base)
	}
	if err := redisx.UnlinkMatching(ctx, r.o.Redis, r.plan.Target+":*"); err != nil {
		return fmt.Errorf("replay: clear target: %w", err)
	}
	return nil
}

// startDefinitions returns o.Definitions once it is ready, or starts a
// definition store on the definitions topic and waits until it caught up;
// cleanup stops it.
func startDefinitions(ctx context.Context, o *Options) (segmenter.Definitions, func(), error) {
	if o.Definitions != nil {
		if err := o.Definitions.WaitReady(ctx); err != nil {
			return nil, nil, fmt.Errorf("replay: reading definitions: %w", err)
		}
		return o.Definitions, func() {}, nil
	}
	own, err := defs.New(defs.Config{Client: o.Kafka, Topic: o.Topics.Definitions}, o.Log.With().Str("component", "defs").Logger())
	if err != nil {
		return nil, nil, fmt.Errorf("replay: definitions: %w", err)
	}
	dctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { defer close(done); _ = own.Run(dctx) }()
	cleanup := func() { cancel(); <-done }
	wctx, wcancel := context.WithTimeout(ctx, 60*time.Second)
	err = own.WaitReady(wctx)
	wcancel()
	if err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("replay: reading definitions: %w", err)
	}
	return own, cleanup, nil
}

// discard is the segmenter's emitter in a replay: the changes were
// published by the live pipeline when the events first arrived.
type discard struct{}

func (discard) Emit(context.Context, []schemas.SegmentChange) error { return nil }

// stages builds the identity processor and segmenter on the target
// namespace.
func (r *runner) stages(ctx context.Context) (*idStage, *segmenter.Service, func(), error) {
	o := r.o
	log := o.Log
	idCfg := o.Identity
	idCfg.Namespace = r.plan.Target
	store := identity.NewStore(o.Redis, r.plan.Target, identity.WithConfig(idCfg), identity.WithClock(o.Clock), identity.WithTenants(o.Tenants))
	definitions, cleanup, err := startDefinitions(ctx, &o)
	if err != nil {
		return nil, nil, nil, err
	}
	segCfg := o.Segmenter
	segCfg.Namespace = r.plan.Target
	segCfg.DiscardChanges = true // the emitter is discard: no outbox
	// a new generation's identity store holds only what this replay
	// applied, and every applied message reaches the segmenter as updates
	segCfg.UpdatesHoldAllHistory = !o.IntoLive
	// nothing reads or writes a new generation before the replay ends:
	// its segmenter writes each profile's state once, at the end
	segCfg.WriteBehind = !o.IntoLive
	seg, err := segmenter.New(segCfg, segmenter.Deps{
		Tenants: o.Tenants, Redis: o.Redis, Kafka: o.Kafka, Topics: o.Topics,
		Log: log.With().Str("component", "segmenter").Logger(), Clock: o.Clock,
		Definitions: definitions, Profiles: store, Emitter: discard{},
	})
	if err != nil {
		cleanup()
		return nil, nil, nil, fmt.Errorf("replay: segmenter: %w", err)
	}
	ids := newIDStage(store, o.Tenants, o.Topics, log.With().Str("component", "identity").Logger(), newSequence(), !o.IntoLive, r.plan.Records)
	return ids, seg, cleanup, nil
}

// replay reads the ranges and applies them: identity batches on this
// goroutine, their profile updates on a second one (the segmenter lags the
// identity stage by at most two batches, as a live segmenter lags its
// identity stage).
func (r *runner) replay(ctx context.Context, res *Result) error {
	ids, seg, cleanup, err := r.stages(ctx)
	if err != nil {
		return err
	}
	defer cleanup()
	prog := newProgress(r.o.Progress, r.o.Terminal, r.plan.Records, r.o.ProgressEvery)
	defer prog.finish()
	rd := newReader(r.cl, r.plan.Topic, r.plan.Partitions)

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var segBusy atomic.Int64
	segs := startSegStage(ctx, cancel, func(ctx context.Context, ins []segmenter.Input) error {
		t0 := time.Now()
		defer func() { segBusy.Add(int64(time.Since(t0))) }()
		return seg.HandleInputs(ctx, ins)
	})
	defer func() { res.SegmenterTime = time.Duration(segBusy.Load()) }()
	loopErr := func() error {
		for {
			t0 := time.Now()
			recs, err := rd.next(ctx, r.o.Batch)
			res.ReadTime += time.Since(t0)
			if err != nil {
				return fmt.Errorf("replay: read: %w", err)
			}
			if len(recs) == 0 {
				return nil
			}
			res.Read += int64(len(recs))
			keep := recs[:0:0]
			for _, rec := range recs {
				if r.skip(rec) {
					res.Skipped++
					continue
				}
				keep = append(keep, rec)
			}
			r.m.records.WithLabelValues("skipped").Add(float64(len(recs) - len(keep)))
			if len(keep) > 0 {
				t1 := time.Now()
				ups, err := ids.handle(ctx, keep)
				res.IdentityTime += time.Since(t1)
				if err != nil {
					return err
				}
				res.Applied += int64(len(keep))
				r.m.records.WithLabelValues("applied").Add(float64(len(keep)))
				if len(ups) > 0 {
					res.Updates += int64(len(ups))
					if err := segs.send(ctx, ups); err != nil {
						return err
					}
				}
			}
			prog.add(len(recs))
		}
	}()
	if loopErr == nil {
		loopErr = ids.flush(ctx)
	}
	res.Held = ids.procs[0].HeldMessages()
	segErr := segs.close()
	if segErr == nil && loopErr == nil {
		if err := seg.Flush(ctx); err != nil {
			segErr = fmt.Errorf("replay: segmenter: %w", err)
		}
	}
	if segErr != nil && (loopErr == nil || errors.Is(loopErr, context.Canceled) || errors.Is(loopErr, segErr)) {
		return segErr
	}
	if loopErr != nil {
		return loopErr
	}
	if segErr != nil {
		return segErr
	}
	return ctx.Err()
}

// skip says a record is outside the replay's tenant or time window.
func (r *runner) skip(rec *kgo.Record) bool {
	if !r.o.To.IsZero() && rec.Timestamp.After(r.o.To) {
		return true
	}
	if r.o.Tenant != "" && recordTenant(rec) != r.o.Tenant {
		return true
	}
	return false
}

// recordTenant reads the tenant header, else the key prefix.
func recordTenant(rec *kgo.Record) string {
	for _, h := range rec.Headers {
		if h.Key == schemas.HeaderTenant {
			return string(h.Value)
		}
	}
	t, _, _ := schemas.SplitKey(rec.Key)
	return t
}
