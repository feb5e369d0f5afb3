package segmenter

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/user360/user360/internal/config"
	"github.com/user360/user360/internal/httpx"
	"github.com/user360/user360/schemas"
	"github.com/user360/user360/segmenter/rules"
)

// Routes registers the segment API (API key, tenant-scoped).
func (s *Service) Routes(mux *http.ServeMux) {
	h := func(f http.HandlerFunc) http.Handler { return httpx.RequireAPIKey(s.deps.Tenants, f) }
	mux.Handle("POST /v1/segments", h(s.createSegment))
	mux.Handle("GET /v1/segments", h(s.listSegments))
	mux.Handle("POST /v1/segments/preview", h(s.previewSegment))
	mux.Handle("GET /v1/segments/{id}", h(s.getSegment))
	mux.Handle("PUT /v1/segments/{id}", h(s.putSegment))
	mux.Handle("DELETE /v1/segments/{id}", h(s.deleteSegment))
	mux.Handle("GET /v1/segments/{id}/members", h(s.segmentMembers))
	mux.Handle("GET /v1/segments/{id}/status", h(s.segmentStatus))
}

// segmentInput is the body of POST and PUT.
type segmentInput struct {
	Name           string          `json:"name"`
	Description    string          `json:"description"`
	Rule           json.RawMessage `json:"rule"`
	EmitOnBackfill *bool           `json:"emitOnBackfill"`
}

// validate checks a body; it answers the error itself and returns nil then.
func (s *Service) validate(w http.ResponseWriter, tenant *config.Tenant, id string, in *segmentInput) *rules.Rule {
	name := strings.TrimSpace(in.Name)
	if name == "" || len(name) > 200 {
		httpx.WriteError(w, http.StatusBadRequest, "invalid_segment", "name is required (at most 200 characters)", "name")
		return nil
	}
	if len(in.Description) > 2000 {
		httpx.WriteError(w, http.StatusBadRequest, "invalid_segment", "description is longer than 2000 characters", "description")
		return nil
	}
	r, err := rules.Parse(in.Rule, "rule")
	if err != nil {
		var re *rules.Error
		if errors.As(err, &re) {
			httpx.WriteError(w, http.StatusBadRequest, "invalid_rule", re.Reason, re.Path)
		} else {
			httpx.WriteError(w, http.StatusBadRequest, "invalid_rule", err.Error(), "rule")
		}
		return nil
	}
	ix := s.reg.index(tenant.ID)
	for _, ref := range r.Segments() {
		if _, ok := ix.segs[ref]; !ok {
			httpx.WriteError(w, http.StatusBadRequest, "invalid_rule", "the rule references segment "+strconv.Quote(ref)+", which does not exist", refPath(in.Rule, ref))
			return nil
		}
		if ref == id {
			httpx.WriteError(w, http.StatusBadRequest, "invalid_rule", "a segment cannot reference itself", refPath(in.Rule, ref))
			return nil
		}
	}
	if id != "" && ix.wouldCycle(id, r.Segments()) {
		httpx.WriteError(w, http.StatusBadRequest, "invalid_rule", "the segment references would form a cycle", "rule")
		return nil
	}
	return r
}

// refPath finds the JSON path of a segment reference for error messages.
func refPath(raw json.RawMessage, id string) string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return "rule"
	}
	var walk func(v any, path string) string
	walk = func(v any, path string) string {
		switch x := v.(type) {
		case map[string]any:
			if x["segment"] == id {
				return path + ".segment"
			}
			for _, k := range []string{"all", "any", "not"} {
				if c, ok := x[k]; ok {
					if p := walk(c, path+"."+k); p != "" {
						return p
					}
				}
			}
		case []any:
			for i, c := range x {
				if p := walk(c, path+"["+strconv.Itoa(i)+"]"); p != "" {
					return p
				}
			}
		}
		return ""
	}
	if p := walk(v, "rule"); p != "" {
		return p
	}
	return "rule"
}

func (s *Service) createSegment(w http.ResponseWriter, r *http.Request) {
	tenant := httpx.TenantFrom(r.Context())
	var in segmentInput
	if !httpx.DecodeJSON(w, r, s.cfg.MaxBodyBytes, &in) {
		return
	}
	if len(s.reg.index(tenant.ID).segs) >= s.cfg.MaxSegments {
		httpx.WriteError(w, http.StatusConflict, "too_many_segments", "the tenant has reached its segment limit", "")
		return
	}
	if s.validate(w, tenant, "", &in) == nil {
		return
	}
	now := s.now().UTC()
	seg := Segment{
		ID: uuid.NewString(), Name: strings.TrimSpace(in.Name), Description: in.Description,
		Rule: compact(in.Rule), EmitOnBackfill: in.EmitOnBackfill == nil || *in.EmitOnBackfill,
		Revision: 1, CreatedAt: now, UpdatedAt: now,
	}
	if !s.store(w, r, tenant.ID, seg) {
		return
	}
	httpx.WriteJSON(w, http.StatusCreated, seg)
}

