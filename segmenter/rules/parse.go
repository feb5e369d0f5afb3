package rules

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// Limits of the language.
const (
	MaxDepth = 16   // nesting of combinators
	MaxNodes = 256  // conditions and combinators of one rule
	MaxCount = 1000 // largest count value
	MaxList  = 1000 // longest value list
)

// Rule is a parsed, valid rule.
type Rule struct {
	root     *node
	traits   []string
	events   []string
	segments []string
	conds    []*EventCond
	timed    bool
	vacuous  bool
}

// Parse validates a rule. path is the JSON path of the rule in its document
// (e.g. "rule"); errors are *Error naming the path of the field at fault.
func Parse(raw json.RawMessage, path string) (*Rule, error) {
	return parse(raw, path, true)
}

// ParseStored parses a rule that was accepted and stored earlier. It does
// not enforce the limits added since (the 100-year duration caps, where
// conditions counting toward MaxNodes), so that a stored segment keeps
// working after an upgrade instead of being dropped.
func ParseStored(raw json.RawMessage, path string) (*Rule, error) {
	return parse(raw, path, false)
}

func parse(raw json.RawMessage, path string, strict bool) (*Rule, error) {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return nil, errAt(path, "a rule is required")
	}
	v, err := decode(raw, path)
	if err != nil {
		return nil, err
	}
	p := &parser{strict: strict, traits: map[string]bool{}, events: map[string]bool{}, segs: map[string]bool{}, conds: map[string]*EventCond{}}
	root, err := p.node(v, path, 0)
	if err != nil {
		return nil, err
	}
	r := &Rule{root: root, timed: p.timed}
	r.traits = sortedKeys(p.traits)
	r.events = sortedKeys(p.events)
	r.segments = sortedKeys(p.segs)
	for _, k := range sortedKeys(p.conds) {
		r.conds = append(r.conds, p.conds[k])
	}
	// A rule that holds for a profile with no traits, events or memberships
	// must be evaluated for every profile the segmenter sees first.
	r.vacuous, _ = r.Eval(&Env{Now: time.Unix(0, 0), Loc: time.UTC})
	return r, nil
}

// Traits lists the trait names the rule reads.
func (r *Rule) Traits() []string { return r.traits }

// Events lists the event names the rule reads.
func (r *Rule) Events() []string { return r.events }

// Segments lists the segment ids the rule references.
func (r *Rule) Segments() []string { return r.segments }

// EventConds lists the distinct event conditions (by Key).
func (r *Rule) EventConds() []*EventCond { return r.conds }

// Vacuous says whether the rule holds for an empty profile.
func (r *Rule) Vacuous() bool { return r.vacuous }

// TimeDependent says whether the truth can change as time passes.
func (r *Rule) TimeDependent() bool { return r.timed }

type parser struct {
	strict bool // enforce every current limit (new rules)
	nodes  int
	traits map[string]bool
	events map[string]bool
	segs   map[string]bool
	conds  map[string]*EventCond
	timed  bool
}

// count counts one condition or combinator toward MaxNodes.
func (p *parser) count(path string) error {
	p.nodes++
	if p.nodes > MaxNodes {
		return errAt(path, "the rule has more than %d conditions (where conditions included)", MaxNodes)
	}
	return nil
}

