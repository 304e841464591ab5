package rng

import (
	"math"
	"testing"
)

// Known-answer vectors from Random123's kat_vectors file (the "philox4x32 10"
// lines): counter (4 words), key (2 words), expected output (4 words).
func TestPhilox4x32KnownAnswers(t *testing.T) {
	cases := []struct {
		name string
		ctr  [4]uint32
		key  [2]uint32
		want [4]uint32
	}{
		{"zeros", [4]uint32{0, 0, 0, 0}, [2]uint32{0, 0},
			[4]uint32{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
		{"ones", [4]uint32{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, [2]uint32{0xffffffff, 0xffffffff},
			[4]uint32{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
		{"pi", [4]uint32{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, [2]uint32{0xa4093822, 0x299f31d0},
			[4]uint32{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
	}
	for _, c := range cases {
		if got := Philox4x32(c.ctr, c.key); got != c.want {
			t.Errorf("%s: Philox4x32(%08x, %08x) = %08x, want %08x", c.name, c.ctr, c.key, got, c.want)
		}
	}
}

func TestUniformStreamLayout(t *testing.T) {
	// Element i reads word i%4 of the block at counter offset+i/4, keyed by
	// the seed's two halves: check against Philox4x32 called directly, with
	// an offset and seed whose high words are non-zero.
	seed := uint64(0x0123456789abcdef)
	offset := uint64(0xfffffffe)
	for i := 0; i < 16; i++ {
		n := offset + uint64(i/4)
		blk := Philox4x32([4]uint32{uint32(n), uint32(n >> 32), 0, 0}, [2]uint32{0x89abcdef, 0x01234567})
		want := float32(blk[i%4]>>8) / (1 << 24)
		if got := Uniform(seed, offset, i); got != want {
			t.Fatalf("Uniform(i=%d) = %v, want %v", i, got, want)
		}
	}
	// Counter 0, key 0: element 0 is the first known-answer word 0x6627e8d5.
	if got, want := Uniform(0, 0, 0), float32(0x6627e8)/(1<<24); got != want {
		t.Fatalf("Uniform(0,0,0) = %v, want %v", got, want)
	}
}

func TestToUnitRange(t *testing.T) {
	if ToUnit(0) != 0 || ToUnit(0xff) != 0 {
		t.Fatal("ToUnit of words below 256 must be 0")
	}
	if top := ToUnit(0xffffffff); top >= 1 || top != 1-1.0/(1<<24) {
		t.Fatalf("ToUnit(max) = %v, want 1-2^-24", top)
	}
}

func TestFillUniformMatchesUniform(t *testing.T) {
	for _, lo := range []int{0, 1, 3, 5} {
		dst := make([]float32, 11)
		FillUniform(dst, 42, 7, lo)
		for k, v := range dst {
			if w := Uniform(42, 7, lo+k); v != w {
				t.Fatalf("FillUniform(lo=%d)[%d] = %v, Uniform = %v", lo, k, v, w)
			}
		}
	}
}

func TestUniformStatistics(t *testing.T) {
	// Mean 1/2 and variance 1/12 within a few standard errors over 1<<16 draws,
	// and different seeds or offsets give different streams.
	const n = 1 << 16
	var s, s2 float64
	for i := 0; i < n; i++ {
		u := float64(Uniform(5, 0, i))
		s += u
		s2 += u * u
	}
	mean := s / n
	variance := s2/n - mean*mean
	if math.Abs(mean-0.5) > 5*math.Sqrt(1.0/12/n) {
		t.Fatalf("mean %v too far from 0.5", mean)
	}
	if math.Abs(variance-1.0/12) > 0.002 {
		t.Fatalf("variance %v too far from 1/12", variance)
	}
	same := 0
	for i := 0; i < 64; i++ {
		if Uniform(5, 0, i) == Uniform(6, 0, i) || Uniform(5, 0, i) == Uniform(5, 1, i) {
			same++
		}
	}
	if same > 1 {
		t.Fatalf("%d of 64 elements equal across seeds/offsets", same)
	}
	// Offset advances in units of four elements.
	for i := 0; i < 8; i++ {
		if Uniform(5, 1, i) != Uniform(5, 0, i+4) {
			t.Fatalf("offset 1 element %d != offset 0 element %d", i, i+4)
		}
	}
}

func TestKeep(t *testing.T) {
	for i := 0; i < 100; i++ {
		u := Uniform(9, 3, i)
		if Keep(9, 3, i, u) != true || (u > 0 && Keep(9, 3, i, math.Nextafter32(u, 2)) != false) {
			t.Fatalf("Keep threshold wrong at element %d (u=%v)", i, u)
		}
	}
	if !Keep(9, 3, 0, 0) {
		t.Fatal("p = 0 must keep every element")
	}
}
