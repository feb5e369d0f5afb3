package replay

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/identity"
	"github.com/user360/user360/internal/kafka"
	"github.com/user360/user360/segmenter"
)

// A segment backfill (Options.Segment, `user360 replay --segment`): the
// event conditions of one segment need history older than the identity
// store's timeline and per-day counters, so their state is rebuilt from
// the events log instead. The window's records of the tenant whose event
// the conditions read are matched as the live stages match them, resolved
// read-only to their live profile (identifiers, then merges), and their
// stamps handed to the live segmenter's SeedEventConditions, which merges
// them into the stored condition state, re-evaluates the segment and
// publishes the entries and exits (cause backfill). It runs against the
// live namespace while the live pipeline runs, holding the segment's job
// lease. See docs/REPLAY.md.

// SegmentResult is what a segment backfill did.
type SegmentResult struct {
	// Matched is the records that count for at least one of the segment's
	// event conditions; Unresolved those whose identifiers name no live
	// profile (deleted, or the event was ignored by identity).
	Matched    int64 `json:"matched"`
	Unresolved int64 `json:"unresolved"`
	// Profiles is the live profiles the matched records belong to;
	// Skipped those deleted or merged away before their state was written.
	Profiles int `json:"profiles"`
	Skipped  int `json:"skipped"`
	// Written is the profile states changed; Entered and Exited the
	// segment's transitions; Published the changes published.
	Written   int `json:"written"`
	Entered   int `json:"entered"`
	Exited    int `json:"exited"`
	Published int `json:"published"`
}

// segmentPage is the number of profiles per SeedEventConditions call (one
// read pipeline and one write pipeline each).
const segmentPage = 500

// leaseRetry is how often a segment backfill retries the segment's lease
// while the segmenter's own job for the segment holds it.
const leaseRetry = 250 * time.Millisecond

// segRun is one segment backfill in progress.
type segRun struct {
	o     *Options
	cl    *kgo.Client
	svc   *segmenter.Service
	store *identity.Store
	se    segmenter.SegmentEvents
	plan  Plan
	m     *metrics
}

// runSegment is Run for Options.Segment (validated).
func runSegment(ctx context.Context, o Options) (Result, error) {
	cl, err := kafka.NewClient(o.Kafka)
	if err != nil {
		return Result{}, fmt.Errorf("replay: %w", err)
	}
	defer cl.Close()
	live, err := ActiveNamespace(ctx, o.Redis, o.Base)
	if err != nil {
		return Result{}, err
	}
	r := &segRun{o: &o, cl: cl, m: newMetrics(o.Metrics)}
	cleanup, err := r.services(ctx, live)
	if err != nil {
		return Result{}, err
	}
	defer cleanup()
	se, err := r.svc.SegmentEventConditions(o.Tenant, o.Segment)
	switch {
	case errors.Is(err, segmenter.ErrSegmentNotFound):
		return Result{}, fmt.Errorf("%w: segment %q does not exist in tenant %q", ErrOptions, o.Segment, o.Tenant)
	case errors.Is(err, segmenter.ErrNoEventConditions):
		return Result{}, fmt.Errorf("%w: segment %q has no event conditions: nothing to backfill from the log (its trait and segment conditions are evaluated by the segmenter's own backfill)", ErrOptions, o.Segment)
	case err != nil:
		return Result{}, fmt.Errorf("replay: %w", err)
	}
	r.se = se
	ranges, err := offsetRanges(ctx, cl, o.Topics.Events, o.From)
	if err != nil {
		return Result{}, err
	}
	r.plan = newSegmentPlan(&o, live, ranges, se)
	res := Result{Plan: r.plan}
	if o.DryRun {
		return res, nil
	}
	start := time.Now()
	res.Segment = &SegmentResult{}
	err = r.run(ctx, &res)
	res.Duration = time.Since(start)
	return res, err
}

// services builds the identity store (reads only) and a segmenter on the
// live namespace; the segmenter publishes through the replay's client.
func (r *segRun) services(ctx context.Context, live string) (func(), error) {
	o := r.o
	idCfg := o.Identity
	idCfg.Namespace = live
	r.store = identity.NewStore(o.Redis, live, identity.WithConfig(idCfg), identity.WithClock(o.Clock), identity.WithTenants(o.Tenants))
	definitions, cleanup, err := startDefinitions(ctx, o)
	if err != nil {
		return nil, err
	}
	segCfg := o.Segmenter
	segCfg.Namespace = live
	r.svc, err = segmenter.New(segCfg, segmenter.Deps{
		Tenants: o.Tenants, Redis: o.Redis, Kafka: o.Kafka, Topics: o.Topics,
		Log: o.Log.With().Str("component", "segmenter").Logger(), Clock: o.Clock,
		Definitions: definitions, Profiles: r.store,
		Emitter: segmenter.NewKafkaEmitter(r.cl, o.Topics.SegmentChanges),
	})
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("replay: segmenter: %w", err)
	}
	return cleanup, nil
}

// run holds the segment's lease, reads the window and rebuilds the state.
func (r *segRun) run(ctx context.Context, res *Result) error {
	if err := r.hold(ctx); err != nil {
		return err
	}
	defer func() { _ = r.svc.ReleaseSegment(context.WithoutCancel(ctx), r.o.Tenant, r.o.Segment) }()
	acc, err := r.read(ctx, res)
	if err != nil {
		return err
	}
	return r.apply(ctx, acc, res.Segment)
}

