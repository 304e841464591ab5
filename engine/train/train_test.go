package train

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fsodgpu/fsodgpu/configs"
	"github.com/fsodgpu/fsodgpu/engine/backend"
	"github.com/fsodgpu/fsodgpu/engine/cpu"
	"github.com/fsodgpu/fsodgpu/engine/data"
	"github.com/fsodgpu/fsodgpu/engine/data/synth"
	"github.com/fsodgpu/fsodgpu/engine/data/voc"
	"github.com/fsodgpu/fsodgpu/engine/model"
)

func TestDemoPlanParses(t *testing.T) {
	p, err := ParsePlan(configs.Demo)
	if err != nil {
		t.Fatal(err)
	}
	if p.Dataset.Kind != "synth" || !p.Model.MFE.SEM || !p.Model.MFE.TEM || !p.Model.MFE.RC {
		t.Fatalf("demo plan lost settings: %+v", p.Model.MFE)
	}
	ft, err := p.StageModel(&p.FineTune.Stage)
	if err != nil {
		t.Fatal(err)
	}
	if ft.ROI.GDLScale != 0.001 || p.Model.ROI.GDLScale == 0.001 {
		t.Fatalf("fine-tune override of roi_heads.backward_scale: ft %g, base %g", ft.ROI.GDLScale, p.Model.ROI.GDLScale)
	}
	if ft.Backbone.StemWidth != 8 {
		t.Fatalf("override lost the rest of the model config: stem width %d", ft.Backbone.StemWidth)
	}
}

func TestUnknownKeysAreErrors(t *testing.T) {
	cases := map[string]string{
		"top level":      "name: x\nmethodd: mfe\n",
		"model":          "model:\n  backbone:\n    depht: 50\n",
		"stage override": "finetune:\n  stage:\n    model:\n      roi_heads: {backwards_scale: 0.1}\n",
	}
	for name, y := range cases {
		_, err := ParsePlan([]byte(y))
		if err == nil || !strings.Contains(err.Error(), "unknown key") {
			t.Errorf("%s: got %v, want an unknown-key error", name, err)
		}
	}
	if _, err := ParsePlan([]byte("dataset: {kind: voc, split: 4}\n")); err == nil || !strings.Contains(err.Error(), "split 4") {
		t.Errorf("bad split accepted: %v", err)
	}
	if _, err := ParsePlan([]byte("finetune: {shots: [7]}\n")); err == nil || !strings.Contains(err.Error(), "7") {
		t.Errorf("shot without schedule accepted: %v", err)
	}
}

func TestLearningRate(t *testing.T) {
	st := &StageConfig{LR: 0.02, Steps: []int{100, 200}, Gamma: 0.1, WarmupIters: 10, WarmupFactor: 0.001}
	want := map[int]float64{0: 0.02 * 0.001, 5: 0.02 * (0.001*0.5 + 0.5), 10: 0.02, 99: 0.02, 100: 0.002, 250: 0.0002}
	for it, w := range want {
		if got := float64(LearningRate(st, it)); math.Abs(got-w) > 1e-9 {
			t.Errorf("iter %d: lr %g, want %g", it, got, w)
		}
	}
}

func TestCheckpointRoundTripAndDamage(t *testing.T) {
	be := cpu.New()
	dir := t.TempDir()
	p := filepath.Join(dir, "c.safetensors")
	params := map[string]*backend.Tensor{"a.weight": be.FromFloat32([]float32{1, 2, 3, 4}, 2, 2)}
	mom := map[string]*backend.Tensor{"a.weight": be.FromFloat32([]float32{0.5, 0, 0, -1}, 2, 2)}
	if err := SaveCheckpoint(p, be, params, mom, 300, 7, "job"); err != nil {
		t.Fatal(err)
	}
	c, err := LoadCheckpoint(p)
	if err != nil {
		t.Fatal(err)
	}
	if c.Iter != 300 || c.Seed != 7 || c.Model["a.weight"][3] != 4 || c.Momentum["a.weight"][3] != -1 {
		t.Fatalf("round trip: %+v", c)
	}
	raw, _ := os.ReadFile(p)
	// Flip one byte of tensor data: the SHA-256 must catch it.
	raw[len(raw)-2] ^= 0x40
	bad := filepath.Join(dir, "bad.safetensors")
	os.WriteFile(bad, raw, 0o644)
	if _, err := LoadCheckpoint(bad); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("damaged checkpoint: %v", err)
	}
	os.WriteFile(bad, raw[:len(raw)/2], 0o644)
	if _, err := LoadCheckpoint(bad); err == nil || !strings.Contains(err.Error(), "bad.safetensors") {
		t.Fatalf("truncated checkpoint: %v", err)
	}
}

