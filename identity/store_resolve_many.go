package identity

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// RecordIdentifiers are the identifiers of a track, page or screen record
// and its event time, for ResolveRecords.
type RecordIdentifiers struct {
	UserID, AnonymousID string
	At                  time.Time
}

// ResolveRecords returns, for each record, the profile its identifiers
// name now: the user id's, else the anonymous id's ("" when neither names
// a profile, or when one of them was deleted at or after the record's
// time, as apply.lua then ignored it). One MGET for the whole batch; an
// identifier key always names a live profile.
func (s *Store) ResolveRecords(ctx context.Context, tenant string, recs []RecordIdentifiers) ([]string, error) {
	if len(recs) == 0 {
		return nil, nil
	}
	keys := make([]string, 0, 4*len(recs))
	for _, r := range recs {
		keys = append(keys,
			s.keyIdent(tenant, TypeUserID, r.UserID), s.keyIdent(tenant, TypeAnonymousID, r.AnonymousID),
			s.keyTomb(tenant, TypeUserID, r.UserID), s.keyTomb(tenant, TypeAnonymousID, r.AnonymousID))
	}
	vals, err := s.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, fmt.Errorf("identity: resolve records: %w", err)
	}
	out := make([]string, len(recs))
	for i, r := range recs {
		v := vals[4*i : 4*i+4]
		has := [2]bool{r.UserID != "", r.AnonymousID != ""}
		tomb := false
		for j := range 2 {
			if t, ok := v[2+j].(string); ok && has[j] {
				if del, _ := strconv.ParseInt(t, 10, 64); del >= r.At.UnixMilli() {
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

// LiveProfiles maps profile ids to the live profile they are or were
// merged into ("" for a deleted one), following merge aliases for all of
// them together: one pipelined round per hop (at most 32, as Resolve).
func (s *Store) LiveProfiles(ctx context.Context, tenant string, pids []string) (map[string]string, error) {
	out := make(map[string]string, len(pids))
	cur := make(map[string]string, len(pids)) // original → candidate
	for _, p := range pids {
		cur[p] = p
	}
	type reads struct {
		ex *redis.IntCmd
		al *redis.StringCmd
	}
	for hop := 0; len(cur) > 0 && hop < 32; hop++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		pipe := s.rdb.Pipeline()
		qs := make(map[string]reads, len(cur))
		for orig, c := range cur {
			qs[orig] = reads{pipe.Exists(ctx, s.keyProfile(tenant, c)), pipe.Get(ctx, s.keyAlias(tenant, c))}
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("identity: follow merges: %w", err)
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
