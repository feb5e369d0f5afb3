package activation

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/user360/user360/internal/httpx"
)

// Failures lists a destination's failures, newest first, failed before
// the unix-ms cursor before (0 = now). next is the cursor of the next page
// (0 when there is none).
func (s *Service) Failures(ctx context.Context, tenant, id string, before int64, limit int) ([]Failure, int64, error) {
	k := newKeys(s.cfg.Namespace, tenant, id)
	max := "+inf"
	if before > 0 {
		max = "(" + strconv.FormatInt(before, 10)
	}
	zs, err := s.deps.Redis.ZRevRangeByScoreWithScores(ctx, k.failz(), &redis.ZRangeBy{Max: max, Min: "-inf", Count: int64(limit)}).Result()
	if err != nil {
		return nil, 0, fmt.Errorf("activation: failures: %w", err)
	}
	if len(zs) == 0 {
		return []Failure{}, 0, nil
	}
	ids := make([]string, len(zs))
	for i, z := range zs {
		ids[i] = z.Member.(string)
	}
	vals, err := s.deps.Redis.HMGet(ctx, k.fail(), ids...).Result()
	if err != nil {
		return nil, 0, fmt.Errorf("activation: failures: %w", err)
	}
	out := make([]Failure, 0, len(vals))
	for _, v := range vals {
		str, ok := v.(string)
		if !ok {
			continue
		}
		var f Failure
		if json.Unmarshal([]byte(str), &f) == nil {
			out = append(out, f)
		}
	}
	var next int64
	if len(zs) == limit {
		next = int64(zs[len(zs)-1].Score)
	}
	return out, next, nil
}

// Replay moves failures back into their queues (all of them, oldest first,
// when ids is empty) with a fresh retry budget, and returns how many were
// queued. They keep their delivery ids.
func (s *Service) Replay(ctx context.Context, tenant, id string, ids []string) (int, error) {
	k := newKeys(s.cfg.Namespace, tenant, id)
	rdb := s.deps.Redis
	n := 0
	all := len(ids) == 0
	for {
		if all {
			var err error
			ids, err = rdb.ZRange(ctx, k.failz(), 0, 499).Result()
			if err != nil {
				return n, fmt.Errorf("activation: replay: %w", err)
			}
		}
		if len(ids) == 0 {
			break
		}
		vals, err := rdb.HMGet(ctx, k.fail(), ids...).Result()
		if err != nil {
			return n, fmt.Errorf("activation: replay: %w", err)
		}
		now := s.now()
		var calls []scriptCall
		for i, v := range vals {
			str, ok := v.(string)
			if !ok {
				if all { // listed but gone: drop the stale index entry
					rdb.ZRem(ctx, k.failz(), ids[i])
				}
				continue
			}
			var f Failure
			if err := json.Unmarshal([]byte(str), &f); err != nil {
				continue
			}
			j := job{ID: f.DeliveryID, MessageID: f.MessageID, Profile: f.ProfileID, SegmentID: f.SegmentID, Type: f.Type,
				Change: f.Change, EnqueuedAt: now.UnixMilli(), EventAt: now.UnixMilli()}
			b, _ := json.Marshal(j)
			calls = append(calls, scriptCall{s: scriptReplay, keys: []string{k.queue(j.Profile), k.jobs(), k.due(), k.fail(), k.failz()},
				args: []any{j.ID, j.Profile, b, now.UnixMilli()}})
		}
		cmds, err := runScripts(ctx, rdb, calls)
		if err != nil {
			return n, fmt.Errorf("activation: replay: %w", err)
		}
		for _, c := range cmds {
			if v, _ := c.Int(); v == 1 {
				n++
			}
		}
		if !all {
			break
		}
	}
	if d := s.dispatcher(tenant, id); d != nil {
		d.poke()
	}
	return n, nil
}

func (s *Service) listFailures(w http.ResponseWriter, r *http.Request) {
	d, ok := s.loadOr404(w, r)
	if !ok {
		return
	}
	limit := 50
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			httpx.WriteError(w, http.StatusBadRequest, "invalid_query", "limit must be 1..1000", "limit")
			return
		}
		limit = n
	}
	var before int64
	if v := r.URL.Query().Get("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			httpx.WriteError(w, http.StatusBadRequest, "invalid_query", "before must be the next cursor of a previous page", "before")
			return
		}
		before = n
	}
	fs, next, err := s.Failures(r.Context(), d.Tenant, d.ID, before, limit)
	if err != nil {
		httpx.WriteError(w, http.StatusServiceUnavailable, "unavailable", "failures are unavailable; retry", "")
		return
	}
	out := map[string]any{"failures": fs}
	if next > 0 {
		out["next"] = strconv.FormatInt(next, 10)
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

type replayInput struct {
	IDs []string `json:"ids"`
}

func (s *Service) replayFailures(w http.ResponseWriter, r *http.Request) {
	d, ok := s.loadOr404(w, r)
	if !ok {
		return
	}
	var in replayInput
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		httpx.WriteError(w, http.StatusRequestEntityTooLarge, "too_large", "request body is larger than the limit", "")
		return
	}
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &in); err != nil {
			httpx.WriteError(w, http.StatusBadRequest, "invalid_json", "request body is not valid JSON: "+err.Error(), "")
			return
		}
	}
	for i, id := range in.IDs {
		if id == "" {
			httpx.WriteError(w, http.StatusBadRequest, "invalid_body", "must be a delivery id", fmt.Sprintf("ids[%d]", i))
			return
		}
	}
	n, err := s.Replay(r.Context(), d.Tenant, d.ID, in.IDs)
	if err != nil {
		httpx.WriteError(w, http.StatusServiceUnavailable, "unavailable", "replay failed; retry", "")
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]int{"replayed": n})
}
