package ingest

import (
	"errors"
	"strings"
	"time"
)

var errBadTime = errors.New("not an ISO-8601 timestamp")

// parseTime accepts RFC 3339 with 0 to 9 fractional digits, a "Z" or an
// offset, and the common variants SDKs send (space instead of "T", offset
// without a colon).
func parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if len(s) > 10 && s[10] == ' ' {
		s = s[:10] + "T" + s[11:]
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t.UTC(), nil
		}
	}
	for _, layout := range []string{"2006-01-02T15:04:05.999999999Z0700", "2006-01-02T15:04:05.999999999", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, errBadTime
}

// correctSkew applies Segment's clock-skew correction
// timestamp = receivedAt − (sentAt − timestamp) when sentAt is close to the
// time of receipt (ahead of it, or behind by at most tolerance). A sentAt far
// in the past is a retry of stale bytes, not skew: the timestamp is kept.
func correctSkew(ts, sentAt, receivedAt time.Time, tolerance time.Duration) time.Time {
	if sentAt.IsZero() {
		return ts
	}
	behind := receivedAt.Sub(sentAt)
	if behind > tolerance {
		return ts
	}
	return receivedAt.Add(-sentAt.Sub(ts))
}
