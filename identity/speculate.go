package identity

import (
	"strconv"
)

// fastPlan is a message applied through fast.lua: what its arguments are
// built from (appendPlanArgs) and the output it has if Redis holds the
// state the plan was built on.
type fastPlan struct {
	pid string
	// fallback: send the message with the plan (the plan builds on a
	// profile that Redis has not confirmed: it may not hold)
	fallback bool
	prof     *cachedProfile // to confirm when the plan held
	// stored: the dedup value (the output), nil for "1" (nothing to republish)
	stored []byte
	simple bool   // a simple plan (fast.lua)
	lean   bool   // a simple plan without the tombstone checks' arguments
	out    luaOut // the output when applied
	// hold: the writes are held (held.go), not sent
	hold     bool
	created  bool     // the profile is new
	bornAt   string   // when created: the message's event time (ms), its score in the profiles set
	newIDs   []string // identifiers new to it
	ops      fieldOps // the profile hash's writes
	expected string   // the profile's "_v" the plan builds on ("" = it creates the profile)
	token    string   // the profile's "_v" after this message
	timeline string
	cap      int
	// the profile the message merges into this one ("" = none), its
	// expected "_v" and its identifiers
	absPID, absToken string
	absIDs           []string
}

// plan decides how one message is applied. A message that touches one
// profile the cache holds (or creates a profile from identifiers the cache
// does not know), or links two cached profiles into one, without limits in
// play, replace or tag unions, gets a fastPlan and the cache takes its
// effect at once, so the next message of the same profile can be planned
// before this one reaches Redis. Every other message goes through
// apply.lua; its identifiers are pending until its reply, and messages
// sharing them go that way too.
func (p *Processor) plan(in *applyInput, r *rules) {
	c := p.cache
	if h := c.held; h != nil {
		// a replanned message has been seen: it is never held (applyRounds
		// sends whatever it replans)
		in.maybeSeen = h.seen.testAndAdd(in.Tenant, in.Msg.Mid)
		defer h.ids.addAll(in.Tenant, in.Msg.Ids)
	}
	if fp := p.planFast(in, r); fp != nil {
		in.fast = fp
		return
	}
	if c.held != nil {
		// the profiles the script may read are written first
		in.flush = c.heldBefore(in.Tenant, &in.Msg)
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
	var prof, other *cachedProfile
	for _, id := range m.Ids {
		k := cacheKey(in.Tenant, id)
		if c.pending[k] > 0 {
			return nil
		}
		e, ok := c.byIdent[k]
		switch {
		case !ok || e == prof || e == other:
		case prof == nil:
			prof = e
		case other == nil:
			other = e
		default:
			return nil // three profiles: apply.lua decides
		}
	}
	if prof == nil {
		prof = &cachedProfile{tenant: in.Tenant, pid: m.profileID(), traits: newTraitList(len(m.Tr) + 1)}
		return p.speculate(in, prof, true, m.Ids, nil)
	}
	var absorbed *cachedProfile
	have := prof.ids
	if other != nil {
		// A link of two profiles: the survivor is the older (apply.lua's
		// rule); its plan holds if both are as cached.
		if other.c < prof.c || (other.c == prof.c && other.pid < prof.pid) {
			prof, other = other, prof
		}
		if hasTrait(prof, "tags") && hasTrait(other, "tags") {
			return nil // apply.lua unions the lists
		}
		absorbed = other
		have = append(append([]string(nil), prof.ids...), other.ids...)
	}
	var newIDs []string
	for _, id := range m.Ids {
		if !hasString(have, id) {
			newIDs = append(newIDs, id)
		}
	}
	if (len(newIDs) > 0 || absorbed != nil) && len(m.Ids) > 1 && overLimit(r, have, m.Ids) {
		return nil // apply.lua drops identifiers by priority
	}
	return p.speculate(in, prof, false, newIDs, absorbed)
}

// speculate applies the message to the cached profile (the same rules as
// apply.lua: absorbing a linked profile, last write wins by
// "<ms>|<messageId>", times, identities) and returns the writes; the
// caller holds the cache mutex.
func (p *Processor) speculate(in *applyInput, prof *cachedProfile, created bool, newIDs []string, absorbed *cachedProfile) *fastPlan {
	c := p.cache
	m := &in.Msg
	ts := parseMs(m.Ts)
	ops := fieldOps{ops: make([]fieldOp, 0, 8)} // (a track sets about 5)
	var changes changeLog
	var absorbedToken string
	absorbedIDs := 0
	if absorbed != nil {
		absorbedToken, absorbedIDs = absorbed.token, len(absorbed.ids)
		absorbInto(prof, absorbed, &ops, &changes)
		c.remove(absorbed)
	}
	for _, id := range newIDs {
		ops.set("i:"+id, "1")
		prof.ids = append(prof.ids, id)
	}
	meta := m.Ts + "|" + m.Mid
	for _, kv := range m.Tr {
		k, v := kv[0], kv[1]
		st := prof.traits.get(k)
		if !newerMeta(meta, st.meta) {
			continue
		}
		st.meta = meta
		ops.set("m:"+k, meta)
		if v == "null" {
			if st.val != "" {
				ops.unset("t:" + k)
				changes.add(k, st.val, "")
				st.val = ""
			}
		} else if st.val != v {
			ops.set("t:"+k, v)
			changes.add(k, st.val, v)
			st.val = v
		}
		prof.traits.set(k, st)
	}
	if m.Ev != "" && prof.s != 0 && ts <= prof.s {
		// the entry may land above a newer one: the timeline is out of
		// order (fast.lua's mergeTimelines reads "_oo"; setting it again
		// changes nothing)
		ops.set("_oo", "1")
	}
	if prof.c == 0 || ts < prof.c {
		prof.c = ts
		ops.set("_c", m.Ts)
	}
	if prof.s == 0 || ts > prof.s {
		prof.s = ts
		ops.set("_s", m.Ts)
	}
	if prof.u == 0 || ((len(changes.list) > 0 || len(newIDs) > 0 || absorbed != nil) && ts > prof.u) {
		prof.u = ts
		ops.set("_u", m.Ts)
	}
	if m.En != "" && m.Day >= m.Cut {
		prof.count(m.En, m.Day, m.Cut, &ops)
	}
	expected := prof.token
	prof.token = versionToken(expected, m.Mid)
	if created {
		c.put(prof)
	} else {
		// the absorbed profile's identities and the new ones now lead here
		for _, id := range prof.ids[len(prof.ids)-len(newIDs)-absorbedIDs:] {
			c.byIdent[cacheKey(prof.tenant, id)] = prof
		}
	}

	fp := &fastPlan{pid: prof.pid, prof: prof, token: prof.token, fallback: prof.unconfirmed || created}
	if absorbed != nil && absorbed.unconfirmed {
		fp.fallback = true
	}
	if h := c.held; h != nil {
		// held: no merge, a profile Redis confirmed (or one this message
		// creates) and no sent plan on it awaiting its reply, identifiers
		// no message of this replay had before (so Redis cannot hold
		// them), a messageId not seen before
		confirmed := created || !prof.unconfirmed
		if absorbed == nil && confirmed && !in.maybeSeen && !h.noHold[in.Tenant] && !h.ids.anyOf(in.Tenant, newIDs) &&
			!h.anyInflight(in.Tenant, prof.ids) {
			fp.hold, fp.fallback = true, false
			fp.created, fp.newIDs = created, newIDs
			if created {
				fp.bornAt = in.Msg.Ts
			}
			prof.heldN++
		} else {
			// sent: what is held of its profiles goes first, and later
			// messages of the profile wait for its reply to be held
			fp.fallback = true
			in.inflight = h.markInflight(in.Tenant, prof.ids)
			in.flush = append(in.flush, cacheKey(in.Tenant, prof.pid))
			if absorbed != nil {
				in.flush = append(in.flush, cacheKey(in.Tenant, absorbed.pid))
			}
		}
	}
	prof.unconfirmed = fp.fallback
	fp.out = luaOut{
		S: outOK, P: prof.pid, Ch: changes.list,
		ID: append(luaList[string](nil), prof.ids...),
		C:  msString(prof.c, ts, m.Ts), Ls: msString(prof.s, ts, m.Ts), U: msString(prof.u, ts, m.Ts),
	}
	if created {
		fp.out.Cr = 1
	}
	if absorbed != nil {
		fp.out.Ab = luaList[string]{absorbed.pid}
	}
	if len(changes.list) > 0 || prof.trj == nil {
		prof.trj = traitsObject(&prof.traits)
	}
	fp.out.TrJ = prof.trj // shared: read only
	if m.Ns != 1 {
		fp.stored = encodeOut(&fp.out) // ([]byte: sent as it is)
	}
	if m.Ev != "" {
		fp.timeline = m.Tsp + m.Ev
	}
	fp.ops, fp.cap, fp.newIDs = ops, m.Cap, newIDs
	if fp.hold {
		return fp // never sent
	}
	fp.expected = expected
	if absorbed != nil {
		// (a copy: the arguments are built after the cache's mutex is released)
		fp.absPID, fp.absToken = absorbed.pid, absorbedToken
		fp.absIDs = append([]string(nil), absorbed.ids[:absorbedIDs]...)
	}
	fp.simple = !created && len(newIDs) == 0 && absorbed == nil && ops.dels == 0
	fp.lean = fp.simple && !c.tombstones[in.Tenant]
	return fp
}

// msString is ms in decimal: the message's own time text when they are
// equal (no allocation).
func msString(ms, ts int64, tsText string) string {
	if ms == ts {
		return tsText
	}
	return strconv.FormatInt(ms, 10)
}

// absorbInto merges a cached profile into the survivor as apply.lua's
// mergeInto does: identities move, each trait whose write is newer wins
// (its value, or its removal), times are the min/max of both.
func absorbInto(s, a *cachedProfile, ops *fieldOps, changes *changeLog) {
	for _, id := range a.ids {
		ops.set("i:"+id, "1")
		s.ids = append(s.ids, id)
	}
	for i := range a.traits.len() {
		k, at := a.traits.at(i)
		if at.meta == "" {
			continue
		}
		st := s.traits.get(k)
		if !newerMeta(at.meta, st.meta) {
			continue
		}
		ops.set("m:"+k, at.meta)
		if at.val != "" {
			if st.val != at.val {
				ops.set("t:"+k, at.val)
				changes.add(k, st.val, at.val)
			}
		} else if st.val != "" {
			ops.unset("t:" + k)
			changes.add(k, st.val, "")
		}
		s.traits.set(k, at)
	}
	s.absorbCounts(a, ops)
	s.c = pickMs(s.c, a.c, true)
	s.s = pickMs(s.s, a.s, false)
	s.u = pickMs(s.u, a.u, false)
	for f, v := range map[string]int64{"_c": s.c, "_s": s.s, "_u": s.u} {
		if v != 0 {
			ops.set(f, strconv.FormatInt(v, 10))
		}
	}
}

// pickMs is the smaller (or larger) of two set times (0 = unset).
func pickMs(x, y int64, smaller bool) int64 {
	switch {
	case x == 0:
		return y
	case y == 0:
		return x
	case (x < y) == smaller:
		return x
	}
	return y
}

func hasTrait(p *cachedProfile, k string) bool { return p.traits.get(k).val != "" }

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
