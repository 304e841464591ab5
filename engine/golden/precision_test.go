package golden_test

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/backend"
	"github.com/fsodgpu/fsodgpu/engine/cpu"
	"github.com/fsodgpu/fsodgpu/engine/golden"
)

// roundingBackend is the CPU backend with the operands of every matrix
// product rounded as a tensor core rounds them (TF32: nearest, ties away
// from zero, cvt.rna; BF16: nearest even), accumulation staying FP32. It
// claims the policy claim, which may differ from what it does (rounds).
type roundingBackend struct {
	backend.Backend
	rounds backend.Precision
	claim  backend.MatrixPolicy
}

func (b *roundingBackend) SetMatrixPolicy(p backend.MatrixPolicy) error { b.claim = p; return nil }
func (b *roundingBackend) MatrixPolicy() backend.MatrixPolicy           { return b.claim }

func roundTo(v float32, p backend.Precision) float32 {
	u := math.Float32bits(v)
	switch p {
	case backend.TF32:
		u = (u + 0x1000) &^ 0x1fff
	case backend.BF16:
		u = (u + 0x7fff + (u>>16)&1) &^ 0xffff
	}
	return math.Float32frombits(u)
}

func (b *roundingBackend) r(t *backend.Tensor) *backend.Tensor {
	if t == nil {
		return nil
	}
	v := b.ToFloat32(t)
	for i := range v {
		v[i] = roundTo(v[i], b.rounds)
	}
	return b.FromFloat32(v, t.Shape...)
}

func (b *roundingBackend) Conv2d(x, w, bias *backend.Tensor, p backend.Conv2dParams) *backend.Tensor {
	return b.Backend.Conv2d(b.r(x), b.r(w), bias, p)
}

// RoIAlign at BF16 rounds its input and output as BF16 storage does; its
// backward stays FP32.
func (b *roundingBackend) RoIAlign(x, rois *backend.Tensor, p backend.RoIAlignParams) *backend.Tensor {
	if b.rounds != backend.BF16 {
		return b.Backend.RoIAlign(x, rois, p)
	}
	return b.r(b.Backend.RoIAlign(b.r(x), rois, p))
}

func (b *roundingBackend) Conv2dBackward(x, w, dy *backend.Tensor, p backend.Conv2dParams, needDx, hasBias bool) (dx, dw, db *backend.Tensor) {
	// db is a plain reduction of dy: FP32 at every precision.
	_, _, db = b.Backend.Conv2dBackward(x, w, dy, p, false, hasBias)
	dx, dw, _ = b.Backend.Conv2dBackward(b.r(x), b.r(w), b.r(dy), p, needDx, false)
	return dx, dw, db
}

func (b *roundingBackend) MatMul(x, y *backend.Tensor, ta, tb bool) *backend.Tensor {
	return b.Backend.MatMul(b.r(x), b.r(y), ta, tb)
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
		b := &roundingBackend{Backend: cpu.New(), rounds: rounds, claim: claim}
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
