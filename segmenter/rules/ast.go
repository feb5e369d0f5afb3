package rules

import "time"

type nodeKind uint8

const (
	kindAll nodeKind = iota
	kindAny
	kindNot
	kindTrait
	kindEvent
	kindSegment
)

type node struct {
	kind  nodeKind
	kids  []*node
	cond  *Cond      // trait condition
	event *EventCond // event condition
	seg   *SegmentRef
}

// Cond is one operator applied to a value: a trait condition, or a "where"
// condition on an event property.
type Cond struct {
	Field string // trait name or property path
	Op    string

	str    string
	num    float64
	list   []any
	strs   []string
	lo     absTime
	hi     absTime
	isNum  bool
	isStr  bool
	isBool bool
	boolV  bool
	dur    Duration
	size   int64
}

// absTime is an absolute time of a condition: a datetime, or a date resolved
// to midnight in the tenant's time zone at evaluation.
type absTime struct {
	t    time.Time
	date bool
}

func (a absTime) at(loc *time.Location) time.Time {
	if !a.date {
		return a.t
	}
	y, m, d := a.t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}

// SegmentRef is {"segment":"<id>","member":true}.
type SegmentRef struct {
	ID     string
	Member bool
}

// EventCond is an event condition.
type EventCond struct {
	Name      string
	Performed bool
	Where     []*Cond
	CountOp   string // "" = at least one
	Count     int64
	Window    string // "" all | within | between_ago | calendar | absolute
	Within    Duration
	AgoFrom   Duration // the nearer bound of between_ago
	AgoTo     Duration // the farther bound
	Calendar  string
	After     *absTime
	Before    *absTime

	key string
}

// Key identifies the condition's state: two segments with the same event
// condition share the stored timestamps.
func (c *EventCond) Key() string { return c.key }