func (p *parser) node(v any, path string, depth int) (*node, error) {
	if err := p.count(path); err != nil {
		return nil, err
	}
	if depth > MaxDepth {
		return nil, errAt(path, "the rule nests deeper than %d levels", MaxDepth)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, errAt(path, "a condition must be a JSON object")
	}
	switch {
	case has(obj, "all"), has(obj, "any"):
		key := "all"
		kind := kindAll
		if has(obj, "any") {
			key, kind = "any", kindAny
		}
		if err := onlyKeys(obj, path, key); err != nil {
			return nil, err
		}
		arr, ok := obj[key].([]any)
		if !ok || len(arr) == 0 {
			return nil, errAt(path+"."+key, "must be a non-empty array of conditions")
		}
		n := &node{kind: kind}
		for i, c := range arr {
			k, err := p.node(c, fmt.Sprintf("%s.%s[%d]", path, key, i), depth+1)
			if err != nil {
				return nil, err
			}
			n.kids = append(n.kids, k)
		}
		return n, nil
	case has(obj, "not"):
		if err := onlyKeys(obj, path, "not"); err != nil {
			return nil, err
		}
		k, err := p.node(obj["not"], path+".not", depth+1)
		if err != nil {
			return nil, err
		}
		return &node{kind: kindNot, kids: []*node{k}}, nil
	case has(obj, "trait"):
		if err := onlyKeys(obj, path, "trait", "op", "value"); err != nil {
			return nil, err
		}
		name, ok := obj["trait"].(string)
		if !ok || name == "" {
			return nil, errAt(path+".trait", "must be a non-empty string")
		}
		c, err := p.cond(obj, name, path, true)
		if err != nil {
			return nil, err
		}
		p.traits[name] = true
		return &node{kind: kindTrait, cond: c}, nil
	case has(obj, "event"):
		e, err := p.event(obj, path)
		if err != nil {
			return nil, err
		}
		if prev, ok := p.conds[e.key]; ok {
			e = prev
		} else {
			p.conds[e.key] = e
		}
		p.events[e.Name] = true
		return &node{kind: kindEvent, event: e}, nil
	case has(obj, "segment"):
		if err := onlyKeys(obj, path, "segment", "member"); err != nil {
			return nil, err
		}
		id, ok := obj["segment"].(string)
		if !ok || id == "" {
			return nil, errAt(path+".segment", "must be a non-empty segment id")
		}
		ref := &SegmentRef{ID: id, Member: true}
		if m, ok := obj["member"]; ok {
			b, ok := m.(bool)
			if !ok {
				return nil, errAt(path+".member", "must be true or false")
			}
			ref.Member = b
		}
		p.segs[id] = true
		return &node{kind: kindSegment, seg: ref}, nil
	}
	return nil, errAt(path, "unknown condition: expected one of all, any, not, trait, event, segment")
}

func has(m map[string]any, k string) bool { _, ok := m[k]; return ok }

func onlyKeys(obj map[string]any, path string, allowed ...string) error {
	for _, k := range sortedKeys(obj) {
		ok := false
		for _, a := range allowed {
			if k == a {
				ok = true
				break
			}
		}
		if !ok {
			return errAt(path+"."+k, "unknown field (allowed: %s)", strings.Join(allowed, ", "))
		}
	}
	return nil
}

// opKinds says which values each operator takes.
var opKinds = map[string]string{
	"exists": "none", "not_exists": "none",
	"eq": "scalar", "neq": "scalar",
	"in": "list", "not_in": "list",
	"contains": "scalar", "not_contains": "scalar",
	"starts_with": "string", "ends_with": "string",
	"gt": "number", "gte": "number", "lt": "number", "lte": "number",
	"between": "range",
	"is_true": "none", "is_false": "none",
	"before": "time", "after": "time", "on": "time",
	"is_today": "none", "anniversary": "none",
	"within_last": "duration", "within_next": "duration", "more_than_ago": "duration", "exactly_ago": "duration",
	"contains_any": "list", "contains_all": "list",
	"size_gte": "size", "size_lte": "size",
}

var timedOps = map[string]bool{"is_today": true, "anniversary": true, "within_last": true, "within_next": true, "more_than_ago": true, "exactly_ago": true}

