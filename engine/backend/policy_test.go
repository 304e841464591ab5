package backend_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/backend"
	"github.com/fsodgpu/fsodgpu/engine/cpu"
)

// tensorCores is a backend with reduced-precision paths, as the CUDA
// backend: it refuses tf32/bf16 below compute capability 8.0.
type tensorCores struct {
	backend.Backend
	sm  int
	pol backend.MatrixPolicy
}

func (b *tensorCores) SetMatrixPolicy(p backend.MatrixPolicy) error {
	if b.sm < 80 && p != (backend.MatrixPolicy{}) {
		return errors.New("compute capability below 8.0")
	}
	b.pol = p
	return nil
}

func (b *tensorCores) MatrixPolicy() backend.MatrixPolicy { return b.pol }

func TestResolvePolicyDefaults(t *testing.T) {
	ampere := &tensorCores{Backend: cpu.New(), sm: 80}
	pol, note, err := backend.ResolvePolicy([]backend.Backend{ampere}, "")
	if err != nil || pol != (backend.MatrixPolicy{Conv: backend.TF32, MatMul: backend.FP32}) || ampere.pol != pol {
		t.Fatalf("sm_80 default: %v (%s), %v; backend holds %v", pol, note, err, ampere.pol)
	}
	// One replica on an older GPU makes the whole job FP32, on every replica.
	volta := &tensorCores{Backend: cpu.New(), sm: 70}
	ampere.pol = backend.TensorCoreDefault
	pol, note, err = backend.ResolvePolicy([]backend.Backend{ampere, volta}, "")
	if err != nil || pol != (backend.MatrixPolicy{}) || ampere.pol != pol || !strings.Contains(note, "8.0") {
		t.Fatalf("sm_80 + sm_70 default: %v (%s), %v; sm_80 holds %v", pol, note, err, ampere.pol)
	}
	pol, note, err = backend.ResolvePolicy([]backend.Backend{cpu.New()}, "")
	if err != nil || pol != (backend.MatrixPolicy{}) || !strings.Contains(note, "cpu") {
		t.Fatalf("cpu default: %v (%s), %v", pol, note, err)
	}
}

func TestResolvePolicyExplicit(t *testing.T) {
	ampere := &tensorCores{Backend: cpu.New(), sm: 90}
	for _, req := range []string{"fp32", "TF32", " bf16 "} {
		want, _ := backend.ParsePrecision(req)
		pol, _, err := backend.ResolvePolicy([]backend.Backend{ampere}, req)
		if err != nil || pol != backend.Uniform(want) || ampere.pol != pol {
			t.Errorf("%q: %v, %v; backend holds %v", req, pol, err, ampere.pol)
		}
	}
	if _, _, err := backend.ResolvePolicy([]backend.Backend{ampere}, "fp16"); err == nil || !strings.Contains(err.Error(), "fp16") {
		t.Errorf("fp16 accepted: %v", err)
	}
	// Asking a reduced precision of a backend that cannot run it is an error,
	// never a silent FP32 run.
	for _, be := range []backend.Backend{cpu.New(), &tensorCores{Backend: cpu.New(), sm: 75}} {
		if _, _, err := backend.ResolvePolicy([]backend.Backend{be}, "bf16"); err == nil {
			t.Errorf("bf16 on %T accepted", be)
		}
		if pol, _, err := backend.ResolvePolicy([]backend.Backend{be}, "fp32"); err != nil || pol != (backend.MatrixPolicy{}) {
			t.Errorf("fp32 on %T: %v, %v", be, pol, err)
		}
	}
	if err := backend.ApplyPolicy([]backend.Backend{cpu.New()}, backend.TensorCoreDefault); err == nil || !strings.Contains(err.Error(), "fp32 only") {
		t.Errorf("tf32 applied to the cpu backend: %v", err)
	}
	if backend.PolicyOf(ampere) != ampere.pol || backend.PolicyOf(cpu.New()) != (backend.MatrixPolicy{}) {
		t.Error("PolicyOf")
	}
}
