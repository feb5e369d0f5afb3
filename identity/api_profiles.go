package identity

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/user360/user360/ingest"
	"github.com/user360/user360/internal/httpx"
	"github.com/user360/user360/schemas"
)

// Page sizes of list endpoints.
const (
	defaultPageSize = 50
	maxPageSize     = 1000
)

// tenantID is the authenticated tenant of a request.
func tenantID(r *http.Request) string {
	if t := httpx.TenantFrom(r.Context()); t != nil {
		return t.ID
	}
	return ""
}

// writeStoreError maps store errors to responses.
func (s *Service) writeStoreError(w http.ResponseWriter, err error, field string) {
	switch {
	case errors.Is(err, ErrBadRef):
		httpx.WriteError(w, http.StatusBadRequest, "invalid_ref", err.Error(), field)
	case errors.Is(err, ErrBadCursor):
		httpx.WriteError(w, http.StatusBadRequest, "invalid_cursor", "cursor is not one this API returned", "cursor")
	case errors.Is(err, ErrNotFound):
		httpx.WriteError(w, http.StatusNotFound, "not_found", "no such profile", "")
	case errors.Is(err, ingest.ErrUnavailable):
		httpx.WriteError(w, http.StatusServiceUnavailable, "unavailable", "the event log is unavailable; retry", "")
	default:
		s.deps.Log.Error().Err(err).Msg("identity API")
		httpx.WriteError(w, http.StatusServiceUnavailable, "unavailable", "the profile store is unavailable; retry", "")
	}
}

// pageParams reads ?limit= and ?cursor=; ok is false after a 400.
func pageParams(w http.ResponseWriter, r *http.Request) (int, string, bool) {
	limit := defaultPageSize
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPageSize {
			httpx.WriteError(w, http.StatusBadRequest, "invalid_limit", "limit must be an integer from 1 to 1000", "limit")
			return 0, "", false
		}
		limit = n
	}
	return limit, r.URL.Query().Get("cursor"), true
}

// resolveRef resolves the {ref} path value; it answers itself on failure.
func (s *Service) resolveRef(w http.ResponseWriter, r *http.Request) (string, bool) {
	pid, err := s.store.Resolve(r.Context(), tenantID(r), r.PathValue("ref"))
	if err != nil {
		s.writeStoreError(w, err, "ref")
		return "", false
	}
	return pid, true
}

// segments lists a profile's segments (empty without a SegmentLister).
func (s *Service) segments(r *http.Request, pid string) ([]string, error) {
	if s.deps.Segments == nil {
		return []string{}, nil
	}
	segs, err := s.deps.Segments.ProfileSegments(r.Context(), tenantID(r), pid)
	if segs == nil {
		segs = []string{}
	}
	return segs, err
}

// loadProfile reads the profile a ref names, with its segments. A segment
// lookup failure returns the profile without them and sets
// X-User360-Partial.
func (s *Service) loadProfile(w http.ResponseWriter, r *http.Request, ref, field string) (schemas.Profile, bool) {
	p, err := s.readProfile(r, ref)
	if err != nil {
		s.writeStoreError(w, err, field)
		return p, false
	}
	pid := p.ID
	segs, err := s.segments(r, pid)
	if err != nil {
		s.deps.Log.Warn().Err(err).Str("tenant", tenantID(r)).Msg("segments unavailable")
		w.Header().Set("X-User360-Partial", "segments")
	}
	p.Segments = segs
	return p, true
}

func (s *Service) getProfile(w http.ResponseWriter, r *http.Request) {
	if p, ok := s.loadProfile(w, r, r.PathValue("ref"), "ref"); ok {
		httpx.WriteJSON(w, http.StatusOK, p)
	}
}

// readProfile resolves and reads a profile. A profile merged away between
// the two reads is followed to its survivor (one retry).
func (s *Service) readProfile(r *http.Request, ref string) (schemas.Profile, error) {
	tenant := tenantID(r)
	var err error
	for range 2 {
		var pid string
		if pid, err = s.store.Resolve(r.Context(), tenant, ref); err != nil {
			return schemas.Profile{}, err
		}
		var p schemas.Profile
		if p, err = s.store.GetProfile(r.Context(), tenant, pid); err == nil {
			return p, nil
		}
		if !errors.Is(err, ErrNotFound) {
			return p, err
		}
		ref = pid // resolve the id through its alias
	}
	return schemas.Profile{}, err
}

// ProfileList is the body of GET /v1/profiles.
type ProfileList struct {
	Profiles   []schemas.Profile `json:"profiles"`
	NextCursor string            `json:"nextCursor,omitempty"`
}

func (s *Service) listProfiles(w http.ResponseWriter, r *http.Request) {
	limit, cursor, ok := pageParams(w, r)
	if !ok {
		return
	}
	ps, next, err := s.store.ScanProfiles(r.Context(), tenantID(r), cursor, limit)
	if err != nil {
		s.writeStoreError(w, err, "")
		return
	}
	if ps == nil {
		ps = []schemas.Profile{}
	}
	httpx.WriteJSON(w, http.StatusOK, ProfileList{Profiles: ps, NextCursor: next})
}

