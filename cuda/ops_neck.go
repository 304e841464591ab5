//go:build cuda

package cuda

import (
	"fmt"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// SiLU is x·σ(x) (F.silu).
func (be *Backend) SiLU(x *backend.Tensor) *backend.Tensor {
	mustF32("SiLU", x)
	y := be.empty(backend.F32, x.Shape...)
	be.launch1D("silu_forward_kernel", y.Numel(), y, x, y.Numel())
	return y
}

// SiLUBackward is dy·σ(x)·(1 + x·(1 − σ(x))).
func (be *Backend) SiLUBackward(x, dy *backend.Tensor) *backend.Tensor {
	mustF32("SiLUBackward", x, dy)
	mustSameShape("SiLUBackward", x, dy)
	dx := be.empty(backend.F32, x.Shape...)
	be.launch1D("silu_backward_kernel", dx.Numel(), dx, x, dy, dx.Numel())
	return dx
}

// LeakyReLU is x > 0 ? x : slope·x.
func (be *Backend) LeakyReLU(x *backend.Tensor, slope float32) *backend.Tensor {
	mustF32("LeakyReLU", x)
	y := be.empty(backend.F32, x.Shape...)
	be.launch1D("leaky_relu_forward_kernel", y.Numel(), y, x, y.Numel(), slope)
	return y
}

// LeakyReLUBackward is x > 0 ? dy : slope·dy.
func (be *Backend) LeakyReLUBackward(x, dy *backend.Tensor, slope float32) *backend.Tensor {
	mustF32("LeakyReLUBackward", x, dy)
	mustSameShape("LeakyReLUBackward", x, dy)
	dx := be.empty(backend.F32, x.Shape...)
	be.launch1D("leaky_relu_backward_kernel", dx.Numel(), dx, x, dy, dx.Numel(), slope)
	return dx
}

// AdaptiveMaxPool2d is F.adaptive_max_pool2d; its argmax is MaxPool2d's, so
// MaxPool2dBackward is its backward.
func (be *Backend) AdaptiveMaxPool2d(x *backend.Tensor, outH, outW int) (y, argmax *backend.Tensor) {
	mustF32("AdaptiveMaxPool2d", x)
	if len(x.Shape) != 4 || outH < 1 || outW < 1 || x.Shape[2] < 1 || x.Shape[3] < 1 {
		panic(fmt.Sprintf("cuda: AdaptiveMaxPool2d of %v to %dx%d", x.Shape, outH, outW))
	}
	n, ch, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	y, argmax = be.empty(backend.F32, n, ch, outH, outW), be.empty(backend.I64, n, ch, outH, outW)
	be.launch1D("adaptive_maxpool2d_forward_kernel", y.Numel(), y, argmax, x, n*ch, h, w, outH, outW)
	return y, argmax
}

// RoIPool is torchvision.ops.roi_pool: y [R,C,OutH,OutW] and argmax (flat
// h*W+w in the RoI's input plane, −1 for an empty bin). A batch index outside
// the batch gives zeros rather than a panic (the kernel cannot report it).
func (be *Backend) RoIPool(x, rois *backend.Tensor, p backend.RoIPoolParams) (y, argmax *backend.Tensor) {
	mustF32("RoIPool", x, rois)
	if len(x.Shape) != 4 || len(rois.Shape) != 2 || rois.Shape[1] != 5 || p.OutH < 1 || p.OutW < 1 {
		panic(fmt.Sprintf("cuda: RoIPool of x %v, rois %v with %+v", x.Shape, rois.Shape, p))
	}
	n, ch, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	r := rois.Shape[0]
	y, argmax = be.empty(backend.F32, r, ch, p.OutH, p.OutW), be.empty(backend.I64, r, ch, p.OutH, p.OutW)
	be.launch1D("roi_pool_forward_kernel", y.Numel(), y, argmax, x, rois, r, n, ch, h, w, p.OutH, p.OutW, p.SpatialScale)
	return y, argmax
}

// RoIPoolBackward adds dy at the argmax positions of each RoI's image, every
// input's terms in (RoI, bin) order: bit-identical to the CPU backend.
func (be *Backend) RoIPoolBackward(dy, argmax, rois *backend.Tensor, xShape []int) *backend.Tensor {
	mustF32("RoIPoolBackward", dy, rois)
	if len(xShape) != 4 || len(dy.Shape) != 4 || len(rois.Shape) != 2 || rois.Shape[1] != 5 || dy.Shape[0] != rois.Shape[0] ||
		dy.Shape[1] != xShape[1] || !backend.SameShape(dy.Shape, argmax.Shape) || argmax.DType != backend.I64 {
		panic(fmt.Sprintf("cuda: RoIPoolBackward of dy %v, argmax %v, rois %v into %v", dy.Shape, argmax.Shape, rois.Shape, xShape))
	}
	dx := be.Zeros(backend.F32, xShape...)
	grid, block := grid1D(xShape[1] * 32)
	be.launch("roi_pool_backward_kernel", grid, block, 0, dx, dy, argmax, rois, rois.Shape[0], xShape[0], xShape[1],
		xShape[2]*xShape[3], dy.Shape[2]*dy.Shape[3])
	return dx
}

func checkYOLOv1(op string, pred, obj, box, cls *backend.Tensor, p backend.YOLOv1LossParams) int {
	mustF32(op, pred, obj, box)
	d := 5*p.B + p.C
	if p.S < 1 || p.B < 1 || p.C < 1 || len(pred.Shape) != 4 || pred.Shape[1] != p.S || pred.Shape[2] != p.S || pred.Shape[3] != d ||
		!backend.SameShape(obj.Shape, pred.Shape[:3]) || !backend.SameShape(box.Shape, []int{pred.Shape[0], p.S, p.S, 4}) ||
		!backend.SameShape(cls.Shape, pred.Shape[:3]) || cls.DType != backend.I64 {
		panic(fmt.Sprintf("cuda: %s of pred %v, obj %v, box %v, cls %s%v with %+v", op, pred.Shape, obj.Shape, box.Shape, cls.DType, cls.Shape, p))
	}
	return pred.Shape[0]
}

// YOLOv1Loss is GOLDEN.md's yolov1_loss (sum over cells / N) as a scalar. A
// class outside [0, C) in an object cell gives NaN (the CPU backend panics).
func (be *Backend) YOLOv1Loss(pred, obj, box, cls *backend.Tensor, p backend.YOLOv1LossParams) *backend.Tensor {
	n := checkYOLOv1("YOLOv1Loss", pred, obj, box, cls, p)
	loss := be.empty(backend.F32)
	be.launch("yolov1_loss_forward_kernel", [3]int{1, 1, 1}, [3]int{256, 1, 1}, 0, loss, pred, obj, box, cls, n, p.S, p.B, p.C,
		p.LambdaCoord, p.LambdaNoobj)
	return loss
}

// YOLOv1LossBackward is dloss · dL/dpred.
func (be *Backend) YOLOv1LossBackward(pred, obj, box, cls, dloss *backend.Tensor, p backend.YOLOv1LossParams) *backend.Tensor {
	n := checkYOLOv1("YOLOv1LossBackward", pred, obj, box, cls, p)
	mustF32("YOLOv1LossBackward", dloss)
	if dloss.Numel() != 1 {
		panic(fmt.Sprintf("cuda: YOLOv1LossBackward: dloss %v, want a scalar", dloss.Shape))
	}
	dp := be.empty(backend.F32, pred.Shape...)
	be.launch1D("yolov1_loss_backward_kernel", n*p.S*p.S, dp, pred, obj, box, cls, dloss, n, p.S, p.B, p.C, p.LambdaCoord, p.LambdaNoobj)
	return dp
}
