package csvimport

import (
	"bufio"
	"context"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"strconv"
	"time"

	"github.com/user360/user360/internal/httpx"
)

// Routes registers the import API (API key, tenant-scoped).
func (s *Service) Routes(mux *http.ServeMux) {
	auth := func(h http.HandlerFunc) http.Handler { return httpx.RequireAPIKey(s.deps.Tenants, h) }
	mux.Handle("POST /v1/imports", auth(s.postImport))
	mux.Handle("GET /v1/imports/{id}", auth(s.getImport))
	mux.Handle("GET /v1/imports/{id}/errors", auth(s.getErrors))
}

// ErrorBody is the body of an error response of POST /v1/imports: the
// httpx.Error fields plus the job when one was started.
type ErrorBody struct {
	Error string  `json:"error"`
	Code  string  `json:"code,omitempty"`
	Field string  `json:"field,omitempty"`
	ID    string  `json:"id,omitempty"`
	Job   *Status `json:"job,omitempty"`
}

const (
	maxFieldBytes = 64 << 10
	maxFields     = 1000
)

// deadlineReader extends the server's read deadline while the upload flows,
// so that a long upload is not cut by the server's ReadTimeout, while an
// idle one still is.
type deadlineReader struct {
	r       io.Reader
	rc      *http.ResponseController
	timeout time.Duration
	next    time.Time
}

func (d *deadlineReader) Read(p []byte) (int, error) {
	if now := time.Now(); now.After(d.next) {
		_ = d.rc.SetReadDeadline(now.Add(d.timeout))
		d.next = now.Add(d.timeout / 10)
	}
	return d.r.Read(p)
}

func (s *Service) postImport(w http.ResponseWriter, r *http.Request) {
	t := httpx.TenantFrom(r.Context())
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxUploadBytes)
	mr, err := r.MultipartReader()
	if err != nil {
		writeImportErr(w, http.StatusBadRequest, "invalidUpload", "the body must be multipart/form-data: "+err.Error(), "", nil)
		return
	}
	var (
		opts     Options
		mapItems []string
		file     *multipart.Part
	)
	for n := 0; file == nil; n++ {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			writeImportErr(w, http.StatusBadRequest, "invalidUpload", "the upload has no file part", "file", nil)
			return
		}
		if err != nil {
			writeUploadErr(w, err)
			return
		}
		if part.FormName() == "file" {
			file = part
			if opts.FileName == "" {
				opts.FileName = part.FileName()
			}
			break
		}
		if n >= maxFields {
			writeImportErr(w, http.StatusBadRequest, "invalidUpload", "too many form fields before the file", "", nil)
			return
		}
		b, err := io.ReadAll(io.LimitReader(part, maxFieldBytes+1))
		if err != nil {
			writeUploadErr(w, err)
			return
		}
		if len(b) > maxFieldBytes {
			writeImportErr(w, http.StatusBadRequest, "invalidUpload", "a form field is larger than 64 KiB", part.FormName(), nil)
			return
		}
		v := string(b)
		switch part.FormName() {
		case "jobId":
			opts.JobID = v
		case "idColumn":
			opts.IDColumn = v
		case "mode":
			opts.Mode = v
		case "tags":
			opts.Tags = append(opts.Tags, v)
		case "map":
			mapItems = append(mapItems, v)
		case "fileName":
			opts.FileName = v
		case "size":
			if opts.Size, err = strconv.ParseInt(v, 10, 64); err != nil {
				writeImportErr(w, http.StatusBadRequest, "invalidOptions", "size must be a number of bytes", "size", nil)
				return
			}
		}
	}
	if opts.Map, err = ParseMapping(mapItems); err != nil {
		writeErr(w, err, nil)
		return
	}
	rc := http.NewResponseController(w)
	body := bufio.NewReaderSize(&deadlineReader{r: file, rc: rc, timeout: s.cfg.ReadTimeout}, 64<<10)
	st, err := s.Import(r.Context(), t, opts, body)
	if err != nil {
		writeErr(w, err, st)
		return
	}
	// Parts after the file are ignored (text fields must come first); read
	// them so that the client gets its answer on a clean connection.
	_, _ = io.Copy(io.Discard, body)
	for {
		part, err := mr.NextPart()
		if err != nil {
			break
		}
		_, _ = io.Copy(io.Discard, part)
	}
	_ = rc.SetReadDeadline(time.Time{})
	httpx.WriteJSON(w, http.StatusAccepted, st)
}

