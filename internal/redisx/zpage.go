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

// zrangeAfterScript returns up to ARGV[3] members of the sorted set
// KEYS[1] with their scores, from the first that comes after (ARGV[1],
// ARGV[2]) in the set's own order (score, then member bytes) or, with
// ARGV[4] "1", in the reverse order; ARGV[1] "" starts at the first. The
// cursor member need not be in the set any more: its place is found by
// counting what comes before it (a binary search among the members of
// equal score), so a member that stays in the set with the same score
// through a whole scan is returned exactly once. Member "" is the least of
// its score: in the set's order the scan starts at that score, in reverse
// after it.
var zrangeAfterScript = redis.NewScript(`
local key, n, desc = KEYS[1], tonumber(ARGV[3]), ARGV[4] == '1'
local rng = desc and 'ZREVRANGE' or 'ZRANGE'
local start = 0
if ARGV[1] ~= '' then
  local s, m = ARGV[1], ARGV[2]
  local cur = m ~= '' and redis.call('ZSCORE', key, m)
  if cur and tonumber(cur) == tonumber(s) then
    start = redis.call(desc and 'ZREVRANK' or 'ZRANK', key, m) + 1
  else
    -- a comes before b among members of equal score: byte order, as Redis
    -- orders them (Lua's < would follow the locale), reversed for desc
    local function before(a, b)
      for i = 1, math.min(#a, #b) do
        local x, y = string.byte(a, i), string.byte(b, i)
        if x ~= y then return (x < y) ~= desc end
      end
      if desc then return #a > #b end
      return #a < #b
    end
    local lo
    if desc then lo = redis.call('ZCOUNT', key, '(' .. s, '+inf') else lo = redis.call('ZCOUNT', key, '-inf', '(' .. s) end
    local hi = lo + redis.call('ZCOUNT', key, s, s)
    while lo < hi do
      local mid = math.floor((lo + hi) / 2)
      if before(redis.call(rng, key, mid, mid)[1], m) then lo = mid + 1 else hi = mid end
    end
    start = lo
  end
end
return redis.call(rng, key, start, start + n - 1, 'WITHSCORES')
`)

// ZRangeAfter returns up to n members of the sorted set key and their
// scores, in the set's order (by score, then by member bytes) or, with
// desc, in reverse, from the first that comes after (score, member)
// (score "" starts at the first). The position need not be a member any
// more: a member that stays in the set with the same score through a whole
// scan is returned exactly once. Member "" is the least of its score. The
// building block of ZPage, and of listings newest first.
func ZRangeAfter(ctx context.Context, rdb redis.Scripter, key string, desc bool, score, member string, n int) ([]string, []float64, error) {
	dir := "0"
	if desc {
		dir = "1"
	}
	res, err := zrangeAfterScript.Run(ctx, rdb, []string{key}, score, member, n, dir).StringSlice()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, nil, fmt.Errorf("redisx: page %s: %w", key, err)
	}
	if len(res)%2 != 0 {
		return nil, nil, fmt.Errorf("redisx: page %s: odd reply of %d items", key, len(res))
	}
	members := make([]string, 0, len(res)/2)
	scores := make([]float64, 0, len(res)/2)
	for i := 0; i < len(res); i += 2 {
		f, err := strconv.ParseFloat(res[i+1], 64)
		if err != nil {
			return nil, nil, fmt.Errorf("redisx: page %s: score %q: %w", key, res[i+1], err)
		}
		members = append(members, res[i])
		scores = append(scores, f)
	}
	return members, scores, nil
}

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
	members, scores, err := ZRangeAfter(ctx, rdb, key, false, score, member, limit+1)
	if err != nil {
		return nil, "", err
	}
	if len(members) <= limit {
		return members, "", nil
	}
	return members[:limit], ZCursor(scores[limit-1], members[limit-1]), nil
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
