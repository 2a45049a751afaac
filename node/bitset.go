package node

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math/bits"
)

// bitset is a set of patient rows, one bit per row, so that cohort filters combine with word
// operations and the overlap guard compares sets with XOR and popcount.
type bitset []uint64

func newBitset(n int) bitset { return make(bitset, (n+63)/64) }

// fill sets rows 0..n-1.
func (b bitset) fill(n int) {
	for i := range b {
		b[i] = ^uint64(0)
	}
	if r := n % 64; r != 0 {
		b[len(b)-1] = (uint64(1) << r) - 1
	}
}

func (b bitset) set(i int)      { b[i>>6] |= 1 << (uint(i) & 63) }
func (b bitset) has(i int) bool { return b[i>>6]&(1<<(uint(i)&63)) != 0 }
func (b bitset) and(o bitset) {
	for i := range b {
		b[i] &= o[i]
	}
}
func (b bitset) or(o bitset) {
	for i := range b {
		b[i] |= o[i]
	}
}
func (b bitset) andNot(o bitset) {
	for i := range b {
		b[i] &^= o[i]
	}
}

func (b bitset) count() int {
	n := 0
	for _, w := range b {
		n += bits.OnesCount64(w)
	}
	return n
}

// xorCount returns |b Δ o|, stopping early once it reaches limit.
func xorCount(b, o []uint64, limit int) int {
	n := 0
	for i := range b {
		n += bits.OnesCount64(b[i] ^ o[i])
		if n >= limit {
			return n
		}
	}
	return n
}

// forEach calls f for every set row in increasing order.
func (b bitset) forEach(f func(i int)) {
	for wi, w := range b {
		for w != 0 {
			t := bits.TrailingZeros64(w)
			f(wi<<6 + t)
			w &= w - 1
		}
	}
}

// bitsDigest identifies a set for deduplication.
func bitsDigest(b []uint64) string {
	h := sha256.New()
	var buf [8]byte
	for _, w := range b {
		binary.LittleEndian.PutUint64(buf[:], w)
		h.Write(buf[:])
	}
	return hex.EncodeToString(h.Sum(nil))
}
