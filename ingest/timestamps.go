package ingest

import (
	"errors"
	"math"
	"strings"
	"time"

	"github.com/user360/user360/schemas"
)

var (
	errBadTime        = errors.New("not an ISO-8601 timestamp")
	errYearOutOfRange = errors.New("out of range: the year in UTC must be 0000 to 9999")
)

// parseTime accepts RFC 3339 with 0 to 9 fractional digits, a "Z" or an
// offset, and the common variants SDKs send (space instead of "T", offset
// without a colon). The time is returned in UTC.
func parseTime(s string) (time.Time, error) {
	t, err := parseLayouts(strings.TrimSpace(s))
	if err != nil {
		return t, err
	}
	if !schemas.ValidEventTime(t) {
		return time.Time{}, errYearOutOfRange
	}
	return t.UTC(), nil
}

func parseLayouts(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if len(s) > 10 && s[10] == ' ' {
		s = s[:10] + "T" + s[11:]
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t, nil
		}
	}
	for _, layout := range []string{"2006-01-02T15:04:05.999999999Z0700", "2006-01-02T15:04:05.999999999", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
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
	age := sentAt.Sub(ts)
	if age == math.MaxInt64 || age == math.MinInt64 {
		// more than about 292 years apart: Sub saturates, and the
		// "corrected" time would be wrong by centuries
		return ts
	}
	return receivedAt.Add(-age)
}
