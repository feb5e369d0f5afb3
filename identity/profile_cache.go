package identity

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"sync"
)

// profileCache is a processor's copy of the profiles it wrote last: their
// identities, traits with the metadata of the write that won, times, and
// the version token of the Redis hash (field "_v"). It lets the processor
// compute a message's effect in Go and send Redis only the writes
// (fast.lua), which applies them only if the profile still carries the
// expected token. Redis stays the authority: a stale entry costs a retry
// through apply.lua, never a wrong write.
//
// Tokens chain: a write of message mid on a profile whose token is prev
// sets token(prev, mid). So the processor can plan several messages of one
// profile ahead (each expecting the token the previous one sets) in one
// pipeline, and a plan built on a state that Redis does not hold can never
// match by accident.
//
// Every method takes the mutex: the prepare stage plans (and updates
// entries speculatively) while the apply stage fills entries from
// apply.lua's replies and drops the entries of messages that failed.
type profileCache struct {
	mu      sync.Mutex
	max     int
	byPID   map[string]*cachedProfile // tenant "\x00" pid
	byIdent map[string]*cachedProfile // tenant "\x00" "type:value"
	// pending counts in-flight apply.lua messages per identifier: their
	// outcome is unknown until the reply, so messages with these
	// identifiers are not planned on the cache meanwhile.
	pending map[string]int
	// held: the write-behind of a replay (held.go), nil otherwise
	held *heldWrites
	// tombstones: the tenants whose last script reply said a deletion
	// happened lately (their "tbn" mark): simple plans of the others leave
	// out what only the tombstone checks read (lean plans, fast.lua)
	tombstones map[string]bool
}

// cachedProfile is one profile as the cache knows it.
type cachedProfile struct {
	tenant string
	pid    string
	token  string
	ids    []string // "type:value"
	traits traitList
	counts counterList // daily event counters (profile_counts.go)
	td     string      // "_td": the day of the counters' last trim
	// trj: the traits as one JSON object, as the last plan built it (nil
	// = to build); a plan that changes no trait value reuses it
	trj     json.RawMessage
	c, s, u int64 // created, last seen, updated (ms); 0 = unset
	// unconfirmed: a plan created the profile (or merged one such into it)
	// and Redis has not confirmed it yet; plans on it carry their message
	// so that the full logic applies them if it does not hold.
	unconfirmed bool
	// heldN: messages of the profile whose writes are held (held.go); the
	// entry is not evicted while there are any
	heldN int
}

// traitState is a trait's JSON value ("" = absent) and the "<ms>|<mid>"
// of the write that won ("" = never written).
type traitState struct {
	val  string
	meta string
}

// newProfileCache returns a cache of at most max profiles (max <= 0: a
// cache that never holds anything, so every message takes apply.lua).
func newProfileCache(max int) *profileCache {
	return &profileCache{
		max:     max,
		byPID:   map[string]*cachedProfile{},
		byIdent: map[string]*cachedProfile{},
		pending: map[string]int{},
	}
}

// versionToken is the "_v" a write of message mid sets on a profile whose
// token was prev (apply.lua and fast.lua compute the same).
func versionToken(prev, mid string) string {
	var in [96]byte
	h := sha1.Sum(append(append(append(in[:0], prev...), '|'), mid...))
	var out [16]byte
	hex.Encode(out[:], h[:8])
	return string(out[:])
}

func cacheKey(tenant, s string) string { return tenant + "\x00" + s }

// put stores p (replacing the entry of the same profile) and indexes its
// identities; the caller holds the mutex.
func (c *profileCache) put(p *cachedProfile) {
	if c.max <= 0 {
		return
	}
	k := cacheKey(p.tenant, p.pid)
	if old, ok := c.byPID[k]; ok {
		c.unindex(old)
	} else if len(c.byPID) >= c.max {
		// evict one entry; map iteration starts at a random place
		for _, victim := range c.byPID {
			if victim.heldN > 0 {
				continue // its writes are not in Redis yet
			}
			c.remove(victim)
			break
		}
	}
	c.byPID[k] = p
	for _, id := range p.ids {
		c.byIdent[cacheKey(p.tenant, id)] = p
	}
}

// unindex removes p's identities from the index where they point to p.
func (c *profileCache) unindex(p *cachedProfile) {
	for _, id := range p.ids {
		k := cacheKey(p.tenant, id)
		if c.byIdent[k] == p {
			delete(c.byIdent, k)
		}
	}
}

// remove drops p; the caller holds the mutex.
func (c *profileCache) remove(p *cachedProfile) {
	k := cacheKey(p.tenant, p.pid)
	if c.byPID[k] == p {
		delete(c.byPID, k)
	}
	c.unindex(p)
}

