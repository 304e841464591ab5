package golden_test

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/backend"
	"github.com/fsodgpu/fsodgpu/engine/cpu"
	"github.com/fsodgpu/fsodgpu/engine/golden"
	"github.com/fsodgpu/fsodgpu/engine/safetensors"
)

// roundingBackend is golden.Rounding over the CPU backend (operands rounded
// as a tensor core rounds them, accumulation FP32) claiming the policy
// claim, which may differ from what it does.
type roundingBackend struct {
	backend.Backend
	claim backend.MatrixPolicy
}

func (b *roundingBackend) SetMatrixPolicy(p backend.MatrixPolicy) error { b.claim = p; return nil }
func (b *roundingBackend) MatrixPolicy() backend.MatrixPolicy           { return b.claim }

func TestRoundTo(t *testing.T) {
	for _, c := range []struct {
		in, tf32, bf16 uint32
	}{
		{0x3f801000, 0x3f802000, 0x3f800000}, // TF32 tie: away from zero
		{0xbf801000, 0xbf802000, 0xbf800000},
		{0x3f808000, 0x3f808000, 0x3f800000}, // BF16 tie, even: stays
		{0x3f818000, 0x3f818000, 0x3f820000}, // BF16 tie, odd: up
		{0x7f800000, 0x7f800000, 0x7f800000}, // Inf stays
		{0x7fc00001, 0x7fc00001, 0x7fc00001}, // NaN stays NaN
	} {
		x := math.Float32frombits(c.in)
		if g := math.Float32bits(golden.RoundTo(x, backend.TF32)); g != c.tf32 {
			t.Errorf("RoundTo(%#x, tf32) = %#x, want %#x", c.in, g, c.tf32)
		}
		if g := math.Float32bits(golden.RoundTo(x, backend.BF16)); g != c.bf16 {
			t.Errorf("RoundTo(%#x, bf16) = %#x, want %#x", c.in, g, c.bf16)
		}
		if g := math.Float32bits(golden.RoundTo(x, backend.FP32)); g != c.in {
			t.Errorf("RoundTo(%#x, fp32) = %#x", c.in, g)
		}
	}
}

func TestPrecisionTol(t *testing.T) {
	tf, bf := backend.Uniform(backend.TF32), backend.Uniform(backend.BF16)
	for _, c := range []struct {
		op   string
		pol  backend.MatrixPolicy
		tol  float64
		want float64
	}{
		{"conv2d", backend.MatrixPolicy{}, 1e-5, 1e-5},
		{"conv2d", tf, 1e-5, 1e-3},
		{"conv2d", backend.TensorCoreDefault, 1e-5, 1e-3},
		{"linear", backend.TensorCoreDefault, 1e-5, 1e-5}, // matmul stays FP32 by default
		{"linear", bf, 1e-5, 1e-2},
		{"neck", tf, 1e-4, 2e-3},
		{"resnet", bf, 1e-4, 2e-2},
		{"roi_align", bf, 1e-5, 1e-2}, // BF16 storage of its output under a BF16 conv policy
		{"roi_align", tf, 1e-5, 1e-5}, // otherwise no matrix product: FP32
		{"nms", bf, 1e-5, 1e-5},
		{"rc_loss", bf, 1e-5, 1e-5},
		{"conv2d", tf, 5e-3, 5e-3}, // a case's own looser tolerance stands
	} {
		if got := golden.PrecisionTol(c.op, c.tol, c.pol); got != c.want {
			t.Errorf("%s at %s (tol %g): %g, want %g", c.op, c.pol, c.tol, got, c.want)
		}
	}
	// Only a composition's gradients at reduced precision get the loose bound.
	if g := golden.GradTol("neck", 1e-4, tf); g != 0.3 {
		t.Errorf("neck gradients at tf32: %g", g)
	}
	if g := golden.GradTol("neck", 1e-4, backend.MatrixPolicy{}); g != 1e-4 {
		t.Errorf("neck gradients at fp32: %g", g)
	}
	if g := golden.GradTol("conv2d", 1e-5, bf); g != 1e-2 {
		t.Errorf("conv2d gradients at bf16: %g", g)
	}
	// RoI-Align's gradient is FP32 even when its output is BF16 storage.
	if g := golden.GradTol("roi_align", 1e-5, bf); g != 1e-5 {
		t.Errorf("roi_align gradients at bf16: %g", g)
	}
}

