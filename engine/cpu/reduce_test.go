package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// refSum sums x (shape) over the dimensions in red, output in kept-dim order.
func refSum(x []float64, shape []int, red map[int]bool) []float64 {
	var kept []int
	for d, n := range shape {
		if !red[d] {
			kept = append(kept, n)
		}
	}
	out := make([]float64, backend.Numel(kept))
	idx := make([]int, len(shape))
	for i, v := range x {
		rem := i
		for d := len(shape) - 1; d >= 0; d-- {
			idx[d] = rem % shape[d]
			rem /= shape[d]
		}
		o := 0
		for d, n := range shape {
			if !red[d] {
				o = o*n + idx[d]
			}
		}
		out[o] += v
	}
	return out
}

func TestSum(t *testing.T) {
	c := New()
	r := rand.New(rand.NewPCG(31, 32))
	shape := []int{2, 3, 4, 5}
	xf, xd := randF32(r, 120, -1, 1)
	x := c.FromFloat32(xf, shape...)
	cases := []struct {
		axes []int
		keep bool
		want []int
	}{
		{[]int{0}, false, []int{3, 4, 5}},
		{[]int{1, 3}, false, []int{2, 4}},
		{[]int{-1}, true, []int{2, 3, 4, 1}},
		{[]int{0, 2, 3}, true, []int{1, 3, 1, 1}},
		{[]int{2, 3}, false, []int{2, 3}},
		{nil, false, []int{}},
		{[]int{0, 1, 2, 3}, true, []int{1, 1, 1, 1}},
	}
	for _, cs := range cases {
		red := map[int]bool{}
		for _, a := range cs.axes {
			red[(a+4)%4] = true
		}
		if cs.axes == nil {
			red = map[int]bool{0: true, 1: true, 2: true, 3: true}
		}
		y := c.Sum(x, cs.axes, cs.keep)
		if !backend.SameShape(y.Shape, cs.want) {
			t.Fatalf("Sum %v keep %v: shape %v, want %v", cs.axes, cs.keep, y.Shape, cs.want)
		}
		assertClose(t, fmt.Sprintf("Sum %v", cs.axes), F32(y), refSum(xd, shape, red), 1e-7)
	}
}

// TestSumLargeDeterministic covers a reduction longer than sumBlock: the
// partial sums must not depend on the worker count.
func TestSumLargeDeterministic(t *testing.T) {
	r := rand.New(rand.NewPCG(33, 34))
	n := 3*sumBlock + 17
	xf, xd := randF32(r, 2*n, -1, 1)
	var got [2][]float32
	for i, w := range []int{1, 3} {
		c := &CPU{workers: w}
		got[i] = F32(c.Sum(c.FromFloat32(xf, 2, n), []int{1}, false))
	}
	assertClose(t, "Sum long rows", got[0], refSum(xd, []int{2, n}, map[int]bool{1: true}), 1e-7)
	for j := range got[0] {
		if math.Float32bits(got[0][j]) != math.Float32bits(got[1][j]) {
			t.Fatalf("1 and 3 workers differ: %v vs %v", got[0], got[1])
		}
	}
}

func TestSumTo(t *testing.T) {
	c := New()
	r := rand.New(rand.NewPCG(35, 36))
	shape := []int{2, 3, 4}
	xf, xd := randF32(r, 24, -1, 1)
	x := c.FromFloat32(xf, shape...)
	cases := []struct {
		to  []int
		red map[int]bool
	}{
		{[]int{2, 3, 4}, map[int]bool{}},
		{[]int{4}, map[int]bool{0: true, 1: true}},
		{[]int{3, 1}, map[int]bool{0: true, 2: true}},
		{[]int{2, 1, 4}, map[int]bool{1: true}},
		{[]int{}, map[int]bool{0: true, 1: true, 2: true}},
		{[]int{1, 1, 1}, map[int]bool{0: true, 1: true, 2: true}},
	}
	for _, cs := range cases {
		y := c.SumTo(x, cs.to)
		if !backend.SameShape(y.Shape, cs.to) {
			t.Fatalf("SumTo %v: shape %v", cs.to, y.Shape)
		}
		assertClose(t, fmt.Sprintf("SumTo %v", cs.to), F32(y), refSum(xd, shape, cs.red), 1e-7)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("SumTo [2,3,4] → [3] did not panic")
		}
	}()
	c.SumTo(x, []int{3})
}

