package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// bench detect --weights times the model the job trained, built from the
// config.yaml beside its weights: here a fine-tune whose stage adds the
// decoupling affines and has more classes than the plan's base stage (the
// embedded demo's fine-tune failed to load into a base-stage model with
// "unexpected: affine_rcnn.bias, ..."). A missing weights file is an error.
func TestBenchDetectFineTunedWeights(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a tiny plan")
	}
	plan := tinyPlan(t, t.TempDir(), "0", 8, 8)
	raw, err := os.ReadFile(plan)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(raw), "    log_period: 2\n  schedules:", "    log_period: 2\n    model:\n      rpn: {enable_decouple: true, backward_scale: 0.0}\n      roi_heads: {enable_decouple: true, backward_scale: 0.001}\n  schedules:", 1)
	if s == string(raw) {
		t.Fatal("tinyPlan changed: the fine-tune stage's model override was not inserted")
	}
	if err := os.WriteFile(plan, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "run")
	runChild(t, nil, "train", "--config", plan, "--out", out)
	w := filepath.Join(out, "finetune", "1shot_seed0", "model_final.safetensors")
	got, err := runCLI(t, "bench", "detect", "--config", plan, "--weights", w, "--images", "1")
	if err != nil {
		t.Fatalf("bench detect: %v\n%s", err, got)
	}
	if !strings.Contains(got, "tiny") || !strings.Contains(got, "faster_rcnn") {
		t.Fatalf("no timing row for the plan:\n%s", got)
	}
	if _, err := runCLI(t, "bench", "detect", "--config", plan, "--weights", filepath.Join(out, "nope.safetensors")); err == nil {
		t.Fatal("missing weights: want an error")
	}
}
