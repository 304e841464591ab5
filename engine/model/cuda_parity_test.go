//go:build cuda

package model

import (
	"math"
	"sort"
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/backend"
	"github.com/fsodgpu/fsodgpu/engine/cpu"

	_ "github.com/fsodgpu/fsodgpu/cuda" // registers the "cuda" backend
)

// TestCUDATrainingIterationMatchesCPU runs one full training iteration of
// the tiny MFE detector (SEM, TEM, RC: every kernel family, Philox dropout
// masks included) on the CUDA and CPU backends from the same weights and
// batch, and compares every loss and every parameter gradient. It runs only
// on a machine with a GPU (build tag cuda).
func TestCUDATrainingIterationMatchesCPU(t *testing.T) {
	gpu, err := backend.Open("cuda", 0)
	if err != nil {
		t.Skip("no CUDA device:", err)
	}
	// FP32 whatever the backend's default: this is the tight comparison.
	if err := backend.ApplyPolicy([]backend.Backend{gpu}, backend.MatrixPolicy{}); err != nil {
		t.Fatal(err)
	}
	compareTrainingIteration(t, gpu, 1e-3, 1e-2)
}

// compareTrainingIteration runs the iteration on gpu and on the CPU backend
// and requires every loss within lossTol (relative, floor 1) and every
// parameter gradient within gradTol (relative L2); a NaN or Inf fails.
func compareTrainingIteration(t *testing.T, gpu backend.Backend, lossTol, gradTol float64) {
	t.Helper()
	cfg := tinyConfig()
	cfg.MFE.SEM, cfg.MFE.TEM, cfg.MFE.RC = true, true, true
	run := func(be backend.Backend) (map[string]float32, map[string][]float32) {
		d, err := New(be, cfg, 42)
		if err != nil {
			t.Fatal(err)
		}
		out, err := d.Forward(tinyBatch(be), 3, true)
		if err != nil {
			t.Fatal(err)
		}
		grads := map[string][]float32{}
		for _, p := range d.Params() {
			if p.Grad != nil {
				grads[p.Name] = be.ToFloat32(p.Grad)
			}
		}
		return out.Losses, grads
	}
	lc, gc := run(cpu.New())
	lg, gg := run(gpu)
	for k, v := range lc {
		if d := math.Abs(float64(v - lg[k])); !(d <= lossTol*math.Max(1, math.Abs(float64(v)))) {
			t.Errorf("loss %s: cpu %g, cuda %g", k, v, lg[k])
		}
	}
	names := make([]string, 0, len(gc))
	for k := range gc {
		names = append(names, k)
	}
	sort.Strings(names)
	worst, worstName := 0.0, ""
	for _, k := range names {
		a, b := gc[k], gg[k]
		if len(a) != len(b) {
			t.Errorf("grad %s: %d values on cpu, %d on cuda", k, len(a), len(b))
			continue
		}
		var num, den float64
		for i := range a {
			if math.IsNaN(float64(b[i])) || math.IsInf(float64(b[i]), 0) {
				t.Fatalf("grad %s[%d] is %v on cuda", k, i, b[i])
			}
			num += float64(a[i]-b[i]) * float64(a[i]-b[i])
			den += float64(a[i]) * float64(a[i])
		}
		e := math.Sqrt(num) / math.Max(math.Sqrt(den), 1e-12)
		if e > worst {
			worst, worstName = e, k
		}
		if e > gradTol {
			t.Errorf("grad %s: relative error %.3g", k, e)
		}
	}
	worstLoss, worstLossName := 0.0, ""
	for k, v := range lc {
		if d := math.Abs(float64(v-lg[k])) / math.Max(1, math.Abs(float64(v))); d >= worstLoss {
			worstLoss, worstLossName = d, k
		}
	}
	t.Logf("%s: %d losses, %d gradients; worst loss difference %.3g (%s), worst gradient relative error %.3g (%s)",
		backend.PolicyOf(gpu), len(lc), len(gc), worstLoss, worstLossName, worst, worstName)
}
