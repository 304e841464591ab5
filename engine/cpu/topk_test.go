package cpu

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
)

func TestTopK(t *testing.T) {
	c := New()
	r := rand.New(rand.NewPCG(41, 42))
	for _, n := range []int{0, 1, 5, 17, 100, 5000} {
		x := make([]float32, n)
		for i := range x {
			// Few distinct values so ties are everywhere.
			x[i] = float32(r.IntN(max(n/4, 2)))
		}
		order := make([]int, n)
		for i := range order {
			order[i] = i
		}
		sort.SliceStable(order, func(a, b int) bool { return x[order[a]] > x[order[b]] })
		for _, k := range []int{0, 1, n / 3, n, n + 7} {
			vals, idx := c.TopK(c.FromFloat32(x, n), k)
			kk := min(k, n)
			if vals.Numel() != kk || idx.Numel() != kk {
				t.Fatalf("n=%d k=%d: %d values, %d indices, want %d", n, k, vals.Numel(), idx.Numel(), kk)
			}
			vs, is := F32(vals), I64(idx)
			for j := 0; j < kk; j++ {
				if is[j] != int64(order[j]) || vs[j] != x[order[j]] {
					t.Fatalf("n=%d k=%d: position %d is (%v, %d), want (%v, %d)", n, k, j, vs[j], is[j], x[order[j]], order[j])
				}
			}
		}
	}
}

func TestTopKNaNFirst(t *testing.T) {
	c := New()
	nan := float32(math.NaN())
	_, idx := c.TopK(c.FromFloat32([]float32{1, nan, 3, -1, nan}, 5), 4)
	if got := I64(idx); !slices.Equal(got, []int64{1, 4, 2, 0}) {
		t.Fatalf("indices %v, want [1 4 2 0]", got)
	}
}
