package identity

import "strconv"

// counterList is a cached profile's daily event counters, field
// "c:<event>|<YYYY-MM-DD>" → count, in no particular order: a message
// touches one field, and a profile holds a few dozen.
type counterList []counterEntry

type counterEntry struct {
	field string
	n     int64
}

func (l counterList) get(f string) int64 {
	for _, e := range l {
		if e.field == f {
			return e.n
		}
	}
	return 0
}

func (l *counterList) set(f string, n int64) {
	for i := range *l {
		if (*l)[i].field == f {
			(*l)[i].n = n
			return
		}
	}
	*l = append(*l, counterEntry{field: f, n: n})
}

// count plans the event counter of a message on a cached profile as
// apply.lua counts it: one more on "c:<name>|<day>"; the first count of a
// day, unless the profile was trimmed for this cut already, drops the days
// before cut and records the cut in "_td".
func (p *cachedProfile) count(name, day, cut string, ops *fieldOps) {
	f := "c:" + name + "|" + day
	n := p.counts.get(f) + 1
	p.counts.set(f, n)
	ops.set(f, strconv.FormatInt(n, 10))
	if n != 1 || p.td == cut {
		return
	}
	p.td = cut
	ops.set("_td", cut)
	kept := p.counts[:0]
	for _, e := range p.counts {
		if len(e.field) >= 12 && e.field[len(e.field)-10:] < cut {
			ops.unset(e.field)
			continue
		}
		kept = append(kept, e)
	}
	p.counts = kept
}

// absorbCounts adds a merged profile's counters to the survivor's (the
// survivor keeps its "_td"), as apply.lua's mergeInto does.
func (p *cachedProfile) absorbCounts(a *cachedProfile, ops *fieldOps) {
	for _, e := range a.counts {
		n := p.counts.get(e.field) + e.n
		p.counts.set(e.field, n)
		ops.set(e.field, strconv.FormatInt(n, 10))
	}
}

// fillCounts reads apply.lua's {field, count, ...} list ("_td" included).
func (p *cachedProfile) fillCounts(flat []string) {
	for i := 0; i+1 < len(flat); i += 2 {
		if flat[i] == "_td" {
			p.td = flat[i+1]
			continue
		}
		n, err := strconv.ParseInt(flat[i+1], 10, 64)
		if err == nil {
			p.counts = append(p.counts, counterEntry{field: flat[i], n: n})
		}
	}
}
