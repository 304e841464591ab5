package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestEvalModelAndRescore trains a tiny plan (a few iterations) and checks
// `eval model` against the training run's own evaluation, rescoring by a
// second model in `eval model` and `detect`, and the refusals of bad input.
func TestEvalModelAndRescore(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a tiny plan")
	}
	cache := t.TempDir()
	plan := tinyPlan(t, cache, "0", 10, 6)
	// A few iterations leave every score under the default 0.05: keep the
	// low-scored boxes so there is something to rank and rescore.
	raw, err := os.ReadFile(plan)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(plan, []byte(strings.Replace(string(raw), "roi_heads: {", "roi_heads: {score_thresh_test: 0.001, ", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "run")
	runChild(t, nil, "train", "--config", plan, "--out", out)
	ft := filepath.Join(out, "finetune", "1shot_seed0", "model_final.safetensors")
	base := filepath.Join(out, "base", "model_final.safetensors")

	// The same numbers as the fine-tune job's results.json: one code path.
	js := filepath.Join(t.TempDir(), "eval.json")
	printed, err := runCLI(t, "eval", "model", "--plan", plan, "--weights", ft, "--json", js, "--quiet")
	if err != nil {
		t.Fatalf("%v\n%s", err, printed)
	}
	var job struct{ Metrics map[string]float64 }
	readJSONFile(t, filepath.Join(out, "finetune", "1shot_seed0", "results.json"), &job)
	var got struct {
		Metrics, Rescored map[string]float64
		Boosted, Boxes    int
	}
	readJSONFile(t, js, &got)
	for _, k := range []string{"AP", "AP50", "bAP50", "nAP50"} {
		w, ok := job.Metrics[k]
		if !ok {
			t.Fatalf("results.json has no %s: %v", k, job.Metrics)
		}
		if !closeTo(got.Metrics[k], w) {
			t.Errorf("eval model %s = %v, the job's results.json %v", k, got.Metrics[k], w)
		}
	}
	if got.Rescored != nil || !strings.Contains(printed, "AP50") {
		t.Fatalf("without a second model: rescored %v, printed\n%s", got.Rescored, printed)
	}
	// The base model evaluates on the base classes, as base/eval.json.
	printed, err = runCLI(t, "eval", "model", "--plan", plan, "--weights", base, "--json", js, "--quiet")
	if err != nil {
		t.Fatalf("%v\n%s", err, printed)
	}
	var baseEval map[string]float64
	readJSONFile(t, filepath.Join(out, "base", "eval.json"), &baseEval)
	readJSONFile(t, js, &got)
	if !closeTo(got.Metrics["AP50"], baseEval["AP50"]) {
		t.Errorf("base: eval model AP50 %v, eval.json %v", got.Metrics["AP50"], baseEval["AP50"])
	}

	// A model rescoring itself: each box matches itself (IoU 1), s' = 2s,
	// which keeps every ranking, so AP is unchanged and every box boosted.
	printed, err = runCLI(t, "eval", "model", "--plan", plan, "--weights", ft, "--rescore-weights", ft, "--json", js, "--quiet")
	if err != nil {
		t.Fatalf("%v\n%s", err, printed)
	}
	got.Rescored = nil
	readJSONFile(t, js, &got)
	if got.Rescored == nil || got.Boxes == 0 || got.Boosted != got.Boxes {
		t.Fatalf("self-rescoring: boosted %d of %d, rescored %v", got.Boosted, got.Boxes, got.Rescored)
	}
	for k, v := range got.Metrics {
		if !closeTo(got.Rescored[k], v) {
			t.Errorf("self-rescoring moved %s: %v -> %v", k, v, got.Rescored[k])
		}
	}
	if !strings.Contains(printed, "rescored") || !strings.Contains(printed, "delta") {
		t.Errorf("no rescored/delta rows:\n%s", printed)
	}

	// Bad input: each refused with the file named, before evaluating.
	voc := filepath.Join(t.TempDir(), "voc.yaml")
	raw, err = os.ReadFile(plan)
	if err != nil {
		t.Fatal(err)
	}
	vocPlan := regexp.MustCompile(`dataset: \{[^}]*\}`).ReplaceAllString(string(raw), "dataset: {kind: voc, split: 1, root: "+cache+"}")
	if err := os.WriteFile(voc, []byte(vocPlan), 0o644); err != nil {
		t.Fatal(err)
	}
	ftConfig := filepath.Join(out, "finetune", "1shot_seed0", "config.yaml")
	missing := filepath.Join(t.TempDir(), "nothere.safetensors")
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"eval", "model", "--plan", plan, "--weights", ft, "--rescore-weights", base}, // 20 vs 15 classes
			[]string{"classes differ", ftConfig, filepath.Join(out, "base", "config.yaml")}},
		{[]string{"eval", "model", "--plan", voc, "--weights", ft}, []string{ftConfig, voc, "a synth split", "a voc split 1 plan"}},
		{[]string{"eval", "model", "--plan", plan, "--weights", missing, "--config", ftConfig}, []string{missing}},
		{[]string{"eval", "model", "--plan", plan, "--weights", ft, "--rescore-weights", ft, "--rescore-iou", "0"}, []string{"--rescore-iou"}},
		{[]string{"eval", "model", "--plan", plan, "--weights", ft, "--rescore-alpha", "2"}, []string{"--rescore-alpha needs --rescore-weights"}},
	} {
		printed, err := runCLI(t, c.args...)
		if err == nil {
			t.Errorf("%v: no error\n%s", c.args, printed)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %q does not name %q", c.args, err, w)
			}
		}
	}

	// detect: rescoring by itself doubles every score; a second model of
	// other classes is refused before any image is read or written.
	imgs, _ := filepath.Glob(filepath.Join(cache, "*", "JPEGImages", "*"))
	if len(imgs) == 0 {
		t.Fatalf("no synthetic images under %s", cache)
	}
	img := imgs[0]
	dets := t.TempDir()
	plain, err := runCLI(t, "detect", "--weights", ft, "--threshold", "0", "--out", dets, img)
	if err != nil {
		t.Fatalf("%v\n%s", err, plain)
	}
	twice, err := runCLI(t, "detect", "--weights", ft, "--rescore-weights", ft, "--threshold", "0", "--out", dets, img)
	if err != nil {
		t.Fatalf("%v\n%s", err, twice)
	}
	a, b := topScore(t, plain), topScore(t, twice)
	if d := b - 2*a; d < -0.0015 || d > 0.0015 {
		t.Errorf("top score %v alone, %v rescored by itself; want twice", a, b)
	}
	empty := t.TempDir()
	if printed, err := runCLI(t, "detect", "--weights", ft, "--rescore-weights", base, "--out", empty, img); err == nil || !strings.Contains(err.Error(), "classes differ") {
		t.Errorf("detect with a 15-class second model: %v\n%s", err, printed)
	}
	if left, _ := os.ReadDir(empty); len(left) != 0 {
		t.Errorf("detect wrote %d files before refusing the second model", len(left))
	}
}

var detLine = regexp.MustCompile(`^\s+\S+\s+([0-9.]+)\s+\[`)

// topScore is the first detection's score in detect's output.
func topScore(t *testing.T, printed string) float64 {
	t.Helper()
	for _, l := range strings.Split(printed, "\n") {
		if m := detLine.FindStringSubmatch(l); m != nil {
			v, err := strconv.ParseFloat(m[1], 64)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	t.Fatalf("no detection printed:\n%s", printed)
	return 0
}