func TestSurgeryRandinit(t *testing.T) {
	be := cpu.New()
	dir := t.TempDir()
	base := []string{"a", "b"}
	all := []string{"a", "b", "n"}
	d := 3
	params := map[string]*backend.Tensor{
		"roi_heads.box_predictor.cls_score.weight": be.FromFloat32([]float32{1, 1, 1, 2, 2, 2, 9, 9, 9}, 3, d), // a, b, background
		"roi_heads.box_predictor.cls_score.bias":   be.FromFloat32([]float32{0.1, 0.2, 0.9}, 3),
		"roi_heads.box_predictor.bbox_pred.weight": be.FromFloat32(seq(8*d), 8, d),
		"roi_heads.box_predictor.bbox_pred.bias":   be.FromFloat32(seq(8), 8),
		"other":                                    be.FromFloat32([]float32{5}, 1),
	}
	in, out := filepath.Join(dir, "base.safetensors"), filepath.Join(dir, "s", "ft.safetensors")
	if err := SaveCheckpoint(in, be, params, nil, 10, 0, "base"); err != nil {
		t.Fatal(err)
	}
	if err := Surgery(in, out, "randinit", model.Config{}, base, all, 1); err != nil {
		t.Fatal(err)
	}
	c, err := LoadCheckpoint(out)
	if err != nil {
		t.Fatal(err)
	}
	w, b := c.Model["roi_heads.box_predictor.cls_score.weight"], c.Model["roi_heads.box_predictor.cls_score.bias"]
	if len(w) != 4*d || w[0] != 1 || w[3] != 2 || w[9] != 9 || b[3] != 0.9 || b[2] != 0 {
		t.Fatalf("classifier rows not copied by name / background last: w %v b %v", w, b)
	}
	var novelNorm float64
	for _, v := range w[6:9] {
		novelNorm += float64(v * v)
	}
	if novelNorm == 0 || novelNorm > 0.01 {
		t.Fatalf("novel row should be small random N(0,0.01): %v", w[6:9])
	}
	if bw := c.Model["roi_heads.box_predictor.bbox_pred.weight"]; len(bw) != 12*d || bw[4*d] != float32(4*d) {
		t.Fatalf("box regressor rows of class b not copied: %v", bw[:8*d])
	}
	if c.Model["other"][0] != 5 {
		t.Fatal("other tensors must be copied")
	}
	if err := Surgery(in, out, "remove", model.Config{}, base, all, 1); err != nil {
		t.Fatal(err)
	}
	c, _ = LoadCheckpoint(out)
	if _, ok := c.Model["roi_heads.box_predictor.cls_score.weight"]; ok || c.Model["other"] == nil {
		t.Fatal("remove must drop the predictor and keep the rest")
	}
}

func seq(n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(i)
	}
	return v
}

// synthRoot writes a small synthetic set (64 px, one split seed).
func synthRoot(t *testing.T, images int, seed int64) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "synth")
	if err := synth.Write(root, synth.Params{Images: images, Size: 64, Seed: seed, SplitSeeds: 1}); err != nil {
		t.Fatal(err)
	}
	return root
}

// tinyJob is a few-iteration job on a small synthetic set.
func tinyJob(t *testing.T, root, dir string, iters int) *Job {
	t.Helper()
	train, err := voc.Load(root, []string{"trainval"}, data.LoadOptions{Classes: synth.BaseClasses(), KnownClasses: synth.Classes})
	if err != nil {
		t.Fatal(err)
	}
	test, err := voc.Load(root, []string{"test"}, data.LoadOptions{Classes: synth.BaseClasses(), KnownClasses: synth.Classes})
	if err != nil {
		t.Fatal(err)
	}
	test.Records = test.Records[:4]
	m := model.DemoConfig()
	m.NumClasses = len(synth.BaseClasses())
	m.Backbone.StemWidth = 4
	m.MFE.SEM, m.MFE.TEM, m.MFE.RC = true, true, true
	st := StageConfig{MaxIter: iters, LR: 0.01, Gamma: 0.1, Steps: []int{iters - 1}, Momentum: 0.9, WeightDecay: 1e-4,
		ImagesPerBatch: 2, ShortSides: []int{64, 80}, MaxSize: 128, TestShortSide: 64, TestMaxSize: 128, Flip: true,
		CheckpointEvery: 3, LogEvery: 1, Seed: 3}
	return &Job{Name: "t", Dir: dir, Kind: "base", Stage: st, Model: m, Train: train, Test: test, Seed: 11,
		Metric: "voc07", Backend: cpu.New(), Quiet: true, Log: &bytes.Buffer{}}
}