func (p *parser) cond(obj map[string]any, field, path string, trait bool) (*Cond, error) {
	op, ok := obj["op"].(string)
	if !ok {
		return nil, errAt(path+".op", "must be a string")
	}
	kind, ok := opKinds[op]
	if !ok {
		return nil, errAt(path+".op", "unknown operator %q", op)
	}
	if timedOps[op] {
		p.timed = true
	}
	c := &Cond{Field: field, Op: op}
	val, hasVal := obj["value"]
	vpath := path + ".value"
	if kind == "none" {
		if hasVal {
			return nil, errAt(vpath, "operator %s takes no value", op)
		}
		return c, nil
	}
	if !hasVal || val == nil {
		return nil, errAt(vpath, "operator %s needs a value", op)
	}
	switch kind {
	case "scalar":
		switch x := val.(type) {
		case string:
			c.str, c.isStr = x, true
		case float64:
			c.num, c.isNum = x, true
		case bool:
			if op == "contains" || op == "not_contains" {
				return nil, errAt(vpath, "operator %s needs a string or a number", op)
			}
			c.boolV, c.isBool = x, true
		default:
			return nil, errAt(vpath, "operator %s needs a string, a number or a boolean", op)
		}
	case "string":
		s, ok := val.(string)
		if !ok {
			return nil, errAt(vpath, "operator %s needs a string", op)
		}
		c.str, c.isStr = s, true
	case "number":
		f, ok := val.(float64)
		if !ok {
			return nil, errAt(vpath, "operator %s needs a number", op)
		}
		c.num, c.isNum = f, true
	case "list":
		arr, ok := val.([]any)
		if !ok || len(arr) == 0 || len(arr) > MaxList {
			return nil, errAt(vpath, "operator %s needs a non-empty array of at most %d values", op, MaxList)
		}
		for i, e := range arr {
			switch e.(type) {
			case string, float64, bool:
			default:
				return nil, errAt(fmt.Sprintf("%s[%d]", vpath, i), "must be a string, a number or a boolean")
			}
		}
		c.list = arr
	case "range":
		arr, ok := val.([]any)
		if !ok || len(arr) != 2 {
			return nil, errAt(vpath, "operator between needs an array of two numbers or two dates")
		}
		a, aNum := arr[0].(float64)
		b, bNum := arr[1].(float64)
		if aNum && bNum {
			if a > b {
				return nil, errAt(vpath, "the lower bound is greater than the upper bound")
			}
			c.list, c.isNum = []any{a, b}, true
			break
		}
		for i := range 2 {
			s, ok := arr[i].(string)
			if !ok {
				return nil, errAt(fmt.Sprintf("%s[%d]", vpath, i), "must be a number or a date like 2024-01-31 or 2024-01-31T10:00:00Z (both bounds of one type)")
			}
			t, err := parseAbs(s)
			if err != nil {
				return nil, errAt(fmt.Sprintf("%s[%d]", vpath, i), "%v", err)
			}
			if i == 0 {
				c.lo = t
			} else {
				c.hi = t
			}
		}
		if c.lo.t.After(c.hi.t) {
			return nil, errAt(vpath, "the lower bound is after the upper bound")
		}
	case "time":
		s, ok := val.(string)
		if !ok {
			return nil, errAt(vpath, "operator %s needs a date like 2024-01-31 or a datetime like 2024-01-31T10:00:00Z", op)
		}
		t, err := parseAbs(s)
		if err != nil {
			return nil, errAt(vpath, "%v", err)
		}
		c.lo = t
	case "duration":
		d, err := p.duration(val, vpath)
		if err != nil {
			return nil, err
		}
		c.dur = d
	case "size":
		f, ok := val.(float64)
		if !ok || f < 0 || f != math.Trunc(f) || f > 1e9 {
			return nil, errAt(vpath, "operator %s needs a non-negative integer", op)
		}
		c.size = int64(f)
	}
	return c, nil
}

func parseAbs(s string) (absTime, error) {
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return absTime{t: t, date: true}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return absTime{t: t}, nil
	}
	return absTime{}, fmt.Errorf("%q is not a date (2024-01-31) or an RFC 3339 datetime (2024-01-31T10:00:00Z)", s)
}

func (p *parser) duration(v any, path string) (Duration, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return Duration{}, errAt(path, `must be a duration like {"value":7,"unit":"days"}`)
	}
	if err := onlyKeys(obj, path, "value", "unit"); err != nil {
		return Duration{}, err
	}
	f, ok := obj["value"].(float64)
	if !ok || f < 0 || f != math.Trunc(f) {
		return Duration{}, errAt(path+".value", "must be a non-negative integer")
	}
	u, ok := obj["unit"].(string)
	if !ok || !units[u] {
		return Duration{}, errAt(path+".unit", "must be one of seconds, minutes, hours, days, weeks, months")
	}
	limit := float64(legacyMaxDuration)
	if p.strict {
		limit = float64(MaxDuration[u])
	}
	if f > limit {
		return Duration{}, errAt(path+".value", "must be at most %d %s", int64(limit), u)
	}
	return Duration{Value: int64(f), Unit: u}, nil
}

var calendars = map[string]bool{"today": true, "yesterday": true, "this_week": true, "last_week": true, "this_month": true, "last_month": true}

var countOps = map[string]bool{"eq": true, "neq": true, "gt": true, "gte": true, "lt": true, "lte": true}

