package activation

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/user360/user360/internal/httpx"
	"github.com/user360/user360/schemas"
)

// Export formats.
const (
	ExportCSV    = "csv"
	ExportNDJSON = "ndjson"
)

const maxExportTraits = 100

// ExportRow is one NDJSON line of an export.
type ExportRow struct {
	ProfileID string         `json:"profileId"`
	UserID    string         `json:"userId,omitempty"`
	Traits    map[string]any `json:"traits"`
}

// Export streams a segment's members to w, one page of members and their
// profiles at a time (constant memory). traits selects the traits to
// include; in NDJSON an empty list means all traits. An unknown segment
// returns an error wrapping ErrSegmentNotFound before anything is written.
func (s *Service) Export(ctx context.Context, w io.Writer, tenant, segmentID, format string, traits []string, flush func()) (int, error) {
	if s.deps.Members == nil || s.deps.Profiles == nil {
		return 0, errors.New("activation: exports are not configured (no member source or profile reader)")
	}
	page := s.cfg.ExportPageSize
	ids, cursor, err := s.deps.Members.ScanMembers(ctx, tenant, segmentID, "", page)
	if err != nil {
		if s.isNotFound(err) {
			return 0, fmt.Errorf("%w: %s", ErrSegmentNotFound, segmentID)
		}
		return 0, fmt.Errorf("activation: export: %w", err)
	}
	var cw *csv.Writer
	enc := json.NewEncoder(w)
	record := make([]string, 2+len(traits))
	if format == ExportCSV {
		cw = csv.NewWriter(w)
		if err := cw.Write(append([]string{"profile_id", "user_id"}, traits...)); err != nil {
			return 0, err
		}
	}
	rows := 0
	for {
		if len(ids) > 0 {
			profiles, err := s.deps.Profiles.GetProfiles(ctx, tenant, ids)
			if err != nil {
				return rows, fmt.Errorf("activation: export: read profiles: %w", err)
			}
			for i := range profiles {
				p := &profiles[i]
				if cw != nil {
					record[0], record[1] = p.ID, p.UserID
					for k, t := range traits {
						record[2+k] = cell(p.Traits[t])
					}
					if err := cw.Write(record); err != nil {
						return rows, err
					}
				} else if err := enc.Encode(exportRow(p, traits)); err != nil {
					return rows, err
				}
				rows++
			}
			if err := flushCSV(cw); err != nil {
				return rows, err
			}
			if flush != nil {
				flush()
			}
		}
		if cursor == "" {
			// the header row even when there are no members
			return rows, flushCSV(cw)
		}
		if err := ctx.Err(); err != nil {
			return rows, err
		}
		ids, cursor, err = s.deps.Members.ScanMembers(ctx, tenant, segmentID, cursor, page)
		if err != nil {
			return rows, fmt.Errorf("activation: export: %w", err)
		}
	}
}

// flushCSV writes out what cw buffered (nil: NDJSON, nothing to do).
func flushCSV(cw *csv.Writer) error {
	if cw == nil {
		return nil
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("activation: export: %w", err)
	}
	return nil
}

func (s *Service) isNotFound(err error) bool {
	return errors.Is(err, ErrSegmentNotFound) || (s.deps.SegmentNotFound != nil && errors.Is(err, s.deps.SegmentNotFound))
}

func exportRow(p *schemas.Profile, traits []string) ExportRow {
	row := ExportRow{ProfileID: p.ID, UserID: p.UserID, Traits: p.Traits}
	if len(traits) > 0 {
		row.Traits = make(map[string]any, len(traits))
		for _, t := range traits {
			if v, ok := p.Traits[t]; ok {
				row.Traits[t] = v
			}
		}
	}
	if row.Traits == nil {
		row.Traits = map[string]any{}
	}
	return row
}

// cell renders a trait value for CSV: strings as they are, other values
// as JSON, missing as empty.
func cell(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return ""
		}
		return string(b)
	}
}

func (s *Service) export(w http.ResponseWriter, r *http.Request) {
	t := httpx.TenantFrom(r.Context())
	seg := r.PathValue("id")
	q := r.URL.Query()
	format := q.Get("format")
	if format == "" {
		format = ExportCSV
	}
	if format != ExportCSV && format != ExportNDJSON {
		httpx.WriteError(w, http.StatusBadRequest, "invalid_query", `format must be "csv" or "ndjson"`, "format")
		return
	}
	traits := splitList(q.Get("traits"))
	if len(traits) > maxExportTraits {
		httpx.WriteError(w, http.StatusBadRequest, "invalid_query", fmt.Sprintf("at most %d traits", maxExportTraits), "traits")
		return
	}
	if s.deps.Members == nil || s.deps.Profiles == nil {
		httpx.WriteError(w, http.StatusNotImplemented, "not_configured", "exports are not available in this deployment", "")
		return
	}
	// Headers are written with the first byte; a not-found segment is
	// detected before that.
	lw := &lazyHeaders{w: w, format: format, seg: seg}
	rc := http.NewResponseController(w)
	rows, err := s.Export(r.Context(), lw, t.ID, seg, format, traits, func() { _ = rc.Flush() })
	switch {
	case err == nil:
		if !lw.wrote {
			lw.writeHeaders()
		}
	case errors.Is(err, ErrSegmentNotFound) && !lw.wrote:
		httpx.WriteError(w, http.StatusNotFound, "not_found", "no segment with this id", "id")
	case !lw.wrote:
		s.log.Warn().Err(err).Str("segment", seg).Msg("export failed")
		httpx.WriteError(w, http.StatusServiceUnavailable, "unavailable", "the export failed; retry", "")
	default:
		// Mid-stream: abort the response so the client sees a broken
		// transfer instead of a silently truncated list.
		s.log.Warn().Err(err).Str("segment", seg).Int("rows", rows).Msg("export aborted")
		panic(http.ErrAbortHandler)
	}
}

// lazyHeaders sets the export's content headers before the first write.
type lazyHeaders struct {
	w      http.ResponseWriter
	format string
	seg    string
	wrote  bool
}

func (l *lazyHeaders) writeHeaders() {
	l.wrote = true
	h := l.w.Header()
	if l.format == ExportCSV {
		h.Set("Content-Type", "text/csv; charset=utf-8")
	} else {
		h.Set("Content-Type", "application/x-ndjson")
	}
	h.Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", "segment-"+l.seg+"."+l.format))
	l.w.WriteHeader(http.StatusOK)
}

func (l *lazyHeaders) Write(b []byte) (int, error) {
	if !l.wrote {
		l.writeHeaders()
	}
	return l.w.Write(b)
}
