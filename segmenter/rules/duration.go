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

// MaxDuration is the largest value of a duration per unit: about 100 years
// (seconds and minutes keep their older, smaller limit).
var MaxDuration = map[string]int64{
	"seconds": 1_000_000, "minutes": 1_000_000, "hours": 876_000,
	"days": 36_500, "weeks": 5_200, "months": 1_200,
}

// legacyMaxDuration is the limit, in any unit, of rules stored before
// MaxDuration (see ParseStored).
const legacyMaxDuration = 1_000_000

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

// approxHours is an upper bound of the duration in hours, to order the
// bounds of between_ago. It is a float so that no value can overflow.
func (d Duration) approxHours() float64 {
	u := map[string]float64{"seconds": 1.0 / 3600, "minutes": 1.0 / 60, "hours": 1,
		"days": 25, "weeks": 7 * 25, "months": 32 * 25}[d.Unit]
	return float64(d.Value) * u
}

func startOfDay(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}

// truncLocal returns the start of the unit (an hour, minute or second)
// containing t on the wall clock of loc, which differs from t.Truncate in
// zones whose offset is not a whole number of units (Asia/Kolkata, +05:30).
func truncLocal(t time.Time, unit time.Duration, loc *time.Location) time.Time {
	_, off := t.In(loc).Zone()
	shift := time.Duration(off) * time.Second
	return t.Add(shift).Truncate(unit).Add(-shift)
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
