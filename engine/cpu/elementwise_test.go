package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// refBinary64 applies op with numpy broadcasting in float64, indexing by
// explicit multi-indices (independent of the stride arithmetic under test).
func refBinary64(op backend.BinaryOp, a []float64, as []int, b []float64, bs []int, out []int) []float64 {
	res := make([]float64, backend.Numel(out))
	idx := make([]int, len(out))
	flat := func(v []float64, s []int) float64 {
		off := 0
		for d := range s {
			i := idx[len(out)-len(s)+d]
			if s[d] == 1 {
				i = 0
			}
			off = off*s[d] + i
		}
		return v[off]
	}
	for o := range res {
		rem := o
		for d := len(out) - 1; d >= 0; d-- {
			idx[d] = rem % out[d]
			rem /= out[d]
		}
		x, y := flat(a, as), flat(b, bs)
		switch op {
		case backend.Add:
			res[o] = x + y
		case backend.Sub:
			res[o] = x - y
		case backend.Mul:
			res[o] = x * y
		case backend.Div:
			res[o] = x / y
		case backend.Maximum:
			res[o] = math.Max(x, y)
		case backend.Minimum:
			res[o] = math.Min(x, y)
		}
	}
	return res
}

func TestBinaryBroadcasting(t *testing.T) {
	c := New()
	r := rand.New(rand.NewPCG(21, 22))
	cases := []struct{ a, b, out []int }{
		{[]int{3, 4}, []int{3, 4}, []int{3, 4}},
		{[]int{2, 3, 4}, []int{4}, []int{2, 3, 4}},
		{[]int{2, 3, 4}, []int{3, 1}, []int{2, 3, 4}},
		{[]int{2, 1, 4}, []int{1, 3, 1}, []int{2, 3, 4}},
		{[]int{5, 1}, []int{1, 6}, []int{5, 6}},
		{[]int{}, []int{2, 3}, []int{2, 3}},
		{[]int{2, 3, 5, 7}, []int{1, 3, 1, 1}, []int{2, 3, 5, 7}},
	}
	ops := []backend.BinaryOp{backend.Add, backend.Sub, backend.Mul, backend.Div, backend.Maximum, backend.Minimum}
	for _, cs := range cases {
		for _, op := range ops {
			af, ad := randF32(r, backend.Numel(cs.a), 0.5, 2)
			bf, bd := randF32(r, backend.Numel(cs.b), -2, 2)
			y := c.Binary(op, c.FromFloat32(af, cs.a...), c.FromFloat32(bf, cs.b...))
			if !backend.SameShape(y.Shape, cs.out) {
				t.Fatalf("op %d %v,%v: shape %v, want %v", op, cs.a, cs.b, y.Shape, cs.out)
			}
			want := refBinary64(op, ad, cs.a, bd, cs.b, cs.out)
			assertClose(t, fmt.Sprintf("op %d %v,%v", op, cs.a, cs.b), F32(y), want, 1e-7)
			// b op a broadcasts the other way round.
			y2 := c.Binary(op, c.FromFloat32(bf, cs.b...), c.FromFloat32(af, cs.a...))
			assertClose(t, fmt.Sprintf("op %d %v,%v", op, cs.b, cs.a), F32(y2), refBinary64(op, bd, cs.b, ad, cs.a, cs.out), 1e-7)
		}
	}
}

func TestBinaryBroadcastMismatchPanics(t *testing.T) {
	c := New()
	defer func() {
		if recover() == nil {
			t.Fatal("broadcasting [2,3] with [4] did not panic")
		}
	}()
	c.Binary(backend.Add, c.Zeros(backend.F32, 2, 3), c.Zeros(backend.F32, 4))
}

func TestMaximumMinimumPropagateNaN(t *testing.T) {
	c := New()
	nan := float32(math.NaN())
	a, b := c.FromFloat32([]float32{nan, 1, 2}, 3), c.FromFloat32([]float32{0, nan, 1}, 3)
	for _, op := range []backend.BinaryOp{backend.Maximum, backend.Minimum} {
		y := F32(c.Binary(op, a, b))
		if y[0] == y[0] || y[1] == y[1] || y[2] != map[backend.BinaryOp]float32{backend.Maximum: 2, backend.Minimum: 1}[op] {
			t.Fatalf("op %d: %v, want [NaN NaN %v]", op, y, map[backend.BinaryOp]float32{backend.Maximum: 2, backend.Minimum: 1}[op])
		}
	}
}

var unaryRef = map[backend.UnaryOp]func(float64) float64{
	backend.Neg:     func(v float64) float64 { return -v },
	backend.Exp:     math.Exp,
	backend.Log:     math.Log,
	backend.Sqrt:    math.Sqrt,
	backend.Abs:     math.Abs,
	backend.ReLU:    func(v float64) float64 { return math.Max(v, 0) },
	backend.Sigmoid: func(v float64) float64 { return 1 / (1 + math.Exp(-v)) },
	backend.Tanh:    math.Tanh,
}

