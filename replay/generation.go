package replay

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// DefaultBase is the base namespace: generation 1 of the derived state and
// the permanent home of the state that is not derived from the log
// (activation's deliveries, import jobs).
const DefaultBase = "u360"

// GenerationKey is the Redis key holding the active generation's namespace
// for a base namespace ("" = DefaultBase): "<base>:generation".
func GenerationKey(base string) string {
	if base == "" {
		base = DefaultBase
	}
	return base + ":generation"
}

// ActiveNamespace reads the active namespace of the derived state: the value
// of GenerationKey(base), or base itself when the key is absent.
func ActiveNamespace(ctx context.Context, rdb redis.UniversalClient, base string) (string, error) {
	if base == "" {
		base = DefaultBase
	}
	ns, err := rdb.Get(ctx, GenerationKey(base)).Result()
	if errors.Is(err, redis.Nil) || (err == nil && ns == "") {
		return base, nil
	}
	if err != nil {
		return "", fmt.Errorf("replay: read %s: %w", GenerationKey(base), err)
	}
	if GenerationNumber(base, ns) == 0 {
		return "", fmt.Errorf("%w: %s holds %q", ErrBadGeneration, GenerationKey(base), ns)
	}
	return ns, nil
}

// GenerationNumber is 1 for base, N for "<base>g<N>" (N ≥ 2), and 0 for a
// namespace that is not a generation of base.
func GenerationNumber(base, ns string) int {
	if base == "" {
		base = DefaultBase
	}
	if ns == base {
		return 1
	}
	rest, ok := strings.CutPrefix(ns, base+"g")
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 2 || strconv.Itoa(n) != rest {
		return 0
	}
	return n
}

// NextNamespace is the namespace of the generation after ns.
func NextNamespace(base, ns string) string {
	if base == "" {
		base = DefaultBase
	}
	n := GenerationNumber(base, ns)
	if n < 1 {
		n = 1
	}
	return base + "g" + strconv.Itoa(n+1)
}

// GroupFor is the consumer group of a stage on a generation: the stage's
// default group for the base namespace, "<group>.<ns>" otherwise, so that
// every generation has its own committed offsets.
func GroupFor(group, base, ns string) string {
	if base == "" {
		base = DefaultBase
	}
	if ns == "" || ns == base {
		return group
	}
	return group + "." + ns
}

// Activate makes ns the active generation: one unconditional SET of the
// pointer key. Live processes pick it up within their poll interval. A
// replay switches with ActivateFrom instead.
func Activate(ctx context.Context, rdb redis.UniversalClient, base, ns string) error {
	if base == "" {
		base = DefaultBase
	}
	if GenerationNumber(base, ns) == 0 {
		return fmt.Errorf("%w: %q is not a generation of %q", ErrBadGeneration, ns, base)
	}
	if err := rdb.Set(ctx, GenerationKey(base), ns, 0).Err(); err != nil {
		return fmt.Errorf("replay: set %s: %w", GenerationKey(base), err)
	}
	return nil
}

// casScript sets the pointer to ARGV[2] only if it holds ARGV[1] (absent
// or empty = the base, ARGV[3]); it returns {1, previous} or {0, current}.
var casScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if not cur or cur == '' then cur = ARGV[3] end
if cur ~= ARGV[1] then return {0, cur} end
redis.call('SET', KEYS[1], ARGV[2])
return {1, cur}
`)

// ActivateFrom makes ns the active generation only if the pointer still
// names from (the generation the caller planned from): a compare-and-set.
// Otherwise it leaves the pointer alone and returns ErrGenerationMoved.
func ActivateFrom(ctx context.Context, rdb redis.UniversalClient, base, from, ns string) error {
	if base == "" {
		base = DefaultBase
	}
	if GenerationNumber(base, ns) == 0 {
		return fmt.Errorf("%w: %q is not a generation of %q", ErrBadGeneration, ns, base)
	}
	key := GenerationKey(base)
	got, err := casScript.Run(ctx, rdb, []string{key}, from, ns, base).Slice()
	if err != nil {
		return fmt.Errorf("replay: set %s: %w", key, err)
	}
	if len(got) != 2 {
		return fmt.Errorf("replay: set %s: unexpected reply %v", key, got)
	}
	if ok, _ := got[0].(int64); ok != 1 {
		return fmt.Errorf("%w: %s holds %v, not %s as when the replay started: not switching to %s", ErrGenerationMoved, key, got[1], from, ns)
	}
	return nil
}
