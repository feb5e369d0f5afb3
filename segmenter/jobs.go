package segmenter

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/user360/user360/schemas"
)

// Background jobs: the backfill of a new or edited segment, and the removal
// of a deleted segment's memberships. Every instance learns of a change
// through its definitions subscription and queues the job; a lease in Redis
// lets one instance run it at a time, and the progress (cursor, revision)
// in Redis lets another instance or a restart resume it.

type jobKey struct{ tenant, seg string }

type jobs struct {
	mu      sync.Mutex
	pending map[jobKey]Segment // the last known definition (for deletions)
	kick    chan struct{}
	token   string
}

func newJobs() *jobs {
	return &jobs{pending: map[jobKey]Segment{}, kick: make(chan struct{}, 1), token: uuid.NewString()}
}

func (j *jobs) add(tenant string, seg Segment) {
	j.mu.Lock()
	j.pending[jobKey{tenant, seg.ID}] = seg
	j.mu.Unlock()
	select {
	case j.kick <- struct{}{}:
	default:
	}
}

func (j *jobs) get(tenant, seg string) (Segment, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	s, ok := j.pending[jobKey{tenant, seg}]
	return s, ok
}

func (j *jobs) list() map[jobKey]Segment {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := make(map[jobKey]Segment, len(j.pending))
	for k, v := range j.pending {
		out[k] = v
	}
	return out
}

func (j *jobs) done(k jobKey, seg Segment) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if cur, ok := j.pending[k]; ok && cur.Revision == seg.Revision && cur.UpdatedAt.Equal(seg.UpdatedAt) {
		delete(j.pending, k)
	}
}

