package csvimport

import "hash/maphash"

// seenSet tells whether an id was already seen in this job. It is a Bloom
// filter of fixed size (bounded memory whatever the file size): a "no" is
// exact, a "yes" is wrong with a probability below 1% up to ~7 million
// distinct ids with the default 8 MiB, so a few first-seen ids may be
// counted as updated on very large files.
type seenSet struct {
	bits []uint64
	mask uint64
	seed maphash.Seed
}

const seenHashes = 7

// newSeenSet sizes the filter for an expected number of ids (0 unknown).
func newSeenSet(expected int64) *seenSet {
	const maxBits = 1 << 27 // 16 MiB
	nbits := uint64(maxBits)
	if expected > 0 {
		want := uint64(expected) * 16
		nbits = 1 << 16
		for nbits < want && nbits < maxBits {
			nbits <<= 1
		}
	}
	return &seenSet{bits: make([]uint64, nbits/64), mask: nbits - 1, seed: maphash.MakeSeed()}
}

// add records id and reports whether it was (probably) there before.
func (s *seenSet) add(id string) bool {
	h := maphash.String(s.seed, id)
	h1, h2 := h, (h>>33)|(h<<31)|1
	present := true
	for i := uint64(0); i < seenHashes; i++ {
		b := (h1 + i*h2) & s.mask
		w, m := b>>6, uint64(1)<<(b&63)
		if s.bits[w]&m == 0 {
			present = false
			s.bits[w] |= m
		}
	}
	return present
}
