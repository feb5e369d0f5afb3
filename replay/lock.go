package replay

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/user360/user360/internal/wait"
)

// lockTTL is how long the target lock outlives its last renewal (a crashed
// replay's lock expires after it); it is renewed every lockTTL/3.
var lockTTL = 30 * time.Second

// renewScript extends the lock's TTL if token still holds it.
// KEYS: lock. ARGV: token value, ttl in ms.
var renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`)

// releaseScript deletes the lock if token still holds it.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// LockKey is the key of the lock a replay holds on its target generation
// for its whole run: "<base>:replay:lock:<target>" (base "" =
// DefaultBase), global, not tenant-scoped.
func LockKey(base, target string) string {
	if base == "" {
		base = DefaultBase
	}
	return base + ":replay:lock:" + target
}

// targetLock is a replay's lock on its target generation.
type targetLock struct {
	rdb   redis.UniversalClient
	key   string
	value string // token, start time, host and pid of the holder
	log   zerolog.Logger
}

// acquireLock takes the target's lock (SET NX PX) or refuses with
// ErrTargetLocked, naming the holder.
func acquireLock(ctx context.Context, rdb redis.UniversalClient, base, target string, log zerolog.Logger) (*targetLock, error) {
	tok, err := newToken()
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	l := &targetLock{rdb: rdb, key: LockKey(base, target), log: log,
		value: fmt.Sprintf("token=%s started=%s host=%s pid=%d", tok, time.Now().UTC().Format(time.RFC3339), host, os.Getpid())}
	ok, err := rdb.SetNX(ctx, l.key, l.value, lockTTL).Result()
	if err != nil {
		return nil, fmt.Errorf("replay: lock %s: %w", l.key, err)
	}
	if !ok {
		return nil, lockedError(ctx, rdb, l.key)
	}
	return l, nil
}

// lockedError names the holder of a lock that is taken.
func lockedError(ctx context.Context, rdb redis.UniversalClient, key string) error {
	holder, err := rdb.Get(ctx, key).Result()
	switch {
	case errors.Is(err, redis.Nil):
		holder = "a replay that just ended: try again"
	case err != nil:
		holder = "unknown holder: " + err.Error()
	}
	return fmt.Errorf("%w: %s is held by %s; wait for that replay to end (a crashed one's lock expires %s after its last renewal)", ErrTargetLocked, key, holder, lockTTL)
}

// newToken is a random lock token.
func newToken() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("replay: lock token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// hold renews the lock until stop is called. The returned context is
// cancelled with a cause wrapping ErrLockLost when the lock is found lost;
// stop ends the renewal and releases the lock if this replay still holds it.
func (l *targetLock) hold(ctx context.Context) (context.Context, func() error) {
	lctx, lost := context.WithCancelCause(ctx)
	rctx, stopRenew := context.WithCancel(lctx)
	done := make(chan struct{})
	go func() { defer close(done); l.renew(rctx, lost) }()
	return lctx, func() error {
		stopRenew()
		<-done
		lost(nil)
		return l.release(ctx)
	}
}

// renew extends the lock every lockTTL/3 until ctx ends; it calls lost
// when the lock no longer holds this replay's token. A failed renewal is
// retried at the next tick (the TTL leaves two more).
func (l *targetLock) renew(ctx context.Context, lost context.CancelCauseFunc) {
	for wait.Sleep(ctx, lockTTL/3) {
		n, err := renewScript.Run(ctx, l.rdb, []string{l.key}, l.value, lockTTL.Milliseconds()).Int64()
		if err != nil {
			if ctx.Err() == nil {
				l.log.Warn().Err(err).Str("key", l.key).Msg("replay: renewing the target lock failed")
			}
			continue
		}
		if n == 0 {
			lost(fmt.Errorf("%w: %s no longer holds %s (expired or taken over)", ErrLockLost, l.key, l.value))
			return
		}
	}
}

// release deletes the lock if it still holds this replay's token; it runs
// even when ctx is cancelled.
func (l *targetLock) release(ctx context.Context) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := releaseScript.Run(rctx, l.rdb, []string{l.key}, l.value).Err(); err != nil {
		return fmt.Errorf("replay: release %s: %w", l.key, err)
	}
	return nil
}

// checkUnlocked refuses a generation that a replay is building.
func checkUnlocked(ctx context.Context, rdb redis.UniversalClient, base, target string) error {
	key := LockKey(base, target)
	n, err := rdb.Exists(ctx, key).Result()
	if err != nil {
		return fmt.Errorf("replay: check %s: %w", key, err)
	}
	if n > 0 {
		return lockedError(ctx, rdb, key)
	}
	return nil
}
