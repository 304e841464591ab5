//go:build cuda

package cuda

import (
	"fmt"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// GEMM tiling shared with kernels/gemm.cu: 128×128 output tiles, K in steps
// of 8, 256 threads.
const (
	gemmTile    = 128
	gemmK       = 8
	gemmThreads = 256
	// Split-K limits: at most maxSplits slices, each at least minSplitK deep.
	maxSplits = 32
	minSplitK = 256
)

// splitK chooses how many K ranges to run in parallel when the output has
// too few tiles to fill the GPU (the box predictor's [R,2048]·[2048,21], the
// filter gradient of a deep layer). It returns the count and the per-split
// depth, a multiple of gemmK; the count depends only on the shapes and the
// GPU model, so the partial-sum order is fixed.
func (be *Backend) splitK(tiles, k int) (splits, chunk int) {
	target := 2 * be.g.info.Multiprocessors
	splits = 1
	if tiles < target {
		splits = min(ceilDiv(target, tiles), maxSplits, max(1, k/minSplitK))
	}
	chunk = ceilDiv(ceilDiv(k, splits), gemmK) * gemmK
	if chunk == 0 {
		chunk = gemmK
	}
	return ceilDiv(k, chunk), chunk
}

// reduceSplits adds the [splits, n] partials of a split-K GEMM into out [n],
// slice by slice in order.
func (be *Backend) reduceSplits(out, partial *backend.Tensor, splits, n int) {
	be.launch("sum_mid_forward_kernel", [3]int{ceilDiv(n, 32), 1, 1}, [3]int{32, 8, 1}, 0,
		out, partial, 1, splits, n, splits)
}

// MatMul returns op(a)·op(b) for 2-D F32 a and b, in the policy's MatMul
// precision.
func (be *Backend) MatMul(a, b *backend.Tensor, transA, transB bool) *backend.Tensor {
	mustF32("MatMul", a, b)
	if len(a.Shape) != 2 || len(b.Shape) != 2 {
		panic(fmt.Sprintf("cuda: MatMul needs 2-D operands, got %v and %v", a.Shape, b.Shape))
	}
	m, ka := a.Shape[0], a.Shape[1]
	if transA {
		m, ka = ka, m
	}
	kb, n := b.Shape[0], b.Shape[1]
	if transB {
		kb, n = n, kb
	}
	if ka != kb {
		panic(fmt.Sprintf("cuda: MatMul inner dimensions differ: %v (transA %v) · %v (transB %v)", a.Shape, transA, b.Shape, transB))
	}
	out := be.empty(backend.F32, m, n)
	if out.Numel() == 0 {
		return out
	}
	if ka == 0 {
		be.memsetZero(out)
		return out
	}
	kernel := "matmul_nn_forward_kernel"
	switch {
	case !transA && transB:
		kernel = "matmul_nt_forward_kernel"
	case transA && !transB:
		kernel = "matmul_tn_forward_kernel"
	case transA && transB:
		kernel = "matmul_tt_forward_kernel"
	}
	gx, gy := ceilDiv(n, gemmTile), ceilDiv(m, gemmTile)
	splits, chunk := be.splitK(gx*gy, ka)
	dst := out
	if splits > 1 {
		dst = be.empty(backend.F32, splits, m, n)
		defer be.Free(dst)
	}
	be.launch(kernelFor(kernel, be.policy.MatMul), [3]int{gx, gy, splits}, [3]int{gemmThreads, 1, 1}, 0, dst, a, b, m, n, ka, chunk)
	if splits > 1 {
		be.reduceSplits(out, dst, splits, m*n)
	}
	return out
}
