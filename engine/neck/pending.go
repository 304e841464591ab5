package neck

import (
	"github.com/fsodgpu/fsodgpu/engine/autograd"
	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// Until the backends' own SiLU and adaptive max pooling land, these compose
// them from tape ops with the same semantics.

// silu is x·σ(x).
func silu(t *autograd.Tape, x *autograd.Var) *autograd.Var {
	return t.Mul(x, t.Unary(backend.Sigmoid, x))
}

// adaptiveMaxPool is PyTorch's adaptive_max_pool2d to oh×ow: bin i spans
// rows floor(i·H/oh) … ceil((i+1)·H/oh)−1, likewise columns.
func adaptiveMaxPool(t *autograd.Tape, x *autograd.Var, oh, ow int) *autograd.Var {
	h, w := x.Shape()[2], x.Shape()[3]
	rows := make([]*autograd.Var, oh)
	for i := range oh {
		h0, h1 := i*h/oh, ((i+1)*h+oh-1)/oh
		band := t.Slice(x, 2, h0, h1)
		cols := make([]*autograd.Var, ow)
		for j := range ow {
			w0, w1 := j*w/ow, ((j+1)*w+ow-1)/ow
			cell := t.Slice(band, 3, w0, w1)
			cols[j] = t.MaxPool2d(cell, backend.PoolParams{KernelH: h1 - h0, KernelW: w1 - w0, StrideH: 1, StrideW: 1})
		}
		rows[i] = t.Concat(3, cols...)
	}
	return t.Concat(2, rows...)
}
