package segmenter

import (
	"context"
	"encoding/json"
)

// FireDueForTest fires a tenant's due timers once.
func FireDueForTest(s *Service, ctx context.Context, tenant string) error {
	for {
		n, err := s.fireDue(ctx, tenant)
		if err != nil || n == 0 {
			return err
		}
	}
}

// SweepForTest runs the outbox sweeper once.
func SweepForTest(s *Service, ctx context.Context, tenant string) error { return s.sweep(ctx, tenant) }

// LoadSegmentForTest applies a definition as the subscription would,
// without the definitions topic (benchmarks with thousands of segments).
func LoadSegmentForTest(s *Service, tenant string, raw []byte) {
	var seg Segment
	_ = json.Unmarshal(raw, &seg)
	s.onDefinition(tenant, seg.ID, raw)
}

// RunJobsForTest runs every queued backfill and deletion job to the end.
func RunJobsForTest(s *Service, ctx context.Context) error {
	for k, seg := range s.jobs.list() {
		done, err := s.runJob(ctx, k, seg)
		if err != nil {
			return err
		}
		if done {
			s.jobs.done(k, seg)
		}
	}
	return nil
}
