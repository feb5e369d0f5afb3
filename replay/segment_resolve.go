package replay

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// resolver finds the live profile of events-log records, read-only, from
// the identity keys of the live namespace (layout: docs/design/identity.md):
// "<ns>:{<t>}:id:<type>:<value>" → profile id, "<ns>:{<t>}:tb:<type>:<value>"
// → deletion time (ms), "<ns>:{<t>}:p:<pid>" the profile hash,
// "<ns>:{<t>}:al:<pid>" → the survivor of a merged-away profile. Every key
// of a tenant shares its hash tag, so one MGET reads a whole batch.
type resolver struct {
	rdb    redis.UniversalClient
	prefix string // "<ns>:{<tenant>}:"
}

func newResolver(rdb redis.UniversalClient, ns, tenant string) *resolver {
	return &resolver{rdb: rdb, prefix: ns + ":{" + tenant + "}:"}
}

// Identifier types of track, page and screen records (identity's
// TypeUserID and TypeAnonymousID): the user id wins when both name a
// profile, as identity's per-type limits decide.
const (
	identUser = "user_id"
	identAnon = "anonymous_id"
)

// resolve returns the profile id each record was applied to ("" when its
// identifiers name no live profile, or a deletion of one of them is not
// older than the event: identity ignored it), in one MGET.
func (r *resolver) resolve(ctx context.Context, ms []matched) ([]string, error) {
	if len(ms) == 0 {
		return nil, nil
	}
	keys := make([]string, 0, 4*len(ms))
	for _, m := range ms {
		keys = append(keys,
			r.prefix+"id:"+identUser+":"+m.userID, r.prefix+"id:"+identAnon+":"+m.anonID,
			r.prefix+"tb:"+identUser+":"+m.userID, r.prefix+"tb:"+identAnon+":"+m.anonID)
	}
	vals, err := r.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, fmt.Errorf("replay: resolve identifiers: %w", err)
	}
	out := make([]string, len(ms))
	for i, m := range ms {
		v := vals[4*i : 4*i+4]
		has := []bool{m.userID != "", m.anonID != ""}
		tomb := false
		for j := range 2 {
			if t, ok := v[2+j].(string); ok && has[j] {
				del, _ := strconv.ParseInt(t, 10, 64)
				if del >= m.at.UnixMilli() {
					tomb = true
				}
			}
		}
		if tomb {
			continue
		}
		for j := range 2 {
			if pid, ok := v[j].(string); ok && has[j] && pid != "" {
				out[i] = pid
				break
			}
		}
	}
	return out, nil
}

// maxAliasHops is how far merge aliases are followed (as identity does).
const maxAliasHops = 32

// live maps profile ids to the live profile they are or were merged into
// ("" for a deleted profile), in pipelined rounds (one per merge hop).
func (r *resolver) live(ctx context.Context, pids []string) (map[string]string, error) {
	out := make(map[string]string, len(pids))
	cur := make(map[string]string, len(pids)) // original → candidate
	for _, p := range pids {
		cur[p] = p
	}
	for hop := 0; len(cur) > 0 && hop < maxAliasHops; hop++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		pipe := r.rdb.Pipeline()
		type q struct {
			ex *redis.IntCmd
			al *redis.StringCmd
		}
		qs := make(map[string]q, len(cur))
		for orig, c := range cur {
			qs[orig] = q{pipe.Exists(ctx, r.prefix+"p:"+c), pipe.Get(ctx, r.prefix+"al:"+c)}
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("replay: follow merges: %w", err)
		}
		for orig, c := range cur {
			switch next, err := qs[orig].al.Result(); {
			case qs[orig].ex.Val() == 1:
				out[orig] = c
				delete(cur, orig)
			case err == nil && next != "":
				cur[orig] = next
			default:
				out[orig] = "" // deleted
				delete(cur, orig)
			}
		}
	}
	for orig := range cur {
		out[orig] = ""
	}
	return out, nil
}
