package cpu

import (
	"fmt"
	"math"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// elemGrain is the smallest elementwise chunk worth a goroutine.
const elemGrain = 1 << 15

// broadcastStrides returns the element strides of a tensor of shape s viewed
// as the broadcast shape out: 0 along dimensions it is broadcast over.
func broadcastStrides(s, out []int) []int {
	st := make([]int, len(out))
	stride := 1
	for i := len(s) - 1; i >= 0; i-- {
		j := i + len(out) - len(s)
		if s[i] != 1 {
			st[j] = stride
		}
		stride *= s[i]
	}
	return st
}

// coalesce merges neighbouring dimensions that both operands step through
// as one (a [N,C,H,W] times [1,C,1,1] becomes [N,C,H·W]), so rows are as
// long as possible.
func coalesce(shape, sa, sb []int) (dims, na, nb []int) {
	dims, na, nb = []int{shape[0]}, []int{sa[0]}, []int{sb[0]}
	for d := 1; d < len(shape); d++ {
		last := len(dims) - 1
		if na[last] == sa[d]*shape[d] && nb[last] == sb[d]*shape[d] {
			dims[last] *= shape[d]
			na[last], nb[last] = sa[d], sb[d]
			continue
		}
		dims, na, nb = append(dims, shape[d]), append(na, sa[d]), append(nb, sb[d])
	}
	return dims, na, nb
}

// Binary applies op elementwise with numpy broadcasting of a and b.
// Maximum and Minimum propagate NaN like torch.maximum/minimum.
func (c *CPU) Binary(op backend.BinaryOp, a, b *backend.Tensor) *backend.Tensor {
	shape := backend.BroadcastShape("cpu: Binary", a.Shape, b.Shape)
	out := c.newF32(shape...)
	av, bv, ov := F32(a), F32(b), F32(out)
	if len(ov) == 0 {
		return out
	}
	if backend.SameShape(a.Shape, b.Shape) {
		c.parallelFor(len(ov), elemGrain, func(lo, hi int) {
			binaryRun(op, ov[lo:hi], av[lo:hi], 1, bv[lo:hi], 1)
		})
		return out
	}
	// Rows of the innermost dimension; each row's start offsets in a and b
	// come from the outer multi-index.
	dims, sa, sb := coalesce(shape, broadcastStrides(a.Shape, shape), broadcastStrides(b.Shape, shape))
	shape, nd := dims, len(dims)
	inner := shape[nd-1]
	rows := len(ov) / inner
	c.parallelFor(rows, max(1, elemGrain/inner), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			offA, offB, rem := 0, 0, r
			for d := nd - 2; d >= 0; d-- {
				i := rem % shape[d]
				rem /= shape[d]
				offA += i * sa[d]
				offB += i * sb[d]
			}
			binaryRun(op, ov[r*inner:(r+1)*inner], av[offA:], sa[nd-1], bv[offB:], sb[nd-1])
		}
	})
	return out
}

// binaryRun writes out[i] = a[i*sa] op b[i*sb]; strides are 0 or 1.
func binaryRun(op backend.BinaryOp, out, a []float32, sa int, b []float32, sb int) {
	switch op {
	case backend.Add:
		for i := range out {
			out[i] = a[i*sa] + b[i*sb]
		}
	case backend.Sub:
		for i := range out {
			out[i] = a[i*sa] - b[i*sb]
		}
	case backend.Mul:
		for i := range out {
			out[i] = a[i*sa] * b[i*sb]
		}
	case backend.Div:
		for i := range out {
			out[i] = a[i*sa] / b[i*sb]
		}
	case backend.Maximum:
		for i := range out {
			x, y := a[i*sa], b[i*sb]
			switch {
			case x != x || y != y:
				out[i] = float32(math.NaN())
			case x >= y:
				out[i] = x
			default:
				out[i] = y
			}
		}
	case backend.Minimum:
		for i := range out {
			x, y := a[i*sa], b[i*sb]
			switch {
			case x != x || y != y:
				out[i] = float32(math.NaN())
			case x <= y:
				out[i] = x
			default:
				out[i] = y
			}
		}
	default:
		panic(fmt.Sprintf("cpu: Binary: unknown op %d", op))
	}
}

