package rules

import (
	"hash/fnv"
	"sort"
	"strings"
	"time"
)

// MaxKeep is the most timestamps kept per profile and event condition.
const MaxKeep = 1000

// Stamp encodes an event for the timestamp lists of event conditions: the
// Unix millisecond shifted left by 10 bits, plus 10 bits of a hash of the
// event's messageId. Two events of one millisecond stay distinct, while the
// same event inserted twice (a redelivery, a seed that overlaps live
// updates) is kept once.
func Stamp(t time.Time, messageID string) int64 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(messageID))
	return t.UnixMilli()<<10 | int64(h.Sum32()&1023)
}

// StampMillis returns the Unix millisecond of a stamp.
func StampMillis(s int64) int64 { return s >> 10 }

// Match says whether an event (its properties and timestamp) counts for the
// condition; the caller has checked the name. Absolute after/before windows
// filter here, so that only events inside them are kept.
func (c *EventCond) Match(props map[string]any, ts time.Time, loc *time.Location) bool {
	if loc == nil {
		loc = time.UTC
	}
	env := &Env{Now: ts, Loc: loc}
	for _, w := range c.Where {
		v, ok := lookup(props, w.Field)
		if ok, _ := w.eval(v, ok && v != nil, env); !ok {
			return false
		}
	}
	if c.After != nil {
		lo := c.After.at(loc)
		if c.After.date {
			if ts.Before(lo.AddDate(0, 0, 1)) {
				return false
			}
		} else if !ts.After(lo) {
			return false
		}
	}
	if c.Before != nil && !ts.Before(c.Before.at(loc)) {
		return false
	}
	return true
}

func lookup(props map[string]any, path string) (any, bool) {
	if v, ok := props[path]; ok {
		return v, true
	}
	if !strings.Contains(path, ".") {
		return nil, false
	}
	var cur any = props
	for _, p := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[p]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// keep is how many of the most recent timestamps decide the condition.
func (c *EventCond) keep() int {
	switch c.Window {
	case "between_ago", "calendar":
		return MaxKeep
	}
	if c.CountOp == "" {
		return 1
	}
	return int(c.Count) + 1 // enough to tell count N from N+1
}

// Retain inserts a stamp (see Stamp; 0 = none) into a sorted list
// (duplicates are dropped, which makes redelivery harmless), then drops what
// can no longer count: timestamps older than the window's reach and all but
// the most recent ones the count needs.
func (c *EventCond) Retain(ts []int64, add int64, now time.Time, loc *time.Location) []int64 {
	if loc == nil {
		loc = time.UTC
	}
	if add != 0 {
		i := sort.Search(len(ts), func(i int) bool { return ts[i] >= add })
		if i == len(ts) || ts[i] != add {
			ts = append(ts, 0)
			copy(ts[i+1:], ts[i:])
			ts[i] = add
		}
	}
	var horizon time.Time
	switch c.Window {
	case "within":
		horizon = c.Within.Before(now, loc)
	case "between_ago":
		horizon = c.AgoTo.Before(now, loc)
	case "calendar":
		horizon = startOfMonth(now, loc).AddDate(0, -1, 0)
	}
	if !horizon.IsZero() {
		h := horizon.UnixMilli()
		i := sort.Search(len(ts), func(i int) bool { return ts[i]>>10 > h })
		ts = ts[i:]
	}
	if k := c.keep(); len(ts) > k {
		ts = ts[len(ts)-k:]
	}
	if ts == nil {
		ts = []int64{}
	}
	return ts
}

// window returns the bounds (lo exclusive or inclusive per loIncl, hi
// inclusive) of the timestamps counted at now, and the next instant the
// window itself moves in a way that matters (calendar windows).
func (c *EventCond) eval(ts []int64, env *Env) (bool, time.Time) {
	now, loc := env.Now, env.Loc
	nowMs := now.UnixMilli()
	var n int64
	var next time.Time
	for _, st := range ts {
		t := st >> 10
		tt := time.UnixMilli(t)
		if t > nowMs {
			next = minAfter(next, tt, now) // a future-dated event starts counting
			continue
		}
		switch c.Window {
		case "", "absolute":
			n++
		case "within":
			end := c.Within.After(tt, loc)
			if now.Before(end) {
				n++
				next = minAfter(next, end, now)
			}
		case "between_ago":
			start, end := c.AgoFrom.After(tt, loc), c.AgoTo.After(tt, loc)
			if now.Before(start) {
				next = minAfter(next, start, now)
			} else if now.Before(end) {
				n++
				next = minAfter(next, end, now)
			}
		case "calendar":
			lo, hi := c.calendarBounds(now, loc)
			if !tt.Before(lo) && tt.Before(hi) {
				n++
			}
		}
	}
	if c.Window == "calendar" && len(ts) > 0 {
		next = minAfter(next, c.calendarNext(now, loc), now)
	}
	if !c.Performed {
		return n == 0, next
	}
	switch c.CountOp {
	case "":
		return n >= 1, next
	case "eq":
		return n == c.Count, next
	case "neq":
		return n != c.Count, next
	case "gt":
		return n > c.Count, next
	case "gte":
		return n >= c.Count, next
	case "lt":
		return n < c.Count, next
	}
	return n <= c.Count, next
}

func (c *EventCond) calendarBounds(now time.Time, loc *time.Location) (time.Time, time.Time) {
	switch c.Calendar {
	case "today":
		s := startOfDay(now, loc)
		return s, s.AddDate(0, 0, 1)
	case "yesterday":
		s := startOfDay(now, loc)
		return s.AddDate(0, 0, -1), s
	case "this_week":
		s := startOfWeek(now, loc)
		return s, s.AddDate(0, 0, 7)
	case "last_week":
		s := startOfWeek(now, loc)
		return s.AddDate(0, 0, -7), s
	case "this_month":
		s := startOfMonth(now, loc)
		return s, s.AddDate(0, 1, 0)
	}
	s := startOfMonth(now, loc)
	return s.AddDate(0, -1, 0), s
}

func (c *EventCond) calendarNext(now time.Time, loc *time.Location) time.Time {
	switch c.Calendar {
	case "today", "yesterday":
		return startOfDay(now, loc).AddDate(0, 0, 1)
	case "this_week", "last_week":
		return startOfWeek(now, loc).AddDate(0, 0, 7)
	}
	return startOfMonth(now, loc).AddDate(0, 1, 0)
}
