//go:build cuda

package cuda

import (
	"fmt"
	"strings"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// The backend's matrix policy (backend.PrecisionSetter). Its zero value, the
// default of Open, is FP32 everywhere: the FFMA kernels, bit-exact with the
// tests. Callers (engine/train from the config) set the PyTorch-like default.
// TF32 and BF16 select the tensor-core kernels of kernels/gemm.cu (MmaCore):
// the same parameters, grid and split-K as the FP32 kernel, with the
// operands rounded to the precision as they enter the mma instructions.

var _ backend.PrecisionSetter = (*Backend)(nil)

// SetMatrixPolicy selects the kernels of later MatMul and Conv2d calls. A
// TF32 or BF16 precision needs compute capability 8.0 (mma.sync with tf32 and
// bf16 operands): on an older GPU it fails and the policy stays as it was.
func (be *Backend) SetMatrixPolicy(p backend.MatrixPolicy) error {
	for _, q := range []struct {
		what string
		prec backend.Precision
	}{{"conv", p.Conv}, {"matmul", p.MatMul}} {
		switch q.prec {
		case backend.FP32:
		case backend.TF32, backend.BF16:
			if d := be.g.info; d.Major < 8 {
				return fmt.Errorf("cuda: %s precision %s needs tensor cores with tf32/bf16 (compute capability 8.0 or newer); device %d (%s) has %s: use fp32",
					q.what, q.prec, d.Index, d.Name, d.ComputeCapability())
			}
		default:
			return fmt.Errorf("cuda: %s precision %v is not one of fp32, tf32, bf16", q.what, q.prec)
		}
	}
	be.policy = p
	return nil
}

// MatrixPolicy returns the policy in force.
func (be *Backend) MatrixPolicy() backend.MatrixPolicy { return be.policy }

// kernelFor names the variant of an FP32 GEMM or conv kernel for p:
// matmul_nn_forward_kernel → matmul_nn_forward_tf32_kernel.
func kernelFor(fp32 string, p backend.Precision) string {
	if p == backend.FP32 {
		return fp32
	}
	return strings.TrimSuffix(fp32, "_kernel") + "_" + p.String() + "_kernel"
}
