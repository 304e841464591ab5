package golden

import (
	"sync"

	"github.com/fsodgpu/fsodgpu/engine/backend"
	"github.com/fsodgpu/fsodgpu/engine/cpu"
)

// Tolerances at reduced matrix precision. Only the ops whose answers go
// through a matrix product change tolerance: conv2d (forward, data and
// filter gradient), linear (MatMul), and the compositions built on them
// (neck blocks, the ResNet stage). And RoI-Align's output under a BF16 conv
// policy, which the CUDA backend stores in BF16 (from a BF16 copy of its
// input): held to the BF16 single-op bound, its gradient (FP32) to its own.
// Every other op (pooling, NMS, the losses, softmax, RC's KL, channel
// attention, reductions) computes in FP32 at every precision and keeps its
// case's own tolerance.
//
// The errors are those of rounding the operands, accumulation being FP32:
// TF32 keeps 10 explicit mantissa bits (unit roundoff 2^-11 ≈ 4.9e-4, cvt.rna),
// BF16 keeps 7 (2^-8 ≈ 3.9e-3, round to nearest even). Rounding the shipped
// conv2d and linear cases' operands so (precision_test.go) gives relative
// L2 errors of at most 3.8e-4 (TF32) and 3.6e-3 (BF16) in outputs and
// gradients alike; the single-op tolerances leave about 2.7× over that.
//
// A composition (a neck block: convolutions, frozen BN, ReLU/SiLU, max
// pooling, concatenation) compounds them: its forward outputs measured at
// most 5.9e-4 (TF32) and 4.8e-3 (BF16). Its gradients are another matter:
// a gradient through a max pool or a ReLU follows the selected element,
// and an operand rounded by 1e-3 flips the selection wherever two
// candidates are that close (ReLU outputs tie at 0 in every pooling
// window), moving whole gradient entries. Measured: up to 0.11 (TF32,
// SimSPPF) and 0.15 (BF16, RFB-a), the rest below 2e-3 and 3e-2. So a
// composition's gradients are held to 0.3 only: that still fails a wrong
// fragment mapping, a missing operand, a transposed tile (errors of order
// 1) and any NaN, while the single ops above carry the tight check.
var precisionTol = map[backend.Precision]struct{ single, composite, compositeGrad float64 }{
	backend.TF32: {single: 1e-3, composite: 2e-3, compositeGrad: 0.3},
	backend.BF16: {single: 1e-2, composite: 2e-2, compositeGrad: 0.3},
}

// matrixOps maps each golden op that runs matrix products to whether it is
// a composition of several (neck, resnet) and which policy field governs it.
var matrixOps = map[string]struct {
	composite bool
	conv      bool // governed by MatrixPolicy.Conv
	matmul    bool // governed by MatrixPolicy.MatMul
	storage   bool // output in BF16 storage when MatrixPolicy.Conv is BF16
}{
	"conv2d":    {conv: true},
	"linear":    {matmul: true},
	"neck":      {composite: true, conv: true},
	"resnet":    {composite: true, conv: true},
	"roi_align": {storage: true},
}

// PrecisionTol is the tolerance of a case of op whose FP32 tolerance is tol
// on a backend computing with pol: tol itself for FP32 and for ops without
// matrix products, else the larger of tol and the precision's bound (for a
// composition's outputs; see GradTol for its gradients).
func PrecisionTol(op string, tol float64, pol backend.MatrixPolicy) float64 {
	return precisionBound(op, tol, pol, false)
}

// GradTol is the tolerance of the grad_in.* and grad_param.* tensors of a
// case: PrecisionTol's, except for a composition at reduced precision
// (gradients through max pooling and ReLU selections, see precisionTol).
func GradTol(op string, tol float64, pol backend.MatrixPolicy) float64 {
	return precisionBound(op, tol, pol, true)
}

func precisionBound(op string, tol float64, pol backend.MatrixPolicy, grad bool) float64 {
	m, ok := matrixOps[op]
	if !ok {
		return tol
	}
	worst := 0.0
	if m.storage && !grad && pol.Conv == backend.BF16 {
		worst = precisionTol[backend.BF16].single
	}
	for _, use := range []struct {
		on bool
		p  backend.Precision
	}{{m.conv, pol.Conv}, {m.matmul, pol.MatMul}} {
		b, ok := precisionTol[use.p]
		if !use.on || !ok {
			continue
		}
		t := b.single
		if m.composite && grad {
			t = b.compositeGrad
		} else if m.composite {
			t = b.composite
		}
		worst = max(worst, t)
	}
	return max(tol, worst)
}

// roundingMargin scales what rounding alone does to a case (roundingErrors)
// into a tolerance floor. The precision bounds above are relative L2 errors
// of the whole output, which rounding keeps near the unit roundoff when the
// products' sum does not cancel; a case whose output is a few elements that
// nearly cancel (a 1×7 by 7×3 linear, say) amplifies the same per-product
// error past them, for a correct kernel as for the CPU. So a case's
// tolerance is at least 3× the error of the CPU backend with operands
// rounded as the precision rounds them: a correct kernel differs from that
// by summation order only (about 1e-6), a wrong fragment mapping, a missing
// operand or a transposed tile by errors of order 1, and NaN never passes.
// The floor stops at roundingCap: a case that rounding alone moves by more
// than a tenth is too ill-conditioned at that precision to tell a right
// kernel from a wrong one, and fails rather than pass anything.
const (
	roundingMargin = 3
	roundingCap    = 0.3
)

var roundingRef = sync.OnceValue(func() backend.Backend { return cpu.New() })

// roundingErrors runs c on the CPU backend rounding like pol (Rounding) and
// returns the worst relative error of its outputs and of its gradients
// against the stored answers; ok is false at FP32, for ops without matrix
// products, and when the CPU cannot run the case (it then keeps the
// precision bounds alone).
func roundingErrors(c *Case, pol backend.MatrixPolicy) (outErr, gradErr float64, ok bool) {
	m, known := matrixOps[c.Op]
	if !known {
		return 0, 0, false
	}
	if !(m.conv && pol.Conv != backend.FP32 || m.matmul && pol.MatMul != backend.FP32 || m.storage && pol.Conv == backend.BF16) {
		return 0, 0, false
	}
	outs, grads, pgrads, _, err := execute(Rounding(roundingRef(), pol), c)
	if err != nil {
		return 0, 0, false
	}
	worst := func(prefix string, got map[string]hostTensor) float64 {
		w := 0.0
		for _, name := range c.names(prefix) {
			h, have := got[name]
			if t := compareTensor(prefix+name, c.Tensors[prefix+name], h, have); t.Err == "" {
				w = max(w, t.RelErr)
			}
		}
		return w
	}
	return worst("out.", outs), max(worst("grad_in.", grads), worst("grad_param.", pgrads)), true
}
