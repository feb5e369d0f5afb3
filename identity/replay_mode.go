package identity

// SkipStoredOutputs makes the processor write "1" (already published) as
// each message's dedup value instead of its output, and skip the
// mark-as-published step. For a replay into a new generation, which
// publishes nothing: it saves a large write per message, and the dedup marks
// still make every later redelivery of those messages a no-op.
func (p *Processor) SkipStoredOutputs() { p.noStore = true }

// ShareProfileCache makes p plan from q's profile cache instead of its own
// (see profile_cache.go): for processors that take turns on the same
// people, such as a replay's shards, whose batches assign a profile to any
// shard. Sharing is always correct (every plan is checked against the
// profile's version token); it only saves plans that would not hold.
func (p *Processor) ShareProfileCache(q *Processor) { p.cache = q.cache }

// CachedProfileOf is the id of the profile that an identifier of a tenant
// leads to in the processor's profile cache, "" when the cache does not
// know it. identType is a configured type ("user_id", "anonymous_id",
// "email", …), value as a message carries it (normalised here as for a
// message). A replay splits its batches with it, so that records of one
// profile go to one shard even when they share no identifier.
func (p *Processor) CachedProfileOf(tenant, identType, value string) string {
	r, ok := p.store.rules.get(tenant)
	if !ok {
		return ""
	}
	typ := normType(identType)
	v, ok := r.normIdent(typ, value)
	if !ok {
		return ""
	}
	c := p.cache
	key := cacheKey(tenant, ident{typ, v}.String())
	c.mu.Lock()
	defer c.mu.Unlock()
	if prof := c.byIdent[key]; prof != nil {
		return prof.pid
	}
	return ""
}