// TestSumToIsBinaryAdjoint checks SumTo as the gradient of a broadcast add:
// d/db Σ (a + b)·dy = SumTo(dy, b.shape).
func TestSumToIsBinaryAdjoint(t *testing.T) {
	c := New()
	r := rand.New(rand.NewPCG(37, 38))
	as, bs := []int{2, 3, 4}, []int{3, 1}
	_, ad := randF32(r, 24, -1, 1)
	_, bd := randF32(r, 3, -1, 1)
	gf, gd := randF32(r, 24, -1, 1)
	num := numericGrad(func(in [][]float64) []float64 {
		return refBinary64(backend.Add, in[0], as, in[1], bs, as)
	}, [][]float64{ad, bd}, gd, 1e-3)
	g := c.FromFloat32(gf, as...)
	assertClose(t, "grad a", F32(c.SumTo(g, as)), num[0], 1e-6)
	assertClose(t, "grad b", F32(c.SumTo(g, bs)), num[1], 1e-6)
}

func TestMax(t *testing.T) {
	c := New()
	x := c.FromFloat32([]float32{
		1, 5, 5, 2,
		7, 0, 7, -1,
		-3, -2, -9, -2,
	}, 3, 4)
	v, i := c.Max(x, 1)
	wantV, wantI := []float32{5, 7, -2}, []int64{1, 0, 1}
	for k := range wantV {
		if F32(v)[k] != wantV[k] || I64(i)[k] != wantI[k] {
			t.Fatalf("Max axis 1: %v %v, want %v %v (ties: first index)", F32(v), I64(i), wantV, wantI)
		}
	}
	v, i = c.Max(x, 0)
	wantV, wantI = []float32{7, 5, 7, 2}, []int64{1, 0, 1, 0}
	for k := range wantV {
		if F32(v)[k] != wantV[k] || I64(i)[k] != wantI[k] {
			t.Fatalf("Max axis 0: %v %v, want %v %v", F32(v), I64(i), wantV, wantI)
		}
	}
	if !backend.SameShape(v.Shape, []int{4}) {
		t.Fatalf("Max shape %v", v.Shape)
	}
	nan := float32(math.NaN())
	v, i = c.Max(c.FromFloat32([]float32{1, nan, 9, nan}, 1, 4), -1)
	if F32(v)[0] == F32(v)[0] || I64(i)[0] != 1 {
		t.Fatalf("Max with NaN: %v at %v, want NaN at 1", F32(v), I64(i))
	}
}

func refSoftmax(x []float64, k int, logOut bool) []float64 {
	out := make([]float64, len(x))
	for r := 0; r < len(x)/k; r++ {
		s := 0.0
		for _, v := range x[r*k : (r+1)*k] {
			s += math.Exp(v)
		}
		for j, v := range x[r*k : (r+1)*k] {
			if logOut {
				out[r*k+j] = v - math.Log(s)
			} else {
				out[r*k+j] = math.Exp(v) / s
			}
		}
	}
	return out
}

func TestSoftmaxLogSoftmax(t *testing.T) {
	c := New()
	r := rand.New(rand.NewPCG(39, 40))
	xf, xd := randF32(r, 6*21, -5, 5)
	x := c.FromFloat32(xf, 2, 3, 21)
	assertClose(t, "Softmax", F32(c.Softmax(x)), refSoftmax(xd, 21, false), 1e-6)
	assertClose(t, "LogSoftmax", F32(c.LogSoftmax(x)), refSoftmax(xd, 21, true), 1e-6)

	// Stability: logits near float32's range overflow a naive exp.
	big := c.FromFloat32([]float32{1000, 1001, 1002, -1000}, 1, 4)
	want := refSoftmax([]float64{0, 1, 2, -2000}, 4, true)
	assertClose(t, "LogSoftmax large", F32(c.LogSoftmax(big)), want, 1e-6)
	assertClose(t, "Softmax large", F32(c.Softmax(big)), refSoftmax([]float64{0, 1, 2, -2000}, 4, false), 1e-6)
}
