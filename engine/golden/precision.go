package golden

import "github.com/fsodgpu/fsodgpu/engine/backend"

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