func TestResumeMatchesUninterrupted(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a tiny detector twice")
	}
	root := synthRoot(t, 100, 1)
	const iters = 6
	full := tinyJob(t, root, filepath.Join(t.TempDir(), "full"), iters)
	if _, err := full.Run(); err != nil {
		t.Fatal(err)
	}
	// "Kill" a run after its iteration-3 checkpoint, then resume it.
	dir := filepath.Join(t.TempDir(), "killed")
	killAndResume(t, func(n int) *Job { return tinyJob(t, root, dir, n) }, iters)
	sameFinalWeights(t, full.FinalWeights(), filepath.Join(dir, "model_final.safetensors"))
	// metrics.json reads as one run: iterations 0..5, each once.
	rows, err := ReadMetrics(filepath.Join(dir, "metrics.json"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]int{}
	for _, r := range rows {
		if r.Eval == nil {
			seen[r.Iter]++
		}
	}
	for it := 0; it < iters; it++ {
		if seen[it] != 1 {
			t.Fatalf("metrics.json has iteration %d %d times: %v", it, seen[it], seen)
		}
	}
}

// killAndResume "kills" a job after its iteration-3 checkpoint by running it
// for 4 iterations (mk(4) checkpoints every 3) and removing its final
// weights, then resumes it as mk(iters) and checks that it did resume.
func killAndResume(t *testing.T, mk func(iters int) *Job, iters int) {
	t.Helper()
	part := mk(4)
	if _, err := part.Run(); err != nil {
		t.Fatal(err)
	}
	os.Remove(part.FinalWeights())
	os.Remove(filepath.Join(part.Dir, "results.json"))
	resumed := mk(iters)
	resumed.Resume = true
	if _, err := resumed.Run(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(resumed.Log.(*bytes.Buffer).String(), "resuming from") {
		t.Fatalf("did not resume: %s", resumed.Log.(*bytes.Buffer).String())
	}
}

// sameFinalWeights fails unless two checkpoints hold bit-identical tensors.
func sameFinalWeights(t *testing.T, pathA, pathB string) {
	t.Helper()
	a, err := LoadCheckpoint(pathA)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadCheckpoint(pathB)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Model) != len(b.Model) {
		t.Fatalf("%d vs %d tensors", len(a.Model), len(b.Model))
	}
	for name, va := range a.Model {
		vb := b.Model[name]
		for i := range va {
			if va[i] != vb[i] {
				t.Fatalf("%s[%d]: uninterrupted %v, resumed %v", name, i, va[i], vb[i])
			}
		}
	}
}

func TestNaNLossStopsWithNames(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a tiny detector")
	}
	root := synthRoot(t, 100, 2)
	j := tinyJob(t, root, t.TempDir(), 6)
	j.Stage.LR = 1e30 // diverges within a few steps
	_, err := j.Run()
	if !errors.Is(err, ErrNonFinite) || !strings.Contains(err.Error(), "iteration") || !strings.Contains(err.Error(), "loss_cls") {
		t.Fatalf("want a non-finite-loss error naming the iteration and the terms, got %v", err)
	}
}

func TestInputKeys(t *testing.T) {
	p, err := ParsePlan([]byte("input: {jpeg: go, resize: float, size_divisibility: 32}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Input != (data.InputConfig{JPEG: "go", Resize: "float", SizeDivisibility: 32}) {
		t.Fatalf("input keys read as %+v", p.Input)
	}
	// The defaults are detectron2's: PIL decoding and resize, no padding to
	// a multiple (the C4 backbone's size divisibility is 0).
	d := DefaultPlan().Input.WithDefaults()
	if d != (data.InputConfig{JPEG: "pil", Resize: "uint8", SizeDivisibility: 0}) {
		t.Fatalf("default input %+v", d)
	}
	for _, y := range []string{"input: {jpeg: libjpeg}\n", "input: {resize: nearest}\n", "input: {size_divisibility: -1}\n"} {
		if _, err := ParsePlan([]byte(y)); err == nil || !strings.Contains(err.Error(), "input.") {
			t.Errorf("%q: got %v, want an error naming the input key", y, err)
		}
	}
}
