//go:build cuda

package cuda

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// Tests of the NCCL clique. Like every test of this package they need a GPU
// (cu's init exits the process without one), and they skip, saying why, when
// fewer GPUs are visible than a test needs or libnccl cannot be loaded. They
// have been compiled but not yet run (written without GPU or NCCL).

// ncclBackends opens one backend on each of the first n GPUs.
func ncclBackends(t *testing.T, n int) []*Backend {
	t.Helper()
	devs, err := Devices()
	if err != nil {
		t.Skipf("no CUDA device: %v", err)
	}
	if len(devs) < n {
		t.Skipf("the NCCL test needs %d GPUs, %d visible", n, len(devs))
	}
	bes := make([]*Backend, n)
	for i := range bes {
		if bes[i], err = Open(i); err != nil {
			t.Fatalf("opening GPU %d: %v", i, err)
		}
	}
	return bes
}

// openNCCL opens a clique, skipping the test when NCCL is not installed.
func openNCCL(t *testing.T, bes []*Backend) *NCCL {
	t.Helper()
	n, err := OpenNCCL(bes)
	if errors.Is(err, ErrNoNCCL) {
		t.Skipf("NCCL not installed: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	t.Logf("NCCL %s (%s) on devices %v", n.Version(), n.Library(), n.Devices())
	return n
}

func TestNCCLMissingLibrary(t *testing.T) {
	_, err := openNCCLLib([]string{"libfsodgpu-no-such-nccl.so.2"})
	if !errors.Is(err, ErrNoNCCL) || !strings.Contains(err.Error(), "host all-reduce will be used") {
		t.Fatalf("missing library: %v", err)
	}
}

func TestFormatNCCLVersion(t *testing.T) {
	for v, want := range map[int]string{2708: "2.7.8", 21903: "2.19.3", 22105: "2.21.5"} {
		if got := formatNCCLVersion(v); got != want {
			t.Errorf("formatNCCLVersion(%d) = %q, want %q", v, got, want)
		}
	}
}

// ncclCase is a list of parameter sizes that spans more than one group on
// two devices (ncclMaxGroupOps/2 parameters per group), with empty, odd and
// large buffers.
func ncclCase() []int {
	sizes := []int{0, 1, 7, 1<<20 + 3, 64 * 3 * 3 * 3}
	for i := 0; i < ncclMaxGroupOps/2+50; i++ {
		sizes = append(sizes, 1+i%37)
	}
	return sizes
}

func TestNCCLAllReduceSumOneGPU(t *testing.T) {
	bes := ncclBackends(t, 1)
	// A second backend on the same device joins the same communicator.
	other, err := Open(0)
	if err != nil {
		t.Fatal(err)
	}
	n := openNCCL(t, []*Backend{bes[0], other})
	if d := n.Devices(); len(d) != 1 || d[0] != 0 || n.Backends()[0] != bes[0] {
		t.Fatalf("one device expected, with the first backend: %v", d)
	}
	r := rand.New(rand.NewPCG(1, 2))
	vals := denseRand(r, 1000, -1, 1)
	buf := bes[0].FromFloat32(vals, 10, 100)
	if err := n.AllReduceSum([][]*backend.Tensor{{buf}}); err != nil {
		t.Fatal(err)
	}
	got := bes[0].ToFloat32(buf)
	for i := range vals {
		if got[i] != vals[i] {
			t.Fatalf("one rank: element %d = %v, want %v unchanged", i, got[i], vals[i])
		}
	}
	// Bad arguments are errors, not panics, and come before any NCCL call.
	for name, bufs := range map[string][][]*backend.Tensor{
		"two lists for one communicator": {{buf}, {buf}},
		"nil tensor":                     {{nil}},
		"int64 tensor":                   {{bes[0].FromInt64([]int64{1, 2}, 2)}},
		"tensor of another backend":      {{other.FromFloat32([]float32{1}, 1)}},
	} {
		if err := n.AllReduceSum(bufs); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestNCCLAllReduceSum(t *testing.T) {
	bes := ncclBackends(t, 2)
	// Backends given out of device order: communicators follow device order.
	n := openNCCL(t, []*Backend{bes[1], bes[0]})
	if d := n.Devices(); len(d) != 2 || d[0] != 0 || d[1] != 1 {
		t.Fatalf("devices %v, want [0 1]", d)
	}
	r := rand.New(rand.NewPCG(3, 4))
	sizes := ncclCase()
	host := make([][][]float32, 2)
	bufs := make([][]*backend.Tensor, 2)
	for k := range bufs {
		for _, size := range sizes {
			v := denseRand(r, size, -1, 1)
			host[k] = append(host[k], v)
			bufs[k] = append(bufs[k], bes[k].FromFloat32(v, size))
		}
	}
	if err := n.AllReduceSum(bufs); err != nil {
		t.Fatal(err)
	}
	for i := range sizes {
		got0, got1 := bes[0].ToFloat32(bufs[0][i]), bes[1].ToFloat32(bufs[1][i])
		for e := range got0 {
			// A float32 sum of two floats is correctly rounded whatever the
			// order: NCCL must match it exactly, on both ranks.
			want := host[0][i][e] + host[1][i][e]
			if got0[e] != want || got1[e] != want {
				t.Fatalf("buffer %d (%d floats) element %d: ranks have %v and %v, want %v", i, sizes[i], e, got0[e], got1[e], want)
			}
		}
	}
	// Mismatched element counts are rejected before NCCL is called.
	bad := [][]*backend.Tensor{{bes[0].Zeros(backend.F32, 3)}, {bes[1].Zeros(backend.F32, 4)}}
	if err := n.AllReduceSum(bad); err == nil || !strings.Contains(err.Error(), "elements") {
		t.Fatalf("count mismatch: %v", err)
	}
}