// The shipped conv2d, linear and neck cases pass at each precision's tolerance
// when the operands are rounded as stated, and fail when an operand is
// rounded more coarsely than the policy claims (BF16 under a TF32 claim):
// the tolerances tell the precisions apart.
func TestPrecisionTolerancesOnRoundedOperands(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "golden")
	run := func(rounds backend.Precision, claim backend.MatrixPolicy) (worst float64, failed []string) {
		b := &roundingBackend{Backend: golden.Rounding(cpu.New(), backend.Uniform(rounds)), claim: claim}
		rs, err := golden.RunDir(b, dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, r := range rs {
			if r.Op != "conv2d" && r.Op != "linear" && r.Op != "neck" && r.Op != "roi_align" {
				continue
			}
			n++
			if r.Op != "neck" {
				worst = max(worst, r.Worst)
			}
			if !r.Pass {
				failed = append(failed, r.String())
			}
		}
		if n < 20 {
			t.Fatalf("only %d conv2d/linear/neck cases in %s", n, dir)
		}
		return worst, failed
	}
	for _, p := range []backend.Precision{backend.TF32, backend.BF16} {
		worst, failed := run(p, backend.Uniform(p))
		if len(failed) > 0 {
			t.Errorf("%s-rounded operands fail at %s tolerance:\n%s", p, p, strings.Join(failed, "\n"))
		}
		t.Logf("%s: worst relative error %.2e over the conv2d, linear and roi_align cases", p, worst)
	}
	if _, failed := run(backend.BF16, backend.Uniform(backend.TF32)); len(failed) == 0 {
		t.Error("BF16-rounded operands pass at the TF32 tolerance: it cannot tell the precisions apart")
	}
	if _, failed := run(backend.TF32, backend.MatrixPolicy{}); len(failed) == 0 {
		t.Error("TF32-rounded operands pass at the FP32 tolerance")
	}
}

// linearCase is a 1×k by k×n linear case with its exact (float64) answer.
func linearCase(t *testing.T, dir string, x, w []float32, k, n int) string {
	y := make([]float32, n)
	for j := range n {
		s := 0.0
		for i := range k {
			s += float64(x[i]) * float64(w[j*k+i])
		}
		y[j] = float32(s)
	}
	return writeCase(t, dir, "linear_cancel", map[string]string{"op": "linear", "attrs": "{}", "tol": "1e-5"},
		map[string]safetensors.Tensor{
			"in.x":  safetensors.FromFloat32(x, 1, k),
			"in.w":  safetensors.FromFloat32(w, n, k),
			"out.y": safetensors.FromFloat32(y, 1, n),
		})
}

// A few-element output whose products nearly cancel: rounding the operands
// to TF32 moves it by more than the 1e-3 TF32 bound, for any correct kernel.
// The case's tolerance rises to 3× what the rounding CPU gives (and says
// so), which a kernel pairing the wrong elements (two k swapped in one
// operand) still fails by far. (Telling TF32 from BF16 rounding on such a
// case is another matter: 7 products give too few samples of the rounding
// error; the shipped cases do that, TestPrecisionTolerancesOnRoundedOperands.)
func TestRoundingFloorOnCancellingCase(t *testing.T) {
	tf := backend.Uniform(backend.TF32)
	const k, n = 7, 3
	for seed := uint64(0); seed < 2000; seed++ {
		r := rand.New(rand.NewPCG(seed, 7))
		x, w := make([]float32, k), make([]float32, n*k)
		for i := range x {
			x[i] = float32(r.Float64()*2 - 1)
		}
		for i := range w {
			w[i] = float32(r.Float64()*2 - 1)
		}
		path := linearCase(t, t.TempDir(), x, w, k, n)
		good := runOne(t, &roundingBackend{Backend: golden.Rounding(cpu.New(), tf), claim: tf}, path)
		if !(good.Rounding > 2e-3 && good.Rounding < 2e-2) {
			continue // well conditioned (or too ill): look further
		}
		if !good.Pass || good.Tol != 3*good.Rounding || !strings.Contains(good.String(), "rounding") {
			t.Fatalf("seed %d: the TF32-rounding backend should pass at 3× its rounding error: %s", seed, good)
		}
		bad := runOne(t, &swappedK{roundingBackend{Backend: golden.Rounding(cpu.New(), tf), claim: tf}}, path)
		if bad.Pass || bad.Worst < 10*bad.Tol {
			t.Fatalf("seed %d: a wrong pairing of k should fail by far: %s", seed, bad)
		}
		plain := runOne(t, cpu.New(), path)
		if !plain.Pass || plain.Rounding != 0 {
			t.Fatalf("seed %d: at fp32 the floor must not apply: %s", seed, plain)
		}
		t.Logf("seed %d: %s", seed, good)
		return
	}
	t.Fatal("no cancelling case found in 2000 seeds")
}

// swappedK multiplies with k columns 0 and 1 of its second operand
// exchanged: what a fragment mapping that pairs the wrong elements does.
type swappedK struct{ roundingBackend }

func (b *swappedK) MatMul(x, y *backend.Tensor, ta, tb bool) *backend.Tensor {
	v := b.ToFloat32(y)
	k := y.Shape[1] // y is [n, k] (tb) in the linear op
	for row := 0; row < y.Shape[0]; row++ {
		v[row*k], v[row*k+1] = v[row*k+1], v[row*k]
	}
	return b.roundingBackend.MatMul(x, b.FromFloat32(v, y.Shape...), ta, tb)
}
