package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/user360/user360/internal/redisx"
	"github.com/user360/user360/schemas"
)

// MergeRecord is one merge in a profile's lineage.
type MergeRecord struct {
	Survivor  string    `json:"survivor"`
	Absorbed  []string  `json:"absorbed"`
	At        time.Time `json:"at"`
	MessageID string    `json:"messageId"`
}

// rulesFor returns the tenant's rules, or the defaults for an unknown tenant.
func (s *Store) rulesFor(tenant string) *rules {
	if r, ok := s.rules.get(tenant); ok {
		return r
	}
	return defaultRules
}

// Resolve returns the live profile id a reference points to: an identifier
// (type:value, normalised like incoming messages) or a profile id (merged
// away ids resolve to their survivor). ErrNotFound when there is none;
// ErrBadRef when the reference cannot be parsed.
func (s *Store) Resolve(ctx context.Context, tenant, ref string) (string, error) {
	r, err := ParseRef(ref)
	if err != nil {
		return "", err
	}
	if r.ProfileID {
		return s.live(ctx, tenant, r.Value)
	}
	v, err := s.rulesFor(tenant).refValue(r.Type, r.Value)
	if err != nil {
		return "", err
	}
	// An identifier key always names a live profile (merges re-point it,
	// deletes remove it, both atomically), so no alias check is needed.
	pid, err := s.rdb.Get(ctx, s.keyIdent(tenant, r.Type, v)).Result()
	if errors.Is(err, redis.Nil) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("identity: resolve: %w", err)
	}
	return pid, nil
}

// refValue normalises the value of a type:value reference like an
// incoming identifier. A value that is not one of its type (an email
// without "@", a phone number that does not parse, one too long) is
// ErrBadRef; a blocked value is ErrNotFound (it never names a profile).
func (r *rules) refValue(typ, v string) (string, error) {
	n, ok := r.normIdent(typ, v)
	if ok {
		return n, nil
	}
	switch typ {
	case TypeEmail:
		n, ok = normEmail(v)
	case TypePhone:
		n, ok = normPhone(v, r.defaultRegion)
	default:
		n, ok = strings.TrimSpace(v), true
	}
	if !ok || len(n) > maxIdentValue {
		return "", fmt.Errorf("%w: %q is not a valid %s value", ErrBadRef, v, typ)
	}
	return "", fmt.Errorf("%w: %s value is blocked", ErrNotFound, typ)
}

// live follows merge aliases to the live profile.
func (s *Store) live(ctx context.Context, tenant, pid string) (string, error) {
	for range 32 {
		pipe := s.rdb.Pipeline()
		ex := pipe.Exists(ctx, s.keyProfile(tenant, pid))
		al := pipe.Get(ctx, s.keyAlias(tenant, pid))
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return "", fmt.Errorf("identity: resolve: %w", err)
		}
		if ex.Val() == 1 {
			return pid, nil
		}
		next, err := al.Result()
		if err != nil {
			return "", ErrNotFound
		}
		pid = next
	}
	return "", ErrNotFound
}

// profileCmds are the pipelined reads of one profile.
type profileCmds struct {
	hash *redis.MapStringStringCmd
	mg   *redis.StringSliceCmd
}

func (s *Store) queueProfile(ctx context.Context, pipe redis.Pipeliner, tenant, pid string) profileCmds {
	return profileCmds{
		hash: pipe.HGetAll(ctx, s.keyProfile(tenant, pid)),
		mg:   pipe.LRange(ctx, s.keyMerges(tenant, pid), 0, -1),
	}
}

// build assembles a profile; ok is false when it does not exist.
func (s *Store) build(tenant, pid string, c profileCmds) (schemas.Profile, bool) {
	h := c.hash.Val()
	if len(h) == 0 {
		return schemas.Profile{}, false
	}
	r := s.rulesFor(tenant)
	var ids []string
	for f := range h {
		if id, ok := strings.CutPrefix(f, "i:"); ok {
			ids = append(ids, id)
		}
	}
	p := schemas.Profile{
		ID: pid, Tenant: tenant,
		Identities: identities(r, ids),
		Traits:     map[string]any{},
		TraitMeta:  map[string]schemas.TraitMeta{},
		CreatedAt:  parseMillis(h["_c"]),
		UpdatedAt:  parseMillis(h["_u"]),
		LastSeenAt: parseMillis(h["_s"]),
	}
	for f, v := range h {
		if k, ok := strings.CutPrefix(f, "t:"); ok {
			p.Traits[k] = decodeJSONValue(v)
		}
	}
	for f, v := range h {
		if k, ok := strings.CutPrefix(f, "m:"); ok {
			tv, has := p.Traits[k]
			if !has {
				continue
			}
			ms, _, _ := strings.Cut(v, "|")
			p.TraitMeta[k] = schemas.TraitMeta{Type: traitType(k, tv), UpdatedAt: parseMillis(ms)}
		}
	}
	p.UserID = userIDOf(p.Identities)
	seen := map[string]bool{}
	for _, raw := range c.mg.Val() {
		var m mergeEntry
		if json.Unmarshal([]byte(raw), &m) == nil {
			for _, a := range m.Absorbed {
				if !seen[a] {
					seen[a] = true
					p.MergedFrom = append(p.MergedFrom, a)
				}
			}
		}
	}
	sort.Strings(p.MergedFrom)
	return p, true
}

