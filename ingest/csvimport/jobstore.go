package csvimport

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Job statuses.
const (
	StatusRunning   = "running"
	StatusCompleted = "completed"
	StatusFailed    = "failed"
)

// Counts are a job's row counts; Total = New + Updated + Failed + Empty.
type Counts struct {
	Total   int64 `json:"total"`
	New     int64 `json:"new"`
	Updated int64 `json:"updated"`
	Failed  int64 `json:"failed"`
	Empty   int64 `json:"empty"`
}

// Status is the state of an import as GET /v1/imports/{id} shows it.
type Status struct {
	ID       string  `json:"id"`
	Status   string  `json:"status"`
	Counts   Counts  `json:"counts"`
	Progress float64 `json:"progress"` // 0..1 of the upload read (1 when done)
	// BytesRead of the file so far and its Size (0 when the client did not
	// say).
	BytesRead     int64     `json:"bytesRead"`
	Size          int64     `json:"size,omitempty"`
	Mode          string    `json:"mode"`
	Tags          []string  `json:"tags"`
	FileName      string    `json:"fileName,omitempty"`
	Columns       []Column  `json:"columns,omitempty"`
	ErrorLines    int64     `json:"errorLines"`              // lines in the error report
	ErrorsDropped int64     `json:"errorsDropped,omitempty"` // errors beyond MaxErrorLines
	LastLine      int64     `json:"lastLine"`                // last line acknowledged by the log
	Error         string    `json:"error,omitempty"`         // why a failed job failed
	CreatedAt     time.Time `json:"createdAt"`
	UpdatedAt     time.Time `json:"updatedAt"`
	FinishedAt    time.Time `json:"finishedAt,omitzero"`
}

// jobStore keeps job state in Redis: a hash per job and a list for its
// error report, both under the tenant's hash tag.
type jobStore struct {
	rdb        redis.UniversalClient
	ns         string
	ttl        time.Duration
	maxErrors  int
	staleAfter time.Duration
}

func (s *jobStore) key(tenant, id string) string { return s.ns + ":{" + tenant + "}:import:" + id }
func (s *jobStore) errorsKey(tenant, id string) string {
	return s.ns + ":{" + tenant + "}:import:" + id + ":errors"
}

// createScript: KEYS[1] job hash; ARGV[1] ttl seconds, then field/value
// pairs. Returns 0 when the job exists.
var createScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i+1]) end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))
return 1
`)

// updateScript: KEYS[1] job hash, KEYS[2] error list; ARGV[1] ttl seconds,
// ARGV[2] max error lines, ARGV[3] batch sequence number, ARGV[4] number of
// field/value pairs, then the pairs, then the error lines. A sequence number
// not above the stored one is a retry of an applied update: ignored, so the
// error lines are not appended twice.
var updateScript = redis.NewScript(`
local seq = tonumber(ARGV[3])
local cur = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
if seq <= cur then return 0 end
local n = tonumber(ARGV[4])
local i = 5
for j = 1, n do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i+1])
  i = i + 2
end
local max = tonumber(ARGV[2])
local len = redis.call('LLEN', KEYS[2])
local dropped = 0
while i <= #ARGV do
  if len < max then
    redis.call('RPUSH', KEYS[2], ARGV[i])
    len = len + 1
  else
    dropped = dropped + 1
  end
  i = i + 1
