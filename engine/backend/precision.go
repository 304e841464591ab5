package backend

import (
	"fmt"
	"strings"
)

// Precision is the arithmetic a backend uses for the operands of its matrix
// products (convolution forward, data and filter gradients, and GEMM).
// Accumulation is float32 in every precision, and tensors stay float32 in
// memory: tf32 and bf16 round the operands as they enter the matrix units
// (TF32: round to nearest, ties away from zero, as cvt.rna.tf32.f32; BF16:
// round to nearest even), which is what PyTorch's allow_tf32 and BF16
// autocast do to a convolution's or matmul's inputs.
type Precision uint8

const (
	FP32 Precision = iota // float32 operands (FFMA): every backend, the bit-exact tests
	TF32                  // TF32 operands on tensor cores (sm_80 and newer)
	BF16                  // BF16 operands on tensor cores (sm_80 and newer)
)

func (p Precision) String() string {
	switch p {
	case FP32:
		return "fp32"
	case TF32:
		return "tf32"
	case BF16:
		return "bf16"
	}
	return fmt.Sprintf("Precision(%d)", uint8(p))
}

// ParsePrecision reads a config value or flag: fp32, tf32 or bf16 (any case).
func ParsePrecision(s string) (Precision, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "fp32":
		return FP32, nil
	case "tf32":
		return TF32, nil
	case "bf16":
		return BF16, nil
	}
	return FP32, fmt.Errorf("precision %q: want fp32, tf32 or bf16", s)
}

// MatrixPolicy says which precision each kind of matrix product uses. The
// zero value is all FP32.
type MatrixPolicy struct {
	Conv   Precision // convolution forward, data gradient, filter gradient
	MatMul Precision // MatMul (fully connected layers, the box predictor)
}

func (p MatrixPolicy) String() string {
	return fmt.Sprintf("conv %s, matmul %s", p.Conv, p.MatMul)
}

// PrecisionSetter is implemented by backends with reduced-precision matrix
// paths (the CUDA backend). A backend without it is FP32 throughout (the CPU
// backend). SetMatrixPolicy fails, naming the reason, when the device cannot
// run a requested precision (tensor cores need compute capability 8.0).
type PrecisionSetter interface {
	SetMatrixPolicy(MatrixPolicy) error
	MatrixPolicy() MatrixPolicy
}
