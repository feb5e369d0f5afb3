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

// Activate makes ns the active generation: one SET of the pointer key, the
// switch-over itself. Live processes pick it up within their poll interval.
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
