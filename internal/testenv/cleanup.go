package testenv

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"
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
	ctx := context.Background()
	iter := rdb.Scan(ctx, 0, prefix+"*", 20000).Iterator()
	var batch []string
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 500 {
			rdb.Unlink(ctx, batch...)
			batch = batch[:0]
		}
	}
	if len(batch) > 0 {
		rdb.Unlink(ctx, batch...)
	}
}
