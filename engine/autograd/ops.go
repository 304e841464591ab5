package autograd

import (
	"fmt"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// Each op computes its value with the backend and records a closure that
// maps the output gradient dy to input gradients. Closures capture only what
// they need; saved tensors that are not on the tape are handed to Keep.

// Binary applies op with numpy broadcasting (Add, Sub, Mul, Div).
func (t *Tape) Binary(op backend.BinaryOp, a, b *Var) *Var {
	be := t.be
	y := be.Binary(op, a.Value, b.Value)
	return t.record(y, func(dy *backend.Tensor) {
		reduce := func(g *backend.Tensor, shape []int) *backend.Tensor {
			if backend.SameShape(g.Shape, shape) {
				return g
			}
			r := be.SumTo(g, shape)
			be.Free(g)
			return r
		}
		// pass hands dy to an input of the same shape without a reduction
		// (residual additions), else reduces it over the broadcast axes.
		pass := func(v *Var) {
			if backend.SameShape(dy.Shape, v.Value.Shape) {
				t.accum(v, dy, false)
			} else {
				t.accum(v, be.SumTo(dy, v.Value.Shape), true)
			}
		}
		switch op {
		case backend.Add:
			if a.RequiresGrad {
				pass(a)
			}
			if b.RequiresGrad {
				pass(b)
			}
		case backend.Sub:
			if a.RequiresGrad {
				pass(a)
			}
			if b.RequiresGrad {
				n := be.Affine(dy, -1, 0)
				t.accum(b, reduce(n, b.Value.Shape), true)
			}
		case backend.Mul:
			if a.RequiresGrad {
				t.accum(a, reduce(be.Binary(backend.Mul, dy, b.Value), a.Value.Shape), true)
			}
			if b.RequiresGrad {
				t.accum(b, reduce(be.Binary(backend.Mul, dy, a.Value), b.Value.Shape), true)
			}
		case backend.Div:
			if a.RequiresGrad {
				t.accum(a, reduce(be.Binary(backend.Div, dy, b.Value), a.Value.Shape), true)
			}
			if b.RequiresGrad {
				// d(a/b)/db = -y/b
				q := be.Binary(backend.Div, y, b.Value)
				g := be.Binary(backend.Mul, dy, q)
				be.Free(q)
				n := be.Affine(g, -1, 0)
				be.Free(g)
				t.accum(b, reduce(n, b.Value.Shape), true)
			}
		default:
			panic(fmt.Sprintf("autograd: Binary backward of op %d not supported", op))
		}
	}, a, b)
}

// Add is a + b with broadcasting.
func (t *Tape) Add(a, b *Var) *Var { return t.Binary(backend.Add, a, b) }

// Sub is a - b with broadcasting.
func (t *Tape) Sub(a, b *Var) *Var { return t.Binary(backend.Sub, a, b) }

// Mul is a * b with broadcasting.
func (t *Tape) Mul(a, b *Var) *Var { return t.Binary(backend.Mul, a, b) }

// Unary applies an elementwise op (ReLU, Sigmoid, Exp, ...).
func (t *Tape) Unary(op backend.UnaryOp, x *Var) *Var {
	be := t.be
	y := be.Unary(op, x.Value)
	var out *Var
	out = t.record(y, func(dy *backend.Tensor) {
		t.accum(x, be.UnaryBackward(op, x.Value, out.Value, dy), true)
	}, x)
	return out
}

// ReLU is max(x, 0).
func (t *Tape) ReLU(x *Var) *Var { return t.Unary(backend.ReLU, x) }

// Scale is alpha*x + beta.
func (t *Tape) Scale(x *Var, alpha, beta float32) *Var {
	be := t.be
	return t.record(be.Affine(x.Value, alpha, beta), func(dy *backend.Tensor) {
		t.accum(x, be.Affine(dy, alpha, 0), true)
	}, x)
}

// Reshape returns a view of x under a new shape.
func (t *Tape) Reshape(x *Var, shape ...int) *Var {
	out := t.record(x.Value.Reshape(shape...), func(dy *backend.Tensor) {
		t.accum(x, dy.Reshape(x.Value.Shape...), false)
	}, x)
	out.view = true
	return out
}

// Permute reorders the axes of x.
func (t *Tape) Permute(x *Var, perm ...int) *Var {
	be := t.be
	inv := make([]int, len(perm))
	for i, p := range perm {
		inv[p] = i
	}
	return t.record(be.Permute(x.Value, perm...), func(dy *backend.Tensor) {
		t.accum(x, be.Permute(dy, inv...), true)
	}, x)
}

// Concat joins xs along axis.
func (t *Tape) Concat(axis int, xs ...*Var) *Var {
	be := t.be
	vals := make([]*backend.Tensor, len(xs))
	for i, x := range xs {
		vals[i] = x.Value
	}
	return t.record(be.Concat(axis, vals...), func(dy *backend.Tensor) {
		off := 0
		for _, x := range xs {
			n := x.Value.Shape[axis]
			if x.RequiresGrad {
				t.accum(x, be.Slice(dy, axis, off, off+n), true)
			}
			off += n
		}
	}, xs...)
}

// Slice takes [start,end) of x along axis.
func (t *Tape) Slice(x *Var, axis, start, end int) *Var {
	be := t.be
	return t.record(be.Slice(x.Value, axis, start, end), func(dy *backend.Tensor) {
		t.accum(x, be.SliceBackward(dy, x.Value.Shape, axis, start), true)
	}, x)
}

// Gather selects rows of x by idx (I64, 1-D, caller-owned).
func (t *Tape) Gather(x *Var, idx *backend.Tensor) *Var {
	be := t.be
	return t.record(be.Gather(x.Value, idx), func(dy *backend.Tensor) {
		t.accum(x, be.ScatterAdd(dy, idx, x.Value.Shape[0]), true)
	}, x)
}

// Sum reduces x over axes (no kept dims) or over everything when axes is nil.
func (t *Tape) Sum(x *Var, axes []int) *Var {
	be := t.be
	if axes == nil {
		axes = make([]int, len(x.Value.Shape))
		for i := range axes {
			axes[i] = i
		}
	}
	y := be.Sum(x.Value, axes, false)
	return t.record(y, func(dy *backend.Tensor) {
		t.accum(x, t.broadcastTo(dy, x.Value.Shape, axes), true)
	}, x)
}

// broadcastTo expands dy (x's shape with axes removed) back to shape.
func (t *Tape) broadcastTo(dy *backend.Tensor, shape []int, axes []int) *backend.Tensor {
	kept := append([]int(nil), shape...)
	for _, a := range axes {
		kept[a] = 1
	}
	z := t.be.Zeros(backend.F32, shape...)
	g := t.be.Binary(backend.Add, z, dy.Reshape(kept...))
	t.be.Free(z)
	return g
}

// MeanHW averages [N,C,H,W] over H and W to [N,C].
func (t *Tape) MeanHW(x *Var) *Var {
	if len(x.Value.Shape) != 4 {
		panic(fmt.Sprintf("autograd: MeanHW of %s", backend.ShapeString(x.Value.Shape)))
	}
	s := t.Sum(x, []int{2, 3})
	return t.Scale(s, 1/float32(x.Value.Shape[2]*x.Value.Shape[3]), 0)
}

// Linear is x·wᵀ + b for x [N,I], w [O,I], b [O] (b may be nil).
func (t *Tape) Linear(x, w, b *Var) *Var {
	be := t.be
	y := be.MatMul(x.Value, w.Value, false, true)
	if b != nil {
		yb := be.Binary(backend.Add, y, b.Value)
		be.Free(y)
		y = yb
	}
	return t.record(y, func(dy *backend.Tensor) {
		if x.RequiresGrad {
			t.accum(x, be.MatMul(dy, w.Value, false, false), true)
		}
		if w.RequiresGrad {
			t.accum(w, be.MatMul(dy, x.Value, true, false), true)
		}
		if b != nil && b.RequiresGrad {
			t.accum(b, be.Sum(dy, []int{0}, false), true)
		}
	}, x, w, b)
}

// Conv2d convolves x with w and adds b (b may be nil).
func (t *Tape) Conv2d(x, w, b *Var, p backend.Conv2dParams) *Var {
	be := t.be
	var bv *backend.Tensor
	if b != nil {
		bv = b.Value
	}
	return t.record(be.Conv2d(x.Value, w.Value, bv, p), func(dy *backend.Tensor) {
		hasBias := b != nil && b.RequiresGrad
		dx, dw, db := be.Conv2dBackward(x.Value, w.Value, dy, p, x.RequiresGrad, hasBias)
		if dx != nil {
			t.accum(x, dx, true)
		}
		t.accum(w, dw, true)
		if db != nil {
			t.accum(b, db, true)
		}
	}, x, w, b)
}

// ChannelAffine is x*scale[c] + shift[c] with constant scale and shift
// (frozen batch norm): only x gets a gradient.
func (t *Tape) ChannelAffine(x *Var, scale, shift *backend.Tensor) *Var {
	be := t.be
	return t.record(be.ChannelAffine(x.Value, scale, shift), func(dy *backend.Tensor) {
		t.accum(x, be.ChannelAffine(dy, scale, nil), true)
	}, x)
}

// MaxPool2d is max pooling over H,W.
func (t *Tape) MaxPool2d(x *Var, p backend.PoolParams) *Var {
	be := t.be
	y, arg := be.MaxPool2d(x.Value, p)
	t.Keep(arg)
	return t.record(y, func(dy *backend.Tensor) {
		t.accum(x, be.MaxPool2dBackward(dy, arg, x.Value.Shape), true)
	}, x)
}

// RoIAlign pools x [N,C,H,W] over rois [R,5] (caller-owned, no gradient).
func (t *Tape) RoIAlign(x *Var, rois *backend.Tensor, p backend.RoIAlignParams) *Var {
	be := t.be
	return t.record(be.RoIAlign(x.Value, rois, p), func(dy *backend.Tensor) {
		t.accum(x, be.RoIAlignBackward(dy, rois, x.Value.Shape, p), true)
	}, x)
}

// ChannelAttention is MFE's task adapter x ⊙ σ(W2·relu(W1·pool(x)+b1)+b2).
func (t *Tape) ChannelAttention(x, w1, b1, w2, b2 *Var, pool string) *Var {
	be := t.be
	y, cache := be.ChannelAttention(x.Value, w1.Value, b1.Value, w2.Value, b2.Value, pool)
	if cache != nil {
		t.Keep(cache.Pooled)
		t.Keep(cache.ArgMax)
		t.Keep(cache.Hidden)
		t.Keep(cache.Gate)
	}
	return t.record(y, func(dy *backend.Tensor) {
		dx, dw1, db1, dw2, db2 := be.ChannelAttentionBackward(x.Value, w1.Value, w2.Value, dy, cache, pool)
		t.accum(x, dx, true)
		t.accum(w1, dw1, true)
		t.accum(b1, db1, true)
		t.accum(w2, dw2, true)
		t.accum(b2, db2, true)
	}, x, w1, b1, w2, b2)
}

// Dropout is x*mask/(1-p) with a caller-owned {0,1} mask.
func (t *Tape) Dropout(x *Var, mask *backend.Tensor, p float32) *Var {
	be := t.be
	return t.record(be.Dropout(x.Value, mask, p), func(dy *backend.Tensor) {
		t.accum(x, be.Dropout(dy, mask, p), true)
	}, x)
}

// GradScale is DeFRCN's gradient decoupled layer: identity forward, gradient
// multiplied by lambda backward (0 stops it, 1 passes it unchanged).
func (t *Tape) GradScale(x *Var, lambda float32) *Var {
	be := t.be
	out := t.record(x.Value.Reshape(x.Value.Shape...), func(dy *backend.Tensor) {
		if lambda == 0 {
			return // DeFRCN's RPN setting: spare the zero gradient's pass below
		}
		t.accum(x, be.Affine(dy, lambda, 0), true)
	}, x)
	out.view = true
	return out
}

// CrossEntropy is the mean cross-entropy of logits [N,K] against target [N] (I64).
func (t *Tape) CrossEntropy(logits *Var, target *backend.Tensor) *Var {
	be := t.be
	return t.record(be.CrossEntropy(logits.Value, target), func(dy *backend.Tensor) {
		t.accum(logits, be.CrossEntropyBackward(logits.Value, target, dy), true)
	}, logits)
}

// SmoothL1 is the smooth-L1 loss of x against a constant target.
func (t *Tape) SmoothL1(x *Var, target *backend.Tensor, beta float32, r backend.Reduction) *Var {
	be := t.be
	return t.record(be.SmoothL1(x.Value, target, beta, r), func(dy *backend.Tensor) {
		t.accum(x, be.SmoothL1Backward(x.Value, target, dy, beta, r), true)
	}, x)
}

// BCEWithLogits is the binary cross-entropy of logits x against a constant target.
func (t *Tape) BCEWithLogits(x *Var, target *backend.Tensor, r backend.Reduction) *Var {
	be := t.be
	return t.record(be.BCEWithLogits(x.Value, target, r), func(dy *backend.Tensor) {
		t.accum(x, be.BCEWithLogitsBackward(x.Value, target, dy, r), true)
	}, x)
}

// RCLoss is the symmetric KL divergence between softmax(a) and softmax(b).
func (t *Tape) RCLoss(a, b *Var) *Var {
	be := t.be
	return t.record(be.RCLoss(a.Value, b.Value), func(dy *backend.Tensor) {
		da, db := be.RCLossBackward(a.Value, b.Value, dy)
		t.accum(a, da, true)
		t.accum(b, db, true)
	}, a, b)
}

// SiLU is x·σ(x) (YOLOv5's and YOLOv7's activation).
func (t *Tape) SiLU(x *Var) *Var {
	be := t.be
	return t.record(be.SiLU(x.Value), func(dy *backend.Tensor) {
		t.accum(x, be.SiLUBackward(x.Value, dy), true)
	}, x)
}

// LeakyReLU is x > 0 ? x : slope·x (YOLOv1's activation, slope 0.1).
func (t *Tape) LeakyReLU(x *Var, slope float32) *Var {
	be := t.be
	return t.record(be.LeakyReLU(x.Value, slope), func(dy *backend.Tensor) {
		t.accum(x, be.LeakyReLUBackward(x.Value, dy, slope), true)
	}, x)
}

// AdaptiveMaxPool2d max-pools x [N,C,H,W] into an outH×outW grid of
// PyTorch's adaptive bins (one SPP-net pyramid level).
func (t *Tape) AdaptiveMaxPool2d(x *Var, outH, outW int) *Var {
	be := t.be
	y, arg := be.AdaptiveMaxPool2d(x.Value, outH, outW)
	t.Keep(arg)
	return t.record(y, func(dy *backend.Tensor) {
		t.accum(x, be.MaxPool2dBackward(dy, arg, x.Value.Shape), true)
	}, x)
}

// RoIPool max-pools x [N,C,H,W] over rois [R,5] (caller-owned, no gradient)
// as torchvision.ops.roi_pool: detectron2's ROIPool pooler.
func (t *Tape) RoIPool(x *Var, rois *backend.Tensor, p backend.RoIPoolParams) *Var {
	be := t.be
	y, arg := be.RoIPool(x.Value, rois, p)
	t.Keep(arg)
	return t.record(y, func(dy *backend.Tensor) {
		t.accum(x, be.RoIPoolBackward(dy, arg, rois, x.Value.Shape), true)
	}, x)
}

// YOLOv1Loss is the YOLOv1 sum-squared loss of pred [N,S,S,5B+C] against
// caller-owned targets (obj, box, cls as GOLDEN.md's yolov1_loss).
func (t *Tape) YOLOv1Loss(pred *Var, obj, box, cls *backend.Tensor, p backend.YOLOv1LossParams) *Var {
	be := t.be
	return t.record(be.YOLOv1Loss(pred.Value, obj, box, cls, p), func(dy *backend.Tensor) {
		t.accum(pred, be.YOLOv1LossBackward(pred.Value, obj, box, cls, dy, p), true)
	}, pred)
}
