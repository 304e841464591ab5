package train

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// neckPlan is a tiny plan on the synthetic set with the given neck: a few
// base iterations, randinit surgery, a 5-shot fine-tune that freezes the
// neck (model.neck.freeze) and its norms, as the demo freezes *.norm.*.
func neckPlan(cache, neckYAML string) string {
	return `name: neck-e2e
method: mfe
dataset: {kind: synth, root: ` + cache + `, split: 0, synth_images: 40, synth_size: 64, synth_seed: 1, max_test_images: 4}
model:
  num_classes: 15
  pixel_mean: [127.5, 127.5, 127.5]
  pixel_std: [64, 64, 64]
  input_format: RGB
  backbone: {depth: 18, stem_width: 4, stride_in_1x1: false, freeze_at: 0, norm: bn}
  rpn: {anchor_sizes: [16, 32, 48], batch_size_per_image: 32, pre_nms_topk_train: 100, post_nms_topk_train: 30, pre_nms_topk_test: 60, post_nms_topk_test: 20}
  roi_heads: {batch_size_per_image: 16, pooler_resolution: 4, cls_agnostic_bbox_reg: true}
  mfe: {sem: true, tem: true, tem_reduction: 4, rc: true, rc_dropout: 0.2}
  neck: ` + neckYAML + `
base:
  max_iter: 3
  base_lr: 0.01
  ims_per_batch: 2
  min_size_train: [64]
  max_size_train: 128
  min_size_test: 64
  max_size_test: 128
  checkpoint_period: 100
  log_period: 1
  model: {mfe: {rc: false}}
surgery: {method: randinit}
finetune:
  protocol: gfsod
  shots: [5]
  seeds: [0]
  stage:
    base_lr: 0.01
    ims_per_batch: 2
    min_size_train: [64]
    max_size_train: 128
    min_size_test: 64
    max_size_test: 128
    checkpoint_period: 100
    log_period: 1
    model:
      neck: {freeze: true}
      freeze: ["*.norm.*", "*.bn.*"]
  schedules:
    5: {max_iter: 2, steps: [1]}
eval: {metric: voc07}
`
}

// A plan with model.neck trains the neck in the base stage, carries it
// through surgery and fine-tunes with it frozen: the fine-tune's final neck
// weights equal the base model's, and its other weights moved.
func TestNeckPlanEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("trains, operates on and fine-tunes a tiny detector")
	}
	dir := t.TempDir()
	p, err := ParsePlan([]byte(neckPlan(filepath.Join(dir, "cache"), "{type: sppf}")))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "run")
	var log bytes.Buffer
	res, err := Run(p, RunOptions{Out: out, Backend: "cpu", Quiet: true, Log: &log})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if len(res) != 1 || res[0].Err != nil {
		t.Fatalf("fine-tunes: %+v\n%s", res, log.String())
	}
	base, err := LoadCheckpoint(filepath.Join(out, "base", "model_final.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	ft, err := LoadCheckpoint(filepath.Join(res[0].Dir, "model_final.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for k, v := range base.Model {
		if !strings.HasPrefix(k, "neck.") {
			continue
		}
		n++
		w, ok := ft.Model[k]
		if !ok {
			t.Fatalf("%s lost in surgery or fine-tuning", k)
		}
		for i := range v {
			if v[i] != w[i] {
				t.Fatalf("%s changed in the fine-tune although model.neck.freeze is set", k)
			}
		}
	}
	if n == 0 {
		t.Fatalf("no neck.* weights in the base model")
	}
	moved := false
	for i, v := range base.Model["roi_heads.res5.0.conv1.weight"] {
		moved = moved || ft.Model["roi_heads.res5.0.conv1.weight"][i] != v
	}
	if !moved {
		t.Errorf("res5 did not train in the fine-tune: the comparison above proves nothing")
	}
}