// mergeEntry is a lineage entry as apply.lua stores it.
type mergeEntry struct {
	Survivor  string          `json:"survivor"`
	Absorbed  luaList[string] `json:"absorbed"`
	At        string          `json:"at"`
	MessageID string          `json:"messageId"`
}

// GetProfile reads one live profile by id (ErrNotFound when absent).
func (s *Store) GetProfile(ctx context.Context, tenant, pid string) (schemas.Profile, error) {
	ps, err := s.GetProfiles(ctx, tenant, []string{pid})
	if err != nil {
		return schemas.Profile{}, err
	}
	if len(ps) == 0 {
		return schemas.Profile{}, ErrNotFound
	}
	return ps[0], nil
}

// GetProfiles reads profiles by id in one round trip; missing ids are
// skipped and the order is kept.
func (s *Store) GetProfiles(ctx context.Context, tenant string, ids []string) ([]schemas.Profile, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]profileCmds, len(ids))
	for i, id := range ids {
		cmds[i] = s.queueProfile(ctx, pipe, tenant, id)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("identity: read profiles: %w", err)
	}
	out := make([]schemas.Profile, 0, len(ids))
	for i, id := range ids {
		if p, ok := s.build(tenant, id, cmds[i]); ok {
			out = append(out, p)
		}
	}
	return out, nil
}

// ScanProfiles lists a tenant's profiles in the order they were created
// (the event time of the message that created each, then the id), limit
// at a time. cursor "" starts; the returned cursor is "" at the end; a
// cursor it did not return is ErrBadCursor. A full scan is stable: every
// profile that lives through it is returned exactly once.
func (s *Store) ScanProfiles(ctx context.Context, tenant, cursor string, limit int) ([]schemas.Profile, string, error) {
	if limit <= 0 {
		limit = 100
	}
	ids, next, err := redisx.ZPage(ctx, s.rdb, s.keyProfiles(tenant), cursor, limit)
	if errors.Is(err, redisx.ErrBadCursor) {
		return nil, "", fmt.Errorf("%w: %w", ErrBadCursor, err)
	}
	if err != nil {
		return nil, "", fmt.Errorf("identity: scan profiles: %w", err)
	}
	ps, err := s.GetProfiles(ctx, tenant, ids)
	if err != nil {
		return nil, "", err
	}
	return ps, next, nil
}

// ProfileEvents returns a profile's recent timeline (newest first) and its
// per-event daily counts inside the lookback window.
func (s *Store) ProfileEvents(ctx context.Context, tenant, profileID string) (schemas.ProfileEvents, error) {
	pipe := s.rdb.Pipeline()
	// the list may hold a few more than the cap (fast.lua's trimAt)
	tl := pipe.LRange(ctx, s.keyTimeline(tenant, profileID), 0, int64(s.cfg.TimelineCap)-1)
	ec := pipe.HGetAll(ctx, s.keyProfile(tenant, profileID)) // its "c:" fields
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return schemas.ProfileEvents{}, fmt.Errorf("identity: read events: %w", err)
	}
	pe := schemas.ProfileEvents{Recent: decodeTimeline(tl.Val()), DailyCounts: map[string]map[string]int64{}}
	cut := s.clock().UTC().AddDate(0, 0, -(s.cfg.CounterLookbackDays - 1)).Format("2006-01-02")
	for pf, v := range ec.Val() {
		f, ok := strings.CutPrefix(pf, "c:")
		if !ok || len(f) < 12 {
			continue
		}
		name, day := f[:len(f)-11], f[len(f)-10:]
		if day < cut {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			continue
		}
		if pe.DailyCounts[name] == nil {
			pe.DailyCounts[name] = map[string]int64{}
		}
		pe.DailyCounts[name][day] = n
	}
	return pe, nil
}

// decodeTimeline strips the 13-digit sort prefix of timeline entries.
func decodeTimeline(raw []string) []schemas.EventSummary {
	out := make([]schemas.EventSummary, 0, len(raw))
	for _, x := range raw {
		if len(x) < 13 {
			continue
		}
		var e schemas.EventSummary
		if json.Unmarshal([]byte(x[13:]), &e) == nil {
			out = append(out, e)
		}
	}
	return out
}

// Merges returns a profile's merge lineage, newest first.
func (s *Store) Merges(ctx context.Context, tenant, profileID string) ([]MergeRecord, error) {
	raw, err := s.rdb.LRange(ctx, s.keyMerges(tenant, profileID), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("identity: read merges: %w", err)
	}
	out := make([]MergeRecord, 0, len(raw))
	for _, x := range raw {
		var m mergeEntry
		if json.Unmarshal([]byte(x), &m) != nil {
			continue
		}
		out = append(out, MergeRecord{Survivor: m.Survivor, Absorbed: m.Absorbed, At: parseMillis(m.At), MessageID: m.MessageID})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.After(out[j].At) })
	return out, nil
}