// confirm clears a profile's unconfirmed mark once a plan that created it
// (or merged an unconfirmed one into it) applied as planned, unless later
// plans on it are still in flight (its token is no longer the one this
// plan set): they built on their own speculation, which Redis has not
// confirmed yet, and the last of them confirms it.
func (c *profileCache) confirm(p *cachedProfile, token string) {
	c.mu.Lock()
	if p.token == token {
		p.unconfirmed = false
	}
	c.mu.Unlock()
}

// noteTombstones records what a script reply said of the tenant's
// deletions.
func (c *profileCache) noteTombstones(tenant string, has bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if has == c.tombstones[tenant] {
		return
	}
	if c.tombstones == nil {
		c.tombstones = map[string]bool{}
	}
	if has {
		c.tombstones[tenant] = true
	} else {
		delete(c.tombstones, tenant)
	}
}

// drop forgets a profile by id.
func (c *profileCache) drop(tenant, pid string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.byPID[cacheKey(tenant, pid)]; ok {
		c.remove(p)
	}
}

// markPending notes that an apply.lua message with these identifiers is in
// flight: it drops the cached profiles the message may change and makes
// their identifiers and the message's pending (messages with them are not
// planned until the reply). It returns what clearPending must release.
func (c *profileCache) markPending(tenant string, ids []string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	marked := append([]string(nil), ids...)
	for _, id := range ids {
		if p, ok := c.byIdent[cacheKey(tenant, id)]; ok {
			for _, o := range p.ids {
				if !hasString(marked, o) {
					marked = append(marked, o)
				}
			}
			c.remove(p)
		}
	}
	countIDs(c.pending, tenant, marked, 1)
	return marked
}

// clearInflight undoes heldWrites.markInflight once the plan's reply is in.
func (c *profileCache) clearInflight(tenant string, ids []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	countIDs(c.held.inflight, tenant, ids, -1)
}

// clearPending undoes markPending once the message's reply is in.
func (c *profileCache) clearPending(tenant string, ids []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	countIDs(c.pending, tenant, ids, -1)
}

// countIDs adds d to the count of each identifier (cacheKey) in counts,
// deleting those that reach zero: the pending and in-flight identifiers
// of unanswered messages.
func countIDs(counts map[string]int, tenant string, ids []string, d int) {
	for _, id := range ids {
		k := cacheKey(tenant, id)
		if n := counts[k] + d; n > 0 {
			counts[k] = n
		} else {
			delete(counts, k)
		}
	}
}

// fill stores the state apply.lua returned for an applied message: the
// profile after it, its token, trait metadata and event counters; absorbed
// profiles are forgotten.
func (c *profileCache) fill(tenant string, out *luaOut, token string, metas, counts []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, a := range out.Ab {
		if p, ok := c.byPID[cacheKey(tenant, a)]; ok {
			c.remove(p)
		}
	}
	if c.max <= 0 || token == "" || out.P == "" {
		return
	}
	p := &cachedProfile{
		tenant: tenant, pid: out.P, token: token,
		ids:    append([]string(nil), out.ID...),
		traits: newTraitList(len(out.Tr) + 2),
		c:      parseMs(out.C), s: parseMs(out.Ls), u: parseMs(out.U),
	}
	for _, kv := range out.Tr {
		if len(kv) == 2 {
			p.traits.set(kv[0], traitState{val: kv[1]})
		}
	}
	for i := 0; i+1 < len(metas); i += 2 {
		t := p.traits.get(metas[i])
		t.meta = metas[i+1]
		p.traits.set(metas[i], t)
	}
	p.fillCounts(counts)
	c.put(p)
}

// size is the number of cached profiles.
func (c *profileCache) size() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.byPID)
}

// parseMs reads a decimal ms timestamp ("" or junk = 0).
func parseMs(s string) int64 {
	var n int64
	if s == "" {
		return 0
	}
	for i := 0; i < len(s); i++ {
		d := s[i]
		if d < '0' || d > '9' {
			return 0
		}
		n = n*10 + int64(d-'0')
	}
	return n
}

// heldBefore returns the profiles (cacheKey) whose held writes must reach
// Redis before a message that goes to apply.lua: those its identifiers
// lead to and the one it deletes. After a deletion nothing more of the
// tenant is held (fast.lua's tombstone checks would be skipped).
func (c *profileCache) heldBefore(tenant string, m *scriptMsg) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var keys []string
	for _, id := range m.Ids {
		if p, ok := c.byIdent[cacheKey(tenant, id)]; ok {
			keys = append(keys, cacheKey(tenant, p.pid))
		}
	}
	if m.K != "apply" || m.Dp != "" {
		c.held.noHold[tenant] = true
		if m.Dp != "" {
			keys = append(keys, cacheKey(tenant, m.Dp))
		}
	}
	return keys
}

// released notes that held profiles were written.
func (c *profileCache) released(hps []*heldProfile) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, hp := range hps {
		hp.prof.heldN -= hp.n
	}
}
