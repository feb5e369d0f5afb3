package replay

import "time"

// SetLockTTL changes the target lock's TTL for a test; the returned
// function restores it.
func SetLockTTL(d time.Duration) func() {
	old := lockTTL
	lockTTL = d
	return func() { lockTTL = old }
}
