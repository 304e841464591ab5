package cpu

import (
	"math"
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/rng"
)

func TestDropoutMaskFollowsTheStream(t *testing.T) {
	// Large enough that parallelFor splits it (grain 4096 blocks), and not a
	// multiple of 4: the last Philox block is partial.
	const n = 40003
	for _, p := range []float32{0, 0.1, 0.5, 0.8, 1} {
		var first []float32
		for _, workers := range []int{1, 2, 3} {
			c := &CPU{workers: workers}
			m := F32(c.DropoutMask(n, p, 0xfeedface12345678, 12))
			kept := 0
			for i, v := range m {
				want := float32(0)
				if rng.Keep(0xfeedface12345678, 12, i, p) {
					want = 1
					kept++
				}
				if v != want {
					t.Fatalf("p=%v workers=%d: mask[%d] = %v, want %v", p, workers, i, v, want)
				}
			}
			if first == nil {
				first = m
				frac := float64(kept) / n
				if math.Abs(frac-(1-float64(p))) > 4*math.Sqrt(0.25/n) {
					t.Fatalf("p=%v keeps %.4f of elements", p, frac)
				}
			}
		}
	}
}

func TestDropoutMasksDifferByOffset(t *testing.T) {
	c := New()
	a, b := F32(c.DropoutMask(64, 0.5, 1, 0)), F32(c.DropoutMask(64, 0.5, 1, 16))
	differ := 0
	for i := range a {
		if a[i] != b[i] {
			differ++
		}
	}
	if differ < 16 {
		t.Fatalf("masks at offsets 0 and 16 differ in %d of 64 elements", differ)
	}
}

func TestDropout(t *testing.T) {
	c := New()
	x := c.FromFloat32([]float32{1, -2, 3, 4}, 2, 2)
	m := c.FromFloat32([]float32{1, 0, 0, 1}, 4)
	y := c.Dropout(x, m, 0.75)
	want := []float32{4, 0, 0, 16}
	for i, v := range F32(y) {
		if v != want[i] {
			t.Fatalf("Dropout = %v, want %v", F32(y), want)
		}
	}
	if y.Shape[0] != 2 || y.Shape[1] != 2 {
		t.Fatalf("Dropout shape %v, want x's [2 2]", y.Shape)
	}
	for _, v := range F32(c.Dropout(x, c.FromFloat32([]float32{0, 0, 0, 0}, 4), 1)) {
		if v != 0 {
			t.Fatalf("Dropout with p = 1 gives %v, want 0", v)
		}
	}
}