end
redis.call('HSET', KEYS[1], 'seq', seq, 'errorLines', len)
if dropped > 0 then redis.call('HINCRBY', KEYS[1], 'errorsDropped', dropped) end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))
if len > 0 then redis.call('EXPIRE', KEYS[2], tonumber(ARGV[1])) end
return 1
`)

func (s *jobStore) ttlSeconds() string { return strconv.FormatInt(int64(s.ttl/time.Second), 10) }

func statusFields(st *Status) []any {
	tags, _ := json.Marshal(st.Tags)
	cols, _ := json.Marshal(st.Columns)
	f := []any{
		"id", st.ID, "status", st.Status,
		"total", st.Counts.Total, "new", st.Counts.New, "updated", st.Counts.Updated,
		"failed", st.Counts.Failed, "empty", st.Counts.Empty,
		"bytesRead", st.BytesRead, "size", st.Size, "mode", st.Mode, "tags", string(tags),
		"fileName", st.FileName, "columns", string(cols), "lastLine", st.LastLine,
		"error", st.Error,
		"createdAt", st.CreatedAt.UTC().Format(time.RFC3339Nano),
		"updatedAt", st.UpdatedAt.UTC().Format(time.RFC3339Nano),
	}
	if !st.FinishedAt.IsZero() {
		f = append(f, "finishedAt", st.FinishedAt.UTC().Format(time.RFC3339Nano))
	}
	return f
}

func (s *jobStore) create(ctx context.Context, tenant string, st *Status) error {
	args := append([]any{s.ttlSeconds()}, statusFields(st)...)
	n, err := createScript.Run(ctx, s.rdb, []string{s.key(tenant, st.ID)}, args...).Int()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrState, err)
	}
	if n == 0 {
		return fieldErr("jobId", ErrJobExists, "an import with id %q exists", st.ID)
	}
	return nil
}

// update writes the state and appends error lines, once per seq.
func (s *jobStore) update(ctx context.Context, tenant string, seq int64, st *Status, errLines []string) error {
	fields := statusFields(st)
	args := make([]any, 0, 4+len(fields)+len(errLines))
	args = append(args, s.ttlSeconds(), s.maxErrors, seq, len(fields)/2)
	args = append(args, fields...)
	for _, l := range errLines {
		args = append(args, l)
	}
	keys := []string{s.key(tenant, st.ID), s.errorsKey(tenant, st.ID)}
	if err := updateScript.Run(ctx, s.rdb, keys, args...).Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrState, err)
	}
	return nil
}

// touch refreshes updatedAt (heartbeat of a job whose upload is slow).
func (s *jobStore) touch(ctx context.Context, tenant, id string, now time.Time) error {
	return s.rdb.HSet(ctx, s.key(tenant, id), "updatedAt", now.UTC().Format(time.RFC3339Nano)).Err()
}

func (s *jobStore) get(ctx context.Context, tenant, id string, now time.Time) (*Status, error) {
	m, err := s.rdb.HGetAll(ctx, s.key(tenant, id)).Result()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrState, err)
	}
	if len(m) == 0 {
		return nil, ErrNotFound
	}
	i := func(k string) int64 { n, _ := strconv.ParseInt(m[k], 10, 64); return n }
	t := func(k string) time.Time { v, _ := time.Parse(time.RFC3339Nano, m[k]); return v }
	st := &Status{
		ID: m["id"], Status: m["status"],
		Counts:    Counts{Total: i("total"), New: i("new"), Updated: i("updated"), Failed: i("failed"), Empty: i("empty")},
		BytesRead: i("bytesRead"), Size: i("size"), Mode: m["mode"], FileName: m["fileName"],
		ErrorLines: i("errorLines"), ErrorsDropped: i("errorsDropped"), LastLine: i("lastLine"),
		Error: m["error"], CreatedAt: t("createdAt"), UpdatedAt: t("updatedAt"), FinishedAt: t("finishedAt"),
	}
	_ = json.Unmarshal([]byte(m["tags"]), &st.Tags)
	_ = json.Unmarshal([]byte(m["columns"]), &st.Columns)
	st.Progress = progress(st)
	if st.Status == StatusRunning && now.Sub(st.UpdatedAt) > s.staleAfter {
		st.Status = StatusFailed
		st.Error = "the import stopped: the server running it went away; import the same file again (rows already imported are not duplicated)"
	}
	return st, nil
}

func progress(st *Status) float64 {
	switch {
	case st.Status == StatusCompleted:
		return 1
	case st.Size > 0:
		return min(1, float64(st.BytesRead)/float64(st.Size))
	}
	return 0
}

// errorLines streams the error report in chunks.
func (s *jobStore) errorLines(ctx context.Context, tenant, id string, fn func(lines []string) error) error {
	const chunk = 1000
	for start := int64(0); ; start += chunk {
		lines, err := s.rdb.LRange(ctx, s.errorsKey(tenant, id), start, start+chunk-1).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return fmt.Errorf("%w: %w", ErrState, err)
		}
		if len(lines) > 0 {
			if err := fn(lines); err != nil {
				return err
			}
		}
		if len(lines) < chunk {
			return nil
		}
	}
}
