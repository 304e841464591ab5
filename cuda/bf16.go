//go:build cuda

package cuda

import (
	"fmt"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// BF16 activation storage (issue 12's mixed precision). Under a matrix
// policy whose Conv precision is BF16, RoIAlign casts its input feature map
// to BF16 once, gathers its samples from that, and returns the RoI features
// as a BFloat16 tensor; the convolutions that read them (res5's first block:
// conv1 and the shortcut) take BF16 x directly, forward and filter gradient.
// Their operands are rounded to BF16 on entering the tensor cores anyway, so
// they compute exactly what they would from the fp32 tensor widened, and the
// RoI features — the largest activation of the C4 head, kept for the
// backward — take half the memory and half the bytes to write and read.
// Gradients stay FP32 (RoIAlignBackward takes an FP32 dy and writes FP32 dx).

// bf16Storage reports whether activations go to BF16 storage.
func (be *Backend) bf16Storage() bool { return be.policy.Conv == backend.BF16 }

// ToBF16 returns x rounded to BF16 storage (nearest even; NaN stays NaN).
func (be *Backend) ToBF16(x *backend.Tensor) *backend.Tensor {
	mustF32("ToBF16", x)
	y := be.empty(backend.BFloat16, x.Shape...)
	if n := x.Numel(); n > 0 {
		be.launch1D("cast_to_bfloat16_kernel", n, y, x, n)
	}
	return y
}

// FromBF16 widens a BFloat16 tensor to F32, exactly.
func (be *Backend) FromBF16(x *backend.Tensor) *backend.Tensor {
	if x.DType != backend.BFloat16 {
		panic(fmt.Sprintf("cuda: FromBF16 wants BF16, got %v", x))
	}
	y := be.empty(backend.F32, x.Shape...)
	if n := x.Numel(); n > 0 {
		be.launch1D("cast_from_bfloat16_kernel", n, y, x, n)
	}
	return y
}

// convInput checks a convolution's x: F32 always, BF16 storage only with
// the BF16 kernels (the FP32 and TF32 kernels read fp32 x). It returns the
// suffix that selects the BF16-input variant of a BF16 kernel.
func (be *Backend) convInput(op string, x *backend.Tensor) string {
	switch {
	case x.DType == backend.F32:
		return ""
	case x.DType == backend.BFloat16 && be.policy.Conv == backend.BF16:
		return "_xbf16"
	case x.DType == backend.BFloat16:
		panic(fmt.Sprintf("cuda: %s: x %v is BF16 storage, which only the bf16 conv kernels read (conv precision is %s)", op, x, be.policy.Conv))
	}
	panic(fmt.Sprintf("cuda: %s wants F32 (or BF16 storage) x, got %v", op, x))
}

// convKernel names the kernel of an FP32 conv kernel name under the policy,
// with the BF16-input variant when x is BF16 storage:
// conv2d_forward_kernel → conv2d_forward_xbf16_bf16_kernel.
func (be *Backend) convKernel(fp32, xsuffix string) string {
	k := kernelFor(fp32, be.policy.Conv)
	if xsuffix == "" {
		return k
	}
	base := fp32[:len(fp32)-len("_kernel")]
	return base + xsuffix + "_bf16_kernel"
}
