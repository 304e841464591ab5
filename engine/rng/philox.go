// Package rng defines the one random stream the engine uses for dropout
// masks: Philox4x32-10, counter-based, so that any element of a mask can be
// computed on its own and the CPU and CUDA backends produce the same mask bit
// for bit from the same (seed, offset).
//
// The stream, which every backend implements exactly as written here:
//
//   - Philox4x32-10 is the Random123 / curand definition: a 128-bit counter
//     (c0, c1, c2, c3) and a 64-bit key (k0, k1), all uint32 words. One round
//     computes, with 64-bit products split into high and low 32-bit halves,
//     hi0:lo0 = M0·c0 and hi1:lo1 = M1·c2, then
//     (c0, c1, c2, c3) ← (hi1 ⊕ c1 ⊕ k0, lo1, hi0 ⊕ c3 ⊕ k1, lo0),
//     with M0 = 0xD2511F53 and M1 = 0xCD9E8D57. Between consecutive rounds
//     the key is bumped: k0 += 0x9E3779B9, k1 += 0xBB67AE85 (mod 2³²). Ten
//     rounds are applied (nine bumps); the output is the final counter.
//   - For element i ≥ 0 of a stream keyed by seed at counter offset, the
//     counter is (lo32(offset + i/4), hi32(offset + i/4), 0, 0) and the key
//     is (lo32(seed), hi32(seed)); the sum offset + i/4 wraps mod 2⁶⁴ and
//     i/4 is integer division.
//   - The element takes word i%4 of the output and maps it to
//     u = float32(word >> 8) · 2⁻²⁴, exactly representable, in [0, 1).
//   - A dropout mask with drop probability p keeps element i (mask 1) iff
//     u ≥ p, and drops it (mask 0) otherwise.
//
// One counter value yields four elements, so a mask of n elements consumes
// ceil(n/4) counters: a caller drawing several masks from one seed advances
// offset by at least that much between them.
package rng

import "math/bits"

// The Philox4x32 constants (Salmon et al., SC'11; Random123).
const (
	M0 = 0xD2511F53 // multiplier applied to c0
	M1 = 0xCD9E8D57 // multiplier applied to c2
	W0 = 0x9E3779B9 // key bump for k0 (golden ratio)
	W1 = 0xBB67AE85 // key bump for k1 (sqrt(3) - 1)
)

// Rounds is the number of Philox rounds of the stream.
const Rounds = 10

// Philox4x32 returns the Philox4x32-10 block of counter ctr under key.
func Philox4x32(ctr [4]uint32, key [2]uint32) [4]uint32 {
	c0, c1, c2, c3 := ctr[0], ctr[1], ctr[2], ctr[3]
	k0, k1 := key[0], key[1]
	for r := 0; r < Rounds; r++ {
		if r > 0 {
			k0 += W0
			k1 += W1
		}
		hi0, lo0 := bits.Mul32(M0, c0)
		hi1, lo1 := bits.Mul32(M1, c2)
		c0, c1, c2, c3 = hi1^c1^k0, lo1, hi0^c3^k1, lo0
	}
	return [4]uint32{c0, c1, c2, c3}
}

// Block returns the four output words that serve elements 4j..4j+3 of the
// stream keyed by seed at offset, j = block.
func Block(seed, offset, block uint64) [4]uint32 {
	n := offset + block
	return Philox4x32([4]uint32{uint32(n), uint32(n >> 32), 0, 0},
		[2]uint32{uint32(seed), uint32(seed >> 32)})
}

// ToUnit maps an output word to [0, 1) with 24 bits: float32(w>>8)·2⁻²⁴.
func ToUnit(w uint32) float32 { return float32(w>>8) * (1.0 / (1 << 24)) }

// Uniform returns element i of the stream keyed by seed at offset, in [0, 1).
func Uniform(seed, offset uint64, i int) float32 {
	if i < 0 {
		panic("rng: Uniform with negative element index")
	}
	return ToUnit(Block(seed, offset, uint64(i)/4)[i%4])
}

// Keep reports whether a dropout mask with drop probability p keeps element
// i of the stream keyed by seed at offset.
func Keep(seed, offset uint64, i int, p float32) bool { return Uniform(seed, offset, i) >= p }

// FillUniform writes elements lo..lo+len(dst)-1 of the stream into dst,
// computing each Philox block once for its four elements.
func FillUniform(dst []float32, seed, offset uint64, lo int) {
	if lo < 0 {
		panic("rng: FillUniform with negative start")
	}
	for k := 0; k < len(dst); {
		i := lo + k
		b := Block(seed, offset, uint64(i)/4)
		for w := i % 4; w < 4 && k < len(dst); w++ {
			dst[k] = ToUnit(b[w])
			k++
		}
	}
}
