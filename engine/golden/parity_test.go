package golden_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/backend"
	"github.com/fsodgpu/fsodgpu/engine/cpu"
	"github.com/fsodgpu/fsodgpu/engine/golden"
)

var builtinOps = []string{"bce_with_logits", "channel_attention", "conv2d", "cross_entropy", "dropout", "frozen_bn",
	"linear", "max_pool2d", "nms", "rc_loss", "relu", "roi_align", "smooth_l1"}

func specOps(t *testing.T, specs []golden.ParitySpec) []string {
	var ops []string
	names := map[string]bool{}
	for _, s := range specs {
		if names[s.Name] {
			t.Errorf("spec name %s used twice", s.Name)
		}
		names[s.Name] = true
		if op := s.Op; !slices.Contains(ops, op) {
			ops = append(ops, op)
		}
	}
	slices.Sort(ops)
	return ops
}

// TestParityCPUvsCPU: a backend compared with itself must agree exactly,
// on every built-in op.
func TestParityCPUvsCPU(t *testing.T) {
	specs := golden.SmallShapes()
	results := golden.Parity(cpu.New(), cpu.New(), specs, 1, nil)
	if len(results) != len(specs) {
		t.Fatalf("%d results for %d specs", len(results), len(specs))
	}
	for _, r := range results {
		t.Log(r)
		if !r.Pass || r.Worst != 0 || len(r.Tensors) == 0 {
			t.Errorf("%s: %s", r.Name, r)
		}
	}
}

// broken is the CPU backend with three deliberate bugs: a convolution 0.1%
// too large, an NMS that loses its last box, and a RoI-Align that panics.
type broken struct{ backend.Backend }

func (b broken) Conv2d(x, w, bias *backend.Tensor, p backend.Conv2dParams) *backend.Tensor {
	return b.Affine(b.Backend.Conv2d(x, w, bias, p), 1.001, 0)
}

func (b broken) BatchedNMS(boxes, scores, classes *backend.Tensor, iou float32) *backend.Tensor {
	keep := b.ToInt64(b.Backend.BatchedNMS(boxes, scores, classes, iou))
	return b.FromInt64(keep[:len(keep)-1], len(keep)-1)
}

func (b broken) RoIAlign(x, rois *backend.Tensor, p backend.RoIAlignParams) *backend.Tensor {
	panic("broken: RoIAlign")
}

func TestParityCatchesBrokenBackend(t *testing.T) {
	results := golden.Parity(broken{cpu.New()}, cpu.New(), golden.SmallShapes(), 1, nil)
	for _, r := range results {
		switch r.Op {
		case "conv2d":
			if r.Pass || r.WorstTensor != "out.y" || r.Worst < 9e-4 || r.Worst > 1.1e-3 {
				t.Errorf("scaled conv: %s", r)
			}
		case "nms":
			if r.Pass || !strings.Contains(r.Err, "shape") {
				t.Errorf("short NMS: %s", r)
			}
		case "roi_align":
			if r.Pass || !strings.Contains(r.Err, "panic: broken: RoIAlign") {
				t.Errorf("panicking RoI-Align: %s", r)
			}
		default:
			if !r.Pass {
				t.Errorf("unbroken op failed: %s", r)
			}
		}
	}
	if n := golden.ParityFailed(results); n != 5 {
		t.Errorf("%d failures, want 5 (two conv, one NMS, two RoI-Align)", n)
	}
}

// TestParitySpecsCoverOps checks that both shape sets exercise every
// built-in op and build cases the ops accept.
func TestParitySpecsCoverOps(t *testing.T) {
	for name, specs := range map[string][]golden.ParitySpec{"small": golden.SmallShapes(), "training": golden.TrainingShapes()} {
		if got := specOps(t, specs); !slices.Equal(got, builtinOps) {
			t.Errorf("%s shapes cover %v, want %v", name, got, builtinOps)
		}
	}
	for _, op := range builtinOps {
		if !slices.Contains(golden.Ops(), op) {
			t.Errorf("op %s is not registered", op)
		}
	}
}

// BenchmarkParityTrainingShapes runs the training-shape parity set CPU
// against CPU: `go test -bench ParityTraining -run ^$ ./engine/golden`
// prints each op's CPU time at training shapes.
func BenchmarkParityTrainingShapes(b *testing.B) {
	for range b.N {
		for _, r := range golden.Parity(cpu.New(), cpu.New(), golden.TrainingShapes(), 1, nil) {
			b.Log(r)
			if !r.Pass {
				b.Error(r)
			}
		}
	}
}
