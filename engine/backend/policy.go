package backend

import (
	"fmt"
	"strings"
)

// TensorCoreDefault is the matrix policy a backend with tensor cores gets
// when nothing is asked: PyTorch's defaults on Ampere and newer, where
// torch.backends.cudnn.allow_tf32 is True (convolutions in TF32) and
// torch.backends.cuda.matmul.allow_tf32 is False (matmuls in FP32). The
// convolutions are nearly all of a detector's arithmetic; the fully
// connected layers of the box head are few and the ones whose outputs feed
// the losses directly, so keeping them FP32 costs little time and keeps the
// classification logits as exact as PyTorch's.
var TensorCoreDefault = MatrixPolicy{Conv: TF32, MatMul: FP32}

// Uniform is the policy with every matrix product in p (what an explicit
// precision: key or --precision flag asks for).
func Uniform(p Precision) MatrixPolicy { return MatrixPolicy{Conv: p, MatMul: p} }

// ResolvePolicy decides the matrix policy for a set of backends (one job's
// replicas) and applies it to each of them. req is the user's choice: ""
// for the default, else fp32, tf32 or bf16 (all matrix products in it).
//
// The default is TensorCoreDefault where every backend can run it (the CUDA
// backend on compute capability 8.0 and newer) and FP32 otherwise (older
// GPUs, the CPU backend). An explicit tf32 or bf16 is an error on a backend
// that cannot run it, the CPU backend included: the CPU backend computes
// in FP32 only, and silently training at another precision than asked would
// make a run's config.yaml lie. The returned note says why the policy is
// what it is, for the log.
func ResolvePolicy(bes []Backend, req string) (MatrixPolicy, string, error) {
	if len(bes) == 0 {
		return MatrixPolicy{}, "", fmt.Errorf("precision: no backend")
	}
	if strings.TrimSpace(req) != "" {
		p, err := ParsePrecision(req)
		if err != nil {
			return MatrixPolicy{}, "", err
		}
		pol := Uniform(p)
		if err := ApplyPolicy(bes, pol); err != nil {
			return MatrixPolicy{}, "", err
		}
		return pol, "as asked", nil
	}
	for _, be := range bes {
		ps, ok := be.(PrecisionSetter)
		if !ok {
			return MatrixPolicy{}, fmt.Sprintf("default: the %s backend computes in fp32 only", be.Name()),
				ApplyPolicy(bes, MatrixPolicy{})
		}
		if err := ps.SetMatrixPolicy(TensorCoreDefault); err != nil {
			return MatrixPolicy{}, fmt.Sprintf("default without tensor cores (%v)", err), ApplyPolicy(bes, MatrixPolicy{})
		}
	}
	return TensorCoreDefault, "default on tensor cores, as PyTorch's (cudnn.allow_tf32 on, matmul.allow_tf32 off)", nil
}

// ApplyPolicy sets pol on every backend. A backend without reduced-precision
// paths (no PrecisionSetter) accepts only the all-FP32 policy.
func ApplyPolicy(bes []Backend, pol MatrixPolicy) error {
	for _, be := range bes {
		if ps, ok := be.(PrecisionSetter); ok {
			if err := ps.SetMatrixPolicy(pol); err != nil {
				return fmt.Errorf("precision %s on backend %s: %w", pol, be.Name(), err)
			}
			continue
		}
		if pol != (MatrixPolicy{}) {
			return fmt.Errorf("precision %s: the %s backend computes in fp32 only (use precision fp32, or the cuda backend on a GPU of compute capability 8.0 or newer)",
				pol, be.Name())
		}
	}
	return nil
}

// PolicyOf is the matrix policy be computes with now (all FP32 for a
// backend without reduced-precision paths).
func PolicyOf(be Backend) MatrixPolicy {
	if ps, ok := be.(PrecisionSetter); ok {
		return ps.MatrixPolicy()
	}
	return MatrixPolicy{}
}