// EventPage is the body of GET /v1/profiles/{ref}/events.
type EventPage struct {
	ProfileID   string                      `json:"profileId"`
	Events      []schemas.EventSummary      `json:"events"`
	NextCursor  string                      `json:"nextCursor,omitempty"`
	DailyCounts map[string]map[string]int64 `json:"dailyCounts"`
}

// eventCursor encodes a position in the timeline: the exact time
// (RFC 3339 with nanoseconds, after "t") and the messageId.
func eventCursor(e schemas.EventSummary) string {
	return base64.RawURLEncoding.EncodeToString([]byte("t" + e.Timestamp.UTC().Format(time.RFC3339Nano) + "|" + e.MessageID))
}

// eventStart returns the index in evs (sorted by eventBefore) at which the
// page after cursor starts; ErrBadCursor when it is not one eventCursor
// wrote. A cursor of the version that kept only the millisecond
// ("<ms>|<messageId>") resumes after that message when it is still in the
// timeline, else after the millisecond's position as before.
func eventStart(evs []schemas.EventSummary, cursor string) (int, error) {
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrBadCursor, err)
	}
	at, mid, found := strings.Cut(string(raw), "|")
	if !found {
		return 0, ErrBadCursor
	}
	if exact, ok := strings.CutPrefix(at, "t"); ok {
		ts, err := time.Parse(time.RFC3339Nano, exact)
		if err != nil {
			return 0, fmt.Errorf("%w: %w", ErrBadCursor, err)
		}
		return after(evs, schemas.EventSummary{Timestamp: ts, MessageID: mid}), nil
	}
	ms, err := strconv.ParseInt(at, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrBadCursor, err)
	}
	for i, e := range evs {
		if e.MessageID == mid && e.Timestamp.UnixMilli() == ms {
			return i + 1, nil
		}
	}
	return after(evs, schemas.EventSummary{Timestamp: time.UnixMilli(ms), MessageID: mid}), nil
}

// after is the index of the first entry of evs that comes after pos.
func after(evs []schemas.EventSummary, pos schemas.EventSummary) int {
	return sort.Search(len(evs), func(i int) bool { return eventBefore(pos, evs[i]) })
}

// eventBefore orders timeline entries newest first (ties by messageId).
func eventBefore(a, b schemas.EventSummary) bool {
	if !a.Timestamp.Equal(b.Timestamp) {
		return a.Timestamp.After(b.Timestamp)
	}
	return a.MessageID > b.MessageID
}

func (s *Service) profileEvents(w http.ResponseWriter, r *http.Request) {
	limit, cursor, ok := pageParams(w, r)
	if !ok {
		return
	}
	pid, ok := s.resolveRef(w, r)
	if !ok {
		return
	}
	pe, err := s.store.ProfileEvents(r.Context(), tenantID(r), pid)
	if err != nil {
		s.writeStoreError(w, err, "")
		return
	}
	evs := pe.Recent
	sort.SliceStable(evs, func(i, j int) bool { return eventBefore(evs[i], evs[j]) })
	start := 0
	if cursor != "" {
		if start, err = eventStart(evs, cursor); err != nil {
			s.writeStoreError(w, err, "cursor")
			return
		}
	}
	end := min(start+limit, len(evs))
	page := EventPage{ProfileID: pid, Events: append([]schemas.EventSummary{}, evs[start:end]...), DailyCounts: pe.DailyCounts}
	if end < len(evs) {
		page.NextCursor = eventCursor(evs[end-1])
	}
	httpx.WriteJSON(w, http.StatusOK, page)
}

func (s *Service) profileIdentities(w http.ResponseWriter, r *http.Request) {
	p, err := s.readProfile(r, r.PathValue("ref"))
	if err != nil {
		s.writeStoreError(w, err, "ref")
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"profileId": p.ID, "identities": p.Identities})
}

func (s *Service) profileMerges(w http.ResponseWriter, r *http.Request) {
	pid, ok := s.resolveRef(w, r)
	if !ok {
		return
	}
	ms, err := s.store.Merges(r.Context(), tenantID(r), pid)
	if err != nil {
		s.writeStoreError(w, err, "")
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"profileId": pid, "merges": ms})
}

func (s *Service) profileSegments(w http.ResponseWriter, r *http.Request) {
	pid, ok := s.resolveRef(w, r)
	if !ok {
		return
	}
	segs, err := s.segments(r, pid)
	if err != nil {
		s.deps.Log.Warn().Err(err).Msg("segments unavailable")
		httpx.WriteError(w, http.StatusServiceUnavailable, "unavailable", "segments are unavailable; retry", "")
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"profileId": pid, "segments": segs})
}

func (s *Service) deleteProfile(w http.ResponseWriter, r *http.Request) {
	pid, ok := s.resolveRef(w, r)
	if !ok {
		return
	}
	ref, _ := ParseRef(r.PathValue("ref"))
	e := schemas.Event{Type: schemas.TypeDelete, Context: map[string]any{ctxProfileID: pid}}
	switch {
	case ref.ProfileID:
	case ref.Type == TypeUserID:
		e.UserID = ref.Value
	case ref.Type == TypeAnonymousID:
		e.AnonymousID = ref.Value
	default:
		e.Context["externalIds"] = []any{map[string]any{"id": ref.Value, "type": ref.Type}}
	}
	s.publish(w, r, []schemas.Event{e}, nil)
}
