//go:build cuda

package cuda

import (
	"fmt"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// MaxPool2d is F.max_pool2d (ceil_mode false); argmax is I64, the flat h*W+w
// index of each maximum in its input plane.
func (be *Backend) MaxPool2d(x *backend.Tensor, p backend.PoolParams) (y, argmax *backend.Tensor) {
	mustF32("MaxPool2d", x)
	if len(x.Shape) != 4 || p.KernelH < 1 || p.KernelW < 1 || p.StrideH < 1 || p.StrideW < 1 ||
		p.PadH < 0 || p.PadW < 0 || 2*p.PadH > p.KernelH || 2*p.PadW > p.KernelW {
		panic(fmt.Sprintf("cuda: MaxPool2d of %v with %+v", x.Shape, p))
	}
	n, ch, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	oh := (h+2*p.PadH-p.KernelH)/p.StrideH + 1
	ow := (w+2*p.PadW-p.KernelW)/p.StrideW + 1
	if oh < 1 || ow < 1 {
		panic(fmt.Sprintf("cuda: MaxPool2d of %v with %+v gives an empty output", x.Shape, p))
	}
	y, argmax = be.empty(backend.F32, n, ch, oh, ow), be.empty(backend.I64, n, ch, oh, ow)
	be.launch1D("maxpool2d_forward_kernel", y.Numel(), y, argmax, x, n*ch, h, w, oh, ow,
		p.KernelH, p.KernelW, p.StrideH, p.StrideW, p.PadH, p.PadW)
	return y, argmax
}

// MaxPool2dBackward routes dy to the argmax positions, each input's
// contributions added in output order (bit-identical to the CPU backend).
// Out-of-plane argmax values are dropped rather than reported.
func (be *Backend) MaxPool2dBackward(dy, argmax *backend.Tensor, xShape []int) *backend.Tensor {
	mustF32("MaxPool2dBackward", dy)
	if len(xShape) != 4 || len(dy.Shape) != 4 || !backend.SameShape(dy.Shape, argmax.Shape) || argmax.DType != backend.I64 ||
		dy.Shape[0] != xShape[0] || dy.Shape[1] != xShape[1] {
		panic(fmt.Sprintf("cuda: MaxPool2dBackward of dy %v, argmax %v into %v", dy.Shape, argmax.Shape, xShape))
	}
	dx := be.Zeros(backend.F32, xShape...)
	planes := xShape[0] * xShape[1]
	grid, block := grid1D(planes * 32)
	be.launch("maxpool2d_backward_kernel", grid, block, 0, dx, dy, argmax, planes, xShape[2]*xShape[3], dy.Shape[2]*dy.Shape[3])
	return dx
}

// ResizeBilinear is F.interpolate(x, size=(outH,outW), mode="bilinear",
// align_corners=False) without antialiasing, for x [N,C,H,W].
func (be *Backend) ResizeBilinear(x *backend.Tensor, outH, outW int) *backend.Tensor {
	mustF32("ResizeBilinear", x)
	if len(x.Shape) != 4 || outH < 1 || outW < 1 || x.Shape[2] < 1 || x.Shape[3] < 1 {
		panic(fmt.Sprintf("cuda: ResizeBilinear of %v to %dx%d", x.Shape, outH, outW))
	}
	n, ch, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	out := be.empty(backend.F32, n, ch, outH, outW)
	be.launch1D("resize_bilinear_forward_kernel", out.Numel(), out, x, n*ch, h, w, outH, outW)
	return out
}
