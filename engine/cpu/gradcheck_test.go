package cpu

import (
	"math"
	"math/rand/v2"
	"testing"
)

// numericGrad returns, for every input, the central-difference gradient of
// L = Σ f(in)·dy in float64. f is a float64 re-implementation of the op, so
// the finite differences are not swamped by float32 rounding.
func numericGrad(f func(in [][]float64) []float64, in [][]float64, dy []float64, eps float64) [][]float64 {
	loss := func() float64 {
		out := f(in)
		s := 0.0
		for i, v := range out {
			s += v * dy[i]
		}
		return s
	}
	grads := make([][]float64, len(in))
	for k := range in {
		grads[k] = make([]float64, len(in[k]))
		for i := range in[k] {
			orig := in[k][i]
			in[k][i] = orig + eps
			lp := loss()
			in[k][i] = orig - eps
			lm := loss()
			in[k][i] = orig
			grads[k][i] = (lp - lm) / (2 * eps)
		}
	}
	return grads
}

// relErr is ‖got − want‖ / max(‖want‖, 1e-12), the golden-case metric.
func relErr(got []float32, want []float64) float64 {
	var num, den float64
	for i := range want {
		d := float64(got[i]) - want[i]
		num += d * d
		den += want[i] * want[i]
	}
	return math.Sqrt(num) / math.Max(math.Sqrt(den), 1e-12)
}

// assertClose fails the test when got and want differ in length, hold a
// NaN/Inf, or differ by more than tol in relative L2.
func assertClose(t *testing.T, name string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", name, len(got), len(want))
	}
	for i, v := range got {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatalf("%s: non-finite value %v at %d", name, v, i)
		}
	}
	if e := relErr(got, want); e > tol {
		t.Fatalf("%s: relative error %.3g > %.3g", name, e, tol)
	}
}

// randF32 returns n values uniform in [lo,hi) and their float64 copies.
func randF32(r *rand.Rand, n int, lo, hi float64) ([]float32, []float64) {
	f := make([]float32, n)
	d := make([]float64, n)
	for i := range f {
		f[i] = float32(lo + (hi-lo)*r.Float64())
		d[i] = float64(f[i])
	}
	return f, d
}

func toF64(x []float32) []float64 {
	d := make([]float64, len(x))
	for i, v := range x {
		d[i] = float64(v)
	}
	return d
}

func TestNumericGradOfSquare(t *testing.T) {
	// d/dx Σ x²·dy = 2x·dy: a check that the checker itself can fail.
	in := [][]float64{{1, -2, 3}}
	dy := []float64{1, 0.5, -1}
	g := numericGrad(func(in [][]float64) []float64 {
		out := make([]float64, len(in[0]))
		for i, v := range in[0] {
			out[i] = v * v
		}
		return out
	}, in, dy, 1e-4)
	want := []float64{2, -2, -6}
	for i := range want {
		if math.Abs(g[0][i]-want[i]) > 1e-6 {
			t.Fatalf("numericGrad[%d] = %v, want %v", i, g[0][i], want[i])
		}
	}
	if relErr([]float32{2, -2, -6}, want) != 0 || relErr([]float32{2, -2, -5}, want) == 0 {
		t.Fatal("relErr does not tell equal from different")
	}
}
