package data

import "math"

// Rand is a small deterministic generator (SplitMix64). Splits, the loader's
// sampling and the synthetic dataset all draw from it rather than from
// math/rand so that a seed gives the same files and batches on every Go
// version and platform: the bytes of a published split must never depend on
// the toolchain.
type Rand struct{ state uint64 }

const golden64 = 0x9E3779B97F4A7C15

func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// NewRand returns a generator keyed by a sequence of integers, e.g.
// (seed, stream, index): distinct key sequences give independent streams.
func NewRand(keys ...uint64) *Rand {
	s := uint64(golden64)
	for _, k := range keys {
		s = mix64(s ^ mix64(k+golden64))
	}
	return &Rand{state: s}
}

// Uint64 returns the next 64 random bits.
func (r *Rand) Uint64() uint64 {
	r.state += golden64
	return mix64(r.state)
}

// Intn returns a uniform integer in [0, n); it panics if n <= 0.
func (r *Rand) Intn(n int) int {
	if n <= 0 {
		panic("data: Rand.Intn with n <= 0")
	}
	// Rejection sampling removes the modulo bias.
	bound := uint64(n)
	limit := math.MaxUint64 - math.MaxUint64%bound
	for {
		v := r.Uint64()
		if v < limit {
			return int(v % bound)
		}
	}
}

// Float64 returns a uniform float in [0, 1).
func (r *Rand) Float64() float64 { return float64(r.Uint64()>>11) / (1 << 53) }

// Range returns a uniform float in [lo, hi).
func (r *Rand) Range(lo, hi float64) float64 { return lo + (hi-lo)*r.Float64() }

// Norm returns a standard normal sample (Box-Muller).
func (r *Rand) Norm() float64 {
	u := 1 - r.Float64() // (0, 1]: log is finite
	v := r.Float64()
	return math.Sqrt(-2*math.Log(u)) * math.Cos(2*math.Pi*v)
}

// Perm returns a uniform permutation of [0, n) (Fisher-Yates).
func (r *Rand) Perm(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	for i := n - 1; i > 0; i-- {
		j := r.Intn(i + 1)
		p[i], p[j] = p[j], p[i]
	}
	return p
}

// StringKey hashes a string (FNV-1a) so names such as a class can key a
// generator.
func StringKey(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}