// Unary applies op elementwise. Transcendentals are evaluated in float64 and
// rounded once, so they are correctly rounded in practice.
func (c *CPU) Unary(op backend.UnaryOp, x *backend.Tensor) *backend.Tensor {
	out := c.newF32(x.Shape...)
	xv, ov := F32(x), F32(out)
	c.parallelFor(len(ov), elemGrain, func(lo, hi int) {
		unaryRun(op, ov[lo:hi], xv[lo:hi])
	})
	return out
}

func unaryRun(op backend.UnaryOp, out, x []float32) {
	switch op {
	case backend.Neg:
		for i, v := range x {
			out[i] = -v
		}
	case backend.Exp:
		for i, v := range x {
			out[i] = float32(math.Exp(float64(v)))
		}
	case backend.Log:
		for i, v := range x {
			out[i] = float32(math.Log(float64(v)))
		}
	case backend.Sqrt:
		for i, v := range x {
			out[i] = float32(math.Sqrt(float64(v)))
		}
	case backend.Abs:
		for i, v := range x {
			out[i] = float32(math.Abs(float64(v)))
		}
	case backend.ReLU:
		for i, v := range x {
			if v > 0 || v != v {
				out[i] = v
			} else {
				out[i] = 0
			}
		}
	case backend.Sigmoid:
		for i, v := range x {
			out[i] = float32(sigmoid64(float64(v)))
		}
	case backend.Tanh:
		for i, v := range x {
			out[i] = float32(math.Tanh(float64(v)))
		}
	default:
		panic(fmt.Sprintf("cpu: Unary: unknown op %d", op))
	}
}

// sigmoid64 avoids exp overflow for large |v|.
func sigmoid64(v float64) float64 {
	if v >= 0 {
		return 1 / (1 + math.Exp(-v))
	}
	e := math.Exp(v)
	return e / (1 + e)
}

// UnaryBackward returns dL/dx for y = op(x). Exp, Sqrt, ReLU, Sigmoid and Tanh
// use y (as PyTorch's autograd does), Log and Abs use x, Neg neither; y may be
// nil and is then recomputed from x. ReLU passes the gradient where y > 0,
// Abs where x ≠ 0 with x's sign (torch.sign(0) = 0).
func (c *CPU) UnaryBackward(op backend.UnaryOp, x, y, dy *backend.Tensor) *backend.Tensor {
	needY := op == backend.Exp || op == backend.Sqrt || op == backend.ReLU || op == backend.Sigmoid || op == backend.Tanh
	if needY && y == nil {
		if x == nil {
			panic(fmt.Sprintf("cpu: UnaryBackward of op %d needs x or y", op))
		}
		y = c.Unary(op, x)
	}
	ref := dy
	if x != nil {
		ref = x
	}
	if !backend.SameShape(ref.Shape, dy.Shape) || (y != nil && !backend.SameShape(y.Shape, dy.Shape)) {
		panic(fmt.Sprintf("cpu: UnaryBackward shapes differ: x %v, dy %v", ref.Shape, dy.Shape))
	}
	out := c.newF32(dy.Shape...)
	ov, gv := F32(out), F32(dy)
	var xv, yv []float32
	if x != nil {
		xv = F32(x)
	}
	if y != nil {
		yv = F32(y)
	}
	if (op == backend.Log || op == backend.Abs) && xv == nil {
		panic("cpu: UnaryBackward of Log/Abs needs x")
	}
	c.parallelFor(len(ov), elemGrain, func(lo, hi int) {
		unaryBackwardRun(op, ov[lo:hi], gv[lo:hi], sub(xv, lo, hi), sub(yv, lo, hi))
	})
	return out
}

// sub is v[lo:hi], or nil for a nil v.
func sub(v []float32, lo, hi int) []float32 {
	if v == nil {
		return nil
	}
	return v[lo:hi]
}

