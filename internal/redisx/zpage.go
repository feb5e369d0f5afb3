package redisx

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// ErrBadCursor is returned by ZPage for a cursor it did not return.
var ErrBadCursor = errors.New("redisx: bad cursor")

// zpageScript returns up to ARGV[3] members of the sorted set KEYS[1] with
// their scores, from the first that sorts after (ARGV[1], ARGV[2]) in the
// set's own order (score, then member bytes); ARGV[1] "" starts at the
// first member. The cursor member need not be in the set any more: its
// place is found by counting what sorts before it (a binary search among
// the members of equal score), so a member that stays in the set with the
// same score through a whole scan is returned exactly once.
var zpageScript = redis.NewScript(`
local key, n = KEYS[1], tonumber(ARGV[3])
local start = 0
if ARGV[1] ~= '' then
  local s, m = ARGV[1], ARGV[2]
  local cur = redis.call('ZSCORE', key, m)
  if cur and tonumber(cur) == tonumber(s) then
    start = redis.call('ZRANK', key, m) + 1
  else
    -- byte order, as Redis orders members of equal score (Lua's < would
    -- follow the locale)
    local function less(a, b)
      for i = 1, math.min(#a, #b) do
        local x, y = string.byte(a, i), string.byte(b, i)
        if x ~= y then return x < y end
      end
      return #a < #b
    end
    local lo = redis.call('ZCOUNT', key, '-inf', '(' .. s)
    local hi = lo + redis.call('ZCOUNT', key, s, s)
    while lo < hi do
      local mid = math.floor((lo + hi) / 2)
      if less(redis.call('ZRANGE', key, mid, mid)[1], m) then lo = mid + 1 else hi = mid end
    end
    start = lo
  end
end
return redis.call('ZRANGE', key, start, start + n - 1, 'WITHSCORES')
`)

// ZPage reads the sorted set key a page at a time in its own order (by
// score, then by member), limit members per call. cursor "" starts; the
// returned cursor is "" at the end. A member that stays in the set with
// the same score through a whole scan is returned exactly once, whatever
// is added or removed meanwhile. A cursor is "<score>:<member>"; one
// without ":" is taken as a member of score 0 (the cursors of sets whose
// members all had score 0). Anything else is ErrBadCursor.
func ZPage(ctx context.Context, rdb redis.Scripter, key, cursor string, limit int) ([]string, string, error) {
	score, member, err := parseZCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	res, err := zpageScript.Run(ctx, rdb, []string{key}, score, member, limit+1).StringSlice()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, "", fmt.Errorf("redisx: page %s: %w", key, err)
	}
	if len(res)%2 != 0 {
		return nil, "", fmt.Errorf("redisx: page %s: odd reply of %d items", key, len(res))
	}
	members := make([]string, 0, len(res)/2)
	for i := 0; i < len(res); i += 2 {
		members = append(members, res[i])
	}
	if len(members) <= limit {
		return members, "", nil
	}
	members = members[:limit]
	last := 2 * (limit - 1)
	s, err := strconv.ParseFloat(res[last+1], 64)
	if err != nil {
		return nil, "", fmt.Errorf("redisx: page %s: score %q: %w", key, res[last+1], err)
	}
	return members, ZCursor(s, res[last]), nil
}

// ZCursor is the cursor of ZPage that resumes after (score, member).
func ZCursor(score float64, member string) string {
	return strconv.FormatFloat(score, 'f', -1, 64) + ":" + member
}

// parseZCursor splits a cursor into the script's score and member
// arguments ("" score: from the start).
func parseZCursor(c string) (score, member string, err error) {
	if c == "" {
		return "", "", nil
	}
	s, m, ok := strings.Cut(c, ":")
	if !ok {
		return "0", c, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return "", "", fmt.Errorf("%w: %q", ErrBadCursor, c)
	}
	return strconv.FormatFloat(f, 'f', -1, 64), m, nil
}
