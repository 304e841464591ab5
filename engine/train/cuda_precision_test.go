//go:build cuda

package train

import (
	"errors"
	"strings"
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/backend"

	_ "github.com/fsodgpu/fsodgpu/cuda" // registers the "cuda" backend
)

// TestCUDANonFiniteGuardBF16: a job diverging with its convolutions and
// GEMMs in BF16 stops with the error naming the iteration and the loss
// terms, as at FP32. BF16 keeps FP32's 8-bit exponent, so nothing
// overflows earlier than at FP32 and no loss scaling is involved; the guard
// reads the FP32 losses the backend returns.
func TestCUDANonFiniteGuardBF16(t *testing.T) {
	gpu, err := backend.Open("cuda", 0)
	if err != nil {
		t.Skip("no CUDA device:", err)
	}
	if err := backend.ApplyPolicy([]backend.Backend{gpu}, backend.Uniform(backend.BF16)); err != nil {
		t.Skip("the device cannot run bf16:", err)
	}
	defer backend.ApplyPolicy([]backend.Backend{gpu}, backend.MatrixPolicy{})
	root := synthRoot(t, 40, 2)
	j := tinyJob(t, root, t.TempDir(), 6)
	j.Backend, j.Precision = gpu, backend.Uniform(backend.BF16)
	j.Stage.LR = 1e30 // diverges within a few steps
	_, err = j.Run()
	if !errors.Is(err, ErrNonFinite) || !strings.Contains(err.Error(), "iteration") || !strings.Contains(err.Error(), "loss_cls") {
		t.Fatalf("want a non-finite-loss error naming the iteration and the terms, got %v", err)
	}
	if p := backend.PolicyOf(gpu); p != backend.Uniform(backend.BF16) {
		t.Fatalf("the job ran at %s, not bf16", p)
	}
	t.Log(err)
}
