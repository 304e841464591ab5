//go:build cuda

package cuda

import (
	"fmt"
	"slices"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// Reduction launch tuning: rows up to warpRowMax elements go one warp per
// row; longer ones one block per row; a reduced extent beyond rowChunk
// (contiguous rows) or midChunk (strided, B > 1: 8 serial lanes per column)
// is cut into chunks whose partial sums a second pass adds, so one long
// reduction still spreads over the GPU and no thread adds more than about a
// hundred terms in a row. All fixed by shape: the summation order never varies.
const (
	warpRowMax  = 512
	rowChunk    = 8192
	midChunk    = 1024
	maxChunks   = 1024
	blockReduce = 256
	maxGridY    = 65535
)

// Sum reduces over axes (negative axes count from the end; no axes reduces
// every axis, as torch.sum(x, dim=[]) does).
func (be *Backend) Sum(x *backend.Tensor, axes []int, keepDims bool) *backend.Tensor {
	mustF32("Sum", x)
	reduced := make([]bool, len(x.Shape))
	if len(axes) == 0 {
		for i := range reduced {
			reduced[i] = true
		}
	}
	for _, a := range axes {
		reduced[normAxis("Sum", a, x.Shape)] = true
	}
	var shape []int
	for i, d := range x.Shape {
		switch {
		case !reduced[i]:
			shape = append(shape, d)
		case keepDims:
			shape = append(shape, 1)
		}
	}
	return be.sumReduced(x, reduced, shape)
}

// SumTo reduces a broadcast gradient x back to shape.
func (be *Backend) SumTo(x *backend.Tensor, shape []int) *backend.Tensor {
	mustF32("SumTo", x)
	if bs := backend.BroadcastShape("cuda: SumTo", x.Shape, shape); !backend.SameShape(bs, x.Shape) {
		panic(fmt.Sprintf("cuda: SumTo: %v does not broadcast to %v", shape, x.Shape))
	}
	lead := len(x.Shape) - len(shape)
	reduced := make([]bool, len(x.Shape))
	for i := range x.Shape {
		reduced[i] = i < lead || (shape[i-lead] == 1 && x.Shape[i] != 1)
	}
	return be.sumReduced(x, reduced, shape)
}

// sumReduced sums x over the dimensions marked reduced into a new tensor of
// outShape (whose element count is the product of the kept dimensions).
func (be *Backend) sumReduced(x *backend.Tensor, reduced []bool, outShape []int) *backend.Tensor {
	// Group the non-trivial dimensions into runs of kept / reduced.
	type run struct {
		size    int
		reduced bool
	}
	var runs []run
	for i, d := range x.Shape {
		if d == 1 {
			continue
		}
		if len(runs) > 0 && runs[len(runs)-1].reduced == reduced[i] {
			runs[len(runs)-1].size *= d
			continue
		}
		runs = append(runs, run{d, reduced[i]})
	}
	nReduced := 0
	for _, r := range runs {
		if r.reduced {
			nReduced++
		}
	}
	out := be.empty(backend.F32, outShape...)
	if out.Numel() == 0 {
		return out
	}
	src := x
	A, R, B := 1, 1, 1
	switch {
	case nReduced == 0:
		be.copyInto(out, x)
		return out
	case nReduced == 1:
		seen := false
		for _, r := range runs {
			switch {
			case r.reduced:
				R, seen = r.size, true
			case seen:
				B *= r.size
			default:
				A *= r.size
			}
		}
	default:
		// Reduced axes are interleaved with kept ones: move the kept axes
		// first, then reduce the contiguous tail.
		var perm []int
		for i := range x.Shape {
			if !reduced[i] {
				perm = append(perm, i)
			}
		}
		for i := range x.Shape {
			if reduced[i] {
				perm = append(perm, i)
			}
		}
		src = be.Permute(x, perm...)
		defer be.Free(src)
		A = out.Numel()
		R = x.Numel() / A
	}
	if R == 0 {
		be.memsetZero(out)
		return out
	}
	be.sumARB(out, src, A, R, B)
	return out
}

// sumARB writes out[a,b] = Σ_r src[a,r,b].
func (be *Backend) sumARB(out, src *backend.Tensor, A, R, B int) {
	limit := rowChunk
	if B > 1 {
		limit = midChunk
	}
	S, chunk := 1, R
	if R > limit {
		S = min(ceilDiv(R, limit), maxChunks)
		chunk = ceilDiv(R, S)
		S = ceilDiv(R, chunk)
	}
	// With S > 1 the first pass writes partials, [A, S] for rows (B == 1)
	// and [S, A, B] otherwise, and a second pass adds them in order.
	dst := out
	if S > 1 {
		dst = be.empty(backend.F32, S*A*B)
		defer be.Free(dst)
	}
	if B == 1 {
		if chunk <= warpRowMax {
			grid, block := grid1D(A * S * 32)
			be.launch("sum_rows_warp_forward_kernel", grid, block, 0, dst, src, A, R, chunk, S)
		} else {
			be.launch("sum_rows_block_forward_kernel", [3]int{S, min(A, maxGridY), 1}, [3]int{blockReduce, 1, 1}, 0,
				dst, src, A, R, chunk, S)
		}
		if S > 1 {
			grid, block := grid1D(A * 32)
			be.launch("sum_rows_warp_forward_kernel", grid, block, 0, out, dst, A, S, S, 1)
		}
		return
	}
	be.launch("sum_mid_forward_kernel", [3]int{ceilDiv(B, 32), min(A, maxGridY), S}, [3]int{32, 8, 1}, 0,
		dst, src, A, R, B, chunk)
	if S > 1 {
		be.launch("sum_mid_forward_kernel", [3]int{ceilDiv(A*B, 32), 1, 1}, [3]int{32, 8, 1}, 0,
			out, dst, 1, S, A*B, S)
	}
}

// Max returns the maximum along axis and its index (I64), the axis dropped.
// Ties give the first index and a NaN wins, as torch.max(x, dim).
func (be *Backend) Max(x *backend.Tensor, axis int) (values, indices *backend.Tensor) {
	mustF32("Max", x)
	outer, n, inner, ax := splitAxis("Max", x.Shape, axis)
	if n == 0 {
		panic(fmt.Sprintf("cuda: Max over empty axis %d of %v", ax, x.Shape))
	}
	shape := slices.Delete(slices.Clone(x.Shape), ax, ax+1)
	values, indices = be.empty(backend.F32, shape...), be.empty(backend.I64, shape...)
	if inner == 1 {
		grid, block := grid1D(outer * 32)
		be.launch("max_rows_forward_kernel", grid, block, 0, values, indices, x, outer, n)
	} else {
		be.launch1D("max_mid_forward_kernel", outer*inner, values, indices, x, outer, n, inner)
	}
	return values, indices
}

func (be *Backend) Softmax(x *backend.Tensor) *backend.Tensor { return be.softmax("Softmax", x, false) }
func (be *Backend) LogSoftmax(x *backend.Tensor) *backend.Tensor {
	return be.softmax("LogSoftmax", x, true)
}

func (be *Backend) softmax(op string, x *backend.Tensor, logOut bool) *backend.Tensor {
	mustF32(op, x)
	if len(x.Shape) == 0 {
		panic(fmt.Sprintf("cuda: %s of a scalar", op))
	}
	k := x.Shape[len(x.Shape)-1]
	out := be.empty(backend.F32, x.Shape...)
	if k == 0 || out.Numel() == 0 {
		return out
	}
	m := out.Numel() / k
	grid, block := grid1D(m * 32)
	be.launch("softmax_forward_kernel", grid, block, 0, out, x, m, k, logOut)
	return out
}
