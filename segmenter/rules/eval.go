package rules

import (
	"strings"
	"time"
)

// Env is what a rule is evaluated against.
type Env struct {
	// Now is the evaluation instant; Loc the tenant's time zone (nil = UTC).
	Now time.Time
	Loc *time.Location
	// Traits are the profile's traits (nil = none).
	Traits map[string]any
	// Trait, when set, is used instead of Traits to read one trait (lazy
	// decoding).
	Trait func(name string) (any, bool)
	// Events returns the stamps (see Stamp; ascending) of the profile's
	// events that match a condition (nil func = none).
	Events func(c *EventCond) []int64
	// Member says whether the profile is in a segment (nil func = in none).
	Member func(segmentID string) bool
}

// Eval returns whether the rule holds, and the earliest instant after
// env.Now at which its truth can change with no other input (zero = never).
// Every branch is evaluated, so that the deadline of a branch that does not
// decide the result now is not lost.
func (r *Rule) Eval(env *Env) (bool, time.Time) {
	if env.Loc == nil {
		env.Loc = time.UTC
	}
	var next time.Time
	ok := r.root.eval(env, &next)
	return ok, next
}

func (n *node) eval(env *Env, next *time.Time) bool {
	switch n.kind {
	case kindAll:
		res := true
		for _, k := range n.kids {
			if !k.eval(env, next) {
				res = false
			}
		}
		return res
	case kindAny:
		res := false
		for _, k := range n.kids {
			if k.eval(env, next) {
				res = true
			}
		}
		return res
	case kindNot:
		return !n.kids[0].eval(env, next)
	case kindTrait:
		var v any
		var present bool
		if env.Trait != nil {
			v, present = env.Trait(n.cond.Field)
		} else {
			v, present = env.Traits[n.cond.Field]
		}
		ok, d := n.cond.eval(v, present && v != nil, env)
		*next = minAfter(*next, d, env.Now)
		return ok
	case kindEvent:
		var ts []int64
		if env.Events != nil {
			ts = env.Events(n.event)
		}
		ok, d := n.event.eval(ts, env)
		*next = minAfter(*next, d, env.Now)
		return ok
	case kindSegment:
		in := env.Member != nil && env.Member(n.seg.ID)
		return in == n.seg.Member
	}
	return false
}

// Eval applies the condition to one value (a trait or an event property).
// Missing and null values satisfy only not_exists; a value of the wrong type
// satisfies nothing. The second result is the next instant the result can
// change as time passes (zero = never).
func (c *Cond) Eval(v any, env *Env) (bool, time.Time) {
	if env.Loc == nil {
		env.Loc = time.UTC
	}
	return c.eval(v, v != nil, env)
}

func (c *Cond) eval(v any, present bool, env *Env) (bool, time.Time) {
	switch c.Op {
	case "exists":
		return present, time.Time{}
	case "not_exists":
		return !present, time.Time{}
	}
	if !present {
		return false, time.Time{}
	}
	switch c.Op {
	case "eq", "neq":
		eq, ok := c.equal(v)
		if !ok {
			return false, time.Time{}
		}
		return eq == (c.Op == "eq"), time.Time{}
	case "in", "not_in":
		if _, isList := v.([]any); isList {
			return false, time.Time{}
		}
		found := false
		for _, e := range c.list {
			if scalarEqual(e, v) {
				found = true
				break
			}
		}
		return found == (c.Op == "in"), time.Time{}
	case "contains", "not_contains":
		want := c.Op == "contains"
		switch x := v.(type) {
		case string:
			if !c.isStr {
				return false, time.Time{}
			}
			return strings.Contains(x, c.str) == want, time.Time{}
		case []any:
			var needle any = c.str
			if c.isNum {
				needle = c.num
			}
			found := false
			for _, e := range x {
				if scalarEqual(needle, e) {
					found = true
					break
				}
			}
			return found == want, time.Time{}
		}
		return false, time.Time{}
	case "starts_with", "ends_with":
		s, ok := v.(string)
		if !ok {
			return false, time.Time{}
		}
		if c.Op == "starts_with" {
			return strings.HasPrefix(s, c.str), time.Time{}
		}
		return strings.HasSuffix(s, c.str), time.Time{}
	case "gt", "gte", "lt", "lte":
		f, ok := toNumber(v)
		if !ok {
			return false, time.Time{}
		}
		switch c.Op {
		case "gt":
			return f > c.num, time.Time{}
		case "gte":
			return f >= c.num, time.Time{}
		case "lt":
			return f < c.num, time.Time{}
		}
		return f <= c.num, time.Time{}
	case "between":
		if c.isNum {
			f, ok := toNumber(v)
			if !ok {
				return false, time.Time{}
			}
			return f >= c.list[0].(float64) && f <= c.list[1].(float64), time.Time{}
		}
		t, ok := toTime(v, env.Loc)
		if !ok {
			return false, time.Time{}
		}
		lo := c.lo.at(env.Loc)
		var hi time.Time
		if c.hi.date {
			hi = c.hi.at(env.Loc).AddDate(0, 0, 1) // whole last day
			return !t.Before(lo) && t.Before(hi), time.Time{}
		}
		hi = c.hi.t
		return !t.Before(lo) && !t.After(hi), time.Time{}
	case "is_true", "is_false":
		b, ok := v.(bool)
		if !ok {
			return false, time.Time{}
		}
		return b == (c.Op == "is_true"), time.Time{}
	case "contains_any", "contains_all":
		arr, ok := v.([]any)
		if !ok {
			return false, time.Time{}
		}
		for _, want := range c.list {
			found := false
			for _, e := range arr {
				if scalarEqual(want, e) {
					found = true
					break
				}
			}
			if found && c.Op == "contains_any" {
				return true, time.Time{}
			}
			if !found && c.Op == "contains_all" {
				return false, time.Time{}
			}
		}
		return c.Op == "contains_all", time.Time{}
	case "size_gte", "size_lte":
		arr, ok := v.([]any)
		if !ok {
			return false, time.Time{}
		}
		if c.Op == "size_gte" {
			return int64(len(arr)) >= c.size, time.Time{}
		}
		return int64(len(arr)) <= c.size, time.Time{}
	}
	// Date and datetime operators.
	t, ok := toTime(v, env.Loc)
	if !ok {
		return false, time.Time{}
	}
	return c.evalTime(t, env)
}