func (s *Service) putSegment(w http.ResponseWriter, r *http.Request) {
	tenant := httpx.TenantFrom(r.Context())
	id := r.PathValue("id")
	cur, ok := s.reg.get(tenant.ID, id)
	if !ok {
		httpx.WriteError(w, http.StatusNotFound, "not_found", "segment not found", "")
		return
	}
	var in segmentInput
	if !httpx.DecodeJSON(w, r, s.cfg.MaxBodyBytes, &in) {
		return
	}
	if s.validate(w, tenant, id, &in) == nil {
		return
	}
	seg := cur.def
	seg.Name, seg.Description = strings.TrimSpace(in.Name), in.Description
	if in.EmitOnBackfill != nil {
		seg.EmitOnBackfill = *in.EmitOnBackfill
	}
	ruleChanged := string(compact(in.Rule)) != string(seg.Rule)
	seg.Rule = compact(in.Rule)
	if ruleChanged {
		seg.Revision++
	}
	seg.UpdatedAt = s.now().UTC()
	if !s.store(w, r, tenant.ID, seg) {
		return
	}
	httpx.WriteJSON(w, http.StatusOK, seg)
}

// store writes a definition durably and applies it here at once.
func (s *Service) store(w http.ResponseWriter, r *http.Request, tenant string, seg Segment) bool {
	if err := s.deps.Definitions.Put(r.Context(), KindSegment, tenant, seg.ID, seg); err != nil {
		s.deps.Log.Error().Err(err).Msg("storing segment definition")
		httpx.WriteError(w, http.StatusServiceUnavailable, "unavailable", "the definition store is unavailable; retry", "")
		return false
	}
	b, _ := json.Marshal(seg)
	s.onDefinition(tenant, seg.ID, b)
	return true
}

func compact(raw json.RawMessage) json.RawMessage {
	var b strings.Builder
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return raw
	}
	enc, _ := json.Marshal(v)
	b.Write(enc)
	return json.RawMessage(b.String())
}

func (s *Service) listSegments(w http.ResponseWriter, r *http.Request) {
	tenant := httpx.TenantFrom(r.Context())
	ix := s.reg.index(tenant.ID)
	out := make([]Segment, 0, len(ix.segs))
	for _, c := range ix.segs {
		out = append(out, c.def)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"segments": out})
}

func (s *Service) getSegment(w http.ResponseWriter, r *http.Request) {
	tenant := httpx.TenantFrom(r.Context())
	c, ok := s.reg.get(tenant.ID, r.PathValue("id"))
	if !ok {
		httpx.WriteError(w, http.StatusNotFound, "not_found", "segment not found", "")
		return
	}
	httpx.WriteJSON(w, http.StatusOK, c.def)
}

func (s *Service) deleteSegment(w http.ResponseWriter, r *http.Request) {
	tenant := httpx.TenantFrom(r.Context())
	id := r.PathValue("id")
	c, ok := s.reg.get(tenant.ID, id)
	if !ok {
		httpx.WriteError(w, http.StatusNotFound, "not_found", "segment not found", "")
		return
	}
	if len(c.dependents) > 0 {
		httpx.WriteError(w, http.StatusConflict, "segment_in_use", "segment "+c.dependents[0].def.ID+" references this segment; change it first", "")
		return
	}
	if err := s.deps.Definitions.Delete(r.Context(), KindSegment, tenant.ID, id); err != nil {
		s.deps.Log.Error().Err(err).Msg("deleting segment definition")
		httpx.WriteError(w, http.StatusServiceUnavailable, "unavailable", "the definition store is unavailable; retry", "")
		return
	}
	s.onDefinition(tenant.ID, id, nil)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Service) segmentMembers(w http.ResponseWriter, r *http.Request) {
	tenant := httpx.TenantFrom(r.Context())
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			httpx.WriteError(w, http.StatusBadRequest, "invalid_parameter", "limit must be an integer from 1 to 1000", "limit")
			return
		}
		limit = n
	}
	ids, next, err := s.ScanMembers(r.Context(), tenant.ID, r.PathValue("id"), r.URL.Query().Get("cursor"), limit)
	if errors.Is(err, ErrSegmentNotFound) {
		httpx.WriteError(w, http.StatusNotFound, "not_found", "segment not found", "")
		return
	}
	if errors.Is(err, ErrBadCursor) {
		httpx.WriteError(w, http.StatusBadRequest, "invalid_cursor", "cursor is not one this API returned", "cursor")
		return
	}
	if err != nil {
		httpx.WriteError(w, http.StatusServiceUnavailable, "unavailable", "membership store unavailable", "")
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"members": ids, "nextCursor": next})
}

