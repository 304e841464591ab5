package dist

import (
	"strings"
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/backend"
	"github.com/fsodgpu/fsodgpu/engine/cpu"
)

func TestHostAllReduceMean(t *testing.T) {
	be := cpu.New()
	bes := []backend.Backend{be, be, be}
	grads := [][]*backend.Tensor{
		{be.FromFloat32([]float32{1, 2, 3, 4}, 2, 2), nil, nil},
		{be.FromFloat32([]float32{4, 5, 6, 7}, 2, 2), be.FromFloat32([]float32{3}, 1), nil},
		{be.FromFloat32([]float32{1, -1, 0, 1}, 2, 2), nil, nil},
	}
	keep := grads[0][0]
	if err := (Host{}).AllReduceMean(bes, grads); err != nil {
		t.Fatal(err)
	}
	want := []float32{2, 2, 3, 4}
	for r := range grads {
		got := be.ToFloat32(grads[r][0])
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("replica %d: %v, want %v", r, got, want)
			}
		}
		// Missing on two replicas: they count as zero, so the mean is 3/3.
		if g := grads[r][1]; g == nil || be.ToFloat32(g)[0] != 1 {
			t.Fatalf("replica %d: gradient present on one replica only: %v", r, g)
		}
		if grads[r][2] != nil {
			t.Fatalf("replica %d: a gradient nil everywhere must stay nil", r)
		}
	}
	// Each replica gets its own tensor: a later in-place step on one must not
	// change another's.
	if grads[0][0] == grads[1][0] || grads[0][0] == keep {
		t.Fatal("replicas share the reduced tensor or kept the old one")
	}
	bad := [][]*backend.Tensor{{be.FromFloat32([]float32{1, 2}, 2)}, {be.FromFloat32([]float32{1, 2}, 1, 2)}}
	if err := (Host{}).AllReduceMean(bes[:2], bad); err == nil || !strings.Contains(err.Error(), "gradient 0") {
		t.Fatalf("shape mismatch: %v", err)
	}
	if err := (Host{}).AllReduceMean(bes[:1], grads); err == nil {
		t.Fatal("3 gradient lists for 1 backend must be an error")
	}
}

func TestForPicksHostWithoutGPUs(t *testing.T) {
	a, b := cpu.New(), cpu.New()
	r, why := For([]backend.Backend{a, a})
	if _, ok := r.(Host); !ok || !strings.Contains(why, "share one device") {
		t.Fatalf("replicas on one backend: %T, %q", r, why)
	}
	r, why = For([]backend.Backend{a, b})
	if _, ok := r.(Host); !ok || !strings.Contains(why, "host all-reduce") {
		t.Fatalf("two CPU backends: %T, %q", r, why)
	}
}
