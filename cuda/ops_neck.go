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
