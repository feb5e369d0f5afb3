package redisx

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// UnlinkMatching deletes every key matching pattern (SCAN, then UNLINK in
// batches of 500), for clearing a namespace without flushing a database. On
// a Redis Cluster it scans every master.
func UnlinkMatching(ctx context.Context, rdb redis.UniversalClient, pattern string) error {
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			return unlinkMatching(ctx, node, pattern)
		})
	}
	return unlinkMatching(ctx, rdb, pattern)
}

func unlinkMatching(ctx context.Context, rdb redis.Cmdable, pattern string) error {
	iter := rdb.Scan(ctx, 0, pattern, 10000).Iterator()
	batch := make([]string, 0, 500)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := unlinkBatch(ctx, rdb, batch)
		batch = batch[:0]
		return err
	}
	for iter.Next(ctx) {
		if batch = append(batch, iter.Val()); len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return fmt.Errorf("redisx: unlink %s: %w", pattern, err)
			}
		}
	}
	if err := iter.Err(); err != nil {
		return fmt.Errorf("redisx: scan %s: %w", pattern, err)
	}
	if err := flush(); err != nil {
		return fmt.Errorf("redisx: unlink %s: %w", pattern, err)
	}
	return nil
}

// unlinkBatch unlinks keys one per command in one pipeline: a cluster node
// refuses a multi-key UNLINK whose keys live in several slots.
func unlinkBatch(ctx context.Context, rdb redis.Cmdable, keys []string) error {
	_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.Unlink(ctx, k)
		}
		return nil
	})
	return err
}
