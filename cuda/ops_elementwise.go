//go:build cuda

package cuda

import (
	"fmt"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// Binary applies op with numpy broadcasting; same-shape operands take the
// contiguous kernel, others a strided one over the coalesced broadcast shape.
func (be *Backend) Binary(op backend.BinaryOp, a, b *backend.Tensor) *backend.Tensor {
	mustF32("Binary", a, b)
	if op > backend.Minimum {
		panic(fmt.Sprintf("cuda: Binary: unknown op %d", op))
	}
	shape := backend.BroadcastShape("cuda: Binary", a.Shape, b.Shape)
	out := be.empty(backend.F32, shape...)
	n := out.Numel()
	if backend.SameShape(a.Shape, b.Shape) {
		be.launch1D("binary_contig_forward_kernel", n, out, a, b, n, int(op))
		return out
	}
	cs, st := coalesce(shape, contiguousStrides(shape), broadcastStrides(a.Shape, shape), broadcastStrides(b.Shape, shape))
	args := append([]any{out, a, b, n, int(op)}, rankArgs("Binary", cs, st[1], st[2])...)
	be.launch1D("binary_forward_kernel", n, args...)
	return out
}

func (be *Backend) Unary(op backend.UnaryOp, x *backend.Tensor) *backend.Tensor {
	mustF32("Unary", x)
	if op > backend.Tanh {
		panic(fmt.Sprintf("cuda: Unary: unknown op %d", op))
	}
	out := be.empty(backend.F32, x.Shape...)
	be.launch1D("unary_forward_kernel", out.Numel(), out, x, out.Numel(), int(op))
	return out
}

// UnaryBackward returns dL/dx for y = op(x). Like the CPU backend, y may be
// nil (it is then recomputed) and x may be nil for the ops whose gradient
// needs only y (Exp, Sqrt, ReLU, Sigmoid, Tanh) or nothing (Neg).
func (be *Backend) UnaryBackward(op backend.UnaryOp, x, y, dy *backend.Tensor) *backend.Tensor {
	mustF32("UnaryBackward", x, y, dy)
	needY := op == backend.Exp || op == backend.Sqrt || op == backend.ReLU || op == backend.Sigmoid || op == backend.Tanh
	if (op == backend.Log || op == backend.Abs) && x == nil {
		panic("cuda: UnaryBackward of Log/Abs needs x")
	}
	if needY && y == nil {
		if x == nil {
			panic(fmt.Sprintf("cuda: UnaryBackward op %d needs x or y", op))
		}
		y = be.Unary(op, x)
		defer be.Free(y)
	}
	for _, t := range []*backend.Tensor{x, y} {
		if t != nil {
			mustSameShape("UnaryBackward", t, dy)
		}
	}
	dx := be.empty(backend.F32, dy.Shape...)
	n := dx.Numel()
	be.launch1D("unary_backward_kernel", n, dx, x, y, dy, n, int(op))
	return dx
}

func (be *Backend) Affine(x *backend.Tensor, alpha, beta float32) *backend.Tensor {
	mustF32("Affine", x)
	out := be.empty(backend.F32, x.Shape...)
	be.launch1D("affine_forward_kernel", out.Numel(), out, x, out.Numel(), alpha, beta)
	return out
}

func (be *Backend) AxpyInPlace(y *backend.Tensor, alpha float32, x *backend.Tensor) {
	mustF32("AxpyInPlace", x, y)
	mustSameShape("AxpyInPlace", y, x)
	be.launch1D("axpy_forward_kernel", y.Numel(), y, x, y.Numel(), alpha)
}

// Fill sets every element to v (int64(v) for I64 tensors, as the CPU backend).
func (be *Backend) Fill(t *backend.Tensor, v float32) {
	if t.DType == backend.I64 {
		be.launch1D("fill_i64_forward_kernel", t.Numel(), t, t.Numel(), int64(v))
		return
	}
	be.launch1D("fill_forward_kernel", t.Numel(), t, t.Numel(), v)
}

// Where returns cond != 0 ? a : b; cond may be F32 or I64.
func (be *Backend) Where(cond, a, b *backend.Tensor) *backend.Tensor {
	mustF32("Where", a, b)
	mustSameShape("Where", cond, a)
	mustSameShape("Where", a, b)
	out := be.empty(backend.F32, a.Shape...)
	kernel := "where_forward_kernel"
	if cond.DType == backend.I64 {
		kernel = "where_i64_forward_kernel"
	}
	be.launch1D(kernel, out.Numel(), out, cond, a, b, out.Numel())
	return out
}

// ChannelAffine returns x*scale[c] + shift[c] for x [N,C,...]; shift may be nil.
func (be *Backend) ChannelAffine(x, scale, shift *backend.Tensor) *backend.Tensor {
	mustF32("ChannelAffine", x, scale, shift)
	if len(x.Shape) < 2 || scale.Numel() != x.Shape[1] || (shift != nil && shift.Numel() != x.Shape[1]) {
		var sh []int
		if shift != nil {
			sh = shift.Shape
		}
		panic(fmt.Sprintf("cuda: ChannelAffine of %v with scale %v, shift %v", x.Shape, scale.Shape, sh))
	}
	out := be.empty(backend.F32, x.Shape...)
	n := out.Numel()
	be.launch1D("channel_affine_forward_kernel", n, out, x, scale, shift, n, x.Shape[1], backend.Numel(x.Shape[2:]))
	return out
}

// SGDStep is torch.optim.SGD (dampening 0, no Nesterov); buf may be nil when
// momentum is 0, as in the CPU backend.
func (be *Backend) SGDStep(param, grad, buf *backend.Tensor, lr, momentum, weightDecay float32) {
	mustF32("SGDStep", param, grad, buf)
	mustSameShape("SGDStep", param, grad)
	if buf != nil {
		mustSameShape("SGDStep", param, buf)
	} else if momentum != 0 {
		panic(fmt.Sprintf("cuda: SGDStep with momentum %v needs a buffer for %v", momentum, param.Shape))
	}
	n := param.Numel()
	be.launch1D("sgd_step_forward_kernel", n, param, grad, buf, n, lr, momentum, weightDecay)
}