func (p *parser) event(obj map[string]any, path string) (*EventCond, error) {
	if err := onlyKeys(obj, path, "event", "performed", "where", "count", "within", "between_ago", "calendar", "after", "before"); err != nil {
		return nil, err
	}
	name, ok := obj["event"].(string)
	if !ok || name == "" {
		return nil, errAt(path+".event", "must be a non-empty event name")
	}
	e := &EventCond{Name: name, Performed: true}
	if v, ok := obj["performed"]; ok {
		b, ok := v.(bool)
		if !ok {
			return nil, errAt(path+".performed", "must be true or false")
		}
		e.Performed = b
	}
	if v, ok := obj["where"]; ok {
		arr, ok := v.([]any)
		if !ok {
			return nil, errAt(path+".where", "must be an array of property conditions")
		}
		for i, w := range arr {
			wp := fmt.Sprintf("%s.where[%d]", path, i)
			if p.strict {
				if err := p.count(wp); err != nil {
					return nil, err
				}
			}
			wo, ok := w.(map[string]any)
			if !ok {
				return nil, errAt(wp, "must be an object")
			}
			if err := onlyKeys(wo, wp, "property", "op", "value"); err != nil {
				return nil, err
			}
			prop, ok := wo["property"].(string)
			if !ok || prop == "" {
				return nil, errAt(wp+".property", "must be a non-empty property name")
			}
			c, err := p.cond(wo, prop, wp, false)
			if err != nil {
				return nil, err
			}
			if timedOps[c.Op] {
				return nil, errAt(wp+".op", "operator %s is relative to now and cannot filter events", c.Op)
			}
			e.Where = append(e.Where, c)
		}
	}
	if v, ok := obj["count"]; ok {
		if !e.Performed {
			return nil, errAt(path+".count", "count cannot be used with performed:false (it means a count of zero)")
		}
		co, ok := v.(map[string]any)
		if !ok {
			return nil, errAt(path+".count", `must be like {"op":"gte","value":2}`)
		}
		if err := onlyKeys(co, path+".count", "op", "value"); err != nil {
			return nil, err
		}
		op, _ := co["op"].(string)
		if !countOps[op] {
			return nil, errAt(path+".count.op", "must be one of eq, neq, gt, gte, lt, lte")
		}
		f, ok := co["value"].(float64)
		if !ok || f < 0 || f != math.Trunc(f) || f > MaxCount {
			return nil, errAt(path+".count.value", "must be an integer from 0 to %d", MaxCount)
		}
		e.CountOp, e.Count = op, int64(f)
	}
	windows := 0
	if v, ok := obj["within"]; ok {
		d, err := p.duration(v, path+".within")
		if err != nil {
			return nil, err
		}
		e.Window, e.Within = "within", d
		windows++
	}
	if v, ok := obj["between_ago"]; ok {
		bp := path + ".between_ago"
		bo, ok := v.(map[string]any)
		if !ok {
			return nil, errAt(bp, `must be like {"from":{"value":7,"unit":"days"},"to":{"value":14,"unit":"days"}}`)
		}
		if err := onlyKeys(bo, bp, "from", "to"); err != nil {
			return nil, err
		}
		from, err := p.duration(bo["from"], bp+".from")
		if err != nil {
			return nil, err
		}
		to, err := p.duration(bo["to"], bp+".to")
		if err != nil {
			return nil, err
		}
		if from.approxHours() > to.approxHours() {
			from, to = to, from
		}
		e.Window, e.AgoFrom, e.AgoTo = "between_ago", from, to
		windows++
	}
	if v, ok := obj["calendar"]; ok {
		s, ok := v.(string)
		if !ok || !calendars[s] {
			return nil, errAt(path+".calendar", "must be one of today, yesterday, this_week, last_week, this_month, last_month")
		}
		e.Window, e.Calendar = "calendar", s
		windows++
	}
	for _, k := range []string{"after", "before"} {
		v, ok := obj[k]
		if !ok {
			continue
		}
		s, ok := v.(string)
		if !ok {
			return nil, errAt(path+"."+k, "must be a date or an RFC 3339 datetime")
		}
		t, err := parseAbs(s)
		if err != nil {
			return nil, errAt(path+"."+k, "%v", err)
		}
		if k == "after" {
			e.After = &t
		} else {
			e.Before = &t
		}
	}
	if e.After != nil || e.Before != nil {
		if windows > 0 {
			return nil, errAt(path, "after/before cannot be combined with within, between_ago or calendar")
		}
		e.Window = "absolute"
		windows++
	}
	if windows > 1 {
		return nil, errAt(path, "use at most one of within, between_ago, calendar")
	}
	if e.Window == "within" || e.Window == "between_ago" || e.Window == "calendar" {
		p.timed = true
	}
	// The key covers what decides which timestamps are kept.
	canon, _ := json.Marshal(obj)
	sum := sha1.Sum(canon)
	e.key = hex.EncodeToString(sum[:10])
	return e, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
