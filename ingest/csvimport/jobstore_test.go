package csvimport

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/user360/user360/internal/testenv"
)

// The job store runs on the real server and on miniredis (user360 dev).
func TestJobStoreBackends(t *testing.T) {
	for _, b := range testenv.RedisBackends() {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			s := &jobStore{rdb: b.Client(t), ns: testenv.Namespace(t), ttl: time.Hour, maxErrors: 3, staleAfter: time.Minute}
			tenant := testenv.Tenant(t)
			now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			st := &Status{ID: "j1", Status: StatusRunning, Mode: ModeMerge, Tags: []string{"a"}, CreatedAt: now, UpdatedAt: now}
			if err := s.create(ctx, tenant, st); err != nil {
				t.Fatal(err)
			}
			if err := s.create(ctx, tenant, st); !errors.Is(err, ErrJobExists) {
				t.Fatalf("second create: %v", err)
			}
			st.Counts = Counts{Total: 5, New: 4, Failed: 1}
			if err := s.update(ctx, tenant, 1, st, []string{"2,x,,m,", "3,x,,m,"}); err != nil {
				t.Fatal(err)
			}
			// A retried update (same seq) must not append twice.
			if err := s.update(ctx, tenant, 1, st, []string{"2,x,,m,", "3,x,,m,"}); err != nil {
				t.Fatal(err)
			}
			if err := s.update(ctx, tenant, 2, st, []string{"4,x,,m,", "5,x,,m,"}); err != nil {
				t.Fatal(err)
			}
			got, err := s.get(ctx, tenant, "j1", now.Add(time.Second))
			if err != nil {
				t.Fatal(err)
			}
			if got.Counts != st.Counts || got.ErrorLines != 3 || got.ErrorsDropped != 1 || got.Status != StatusRunning || got.Tags[0] != "a" {
				t.Fatalf("got %+v", got)
			}
			var lines []string
			if err := s.errorLines(ctx, tenant, "j1", func(l []string) error { lines = append(lines, l...); return nil }); err != nil {
				t.Fatal(err)
			}
			if len(lines) != 3 || lines[0] != "2,x,,m," || lines[2] != "4,x,,m," {
				t.Fatalf("error lines %q", lines)
			}
			// A running job whose server went away is reported failed.
			if got, _ := s.get(ctx, tenant, "j1", now.Add(2*time.Minute)); got.Status != StatusFailed || got.Error == "" {
				t.Fatalf("stale job %+v", got)
			}
			if _, err := s.get(ctx, "other", "j1", now); !errors.Is(err, ErrNotFound) {
				t.Fatalf("other tenant: %v", err)
			}
			if ttl := s.rdb.TTL(ctx, s.errorsKey(tenant, "j1")).Val(); ttl <= 0 || ttl > time.Hour {
				t.Fatalf("errors key TTL %v", ttl)
			}
		})
	}
}