// runJobs works through queued jobs until ctx ends.
func (s *Service) runJobs(ctx context.Context) error {
	t := time.NewTicker(s.cfg.JobPoll)
	defer t.Stop()
	for {
		for k, seg := range s.jobs.list() {
			if ctx.Err() != nil {
				return nil
			}
			done, err := s.runJob(ctx, k, seg)
			if err != nil && ctx.Err() == nil {
				s.deps.Log.Warn().Err(err).Str("tenant", k.tenant).Str("segment", k.seg).Msg("segment job failed; will retry")
			}
			if done {
				s.jobs.done(k, seg)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-s.jobs.kick:
		}
	}
}

// runJob runs one job as far as it can; done says it is finished (or owned
// and finished by another instance).
func (s *Service) runJob(ctx context.Context, k jobKey, seg Segment) (bool, error) {
	keys := keysFor(s.cfg.Namespace, k.tenant)
	c, exists := s.reg.get(k.tenant, k.seg)
	if exists {
		st, err := s.rdb.HMGet(ctx, keys.job(k.seg), "rev", "done").Result()
		if err != nil {
			return false, fmt.Errorf("segmenter: read job: %w", err)
		}
		if fmt.Sprint(st[0]) == strconv.FormatInt(c.def.Revision, 10) && fmt.Sprint(st[1]) == "1" {
			return true, nil
		}
	}
	ok, err := s.lease(ctx, keys, k.seg)
	if err != nil || !ok {
		return false, err
	}
	defer evalScript(context.WithoutCancel(ctx), s.rdb, releaseScript, []string{keys.lease(k.seg)}, s.jobs.token)
	if !exists {
		return s.dropMembers(ctx, k.tenant, seg)
	}
	return s.backfill(ctx, k.tenant, c)
}

func (s *Service) lease(ctx context.Context, keys keys, seg string) (bool, error) {
	n, err := evalScript(ctx, s.rdb, leaseScript, []string{keys.lease(seg)}, s.jobs.token, s.cfg.JobLease.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("segmenter: job lease: %w", err)
	}
	return n == 1, nil
}

// backfill evaluates a segment over every profile of the identity store,
// page by page, saving the cursor after each page.
func (s *Service) backfill(ctx context.Context, tenant string, c *compiled) (bool, error) {
	keys := keysFor(s.cfg.Namespace, tenant)
	rev := strconv.FormatInt(c.def.Revision, 10)
	st, err := s.rdb.HGetAll(ctx, keys.job(c.def.ID)).Result()
	if err != nil {
		return false, fmt.Errorf("segmenter: read job: %w", err)
	}
	cursor := ""
	var processed int64
	if st["rev"] == rev {
		cursor = st["cursor"]
		processed, _ = strconv.ParseInt(st["processed"], 10, 64)
	} else if err := s.rdb.HSet(ctx, keys.job(c.def.ID), "rev", rev, "cursor", "", "processed", 0, "done", 0, "started", s.now().UTC().Format(time.RFC3339)).Err(); err != nil {
		return false, fmt.Errorf("segmenter: start job: %w", err)
	}
	cause, silent := schemas.CauseBackfill, !c.def.EmitOnBackfill
	if c.def.Revision > 1 {
		cause, silent = schemas.CauseDefinition, false
	}
	for s.deps.Profiles != nil {
		if ctx.Err() != nil {
			return false, nil
		}
		// Stop when the definition changed: the next run starts over.
		if cur, ok := s.reg.get(tenant, c.def.ID); !ok || cur.def.Revision != c.def.Revision {
			return true, nil
		}
		profiles, next, err := s.deps.Profiles.ScanProfiles(ctx, tenant, cursor, s.cfg.BackfillPage)
		if err != nil {
			return false, fmt.Errorf("segmenter: scan profiles: %w", err)
		}
		ws := make([]*work, 0, len(profiles))
		for i := range profiles {
			prof := &profiles[i]
			ws = append(ws, &work{p: &pstate{tenant: tenant, id: prof.ID}, apply: func(ctx context.Context, ec *evalCtx, p *pstate) error {
				cur, ok := ec.ix.segs[c.def.ID]
				if !ok || cur.def.Revision != c.def.Revision {
					return nil
				}
				return s.backfillProfile(ctx, ec, p, cur, prof, cause, silent)
			}})
		}
		if err := s.process(ctx, ws); err != nil {
			return false, err
		}
		processed += int64(len(profiles))
		s.metrics.backfilled.WithLabelValues(tenant).Add(float64(len(profiles)))
		cursor = next
		if err := s.rdb.HSet(ctx, keys.job(c.def.ID), "cursor", cursor, "processed", processed).Err(); err != nil {
			return false, fmt.Errorf("segmenter: save job cursor: %w", err)
		}
		if ok, err := s.lease(ctx, keys, c.def.ID); err != nil || !ok {
			return false, err
		}
		if cursor == "" {
			break
		}
	}
	if err := s.rdb.HSet(ctx, keys.job(c.def.ID), "done", 1, "finished", s.now().UTC().Format(time.RFC3339)).Err(); err != nil {
		return false, fmt.Errorf("segmenter: finish job: %w", err)
	}
	return true, nil
}

// dropMembers removes a deleted segment from every member (publishing the
// exits, cause definition), then its keys.
func (s *Service) dropMembers(ctx context.Context, tenant string, seg Segment) (bool, error) {
	keys := keysFor(s.cfg.Namespace, tenant)
	for {
		if ctx.Err() != nil {
			return false, nil
		}
		ids, err := s.rdb.ZRange(ctx, keys.members(seg.ID), 0, int64(s.cfg.BackfillPage)-1).Result()
		if err != nil {
			return false, fmt.Errorf("segmenter: read members: %w", err)
		}
		if len(ids) == 0 {
			break
		}
		ws := make([]*work, len(ids))
		for i, id := range ids {
			ws[i] = &work{p: &pstate{tenant: tenant, id: id}, apply: func(ctx context.Context, ec *evalCtx, p *pstate) error {
				s.dropSegment(ec, p, seg)
				return nil
			}}
		}
		if err := s.process(ctx, ws); err != nil {
			return false, err
		}
		if ok, err := s.lease(ctx, keys, seg.ID); err != nil || !ok {
			return false, err
		}
	}
	if err := s.rdb.Del(ctx, keys.job(seg.ID), keys.members(seg.ID)).Err(); err != nil && !errors.Is(err, redis.Nil) {
		return false, fmt.Errorf("segmenter: delete segment keys: %w", err)
	}
	return true, nil
}

// jobStatus is the backfill progress shown by /status.
type jobStatus struct {
	State     string `json:"state"` // pending, running, done
	Revision  int64  `json:"revision"`
	Processed int64  `json:"processed"`
	Started   string `json:"startedAt,omitempty"`
	Finished  string `json:"finishedAt,omitempty"`
}

func (s *Service) jobStatus(ctx context.Context, tenant string, c *compiled) (jobStatus, error) {
	keys := keysFor(s.cfg.Namespace, tenant)
	st, err := s.rdb.HGetAll(ctx, keys.job(c.def.ID)).Result()
	if err != nil {
		return jobStatus{}, fmt.Errorf("segmenter: read job: %w", err)
	}
	js := jobStatus{State: "pending", Revision: c.def.Revision}
	if st["rev"] != strconv.FormatInt(c.def.Revision, 10) {
		return js, nil
	}
	js.Processed, _ = strconv.ParseInt(st["processed"], 10, 64)
	js.Started, js.Finished = st["started"], st["finished"]
	js.State = "running"
	if st["done"] == "1" {
		js.State = "done"
	}
	return js, nil
}
