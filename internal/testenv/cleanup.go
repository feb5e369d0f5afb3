package testenv

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/user360/user360/internal/redisx"
)

// RedisNamespace returns a fresh namespace whose keys (every key starting
// with it, generations included) are unlinked when the test ends, so the
// shared server does not grow from run to run. It never flushes a database.
func RedisNamespace(t testing.TB, rdb redis.UniversalClient) string {
	ns := Namespace(t)
	t.Cleanup(func() { CleanPrefix(rdb, ns) })
	return ns
}

// CleanPrefix unlinks every key that starts with prefix.
func CleanPrefix(rdb redis.UniversalClient, prefix string) {
	_ = redisx.UnlinkMatching(context.Background(), rdb, prefix+"*")
}
