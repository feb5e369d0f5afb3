package redisx_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/user360/user360/internal/redisx"
	"github.com/user360/user360/internal/testenv"
)

// UnlinkMatching deletes every key of the pattern, over several batches
// and slots, and nothing else.
func TestUnlinkMatching(t *testing.T) {
	for _, b := range testenv.RedisBackends() {
		t.Run(b.Name, func(t *testing.T) {
			rdb := b.Client(t)
			ctx := context.Background()
			ns := testenv.RedisNamespace(t, rdb)
			for i := range 1203 {
				if err := rdb.Set(ctx, fmt.Sprintf("%sg2:{t%d}:k%d", ns, i%7, i), 1, 0).Err(); err != nil {
					t.Fatal(err)
				}
			}
			rdb.Set(ctx, ns+"g20:{t}:keep", 1, 0)
			rdb.Set(ctx, ns+":{t}:keep", 1, 0)
			if err := redisx.UnlinkMatching(ctx, rdb, ns+"g2:*"); err != nil {
				t.Fatal(err)
			}
			left, err := rdb.Keys(ctx, ns+"*").Result()
			if err != nil {
				t.Fatal(err)
			}
			if len(left) != 2 {
				t.Fatalf("left %d keys: %v", len(left), left[:min(len(left), 5)])
			}
		})
	}
}
