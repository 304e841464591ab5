//go:build cuda

package cuda

import (
	"fmt"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// convGeom is one convolution's geometry, in the order the conv kernels take
// it (CONV_GEOM_PARAMS in kernels/conv.cu).
type convGeom struct {
	n, c, h, w, k, r, s, oh, ow int
	p                           backend.Conv2dParams
}

func (g convGeom) args() []any {
	return []any{g.n, g.c, g.h, g.w, g.k, g.r, g.s, g.oh, g.ow,
		g.p.StrideH, g.p.StrideW, g.p.PadH, g.p.PadW, g.p.DilationH, g.p.DilationW}
}

func convCheck(op string, x, w *backend.Tensor, p backend.Conv2dParams) convGeom {
	mustF32(op, w)
	if len(x.Shape) != 4 || len(w.Shape) != 4 || x.Shape[1] != w.Shape[1] ||
		p.StrideH < 1 || p.StrideW < 1 || p.DilationH < 1 || p.DilationW < 1 || p.PadH < 0 || p.PadW < 0 {
		panic(fmt.Sprintf("cuda: %s of x %v with w %v, %+v (groups 1)", op, x.Shape, w.Shape, p))
	}
	g := convGeom{n: x.Shape[0], c: x.Shape[1], h: x.Shape[2], w: x.Shape[3],
		k: w.Shape[0], r: w.Shape[2], s: w.Shape[3], p: p}
	g.oh, g.ow = p.OutSize(g.h, g.w, g.r, g.s)
	if g.oh < 1 || g.ow < 1 {
		panic(fmt.Sprintf("cuda: %s of x %v with w %v, %+v gives an empty output", op, x.Shape, w.Shape, p))
	}
	// The kernels index pixels and per-image offsets with 32-bit integers.
	if x.Numel() >= 1<<31 || g.n*g.k*g.oh*g.ow >= 1<<31 || w.Numel() >= 1<<31 {
		panic(fmt.Sprintf("cuda: %s of x %v with w %v: tensors of 2^31 or more elements are not supported", op, x.Shape, w.Shape))
	}
	return g
}

// Conv2d is F.conv2d (groups 1) as an implicit GEMM; b may be nil. Forward,
// data and filter gradients run in the policy's Conv precision. x may be BF16
// storage under a BF16 policy (bf16.go).
func (be *Backend) Conv2d(x, w, b *backend.Tensor, p backend.Conv2dParams) *backend.Tensor {
	xs := be.convInput("Conv2d", x)
	g := convCheck("Conv2d", x, w, p)
	mustF32("Conv2d", b)
	if b != nil && b.Numel() != g.k {
		panic(fmt.Sprintf("cuda: Conv2d bias %v for w %v", b.Shape, w.Shape))
	}
	y := be.empty(backend.F32, g.n, g.k, g.oh, g.ow)
	grid := [3]int{ceilDiv(g.n*g.oh*g.ow, gemmTile), ceilDiv(g.k, gemmTile), 1}
	be.launch(be.convKernel("conv2d_forward_kernel", xs), grid, [3]int{gemmThreads, 1, 1}, 0, append([]any{y, x, w, b}, g.args()...)...)
	return y
}

// Conv2dBackward returns dx (when needDx), dw, and db (when hasBias). dw is
// reduced over the batch and output pixels with split-K partials summed in a
// fixed order, db with the deterministic Sum: both are run-to-run identical.
func (be *Backend) Conv2dBackward(x, w, dy *backend.Tensor, p backend.Conv2dParams, needDx, hasBias bool) (dx, dw, db *backend.Tensor) {
	xs := be.convInput("Conv2dBackward", x)
	g := convCheck("Conv2dBackward", x, w, p)
	mustF32("Conv2dBackward", dy)
	if !backend.SameShape(dy.Shape, []int{g.n, g.k, g.oh, g.ow}) {
		panic(fmt.Sprintf("cuda: Conv2dBackward dy %v for x %v, w %v, %+v", dy.Shape, x.Shape, w.Shape, p))
	}
	block := [3]int{gemmThreads, 1, 1}
	if needDx {
		dx = be.empty(backend.F32, x.Shape...) // gradients stay FP32
		grid := [3]int{ceilDiv(g.n*g.h*g.w, gemmTile), ceilDiv(g.c, gemmTile), 1}
		be.launch(kernelFor("conv2d_data_backward_kernel", be.policy.Conv), grid, block, 0, append([]any{dx, dy, w}, g.args()...)...)
	}

	crs, pix := g.c*g.r*g.s, g.n*g.oh*g.ow
	dw = be.empty(backend.F32, w.Shape...)
	if pix == 0 {
		// An empty batch: splitK gives 0 splits and the launch below would be
		// skipped, leaving dw with a recycled pool block's values.
		be.memsetZero(dw)
		if hasBias {
			db = be.Sum(dy, []int{0, 2, 3}, false)
		}
		return dx, dw, db
	}
	gx, gy := ceilDiv(crs, gemmTile), ceilDiv(g.k, gemmTile)
	splits, chunk := be.splitK(gx*gy, pix)
	dst := dw
	if splits > 1 {
		dst = be.empty(backend.F32, splits, g.k, crs)
		defer be.Free(dst)
	}
	args := append([]any{dst, x, dy}, g.args()...)
	be.launch(be.convKernel("conv2d_filter_backward_kernel", xs), [3]int{gx, gy, splits}, block, 0, append(args, chunk)...)
	if splits > 1 {
		be.reduceSplits(dw, dst, splits, g.k*crs)
	}
	if hasBias {
		db = be.Sum(dy, []int{0, 2, 3}, false)
	}
	return dx, dw, db
}
