package train

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fsodgpu/fsodgpu/engine/backend"
	"github.com/fsodgpu/fsodgpu/engine/cpu"
	"github.com/fsodgpu/fsodgpu/engine/data"
	"github.com/fsodgpu/fsodgpu/engine/model"
)

// TestDataParallelStepIsMeanOfReplicas checks one data-parallel step against
// its definition: replica r's gradient and losses are those of a lone
// detector (same init, replica r's sampling streams) on the r-th share of
// the batch, and after the step every replica holds their mean.
func TestDataParallelStepIsMeanOfReplicas(t *testing.T) {
	root := synthRoot(t, 40, 5)
	j := tinyJob(t, root, t.TempDir(), 4)
	j.Stage.ImagesPerBatch, j.Stage.Replicas = 4, 2
	det, err := model.New(j.Backend, j.Model, j.Seed)
	if err != nil {
		t.Fatal(err)
	}
	reps, err := j.replicas(det, map[string]*backend.Tensor{})
	if err != nil {
		t.Fatal(err)
	}
	loaders, err := j.loaders(0, 2)
	if err != nil {
		t.Fatal(err)
	}
	var subs []*data.Batch
	for _, l := range loaders {
		defer l.Close()
		b, err := l.Next()
		if err != nil {
			t.Fatal(err)
		}
		subs = append(subs, b)
	}
	const it = 0
	losses, err := j.step(reps, subs, it)
	if err != nil {
		t.Fatal(err)
	}
	be := j.Backend
	var lone [2]map[string][]float32
	var loneLoss [2]map[string]float32
	for r := range 2 {
		d, err := model.New(be, j.Model, j.Seed)
		if err != nil {
			t.Fatal(err)
		}
		d.SetReplica(r, j.Seed)
		out, err := d.Forward(toInput(be, subs[r]), it, true)
		if err != nil {
			t.Fatal(err)
		}
		loneLoss[r] = out.Losses
		lone[r] = map[string][]float32{}
		for _, p := range d.Params() {
			if p.Grad != nil {
				lone[r][p.Name] = be.ToFloat32(p.Grad)
			}
		}
	}
	// The replicas must really differ (different images and samples), or
	// the mean below proves nothing.
	if loneLoss[0]["loss_cls"] == loneLoss[1]["loss_cls"] {
		t.Fatalf("both replicas report loss_cls %v", loneLoss[0]["loss_cls"])
	}
	for k, v := range losses {
		if want := loneLoss[0][k]/2 + loneLoss[1][k]/2; v != want {
			t.Errorf("%s: data-parallel %v, mean of replicas %v", k, v, want)
		}
	}
	checked := 0
	for r, rep := range reps {
		for _, p := range rep.trainable {
			a, b := lone[0][p.Name], lone[1][p.Name]
			if p.Grad == nil {
				if a != nil || b != nil {
					t.Fatalf("replica %d: %s has no gradient after the all-reduce", r, p.Name)
				}
				continue
			}
			got := be.ToFloat32(p.Grad)
			for i := range got {
				var s float64
				if a != nil {
					s += float64(a[i])
				}
				if b != nil {
					s += float64(b[i])
				}
				if want := float32(s / 2); got[i] != want {
					t.Fatalf("replica %d: %s[%d] = %v, want the mean %v", r, p.Name, i, got[i], want)
				}
			}
			checked++
		}
	}
	if checked < 20 {
		t.Fatalf("only %d gradients compared", checked)
	}
}

