package activation

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/schemas"
)

// handle is the segment-changes consumer's batch handler: it parks one job
// per (record, matching destination) in Redis, in one pipeline, and dead
// letters records it cannot read. Records of tenants without a destination
// are skipped unread. It returns nil (and the offsets are
// committed) only once every job is stored, so the committed offset never
// passes a change that is neither delivered nor parked.
func (s *Service) handle(ctx context.Context, records []*kgo.Record) error {
	now := s.now()
	var calls []scriptCall
	var dead []*kgo.Record
	woken := map[*dispatcher]bool{}
	parked := map[string]int{}
	for _, r := range records {
		tenant, _, ok := schemas.SplitKey(r.Key)
		for _, h := range r.Headers {
			if h.Key == schemas.HeaderTenant && len(h.Value) > 0 {
				tenant, ok = string(h.Value), true
			}
		}
		ds := s.dispatchers(tenant)
		if ok && len(ds) == 0 {
			continue // no destination: nothing to deliver or to check
		}
		var c schemas.SegmentChange
		var reason string
		switch err := json.Unmarshal(r.Value, &c); {
		case !ok:
			reason = "record key has no tenant"
		case err != nil:
			reason = "segment change is not valid JSON: " + err.Error()
		case c.Type != schemas.SegmentEntered && c.Type != schemas.SegmentExited:
			reason = fmt.Sprintf("segment change has unknown type %q", c.Type)
		case c.MessageID == "" || c.ProfileID == "" || c.SegmentID == "":
			reason = "segment change lacks messageId, profileId or segmentId"
		case c.Tenant != "" && c.Tenant != tenant:
			reason = fmt.Sprintf("segment change of tenant %q on a record of tenant %q", c.Tenant, tenant)
		}
		if reason != "" {
			s.metrics.malformed.Inc()
			if tenant == "" {
				tenant = "unknown"
			}
			dead = append(dead, s.deadLetter(tenant, c.MessageID, reason, r.Value, now))
			continue
		}
		for _, d := range ds {
			dest := d.dest.Load()
			if !dest.matches(c.Type, c.SegmentID) {
				continue
			}
			j := &job{ID: c.MessageID + ":" + d.id, MessageID: c.MessageID, Profile: c.ProfileID, SegmentID: c.SegmentID,
				Type: c.Type, Change: json.RawMessage(r.Value), EnqueuedAt: now.UnixMilli(), EventAt: r.Timestamp.UnixMilli()}
			call, err := enqueueCall(d.keys, j, now)
			if err != nil {
				return err
			}
			calls = append(calls, call)
			woken[d] = true
			parked[tenant]++
		}
	}
	if _, err := runScripts(ctx, s.deps.Redis, calls); err != nil {
		return fmt.Errorf("activation: park jobs: %w", err)
	}
	if len(dead) > 0 {
		if err := s.produce(ctx, dead...); err != nil {
			return err
		}
	}
	for t, n := range parked {
		s.metrics.parked.WithLabelValues(t).Add(float64(n))
	}
	for d := range woken {
		d.poke()
	}
	return nil
}