func (c *Cond) equal(v any) (eq, ok bool) {
	switch {
	case c.isStr:
		s, ok := v.(string)
		return ok && s == c.str, ok
	case c.isNum:
		f, ok := toNumber(v)
		return ok && f == c.num, ok
	case c.isBool:
		b, ok := v.(bool)
		return ok && b == c.boolV, ok
	}
	return false, false
}

func (c *Cond) evalTime(t time.Time, env *Env) (bool, time.Time) {
	now, loc := env.Now, env.Loc
	switch c.Op {
	case "before":
		return t.Before(c.lo.at(loc)), time.Time{}
	case "after":
		if c.lo.date {
			return !t.Before(c.lo.at(loc).AddDate(0, 0, 1)), time.Time{}
		}
		return t.After(c.lo.t), time.Time{}
	case "on":
		day := c.lo.at(loc)
		if !c.lo.date {
			day = startOfDay(c.lo.t, loc)
		}
		return !t.Before(day) && t.Before(day.AddDate(0, 0, 1)), time.Time{}
	case "is_today":
		return interval(startOfDay(t, loc), startOfDay(t, loc).AddDate(0, 0, 1), now)
	case "within_last":
		// t is in (now-d, now]: true from t until t+d.
		return interval(t, c.dur.After(t, loc), now)
	case "within_next":
		// t is in [now, now+d]: true from t-d until t (inclusive).
		return interval(c.dur.Before(t, loc), t.Add(time.Millisecond), now)
	case "more_than_ago":
		at := c.dur.After(t, loc)
		if now.Before(at) {
			return false, at
		}
		return true, time.Time{}
	case "exactly_ago":
		at := c.dur.After(t, loc)
		switch c.dur.Unit {
		case "days", "weeks", "months":
			s := startOfDay(at, loc)
			return interval(s, s.AddDate(0, 0, 1), now)
		case "hours":
			return localUnit(at, time.Hour, env)
		case "minutes":
			return localUnit(at, time.Minute, env)
		}
		return localUnit(at, time.Second, env)
	case "anniversary":
		return anniversary(t, now, loc)
	}
	return false, time.Time{}
}

// localUnit says whether now is in the hour (minute, second) of the tenant's
// wall clock that contains at, and when that changes next.
func localUnit(at time.Time, unit time.Duration, env *Env) (bool, time.Time) {
	s := truncLocal(at, unit, env.Loc)
	return interval(s, s.Add(unit), env.Now)
}

// interval says whether now is in [from, to) and when that changes next.
func interval(from, to, now time.Time) (bool, time.Time) {
	if now.Before(from) {
		return false, from
	}
	if now.Before(to) {
		return true, to
	}
	return false, time.Time{}
}

// anniversary: the day and month of t (in loc) is today; 29 February is
// celebrated on 28 February in other years.
func anniversary(t, now time.Time, loc *time.Location) (bool, time.Time) {
	_, m, d := t.In(loc).Date()
	on := func(year int) time.Time {
		dd := d
		if m == time.February && d == 29 && !leap(year) {
			dd = 28
		}
		return time.Date(year, m, dd, 0, 0, 0, 0, loc)
	}
	y := now.In(loc).Year()
	for _, yr := range []int{y - 1, y, y + 1} {
		s := on(yr)
		e := s.AddDate(0, 0, 1)
		if now.Before(s) {
			return false, s
		}
		if now.Before(e) {
			return true, e
		}
	}
	return false, on(y + 2)
}

func leap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func toNumber(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	}
	return 0, false
}

func scalarEqual(a, b any) bool {
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	}
	fa, ok1 := toNumber(a)
	fb, ok2 := toNumber(b)
	return ok1 && ok2 && fa == fb
}

// toTime reads a date ("2006-01-02", midnight in loc), a datetime
// (RFC 3339, or without zone in loc) or a time.Time.
func toTime(v any, loc *time.Location) (time.Time, bool) {
	switch x := v.(type) {
	case time.Time:
		return x, true
	case string:
		if len(x) == 10 {
			if t, err := time.ParseInLocation("2006-01-02", x, loc); err == nil {
				return t, true
			}
			return time.Time{}, false
		}
		if t, err := time.Parse(time.RFC3339Nano, x); err == nil {
			return t, true
		}
		if t, err := time.ParseInLocation("2006-01-02T15:04:05", x, loc); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}