// TestDataParallelResumeAndReplicasAgree trains two replicas, kills and
// resumes as TestResumeMatchesUninterrupted does, and checks the replicas
// still hold identical weights at the end.
func TestDataParallelResumeAndReplicasAgree(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a tiny detector twice")
	}
	root := synthRoot(t, 100, 1)
	const iters = 6
	dp := func(dir string, n int) *Job {
		j := tinyJob(t, root, dir, n)
		j.Stage.ImagesPerBatch, j.Stage.Replicas = 4, 2
		return j
	}
	full := dp(filepath.Join(t.TempDir(), "full"), iters)
	det, err := model.New(full.Backend, full.Model, full.Seed)
	if err != nil {
		t.Fatal(err)
	}
	reps, err := full.replicas(det, map[string]*backend.Tensor{})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(full.Dir, "checkpoints"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := full.train(reps, 0); err != nil {
		t.Fatal(err)
	}
	w0, w1 := reps[0].det.StateDict(), reps[1].det.StateDict()
	for _, p := range reps[0].trainable {
		a, b := be32(w0[p.Name]), be32(w1[p.Name])
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("replicas drifted apart: %s[%d] %v vs %v", p.Name, i, a[i], b[i])
			}
		}
	}
	if !strings.Contains(full.Log.(*bytes.Buffer).String(), "over 2 data-parallel replicas") {
		t.Fatalf("log does not say data-parallel: %s", full.Log.(*bytes.Buffer).String())
	}

	dir := filepath.Join(t.TempDir(), "killed")
	killAndResume(t, func(n int) *Job { return dp(dir, n) }, iters)
	sameFinalWeights(t, full.FinalWeights(), filepath.Join(dir, "model_final.safetensors"))
}

func be32(t *backend.Tensor) []float32 { return t.Backend.ToFloat32(t) }

func TestReplicaPlacement(t *testing.T) {
	st := StageConfig{ImagesPerBatch: 16}
	devs, err := placeReplicas(&st, "base", "cuda", []int{2, 3, 5, 7})
	if err != nil || st.Replicas != 4 || !slices.Equal(devs, []int{2, 3, 5, 7}) {
		t.Fatalf("auto on 4 GPUs: replicas %d devices %v err %v", st.Replicas, devs, err)
	}
	st = StageConfig{ImagesPerBatch: 16, Replicas: 8}
	if devs, _ = placeReplicas(&st, "base", "cuda", []int{0, 1, 2}); !slices.Equal(devs, []int{0, 1, 2, 0, 1, 2, 0, 1}) {
		t.Fatalf("8 replicas on 3 GPUs: %v", devs)
	}
	st = StageConfig{ImagesPerBatch: 16}
	if devs, _ = placeReplicas(&st, "base", "cpu", []int{0}); devs != nil || st.Replicas != 1 {
		t.Fatalf("auto on the CPU: replicas %d devices %v", st.Replicas, devs)
	}
	st = StageConfig{ImagesPerBatch: 16}
	if _, err := placeReplicas(&st, "base", "cuda", []int{0, 1, 2}); err == nil || !strings.Contains(err.Error(), "base.replicas") {
		t.Fatalf("16 images over 3 GPUs: %v", err)
	}
	groups := deviceGroups("cuda", []int{0, 1, 2, 3, 4}, 2)
	if len(groups) != 2 || !slices.Equal(groups[0], []int{0, 1}) || !slices.Equal(groups[1], []int{2, 3}) {
		t.Fatalf("2-replica fine-tunes on 5 GPUs: %v", groups)
	}
	if groups = deviceGroups("cuda", []int{0, 1}, 1); len(groups) != 2 {
		t.Fatalf("one fine-tune per GPU: %v", groups)
	}
	if groups = deviceGroups("cuda", []int{0, 1}, 4); len(groups) != 1 || len(groups[0]) != 2 {
		t.Fatalf("4-replica fine-tunes on 2 GPUs share both: %v", groups)
	}
}

// oomCPU is the CPU backend that runs out of memory on its first
// convolution, as a GPU backend does (a panic with an error matching
// backend.ErrOutOfMemory).
type oomCPU struct{ *cpu.CPU }

func (oomCPU) Conv2d(x, w, b *backend.Tensor, p backend.Conv2dParams) *backend.Tensor {
	panic(fmt.Errorf("fake device: allocating 3 GiB: %w", backend.ErrOutOfMemory))
}

func TestOutOfMemoryNamesTheBatch(t *testing.T) {
	root := synthRoot(t, 40, 4)
	j := tinyJob(t, root, t.TempDir(), 2)
	j.Backend = oomCPU{cpu.New()}
	_, err := j.Run()
	if err == nil || !errors.Is(err, backend.ErrOutOfMemory) || !strings.Contains(err.Error(), "ims_per_batch 2") ||
		!strings.Contains(err.Error(), "iteration 0") || !strings.Contains(err.Error(), "lower ims_per_batch") {
		t.Fatalf("want an out-of-memory error naming the iteration, the batch and a hint, got %v", err)
	}
}