// hold takes the segment's job lease, waiting while the segmenter's own
// job for the segment (its backfill) holds it.
func (r *segRun) hold(ctx context.Context) error {
	for waited := false; ; waited = true {
		ok, err := r.svc.LeaseSegment(ctx, r.o.Tenant, r.o.Segment)
		if err != nil {
			return fmt.Errorf("replay: %w", err)
		}
		if ok {
			return nil
		}
		if !waited {
			r.o.Log.Warn().Str("segment", r.o.Segment).Msg("waiting for the segmenter's job of the segment to release its lease")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(leaseRetry):
		}
	}
}

// renew keeps the lease; losing it (expired and taken) stops the run.
func (r *segRun) renew(ctx context.Context) error {
	ok, err := r.svc.LeaseSegment(ctx, r.o.Tenant, r.o.Segment)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	if !ok {
		return fmt.Errorf("replay: lost the lease of segment %q to another instance", r.o.Segment)
	}
	return nil
}

// stampSets are a profile's stamps per condition (index in se.Conds).
type stampSets [][]int64

// read scans the window and collects the matched records' stamps per
// live profile, retained as the conditions keep them (memory is bounded
// per profile, not per record).
func (r *segRun) read(ctx context.Context, res *Result) (map[string]stampSets, error) {
	o, sr := r.o, res.Segment
	f := newSegFilter(o.Tenant, o.To, r.se)
	now, conds, loc := o.Clock(), r.se.Conds, r.se.Loc
	acc := map[string]stampSets{}
	prog := newProgress(o.Progress, o.Terminal, r.plan.Records, o.ProgressEvery)
	defer prog.finish()
	rd := newReader(r.cl, r.plan.Topic, r.plan.Partitions)
	for {
		t0 := time.Now()
		recs, err := rd.next(ctx, o.Batch)
		res.ReadTime += time.Since(t0)
		if err != nil {
			return nil, fmt.Errorf("replay: read: %w", err)
		}
		if len(recs) == 0 {
			return acc, nil
		}
		res.Read += int64(len(recs))
		var ms []matched
		for _, rec := range recs {
			if m, ok := f.match(rec); ok {
				ms = append(ms, m)
			}
		}
		ids := make([]identity.RecordIdentifiers, len(ms))
		for i, m := range ms {
			ids[i] = identity.RecordIdentifiers{UserID: m.userID, AnonymousID: m.anonID, At: m.at}
		}
		pids, err := r.store.ResolveRecords(ctx, o.Tenant, ids)
		if err != nil {
			return nil, fmt.Errorf("replay: %w", err)
		}
		for i, m := range ms {
			if pids[i] == "" {
				sr.Unresolved++
				continue
			}
			a := acc[pids[i]]
			if a == nil {
				a = make(stampSets, len(conds))
				acc[pids[i]] = a
			}
			for j, st := range m.stamps {
				if st != 0 {
					a[j] = conds[j].Retain(a[j], st, now, loc)
				}
			}
		}
		sr.Matched += int64(len(ms))
		res.Applied += int64(len(ms))
		res.Skipped += int64(len(recs) - len(ms))
		r.m.records.WithLabelValues("applied").Add(float64(len(ms)))
		r.m.records.WithLabelValues("skipped").Add(float64(len(recs) - len(ms)))
		prog.add(len(recs))
		if err := r.renew(ctx); err != nil {
			return nil, err
		}
	}
}

// apply maps the collected profiles to their live survivors (merges that
// happened meanwhile), then seeds and re-evaluates them page by page.
func (r *segRun) apply(ctx context.Context, acc map[string]stampSets, sr *SegmentResult) error {
	o, conds := r.o, r.se.Conds
	now, loc := o.Clock(), r.se.Loc
	pids := make([]string, 0, len(acc))
	for p := range acc {
		pids = append(pids, p)
	}
	slices.Sort(pids)
	byLive := map[string]stampSets{}
	for chunk := range slices.Chunk(pids, 1000) {
		canon, err := r.store.LiveProfiles(ctx, o.Tenant, chunk)
		if err != nil {
			return fmt.Errorf("replay: %w", err)
		}
		for _, p := range chunk {
			l := canon[p]
			if l == "" {
				sr.Skipped++
				continue
			}
			dst := byLive[l]
			if dst == nil {
				byLive[l] = acc[p]
				continue
			}
			for j, sts := range acc[p] {
				for _, st := range sts {
					dst[j] = conds[j].Retain(dst[j], st, now, loc)
				}
			}
		}
	}
	lives := make([]string, 0, len(byLive))
	for p := range byLive {
		lives = append(lives, p)
	}
	slices.Sort(lives)
	sr.Profiles = len(lives)
	for page := range slices.Chunk(lives, segmentPage) {
		if err := ctx.Err(); err != nil {
			return err
		}
		profs, err := r.store.GetProfiles(ctx, o.Tenant, page)
		if err != nil {
			return fmt.Errorf("replay: %w", err)
		}
		sr.Skipped += len(page) - len(profs)
		seeds := make([]segmenter.EventSeed, 0, len(profs))
		for _, p := range profs {
			stamps := make(map[string][]int64, len(conds))
			for j, c := range conds {
				stamps[c.Key()] = byLive[p.ID][j]
			}
			seeds = append(seeds, segmenter.EventSeed{Profile: p, Stamps: stamps})
		}
		got, err := r.svc.SeedEventConditions(ctx, o.Tenant, o.Segment, seeds, segmenter.SeedOptions{Since: o.From, Until: o.To})
		if err != nil {
			return fmt.Errorf("replay: %w", err)
		}
		sr.Skipped += got.Skipped
		sr.Written += got.Written
		sr.Entered += got.Entered
		sr.Exited += got.Exited
		sr.Published += got.Published
		if err := r.renew(ctx); err != nil {
			return err
		}
	}
	return nil
}
