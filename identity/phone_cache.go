package identity

import "sync"

// phoneCache memoises normPhone: phonenumbers.Parse and IsValidNumber
// (regular expressions over the metadata) cost several microseconds, and a
// message's phone is normalised twice (as a trait, then as an identifier),
// and the same users' numbers recur. normPhone is a pure function of
// (value, region), so a cached answer is the answer.
type phoneCache struct {
	mu sync.Mutex
	m  map[phoneKey]phoneResult
}

type phoneKey struct{ v, region string }

type phoneResult struct {
	n  string
	ok bool
}

// phoneCacheMax bounds the cache; it is emptied when full.
const phoneCacheMax = 8192

// phoneCacheKeyMax: longer values are not cached (they are not phone
// numbers, and would bloat the cache).
const phoneCacheKeyMax = 64

var phones = phoneCache{m: make(map[phoneKey]phoneResult)}

func (c *phoneCache) get(k phoneKey) (phoneResult, bool) {
	c.mu.Lock()
	r, ok := c.m[k]
	c.mu.Unlock()
	return r, ok
}

func (c *phoneCache) put(k phoneKey, r phoneResult) {
	c.mu.Lock()
	if len(c.m) >= phoneCacheMax {
		clear(c.m)
	}
	c.m[k] = r
	c.mu.Unlock()
}
