package activation

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/user360/user360/internal/httpx"
	"github.com/user360/user360/internal/redisx"
)

// ErrBadCursor is returned by Failures for a cursor it did not return.
var ErrBadCursor = errors.New("activation: bad cursor")

// Failures lists a destination's failures, newest first (by failed-at
// time, then by delivery id, descending), starting after cursor ("" = the
// newest). next is the cursor of the next page ("" when there is none). A
// failure that stays listed through a whole scan is returned exactly once,
// even when many share one failed-at millisecond. The cursors of earlier
// versions (a bare unix-ms time) still work: they resume at the failures
// strictly older than that time.
func (s *Service) Failures(ctx context.Context, tenant, id, cursor string, limit int) ([]Failure, string, error) {
	score, member, err := parseFailCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	k := newKeys(s.cfg.Namespace, tenant, id)
	ids, scores, err := s.failPage(ctx, k, score, member, limit+1)
	if err != nil {
		return nil, "", err
	}
	var next string
	if len(ids) > limit {
		ids = ids[:limit]
		next = failCursor(scores[limit-1], ids[limit-1])
	}
	if len(ids) == 0 {
		return []Failure{}, "", nil
	}
	out, err := s.readFailures(ctx, k, ids)
	return out, next, err
}

// failPage lists up to n delivery ids of the failures and their scores
// (failed-at ms), newest first, after (score, member) (score "": from the
// newest; member "": strictly older than score).
func (s *Service) failPage(ctx context.Context, k keys, score, member string, n int) ([]string, []int64, error) {
	ids, fs, err := redisx.ZRangeAfter(ctx, s.deps.Redis, k.failz(), true, score, member, n)
	if err != nil {
		return nil, nil, fmt.Errorf("activation: failures: %w", err)
	}
	scores := make([]int64, len(fs))
	for i, f := range fs {
		scores[i] = int64(f)
	}
	return ids, scores, nil
}

// readFailures reads the failures of ids, in that order, skipping the
// ones gone meanwhile.
func (s *Service) readFailures(ctx context.Context, k keys, ids []string) ([]Failure, error) {
	vals, err := s.deps.Redis.HMGet(ctx, k.fail(), ids...).Result()
	if err != nil {
		return nil, fmt.Errorf("activation: failures: %w", err)
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
	return out, nil
}

// failCursor is the cursor that resumes after (score, deliveryID):
// "<failed-at ms>:<base64url delivery id>" (URL-safe whatever the id).
func failCursor(score int64, deliveryID string) string {
	return strconv.FormatInt(score, 10) + ":" + base64.RawURLEncoding.EncodeToString([]byte(deliveryID))
}

// parseFailCursor splits a cursor into ZRangeAfter's score and member
// arguments ("" score: from the newest). A bare unix-ms time (the cursors
// of earlier versions) has the member "", which sorts before every
// delivery id: the page resumes strictly before that time.
func parseFailCursor(c string) (score, member string, err error) {
	if c == "" || c == "0" {
		return "", "", nil
	}
	ms, enc, hasMember := strings.Cut(c, ":")
	n, err := strconv.ParseInt(ms, 10, 64)
	if err != nil || n < 0 {
		return "", "", fmt.Errorf("%w: %q", ErrBadCursor, c)
	}
	if !hasMember {
		return ms, "", nil
	}
	m, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil || len(m) == 0 {
		return "", "", fmt.Errorf("%w: %q", ErrBadCursor, c)
	}
	return strconv.FormatInt(n, 10), string(m), nil
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
	fs, next, err := s.Failures(r.Context(), d.Tenant, d.ID, r.URL.Query().Get("before"), limit)
	if errors.Is(err, ErrBadCursor) {
		httpx.WriteError(w, http.StatusBadRequest, "invalid_query", "before must be the next cursor of a previous page", "before")
		return
	}
	if err != nil {
		httpx.WriteError(w, http.StatusServiceUnavailable, "unavailable", "failures are unavailable; retry", "")
		return
	}
	out := map[string]any{"failures": fs}
	if next != "" {
		out["next"] = next
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
	if !decodeOptionalJSON(w, r, &in) {
		return
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

// decodeOptionalJSON decodes an optional JSON body into v with the shared
// helper (so a member of the wrong type is named); an empty body leaves v
// as it is.
func decodeOptionalJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		httpx.WriteError(w, http.StatusRequestEntityTooLarge, "too_large", "request body is larger than the limit", "")
		return false
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return true
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return httpx.DecodeJSON(w, r, maxBody, v)
}
