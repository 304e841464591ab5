//go:build cuda

package dist

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fsodgpu/fsodgpu/cuda"
	"github.com/fsodgpu/fsodgpu/engine/backend"
	"github.com/fsodgpu/fsodgpu/engine/cpu"
)

// NCCL against Host on two GPUs. These tests need two GPUs and libnccl and
// skip, saying why, otherwise (under the cuda tag cu's init also exits the
// process on a machine without a GPU, so CI only compiles them). They have
// been compiled but not yet run.

// twoGPUs opens a backend on GPU 0 and one on GPU 1.
func twoGPUs(t *testing.T) (*cuda.Backend, *cuda.Backend) {
	t.Helper()
	devs, err := cuda.Devices()
	if err != nil {
		t.Skipf("no CUDA device: %v", err)
	}
	if len(devs) < 2 {
		t.Skipf("the NCCL all-reduce test needs 2 GPUs, %d visible", len(devs))
	}
	g0, err := cuda.Open(0)
	if err != nil {
		t.Fatal(err)
	}
	g1, err := cuda.Open(1)
	if err != nil {
		t.Fatal(err)
	}
	return g0, g1
}

func newNCCL(t *testing.T, bes []backend.Backend) *NCCL {
	t.Helper()
	red, err := NewNCCL(bes)
	if errors.Is(err, cuda.ErrNoNCCL) {
		t.Skipf("NCCL not installed: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	n := red.(*NCCL)
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return n
}

// gradCase builds, for every replica, gradients of the shapes below from
// the same seed, with some nil: parameter 1 only on the last replica,
// parameter 2 nowhere, parameter 3 missing on replica 0.
func gradCase(bes []backend.Backend, seed uint64) [][]*backend.Tensor {
	shapes := [][]int{{64, 3, 3, 3}, {5}, {2, 2}, {1000, 1025}, {17}, {}}
	r := rand.New(rand.NewPCG(seed, 5))
	grads := make([][]*backend.Tensor, len(bes))
	for k, be := range bes {
		for i, s := range shapes {
			v := make([]float32, backend.Numel(s))
			for j := range v {
				v[j] = 2*r.Float32() - 1
			}
			if i == 2 || (i == 1 && k != len(bes)-1) || (i == 3 && k == 0) {
				grads[k] = append(grads[k], nil)
				continue
			}
			grads[k] = append(grads[k], be.FromFloat32(v, s...))
		}
	}
	return grads
}

// compareWithHost runs NCCL and Host on the same gradients and checks that
// they agree (bit for bit when tol is 0), that every replica holds the same
// bits, that nil-everywhere stays nil and that replicas do not share tensors.
func compareWithHost(t *testing.T, red *NCCL, bes []backend.Backend, tol float64) {
	t.Helper()
	got, want := gradCase(bes, 7), gradCase(bes, 7)
	if err := red.AllReduceMean(bes, got); err != nil {
		t.Fatal(err)
	}
	if err := (Host{}).AllReduceMean(bes, want); err != nil {
		t.Fatal(err)
	}
	for i := range want[0] {
		var first []float32
		for k := range bes {
			g, w := got[k][i], want[k][i]
			if (g == nil) != (w == nil) {
				t.Fatalf("replica %d gradient %d: nccl %v, host %v", k, i, g, w)
			}
			if g == nil {
				continue
			}
			if !backend.SameShape(g.Shape, w.Shape) || g.Backend != bes[k] {
				t.Fatalf("replica %d gradient %d: %v on %v, want %v on replica %d's backend", k, i, g.Shape, g.Backend, w.Shape, k)
			}
			for k2 := 0; k2 < k; k2++ {
				if got[k2][i] == g {
					t.Fatalf("replicas %d and %d share gradient %d's tensor", k2, k, i)
				}
			}
			gv, wv := bes[k].ToFloat32(g), bes[k].ToFloat32(w)
			for e := range wv {
				if d := math.Abs(float64(gv[e]) - float64(wv[e])); d > tol || math.IsNaN(d) {
					t.Fatalf("replica %d gradient %d element %d: nccl %v, host %v (tolerance %g)", k, i, e, gv[e], wv[e], tol)
				}
			}
			if first == nil {
				first = gv
				continue
			}
			for e := range gv {
				if math.Float32bits(gv[e]) != math.Float32bits(first[e]) {
					t.Fatalf("gradient %d element %d: replica %d has %v, replica 0's copy %v: replicas would drift", i, e, k, gv[e], first[e])
				}
			}
		}
	}
}

// One replica per GPU: bit-identical to Host.
func TestNCCLMatchesHostTwoGPUs(t *testing.T) {
	g0, g1 := twoGPUs(t)
	bes := []backend.Backend{g0, g1}
	red := newNCCL(t, bes)
	t.Logf("NCCL %s", red.Version())
	compareWithHost(t, red, bes, 0)
}

// Four replicas on two GPUs, two sharing each GPU's backend (as engine/train
// places them): summed on the device first, so equal to Host up to float32
// rounding.
func TestNCCLMatchesHostSharedGPUs(t *testing.T) {
	g0, g1 := twoGPUs(t)
	bes := []backend.Backend{g0, g1, g0, g1}
	compareWithHost(t, newNCCL(t, bes), bes, 1e-6)
}

// A replica on a second backend of GPU 0 goes through the host to GPU 0's
// communicator backend and back.
func TestNCCLSecondBackendOnAGPU(t *testing.T) {
	g0, g1 := twoGPUs(t)
	g0b, err := cuda.Open(0)
	if err != nil {
		t.Fatal(err)
	}
	red := newNCCL(t, []backend.Backend{g0, g1})
	compareWithHost(t, red, []backend.Backend{g0, g1, g0b}, 1e-6)
}

func TestNewNCCLNeedsCUDABackends(t *testing.T) {
	g0, _ := twoGPUs(t)
	if _, err := NewNCCL([]backend.Backend{g0, cpu.New()}); err == nil || errors.Is(err, cuda.ErrNoNCCL) {
		t.Fatalf("a CPU replica: %v", err)
	}
	if _, err := NewNCCL(nil); err == nil {
		t.Fatal("no backends: no error")
	}
}
