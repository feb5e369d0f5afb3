package identity

import (
	"hash/maphash"
	"math/bits"
	"sync/atomic"
)

// seenFilter is a Bloom filter of the messageIds a replay planned: a
// message whose id it may have met goes to the script, whose dedup marks
// decide; one it has not met cannot be a duplicate of anything this
// replay applied, so its writes may be held. A false positive only sends
// a message the slower way. Safe for concurrent use (the shards plan at
// once; two copies of one message share their identifiers, so one shard
// plans both, in order).
type seenFilter struct {
	words []atomic.Uint64
	mask  uint64 // bit index mask (a power of two bits)
	seed  maphash.Seed
}

// seenHashes is the number of bits a messageId sets.
const seenHashes = 4

// newSeenFilter sizes the filter for about expected messages at 16 bits
// each (about 0.2 % false positives), between 64 Kib and 256 Mib.
func newSeenFilter(expected int64) *seenFilter {
	n := max(expected*16, 1<<16)
	n = min(n, 1<<28)
	nbits := uint64(1) << (64 - bits.LeadingZeros64(uint64(n-1)))
	return &seenFilter{words: make([]atomic.Uint64, nbits/64), mask: nbits - 1, seed: maphash.MakeSeed()}
}

// testAndAdd adds tenant/mid and says whether it may have been added
// before.
func (f *seenFilter) testAndAdd(tenant, mid string) bool {
	a, b := f.hashes(tenant, mid)
	seen := true
	for i := range seenHashes {
		bit := (a + uint64(i)*b) & f.mask
		w, m := &f.words[bit/64], uint64(1)<<(bit%64)
		if w.Or(m)&m == 0 {
			seen = false
		}
	}
	return seen
}

// anyOf says whether the filter may hold one of keys (it adds nothing).
func (f *seenFilter) anyOf(tenant string, keys []string) bool {
	for _, k := range keys {
		if f.has(tenant, k) {
			return true
		}
	}
	return false
}

// addAll adds keys.
func (f *seenFilter) addAll(tenant string, keys []string) {
	for _, k := range keys {
		f.testAndAdd(tenant, k)
	}
}

// has says whether tenant/key may have been added.
func (f *seenFilter) has(tenant, key string) bool {
	a, b := f.hashes(tenant, key)
	for i := range seenHashes {
		bit := (a + uint64(i)*b) & f.mask
		if f.words[bit/64].Load()&(uint64(1)<<(bit%64)) == 0 {
			return false
		}
	}
	return true
}

func (f *seenFilter) hashes(tenant, key string) (a, b uint64) {
	var h maphash.Hash
	h.SetSeed(f.seed)
	h.WriteString(tenant)
	h.WriteByte(0)
	h.WriteString(key)
	x := h.Sum64()
	return x, (x >> 32) | (x << 32) | 1
}
