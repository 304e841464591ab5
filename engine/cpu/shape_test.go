package cpu

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// at returns the row-major offset of idx in shape.
func at(shape, idx []int) int {
	off := 0
	for d, n := range shape {
		off = off*n + idx[d]
	}
	return off
}

// unravel returns the multi-index of offset o in shape.
func unravel(shape []int, o int) []int {
	idx := make([]int, len(shape))
	for d := len(shape) - 1; d >= 0; d-- {
		idx[d] = o % shape[d]
		o /= shape[d]
	}
	return idx
}

func TestPermute(t *testing.T) {
	c := New()
	shape := []int{2, 3, 4, 5}
	xf := make([]float32, 120)
	for i := range xf {
		xf[i] = float32(i)
	}
	x := c.FromFloat32(xf, shape...)
	for _, perm := range [][]int{{0, 1, 2, 3}, {3, 2, 1, 0}, {0, 2, 3, 1}, {1, 0, 3, 2}, {2, 0, 1, 3}} {
		y := c.Permute(x, perm...)
		ys := y.Shape
		for i, v := range F32(y) {
			oi := unravel(ys, i)
			in := make([]int, 4)
			for d, p := range perm {
				in[p] = oi[d]
			}
			if v != xf[at(shape, in)] {
				t.Fatalf("Permute %v: out%v = %v, want x%v = %v", perm, oi, v, in, xf[at(shape, in)])
			}
		}
	}
	li := c.Permute(c.FromInt64([]int64{1, 2, 3, 4, 5, 6}, 2, 3), 1, 0)
	if !slices.Equal(I64(li), []int64{1, 4, 2, 5, 3, 6}) {
		t.Fatalf("Permute I64: %v", I64(li))
	}
}

func TestConcatSlice(t *testing.T) {
	c := New()
	r := rand.New(rand.NewPCG(41, 42))
	af, _ := randF32(r, 2*3*4, -1, 1)
	bf, _ := randF32(r, 2*1*4, -1, 1)
	df, _ := randF32(r, 2*2*4, -1, 1)
	a, b, d := c.FromFloat32(af, 2, 3, 4), c.FromFloat32(bf, 2, 1, 4), c.FromFloat32(df, 2, 2, 4)
	y := c.Concat(1, a, b, d)
	if !backend.SameShape(y.Shape, []int{2, 6, 4}) {
		t.Fatalf("Concat shape %v", y.Shape)
	}
	for i, v := range F32(y) {
		idx := unravel(y.Shape, i)
		var want float32
		switch j := idx[1]; {
		case j < 3:
			want = af[at([]int{2, 3, 4}, idx)]
		case j < 4:
			want = bf[at([]int{2, 1, 4}, []int{idx[0], 0, idx[2]})]
		default:
			want = df[at([]int{2, 2, 4}, []int{idx[0], j - 4, idx[2]})]
		}
		if v != want {
			t.Fatalf("Concat at %v = %v, want %v", idx, v, want)
		}
	}
	// Slicing the concatenation gives the pieces back.
	for _, piece := range []struct {
		lo, hi int
		want   []float32
	}{{0, 3, af}, {3, 4, bf}, {4, 6, df}} {
		if got := F32(c.Slice(y, 1, piece.lo, piece.hi)); !slices.Equal(got, piece.want) {
			t.Fatalf("Slice [%d:%d] = %v, want %v", piece.lo, piece.hi, got, piece.want)
		}
	}
	if got := F32(c.Slice(y, -1, 1, 3)); got[0] != F32(y)[1] || got[1] != F32(y)[2] || got[2] != F32(y)[5] {
		t.Fatalf("Slice along -1: %v", got)
	}
	if got := I64(c.Concat(0, c.FromInt64([]int64{1}, 1), c.FromInt64([]int64{2, 3}, 2))); !slices.Equal(got, []int64{1, 2, 3}) {
		t.Fatalf("Concat I64: %v", got)
	}
}

// TestSliceBackwardIsAdjoint checks SliceBackward against finite differences
// of Slice in float64.
func TestSliceBackwardIsAdjoint(t *testing.T) {
	c := New()
	r := rand.New(rand.NewPCG(43, 44))
	shape := []int{3, 5, 2}
	_, xd := randF32(r, 30, -1, 1)
	gf, gd := randF32(r, 3*2*2, -1, 1)
	num := numericGrad(func(in [][]float64) []float64 {
		var out []float64
		for i := 0; i < 3; i++ {
			out = append(out, in[0][i*10+2*2:i*10+4*2]...)
		}
		return out
	}, [][]float64{xd}, gd, 1e-3)
	dx := c.SliceBackward(c.FromFloat32(gf, 3, 2, 2), shape, 1, 2)
	if !backend.SameShape(dx.Shape, shape) {
		t.Fatalf("SliceBackward shape %v", dx.Shape)
	}
	assertClose(t, "SliceBackward", F32(dx), num[0], 1e-6)
}

func TestGatherScatterAdd(t *testing.T) {
	c := New()
	r := rand.New(rand.NewPCG(45, 46))
	xf, xd := randF32(r, 5*3, -1, 1)
	idx := []int64{4, 0, 4, 2}
	g := c.Gather(c.FromFloat32(xf, 5, 3), c.FromInt64(idx, 4))
	if !backend.SameShape(g.Shape, []int{4, 3}) {
		t.Fatalf("Gather shape %v", g.Shape)
	}
	for i, row := range idx {
		for j := 0; j < 3; j++ {
			if F32(g)[i*3+j] != xf[int(row)*3+j] {
				t.Fatalf("Gather row %d col %d", i, j)
			}
		}
	}
	// ScatterAdd is Gather's adjoint: repeated index 4 accumulates.
	sf, sd := randF32(r, 4*3, -1, 1)
	num := numericGrad(func(in [][]float64) []float64 {
		out := make([]float64, 12)
		for i, row := range idx {
			copy(out[i*3:], in[0][int(row)*3:int(row)*3+3])
		}
		return out
	}, [][]float64{xd}, sd, 1e-3)
	s := c.ScatterAdd(c.FromFloat32(sf, 4, 3), c.FromInt64(idx, 4), 5)
	if !backend.SameShape(s.Shape, []int{5, 3}) {
		t.Fatalf("ScatterAdd shape %v", s.Shape)
	}
	assertClose(t, "ScatterAdd", F32(s), num[0], 1e-6)
	if gi := I64(c.Gather(c.FromInt64([]int64{7, 8, 9}, 3), c.FromInt64([]int64{2, 2, 0}, 3))); !slices.Equal(gi, []int64{9, 9, 7}) {
		t.Fatalf("Gather I64: %v", gi)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Gather with index 5 of 5 rows did not panic")
		}
	}()
	c.Gather(c.FromFloat32(xf, 5, 3), c.FromInt64([]int64{5}, 1))
}
