package identity

import (
	"strconv"
)

// fastPlan is a message applied through fast.lua: its arguments and the
// output it has if Redis holds the state the plan was built on.
type fastPlan struct {
	pid  string
	args []any  // ARGV of the script (fast.lua's part)
	out  luaOut // the output when applied
}

// plan decides how one message is applied. A message that only touches
// one profile the cache holds (or creates a profile from identifiers the
// cache does not know), without merges, limits in play, replace or tag
// unions, gets a fastPlan and the cache takes its effect at once, so the
// next message of the same profile can be planned before this one reaches
// Redis. Every other message goes through apply.lua; its identifiers are
// pending until its reply, and messages sharing them go that way too.
func (p *Processor) plan(in *applyInput, r *rules) {
	c := p.cache
	if fp := p.planFast(in, r); fp != nil {
		in.fast = fp
		return
	}
	in.pending = c.markPending(in.Tenant, in.Msg.Ids)
	if in.Msg.Dp != "" {
		c.drop(in.Tenant, in.Msg.Dp)
	}
}

// planFast returns the plan of a message the cache can decide, else nil.
func (p *Processor) planFast(in *applyInput, r *rules) *fastPlan {
	c := p.cache
	m := &in.Msg
	if c.max <= 0 || m.K != "apply" || m.Rp != 0 || m.Ut != 0 || len(m.Ids) == 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var prof *cachedProfile
	for _, id := range m.Ids {
		k := cacheKey(in.Tenant, id)
		if c.pending[k] > 0 {
			return nil
		}
		if e, ok := c.byIdent[k]; ok {
			if prof != nil && prof != e {
				return nil // a merge: apply.lua decides
			}
			prof = e
		}
	}
	created := prof == nil
	var newIDs []string
	if created {
		newIDs = m.Ids
	} else {
		for _, id := range m.Ids {
			if !hasString(prof.ids, id) {
				newIDs = append(newIDs, id)
			}
		}
		if len(newIDs) > 0 && len(m.Ids) > 1 && overLimit(r, prof.ids, m.Ids) {
			return nil // apply.lua drops identifiers by priority
		}
	}
	if created {
		prof = &cachedProfile{tenant: in.Tenant, pid: m.Np, traits: make(map[string]traitState, len(m.Tr))}
	}
	return p.speculate(in, prof, created, newIDs)
}

// speculate applies the message to the cached profile (the same rules as
// apply.lua: last write wins by "<ms>|<messageId>", times, identities) and
// returns the writes; the caller holds the cache mutex.
func (p *Processor) speculate(in *applyInput, prof *cachedProfile, created bool, newIDs []string) *fastPlan {
	c := p.cache
	m := &in.Msg
	ts := parseMs(m.Ts)
	meta := m.Ts + "|" + m.Mid
	sets := make([]any, 0, 4*len(m.Tr)+2*len(newIDs)+6)
	var dels []any
	var changes luaList[[]string]
	for _, id := range newIDs {
		sets = append(sets, "i:"+id, "1")
		prof.ids = append(prof.ids, id)
	}
	for _, kv := range m.Tr {
		k, v := kv[0], kv[1]
		st := prof.traits[k]
		if !newerMeta(meta, st.meta) {
			continue
		}
		st.meta = meta
		sets = append(sets, "m:"+k, meta)
		if v == "null" {
			if st.val != "" {
				dels = append(dels, "t:"+k)
				changes = append(changes, []string{k, st.val, ""})
				st.val = ""
			}
		} else if st.val != v {
			sets = append(sets, "t:"+k, v)
			changes = append(changes, []string{k, st.val, v})
			st.val = v
		}
		prof.traits[k] = st
	}
	if prof.c == 0 || ts < prof.c {
		prof.c = ts
		sets = append(sets, "_c", m.Ts)
	}
	if prof.s == 0 || ts > prof.s {
		prof.s = ts
		sets = append(sets, "_s", m.Ts)
	}
	if prof.u == 0 || ((len(changes) > 0 || len(newIDs) > 0) && ts > prof.u) {
		prof.u = ts
		sets = append(sets, "_u", m.Ts)
	}
	expected := prof.token
	prof.token = versionToken(expected, m.Mid)
	if created {
		c.put(prof)
	} else {
		for _, id := range newIDs {
			c.byIdent[cacheKey(prof.tenant, id)] = prof
		}
	}

	fp := &fastPlan{pid: prof.pid}
	fp.out = luaOut{
		S: outOK, P: prof.pid, Ch: changes,
		ID: append(luaList[string](nil), prof.ids...),
		C:  strconv.FormatInt(prof.c, 10), Ls: strconv.FormatInt(prof.s, 10), U: strconv.FormatInt(prof.u, 10),
	}
	if created {
		fp.out.Cr = 1
	}
	fp.out.Tr = make(luaList[[]string], 0, len(prof.traits))
	for k, st := range prof.traits {
		if st.val != "" {
			fp.out.Tr = append(fp.out.Tr, []string{k, st.val})
		}
	}
	stored := "1"
	if m.Ns != 1 {
		stored = string(encodeOut(&fp.out))
	}
	timeline, counter := "", ""
	if m.Ev != "" {
		timeline = m.Tsp + m.Ev
	}
	if m.En != "" && m.Day >= m.Cut {
		counter = m.En + "|" + m.Day
	}
	args := make([]any, 0, 16+len(m.Ids)+len(newIDs)+len(dels)+len(sets))
	// args[0] and [1] (prefix, message JSON) are set by applyBatch
	args = append(args, nil, nil, m.Mid, prof.pid, expected, prof.token,
		m.TTL, stored, m.Ts, timeline, m.Cap, counter, m.Cut, len(m.Ids))
	for _, id := range m.Ids {
		args = append(args, id)
	}
	args = append(args, len(newIDs))
	for _, id := range newIDs {
		args = append(args, id)
	}
	args = append(args, len(dels))
	args = append(args, dels...)
	fp.args = append(args, sets...)
	return fp
}

// overLimit reports whether the union of a profile's identities and a
// message's would hold more values of a type than the rules allow.
func overLimit(r *rules, have, msg []string) bool {
	counts := make(map[string]int, 4)
	seen := make(map[string]bool, len(have)+len(msg))
	for _, l := range [2][]string{have, msg} {
		for _, id := range l {
			if seen[id] {
				continue
			}
			seen[id] = true
			t := splitIdent(id).Type
			counts[t]++
			if counts[t] > r.limit(t) {
				return true
			}
		}
	}
	return false
}

// newerMeta reports whether write a ("<ms>|<messageId>") wins over b
// ("" = none): later time, then the greater messageId (apply.lua's newer).
func newerMeta(a, b string) bool {
	if b == "" {
		return true
	}
	ta, ma := splitMeta(a)
	tb, mb := splitMeta(b)
	if ta != tb {
		return ta > tb
	}
	return ma > mb
}

func splitMeta(s string) (int64, string) {
	for i := 0; i < len(s); i++ {
		if s[i] == '|' {
			return parseMs(s[:i]), s[i+1:]
		}
	}
	return parseMs(s), ""
}

func hasString(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}