func writeImportErr(w http.ResponseWriter, status int, code, msg, field string, st *Status) {
	b := ErrorBody{Error: msg, Code: code, Field: field, Job: st}
	if st != nil {
		b.ID = st.ID
	}
	httpx.WriteJSON(w, status, b)
}

func writeUploadErr(w http.ResponseWriter, err error) {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		writeImportErr(w, http.StatusRequestEntityTooLarge, "tooLarge", "the upload is larger than the limit", "file", nil)
		return
	}
	writeImportErr(w, http.StatusBadRequest, "invalidUpload", "the upload could not be read: "+err.Error(), "", nil)
}

// writeErr maps the sentinel errors to statuses and codes.
func writeErr(w http.ResponseWriter, err error, st *Status) {
	field := ""
	var fe *FieldError
	if errors.As(err, &fe) {
		field = fe.Field
	}
	var mbe *http.MaxBytesError
	switch {
	case errors.Is(err, ErrInvalidOptions):
		writeImportErr(w, http.StatusBadRequest, "invalidOptions", err.Error(), field, st)
	case errors.Is(err, ErrJobExists):
		writeImportErr(w, http.StatusConflict, "jobExists", err.Error(), field, st)
	case errors.Is(err, ErrInvalidHeader):
		writeImportErr(w, http.StatusUnprocessableEntity, "invalidHeader", err.Error(), field, st)
	case errors.Is(err, ErrInvalidFile):
		writeImportErr(w, http.StatusUnprocessableEntity, "invalidFile", err.Error(), "file", st)
	case errors.As(err, &mbe):
		writeImportErr(w, http.StatusRequestEntityTooLarge, "tooLarge", "the upload is larger than the limit", "file", st)
	case errors.Is(err, ErrUpload), errors.Is(err, context.Canceled):
		writeImportErr(w, http.StatusBadRequest, "invalidUpload", err.Error(), "", st)
	case errors.Is(err, ErrNotFound):
		writeImportErr(w, http.StatusNotFound, "notFound", "no such import", "", nil)
	default: // ErrUnavailable, ErrState
		writeImportErr(w, http.StatusServiceUnavailable, "unavailable", err.Error(), "", st)
	}
}

func (s *Service) getImport(w http.ResponseWriter, r *http.Request) {
	st, err := s.Status(r.Context(), httpx.TenantFrom(r.Context()), r.PathValue("id"))
	if err != nil {
		writeErr(w, err, nil)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, st)
}

// ReportHeader is the first line of the error report.
const ReportHeader = "line,code,column,message,row"

func (s *Service) getErrors(w http.ResponseWriter, r *http.Request) {
	t := httpx.TenantFrom(r.Context())
	id := r.PathValue("id")
	if _, err := s.Status(r.Context(), t, id); err != nil {
		writeErr(w, err, nil)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="import-`+id+`-errors.csv"`)
	bw := bufio.NewWriterSize(w, 64<<10)
	_, _ = bw.WriteString(ReportHeader + "\n")
	err := s.jobs.errorLines(r.Context(), t.ID, id, func(lines []string) error {
		for _, l := range lines {
			_, _ = bw.WriteString(l)
			_ = bw.WriteByte('\n')
		}
		return nil
	})
	if err != nil {
		s.deps.Log.Warn().Err(err).Str("tenant", t.ID).Str("import", id).Msg("import: error report cut short")
	}
	_ = bw.Flush()
}
