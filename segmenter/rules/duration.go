package rules

import (
	"time"
)

// Duration is a calendar-aware amount of time: {"value":7,"unit":"days"}.
// Days, weeks and months follow the calendar of the tenant's time zone
// (a day across a DST change is 23 or 25 hours).
type Duration struct {
	Value int64  `json:"value"`
	Unit  string `json:"unit"`
}

var units = map[string]bool{"seconds": true, "minutes": true, "hours": true, "days": true, "weeks": true, "months": true}

// add returns t + n*d in loc.
func (d Duration) add(t time.Time, loc *time.Location, sign int64) time.Time {
	n := d.Value * sign
	switch d.Unit {
	case "seconds":
		return t.Add(time.Duration(n) * time.Second)
	case "minutes":
		return t.Add(time.Duration(n) * time.Minute)
	case "hours":
		return t.Add(time.Duration(n) * time.Hour)
	case "days":
		return t.In(loc).AddDate(0, 0, int(n))
	case "weeks":
		return t.In(loc).AddDate(0, 0, int(7*n))
	case "months":
		return t.In(loc).AddDate(0, int(n), 0)
	}
	return t
}

// After returns t + d.
func (d Duration) After(t time.Time, loc *time.Location) time.Time { return d.add(t, loc, 1) }

// Before returns t - d.
func (d Duration) Before(t time.Time, loc *time.Location) time.Time { return d.add(t, loc, -1) }

// approx is an upper bound of the duration, for retention horizons.
func (d Duration) approx() time.Duration {
	u := map[string]time.Duration{"seconds": time.Second, "minutes": time.Minute, "hours": time.Hour,
		"days": 25 * time.Hour, "weeks": 7 * 25 * time.Hour, "months": 32 * 25 * time.Hour}[d.Unit]
	return time.Duration(d.Value) * u
}

func startOfDay(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}

func startOfWeek(t time.Time, loc *time.Location) time.Time {
	s := startOfDay(t, loc)
	wd := (int(s.Weekday()) + 6) % 7 // Monday = 0
	return s.AddDate(0, 0, -wd)
}

func startOfMonth(t time.Time, loc *time.Location) time.Time {
	y, m, _ := t.In(loc).Date()
	return time.Date(y, m, 1, 0, 0, 0, 0, loc)
}

// minAfter keeps the earliest deadline strictly after now (zero = none).
func minAfter(cur, cand, now time.Time) time.Time {
	if !cand.After(now) {
		return cur
	}
	if cur.IsZero() || cand.Before(cur) {
		return cand
	}
	return cur
}
