package golden

import (
	"math"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// Rounding returns b computing as a tensor core under pol computes: the
// operands of every convolution (pol.Conv) and matrix product (pol.MatMul)
// rounded as the matrix units round them (TF32: nearest, ties away from
// zero, cvt.rna; BF16: nearest even), accumulation staying FP32, and under a
// BF16 conv policy RoI-Align's input and output rounded to BF16 as the CUDA
// backend stores them. Everything else is b's own arithmetic. Its policy (as
// backend.PolicyOf sees it) is b's: it claims nothing.
//
// Run uses it, over the CPU backend, as the yardstick of a reduced-precision
// case: what rounding alone does to that case's answers (see roundingTol).
func Rounding(b backend.Backend, pol backend.MatrixPolicy) backend.Backend {
	return &rounding{Backend: b, pol: pol}
}

type rounding struct {
	backend.Backend
	pol backend.MatrixPolicy
}

// RoundTo rounds v as a tensor core rounds an operand of precision p (FP32:
// unchanged). Finite values only need care: Inf and NaN keep their class.
func RoundTo(v float32, p backend.Precision) float32 {
	u := math.Float32bits(v)
	if u&0x7f800000 == 0x7f800000 {
		return v
	}
	switch p {
	case backend.TF32:
		u = (u + 0x1000) &^ 0x1fff
	case backend.BF16:
		u = (u + 0x7fff + (u>>16)&1) &^ 0xffff
	}
	return math.Float32frombits(u)
}

func (r *rounding) round(t *backend.Tensor, p backend.Precision) *backend.Tensor {
	if t == nil || p == backend.FP32 {
		return t
	}
	v := r.ToFloat32(t)
	for i := range v {
		v[i] = RoundTo(v[i], p)
	}
	return r.FromFloat32(v, t.Shape...)
}

func (r *rounding) Conv2d(x, w, bias *backend.Tensor, p backend.Conv2dParams) *backend.Tensor {
	return r.Backend.Conv2d(r.round(x, r.pol.Conv), r.round(w, r.pol.Conv), bias, p)
}

func (r *rounding) Conv2dBackward(x, w, dy *backend.Tensor, p backend.Conv2dParams, needDx, hasBias bool) (dx, dw, db *backend.Tensor) {
	// db is a plain reduction of dy: FP32 at every precision.
	_, _, db = r.Backend.Conv2dBackward(x, w, dy, p, false, hasBias)
	c := r.pol.Conv
	dx, dw, _ = r.Backend.Conv2dBackward(r.round(x, c), r.round(w, c), r.round(dy, c), p, needDx, false)
	return dx, dw, db
}

func (r *rounding) MatMul(x, y *backend.Tensor, ta, tb bool) *backend.Tensor {
	return r.Backend.MatMul(r.round(x, r.pol.MatMul), r.round(y, r.pol.MatMul), ta, tb)
}

// RoIAlign's backward stays FP32 (the CUDA backend's gradients are FP32).
func (r *rounding) RoIAlign(x, rois *backend.Tensor, p backend.RoIAlignParams) *backend.Tensor {
	if r.pol.Conv != backend.BF16 {
		return r.Backend.RoIAlign(x, rois, p)
	}
	return r.round(r.Backend.RoIAlign(r.round(x, backend.BF16), rois, p), backend.BF16)
}