func unaryBackwardRun(op backend.UnaryOp, out, g, x, y []float32) {
	switch op {
	case backend.Neg:
		for i, v := range g {
			out[i] = -v
		}
	case backend.Exp:
		for i, v := range g {
			out[i] = v * y[i]
		}
	case backend.Log:
		for i, v := range g {
			out[i] = v / x[i]
		}
	case backend.Sqrt:
		for i, v := range g {
			out[i] = v / (2 * y[i])
		}
	case backend.Abs:
		for i, v := range g {
			switch {
			case x[i] > 0:
				out[i] = v
			case x[i] < 0:
				out[i] = -v
			default:
				out[i] = 0
			}
		}
	case backend.ReLU:
		for i, v := range g {
			if y[i] > 0 {
				out[i] = v
			} else {
				out[i] = 0
			}
		}
	case backend.Sigmoid:
		for i, v := range g {
			out[i] = v * y[i] * (1 - y[i])
		}
	case backend.Tanh:
		for i, v := range g {
			out[i] = v * (1 - y[i]*y[i])
		}
	default:
		panic(fmt.Sprintf("cpu: UnaryBackward: unknown op %d", op))
	}
}

// Affine returns alpha*x + beta.
func (c *CPU) Affine(x *backend.Tensor, alpha, beta float32) *backend.Tensor {
	out := c.newF32(x.Shape...)
	xv, ov := F32(x), F32(out)
	c.parallelFor(len(ov), elemGrain, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			ov[i] = alpha*xv[i] + beta
		}
	})
	return out
}

// AxpyInPlace does y += alpha*x for same-shaped y and x.
func (c *CPU) AxpyInPlace(y *backend.Tensor, alpha float32, x *backend.Tensor) {
	if !backend.SameShape(y.Shape, x.Shape) {
		panic(fmt.Sprintf("cpu: AxpyInPlace shapes differ: y %v, x %v", y.Shape, x.Shape))
	}
	yv, xv := F32(y), F32(x)
	c.parallelFor(len(yv), elemGrain, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			yv[i] += alpha * xv[i]
		}
	})
}

// Fill sets every element of t to v (converted to int64 for I64 tensors).
func (c *CPU) Fill(t *backend.Tensor, v float32) {
	if t.DType == backend.I64 {
		s := I64(t)
		for i := range s {
			s[i] = int64(v)
		}
		return
	}
	s := F32(t)
	for i := range s {
		s[i] = v
	}
}

// Where returns cond != 0 ? a : b elementwise; cond may be F32 or I64.
func (c *CPU) Where(cond, a, b *backend.Tensor) *backend.Tensor {
	if !backend.SameShape(cond.Shape, a.Shape) || !backend.SameShape(a.Shape, b.Shape) {
		panic(fmt.Sprintf("cpu: Where shapes differ: cond %v, a %v, b %v", cond.Shape, a.Shape, b.Shape))
	}
	out := c.newF32(a.Shape...)
	av, bv, ov := F32(a), F32(b), F32(out)
	if cond.DType == backend.I64 {
		cv := I64(cond)
		for i := range ov {
			if cv[i] != 0 {
				ov[i] = av[i]
			} else {
				ov[i] = bv[i]
			}
		}
		return out
	}
	cv := F32(cond)
	for i := range ov {
		if cv[i] != 0 {
			ov[i] = av[i]
		} else {
			ov[i] = bv[i]
		}
	}
	return out
}

// ChannelAffine returns x*scale[c] + shift[c] for x [N,C,...] (frozen BN);
// shift may be nil.
func (c *CPU) ChannelAffine(x, scale, shift *backend.Tensor) *backend.Tensor {
	if len(x.Shape) < 2 || scale.Numel() != x.Shape[1] || (shift != nil && shift.Numel() != x.Shape[1]) {
		var sh []int
		if shift != nil {
			sh = shift.Shape
		}
		panic(fmt.Sprintf("cpu: ChannelAffine of %v with scale %v, shift %v", x.Shape, scale.Shape, sh))
	}
	n, ch := x.Shape[0], x.Shape[1]
	plane := backend.Numel(x.Shape[2:])
	out := c.newF32(x.Shape...)
	xv, ov, sc := F32(x), F32(out), F32(scale)
	var sf []float32
	if shift != nil {
		sf = F32(shift)
	}
	c.parallelFor(n*ch, max(1, elemGrain/max(1, plane)), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			s, b := sc[p%ch], float32(0)
			if sf != nil {
				b = sf[p%ch]
			}
			src, dst := xv[p*plane:(p+1)*plane], ov[p*plane:(p+1)*plane]
			for i, v := range src {
				dst[i] = v*s + b
			}
		}
	})
	return out
}