func TestUnaryAndBackward(t *testing.T) {
	c := New()
	r := rand.New(rand.NewPCG(23, 24))
	for op, f := range unaryRef {
		lo, hi := -3.0, 3.0
		if op == backend.Log || op == backend.Sqrt {
			lo = 0.2
		}
		xf, xd := randF32(r, 257, lo, hi)
		// Keep |x| away from the kinks of ReLU and Abs so finite differences hold.
		for i := range xf {
			if math.Abs(xd[i]) < 0.01 {
				xf[i], xd[i] = 0.5, 0.5
			}
		}
		gf, gd := randF32(r, 257, -1, 1)
		x := c.FromFloat32(xf, 257)
		y := c.Unary(op, x)
		want := make([]float64, len(xd))
		for i, v := range xd {
			want[i] = f(v)
		}
		assertClose(t, fmt.Sprintf("Unary %d", op), F32(y), want, 1e-6)
		num := numericGrad(func(in [][]float64) []float64 {
			out := make([]float64, len(in[0]))
			for i, v := range in[0] {
				out[i] = f(v)
			}
			return out
		}, [][]float64{xd}, gd, 1e-4)
		dy := c.FromFloat32(gf, 257)
		assertClose(t, fmt.Sprintf("UnaryBackward %d", op), F32(c.UnaryBackward(op, x, y, dy)), num[0], 1e-5)
		assertClose(t, fmt.Sprintf("UnaryBackward %d, y nil", op), F32(c.UnaryBackward(op, x, nil, dy)), num[0], 1e-5)
	}
}

func TestSigmoidLargeInputs(t *testing.T) {
	c := New()
	y := F32(c.Unary(backend.Sigmoid, c.FromFloat32([]float32{-200, 200, 0}, 3)))
	if y[0] != 0 || y[1] != 1 || y[2] != 0.5 {
		t.Fatalf("sigmoid(-200, 200, 0) = %v", y)
	}
}

func TestAffineAxpyFillWhere(t *testing.T) {
	c := New()
	r := rand.New(rand.NewPCG(25, 26))
	xf, xd := randF32(r, 100, -1, 1)
	yf, yd := randF32(r, 100, -1, 1)
	x := c.FromFloat32(xf, 10, 10)
	want := make([]float64, 100)
	for i := range want {
		want[i] = 2.5*xd[i] - 1
	}
	assertClose(t, "Affine", F32(c.Affine(x, 2.5, -1)), want, 1e-7)

	y := c.FromFloat32(yf, 10, 10)
	c.AxpyInPlace(y, -0.5, x)
	for i := range want {
		want[i] = yd[i] - 0.5*xd[i]
	}
	assertClose(t, "AxpyInPlace", F32(y), want, 1e-7)

	c.Fill(y, 3)
	for i, v := range F32(y) {
		if v != 3 {
			t.Fatalf("Fill: element %d = %v", i, v)
		}
	}
	li := c.Zeros(backend.I64, 4)
	c.Fill(li, 7)
	if got := I64(li); got[0] != 7 || got[3] != 7 {
		t.Fatalf("Fill I64: %v", got)
	}

	cond := make([]float32, 100)
	for i := range cond {
		if i%3 == 0 {
			cond[i] = 1
		}
	}
	w := F32(c.Where(c.FromFloat32(cond, 10, 10), x, y))
	for i := range w {
		want := float32(3)
		if i%3 == 0 {
			want = xf[i]
		}
		if w[i] != want {
			t.Fatalf("Where: element %d = %v, want %v", i, w[i], want)
		}
	}
}

func TestChannelAffine(t *testing.T) {
	c := New()
	r := rand.New(rand.NewPCG(27, 28))
	n, ch, hw := 2, 3, 5
	xf, xd := randF32(r, n*ch*hw, -1, 1)
	sf, sd := randF32(r, ch, -2, 2)
	bf, bd := randF32(r, ch, -2, 2)
	x := c.FromFloat32(xf, n, ch, 1, hw)
	want, wantNoShift := make([]float64, len(xd)), make([]float64, len(xd))
	for i, v := range xd {
		k := i / hw % ch
		want[i] = v*sd[k] + bd[k]
		wantNoShift[i] = v * sd[k]
	}
	assertClose(t, "ChannelAffine", F32(c.ChannelAffine(x, c.FromFloat32(sf, ch), c.FromFloat32(bf, ch))), want, 1e-7)
	assertClose(t, "ChannelAffine nil shift", F32(c.ChannelAffine(x, c.FromFloat32(sf, ch), nil)), wantNoShift, 1e-7)
}