func (s *Service) segmentStatus(w http.ResponseWriter, r *http.Request) {
	tenant := httpx.TenantFrom(r.Context())
	c, ok := s.reg.get(tenant.ID, r.PathValue("id"))
	if !ok {
		httpx.WriteError(w, http.StatusNotFound, "not_found", "segment not found", "")
		return
	}
	size, err := s.segmentSize(r.Context(), tenant.ID, c.def.ID)
	if err != nil {
		httpx.WriteError(w, http.StatusServiceUnavailable, "unavailable", "membership store unavailable", "")
		return
	}
	js, err := s.jobStatus(r.Context(), tenant.ID, c)
	if err != nil {
		httpx.WriteError(w, http.StatusServiceUnavailable, "unavailable", "membership store unavailable", "")
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"id": c.def.ID, "size": size, "revision": c.def.Revision, "backfill": js})
}

// previewSegment evaluates a rule over up to PreviewScan profiles of the
// identity store without saving anything.
func (s *Service) previewSegment(w http.ResponseWriter, r *http.Request) {
	tenant := httpx.TenantFrom(r.Context())
	var in struct {
		Rule json.RawMessage `json:"rule"`
	}
	if !httpx.DecodeJSON(w, r, s.cfg.MaxBodyBytes, &in) {
		return
	}
	rule, err := rules.Parse(in.Rule, "rule")
	if err != nil {
		var re *rules.Error
		if errors.As(err, &re) {
			httpx.WriteError(w, http.StatusBadRequest, "invalid_rule", re.Reason, re.Path)
			return
		}
		httpx.WriteError(w, http.StatusBadRequest, "invalid_rule", err.Error(), "rule")
		return
	}
	if s.deps.Profiles == nil {
		httpx.WriteError(w, http.StatusServiceUnavailable, "unavailable", "no profile source is configured", "")
		return
	}
	now := s.now()
	scanned, matched := 0, 0
	sample := []string{}
	cursor := ""
	complete := false
	for scanned < s.cfg.PreviewScan {
		profiles, next, err := s.deps.Profiles.ScanProfiles(r.Context(), tenant.ID, cursor, min(200, s.cfg.PreviewScan-scanned))
		if err != nil {
			httpx.WriteError(w, http.StatusServiceUnavailable, "unavailable", "profile store unavailable", "")
			return
		}
		for i := range profiles {
			p := &profiles[i]
			var ev schemas.ProfileEvents
			if len(rule.EventConds()) > 0 {
				if ev, err = s.deps.Profiles.ProfileEvents(r.Context(), tenant.ID, p.ID); err != nil {
					httpx.WriteError(w, http.StatusServiceUnavailable, "unavailable", "profile store unavailable", "")
					return
				}
			}
			conds := map[string][]int64{}
			for _, c := range rule.EventConds() {
				conds[c.Key()] = seedFrom(c, &ev, now, tenant.Location())
			}
			var memberErr error
			in, _ := rule.Eval(&rules.Env{
				Now: now, Loc: tenant.Location(), Traits: p.Traits,
				Events: func(c *rules.EventCond) []int64 { return conds[c.Key()] },
				Member: func(id string) bool {
					in, err := s.isMember(r, tenant.ID, id, p.ID)
					memberErr = cmp.Or(memberErr, err)
					return in
				},
			})
			if memberErr != nil {
				s.deps.Log.Error().Err(memberErr).Msg("preview: reading memberships")
				httpx.WriteError(w, http.StatusServiceUnavailable, "unavailable", "membership store unavailable", "")
				return
			}
			scanned++
			if in {
				matched++
				if len(sample) < 20 {
					sample = append(sample, p.ID)
				}
			}
		}
		cursor = next
		if cursor == "" {
			complete = true
			break
		}
	}
	// Complete scans are exact; otherwise the estimate is the match ratio
	// of the scanned profiles (the identity store does not give a total).
	var ratio float64
	if scanned > 0 {
		ratio = float64(matched) / float64(scanned)
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{
		"scanned": scanned, "matched": matched, "complete": complete,
		"matchRatio": ratio, "sample": sample,
	})
}

// isMember says whether pid is in segment seg. The member set scores are
// entry times, so membership is the presence of the member, whatever its
// score.
func (s *Service) isMember(r *http.Request, tenant, seg, pid string) (bool, error) {
	err := s.rdb.ZScore(r.Context(), keysFor(s.cfg.Namespace, tenant).members(seg), pid).Err()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("segmenter: membership of %s in %s: %w", pid, seg, err)
	}
	return true, nil
}
