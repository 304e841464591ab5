package train

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

func TestPrecisionKeys(t *testing.T) {
	p, err := ParsePlan([]byte("base: {precision: bf16}\nfinetune: {stage: {precision: TF32}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Base.Precision != "bf16" || p.FineTune.Stage.Precision != "TF32" {
		t.Fatalf("precision keys read as %q, %q", p.Base.Precision, p.FineTune.Stage.Precision)
	}
	if st, _ := p.ShotStage(5); st.Precision != "TF32" {
		t.Fatalf("the shot stage lost finetune.stage.precision: %q", st.Precision)
	}
	for y, key := range map[string]string{
		"base: {precision: fp16}\n":              "base.precision",
		"finetune: {stage: {precision: int8}}\n": "finetune.stage.precision",
	} {
		path := filepath.Join(t.TempDir(), "plan.yaml")
		if err := os.WriteFile(path, []byte(y), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := LoadPlan(path)
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), key) {
			t.Errorf("%q: got %v, want an error naming %s and %s", y, err, path, key)
		}
	}
}

// A precision the CPU backend cannot run fails before any training, naming
// the key; the default and fp32 run, and config.yaml records the policy.
func TestPrecisionOnCPU(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a tiny detector")
	}
	root := synthRoot(t, 40, 3)
	plan := func() *Plan {
		p, err := ParsePlan([]byte(`name: prec
dataset: {kind: synth, root: ` + root + `, max_test_images: 2}
model:
  num_classes: 15
  backbone: {depth: 18, stem_width: 4, stride_in_1x1: false, freeze_at: 0, norm: bn}
  rpn: {anchor_sizes: [16, 32, 48], batch_size_per_image: 32, pre_nms_topk_train: 100, post_nms_topk_train: 30, pre_nms_topk_test: 60, post_nms_topk_test: 20}
  roi_heads: {batch_size_per_image: 16, pooler_resolution: 4, cls_agnostic_bbox_reg: true}
base: {max_iter: 1, steps: [], ims_per_batch: 2, min_size_train: [64], max_size_train: 128, min_size_test: 64, max_size_test: 128, precision: bf16}
finetune: {shots: [1], schedules: {1: {max_iter: 1, steps: []}}}
`))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	out := t.TempDir()
	var log bytes.Buffer
	_, err := Run(plan(), RunOptions{Out: out, Backend: "cpu", Log: &log, Quiet: true, Stage: "base"})
	if err == nil || !strings.Contains(err.Error(), "base.precision") || !strings.Contains(err.Error(), "fp32 only") {
		t.Fatalf("bf16 on the cpu backend: got %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, "base")); err == nil {
		t.Fatal("base training started before the precision was refused")
	}
	_, err = Run(plan(), RunOptions{Out: out, Backend: "cpu", Log: &log, Quiet: true, Stage: "base", Precision: "tf32"})
	if err == nil || !strings.Contains(err.Error(), "--precision") {
		t.Fatalf("--precision tf32 on the cpu backend: got %v", err)
	}
	if _, err := Run(plan(), RunOptions{Out: out, Backend: "cpu", Log: &log, Quiet: true, Stage: "base", Precision: "fp64"}); err == nil ||
		!strings.Contains(err.Error(), "--precision") {
		t.Fatalf("--precision fp64: got %v", err)
	}
	log.Reset()
	if _, err := Run(plan(), RunOptions{Out: out, Backend: "cpu", Log: &log, Quiet: true, Stage: "base", Precision: "fp32"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "base: precision conv fp32, matmul fp32") ||
		!strings.Contains(log.String(), "finetune: precision conv fp32, matmul fp32") {
		t.Fatalf("the log does not state each stage's precision:\n%s", log.String())
	}
	raw, err := os.ReadFile(filepath.Join(out, "base", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var rc resolvedConfig
	if err := yaml.Unmarshal(raw, &rc); err != nil {
		t.Fatal(err)
	}
	if rc.Precision != (precisionConfig{Conv: "fp32", MatMul: "fp32"}) {
		t.Fatalf("config.yaml precision %+v", rc.Precision)
	}
}

// policyRecorder stands in for a backend with tensor cores (the CPU
// backend computing, the policy only recorded).
type policyRecorder struct {
	backend.Backend
	pol  backend.MatrixPolicy
	sets int
}

func (b *policyRecorder) SetMatrixPolicy(p backend.MatrixPolicy) error {
	b.pol, b.sets = p, b.sets+1
	return nil
}
func (b *policyRecorder) MatrixPolicy() backend.MatrixPolicy { return b.pol }

// A job sets its policy on its backend before training and writes it to
// config.yaml.
func TestJobAppliesPolicy(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a tiny detector")
	}
	root := synthRoot(t, 40, 4)
	j := tinyJob(t, root, t.TempDir(), 2)
	rec := &policyRecorder{Backend: j.Backend}
	j.Backend, j.Precision = rec, backend.MatrixPolicy{Conv: backend.BF16, MatMul: backend.TF32}
	if _, err := j.Run(); err != nil {
		t.Fatal(err)
	}
	if rec.sets == 0 || rec.pol != j.Precision {
		t.Fatalf("backend policy %v after %d sets, want %v", rec.pol, rec.sets, j.Precision)
	}
	raw, err := os.ReadFile(filepath.Join(j.Dir, "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), "precision:\n    conv: bf16\n    matmul: tf32\n") {
		t.Fatalf("config.yaml does not record the policy:\n%s", raw)
	}
}
